// Reads a registry over its HTTP API, accepting every manifest kind, as a pull would; copies
// an index across repositories and lists what an image's layers hold.
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as zlib from "zlib";

import { tarEntries } from "../../core/tar";

/** Every manifest kind, as a pull asks for them. */
export const ACCEPT = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface Manifest {
    status: number;
    digest?: string;
    mediaType?: string;
    body: any;
}

/** GET /v2/<repo>/manifests/<ref> (a tag or digest); `status` 404 when absent. */
export function manifest(registry: string, repo: string, ref: string): Promise<Manifest> {
    return new Promise((resolve, reject) => {
        http.get(`http://${registry}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } }, (res) => {
            let text = "";
            res.on("data", (c) => (text += c)).on("end", () => {
                let body: any = text;
                try {
                    body = JSON.parse(text);
                } catch {
                    /* an error page */
                }
                resolve({
                    status: res.statusCode ?? 0,
                    digest: res.headers["docker-content-digest"] as string | undefined,
                    mediaType: body?.mediaType,
                    body,
                });
            });
        }).on("error", reject);
    });
}

/** The image config (os, architecture, ...) of a single-platform manifest. */
export function imageConfig(registry: string, repo: string, m: Manifest): Promise<any> {
    return new Promise((resolve, reject) => {
        http.get(`http://${registry}/v2/${repo}/blobs/${m.body.config.digest}`, (res) => {
            let text = "";
            res.on("data", (c) => (text += c)).on("end", () => resolve(JSON.parse(text)));
        }).on("error", reject);
    });
}

function request(
    method: string,
    url: string,
    headers: Record<string, string> = {},
    body?: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
        const req = http
            .request(url, { method, headers }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c) => chunks.push(c)).on("end", () =>
                    resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
                );
            })
            .on("error", reject);
        req.end(body);
    });
}

/**
 * Tags `toRepo:tag` with a copy of the index `fromRepo:ref` (its manifests and blobs mounted
 * across repositories, as a push does), `annotations` added to the index so that each set of
 * them gives another digest of the same images: a tag "moved" upstream. Returns the digest.
 */
export async function copyIndex(
    registry: string,
    fromRepo: string,
    ref: string,
    toRepo: string,
    tag: string,
    annotations: Record<string, string> = {},
): Promise<string> {
    const index = await manifest(registry, fromRepo, ref);
    if (!Array.isArray(index.body?.manifests)) throw new Error(`${fromRepo}:${ref} is not an index`);
    for (const m of index.body.manifests) {
        const one = await manifest(registry, fromRepo, m.digest);
        for (const blob of [one.body.config, ...(one.body.layers ?? [])]) {
            const r = await request(
                "POST",
                `http://${registry}/v2/${toRepo}/blobs/uploads/?mount=${blob.digest}&from=${fromRepo}`,
            );
            if (r.status !== 201) throw new Error(`mounting ${blob.digest} into ${toRepo}: ${r.status} ${r.body}`);
        }
        const raw = await request("GET", `http://${registry}/v2/${fromRepo}/manifests/${m.digest}`, { Accept: ACCEPT });
        const put = await request(
            "PUT",
            `http://${registry}/v2/${toRepo}/manifests/${m.digest}`,
            { "Content-Type": one.mediaType! },
            raw.body,
        );
        if (put.status !== 201) throw new Error(`putting ${m.digest} into ${toRepo}: ${put.status} ${put.body}`);
    }
    const raw = Buffer.from(
        JSON.stringify({ ...index.body, ...(Object.keys(annotations).length ? { annotations } : {}) }),
    );
    const put = await request(
        "PUT",
        `http://${registry}/v2/${toRepo}/manifests/${tag}`,
        { "Content-Type": index.mediaType! },
        raw,
    );
    if (put.status !== 201) throw new Error(`tagging ${toRepo}:${tag}: ${put.status} ${put.body}`);
    return String(put.headers["docker-content-digest"]);
}

/** Every path in the layers of the single-platform manifest `digest`, each as the layer writes it (`name` or `name/` for folders). */
export async function imageFiles(registry: string, repo: string, digest: string): Promise<string[]> {
    const m = await manifest(registry, repo, digest);
    const out: string[] = [];
    for (const layer of m.body.layers ?? []) {
        const blob = await request("GET", `http://${registry}/v2/${repo}/blobs/${layer.digest}`);
        const bytes = /gzip/.test(layer.mediaType) ? zlib.gunzipSync(blob.body) : blob.body;
        for await (const e of tarEntries(
            (async function* () {
                yield bytes;
            })(),
        ))
            out.push(`${e.header.name}${e.header.type === "dir" ? "/" : ""}`);
    }
    return out.sort();
}

/** The text of file `name` in the layers of the single-platform manifest `digest` (the last layer that writes it), or undefined. */
export async function imageFileText(
    registry: string,
    repo: string,
    digest: string,
    name: string,
): Promise<string | undefined> {
    const m = await manifest(registry, repo, digest);
    let text: string | undefined;
    for (const layer of m.body.layers ?? []) {
        const blob = await request("GET", `http://${registry}/v2/${repo}/blobs/${layer.digest}`);
        const bytes = /gzip/.test(layer.mediaType) ? zlib.gunzipSync(blob.body) : blob.body;
        for await (const e of tarEntries(
            (async function* () {
                yield bytes;
            })(),
        )) {
            if (e.header.name.replace(/^\.?\//, "") !== name) continue;
            const chunks: Buffer[] = [];
            for await (const c of e.body()) chunks.push(c);
            text = Buffer.concat(chunks).toString("utf8");
        }
    }
    return text;
}

/** A blob's bytes as text. */
export async function blobText(registry: string, repo: string, digest: string): Promise<string> {
    return (await request("GET", `http://${registry}/v2/${repo}/blobs/${digest}`)).body.toString("utf8");
}

/**
 * A TCP port nothing listens on now, for a service a test starts: below the kernel's ephemeral
 * range (net.ipv4.ip_local_port_range), so no outgoing connection or `listen(0)` of another
 * process takes it before the service binds it. A port from `listen(0)` did get taken so
 * (promotion.test.ts: `listen EADDRINUSE 127.0.0.1:34787`, four e2e files at a time).
 */
export async function freePort(): Promise<number> {
    const range = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8");
    const low = Number(range.trim().split(/\s+/)[0]);
    for (let i = 0; i < 50; i++) {
        const port = 20000 + Math.floor(Math.random() * (low - 20000));
        if (await canListen(port)) return port;
    }
    throw new Error(`no free TCP port between 20000 and ${low} (the ephemeral range starts at ${low})`);
}

function canListen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}
