// An in-process registry for unit tests of the copy logic (the OCI distribution API from
// memory, as go-containerregistry's pkg/registry serves it): manifests by tag and digest,
// blobs linked per repository, uploads (POST, PATCH, PUT ?digest=, cross-repository mounts),
// and as options: no indexes (the company registry), the referrers API, Basic auth, and
// faults. Every request is logged, so tests can say what a copy did and did not do.
import * as crypto from "crypto";
import * as http from "http";

const INDEX_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

export interface FakeOptions {
    /** Refuse indexes and manifest lists (400), as the article's company registry. Default false. */
    noIndex?: boolean;
    /** Serve GET /v2/<repo>/referrers/<digest> and answer OCI-Subject. Default false (docker-registry 2.8). */
    referrersApi?: boolean;
    /** Mount blobs across repositories. Default true. */
    mounts?: boolean;
    /** Require this Basic login. Default none. */
    login?: { username: string; password: string };
    /** Answer this status to the first `times` requests matching `match` (method and path). */
    fault?: { match: RegExp; status: number; times: number };
}

export interface FakeRequest {
    method: string;
    path: string;
    bytes: number;
    /** What the registry answered. */
    status?: number;
}

interface Stored {
    mediaType: string;
    raw: Buffer;
}

export class FakeRegistry {
    readonly blobs = new Map<string, Buffer>();
    /** repo -> digests linked there */
    readonly links = new Map<string, Set<string>>();
    /** repo -> digest -> manifest */
    readonly manifests = new Map<string, Map<string, Stored>>();
    /** repo -> tag -> digest */
    readonly tags = new Map<string, Map<string, string>>();
    readonly log: FakeRequest[] = [];
    private readonly uploads = new Map<string, { repo: string; chunks: Buffer[] }>();
    private server?: http.Server;
    addr = "";

    constructor(readonly opts: FakeOptions = {}) {}

    async start(): Promise<this> {
        this.server = http.createServer((req, res) => this.handle(req, res));
        await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
        this.addr = `127.0.0.1:${(this.server.address() as any).port}`;
        return this;
    }

    stop(): Promise<void> {
        return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
    }

    /** Requests since `from` (an index into the log), as "METHOD path" lines. */
    requests(from = 0): string[] {
        return this.log.slice(from).map((r) => `${r.method} ${r.path}`);
    }

    // --- direct access, for setting up sources and checking targets ---------------------------

    putBlobDirect(repo: string, data: Buffer): { digest: string; size: number } {
        const digest = sha256(data);
        this.blobs.set(digest, data);
        this.link(repo, digest);
        return { digest, size: data.length };
    }

    putManifestDirect(repo: string, ref: string, mediaType: string, body: object | Buffer): string {
        const raw = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
        const digest = sha256(raw);
        this.repoMap(this.manifests, repo).set(digest, { mediaType, raw });
        if (!ref.startsWith("sha256:")) this.repoMap(this.tags, repo).set(ref, digest);
        return digest;
    }

    tagged(repo: string, tag: string): string | undefined {
        return this.tags.get(repo)?.get(tag);
    }

    hasBlob(repo: string, digest: string): boolean {
        return this.links.get(repo)?.has(digest) ?? false;
    }

    manifest(repo: string, ref: string): Stored | undefined {
        const digest = ref.startsWith("sha256:") ? ref : this.tagged(repo, ref);
        return digest ? this.manifests.get(repo)?.get(digest) : undefined;
    }

    private repoMap<V>(m: Map<string, Map<string, V>>, repo: string): Map<string, V> {
        if (!m.has(repo)) m.set(repo, new Map());
        return m.get(repo)!;
    }

    private link(repo: string, digest: string): void {
        if (!this.links.has(repo)) this.links.set(repo, new Set());
        this.links.get(repo)!.add(digest);
    }

