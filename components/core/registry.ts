// A small OCI distribution client: read what a push left in a registry, move tags to
// verified manifests, delete what we pushed. Basic auth, and the bearer-token challenge
// most registries answer with.
import http = require("http");
import https = require("https");

export const INDEX_MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
export const MANIFEST_MEDIA_TYPES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

export interface ImageRef {
    registry: string;
    repository: string;
    tag?: string;
    digest?: string;
}

/** Parses "host[:port]/repo[:tag][@digest]"; Docker Hub short names get docker.io. */
export function parseRef(ref: string): ImageRef {
    const m = /^(?:([^/]+?(?:[.:][^/]*|localhost))\/)?([a-z0-9]+(?:[._\-/][a-z0-9]+)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(ref);
    if (!m) throw new Error(`"${ref}" is not an image reference: write registry/repository:tag, e.g. localhost:5000/hello:1.0`);
    const registry = m[1] ?? "docker.io";
    const repository = m[1] ? m[2] : m[2].includes("/") ? m[2] : `library/${m[2]}`;
    return { registry, repository, tag: m[3] ?? (m[4] ? undefined : "latest"), digest: m[4] };
}

export function repoOf(ref: string): string {
    const r = parseRef(ref);
    return `${r.registry}/${r.repository}`;
}

/** Registries on loopback speak plain HTTP, as the Docker engine assumes. */
function baseUrl(registry: string): string {
    const host = registry.replace(/:\d+$/, "");
    const plain = host === "localhost" || /^127\./.test(host) || host === "[::1]";
    return `${plain ? "http" : "https"}://${registry}`;
}

export interface Credentials {
    username: string;
    password: string;
}

interface Response {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

function request(method: string, url: string, headers: Record<string, string>, body?: Buffer, timeoutMs = 60_000): Promise<Response> {
    const lib = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
        const req = lib.request(url, { method, headers, timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c)).on("end", () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs / 1000}s`)));
        req.on("error", (e) => reject(new Error(`${method} ${url}: ${e.message}: is the registry running and reachable?`)));
        req.end(body);
    });
}

/** Parses `WWW-Authenticate: Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string): Record<string, string> | undefined {
    if (!/^Bearer /i.test(header)) return undefined;
    const out: Record<string, string> = {};
    for (const m of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) out[m[1]] = m[2];
    return out;
}

export class Registry {
    private token?: string;

    constructor(readonly registry: string, private readonly credentials?: Credentials, private readonly timeoutMs = 60_000) {}

    private auth(): Record<string, string> {
        return this.token ? { Authorization: `Bearer ${this.token}` }
            : this.credentials ? { Authorization: `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}` } : {};
    }

    private async call(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> {
        const url = `${baseUrl(this.registry)}/v2/${path}`;
        const auth = () => this.auth();
        let res = await request(method, url, { ...headers, ...auth() }, body, this.timeoutMs);
        const challenge = res.status === 401 ? parseChallenge(String(res.headers["www-authenticate"] ?? "")) : undefined;
        if (challenge?.realm) {
            const q = new URLSearchParams({ ...(challenge.service ? { service: challenge.service } : {}), ...(challenge.scope ? { scope: challenge.scope } : {}) });
            const basic: Record<string, string> = this.credentials ? { Authorization: `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}` } : {};
            const t = await request("GET", `${challenge.realm}?${q}`, basic, undefined, this.timeoutMs);
            if (t.status !== 200) throw new Error(`${this.registry} refused the credentials (token endpoint answered ${t.status}): check registry.username and registry.password`);
            const j = JSON.parse(t.body.toString("utf8"));
            this.token = j.token ?? j.access_token;
            res = await request(method, url, { ...headers, ...auth() }, body, this.timeoutMs);
        }
        if (res.status === 401) throw new Error(`${this.registry} answered 401 Unauthorized for ${method} /v2/${path}: check registry.username and registry.password`);
        return res;
    }

    /**
     * Asks the registry's API root once (and its token endpoint, if it answers with one):
     * throws when the registry does not answer, or refuses the credentials given.
     * Without credentials a 401 is fine: the docker config may hold a login.
     */
    async ping(): Promise<void> {
        try {
            await this.call("GET", "");
        } catch (e) {
            if (!this.credentials && /\b401\b|refused the credentials/.test((e as Error).message)) return;
            throw e;
        }
    }

    /** The raw manifest or index a tag or digest points at; undefined when there is none. */
    async getManifest(repository: string, reference: string): Promise<{ digest: string; mediaType: string; raw: Buffer; body: any } | undefined> {
        const res = await this.call("GET", `${repository}/manifests/${reference}`, { Accept: [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES].join(", ") });
        if (res.status === 404) return undefined;
        if (res.status !== 200) throw new Error(`GET ${this.registry}/${repository} manifest ${reference} answered ${res.status}: ${res.body.toString("utf8").slice(0, 300)}`);
        const body = JSON.parse(res.body.toString("utf8"));
        return {
            digest: String(res.headers["docker-content-digest"] ?? reference),
            mediaType: body.mediaType ?? String(res.headers["content-type"] ?? ""),
            raw: res.body, body,
        };
    }

    /** Points `tag` at exactly these manifest bytes (moving a tag is a manifest PUT). */
    async putManifest(repository: string, tag: string, raw: Buffer, mediaType: string): Promise<void> {
        const res = await this.call("PUT", `${repository}/manifests/${tag}`, { "Content-Type": mediaType }, raw);
        if (res.status !== 201 && res.status !== 200) {
            throw new Error(`${this.registry} refused ${mediaType} for ${repository}:${tag} (${res.status}): ${res.body.toString("utf8").slice(0, 300)}`);
        }
    }

    async deleteManifest(repository: string, digest: string): Promise<void> {
        const res = await this.call("DELETE", `${repository}/manifests/${digest}`);
        if (![200, 202, 404].includes(res.status)) throw new Error(`${this.registry} refused to delete ${repository}@${digest} (${res.status}): enable deletes in the registry or drop deleteOnDestroy`);
    }

    /**
     * A blob's bytes as a stream, so a layer of any size is read with flat memory and the
     * reader can stop early (destroying the response). A HEAD first settles authentication.
     */
    async openBlob(repository: string, digest: string): Promise<http.IncomingMessage> {
        await this.call("HEAD", `${repository}/blobs/${digest}`);
        let url = `${baseUrl(this.registry)}/v2/${repository}/blobs/${digest}`;
        for (let hops = 0; hops < 4; hops++) {
            const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
                const lib = url.startsWith("https:") ? https : http;
                const req = lib.request(url, { method: "GET", headers: hops ? {} : this.auth(), timeout: this.timeoutMs }, resolve);
                req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out after ${this.timeoutMs / 1000}s`)));
                req.on("error", (e) => reject(new Error(`GET ${url}: ${e.message}: is the registry running and reachable?`)));
                req.end();
            });
            if ([301, 302, 307, 308].includes(res.statusCode ?? 0) && res.headers.location) {
                url = new URL(res.headers.location, url).toString();
                res.resume();
                continue;
            }
            if (res.statusCode !== 200) {
                res.resume();
                throw new Error(`GET blob ${digest} from ${this.registry}/${repository} answered ${res.statusCode}`);
            }
            return res;
        }
        throw new Error(`GET blob ${digest} from ${this.registry}/${repository}: too many redirects`);
    }

    async getBlob(repository: string, digest: string): Promise<Buffer> {
        let res = await this.call("GET", `${repository}/blobs/${digest}`);
        for (let hops = 0; (res.status === 307 || res.status === 302) && hops < 3; hops++) {
            res = await request("GET", String(res.headers.location), {});
        }
        if (res.status !== 200) throw new Error(`GET blob ${digest} from ${this.registry}/${repository} answered ${res.status}`);
        return res.body;
    }
}

/** platform -> manifest digest for an index; attestation entries are left out. */
export function platformDigests(index: any): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of index.manifests ?? []) {
        const p = m.platform;
        if (!p || p.os === "unknown" || m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest") continue;
        out[[p.os, p.architecture, p.variant].filter(Boolean).join("/")] = m.digest;
    }
    return out;
}
