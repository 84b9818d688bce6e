// The image's build job: `docker buildx build` (through the exec seam, core/buildx.ts) pushes
// by digest only, to every repository the tags name, and writes the engine's load and the
// exports; no tag moves here (that waits for verification, image.ts). One invocation for an
// index, or one per platform where a registry takes per-arch tags or the cache is per platform.
// A push a registry refused is said with which registry, whose login and the fix.
import type { ImageInputs } from "../../contract/types";
import * as buildx from "../../core/buildx";
import * as engine from "../../core/engine";
import * as exportsLib from "../../core/exports";
import * as git from "../../core/git";
import * as registry from "../../core/registry";
import type { BuildRecord } from "./plan";
import type { RawManifest } from "./tagMoves";
import { loginsOf, type Mode, type Target } from "./targets";

/** What a build left: pushed by digest, loaded, exported; nothing tagged in any registry. */
export interface Built {
    /** platform -> manifest digest */
    manifests: Record<string, string>;
    /** the index buildx pushed, when it pushed one */
    index?: RawManifest;
    /** the image's ID in the docker engine, when the build loaded it */
    loadedId?: string;
    /** each buildx invocation's history record and the platforms it built */
    records: BuildRecord[];
    /** how many steps BuildKit took from its cache */
    cachedSteps: number;
}

/**
 * Builds and pushes by digest (no tag) to every target, streaming buildx's lines into
 * Pulumi's output. BuildKit keys no cache on secrets: a rebuild for them (`reason` holds
 * "secrets") runs every step again. `clientOf` reaches a registry a failed push names.
 */
export async function build(
    inputs: ImageInputs,
    reason: string[],
    targets: Target[],
    modes: Record<string, Mode>,
    clientOf: (host: string) => registry.Registry,
): Promise<Built> {
    let cachedSteps = 0;
    const log = (line: string) => {
        if (/\bCACHED\b/.test(line)) cachedSteps++;
        console.log(line); // streamed into Pulumi's output
    };
    const perPlatform = (inputs.push && Object.values(modes).includes("per-arch-tags")) || !!inputs.cacheRepository;
    const buildInputs = reason.includes("secrets") ? { ...inputs, noCache: true } : inputs;
    const built = await buildByDigest(buildInputs, targets, perPlatform, log).catch(async (e: Error) => {
        throw await explainBuildFailure(inputs, e, clientOf);
    });
    return { ...built, cachedSteps };
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
 * The platforms' builds push in parallel, and layers they share (a COPY of the same files) go
 * up twice at once. A registry that rewrites a blob's link in place (distribution's filesystem
 * store: truncate, then write) can answer the first build's manifest PUT "blob unknown" while
 * the second build commits the same blob: seen in this project's tests as buildx's
 * "unknown: provided digest did not match uploaded content / blob unknown to registry"
 * (tests/fixtures/buildx-push-blob-race.txt). The build is from BuildKit's cache the second time:
 * one more push.
 */
export const isPushRace = (e: Error): boolean =>
    /failed to push /.test(e.message) &&
    /blob unknown to registry|provided digest did not match uploaded content/.test(e.message);
const PUSH_RACE_WARNING =
    "warning: the registry lost a layer that another platform's build pushed at the same moment (a race in registries that rewrite a blob's link in place); pushing again, from the cache";

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
): Promise<Omit<Built, "cachedSteps">> {
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
        if (!Array.isArray((index.body as { manifests?: unknown }).manifests))
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
    const buildOne = (p: string) =>
        buildx.build({ ...buildOptions(inputs, [p], push, [], (l) => log(`[${p}] ${l}`)), signal: stop.signal });
    const settled = await Promise.allSettled(
        inputs.platforms.map((p) =>
            buildOne(p)
                .catch((e: Error) => {
                    if (stop.signal.aborted || !isPushRace(e)) throw e;
                    log(`[${p}] ${PUSH_RACE_WARNING}`);
                    return buildOne(p);
                })
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

/** A build failure a registry caused, said with which registry, whose login and the fix (buildx's words are read here: they are its, not ours). */
async function explainBuildFailure(
    inputs: ImageInputs,
    e: Error,
    clientOf: (host: string) => registry.Registry,
): Promise<Error> {
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
    const login = await clientOf(host)
        .describeLogin()
        .catch((e2: Error) => ({ who: `a login docker could not read (${e2.message})`, fix: "fix the docker config" }));
    return new Error(
        `push: ${host} refused the push with ${login.who}: ${login.fix}; no tag was moved in any registry (${last})`,
    );
}
