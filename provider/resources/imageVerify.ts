// The image's verification job, between the build and any tag move: every platform the build
// pushed is checked (core/verify.ts: its config, the ELF files the build added, the program it
// runs) in the first repository, and every other repository must hold the same manifests and
// blobs. A failure throws before a tag moves; what each platform showed goes to the outputs.
import * as fs from "fs";

import type { ImageInputs } from "../../contract/types";
import * as baseImage from "../../core/baseImage";
import * as buildContexts from "../../core/buildContexts";
import type * as registry from "../../core/registry";
import * as verifyLib from "../../core/verify";
import { registrySource } from "./copying";
import type { Built } from "./imageBuild";
import type { Target } from "./targets";

/** platform -> how many layers of its image come from the final stage's base (undefined: unknown). */
export type Bases = Record<string, Promise<number | undefined>>;

/**
 * The final stage's base per platform, looked up while the build runs (it needs no build):
 * only what verification will use. `clientOf` reaches the base's registry.
 */
export function lookUpBases(inputs: ImageInputs, clientOf: (host: string) => registry.Registry): Bases {
    if (!inputs.push || !inputs.verify) return {};
    return Object.fromEntries(inputs.platforms.map((p) => [p, baseLayers(inputs, p, clientOf)]));
}

/**
 * Verifies every platform of `built`, in every target: platform -> what verification found.
 * Throws, naming each problem, when a platform fails or the push holds other platforms than
 * were asked: no tag may move then. Nothing is checked without push and verify.
 */
export async function verify(
    inputs: ImageInputs,
    targets: Target[],
    built: Built,
    bases: Bases,
    clientOf: (host: string) => registry.Registry,
): Promise<Record<string, string>> {
    const verification: Record<string, string> = {};
    if (!inputs.push || !inputs.verify) return verification;
    const checks = await verifyPlatforms(inputs, targets, built.manifests, bases, clientOf);
    const bad = checks.filter((c) => c.problem);
    for (const c of checks) verification[c.platform] = verifyLib.describe(c);
    if (bad.length) throw new Error(`verification failed, no tag was moved: ${bad.map((c) => c.problem).join(" | ")}`);
    if (Object.keys(built.manifests).sort().join() !== [...inputs.platforms].sort().join()) {
        throw new Error(
            `the push holds ${Object.keys(built.manifests).join(", ") || "no platforms"}, but ${inputs.platforms.join(", ")} were requested; no tag was moved`,
        );
    }
    return verification;
}

/** How many layers of `platform`'s image come from the final stage's base; undefined when unknown. */
async function baseLayers(
    inputs: ImageInputs,
    platform: string,
    clientOf: (host: string) => registry.Registry,
): Promise<number | undefined> {
    try {
        if (buildContexts.dockerfileInRepository(inputs)) return undefined;
        const text = inputs.dockerfileInline ?? fs.readFileSync(inputs.dockerfile!, "utf8");
        let ref = baseImage.finalStageBase(text, inputs.buildArgs, inputs.target, platform);
        if (ref === undefined) return undefined;
        // A named context of that name replaces the image: an image one is followed, others are unknown here.
        const named = inputs.namedContexts?.[ref] ?? inputs.namedContexts?.[ref.replace(/:latest$/, "")];
        if (named !== undefined) {
            if (!named.startsWith("docker-image://")) return undefined;
            ref = named.slice("docker-image://".length);
        }
        // The client of the base's registry carries the resource's login for it, if it has one.
        return await baseImage.baseLayerCount(ref, platform, clientOf);
    } catch {
        return undefined;
    }
}

/**
 * Every platform verified: read in full from the first target (each shared blob once); every
 * other target must hold the same manifests and every blob they name (the content is the same
 * by digest, so what remains to check there is that the push landed whole).
 */
async function verifyPlatforms(
    inputs: ImageInputs,
    targets: Target[],
    manifests: Record<string, string>,
    bases: Bases,
    clientOf: (host: string) => registry.Registry,
): Promise<verifyLib.PlatformCheck[]> {
    const verifier = new verifyLib.Verifier(registrySource(targets[0]));
    let checks: verifyLib.PlatformCheck[];
    try {
        checks = await Promise.all(
            inputs.platforms.map(async (p) =>
                verifier.check(manifests[p], p, await (bases[p] ?? baseLayers(inputs, p, clientOf))),
            ),
        );
    } finally {
        verifier.close();
    }
    for (const t of targets.slice(1)) {
        for (const c of checks.filter((x) => !x.problem)) {
            const m = await t.client.getManifest(t.repository, manifests[c.platform]);
            const body = m?.body as { config: { digest: string }; layers?: { digest: string }[] } | undefined;
            const missing = !body
                ? [`manifest ${manifests[c.platform]}`]
                : (
                      await Promise.all(
                          [body.config, ...(body.layers ?? [])].map(async (d) =>
                              (await t.client.hasBlob(t.repository, d.digest)) ? undefined : `blob ${d.digest}`,
                          ),
                      )
                  ).filter((x): x is string => !!x);
            if (missing.length)
                c.problem = `${c.platform}: ${t.repo} lacks ${missing.join(", ")} after the push: push again (\`pulumi up\`), or check that registry's storage`;
        }
    }
    return checks;
}
