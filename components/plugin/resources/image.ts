// Lifecycle of a multi-platform image in a registry, served by the plugin as
// multiarch:index:Image: the rebuild decision is ours (a content digest of the context, not
// timestamps), every platform is verified before any tag moves, and `read` sees a tag that
// moved out of band.
//
// Every build pushes by digest only (no tag). The tags then move, through the registry
// API, to the verified index (manifest "index") or to each verified platform manifest
// (`<tag>-<arch>`, manifest "per-arch-tags"), so a failed build, push or verification
// never leaves a tag on a partial or wrong image.
import crypto = require("crypto");
import fs = require("fs");
import baseImage = require("../../core/baseImage");
import buildx = require("../../core/buildx");
import exec = require("../../core/exec");
import { sameAsLegacyRecord } from "../../core/context";
import registry = require("../../core/registry");
import verify = require("../../core/verify");
import type { ImageInputs, ImageOutputs } from "../../contract/types";
import type { Lifecycle } from "../lifecycle";

/** Inputs that change what is built or where it goes: any change rebuilds. */
const REBUILD: (keyof ImageInputs)[] = [
    "contextDigest", "dockerfile", "platforms", "tags", "push", "builder", "manifest", "buildArgs", "target",
    "labels", "annotations", "secretsRevision", "ssh", "cacheFrom", "cacheTo", "cacheRepository", "noCache", "pull",
    "provenance", "sbom", "triggers", "verify",
];

/** `v` as JSON with object keys sorted, so that two maps given in another order compare equal. */
function canonical(v: unknown): string {
    return JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
}

/**
 * Outputs of this plugin before issue 22 held the build secrets' values (so `pulumi up
 * --debug` printed them with the engine's answer): they are compared as they are, and the
 * next update rewrites the state without them.
 */
type LegacyOutputs = ImageOutputs & { secrets?: Record<string, string> };

const holdsSecretValues = (olds: LegacyOutputs) => Object.keys(olds.secrets ?? {}).length > 0;

function changedKeys(olds: LegacyOutputs | ImageInputs, news: ImageInputs): string[] {
    const legacy = "secrets" in olds && !("secretsRevision" in olds);
    const before = (k: keyof ImageInputs) => (k === "secretsRevision" ? (legacy ? canonical(olds.secrets) : olds.secretsRevision ?? 0) : olds[k]);
    const after = (k: keyof ImageInputs) => (k === "secretsRevision" ? (legacy ? canonical(news.secrets) : news.secretsRevision ?? 0) : news[k]);
    return REBUILD.filter((k) => JSON.stringify(before(k) ?? null) !== JSON.stringify(after(k) ?? null))
        // A 0.1.0 state records the same context in its older format: not a change.
        .filter((k) => k !== "contextDigest" || !sameAsLegacyRecord(olds.contextFiles, news.contextFiles))
        .map((k) => (k === "secretsRevision" ? "secrets" : k));
}

/**
 * Build secrets are compared here, where the old inputs (which keep them, encrypted) are at
 * hand: outputs keep only how often they changed, never their values.
 */
function secretsRevision(olds: Partial<ImageInputs> | undefined, news: ImageInputs): number {
    if (!olds || Object.keys(olds).length === 0) return 0;
    const revision = olds.secretsRevision ?? 0;
    return canonical(olds.secrets ?? {}) === canonical(news.secrets ?? {}) ? revision : revision + 1;
}

/** What the state keeps of a build: the inputs without the secrets' values, and what was built. */
function outputsOf(inputs: ImageInputs, built: Omit<ImageOutputs, keyof Omit<ImageInputs, "secrets">>): ImageOutputs {
    const { secrets: _values, ...kept } = inputs as ImageInputs & { secrets?: unknown };
    return { ...kept, ...built };
}

/** The tag an `index` image was pushed to points elsewhere (seen by refresh): it is pushed again. */
const tagMovedAway = (olds: ImageOutputs, news: ImageInputs) =>
    olds.push && news.push && olds.digest === "" && olds.manifestMode === "index";

