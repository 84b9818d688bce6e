// A local OCI image layout (what `--output type=oci,tar=false` writes) made by hand for tests of
// `oci-layout://` named contexts: one index, tagged, over one image per platform, each image a
// single uncompressed layer holding the given files.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

function blob(dir: string, bytes: Buffer): { digest: string; size: number } {
    const digest = `sha256:${crypto.createHash("sha256").update(bytes).digest("hex")}`;
    fs.mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
    fs.writeFileSync(path.join(dir, "blobs", "sha256", digest.slice(7)), bytes);
    return { digest, size: bytes.length };
}

/** Writes the layout into `dir`; returns the index's digest, which `tag` names in index.json. */
export function writeOciLayout(dir: string, tag: string, files: Record<string, string>, platforms: string[]): string {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), "pm-layout-"));
    try {
        for (const [name, content] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
            fs.writeFileSync(path.join(src, name), content);
        }
        const tar = execFileSync("tar", [
            "-C",
            src,
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-cf",
            "-",
            ...Object.keys(files).sort(),
        ]);
        fs.mkdirSync(dir, { recursive: true });
        const layer = blob(dir, tar);
        const manifests = platforms.map((p) => {
            const [os_, architecture, variant] = p.split("/");
            const config = blob(
                dir,
                Buffer.from(
                    JSON.stringify({
                        architecture,
                        os: os_,
                        ...(variant ? { variant } : {}),
                        config: {},
                        rootfs: { type: "layers", diff_ids: [layer.digest] },
                    }),
                ),
            );
            const m = blob(
                dir,
                Buffer.from(
                    JSON.stringify({
                        schemaVersion: 2,
                        mediaType: "application/vnd.oci.image.manifest.v1+json",
                        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
                        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
                    }),
                ),
            );
            return {
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                ...m,
                platform: { architecture, os: os_, ...(variant ? { variant } : {}) },
            };
        });
        const index = blob(
            dir,
            Buffer.from(
                JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }),
            ),
        );
        fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
        fs.writeFileSync(
            path.join(dir, "index.json"),
            JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.index.v1+json",
                manifests: [
                    {
                        mediaType: "application/vnd.oci.image.index.v1+json",
                        ...index,
                        annotations: { "org.opencontainers.image.ref.name": tag },
                    },
                ],
            }),
        );
        return index.digest;
    } finally {
        fs.rmSync(src, { recursive: true, force: true });
    }
}
