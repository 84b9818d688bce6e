// Lifecycle of a promotion, served by the plugin as multiarch:index:ImageCopy: an image copied
// by digest from where it was built and verified to tags in other repositories and registries,
// as state. Preview says what the copy will move (read from the source, HEADs at each target);
// up copies only what a target lacks (mounted within a registry, streamed across registries),
// then moves every tag, all or none; the digest at the targets is the source's (per-arch tags
// where a registry keeps no lists, decided as the image decides). Refresh sees a tag moved or
// gone; a no-op up asks no registry anything. Only an image whose verification record covers
// it is promoted, unless requireVerification is false; the record travels with it.
import type { ImageCopyInputs, ImageCopyOutputs } from "../../contract/types";
import * as copy from "../../core/copy";
import * as exec from "../../core/exec";
import * as registry from "../../core/registry";
import * as records from "../../core/verificationRecord";
import type { CheckFailure, Lifecycle } from "../lifecycle";
import { UNKNOWN } from "../wire";
import { addStats, copyInto, endpointOf, known, NO_STATS, planLine } from "./copying";
import { expectedTags, movesFor, moveTags, type RawManifest, tagDrift } from "./tagMoves";
import { clientFor, decideModes, type TargetInputs, targetsOf } from "./targets";

/** Inputs whose change copies again. */
const COPY: (keyof ImageCopyInputs)[] = ["source", "tags", "manifest", "requireVerification"];
/** Inputs that change only the state. */
const STATE: (keyof ImageCopyInputs)[] = ["registries", "deleteOnDestroy"];

const differ = (a: unknown, b: unknown) => JSON.stringify(a ?? null) !== JSON.stringify(b ?? null);
const changed = (olds: Partial<ImageCopyInputs>, news: ImageCopyInputs, keys: (keyof ImageCopyInputs)[]) =>
    keys.filter((k) => differ(olds[k], news[k]));

/** What reaching the registries takes from the inputs: the tags and the `registries` logins (a promotion has no builder). */
const reach = (i: ImageCopyInputs): TargetInputs => ({
    tags: i.tags,
    ...(i.registries ? { registries: i.registries } : {}),
});

function sourceEndpoint(inputs: ImageCopyInputs, timeoutMs?: number) {
    return endpointOf(inputs.source, (host) => clientFor(reach(inputs), host, timeoutMs));
}

/**
 * The source's verification record, if one covers it; with requireVerification, its absence
 * is the problem to report (why, and the two ways on).
 */
async function verificationOf(
    inputs: ImageCopyInputs,
    source: copy.SourceImage,
    from: copy.Endpoint,
): Promise<{ record?: { digest: string; record: records.VerificationRecord }; problem?: string }> {
    const found = await records.findRecords(from, source.digest);
    const valid = found.find((f) => !records.recordProblem(f.record, source.digest, source.platforms));
    if (valid || !inputs.requireVerification) return { record: valid };
    const why = found.length
        ? `its verification record does not cover it (${records.recordProblem(found[0].record, source.digest, source.platforms)})`
        : "it carries no verification record (built with verify: false, its verification failed, it was pushed by another tool, or its registry lost the record)";
    return {
        problem:
            `${inputs.source} was never verified: ${why}. Promote what a MultiArchImage built and verified (its ref output), ` +
            "or set requireVerification: false to promote it anyway",
    };
}

/** Reads the source, or says why it cannot be promoted. */
async function readVerifiedSource(inputs: ImageCopyInputs, timeoutMs?: number) {
    const { ref, from } = sourceEndpoint(inputs, timeoutMs);
    const source = await copy.readSource(from, ref.digest!, { referrers: true });
    return { from, source, ...(await verificationOf(inputs, source, from)) };
}

/** At preview: the source exists and is verified, and what each target would get (one line each, shown by preview). */
async function previewCopy(inputs: ImageCopyInputs): Promise<{ plan: string[]; failures: CheckFailure[] }> {
    let read;
    try {
        read = await readVerifiedSource(inputs, 10_000);
    } catch (e) {
        return { plan: [], failures: [{ property: "source", reason: `preview: ${(e as Error).message}` }] };
    }
    if (read.problem) return { plan: [], failures: [{ property: "source", reason: read.problem }] };
    const plan: string[] = [],
        failures: CheckFailure[] = [];
    for (const target of targetsOf(reach(inputs))) {
        try {
            plan.push(await planLine(read.source, target, inputs.manifest));
        } catch (e) {
            failures.push({ property: "tags", reason: `preview: ${target.repo}: ${(e as Error).message}` });
        }
    }
    return { plan, failures };
}

