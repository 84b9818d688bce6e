// Lifecycle of an index assembled from images pushed elsewhere (by other resources, stacks,
// machines or CI jobs: one per platform, by digest), served by the plugin as
// multiarch:index:IndexManifest for the Index component (docker-build's Index). Each child's
// platform is checked against its image config and, with verify, the child is verified as a
// MultiArchImage's platforms are; only then are the children brought into the tag's repository
// (mounted or streamed), the index put by digest with its verification record, and the tag
// moved to it; per-arch tags instead where the registry keeps no lists. Preview says what it
// will copy, refresh sees the tag moved, a no-op up asks no registry anything.
import type { IndexManifestInputs, IndexManifestOutputs } from "../../contract/types";
import * as copy from "../../core/copy";
import * as exec from "../../core/exec";
import * as platformlib from "../../core/platform";
import * as registry from "../../core/registry";
import { detachRecord } from "../../core/verificationRecord";
import * as verify from "../../core/verify";
import type { CheckFailure, Lifecycle } from "../lifecycle";
import { UNKNOWN } from "../wire";
import { addStats, copyInto, endpointOf, known, NO_STATS, planLine, registrySource } from "./copying";
import { attachRecords, recordOf } from "./records";
import { expectedTags, movesFor, moveTags, type RawManifest, tagDrift } from "./tagMoves";
import { clientFor, decideModes, type Target, type TargetInputs, targetsOf } from "./targets";

/** Inputs whose change assembles again. */
const ASSEMBLE: (keyof IndexManifestInputs)[] = ["tag", "sources", "push", "manifest", "verify"];
/** Inputs that change only the state. */
const STATE: (keyof IndexManifestInputs)[] = ["registryAuth", "deleteOnDestroy"];

const differ = (a: unknown, b: unknown) => JSON.stringify(a ?? null) !== JSON.stringify(b ?? null);
const changed = (olds: Partial<IndexManifestInputs>, news: IndexManifestInputs, keys: (keyof IndexManifestInputs)[]) =>
    keys.filter((k) => differ(olds[k], news[k]));

const tagInputs = (inputs: IndexManifestInputs): TargetInputs => ({
    tags: [inputs.tag],
    ...(inputs.registryAuth ? { registryAuth: inputs.registryAuth } : {}),
});

/** One platform's image, from one of the sources. */
interface Child {
    /** Which of `sources` it came from. */
    source: number;
    platform: string;
    manifest: copy.SourceManifest;
    image: copy.SourceImage;
    from: copy.Endpoint;
}

/** Every source read, each platform once; a missing source, a platform given twice, or none at all is an error naming the source. */
async function readChildren(
    inputs: IndexManifestInputs,
    timeoutMs?: number,
): Promise<{ images: { image: copy.SourceImage; from: copy.Endpoint }[]; children: Child[] }> {
    const images = await Promise.all(
        inputs.sources.map(async (s, i) => {
            try {
                const { ref, from } = endpointOf(s, (host) => clientFor(tagInputs(inputs), host, timeoutMs));
                return { image: await copy.readSource(from, ref.digest!, { referrers: false }), from };
            } catch (e) {
                throw new Error(`sources[${i}]: ${(e as Error).message}`);
            }
        }),
    );
    const children: Child[] = [];
    images.forEach(({ image, from }, i) => {
        for (const [platform, digest] of Object.entries(image.platforms)) {
            const twice = children.find((c) => c.platform === platform);
            if (twice)
                throw new Error(
                    `sources[${twice.source}] and sources[${i}] both hold ${platform}: give one image per platform`,
                );
            children.push({
                source: i,
                platform,
                manifest: image.manifests.find((m) => m.digest === digest)!,
                image,
                from,
            });
        }
    });
    if (!children.length) throw new Error("the sources hold no platform image (only attestations or artifacts)");
    return { images, children };
}

/** Each child's platform, as the index will say it, against its image config's os/architecture/variant. */
async function platformProblems(children: Child[]): Promise<CheckFailure[]> {
    const failures: CheckFailure[] = [];
    for (const c of children) {
        const config = await copy.readConfig(c.from, c.manifest.body);
        const said = [config.os, config.architecture, config.variant].filter(Boolean).join("/");
        let same = false;
        try {
            same = platformlib.normalizePlatform(said) === platformlib.normalizePlatform(c.platform);
        } catch {
            /* an unknown platform is a mismatch */
        }
        if (!same) {
            failures.push({
                property: `sources[${c.source}]`,
                reason: `${c.manifest.digest} is listed as ${c.platform}, but its image config says ${said || "no platform"}: give the image built for ${c.platform}`,
            });
        }
    }
    return failures;
}

