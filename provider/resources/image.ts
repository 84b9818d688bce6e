// Lifecycle of a multi-platform image, served by the plugin as multiarch:index:Image: the
// rebuild decision is ours (a content digest of the context, not timestamps), every platform
// is verified before any tag moves, and `read` sees a tag that moved, a loaded image or an
// export that went away out of band.
//
// Every build pushes by digest only (no tag), to every repository the tags name. The tags
// then move, through the registry API, to the verified index (manifest "index") or to each
// verified platform manifest (`<tag>-<arch>`, manifest "per-arch-tags"), decided per
// registry, all or none over every registry, so a failed build, push, verification or tag
// move never leaves a tag on a partial or wrong image, nor one registry ahead of another.
// The engine's load and the exports are written by the same build; the loaded image gets its
// tags only after verification. `buildAndPush` is that pipeline, a function per job: the modes
// (targets.ts), `build` (imageBuild.ts), `verify` (imageVerify.ts), `planTagMoves`, `moveTags`
// (tagMoves.ts), `outputs`; the rest of this file is the lifecycle: check, diff and the drift read sees.
import * as crypto from "crypto";
import * as fs from "fs";

// Rebuild reasons (contract/imageFields.ts): inputs that change what is built or where it goes.
// Not among them: what decides only whether or how fast a RUN step succeeds (shmSize, ulimits,
// allow, noCacheFilters), the caches' credentials, and the secrets' values unless asked for
// (`secretsRevision` counts changes of the secrets' ids and, with rebuildOnSecretChange, of
// their values: see secretsChanged).
import { ADDED_DEFAULTS, REBUILD_FIELDS } from "../../contract/imageFields";
import type { ImageInputs, ImageOutputs } from "../../contract/types";
import * as buildContexts from "../../core/buildContexts";
import type { PlatformPlan } from "../../core/buildPlan";
import * as buildx from "../../core/buildx";
import * as cache from "../../core/cache";
import { sameAsLegacyRecord } from "../../core/context";
import * as engine from "../../core/engine";
import * as exec from "../../core/exec";
import * as exportsLib from "../../core/exports";
import * as git from "../../core/git";
import * as registry from "../../core/registry";
import type { CheckFailure, Lifecycle } from "../lifecycle";
import { UNKNOWN } from "../wire";
import { build, type Built } from "./imageBuild";
import { lookUpBases, verify } from "./imageVerify";
import { emulationCost, planOf, report } from "./plan";
import { attachRecords, detachRecords, recordOf } from "./records";
import { expectedTags, movesFor, moveTags, type RawManifest, tagDrift } from "./tagMoves";
import {
    clientFor,
    clientsOf,
    decideModes,
    loginsOf,
    type Mode,
    overallMode,
    registriesOf,
    type Target,
    targetsOf,
} from "./targets";

/**
 * Outputs of this plugin before issue 22 held the build secrets' values (so `pulumi up
 * --debug` printed them with the engine's answer): they are compared as they are, and the
 * next update rewrites the state without them.
 */
type LegacyOutputs = ImageOutputs & { secrets?: Record<string, string> };

const holdsSecretValues = (olds: LegacyOutputs) => Object.keys(olds.secrets ?? {}).length > 0;

/** Every build secret's id, whichever way it is given. */
const secretIds = (i: Partial<ImageInputs>) =>
    [
        ...new Set([
            ...Object.keys(i.secrets ?? {}),
            ...Object.keys(i.secretFiles ?? {}),
            ...Object.keys(i.secretEnvs ?? {}),
        ]),
    ].sort();

/**
 * The build secrets as a rebuild reason: a secret added or removed always (a RUN step that
 * mounts it gets another input); a changed value of `secrets` only with rebuildOnSecretChange,
 * for ids not in ignoreSecretsInDiffCalculation. Values read from files and environment
 * variables are never kept, so never compared. `olds` must hold the old values: the old
 * inputs, as check sees them (or the outputs of states written before issue 22).
 */