/** `<tag>-amd64`, `<tag>-arm64`, `<tag>-armv7`. */
export function perArchTag(tag: string, platform: string): string {
    const [, arch, variant] = platform.split("/");
    return `${tag}-${arch}${variant ?? ""}`;
}

/** Requested platforms the builder cannot build, as failures naming them and its nodes. */
function unbuildable(inputs: ImageInputs): { property: string; reason: string }[] {
    if (!Array.isArray(inputs.builderPlatforms) || !Array.isArray(inputs.platforms)) return [];
    return inputs.platforms.filter((p) => !inputs.builderPlatforms!.includes(p)).map((p) => ({
        property: "platforms",
        reason: `builder ${inputs.builder} cannot build ${p}: its nodes build ${inputs.builderPlatforms!.join(", ")}; give the builder a BinfmtSetup for ${p} or a node that runs it natively`,
    }));
}

/**
 * At preview: the registry of the tags answers as a registry (a real /v2/ answer) and accepts
 * the login the push would use (registry args, else the docker config's). One request per
 * step, no retries.
 */
async function registryProblems(inputs: ImageInputs): Promise<{ property: string; reason: string }[]> {
    if (inputs.push !== true || !Array.isArray(inputs.tags) || typeof inputs.tags[0] !== "string") return [];
    const auth = inputs.registryAuth;
    if (auth !== undefined && (typeof auth !== "object" || typeof auth.username !== "string" || typeof auth.password !== "string")) return []; // unknown at preview
    if (typeof inputs.builder !== "string") return [];
    let ref: registry.ImageRef;
    try { ref = registry.parseRef(inputs.tags[0]); } catch { return []; }
    try {
        await new registry.Registry(ref.registry, { credentials: auth, builder: inputs.builder, builderConfig: inputs.builderConfig, timeoutMs: 10_000 })
            .ping(ref.repository);
        return [];
    } catch (e) {
        const msg = (e as Error).message;
        if (/refused (the login|an anonymous)/.test(msg)) return [{ property: auth ? "registry" : "tags", reason: `preview ping: ${msg}` }];
        if (/docker-credential-|is not valid JSON/.test(msg)) return [{ property: "tags", reason: `preview ping: ${msg}` }];
        const cause = msg.replace(/: is the registry running and reachable\?$/, "");
        return [{
            property: "tags",
            reason: `preview ping: the registry ${ref.registry} does not answer as a registry (${cause}): start it, or fix the registry in tags`,
        }];
    }
}

interface Built {
    /** platform -> manifest digest */
    manifests: Record<string, string>;
    /** the index buildx pushed, when it pushed one */
    index?: { digest: string; raw: Buffer; mediaType: string };
}

/** The client for the tags' registry, reached through the builder's registry settings. */
function reg(inputs: Pick<ImageInputs, "tags" | "registryAuth" | "builder" | "builderConfig">): { r: registry.Registry; repository: string; repo: string } {
    const ref = registry.parseRef(inputs.tags[0]);
    const r = new registry.Registry(ref.registry, { credentials: inputs.registryAuth, builder: inputs.builder, builderConfig: inputs.builderConfig });
    return { r, repository: ref.repository, repo: `${ref.registry}/${ref.repository}` };
}

/** Can this registry keep an index? Pushes an empty one by digest (no tag). */
async function acceptsIndex(inputs: ImageInputs): Promise<boolean> {
    const { r, repository } = reg(inputs);
    const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: registry.INDEX_MEDIA_TYPES[0], manifests: [] }));
    const digest = `sha256:${crypto.createHash("sha256").update(raw).digest("hex")}`;
    try {
        await r.putManifest(repository, digest, raw, registry.INDEX_MEDIA_TYPES[0], "index probe");
        return true;
    } catch (e) {
        if (/refused application\/vnd/.test((e as Error).message)) return false;
        throw e;
    }
}