/** Every child verified where it is (before anything is copied or tagged): config, added binaries, the program it runs. */
async function verifyChildren(children: Child[]): Promise<Record<string, verify.PlatformCheck>> {
    const out: Record<string, verify.PlatformCheck> = {};
    for (const c of children) {
        const verifier = new verify.Verifier(registrySource(c.from));
        try {
            // Which layers the child's own build added is not known here: every layer is checked.
            out[c.platform] = await verifier.check(c.manifest.digest, c.platform, undefined);
        } finally {
            verifier.close();
        }
    }
    return out;
}

const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

/**
 * The index over the children, in the order of `sources`: a Docker manifest list when every
 * child is a Docker manifest, an OCI index otherwise (as docker-build's Index decides), with the
 * attestation manifests a source index held for the children it gives.
 */
export function assembleIndex(children: Child[]): RawManifest {
    const docker = children.every((c) => c.manifest.mediaType === DOCKER_MANIFEST);
    const mediaType = docker ? registry.INDEX_MEDIA_TYPES[1] : registry.INDEX_MEDIA_TYPES[0];
    const platformOf = (p: string) => {
        const { os, architecture, variant } = platformlib.parsePlatform(p);
        return { architecture, os, ...(variant ? { variant } : {}) };
    };
    const entries: copy.Descriptor[] = children.map((c) => ({
        mediaType: c.manifest.mediaType,
        digest: c.manifest.digest,
        size: c.manifest.raw.length,
        platform: platformOf(c.platform),
    }));
    if (!docker) {
        const given = new Set(children.map((c) => c.manifest.digest));
        for (const image of new Set(children.map((c) => c.image))) {
            for (const d of (image.root.role === "index" ? image.root.body.manifests : []) as copy.Descriptor[]) {
                if (
                    d.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" &&
                    given.has(d.annotations["vnd.docker.reference.digest"])
                )
                    entries.push(d);
            }
        }
    }
    const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: entries }));
    return { raw, mediaType, digest: copy.sha256(raw) };
}