export function secretsChanged(olds: Partial<ImageInputs>, news: Partial<ImageInputs>): boolean {
    if (JSON.stringify(secretIds(olds)) !== JSON.stringify(secretIds(news))) return true;
    if (!news.rebuildOnSecretChange) return false;
    const ignored = new Set(news.ignoreSecretsInDiffCalculation ?? []);
    return Object.entries(news.secrets ?? {}).some(
        ([id, v]) => !ignored.has(id) && olds.secrets?.[id] !== undefined && olds.secrets[id] !== v,
    );
}

/**
 * The rebuild reasons; a named context as `namedContexts.<name>`, so the reason says which one
 * moved; a change of the build secrets (secretsChanged, counted by check) as `secrets`.
 */
export function changedKeys(olds: LegacyOutputs | Partial<ImageInputs>, news: ImageInputs): string[] {
    const legacy = "secrets" in olds && !("secretsRevision" in olds);
    const value = (o: Partial<ImageInputs>, k: keyof ImageInputs) => {
        if (k === "secretsRevision") return JSON.stringify(o.secretsRevision ?? 0);
        // States of earlier versions kept the caches' credentials in their strings.
        if (k === "cacheFrom" || k === "cacheTo") return JSON.stringify((o[k] ?? []).map(cache.withoutCredentials));
        return JSON.stringify(o[k] ?? ADDED_DEFAULTS[k] ?? null);
    };
    return (
        REBUILD_FIELDS.flatMap((k) => {
            // A state written before issue 22 holds the old values in its outputs.
            if (k === "secretsRevision" && legacy) return secretsChanged(olds, news) ? ["secrets"] : [];
            if (value(olds, k) === value(news, k)) return [];
            if (k === "namedContexts") {
                const o = olds.namedContexts ?? {},
                    n = news.namedContexts ?? {};
                return [...new Set([...Object.keys(o), ...Object.keys(n)])]
                    .sort()
                    .filter((name) => o[name] !== n[name])
                    .map((name) => `namedContexts.${name}`);
            }
            // 0.2 kept a local context's path only for the build, not as a reason: its content is the digest.
            if (k === "context" && !olds.contextCommit && !news.contextCommit) return [];
            return [k === "secretsRevision" ? "secrets" : k];
        })
            // A 0.1.0 state records the same context in its older format: not a change.
            .filter((k) => k !== "contextDigest" || !sameAsLegacyRecord(olds.contextFiles, news.contextFiles))
    );
}

/**
 * Build secrets are compared here, where the old inputs (which keep them, encrypted) are at
 * hand: outputs keep only how often they changed, never their values.
 */
export function secretsRevision(olds: Partial<ImageInputs> | undefined, news: ImageInputs): number {
    if (!olds || Object.keys(olds).length === 0) return 0;
    const revision = olds.secretsRevision ?? 0;
    return secretsChanged(olds, news) ? revision + 1 : revision;
}

/** The inputs as outputs keep them: without the secrets' values and the caches' credentials. */
function kept(inputs: ImageInputs): Omit<ImageInputs, "secrets" | "cacheCredentials"> {
    const {
        secrets: _values,
        cacheCredentials: _credentials,
        ...rest
    } = inputs as ImageInputs & { secrets?: unknown; cacheCredentials?: unknown };
    return rest;
}

/** What the state keeps of a build: the inputs without secrets, and what was built. */
function outputsOf(
    inputs: ImageInputs,
    built: Omit<ImageOutputs, keyof Omit<ImageInputs, "secrets" | "cacheCredentials">>,
): ImageOutputs {
    return { ...kept(inputs), ...built };
}

/**
 * At every preview: each remote source pinned to what it names now (a Git context's commit
 * into `contextCommit`, named contexts' images and commits into their locations), through the
 * registry settings the build uses. A source that cannot be resolved fails the preview.
 */