function buildOptions(inputs: ImageInputs, platforms: string[], log: (l: string) => void): buildx.BuildOptions {
    const { repo } = reg(inputs);
    const arch = platforms.length === 1 ? platforms[0].split("/").slice(1).join("") : "";
    const perPlatformCache = inputs.cacheRepository && arch ? {
        cacheFrom: [...inputs.cacheFrom, `type=registry,ref=${inputs.cacheRepository}:${arch}`],
        cacheTo: [...inputs.cacheTo, `type=registry,ref=${inputs.cacheRepository}:${arch},mode=max`],
    } : { cacheFrom: inputs.cacheFrom, cacheTo: inputs.cacheTo };
    return {
        builder: inputs.builder, context: inputs.context, dockerfile: inputs.dockerfile, platforms,
        pushRepository: inputs.push ? repo : undefined,
        buildArgs: inputs.buildArgs, target: inputs.target, labels: inputs.labels, annotations: inputs.annotations,
        secrets: inputs.secrets, ssh: inputs.ssh, ...perPlatformCache,
        noCache: inputs.noCache, pull: inputs.pull, provenance: inputs.provenance, sbom: inputs.sbom,
        ...(inputs.registryAuth ? { auth: { registry: registry.parseRef(inputs.tags[0]).registry, ...inputs.registryAuth } } : {}),
        onLine: log,
    };
}

/** Builds and pushes by digest: one invocation for an index, or one per platform (in parallel). */
async function buildByDigest(inputs: ImageInputs, perPlatform: boolean, log: (l: string) => void): Promise<Built> {
    const { r, repository } = reg(inputs);
    if (!perPlatform) {
        const meta = await buildx.build(buildOptions(inputs, inputs.platforms, log));
        if (!inputs.push) return { manifests: {} };
        if (!meta.digest) throw new Error(`buildx reported no digest for ${inputs.tags[0]}`);
        const index = await r.getManifest(repository, meta.digest);
        if (!index) throw new Error(`${repository}@${meta.digest} is not in the registry after the push`);
        // One platform without attestations: buildx pushes a plain manifest, no index.
        if (!Array.isArray(index.body.manifests)) return { manifests: { [inputs.platforms[0]]: meta.digest } };
        return { manifests: registry.platformDigests(index.body), index: { digest: meta.digest, raw: index.raw, mediaType: index.mediaType } };
    }
    // The first build that fails stops the others, and the call returns only once they have
    // exited: no build goes on pushing after the resource reported its failure.
    const stop = new AbortController();
    let failed: Error | undefined;
    const settled = await Promise.allSettled(inputs.platforms.map((p) =>
        buildx.build({ ...buildOptions(inputs, [p], (l) => log(`[${p}] ${l}`)), signal: stop.signal }).then((m) => [p, m] as const, (e: Error) => {
            if (!failed) { failed = e; stop.abort(); }
            throw e;
        })));
    if (failed) throw failed;
    const metas = settled.map((r) => (r as PromiseFulfilledResult<readonly [string, buildx.BuildMetadata]>).value);
    const manifests: Record<string, string> = {};
    for (const [p, m] of metas) {
        if (inputs.push && !m.digest) throw new Error(`buildx reported no digest for ${p}`);
        if (m.digest) manifests[p] = m.digest;
    }
    return { manifests };
}

/** An OCI index over per-platform manifests pushed separately. */
async function assembleIndex(inputs: ImageInputs, manifests: Record<string, string>): Promise<{ digest: string; raw: Buffer; mediaType: string }> {
    const { r, repository } = reg(inputs);
    const entries = [];
    for (const p of inputs.platforms) {
        const m = (await r.getManifest(repository, manifests[p]))!;
        const [os, architecture, variant] = p.split("/");
        entries.push({ mediaType: m.mediaType, digest: m.digest, size: m.raw.length, platform: { architecture, os, ...(variant ? { variant } : {}) } });
    }
    const mediaType = registry.INDEX_MEDIA_TYPES[0];
    const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: entries }));
    return { digest: `sha256:${crypto.createHash("sha256").update(raw).digest("hex")}`, raw, mediaType };
}

