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
// tags only after verification.
import * as crypto from "crypto";
import * as fs from "fs";

// Rebuild reasons (contract/imageFields.ts): inputs that change what is built or where it goes.
// Not among them: what decides only whether or how fast a RUN step succeeds (shmSize, ulimits,
// allow, noCacheFilters), the caches' credentials, and the secrets' values unless asked for
// (`secretsRevision` counts changes of the secrets' ids and, with rebuildOnSecretChange, of
// their values: see secretsChanged).
import { ADDED_DEFAULTS, REBUILD_FIELDS } from "../../contract/imageFields";
import type { ImageInputs, ImageOutputs } from "../../contract/types";
import * as baseImage from "../../core/baseImage";
import * as buildContexts from "../../core/buildContexts";
import * as buildx from "../../core/buildx";
import * as cache from "../../core/cache";
import { sameAsLegacyRecord } from "../../core/context";
import * as engine from "../../core/engine";
import * as exec from "../../core/exec";
import * as exportsLib from "../../core/exports";
import * as git from "../../core/git";
import * as registry from "../../core/registry";
import * as verify from "../../core/verify";
import type { CheckFailure, Lifecycle } from "../lifecycle";
import { UNKNOWN } from "../wire";
import { registrySource } from "./copying";
import { type BuildRecord, emulationCost, planOf, report } from "./plan";
import { attachRecords, detachRecords, recordOf } from "./records";
import { expectedTags, movesFor, moveTags, type RawManifest, tagDrift } from "./tagMoves";
import {
    clientFor,
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
                if (/refused (the login|an anonymous)/.test(msg))
                    return { property: logins[host]?.property ?? "tags", reason: `preview ping: ${msg}` };
                if (/docker-credential-|is not valid JSON/.test(msg))
                    return { property: "tags", reason: `preview ping: ${msg}` };
                const cause = msg.replace(/: is the registry running and reachable\?$/, "");
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

interface Built {
    /** platform -> manifest digest */
    manifests: Record<string, string>;
    /** the index buildx pushed, when it pushed one */
    index?: RawManifest;
    /** the image's ID in the docker engine, when the build loaded it */
    loadedId?: string;
    /** each buildx invocation's history record and the platforms it built */
    records: BuildRecord[];
}

/** The context buildx gets: a Git context pinned to the commit the check resolved, so the build fetches that or fails. */
function buildContext(inputs: ImageInputs): string {
    const g = inputs.contextCommit ? git.parseGitContext(inputs.context) : undefined;
    return g ? git.pinnedLocation(g, inputs.contextCommit!) : inputs.context;
}

/** The `--output` values besides the push: the engine's load (unnamed: it is tagged after verification) and the exports. */
function localOutputs(inputs: ImageInputs): string[] {
    return [...(inputs.load ? ["type=docker"] : []), ...(inputs.exports ?? []).map(exportsLib.outputArg)];
}

function buildOptions(
    inputs: ImageInputs,
    platforms: string[],
    push: string[],
    outputs: string[],
    log: (l: string) => void,
): buildx.BuildOptions {
    const arch = platforms.length === 1 ? platforms[0].split("/").slice(1).join("") : "";
    const perPlatformCache =
        inputs.cacheRepository && arch
            ? {
                  cacheFrom: [...inputs.cacheFrom, `type=registry,ref=${inputs.cacheRepository}:${arch}`],
                  cacheTo: [...inputs.cacheTo, `type=registry,ref=${inputs.cacheRepository}:${arch},mode=max`],
              }
            : { cacheFrom: inputs.cacheFrom, cacheTo: inputs.cacheTo };
    const logins = Object.fromEntries(Object.entries(loginsOf(inputs)).map(([host, l]) => [host, l.credentials]));
    return {
        builder: inputs.builder,
        context: buildContext(inputs),
        platforms,
        ...(inputs.dockerfileInline !== undefined
            ? { dockerfileInline: inputs.dockerfileInline }
            : inputs.dockerfile
              ? { dockerfile: inputs.dockerfile }
              : {}),
        ...(inputs.namedContexts ? { namedContexts: inputs.namedContexts } : {}),
        pushRepositories: push,
        outputs,
        buildArgs: inputs.buildArgs,
        target: inputs.target,
        labels: inputs.labels,
        annotations: inputs.annotations,
        secrets: inputs.secrets,
        secretFiles: inputs.secretFiles,
        secretEnvs: inputs.secretEnvs,
        ssh: inputs.ssh,
        ...perPlatformCache,
        cacheCredentials: inputs.cacheCredentials,
        noCache: inputs.noCache,
        noCacheFilters: inputs.noCacheFilters,
        pull: inputs.pull,
        provenance: inputs.provenance,
        sbom: inputs.sbom,
        network: inputs.network,
        addHosts: inputs.addHosts,
        shmSize: inputs.shmSize,
        ulimits: inputs.ulimits,
        allow: inputs.allow,
        logins,
        onLine: log,
    };
}

/** The loaded image's ID in the engine, from the metadata of the build that loaded it. */
function loadedId(meta: buildx.BuildMetadata, containerdStore: boolean): string {
    const id = containerdStore ? meta.digest : meta.configDigest;
    if (!id) throw new Error("buildx reported no image digest for the load into the docker engine");
    return id;
}

/**
 * Builds and pushes by digest to every target: one invocation for an index (with the load and
 * exports), or one per platform (in parallel), then one more for the load and exports (from
 * BuildKit's cache).
 */
async function buildByDigest(
    inputs: ImageInputs,
    targets: Target[],
    perPlatform: boolean,
    log: (l: string) => void,
): Promise<Built> {
    const push = inputs.push ? targets.map((t) => t.repo) : [];
    const local = localOutputs(inputs);
    const containerdStore = inputs.load ? (await engine.info()).containerdStore : false;
    const historyOf = (m: buildx.BuildMetadata, platforms: string[]): BuildRecord[] =>
        m.buildRef ? [{ ref: m.buildRef, platforms }] : [];
    if (!perPlatform) {
        const meta = await buildx.build(buildOptions(inputs, inputs.platforms, push, local, log));
        const loaded = {
            ...(inputs.load ? { loadedId: loadedId(meta, containerdStore) } : {}),
            records: historyOf(meta, inputs.platforms),
        };
        if (!inputs.push) return { manifests: {}, ...loaded };
        if (!meta.digest) throw new Error(`buildx reported no digest for ${inputs.tags[0]}`);
        const index = await targets[0].client.getManifest(targets[0].repository, meta.digest);
        if (!index) throw new Error(`${targets[0].repo}@${meta.digest} is not in the registry after the push`);
        // One platform without attestations: buildx pushes a plain manifest, no index.
        if (!Array.isArray(index.body.manifests))
            return { manifests: { [inputs.platforms[0]]: meta.digest }, ...loaded };
        return {
            manifests: registry.platformDigests(index.body),
            index: { digest: meta.digest, raw: index.raw, mediaType: index.mediaType },
            ...loaded,
        };
    }
    // The first build that fails stops the others, and the call returns only once they have
    // exited: no build goes on pushing after the resource reported its failure.
    const stop = new AbortController();
    let failed: Error | undefined;
    const settled = await Promise.allSettled(
        inputs.platforms.map((p) =>
            buildx
                .build({ ...buildOptions(inputs, [p], push, [], (l) => log(`[${p}] ${l}`)), signal: stop.signal })
                .then(
                    (m) => [p, m] as const,
                    (e: Error) => {
                        if (!failed) {
                            failed = e;
                            stop.abort();
                        }
                        throw e;
                    },
                ),
        ),
    );
    if (failed) throw failed;
    const metas = settled.map((r) => (r as PromiseFulfilledResult<readonly [string, buildx.BuildMetadata]>).value);
    const manifests: Record<string, string> = {};
    for (const [p, m] of metas) {
        if (inputs.push && !m.digest) throw new Error(`buildx reported no digest for ${p}`);
        if (m.digest) manifests[p] = m.digest;
    }
    const records = metas.flatMap(([p, m]) => historyOf(m, [p]));
    if (!local.length) return { manifests, records };
    const meta = await buildx.build(
        buildOptions(inputs, inputs.platforms, [], local, (l) => log(`[load/exports] ${l}`)),
    );
    return {
        manifests,
        records: [...records, ...historyOf(meta, inputs.platforms)],
        ...(inputs.load ? { loadedId: loadedId(meta, containerdStore) } : {}),
    };
}

/** An OCI index over per-platform manifests pushed separately (read from `target`). */
async function assembleIndex(
    inputs: ImageInputs,
    target: Target,
    manifests: Record<string, string>,
): Promise<{ digest: string; raw: Buffer; mediaType: string }> {
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

/** How many layers of `platform`'s image come from the final stage's base; undefined when unknown. */
async function baseLayers(inputs: ImageInputs, platform: string): Promise<number | undefined> {
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
        // The resource's logins count where the base lives in one of their registries.
        const login = ref === "scratch" ? undefined : loginsOf(inputs)[registry.parseRef(ref).registry];
        return await baseImage.baseLayerCount(ref, platform, {
            builder: inputs.builder,
            builderConfig: inputs.builderConfig,
            ...(login ? { credentials: login.credentials, credentialsProperty: login.property } : {}),
        });
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
    bases: Record<string, Promise<number | undefined>>,
): Promise<verify.PlatformCheck[]> {
    const verifier = new verify.Verifier(registrySource(targets[0]));
    let checks: verify.PlatformCheck[];
    try {
        checks = await Promise.all(
            inputs.platforms.map(async (p) =>
                verifier.check(manifests[p], p, await (bases[p] ?? baseLayers(inputs, p))),
            ),
        );
    } finally {
        verifier.close();
    }
    for (const t of targets.slice(1)) {
        for (const c of checks.filter((x) => !x.problem)) {
            const m = await t.client.getManifest(t.repository, manifests[c.platform]);
            const missing = !m
                ? [`manifest ${manifests[c.platform]}`]
                : (
                      await Promise.all(
                          [m.body.config, ...(m.body.layers ?? [])].map(async (d: any) =>
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

/** Tag moves for every target, by its registry's mode; and the tags as users see them. */
function tagMoves(inputs: ImageInputs, targets: Target[], modes: Record<string, Mode>, built: Built) {
    return movesFor(
        targets,
        modes,
        inputs.platforms,
        async (target) => built.index ?? assembleIndex(inputs, target, built.manifests),
        async (target, p) => (await target.client.getManifest(target.repository, built.manifests[p]))!,
    );
}

/** A build failure a registry caused, said with which registry, whose login and the fix. */
async function explainBuildFailure(inputs: ImageInputs, e: Error): Promise<Error> {
    if (!/\b401\b|unauthorized|authentication required|pull access denied|insufficient_scope/i.test(e.message))
        return e;
    const last = e.message.split("\n").pop() ?? "";
    const logins = Object.keys(loginsOf(inputs));
    if (/failed to resolve source metadata|pull access denied/.test(last)) {
        return new Error(
            `build: a registry refused a pull (${last}): log in to the base image's registry as docker does ` +
                `(docker login <registry>); registry args cover only ${logins.join(", ") || "no registry"} (registries adds logins for others)`,
        );
    }
    const host = /failed to push ([^/\s]+)\//.exec(last)?.[1] ?? registry.parseRef(inputs.tags[0]).registry;
    const login = await clientFor(inputs, host)
        .describeLogin()
        .catch((e2: Error) => ({ who: `a login docker could not read (${e2.message})`, fix: "fix the docker config" }));
    return new Error(
        `push: ${host} refused the push with ${login.who}: ${login.fix}; no tag was moved in any registry (${last})`,
    );
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

/** Verifies every platform, in every target, then moves the tags in all of them (all or none). */
async function verifyAndMove(
    inputs: ImageInputs,
    targets: Target[],
    modes: Record<string, Mode>,
    built: Built,
    bases: Record<string, Promise<number | undefined>>,
): Promise<{ moved: { pushedTags: string[]; digest: string; record: string }; verification: Record<string, string> }> {
    // Verify every platform, in every target, before any tag moves; nothing follows a cancelled build.
    exec.throwIfStopped();
    const verification: Record<string, string> = {};
    if (inputs.push && inputs.verify) {
        const checks = await verifyPlatforms(inputs, targets, built.manifests, bases);
        const bad = checks.filter((c) => c.problem);
        for (const c of checks) verification[c.platform] = verify.describe(c);
        if (bad.length)
            throw new Error(`verification failed, no tag was moved: ${bad.map((c) => c.problem).join(" | ")}`);
        if (Object.keys(built.manifests).sort().join() !== [...inputs.platforms].sort().join()) {
            throw new Error(
                `the push holds ${Object.keys(built.manifests).join(", ") || "no platforms"}, but ${inputs.platforms.join(", ")} were requested; no tag was moved`,
            );
        }
    }

    if (!inputs.push) return { moved: { pushedTags: [], digest: "", record: "" }, verification };
    const { moves, pushedTags, index } = await tagMoves(inputs, targets, modes, built);
    exec.throwIfStopped(); // cancelled while verifying: the tags stay
    // The record goes up with the image, before its tags: a promotion takes only what it covers.
    const record =
        inputs.verify && index
            ? await attachRecords(targets, modes, index, recordOf(index.digest, built.manifests, verification))
            : "";
    await moveTags(moves);
    return { moved: { pushedTags, digest: index?.digest ?? "", record }, verification };
}

/** A builder named by the user must still exist when the build starts. */
async function requireExistingBuilder(inputs: ImageInputs): Promise<void> {
    if (inputs.existingBuilder && !(await buildx.find(inputs.builder)))
        throw new Error(`builder: ${builderGone(inputs.builder)}`);
}

async function buildAndPush(inputs: ImageInputs, reason: string[], olds?: ImageOutputs): Promise<ImageOutputs> {
    await requireExistingBuilder(inputs);
    const refused = unbuildable(inputs);
    if (refused.length) throw new Error(refused.map((f) => `${f.property}: ${f.reason}`).join(" | "));
    const started = Date.now();
    let cached = 0;
    const log = (line: string) => {
        if (/\bCACHED\b/.test(line)) cached++;
        console.log(line); // streamed into Pulumi's output
    };
    const targets = targetsOf(inputs);
    const modes = await decideModes(inputs.manifest, targets, inputs.platforms, { push: inputs.push, olds });
    const perPlatform = (inputs.push && Object.values(modes).includes("per-arch-tags")) || !!inputs.cacheRepository;
    // The final stage's base, per platform, looked up while the build runs (it needs no build).
    const bases =
        inputs.push && inputs.verify ? Object.fromEntries(inputs.platforms.map((p) => [p, baseLayers(inputs, p)])) : {};
    // BuildKit keys no cache on secrets: a rebuild for them runs every step again.
    const buildInputs = reason.includes("secrets") ? { ...inputs, noCache: true } : inputs;
    const built = await buildByDigest(buildInputs, targets, perPlatform, log).catch(async (e: Error) => {
        throw await explainBuildFailure(inputs, e);
    });

    let moved: { pushedTags: string[]; digest: string; record: string },
        exported: exportsLib.ExportResult[],
        verification: Record<string, string>;
    try {
        ({ moved, verification } = await verifyAndMove(inputs, targets, modes, built, bases));
        // The engine's tags, once the registries' moved (verification passed).
        if (built.loadedId) for (const t of inputs.tags) await engine.tag(built.loadedId, t);
        exported = await readExports(inputs);
    } catch (e) {
        // A loaded image no tag points at is this build's only: leave nothing behind.
        if (built.loadedId && (await engine.imageTags(built.loadedId).catch(() => undefined))?.length === 0) {
            await engine.untag(built.loadedId).catch(() => {});
        }
        throw e;
    }

    const manifestMode = overallMode(modes, inputs.manifest);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const where = [
        inputs.push ? `${targets.length} ${targets.length === 1 ? "repository" : "repositories"}` : "not pushed",
        ...(built.loadedId ? [`loaded ${built.loadedId.slice(0, 19)}`] : []),
        ...(exported.length ? [`${exported.length} export${exported.length === 1 ? "" : "s"}`] : []),
    ].join(", ");
    const digest = moved.digest;
    const cost = await emulationCost(inputs, built.records);
    const emulated = cost.steps.reduce((a, st) => a + st.seconds, 0);
    console.log(
        `built ${inputs.platforms.join(",")} -> ${digest || Object.values(built.manifests).join(",") || "(no push)"} (${manifestMode}; ${where}) in ${secs}s ` +
            `(${cached} steps cached; ${cost.unknown ? "emulated time unknown" : `${emulated.toFixed(1)}s of RUN steps emulated`})`,
    );
    return outputsOf(inputs, {
        digest,
        platformDigests: built.manifests,
        ref: inputs.push ? `${targets[0].repo}@${digest || built.manifests[inputs.platforms[0]]}` : "",
        pushedTags: moved.pushedTags,
        manifestMode,
        manifestModes: inputs.push ? modes : {},
        buildReason: reason,
        verification,
        loadedImage: built.loadedId ?? "",
        exported,
        drift: [],
        verificationRecord: moved.record,
        emulationCost: cost,
    });
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
        // states written before plans have none to compare.
        const replanned = !!olds.buildPlan && JSON.stringify(olds.buildPlan) !== JSON.stringify(news.buildPlan ?? []);
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