async function pinSources(
    news: ImageInputs,
): Promise<{ inputs: ImageInputs; failures: { property: string; reason: string }[] }> {
    const failures: { property: string; reason: string }[] = [];
    const inputs = { ...news };
    const known = (v: unknown): v is string => typeof v === "string" && v !== UNKNOWN;
    if (known(news.context)) {
        try {
            const g = git.parseGitContext(news.context);
            if (g) inputs.contextCommit = await git.resolveCommit(g);
        } catch (e) {
            failures.push({
                property: "context",
                reason: `the Git context cannot be resolved at preview: ${(e as Error).message}`,
            });
        }
    }
    if (news.namedContexts && typeof news.namedContexts === "object") {
        // The resource's logins count where the image lives in one of their registries, as for base images.
        let logins: ReturnType<typeof loginsOf> = {};
        try {
            logins = loginsOf(news);
        } catch {
            /* tags refused elsewhere */
        }
        const opts = (ref: string) => {
            let login: ReturnType<typeof loginsOf>[string] | undefined;
            try {
                login = logins[registry.parseRef(ref.replace(/^docker-image:\/\//, "")).registry];
            } catch {
                /* not an image */
            }
            return {
                builder: news.builder,
                builderConfig: news.builderConfig,
                timeoutMs: 10_000,
                ...(login ? { credentials: login.credentials, credentialsProperty: login.property } : {}),
            };
        };
        const pinned = await Promise.all(
            Object.entries(news.namedContexts).map(async ([name, location]) => {
                if (!known(location)) return [name, location] as const;
                try {
                    return [name, await buildContexts.pin(location, opts(location))] as const;
                } catch (e) {
                    failures.push({
                        property: "namedContexts",
                        reason: `context.named.${name}.location: ${location} cannot be resolved at preview: ${(e as Error).message}`,
                    });
                    return [name, location] as const;
                }
            }),
        );
        inputs.namedContexts = Object.fromEntries(pinned);
    }
    return { inputs, failures };
}

/** Requested platforms the builder cannot build, as failures naming them and its nodes. */
function unbuildable(inputs: ImageInputs): CheckFailure[] {
    if (!Array.isArray(inputs.builderPlatforms) || !Array.isArray(inputs.platforms)) return [];
    const fix = inputs.existingBuilder
        ? "register an emulator for it on the builder's host (a BinfmtSetup) and restart the builder, or add a node that runs it natively"
        : "give the builder a BinfmtSetup for it or a node that runs it natively";
    return inputs.platforms
        .filter((p) => !inputs.builderPlatforms!.includes(p))
        .map((p) => ({
            property: "platforms",
            reason: `builder ${inputs.builder} cannot build ${p}: its nodes build ${inputs.builderPlatforms!.join(", ")}; ${fix}`,
        }));
}

/**
 * A builder the user already has, named by `builder: { name }`: read at preview (booted first
 * when a node is not running, as the build would), so its platforms are checked like a
 * managed builder's. Never created, changed or removed here.
 */
async function readExistingBuilder(news: ImageInputs): Promise<CheckFailure[]> {
    if (news.existingBuilder !== true || typeof news.builder !== "string" || news.builder === UNKNOWN) return [];
    const name = news.builder;
    let b: buildx.BuilderInfo | undefined;
    try {
        b = await buildx.find(name);
    } catch (e) {
        return [
            {
                property: "builder",
                reason: `cannot list buildx builders (${(e as Error).message.split("\n")[0]}): install docker buildx`,
            },
        ];
    }
    if (!b) return [{ property: "builder", reason: builderGone(name) }];
    if (b.nodes.some((n) => n.status !== "running")) {
        try {
            b = await buildx.bootstrap(name);
        } catch (e) {
            return [
                {
                    property: "builder",
                    reason: `builder ${name} does not boot (${(e as Error).message.split("\n").pop()}): start its nodes, or fix it with \`docker buildx inspect --bootstrap ${name}\``,
                },
            ];
        }
    }
    news.builderPlatforms = buildx.builderPlatforms(b);
    return [];
}

function builderGone(name: string): string {
    return (
        `no buildx builder named "${name}" (\`docker buildx ls\`): create it (\`docker buildx create --name ${name} --bootstrap\`, ` +
        "as setup-buildx-action does), or give the image a BuildxBuilder"
    );
}

/**
 * At preview: each registry of the tags answers as a registry (a real /v2/ answer) and accepts
 * the login the push would use (the resource's for it, else the docker config's). One request
 * per step and registry, no retries.
 */
async function registryProblems(inputs: ImageInputs): Promise<CheckFailure[]> {
    if (inputs.push !== true || !Array.isArray(inputs.tags) || !inputs.tags.every((t) => typeof t === "string"))
        return [];
    if (typeof inputs.builder !== "string" || inputs.builder === UNKNOWN) return [];
    const secretsKnown = (o: unknown) =>
        !o || (typeof o === "object" && Object.values(o).every((v) => typeof v === "string"));
    if (!secretsKnown(inputs.registryAuth) || !(inputs.registries ?? []).every(secretsKnown)) return []; // unknown at preview
    let targets: Target[];
    try {
        targets = targetsOf(inputs);
    } catch {
        return [];
    }
    const logins = loginsOf(inputs);
    const failures = await Promise.all(
        registriesOf(targets).map(async (host): Promise<CheckFailure | undefined> => {
            const target = targets.find((t) => t.registry === host)!;
            try {
                await clientFor(inputs, host, 10_000).ping(target.repository);
                return undefined;
            } catch (e) {
                const msg = (e as Error).message;
                const refused = e instanceof registry.RegistryError ? e.refused : undefined;
                // A login refused is the login's property's problem; one that cannot be read, the docker config's.
                if (refused === "auth")
                    return { property: logins[host]?.property ?? "tags", reason: `preview ping: ${msg}` };
                if (refused === "login") return { property: "tags", reason: `preview ping: ${msg}` };
                const cause = refused === "unreachable" ? (e as registry.RegistryError).detail : msg;
                return {
                    property: "tags",
                    reason: `preview ping: the registry ${host} does not answer as a registry (${cause}): start it, or fix the registry in tags`,
                };
            }
        }),
    );
    return failures.filter((f): f is CheckFailure => !!f);
}

/**
 * What the docker engine's image store can take, at preview: without the containerd image
 * store it holds one platform per image and no attestations (buildx refuses the rest).
 */
export function loadProblems(
    inputs: Pick<ImageInputs, "load" | "platforms" | "provenance" | "sbom">,
    info: engine.EngineInfo,
): CheckFailure[] {
    if (inputs.load !== true || info.containerdStore || !Array.isArray(inputs.platforms)) return [];
    const engineIs = `the docker engine (${info.serverVersion}, storage driver ${info.driver}, no containerd image store) holds one platform per image`;
    const store = `enable the containerd image store ("features": {"containerd-snapshotter": true} in /etc/docker/daemon.json)`;
    if (inputs.platforms.length > 1) {
        return [
            {
                property: "load",
                reason:
                    `${engineIs}, and ${inputs.platforms.join(", ")} were asked: load one platform (one MultiArchImage with platforms: ["${inputs.platforms[0]}"] and load), ` +
                    `${store} to load them all, or write them to an OCI tarball (exports: [{ oci: { dest: "image.tar" } }])`,
            },
        ];
    }
    if (
        (inputs.provenance !== undefined && inputs.provenance !== false) ||
        (inputs.sbom !== undefined && inputs.sbom !== false)
    ) {
        return [
            {
                property: "load",
                reason: `${engineIs} without attestations: set provenance and sbom to false for a load, or ${store}`,
            },
        ];
    }
    return [];
}

/** A builder named by the user must still exist when the build starts, and build every platform asked. */
async function requireBuildable(inputs: ImageInputs): Promise<void> {
    if (inputs.existingBuilder && !(await buildx.find(inputs.builder)))
        throw new Error(`builder: ${builderGone(inputs.builder)}`);
    const refused = unbuildable(inputs);
    if (refused.length) throw new Error(refused.map((f) => `${f.property}: ${f.reason}`).join(" | "));
}

/** An OCI index over per-platform manifests pushed separately (read from `target`). */
async function assembleIndex(
    inputs: ImageInputs,
    target: Target,
    manifests: Record<string, string>,
): Promise<RawManifest> {
    const entries = [];
    for (const p of inputs.platforms) {
        const m = (await target.client.getManifest(target.repository, manifests[p]))!;
        const [os, architecture, variant] = p.split("/");
        entries.push({
            mediaType: m.mediaType,
            digest: m.digest,
            size: m.raw.length,
            platform: { architecture, os, ...(variant ? { variant } : {}) },
        });
    }
    const mediaType = registry.INDEX_MEDIA_TYPES[0];
    const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: entries }));
    return { digest: `sha256:${crypto.createHash("sha256").update(raw).digest("hex")}`, raw, mediaType };
}

