// What the promotion (ImageCopy) and the Index do alike with images that are already in a
// registry: read them, say at preview what a copy into each target repository would move,
// do it, and read images back for verification.
import type { ManifestMode } from "../../contract/types";
import * as copy from "../../core/copy";
import * as registry from "../../core/registry";
import type * as verify from "../../core/verify";
import type { Mode, Target } from "./targets";

export const NO_STATS: copy.CopyStats = { manifests: 0, copied: 0, bytes: 0, mounted: 0, present: 0 };

export function addStats(a: copy.CopyStats, b: copy.CopyStats): copy.CopyStats {
    return {
        manifests: a.manifests + b.manifests,
        copied: a.copied + b.copied,
        bytes: a.bytes + b.bytes,
        mounted: a.mounted + b.mounted,
        present: a.present + b.present,
    };
}

/** An image named by digest (`registry/repository[:tag]@sha256:...`) and the client that reaches its registry. */
export function endpointOf(
    ref: string,
    client: (host: string) => registry.Registry,
): { ref: registry.ImageRef; from: copy.Endpoint } {
    const r = registry.parseRef(ref);
    return { ref: r, from: { client: client(r.registry), repository: r.repository } };
}

/**
 * What copying `source` into `target` would do, as one line for preview (HEADs only, nothing
 * written). "auto" is probed at up (the probe writes an empty index), so both ways are said.
 */
export async function planLine(source: copy.SourceImage, target: Target, manifest: ManifestMode): Promise<string> {
    const to = { client: target.client, repository: target.repository };
    const plan = async (mode: Mode) => copy.planCopy(source, target, mode, await copy.probeTarget(source, to, mode));
    if (manifest !== "auto") return copy.describe(await plan(manifest));
    const perArch = copy.planStats(await plan("per-arch-tags"));
    return (
        `${copy.describe(await plan("index"))}; or, where it keeps no lists (auto probes at up), per-arch tags: ` +
        `${perArch.manifests} manifests, ${perArch.copied} blobs to copy (${copy.formatBytes(perArch.bytes)})`
    );
}

/** Copies `source` into `target` in `mode`: what it lacks, mounted or streamed; says what it did. */
export async function copyInto(
    source: copy.SourceImage,
    from: copy.Endpoint,
    target: Target,
    mode: Mode,
): Promise<copy.CopyStats> {
    const to = { client: target.client, repository: target.repository };
    const plan = copy.planCopy(source, target, mode, await copy.probeTarget(source, to, mode));
    const started = Date.now();
    const stats = await copy.runCopy(source, from, to, plan, { log: (l) => console.log(l) });
    console.log(`${copy.describe(plan, stats, "copied")} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return stats;
}

/** Images in a repository, read as streams for verification (core/verify.ts). */
export function registrySource(at: { client: registry.Registry; repository: string }): verify.BlobSource {
    return {
        manifest: async (digest) => {
            const m = await at.client.getManifest(at.repository, digest);
            if (!m) throw new Error(`manifest ${digest} is not in ${at.client.registry}/${at.repository}`);
            return m.body;
        },
        blob: (digest) => at.client.openBlob(at.repository, digest),
    };
}

/** A known value: not the engine's placeholder for one that is unknown at preview. */
export function known(v: unknown, unknown: string): boolean {
    return v !== undefined && !JSON.stringify(v).includes(unknown);
}