/** Verifies, copies the children into the tag's repository, puts the index and moves the tag. */
async function assembleAndPush(
    inputs: IndexManifestInputs,
    olds?: IndexManifestOutputs,
): Promise<IndexManifestOutputs> {
    const started = Date.now();
    const { images, children } = await readChildren(inputs);
    const problems = await platformProblems(children);
    if (problems.length) throw new Error(problems.map((f) => `${f.property}: ${f.reason}`).join(" | "));
    const verification: Record<string, string> = {};
    if (inputs.verify) {
        const checks = await verifyChildren(children);
        for (const [p, c] of Object.entries(checks)) verification[p] = verify.describe(c);
        const bad = Object.values(checks).filter((c) => c.problem);
        if (bad.length)
            throw new Error(`verification failed, no tag was moved: ${bad.map((c) => c.problem).join(" | ")}`);
    }
    const index = assembleIndex(children);
    const platforms = children.map((c) => c.platform);
    const platformDigests = Object.fromEntries(children.map((c) => [c.platform, c.manifest.digest]));
    const base = { ...inputs, platformDigests, verification, drift: [] };
    if (!inputs.push) {
        console.log(`assembled ${platforms.join(",")} -> ${index.digest} (not pushed)`);
        return {
            ...base,
            digest: index.digest,
            ref: inputs.tag,
            pushedTags: [],
            manifestMode: "index",
            verificationRecord: "",
            copied: NO_STATS,
        };
    }
    const [target] = targetsOf(tagInputs(inputs));
    const memory = olds && { manifest: olds.manifest, manifestModes: { [target.registry]: olds.manifestMode } };
    const modes = await decideModes(inputs.manifest, [target], platforms, { push: true, olds: memory });
    const mode = modes[target.registry];
    let copied = NO_STATS;
    for (const { image, from } of images) copied = addStats(copied, await copyInto(image, from, target, mode));
    let record = "";
    if (mode === "index") {
        await target.client.putManifest(target.repository, index.digest, index.raw, index.mediaType, "copy");
        if (inputs.verify)
            record = await attachRecords([target], modes, index, recordOf(index.digest, platformDigests, verification));
    }
    const raw = (c: Child): RawManifest => ({
        raw: c.manifest.raw,
        mediaType: c.manifest.mediaType,
        digest: c.manifest.digest,
    });
    const { moves, pushedTags } = await movesFor(
        [target],
        modes,
        platforms,
        async () => index,
        async (_t, p) => raw(children.find((c) => c.platform === p)!),
    );
    exec.throwIfStopped(); // cancelled while copying: no tag moves
    await moveTags(moves);
    const digest = mode === "index" ? index.digest : "";
    console.log(
        `assembled ${platforms.join(",")} -> ${digest || Object.values(platformDigests).join(",")} (${mode}) at ${inputs.tag} in ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
    return {
        ...base,
        digest,
        ref: digest ? `${inputs.tag}@${digest}` : `${target.repo}@${children[0].manifest.digest}`,
        pushedTags,
        manifestMode: mode,
        verificationRecord: record,
        copied,
    };
}

/** At preview: every source exists, one per platform, each as its config says; what the tag's repository would get. */
async function previewIndex(inputs: IndexManifestInputs): Promise<{ plan: string[]; failures: CheckFailure[] }> {
    let read;
    try {
        read = await readChildren(inputs, 10_000);
    } catch (e) {
        const m = /^(sources\[\d+\]): ([\s\S]*)$/.exec((e as Error).message);
        return {
            plan: [],
            failures: [{ property: m?.[1] ?? "sources", reason: `preview: ${m?.[2] ?? (e as Error).message}` }],
        };
    }
    const failures = await platformProblems(read.children);
    if (failures.length || !inputs.push) return { plan: [], failures };
    const plan: string[] = [];
    let target: Target;
    try {
        [target] = targetsOf(tagInputs(inputs));
    } catch (e) {
        return { plan, failures: [{ property: "tag", reason: (e as Error).message }] };
    }
    for (const [i, { image }] of read.images.entries()) {
        try {
            plan.push(
                `sources[${i}] (${Object.keys(image.platforms).join(", ")}) into ${await planLine(image, target, inputs.manifest)}`,
            );
        } catch (e) {
            failures.push({ property: "tag", reason: `preview: ${target.repo}: ${(e as Error).message}` });
        }
    }
    return { plan, failures };
}

export const indexProvider: Lifecycle = {
    // At preview, when this run would assemble: the sources exist, one per platform, each as its
    // config says, and what the tag's repository would get. An unchanged index asks nothing.
    async check(olds: Partial<IndexManifestInputs>, news: IndexManifestInputs) {
        if (!known(news.tag, UNKNOWN) || !known(news.sources, UNKNOWN) || !known(news.registryAuth ?? {}, UNKNOWN))
            return { inputs: news };
        const fresh = !olds || Object.keys(olds).length === 0;
        if (!fresh && changed(olds, news, ASSEMBLE).length === 0) return { inputs: { ...news, plan: olds.plan ?? [] } };
        const { plan, failures } = await previewIndex(news);
        for (const line of plan) console.log(`will copy ${line}`);
        return { inputs: { ...news, plan }, failures };
    },

    async create(inputs: IndexManifestInputs) {
        return { id: inputs.tag, outs: await assembleAndPush(inputs) };
    },

    async diff(_id: string, olds: IndexManifestOutputs, news: IndexManifestInputs) {
        const keys = [...changed(olds, news, ASSEMBLE), ...changed(olds, news, STATE)];
        return { changes: keys.length > 0 || !!olds.drift?.length, replaces: [], deleteBeforeReplace: false };
    },

    async update(_id: string, olds: IndexManifestOutputs, news: IndexManifestInputs) {
        if (!changed(olds, news, ASSEMBLE).length && !olds.drift?.length) return { outs: { ...olds, ...news } };
        if (olds.drift?.length) console.log(`putting back what refresh found: ${olds.drift.join("; ")}`);
        return { outs: await assembleAndPush(news, olds) };
    },

    async read(id: string, props: IndexManifestOutputs) {
        if (!props.push) return { id, props };
        const platforms = Object.keys(props.platformDigests ?? {});
        const drift = await tagDrift(targetsOf(tagInputs(props)), (t) =>
            expectedTags(t, props.manifestMode, props.digest, props.platformDigests, platforms),
        );
        return { id, props: { ...props, drift } };
    },

    // The index is kept unless deleteOnDestroy; the children belong to the sources and stay.
    async delete(_id: string, props: IndexManifestOutputs) {
        if (!props.deleteOnDestroy || !props.push || !props.digest) return;
        const [target] = targetsOf(tagInputs(props));
        const at = { client: target.client, repository: target.repository };
        if (props.verificationRecord) await detachRecord(at, props.digest, props.verificationRecord);
        await target.client.deleteManifest(target.repository, props.digest);
    },
};