/**
 * The tag moves for every target, by its registry's mode (each tag to the index, or
 * `<tag>-<arch>` to each platform's manifest), and the tags as users see them; nothing moves yet.
 */
function planTagMoves(inputs: ImageInputs, targets: Target[], modes: Record<string, Mode>, built: Built) {
    return movesFor(
        targets,
        modes,
        inputs.platforms,
        async (target) => built.index ?? assembleIndex(inputs, target, built.manifests),
        async (target, p) => (await target.client.getManifest(target.repository, built.manifests[p]))!,
    );
}

/**
 * The verification record goes up with the image, before its tags, in every registry that
 * keeps the index: a promotion takes only what it covers. Its digest, or "" when none went up.
 */
async function attachRecord(
    inputs: ImageInputs,
    targets: Target[],
    modes: Record<string, Mode>,
    index: RawManifest | undefined,
    built: Built,
    verification: Record<string, string>,
): Promise<string> {
    if (!inputs.verify || !index) return "";
    return attachRecords(targets, modes, index, recordOf(index.digest, built.manifests, verification));
}

/** The engine's tags, once the registries' moved (verification passed). */
async function tagLoadedImage(inputs: ImageInputs, built: Built): Promise<void> {
    if (built.loadedId) for (const t of inputs.tags) await engine.tag(built.loadedId, t);
}