/** The pushed images, read back from the registry as streams (see bench case 7 for why not a local OCI layout). */
function registrySource(inputs: ImageInputs): verify.BlobSource {
    const { r, repository } = reg(inputs);
    return {
        manifest: async (digest) => {
            const m = await r.getManifest(repository, digest);
            if (!m) throw new Error(`manifest ${digest} is not in ${repository} after the push`);
            return m.body;
        },
        blob: (digest) => r.openBlob(repository, digest),
    };
}

/** How many layers of `platform`'s image come from the final stage's base; undefined when unknown. */
async function baseLayers(inputs: ImageInputs, platform: string): Promise<number | undefined> {
    try {
        const ref = baseImage.finalStageBase(fs.readFileSync(inputs.dockerfile, "utf8"), inputs.buildArgs, inputs.target, platform);
        if (ref === undefined) return undefined;
        // The push's login counts only where the base lives in the same registry.
        const same = ref !== "scratch" && registry.parseRef(ref).registry === registry.parseRef(inputs.tags[0]).registry;
        return await baseImage.baseLayerCount(ref, platform,
            { builder: inputs.builder, builderConfig: inputs.builderConfig, ...(same ? { credentials: inputs.registryAuth } : {}) });
    } catch {
        return undefined;
    }
}

/** Every platform verified, reading each shared blob once. */
async function verifyPlatforms(inputs: ImageInputs, manifests: Record<string, string>, bases: Record<string, Promise<number | undefined>>): Promise<verify.PlatformCheck[]> {
    const verifier = new verify.Verifier(registrySource(inputs));
    try {
        return await Promise.all(inputs.platforms.map(async (p) => verifier.check(manifests[p], p, await (bases[p] ?? baseLayers(inputs, p)))));
    } finally {
        verifier.close();
    }
}

interface TagMove { tag: string; raw: Buffer; mediaType: string }

/**
 * Moves each tag to its manifest, all or none: when one move fails, the tags already moved
 * go back to the manifests they had, so no tag (no architecture's, for per-arch tags) is
 * left newer than another. Whatever could not be put back is named in the error.
 */
async function moveTags(inputs: ImageInputs, moves: TagMove[]): Promise<void> {
    const { r, repository, repo } = reg(inputs);
    const before = await Promise.all(moves.map((m) => r.getManifest(repository, m.tag)));
    for (let i = 0; i < moves.length; i++) {
        try {
            await r.putManifest(repository, moves[i].tag, moves[i].raw, moves[i].mediaType);
        } catch (e) {
            const restored: string[] = [], newer: string[] = [];
            for (let j = 0; j < i; j++) {
                const prev = before[j];
                try {
                    if (!prev) throw new Error("it did not exist before, and a registry cannot untag");
                    await r.putManifest(repository, moves[j].tag, prev.raw, prev.mediaType);
                    restored.push(moves[j].tag);
                } catch (e2) {
                    newer.push(`${moves[j].tag} (${(e2 as Error).message.split("\n")[0]})`);
                }
            }
            const cause = `moving tag ${repo}:${moves[i].tag} failed (${(e as Error).message.split("\n")[0]})`;
            throw new Error(newer.length
                ? `${cause}; NOT put back, so newer than the others: ${newer.join(", ")}; still on the previous build: ${[...restored, ...moves.slice(i).map((m) => m.tag)].join(", ")}; run \`pulumi up\` again to move them all`
                : `${cause}; ${restored.length ? `put ${restored.join(", ")} back where ${restored.length > 1 ? "they were" : "it was"}, so ` : ""}no tag moved to this build; run \`pulumi up\` again`);
        }
    }
}

