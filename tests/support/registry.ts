// Reads a registry over its HTTP API, accepting every manifest kind, as a pull would.
import * as http from "http";

/** Every manifest kind, as a pull asks for them. */
export const ACCEPT = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"].join(", ");

export interface Manifest { status: number; digest?: string; mediaType?: string; body: any }

/** GET /v2/<repo>/manifests/<ref> (a tag or digest); `status` 404 when absent. */
export function manifest(registry: string, repo: string, ref: string): Promise<Manifest> {
    return new Promise((resolve, reject) => {
        http.get(`http://${registry}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } }, (res) => {
            let text = "";
            res.on("data", (c) => (text += c)).on("end", () => {
                let body: any = text;
                try { body = JSON.parse(text); } catch { /* an error page */ }
                resolve({ status: res.statusCode ?? 0, digest: res.headers["docker-content-digest"] as string | undefined, mediaType: body?.mediaType, body });
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