/** A loaded image no tag points at is this build's only: after a failure it leaves nothing behind. */
async function dropUntaggedLoad(built: Built): Promise<void> {
    if (built.loadedId && (await engine.imageTags(built.loadedId).catch(() => undefined))?.length === 0) {
        await engine.untag(built.loadedId).catch(() => {});
    }
}

/** What each export wrote, read back after the build; one that wrote nothing is an error. */
async function readExports(inputs: ImageInputs): Promise<exportsLib.ExportResult[]> {
    return Promise.all(
        (inputs.exports ?? []).map(async (e, i) => {
            const r = await exportsLib.readExport(e);
            if (!r) throw new Error(`exports[${i}] (${e.type}) wrote nothing at ${e.dest}`);
            return r;
        }),
    );
}

/** What a build did, for its outputs. */
interface Done {
    targets: Target[];
    modes: Record<string, Mode>;
    built: Built;
    verification: Record<string, string>;
    /** the index the tags point at where a registry keeps one */
    index?: RawManifest;
    pushedTags: string[];
    record: string;
    exported: exportsLib.ExportResult[];
    started: number;
}

/** The outputs of a build, and its one line in Pulumi's output (where it went, how long, how much was emulated). */
async function outputs(inputs: ImageInputs, reason: string[], done: Done): Promise<ImageOutputs> {
    const { targets, modes, built, exported } = done;
    const manifestMode = overallMode(modes, inputs.manifest);
    const secs = ((Date.now() - done.started) / 1000).toFixed(1);
    const where = [
        inputs.push ? `${targets.length} ${targets.length === 1 ? "repository" : "repositories"}` : "not pushed",
        ...(built.loadedId ? [`loaded ${built.loadedId.slice(0, 19)}`] : []),
        ...(exported.length ? [`${exported.length} export${exported.length === 1 ? "" : "s"}`] : []),
    ].join(", ");
    const digest = done.index?.digest ?? "";
    const cost = await emulationCost(inputs, built.records);
    const emulated = cost.steps.reduce((a, st) => a + st.seconds, 0);
    console.log(
        `built ${inputs.platforms.join(",")} -> ${digest || Object.values(built.manifests).join(",") || "(no push)"} (${manifestMode}; ${where}) in ${secs}s ` +
            `(${built.cachedSteps} steps cached; ${cost.unknown ? "emulated time unknown" : `${emulated.toFixed(1)}s of RUN steps emulated`})`,
    );
    return outputsOf(inputs, {
        digest,
        platformDigests: built.manifests,
        ref: inputs.push ? `${targets[0].repo}@${digest || built.manifests[inputs.platforms[0]]}` : "",
        pushedTags: done.pushedTags,
        manifestMode,
        manifestModes: inputs.push ? modes : {},
        buildReason: reason,
        verification: done.verification,
        loadedImage: built.loadedId ?? "",
        exported,
        drift: [],
        verificationRecord: done.record,
        emulationCost: cost,
    });
}

