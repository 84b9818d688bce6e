// A small OCI distribution client for what happens after buildx pushes: read what the push
// left (verification, refresh, index assembly), move tags to verified manifests, probe
// whether a registry keeps indexes, delete what we pushed. It reaches a registry the way
// `docker buildx build --push` does: credentials from the docker config and its credential
// helpers (dockerConfig.ts) or the resource's `registry` args, trust and plain HTTP from the
// builder's buildkitd config, /etc/docker/certs.d and the system store (registryHosts.ts).
// Hand-written rather than `buildx imagetools`: imagetools cannot read blobs, delete, or
// push a manifest under a tag as it is (see docs/registries.md).
// Promotions copy through it too: blobs mounted across repositories or streamed from one
// registry's GET into another's upload (never held in memory), referrers listed.
import * as http from "http";
import * as https from "https";
import * as stream from "stream";

import * as dockerConfig from "./dockerConfig";
import * as hosts from "./registryHosts";

/**
 * A registry's refusal, typed so callers decide by what happened, not by the message's words:
 * `status` is the HTTP answer (0: none), `refused` what was refused ("auth": a 401/403 after
 * logging in, or a login the registry or its token service refused; "manifest": a manifest
 * PUT; "read": a GET of a manifest; "login": the login docker would send could not be read,
 * from the docker config or its credential helper; "unreachable": no answer at all, refused
 * connection, unknown host or timeout). `detail`: the message without the hint for the user.
 */
export class RegistryError extends Error {
    constructor(
        message: string,
        readonly registry: string,
        readonly status: number,
        readonly refused: "auth" | "manifest" | "read" | "login" | "unreachable",
        readonly detail: string = message,
    ) {
        super(message);
        this.name = "RegistryError";
    }
}

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