async function buildAndPush(inputs: ImageInputs, reason: string[], olds?: ImageOutputs): Promise<ImageOutputs> {
    const refused = unbuildable(inputs);
    if (refused.length) throw new Error(refused.map((f) => `${f.property}: ${f.reason}`).join(" | "));
    const started = Date.now();
    let cached = 0;
    const log = (line: string) => {
        if (/\bCACHED\b/.test(line)) cached++;
        console.log(line); // streamed into Pulumi's output
    };
    let mode: "index" | "per-arch-tags" = inputs.manifest === "auto" ? (olds?.manifest === "auto" ? olds.manifestMode : "index") : inputs.manifest;
    if (inputs.manifest === "auto" && inputs.push && !(olds?.manifest === "auto" && olds.manifestMode)) {
        if (!(await acceptsIndex(inputs))) {
            mode = "per-arch-tags";
            console.log(`warning: ${registry.repoOf(inputs.tags[0])} does not accept manifest lists / OCI indexes: pushing one tag per architecture (${inputs.platforms.map((p) => perArchTag(inputs.tags[0], p)).join(", ")}) instead`);
        }
    }
    const perPlatform = mode === "per-arch-tags" || !!inputs.cacheRepository;
    // The final stage's base, per platform, looked up while the build runs (it needs no build).
    const bases = inputs.push && inputs.verify ? Object.fromEntries(inputs.platforms.map((p) => [p, baseLayers(inputs, p)])) : {};
    const built = await buildByDigest(inputs, perPlatform, log).catch(async (e: Error) => {
        if (/\b401\b|unauthorized|authentication required|pull access denied|insufficient_scope/i.test(e.message)) {
            const host = registry.parseRef(inputs.tags[0]).registry;
            const last = e.message.split("\n").pop();
            if (/failed to resolve source metadata|pull access denied/.test(last ?? "")) {
                throw new Error(`build: a registry refused a pull (${last}): log in to the base image's registry as docker does ` +
                    `(docker login <registry>); registry args cover only ${host}`);
            }
            const login = await reg(inputs).r.describeLogin()
                .catch((e2: Error) => ({ who: `a login docker could not read (${e2.message})`, fix: "fix the docker config" }));
            throw new Error(`push: ${host} refused the push with ${login.who}: ${login.fix}; no tag was moved (${last})`);
        }
        throw e;
    });

    // Verify every platform before any tag moves; nothing follows a cancelled build.
    exec.throwIfStopped();
    const verification: Record<string, string> = {};
    if (inputs.push && inputs.verify) {
        const checks = await verifyPlatforms(inputs, built.manifests, bases);
        const bad = checks.filter((c) => c.problem);
        for (const c of checks) verification[c.platform] = verify.describe(c);
        if (bad.length) {
            throw new Error(`verification failed, no tag was moved: ${bad.map((c) => c.problem).join(" | ")}`);
        }
        if (Object.keys(built.manifests).sort().join() !== [...inputs.platforms].sort().join()) {
            throw new Error(`the push holds ${Object.keys(built.manifests).join(", ") || "no platforms"}, but ${inputs.platforms.join(", ")} were requested; no tag was moved`);
        }
    }

    // Move the tags.
    const pushedTags: string[] = [];
    let digest = "";
    if (inputs.push) {
        const { r, repository, repo } = reg(inputs);
        const moves: TagMove[] = [];
        if (mode === "index") {
            const index = built.index ?? await assembleIndex(inputs, built.manifests);
            for (const t of inputs.tags) {
                moves.push({ tag: registry.parseRef(t).tag!, raw: index.raw, mediaType: index.mediaType });
                pushedTags.push(t);
            }
            digest = index.digest;
        } else {
            // All platforms are built and verified before the first per-arch tag moves, so no
            // architecture's tag is left newer than another's by a failed build; moveTags
            // puts moved tags back if a later move fails.
            for (const t of inputs.tags) {
                for (const p of inputs.platforms) {
                    const m = (await r.getManifest(repository, built.manifests[p]))!;
                    const tag = perArchTag(t, p);
                    moves.push({ tag: registry.parseRef(tag).tag!, raw: m.raw, mediaType: m.mediaType });
                    pushedTags.push(tag);
                }
            }
        }
        exec.throwIfStopped(); // cancelled while verifying: the tags stay
        await moveTags(inputs, moves);
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        console.log(`built ${inputs.platforms.join(",")} -> ${digest || Object.values(built.manifests).join(",")} (${mode}) in ${secs}s (${cached} steps cached)`);
        return outputsOf(inputs, {
            digest, platformDigests: built.manifests, ref: digest ? `${repo}@${digest}` : `${repo}@${built.manifests[inputs.platforms[0]]}`,
            pushedTags, manifestMode: mode, buildReason: reason, verification,
        });
    }
    console.log(`built ${inputs.platforms.join(",")} (not pushed) in ${((Date.now() - started) / 1000).toFixed(1)}s (${cached} steps cached)`);
    return outputsOf(inputs, { digest: "", platformDigests: {}, ref: "", pushedTags: [], manifestMode: mode, buildReason: reason, verification });
}