/**
 * The image's pipeline, one job each: the manifest mode per registry, the build (pushed by
 * digest, no tag), verification, the tag moves planned, then made (all or none over every
 * registry), the outputs. Tags move only after verification: a failure before `moveTags`
 * leaves every tag where it was. One registry client per registry for the whole operation.
 */
async function buildAndPush(inputs: ImageInputs, reason: string[], olds?: ImageOutputs): Promise<ImageOutputs> {
    await requireBuildable(inputs);
    const started = Date.now();
    const targets = targetsOf(inputs);
    const clientOf = clientsOf(inputs, targets);
    const modes = await decideModes(inputs.manifest, targets, inputs.platforms, { push: inputs.push, olds });
    const bases = lookUpBases(inputs, clientOf);
    const built = await build(inputs, reason, targets, modes, clientOf);
    let done: Done;
    try {
        exec.throwIfStopped(); // nothing follows a cancelled build
        const verification = await verify(inputs, targets, built, bases, clientOf);
        const plan = inputs.push ? await planTagMoves(inputs, targets, modes, built) : undefined;
        exec.throwIfStopped(); // cancelled while verifying: the tags stay
        const record = await attachRecord(inputs, targets, modes, plan?.index, built, verification);
        if (plan) await moveTags(plan.moves);
        await tagLoadedImage(inputs, built);
        const exported = await readExports(inputs);
        done = {
            targets,
            modes,
            built,
            verification,
            index: plan?.index,
            pushedTags: plan?.pushedTags ?? [],
            record,
            exported,
            started,
        };
    } catch (e) {
        await dropUntaggedLoad(built);
        throw e;
    }
    return outputs(inputs, reason, done);
}

/** A state from before verification records, of an image verified ok and tagged as an index somewhere: it gets its record. */
function lacksRecord(olds: ImageOutputs): boolean {
    return (
        olds.verificationRecord === undefined &&
        olds.push &&
        olds.verify &&
        !!olds.digest &&
        Object.keys(olds.platformDigests ?? {}).length > 0 &&
        Object.keys(olds.platformDigests).every((p) => /^ok\b/.test(olds.verification?.[p] ?? ""))
    );
}

/** Each target registry's mode as the state records it (a state of 0.2.0 kept one for all). */
function modesOf(props: ImageOutputs, targets: Target[]): Record<string, Mode> {
    return Object.fromEntries(
        targets.map((t) => [
            t.registry,
            props.manifestModes?.[t.registry] ?? (props.manifestMode === "per-arch-tags" ? "per-arch-tags" : "index"),
        ]),
    );
}