/** Parses "host[:port]/repo[:tag][@digest]" as docker does: short names are Docker Hub's (docker.io, library/). */
export function parseRef(ref: string): ImageRef {
    const m =
        /^(?:([^/]+?(?:[.:][^/]*|localhost))\/)?([a-z0-9]+(?:[._\-/][a-z0-9]+)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(
            ref,
        );
    if (!m)
        throw new Error(
            `"${ref}" is not an image reference: write registry/repository:tag, e.g. localhost:5000/hello:1.0`,
        );
    const registry = !m[1] || m[1] === "index.docker.io" ? "docker.io" : m[1];
    const repository = registry === "docker.io" && !m[2].includes("/") ? `library/${m[2]}` : m[2];
    return { registry, repository, tag: m[3] ?? (m[4] ? undefined : "latest"), digest: m[4] };
}

export function repoOf(ref: string): string {
    const r = parseRef(ref);
    return `${r.registry}/${r.repository}`;
}

export type Credentials = dockerConfig.Credentials;

/** A manifest or index as the registry stored it: its digest, media type, exact bytes, parsed body. */
export interface Manifest {
    digest: string;
    mediaType: string;
    raw: Buffer;
    body: any;
}

/** What a registry operation is part of, for error messages. */
export type Step = "preview ping" | "read" | "tag move" | "index probe" | "delete" | "copy";

interface Response {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

/**
 * Parses `WWW-Authenticate`: a Bearer challenge's `realm`, `service`, `scope`, or
 * `{ scheme: "basic" }`; undefined for anything else.
 */
export function parseChallenge(header: string): Record<string, string> | undefined {
    const m = /^(Bearer|Basic)\b\s*(.*)$/i.exec(header.trim());
    if (!m) return undefined;
    if (m[1].toLowerCase() === "basic") return { scheme: "basic" };
    const out: Record<string, string> = {};
    for (const p of m[2].matchAll(/(\w+)="([^"]*)"/g)) out[p[1]] = p[2];
    return out;
}

/** Redirects a blob GET follows (to the blob store). */
const REDIRECTS = [301, 302, 303, 307, 308];

/** Statuses worth another try: rate limits and a registry (or its proxy) that is briefly down. */
export const RETRY_STATUSES = [429, 500, 502, 503, 504];

export interface RetryPolicy {
    attempts: number;
    /** First delay; doubles each time, capped at `maxDelayMs`; a Retry-After wins up to the cap. */
    baseDelayMs: number;
    maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 8_000 };

/** The wait before retry number `n` (0-based), honouring a Retry-After in seconds. Pure. */
export function retryDelay(policy: RetryPolicy, n: number, retryAfter?: string): number {
    const after = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : undefined;
    return Math.min(policy.maxDelayMs, after ?? policy.baseDelayMs * 2 ** n);
}

/** The hint of a registry that did not answer at all. */
const UNREACHABLE = ": is the registry running and reachable?";

/** Hints for transport errors: what the user changes so the registry is reached as the push reaches it. */
function transportHint(message: string, registry: string, access: hosts.HostAccess): string {
    if (/wrong version number|packet length too long|EPROTO/i.test(message) && access.scheme === "https") {
        return `: it seems to speak plain HTTP; say so in the builder's buildkitdConfig: [registry."${registry}"] http = true`;
    }
    if (/certificate|self[- ]signed|unable to verify|UNABLE_TO_GET_ISSUER/i.test(message)) {
        return (
            `: trust its CA as the push does: ca = ["/path/ca.crt"] under [registry."${registry}"] in the builder's buildkitdConfig, ` +
            `/etc/docker/certs.d/${registry}/ca.crt, or the system trust store (update-ca-certificates, or SSL_CERT_FILE)`
        );
    }
    if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|timed out/i.test(message)) return UNREACHABLE;
    return "";
}

/** "the login of ci from <source>", for messages; never the secret. */
function whose(r: dockerConfig.Resolved): string {
    const c = r.credentials;
    if (!c) return `no login (${r.source.describe})`;
    return `the login ${c.username === "<token>" ? "(an identity token)" : `of ${c.username}`} from ${r.source.describe}`;
}

/** What the user does about a login the registry refused, by where it came from. */
export function loginFix(r: dockerConfig.Resolved, registry: string): string {
    switch (r.source.kind) {
        case "registry args":
            return `check ${r.source.property ?? "registry"}.username and ${r.source.property ?? "registry"}.password`;
        case "docker config":
            return `run \`docker login ${registry}\` again, or give the resource registry args`;
        case "credential helper":
            return `run \`docker login ${registry}\` again (it stores the login through the helper), or give the resource registry args`;
        default:
            return `run \`docker login ${registry}\`, or give the resource registry args`;
    }
}

function basic(c: Credentials): string {
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

export interface RegistryOptions {
    /** The resource's login for this registry; added to (never hiding) the docker config's. */
    credentials?: Credentials;
    /** The resource's property that holds `credentials`, for messages. Default `registry`. */
    credentialsProperty?: string;
    /** The buildx builder that pushes: its buildkitd config says how to reach the registry. */
    builder?: string;
    /** That builder's buildkitd.toml as given, used until buildx has stored the builder. */
    builderConfig?: string;
    timeoutMs?: number;
    retry?: RetryPolicy;
}

export class Registry {
    readonly registry: string;
    readonly access: hosts.HostAccess;
    private readonly opts: RegistryOptions;
    private resolved?: Promise<dockerConfig.Resolved>;
    /** Bearer tokens by scope: a pull token is not a push token, nor one for another repository. */
    private readonly tokens: Map<string, string>;
    private basicAuth: boolean;
    private readonly timeoutMs: number;
    private readonly retry: RetryPolicy;
    /** TLS options, built once: the CA bundle is read and parsed once per client, not per request. */
    private tls?: import("tls").ConnectionOptions;

    constructor(registry: string, opts: RegistryOptions = {}) {
        this.registry = registry;
        this.opts = opts;
        this.access = hosts.hostAccess(registry, opts.builder, opts.builderConfig);
        this.tokens = new Map();
        this.basicAuth = false;
        this.timeoutMs = opts.timeoutMs ?? 60_000;
        this.retry = opts.retry ?? DEFAULT_RETRY;
    }

    /** Credentials as docker would send them, resolved once (a credential helper runs at most once). */
    login(): Promise<dockerConfig.Resolved> {
        this.resolved ??= dockerConfig
            .resolve(this.registry, this.opts.credentials, undefined, this.opts.credentialsProperty)
            .catch((e: Error) => {
                throw new RegistryError(e.message, this.registry, 0, "login");
            });
        return this.resolved;
    }

    private url(path: string): string {
        return `${this.access.scheme}://${this.access.apiHost}/v2/${path}`;
    }

    /**
     * Opens one request (TLS as `access` says); resolves with the response, its body unread. A
     * stream body is piped with backpressure (a blob upload), and stopped if the registry
     * answers before it has read it all.
     */
    private open(
        method: string,
        url: string,
        headers: Record<string, string>,
        body?: Buffer | stream.Readable,
    ): Promise<http.IncomingMessage> {
        const secure = url.startsWith("https:");
        if (secure) this.tls ??= hosts.tlsOptions(this.access);
        const options = { method, headers, timeout: this.timeoutMs, ...(secure ? this.tls : {}) };
        return new Promise((resolve, reject) => {
            let answered = false;
            const req = (secure ? https : http).request(url, options, (res) => {
                answered = true;
                if (body instanceof stream.Readable && !body.readableEnded) body.destroy();
                resolve(res);
            });
            req.on("timeout", () => req.destroy(new Error(`timed out after ${this.timeoutMs / 1000}s`)));
            req.on("error", (e) => {
                const said = `${method} ${url}: ${e.message}`;
                const hint = transportHint(e.message, this.registry, this.access);
                reject(
                    hint === UNREACHABLE
                        ? new RegistryError(`${said}${hint}`, this.registry, 0, "unreachable", said)
                        : new Error(`${said}${hint}`),
                );
            });
            if (body instanceof stream.Readable) {
                // A source that fails mid-blob fails the request; once the registry answered, its answer counts.
                stream.pipeline(body, req, (e) => {
                    if (e && !answered) req.destroy(e);
                });
            } else {
                req.end(body);
            }
        });
    }

    private async send(
        method: string,
        url: string,
        headers: Record<string, string>,
        body?: Buffer | stream.Readable,
    ): Promise<Response> {
        const res = await this.open(method, url, headers, body);
        return new Promise((resolve, reject) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c)).on("end", () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
            res.on("error", reject);
        });
    }

    /** Sends with bounded retries on 429/5xx and dropped connections, backing off. */
    private async sendRetrying(
        method: string,
        url: string,
        headers: Record<string, string>,
        body?: Buffer,
        retry = this.retry,
    ): Promise<Response> {
        for (let n = 0; ; n++) {
            let res: Response | undefined;
            let err: Error | undefined;
            try {
                res = await this.send(method, url, headers, body);
            } catch (e) {
                err = e as Error;
            }
            const transient = res
                ? RETRY_STATUSES.includes(res.status)
                : /ECONNRESET|socket hang up|EPIPE/.test(err!.message);
            if (!transient || n + 1 >= retry.attempts) {
                if (err) throw err;
                return res!;
            }
            await new Promise((r) =>
                setTimeout(r, retryDelay(retry, n, res ? String(res.headers["retry-after"] ?? "") : undefined)),
            );
        }
    }

    /** The credentials in use and what to do when they are refused, for messages (never the secret). */
    async describeLogin(): Promise<{ who: string; fix: string }> {
        const login = await this.login();
        return { who: whose(login), fix: loginFix(login, this.registry) };
    }

    private async fetchToken(
        challenge: Record<string, string>,
        scope: string | undefined,
        retry?: RetryPolicy,
    ): Promise<string> {
        const login = await this.login();
        const { credentials } = login;
        const params: Record<string, string> = challenge.service ? { service: challenge.service } : {};
        let res: Response;
        if (credentials?.username === "<token>") {
            // An identity token (docker login with OAuth): the refresh-token grant (OAuth2 scopes are space-separated).
            const form = new URLSearchParams({
                ...params,
                ...(scope ? { scope } : {}),
                grant_type: "refresh_token",
                refresh_token: credentials.password,
                client_id: "pulumi-multiarch",
            });
            const headers = { "Content-Type": "application/x-www-form-urlencoded" };
            res = await this.sendRetrying("POST", challenge.realm, headers, Buffer.from(form.toString()), retry);
        } else {
            // Several scopes (a mount needs push on the target and pull on the source repository)
            // are several `scope` parameters, as docker's token protocol asks.
            const query = new URLSearchParams(params);
            for (const s of (scope ?? "").split(" ").filter(Boolean)) query.append("scope", s);
            const headers: Record<string, string> = credentials ? { Authorization: basic(credentials) } : {};
            res = await this.sendRetrying("GET", `${challenge.realm}?${query}`, headers, undefined, retry);
        }
        const service = `${this.registry}'s token service ${challenge.realm}`;
        if (res.status === 401 || res.status === 403) {
            throw new RegistryError(
                `${service} refused ${credentials ? whose(login) : `an anonymous token (${login.source.describe})`} ` +
                    `for ${scope ?? "the registry"} (${res.status}): ${loginFix(login, this.registry)}`,
                this.registry,
                res.status,
                "auth",
            );
        }
        if (res.status !== 200)
            throw new Error(`${service} answered ${res.status}: ${res.body.toString("utf8").slice(0, 200)}`);
        const j = JSON.parse(res.body.toString("utf8"));
        const token = j.token ?? j.access_token;
        if (!token) throw new Error(`${service} answered without a token`);
        return token;
    }

    /** The Authorization header a request for `scope` carries now: its Bearer token, Basic once asked for, or none. */
    private async authFor(scope: string): Promise<Record<string, string>> {
        const token = this.tokens.get(scope);
        if (token) return { Authorization: `Bearer ${token}` };
        const creds = this.basicAuth ? (await this.login()).credentials : undefined;
        return creds ? { Authorization: basic(creds) } : {};
    }

    /**
     * One API call, authenticated as docker would: anonymous first, then on a challenge
     * Basic with the login, or a Bearer token for exactly the scope the registry asked for.
     */
    private async call(
        step: Step,
        method: string,
        path: string,
        scope: string,
        headers: Record<string, string> = {},
        body?: Buffer,
    ): Promise<Response> {
        const url = this.url(path);
        const authHeader = () => this.authFor(scope);
        let res = await this.sendRetrying(method, url, { ...headers, ...(await authHeader()) }, body);
        if (res.status === 401) {
            const challenge = parseChallenge(String(res.headers["www-authenticate"] ?? ""));
            if (challenge?.realm) {
                this.tokens.set(scope, await this.fetchToken(challenge, challenge.scope ?? scope));
            } else if (challenge?.scheme === "basic" && !this.basicAuth) {
                this.basicAuth = true;
            }
            if (challenge) res = await this.sendRetrying(method, url, { ...headers, ...(await authHeader()) }, body);
        }
        if (res.status === 401 || res.status === 403) {
            const login = await this.login();
            const [, repo, actions] = scope.split(" ")[0].split(":");
            throw new RegistryError(
                `${step}: ${this.registry} answered ${res.status} to ${method} /v2/${path} with ${whose(login)}: ` +
                    `${login.credentials ? `that login needs ${actions} rights on ${repo}; or ` : ""}${loginFix(login, this.registry)}`,
                this.registry,
                res.status,
                "auth",
            );
        }
        return res;
    }

    /**
     * Asks the registry's API root once (with one retry-free request per step): healthy only
     * if it answers as a registry does (200, or 401 with a challenge). When a login is known
     * (args, docker config, credential helper), checks that the registry accepts it.
     */
    async ping(repository?: string): Promise<void> {
        const once: RetryPolicy = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };
        const url = this.url("");
        const res = await this.sendRetrying("GET", url, {}, undefined, once);
        const challenge =
            res.status === 401 ? parseChallenge(String(res.headers["www-authenticate"] ?? "")) : undefined;
        const isRegistry = res.status === 200 || !!challenge;
        if (!isRegistry) {
            const text = res.body.toString("utf8").slice(0, 200).trim();
            const hint = /HTTP request to an HTTPS server/i.test(text)
                ? `: it speaks HTTPS; remove http = true under [registry."${this.registry}"] in the builder's buildkitdConfig`
                : "";
            throw new Error(
                `GET ${url} answered ${res.status}${text ? ` (${text})` : ""}, not a registry's /v2/ answer${hint}`,
            );
        }
        if (!challenge) return;
        const login = await this.login();
        if (!login.credentials) return; // anonymous: the registry may allow it; the push will tell
        if (challenge.realm) {
            await this.fetchToken(challenge, repository ? `repository:${repository}:pull,push` : undefined, once);
            return;
        }
        const again = await this.sendRetrying("GET", url, { Authorization: basic(login.credentials) }, undefined, once);
        if (again.status === 401 || again.status === 403) {
            throw new RegistryError(
                `${this.registry} refused ${whose(login)} (${again.status}): ${loginFix(login, this.registry)}`,
                this.registry,
                again.status,
                "auth",
            );
        }
    }

    /** The raw manifest or index a tag or digest points at; undefined when there is none. */
    async getManifest(repository: string, reference: string, step: Step = "read"): Promise<Manifest | undefined> {
        const res = await this.call(
            step,
            "GET",
            `${repository}/manifests/${reference}`,
            `repository:${repository}:pull`,
            { Accept: [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES].join(", ") },
        );
        if (res.status === 404) return undefined;
        if (res.status !== 200) {
            throw new RegistryError(
                `${step}: GET ${this.registry}/${repository} manifest ${reference} answered ${res.status}: ${res.body.toString("utf8").slice(0, 300)}`,
                this.registry,
                res.status,
                "read",
            );
        }
        const body = JSON.parse(res.body.toString("utf8"));
        return {
            digest: String(res.headers["docker-content-digest"] ?? reference),
            mediaType: body.mediaType ?? String(res.headers["content-type"] ?? ""),
            raw: res.body,
            body,
        };
    }

    /**
     * Points `tag` at exactly these manifest bytes (moving a tag is a manifest PUT; a digest
     * as `tag` stores it untagged). `subjectIndexed`: the registry says (OCI-Subject) that it
     * listed the manifest among its subject's referrers itself.
     */
    async putManifest(
        repository: string,
        tag: string,
        raw: Buffer,
        mediaType: string,
        step: Step = "tag move",
    ): Promise<{ subjectIndexed: boolean }> {
        const res = await this.call(
            step,
            "PUT",
            `${repository}/manifests/${tag}`,
            `repository:${repository}:pull,push`,
            { "Content-Type": mediaType },
            raw,
        );
        if (res.status !== 201 && res.status !== 200) {
            const text = res.body.toString("utf8").slice(0, 300);
            throw new RegistryError(
                `${step}: ${this.registry} refused ${mediaType} for ${repository}:${tag} (${res.status}): ${text}`,
                this.registry,
                res.status,
                "manifest",
            );
        }
        return { subjectIndexed: res.headers["oci-subject"] !== undefined };
    }

    /** Whether the repository holds the blob (a HEAD). */
    async hasBlob(repository: string, digest: string): Promise<boolean> {
        const res = await this.call("read", "HEAD", `${repository}/blobs/${digest}`, `repository:${repository}:pull`);
        if (res.status === 200) return true;
        if (res.status === 404) return false;
        throw new Error(`read: HEAD blob ${digest} of ${this.registry}/${repository} answered ${res.status}`);
    }

    /**
     * Puts a blob into `repository`: mounted from `mountFrom` (another repository of this
     * registry: no bytes move) where the registry agrees, else uploaded from the stream
     * `open()` returns (POST, one streamed PATCH, PUT ?digest=), so a layer of any size passes
     * with flat memory. The registry checks the digest of what it received.
     */
    async putBlob(
        repository: string,
        blob: { digest: string; size: number },
        open: () => Promise<stream.Readable>,
        mountFrom?: string,
    ): Promise<"mounted" | "uploaded"> {
        const scope = `repository:${repository}:pull,push${mountFrom ? ` repository:${mountFrom}:pull` : ""}`;
        const query = mountFrom ? `?mount=${blob.digest}&from=${encodeURIComponent(mountFrom)}` : "";
        const started = await this.call("copy", "POST", `${repository}/blobs/uploads/${query}`, scope);
        if (started.status === 201 && mountFrom) return "mounted";
        const where = `${this.registry}/${repository}`;
        if (started.status !== 202 || !started.headers.location) {
            throw new Error(
                `copy: ${where} refused an upload of ${blob.digest} (${started.status}): ${started.body.toString("utf8").slice(0, 300)}`,
            );
        }
        // The registry declined the mount (or none was asked): the bytes go through us.
        const auth = await this.authFor(scope);
        let location = new URL(String(started.headers.location), this.url("")).toString();
        const body = await open();
        const patched = await this.send(
            "PATCH",
            location,
            { ...auth, "Content-Type": "application/octet-stream", "Content-Length": String(blob.size) },
            body,
        );
        if (patched.status !== 202 && patched.status !== 204) {
            throw new Error(
                `copy: ${where} refused the bytes of ${blob.digest} (${patched.status}): ${patched.body.toString("utf8").slice(0, 300)}`,
            );
        }
        location = new URL(String(patched.headers.location ?? location), location).toString();
        const commit = new URL(location);
        commit.searchParams.set("digest", blob.digest);
        const done = await this.send("PUT", commit.toString(), { ...auth, "Content-Length": "0" });
        if (done.status !== 201 && done.status !== 204) {
            throw new Error(
                `copy: ${where} refused blob ${blob.digest} (${done.status}): ${done.body.toString("utf8").slice(0, 300)}`,
            );
        }
        return "uploaded";
    }

    /**
     * The referrers of `digest` (OCI 1.1: manifests whose `subject` is it, e.g. signatures,
     * SBOMs, verification records), from the referrers API, or where the registry has none
     * (`api` false) from the fallback tag `sha256-<hex>`'s index, as oras and cosign keep it.
     */
    async referrers(repository: string, digest: string): Promise<{ api: boolean; manifests: any[] }> {
        const res = await this.call(
            "read",
            "GET",
            `${repository}/referrers/${digest}`,
            `repository:${repository}:pull`,
            { Accept: INDEX_MEDIA_TYPES[0] },
        );
        if (res.status === 200 && /json/.test(String(res.headers["content-type"] ?? ""))) {
            return { api: true, manifests: JSON.parse(res.body.toString("utf8")).manifests ?? [] };
        }
        if (res.status >= 500)
            throw new Error(
                `read: GET referrers of ${digest} from ${this.registry}/${repository} answered ${res.status}`,
            );
        const index = await this.getManifest(repository, referrersTag(digest));
        return { api: false, manifests: Array.isArray(index?.body.manifests) ? index.body.manifests : [] };
    }

    async deleteManifest(repository: string, digest: string): Promise<void> {
        const res = await this.call(
            "delete",
            "DELETE",
            `${repository}/manifests/${digest}`,
            `repository:${repository}:delete`,
        );
        if (![200, 202, 404].includes(res.status)) {
            throw new Error(
                `delete: ${this.registry} refused to delete ${repository}@${digest} (${res.status}): ` +
                    "enable deletes in the registry or drop deleteOnDestroy",
            );
        }
    }

    /**
     * A blob's bytes as a stream, so a layer of any size is read with flat memory and the
     * reader can stop early (destroying the response). A HEAD first settles authentication.
     */
    async openBlob(repository: string, digest: string): Promise<http.IncomingMessage> {
        const scope = `repository:${repository}:pull`;
        await this.call("read", "HEAD", `${repository}/blobs/${digest}`, scope);
        let url = this.url(`${repository}/blobs/${digest}`);
        for (let hops = 0; hops < 4; hops++) {
            // Blob storage behind a redirect (S3, a CDN) takes no registry credentials.
            const res = await this.open("GET", url, hops ? {} : await this.authFor(scope)).catch((e: Error) => {
                throw new Error(`read: ${e.message}`);
            });
            if (REDIRECTS.includes(res.statusCode ?? 0) && res.headers.location) {
                url = new URL(res.headers.location, url).toString();
                res.resume();
                continue;
            }
            if (res.statusCode !== 200) {
                res.resume();
                throw new Error(
                    `read: GET blob ${digest} from ${this.registry}/${repository} answered ${res.statusCode}`,
                );
            }
            return res;
        }
        throw new Error(`read: GET blob ${digest} from ${this.registry}/${repository}: too many redirects`);
    }
}

/** platform -> manifest digest for an index; attestation entries are left out. */
export function platformDigests(index: any): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of index.manifests ?? []) {
        const p = m.platform;
        if (!p || p.os === "unknown" || m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest")
            continue;
        out[[p.os, p.architecture, p.variant].filter(Boolean).join("/")] = m.digest;
    }
    return out;
}

/** The OCI 1.1 referrers fallback tag of a digest: `sha256:ab..` -> `sha256-ab..`. */
export function referrersTag(digest: string): string {
    return digest.replace(":", "-");
}