    // --- the API --------------------------------------------------------------------------------

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const url = new URL(req.url ?? "/", `http://${this.addr}`);
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            const entry: FakeRequest = {
                method: req.method ?? "",
                path: url.pathname + url.search,
                bytes: body.length,
            };
            this.log.push(entry);
            const send = (status: number, headers: Record<string, string> = {}, out?: Buffer | string) => {
                entry.status = status;
                res.writeHead(status, headers);
                res.end(req.method === "HEAD" ? undefined : out);
            };
            const fault = this.opts.fault;
            if (fault && fault.times > 0 && fault.match.test(`${req.method} ${url.pathname}`)) {
                fault.times--;
                return send(fault.status, {}, "fault");
            }
            if (this.opts.login) {
                const want = `Basic ${Buffer.from(`${this.opts.login.username}:${this.opts.login.password}`).toString("base64")}`;
                if (req.headers.authorization !== want)
                    return send(401, { "WWW-Authenticate": 'Basic realm="fake"' }, "{}");
            }
            try {
                this.route(req.method ?? "GET", url, body, send);
            } catch (e) {
                send(500, {}, String(e));
            }
        });
    }

    private route(
        method: string,
        url: URL,
        body: Buffer,
        send: (s: number, h?: Record<string, string>, b?: Buffer | string) => void,
    ): void {
        const p = url.pathname;
        if (p === "/v2/" || p === "/v2") return send(200, {}, "{}");
        let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(p);
        if (m) return this.manifestRoute(method, m[1], m[2], body, send);
        m = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(p);
        if (m && this.opts.referrersApi) {
            const repo = m[1],
                subject = m[2];
            const manifests = [...(this.manifests.get(repo) ?? new Map()).entries()].flatMap(([digest, s]) => {
                const j = JSON.parse(s.raw.toString("utf8"));
                return j.subject?.digest === subject
                    ? [
                          {
                              mediaType: s.mediaType,
                              digest,
                              size: s.raw.length,
                              artifactType: j.artifactType ?? j.config?.mediaType,
                              ...(j.annotations ? { annotations: j.annotations } : {}),
                          },
                      ]
                    : [];
            });
            return send(
                200,
                { "Content-Type": INDEX_TYPES[0] },
                JSON.stringify({ schemaVersion: 2, mediaType: INDEX_TYPES[0], manifests }),
            );
        }
        m = /^\/v2\/(.+)\/blobs\/uploads\/([\w-]*)$/.exec(p);
        if (m) return this.uploadRoute(method, m[1], m[2], url, body, send);
        m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(p);
        if (m && (method === "GET" || method === "HEAD")) {
            if (!this.hasBlob(m[1], m[2])) return send(404, {}, '{"errors":[{"code":"BLOB_UNKNOWN"}]}');
            const data = this.blobs.get(m[2])!;
            return send(200, { "Content-Length": String(data.length), "Docker-Content-Digest": m[2] }, data);
        }
        send(404, {}, "404 page not found");
    }

    private manifestRoute(
        method: string,
        repo: string,
        ref: string,
        body: Buffer,
        send: (s: number, h?: Record<string, string>, b?: Buffer | string) => void,
    ): void {
        if (method === "GET" || method === "HEAD") {
            const s = this.manifest(repo, ref);
            if (!s) return send(404, {}, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
            return send(200, { "Content-Type": s.mediaType, "Docker-Content-Digest": sha256(s.raw) }, s.raw);
        }
        if (method === "PUT") {
            const j = JSON.parse(body.toString("utf8"));
            const mediaType = j.mediaType ?? "";
            if (this.opts.noIndex && INDEX_TYPES.includes(mediaType)) {
                return send(
                    400,
                    {},
                    '{"errors":[{"code":"MANIFEST_INVALID","message":"manifest lists are not supported"}]}',
                );
            }
            const named = Array.isArray(j.manifests)
                ? j.manifests.map((d: any) => ({ d: d.digest, kind: "manifest" }))
                : [j.config, ...(j.layers ?? [])].filter(Boolean).map((d: any) => ({ d: d.digest, kind: "blob" }));
            for (const n of named) {
                const ok = n.kind === "blob" ? this.hasBlob(repo, n.d) : this.manifests.get(repo)?.has(n.d);
                if (!ok) return send(400, {}, `{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"${n.d}"}]}`);
            }
            if (ref.startsWith("sha256:") && ref !== sha256(body))
                return send(400, {}, '{"errors":[{"code":"DIGEST_INVALID"}]}');
            const digest = this.putManifestDirect(repo, ref, mediaType, body);
            return send(201, {
                "Docker-Content-Digest": digest,
                ...(this.opts.referrersApi && j.subject ? { "OCI-Subject": j.subject.digest } : {}),
            });
        }
        if (method === "DELETE") {
            const digest = ref;
            if (!this.manifests.get(repo)?.delete(digest)) return send(404, {}, "{}");
            for (const [t, d] of this.tags.get(repo) ?? []) if (d === digest) this.tags.get(repo)!.delete(t);
            return send(202);
        }
        send(405);
    }

    private uploadRoute(
        method: string,
        repo: string,
        id: string,
        url: URL,
        body: Buffer,
        send: (s: number, h?: Record<string, string>, b?: Buffer | string) => void,
    ): void {
        if (method === "POST" && !id) {
            const mount = url.searchParams.get("mount"),
                from = url.searchParams.get("from");
            if (mount && from && this.opts.mounts !== false && this.hasBlob(from, mount)) {
                this.link(repo, mount);
                return send(201, { Location: `/v2/${repo}/blobs/${mount}`, "Docker-Content-Digest": mount });
            }
            const uuid = crypto.randomUUID();
            this.uploads.set(uuid, { repo, chunks: [] });
            return send(202, { Location: `/v2/${repo}/blobs/uploads/${uuid}?_state=x`, "Docker-Upload-UUID": uuid });
        }
        const u = this.uploads.get(id);
        if (!u || u.repo !== repo) return send(404, {}, '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
        if (method === "PATCH") {
            u.chunks.push(body);
            return send(202, {
                Location: `/v2/${repo}/blobs/uploads/${id}?_state=y`,
                Range: `0-${Buffer.concat(u.chunks).length - 1}`,
            });
        }
        if (method === "PUT") {
            u.chunks.push(body);
            const data = Buffer.concat(u.chunks);
            const digest = url.searchParams.get("digest");
            if (!digest || sha256(data) !== digest) return send(400, {}, '{"errors":[{"code":"DIGEST_INVALID"}]}');
            this.uploads.delete(id);
            this.blobs.set(digest, data);
            this.link(repo, digest);
            return send(201, { Location: `/v2/${repo}/blobs/${digest}`, "Docker-Content-Digest": digest });
        }
        send(405);
    }
}

export function sha256(b: Buffer): string {
    return `sha256:${crypto.createHash("sha256").update(b).digest("hex")}`;
}

/**
 * A two-platform image as buildx pushes it, into `repo` of `reg`: per platform a config and
 * one layer of `layerBytes`, an image manifest, an attestation manifest; an OCI index over
 * them. Returns the index digest and each platform's manifest digest.
 */
export function seedImage(
    reg: FakeRegistry,
    repo: string,
    layerBytes = 64,
    salt = "",
): { digest: string; platforms: Record<string, string>; blobs: string[] } {
    const platforms: Record<string, string> = {};
    const entries: any[] = [];
    const blobs: string[] = [];
    for (const arch of ["amd64", "arm64"]) {
        const config = reg.putBlobDirect(
            repo,
            Buffer.from(JSON.stringify({ os: "linux", architecture: arch, salt, config: { Cmd: ["/bin/sh"] } })),
        );
        const layer = reg.putBlobDirect(repo, Buffer.alloc(layerBytes, `${arch}${salt}`));
        blobs.push(config.digest, layer.digest);
        const manifest = {
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
        };
        const digest = reg.putManifestDirect(repo, "sha256:", manifest.mediaType, manifest);
        platforms[`linux/${arch}`] = digest;
        const raw = reg.manifest(repo, digest)!.raw;
        entries.push({
            mediaType: manifest.mediaType,
            digest,
            size: raw.length,
            platform: { os: "linux", architecture: arch },
        });
        const statement = reg.putBlobDirect(
            repo,
            Buffer.from(`{"_type":"https://in-toto.io/Statement/v0.1","subject":"${digest}"}`),
        );
        blobs.push(statement.digest);
        const att = {
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: {
                mediaType: "application/vnd.oci.image.config.v1+json",
                ...reg.putBlobDirect(repo, Buffer.from("{}")),
            },
            layers: [{ mediaType: "application/vnd.in-toto+json", ...statement }],
        };
        const attDigest = reg.putManifestDirect(repo, "sha256:", att.mediaType, att);
        entries.push({
            mediaType: att.mediaType,
            digest: attDigest,
            size: reg.manifest(repo, attDigest)!.raw.length,
            platform: { os: "unknown", architecture: "unknown" },
            annotations: { "vnd.docker.reference.digest": digest, "vnd.docker.reference.type": "attestation-manifest" },
        });
    }
    blobs.push(sha256(Buffer.from("{}")));
    const index = { schemaVersion: 2, mediaType: INDEX_TYPES[0], manifests: entries };
    const digest = reg.putManifestDirect(repo, "sha256:", INDEX_TYPES[0], index);
    return { digest, platforms, blobs: [...new Set(blobs)] };
}