export const imageProvider: Lifecycle = {
    // At preview: refuse platforms the (existing) builder cannot build, a registry that does
    // not answer and a login it refuses, before anything is built or pushed.
    async check(olds: ImageInputs, news: ImageInputs) {
        // The registry is asked only when this run would build: an unchanged image needs none.
        const checked = { ...news, secretsRevision: secretsRevision(olds, news) };
        const builds = !olds || Object.keys(olds).length === 0 || changedKeys(olds, checked).length > 0;
        const strictFindings = news.strict && Array.isArray(news.buildkitChecks)
            ? news.buildkitChecks.map((reason) => ({ property: "dockerfile", reason: `${reason} (strict: BuildKit's Dockerfile checks fail the preview)` })) : [];
        return { inputs: checked, failures: [...unbuildable(news), ...strictFindings, ...(builds ? await registryProblems(news) : [])] };
    },

    async create(inputs: ImageInputs) {
        const outs = await buildAndPush(inputs, ["create"]);
        return { id: `${registry.repoOf(inputs.tags[0])}:${inputs.platforms.join(",")}`, outs };
    },

    async diff(_id: string, olds: LegacyOutputs, news: ImageInputs) {
        const changed = changedKeys(olds, news);
        if (tagMovedAway(olds, news) && !changed.includes("tags")) changed.push("tags");
        return { changes: changed.length > 0 || holdsSecretValues(olds), replaces: [], deleteBeforeReplace: false };
    },

    async update(_id: string, olds: LegacyOutputs, news: ImageInputs) {
        const reason = changedKeys(olds, news);
        if (!reason.length && !tagMovedAway(olds, news)) {
            // Only the secrets' values leave the state: nothing is built.
            const { secrets: _old, ...built } = olds;
            const { secrets: _new, ...inputs } = news;
            return { outs: { ...built, ...inputs } };
        }
        return { outs: await buildAndPush(news, reason.length ? reason : ["tag moved out of band"], olds) };
    },

    async read(id: string, props: ImageOutputs) {
        if (!props.push || props.manifestMode !== "index" || !props.digest) return { id, props };
        const { r, repository } = reg(props);
        const current = await r.getManifest(repository, registry.parseRef(props.tags[0]).tag!);
        // The tag is gone or points elsewhere: clear the digest so the next `up` re-pushes.
        return { id, props: { ...props, digest: current?.digest === props.digest ? props.digest : "" } };
    },

    // Pushed images are kept unless deleteOnDestroy: other deployments may use them.
    async delete(_id: string, props: ImageOutputs) {
        if (!props.deleteOnDestroy || !props.push) return;
        const { r, repository } = reg(props);
        const digests = new Set([props.digest, ...Object.values(props.platformDigests ?? {})].filter(Boolean));
        for (const d of digests) await r.deleteManifest(repository, d);
    },
};