/** Attaches the record of the verification the state holds to the image it describes; nothing is built. */
async function attachRecordOnly(olds: ImageOutputs): Promise<string> {
    const targets = targetsOf(olds);
    const modes = modesOf(olds, targets);
    const first = targets.find((t) => modes[t.registry] === "index");
    const index = first && (await first.client.getManifest(first.repository, olds.digest));
    if (!index) {
        console.log(
            `warning: the image ${olds.digest} is not in its registry: no verification record attached (pulumi up after a refresh pushes it again)`,
        );
        return "";
    }
    const digest = await attachRecords(
        targets,
        modes,
        index,
        recordOf(olds.digest, olds.platformDigests, olds.verification),
    );
    console.log(`attached the verification record ${digest} to ${olds.ref} (nothing was built)`);
    return digest;
}

/** What moved or went away out of band since the last `up`, one line each. */
async function observeDrift(props: ImageOutputs): Promise<string[]> {
    const drift: string[] = [];
    if (props.push && (props.digest || Object.keys(props.platformDigests ?? {}).length)) {
        const modes = props.manifestModes ?? {};
        drift.push(
            ...(await tagDrift(targetsOf(props), (target) => {
                const mode =
                    modes[target.registry] ?? (props.manifestMode === "per-arch-tags" ? "per-arch-tags" : "index");
                return expectedTags(target, mode, props.digest, props.platformDigests, props.platforms);
            })),
        );
    }
    if (props.loadedImage) {
        if (!(await engine.imageId(props.loadedImage)))
            drift.push(`the loaded image ${props.loadedImage} is gone from the docker engine`);
        else {
            for (const t of props.tags) {
                if ((await engine.imageId(t)) !== props.loadedImage)
                    drift.push(`the docker engine's tag ${t} no longer points at the loaded image`);
            }
        }
    }
    for (const [i, e] of (props.exports ?? []).entries()) {
        const was = props.exported?.[i];
        if (!was?.contentDigest) continue;
        const now = await exportsLib.readExport(e);
        if (!now) drift.push(`exports[${i}] (${e.type}): ${e.dest} was deleted`);
        else if (now.contentDigest !== was.contentDigest) drift.push(`exports[${i}] (${e.type}): ${e.dest} changed`);
    }
    return drift;
}

/**
 * What refresh saw moved or gone is put back: drift recorded by read, or a state of 0.2.0 that
 * marked a moved tag with digest "".
 */
const drifted = (olds: ImageOutputs, news: ImageInputs) =>
    !!olds.drift?.length ||
    (olds.push && news.push && olds.digest === "" && olds.manifestMode === "index" && !olds.manifestModes);

