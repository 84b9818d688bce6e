// A small OCI distribution client: enough to read what a push left in a registry.
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

export interface FetchedManifest {
    digest: string;
    mediaType: string;
    body: any;
}

function get(url: string, accept: string[]): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    const lib = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
        const req = lib.get(url, { headers: { Accept: accept.join(", ") }, timeout: 30_000 }, (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out after 30s`)));
        req.on("error", (e) => reject(new Error(`GET ${url}: ${e.message}: is the registry running and reachable?`)));
    });
}

/** The manifest or index a tag or digest points at; undefined when the registry has none. */
export async function getManifest(ref: string): Promise<FetchedManifest | undefined> {
    const r = parseRef(ref);
    const url = `${baseUrl(r.registry)}/v2/${r.repository}/manifests/${r.digest ?? r.tag}`;
    const res = await get(url, [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES]);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${res.body.slice(0, 300)}`);
    const body = JSON.parse(res.body);
    return {
        digest: String(res.headers["docker-content-digest"] ?? ""),
        mediaType: body.mediaType ?? String(res.headers["content-type"] ?? ""),
        body,
    };
}

export async function getBlobJson(ref: string, digest: string): Promise<any> {
    const r = parseRef(ref);
    const url = `${baseUrl(r.registry)}/v2/${r.repository}/blobs/${digest}`;
    const res = await get(url, ["*/*"]);
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
    return JSON.parse(res.body);
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
