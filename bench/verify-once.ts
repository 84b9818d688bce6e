// One verification in a fresh process, as the image provider runs it: `node -r ts-node/register
// bench/verify-once.ts <builder> <dockerfile> registry <repo> <index digest>` (reads the pushed
// image back, streamed) or `... oci <layout dir> <index digest>` (the build's own OCI output).
// Prints JSON: wall seconds (base resolution included), peak RSS of this process, bytes read.
import * as fs from "fs";

import { baseLayerCount, finalStageBase } from "../core/baseImage";
import { parseRef, platformDigests, Registry } from "../core/registry";
import { type BlobSource, describe, ociLayoutSource, Verifier } from "../core/verify";

async function main(): Promise<void> {
    const [builder, dockerfile, kind, where, digest] = process.argv.slice(2);
    const t0 = process.hrtime.bigint();
    let source: BlobSource;
    if (kind === "registry") {
        const ref = parseRef(where);
        const r = new Registry(ref.registry);
        source = {
            manifest: async (d) => (await r.getManifest(ref.repository, d))!.body,
            blob: (d) => r.openBlob(ref.repository, d),
        };
    } else {
        source = ociLayoutSource(where);
    }
    const index = await source.manifest(digest);
    const manifests = platformDigests(index);
    const v = new Verifier(source);
    const text = fs.readFileSync(dockerfile, "utf8");
    const checks = await Promise.all(
        Object.entries(manifests).map(async ([p, d]) => {
            const base = finalStageBase(text, {}, undefined, p);
            return v.check(
                d,
                p,
                base === undefined
                    ? undefined
                    : await baseLayerCount(base, p, (host) => new Registry(host, { builder })),
            );
        }),
    );
    v.close();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]);
    console.log(
        JSON.stringify({ seconds, peakKiB: hwm, bytesRead: v.counter.bytes, verification: checks.map(describe) }),
    );
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