export const imageProvider: Lifecycle = {
    // At preview: pin the remote sources (a moved tag or a new commit is then a change), read a
    // builder the user named, refuse platforms the builder cannot build, a registry that does not
    // answer or refuses the login, and a load the engine cannot take, before anything is built or pushed.
    async check(olds: ImageInputs, news: ImageInputs) {
        const pinned = await pinSources(news);
        const failures: CheckFailure[] = [
            ...pinned.failures,
            ...(await readExistingBuilder(news)),
            ...unbuildable(news),
        ];
        if (news.strict && Array.isArray(news.buildkitChecks)) {
            failures.push(
                ...news.buildkitChecks.map((reason) => ({
                    property: "dockerfile",
                    reason: `${reason} (strict: BuildKit's Dockerfile checks fail the preview)`,
                })),
            );
        }
        // The registries are asked only when this run would build: an unchanged image needs none.
        const checked: ImageInputs = { ...pinned.inputs, secretsRevision: secretsRevision(olds, news) };
        // How each platform will be built: said here for a new image, by diff for one in the state (with its last cost).
        // The plan never stops a preview: what it cannot work out, it says.
        checked.buildPlan = await planOf(checked).catch((e) => {
            console.log(`warning: the build plan could not be worked out: ${(e as Error).message}`);
            return [];
        });
        if (!olds || Object.keys(olds).length === 0) report(checked, checked.buildPlan);
        const builds = !olds || Object.keys(olds).length === 0 || changedKeys(olds, checked).length > 0;
        if (builds) failures.push(...(await registryProblems(news)));
        if (news.load === true) {
            try {
                failures.push(...loadProblems(news, await engine.info()));
            } catch (e) {
                failures.push({
                    property: "load",
                    reason: `the docker engine does not answer (${(e as Error).message.split("\n").pop()}): start it, or drop load`,
                });
            }
        }
        return { inputs: checked, failures };
    },

    async create(inputs: ImageInputs) {
        const outs = await buildAndPush(inputs, ["create"]);
        const where = inputs.tags.length ? registry.repoOf(inputs.tags[0]) : "image";
        return { id: `${where}:${inputs.platforms.join(",")}`, outs };
    },

    async diff(_id: string, olds: LegacyOutputs, news: ImageInputs) {
        const changed = changedKeys(olds, news);
        if (drifted(olds, news) && !changed.length) changed.push("drift");
        if (!changed.length && lacksRecord(olds)) changed.push("verificationRecord");
        if (news.buildPlan) report(news, news.buildPlan, olds.emulationCost);
        // A new plan (a node added, an emulator gone) is written to the state without a build;
        // states written before plans have none to compare, and a plan made while a node did not
        // answer (its platform unknown: a stopped builder, restarted by the next build) says
        // nothing new about the builder.
        const known = (plan?: PlatformPlan[]) => !!plan && plan.every((p) => p.mode !== "unknown");
        const replanned =
            known(olds.buildPlan) &&
            known(news.buildPlan) &&
            JSON.stringify(olds.buildPlan) !== JSON.stringify(news.buildPlan);
        // A state that still holds the secrets' values is rewritten without them (no build).
        return {
            changes: changed.length > 0 || holdsSecretValues(olds) || replanned,
            replaces: [],
            deleteBeforeReplace: false,
        };
    },

    async update(_id: string, olds: LegacyOutputs, news: ImageInputs) {
        const reason = changedKeys(olds, news);
        if (!reason.length && !drifted(olds, news)) {
            // Only the secrets' values leave the state, the plan is new, or an image of an older state gets its verification record: nothing is built.
            const { secrets: _old, ...built } = olds;
            return {
                outs: {
                    ...built,
                    ...kept(news),
                    ...(lacksRecord(olds) ? { verificationRecord: await attachRecordOnly(olds) } : {}),
                },
            };
        }
        return {
            outs: await buildAndPush(
                news,
                reason.length ? reason : olds.drift?.length ? olds.drift : ["tag moved out of band"],
                olds,
            ),
        };
    },

    async read(id: string, props: ImageOutputs) {
        return { id, props: { ...props, drift: await observeDrift(props) } };
    },

    // Pushed images, loaded images and exports are kept unless deleteOnDestroy: others may use them.
    async delete(_id: string, props: ImageOutputs) {
        if (!props.deleteOnDestroy) return;
        if (props.push) {
            const targets = targetsOf(props);
            if (props.verificationRecord && props.digest)
                await detachRecords(targets, modesOf(props, targets), props.digest, props.verificationRecord);
            const digests = new Set([props.digest, ...Object.values(props.platformDigests ?? {})].filter(Boolean));
            for (const target of targets) {
                for (const d of digests) await target.client.deleteManifest(target.repository, d);
            }
        }
        if (props.loadedImage) {
            for (const t of props.tags) if ((await engine.imageId(t)) === props.loadedImage) await engine.untag(t);
            await engine
                .untag(props.loadedImage)
                .catch((e: Error) => console.log(`warning: the loaded image stays in the engine: ${e.message}`));
        }
        for (const e of props.exports ?? []) {
            const p = exportsLib.exportPath(e);
            if (p) fs.rmSync(p, { recursive: true, force: true });
        }
    },
};