/** Copies the source to every target, then moves every tag (all or none). */
async function promote(inputs: ImageCopyInputs, olds?: ImageCopyOutputs): Promise<ImageCopyOutputs> {
    const started = Date.now();
    const { from, source, record, problem } = await readVerifiedSource(inputs);
    if (problem) throw new Error(problem);
    const targets = targetsOf(reach(inputs));
    const platforms = Object.keys(source.platforms);
    const modes = await decideModes(inputs.manifest, targets, platforms, { push: true, olds });
    let copied = NO_STATS;
    for (const target of targets)
        copied = addStats(copied, await copyInto(source, from, target, modes[target.registry]));
    const byDigest = new Map(source.manifests.map((m) => [m.digest, m]));
    const raw = (digest: string): RawManifest => {
        const m = byDigest.get(digest)!;
        return { raw: m.raw, mediaType: m.mediaType, digest };
    };
    const { moves, pushedTags, index } = await movesFor(
        targets,
        modes,
        platforms,
        async () => raw(source.digest),
        async (_t, p) => raw(source.platforms[p]),
    );
    exec.throwIfStopped(); // cancelled while copying: no tag moves
    await moveTags(moves);
    const digest = index?.digest ?? "";
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
        `promoted ${inputs.source} to ${pushedTags.join(", ")} in ${secs}s (${copy.formatBytes(copied.bytes)} copied, ${copied.mounted} blobs mounted, ${copied.present} already there)`,
    );
    const keptIndex = Object.values(modes).includes("index");
    return {
        ...inputs,
        digest,
        platformDigests: source.platforms,
        ref: `${targets[0].repo}@${digest || source.platforms[platforms[0]]}`,
        pushedTags,
        manifestModes: modes,
        verification: Object.fromEntries(Object.entries(record?.record.platforms ?? {}).map(([p, r]) => [p, r.result])),
        verificationRecord: record && keptIndex ? record.digest : "",
        copied,
        drift: [],
    };
}

export const promotionProvider: Lifecycle = {
    // At preview, when this run would copy: the source exists and its verification record covers
    // it, each target answers, and what each would get is said (the `plan` input, and a line in
    // the preview's output). An unchanged promotion asks no registry anything.
    async check(olds: Partial<ImageCopyInputs>, news: ImageCopyInputs) {
        if (!known(news.source, UNKNOWN) || !known(news.tags, UNKNOWN) || !known(news.registries ?? [], UNKNOWN))
            return { inputs: news };
        const fresh = !olds || Object.keys(olds).length === 0;
        if (!fresh && changed(olds, news, COPY).length === 0) return { inputs: { ...news, plan: olds.plan ?? [] } };
        const { plan, failures } = await previewCopy(news);
        for (const line of plan) console.log(`will copy ${line}`);
        return { inputs: { ...news, plan }, failures };
    },

    async create(inputs: ImageCopyInputs) {
        return { id: `${registry.repoOf(inputs.tags[0])}<-${inputs.source}`, outs: await promote(inputs) };
    },

    async diff(_id: string, olds: ImageCopyOutputs, news: ImageCopyInputs) {
        const keys = [...changed(olds, news, COPY), ...changed(olds, news, STATE)];
        return { changes: keys.length > 0 || !!olds.drift?.length, replaces: [], deleteBeforeReplace: false };
    },

    async update(_id: string, olds: ImageCopyOutputs, news: ImageCopyInputs) {
        if (!changed(olds, news, COPY).length && !olds.drift?.length) return { outs: { ...olds, ...news } };
        if (olds.drift?.length) console.log(`putting back what refresh found: ${olds.drift.join("; ")}`);
        return { outs: await promote(news, olds) };
    },

    async read(id: string, props: ImageCopyOutputs) {
        const platforms = Object.keys(props.platformDigests ?? {});
        const drift = await tagDrift(targetsOf(reach(props)), (t) =>
            expectedTags(
                t,
                props.manifestModes?.[t.registry] ?? "index",
                props.digest,
                props.platformDigests,
                platforms,
            ),
        );
        return { id, props: { ...props, drift } };
    },

    // The copies are kept unless deleteOnDestroy: other deployments may run them. The source's
    // own repository is never touched.
    async delete(_id: string, props: ImageCopyOutputs) {
        if (!props.deleteOnDestroy) return;
        const src = registry.repoOf(props.source);
        for (const t of targetsOf(reach(props))) {
            if (t.repo === src) {
                console.log(`warning: ${t.repo} is the source's repository: nothing deleted there`);
                continue;
            }
            const index = props.manifestModes?.[t.registry] === "index" && props.digest;
            if (index && props.verificationRecord)
                await records.detachRecord(
                    { client: t.client, repository: t.repository },
                    props.digest,
                    props.verificationRecord,
                );
            const digests = [...(index ? [props.digest] : []), ...Object.values(props.platformDigests ?? {})];
            for (const d of digests) await t.client.deleteManifest(t.repository, d);
        }
    },
};
