import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

import { ARGS_FIELDS, type FieldsFrom } from "../contract/imageFields";
import { COMPONENT_TYPES, RESOURCE_TYPES } from "../contract/tokens";
import type { EmulationCost, ImageInputs, ManifestMode, RegistryAuth } from "../contract/types";
import { stageNames } from "../core/baseImage";
import { dockerfileInRepository } from "../core/buildContexts";
import type { PlatformPlan } from "../core/buildPlan";
import { check as buildkitCheck, find as findBuilder } from "../core/buildx";
import { registryOfServer } from "../core/dockerConfig";
import type { ExportResult } from "../core/exports";
import { lintDockerfile } from "../core/lint";
import { parseRef } from "../core/registry";
import * as tempDirs from "../core/tempDirs";
import { attests, checkAttestation, checkBuildFlags, flagArgs } from "./buildFlags";
import { BuildxBuilder } from "./buildxBuilder";
import { type CacheFromArgs, cacheInputs, type CacheToArgs } from "./caches";
import {
    type BuilderConfigArgs,
    checkOutputs,
    type ExportArgs,
    registriesOfTags,
    type RegistryLoginArgs,
    registryLogins,
} from "./destinations";
import { checkSources, sourceArgs } from "./imageSources";
import { componentOptions, outputsOnly, PluginResource, spread } from "./resourceProps";
import { ArgErrors, checkPlatforms, validated } from "./validate";

/**
 * A login for the tags' registry, added to the user's docker config (its logins and
 * credential helpers stay in force for every other registry, e.g. a private base image).
 */
export interface RegistryArgs {
    /**
     * The registry the login is for, as `@pulumi/docker`'s registry args name it (`https://`,
     * Docker Hub's `index.docker.io` allowed), one of the tags' registries. Default: the tags'
     * registry (required when the tags are in several; log in to others with `registries`).
     */
    server?: pulumi.Input<string | undefined>;
    /** User name for the tags' registry. Default none: required. */
    username?: pulumi.Input<string | undefined>;
    /** A Pulumi secret: encrypted in state; reaches buildx through a private 0600 copy of the docker config, never argv. Default none: required. */
    password?: pulumi.Input<string | undefined>;
}

/** One named build context (`--build-context <name>=<location>`), as `@pulumi/docker-build` names it. */
export interface NamedContextArgs {
    /**
     * A local folder relative to the program (hashed with its own `.dockerignore`, as BuildKit
     * sends it); `docker-image://<ref>` (a tag is resolved to its digest at every preview);
     * `oci-layout://<path>[:tag][@sha256:...]` (resolved the same way); or a Git URL as for
     * `context` (its commit resolved at every preview). buildx's `target:<name>` links targets of
     * one bake run only: to build on another MultiArchImage, give `docker-image://${image.ref}`.
     */
    location: pulumi.Input<string>;
}

/** The build context with named contexts, as `@pulumi/docker-build`'s `context`. */
export interface BuildContextArgs {
    /**
     * A local folder relative to the program (e.g. `"./app"`), or a Git repository
     * (`https://host/repo.git#<branch|tag|commit>:<subdir>`, the `?ref=&subdir=` form too)
     * whose commit is resolved at every preview, so a new commit is a rebuild reason.
     */
    location: string;
    /**
     * Named contexts, name -> location, for `FROM <name>` and `COPY --from=<name>`. Default none.
     */
    named?: Record<string, NamedContextArgs>;
}

/** The Dockerfile, as `@pulumi/docker-build`'s `dockerfile`: a path or its text, not both. */
export interface DockerfileArgs {
    /**
     * Path of the Dockerfile, relative to the program, inside the context or not (its
     * `<Dockerfile>.dockerignore` then applies). With a Git context, a relative path is inside
     * the repository. Default `<context>/Dockerfile`.
     */
    location?: string;
    /** The Dockerfile's text, sent to buildx on stdin (`--file -`). Default none. */
    inline?: pulumi.Input<string>;
}

/** Arguments of {@link MultiArchImage}. */
export interface MultiArchImageArgs {
    /**
     * The build context: a folder relative to the program (e.g. `"./app"`) or a Git URL, or
     * `{ location, named }` with named contexts (docker-build's shape).
     */
    context: string | BuildContextArgs;
    /** The Dockerfile: a path, or `{ location }` / `{ inline }` (docker-build's shape). Default `<context>/Dockerfile`. */
    dockerfile?: string | DockerfileArgs;
    /** Platforms to build, e.g. `["linux/amd64", "linux/arm64"]`. */
    platforms: pulumi.Input<string[]>;
    /**
     * Tags to push, e.g. `["localhost:5000/hello:1.0", "ghcr.io/org/hello:1.0"]`: any number
     * of repositories and registries, one build pushed to all, verified in each, tags moved in
     * all or none. May be empty when `push` is false.
     */
    tags: pulumi.Input<string[]>;
    /** Push to the registry. Default `true`. */
    push?: pulumi.Input<boolean>;
    /**
     * The builder: a {@link BuildxBuilder} of this stack (the image depends on it and, through
     * it, on its emulators), or one the user already has, by name (`{ name: "ci-builder" }`,
     * made by hand or by setup-buildx-action): read and checked at preview, never created or
     * removed.
     */
    builder: BuildxBuilder | BuilderConfigArgs;
    /**
     * `"index"` (default): each tag points at one manifest list / OCI index.
     * `"per-arch-tags"`: no list; one tag per architecture (`<tag>-amd64`, `<tag>-arm64`), for
     * registries that keep no manifest lists (the article's company registry) or consumers
     * that reject an index. `"auto"`: probe each registry of the tags once; per-arch tags,
     * with a warning, where it keeps no lists (one registry may keep lists, another get
     * per-arch tags).
     */
    manifest?: pulumi.Input<ManifestMode>;
    /** Build arguments (`--build-arg`). Default `{}`. */
    buildArgs?: pulumi.Input<Record<string, string>>;
    /** Target stage (`--target`). Default: the last stage. */
    target?: pulumi.Input<string>;
    /** Image labels (`--label`). Default `{}`. */
    labels?: pulumi.Input<Record<string, string>>;
    /** OCI annotations (`--annotation`). Default `{}`. */
    annotations?: pulumi.Input<Record<string, string>>;
    /** Build secrets, id -> value, for `RUN --mount=type=secret,id=...`. Pass Pulumi secrets: they stay out of state, argv and logs. Default none. */
    secrets?: pulumi.Input<Record<string, pulumi.Input<string>> | undefined>;
    /**
     * Build secrets read from files at build time, id -> path relative to the program
     * (build-push-action's `secret-files`, `--secret id=<id>,src=<path>`): buildx reads the file;
     * only the path is kept in state. Default none.
     */
    secretFiles?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * Build secrets read from environment variables at build time, id -> variable name
     * (build-push-action's `secret-envs`, `--secret id=<id>,env=<name>`): buildx reads the
     * variable from the environment pulumi runs in; only its name is kept. Default none.
     */
    secretEnvs?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * A changed value of a `secrets` entry rebuilds the image, without cache (BuildKit keys no
     * cache on secret values, so a cached build would give the same image). Added or removed
     * secrets always rebuild; values read from `secretFiles` and `secretEnvs` are never kept,
     * so they never do. Default `false`: rotating a token (CodeArtifact, npm, a CI job's) does
     * not rebuild.
     */
    rebuildOnSecretChange?: pulumi.Input<boolean>;
    /** `@pulumi/docker-build`'s list of `secrets` ids whose value changes never rebuild; with rebuildOnSecretChange, the exceptions to it. Default none. */
    ignoreSecretsInDiffCalculation?: pulumi.Input<pulumi.Input<string>[] | undefined>;
    /** SSH agent sockets or keys to forward (`--ssh`), e.g. `["default"]`. Default none. */
    ssh?: pulumi.Input<string[]>;
    /**
     * Cache sources (`--cache-from`): `@pulumi/docker-build`'s typed entries (`{ registry: { ref } }`,
     * `{ local }`, `{ s3 }`, `{ gha }`, `{ azblob }`, `{ raw }`) or buildx's strings
     * (build-push-action's `cache-from`). Keys (s3, gha) stay secret and reach buildx through its
     * environment. Default none.
     */
    cacheFrom?: pulumi.Input<pulumi.Input<string | CacheFromArgs>[] | undefined>;
    /** Cache exports (`--cache-to`): typed entries as for cacheFrom, plus `{ inline: {} }`, or buildx's strings. Default none. */
    cacheTo?: pulumi.Input<pulumi.Input<string | CacheToArgs>[] | undefined>;
    /**
     * A repository for an automatic registry cache per platform (`<repo>:amd64`,
     * `<repo>:arm64`, mode=max). One registry cache ref keeps only the last platform of a
     * multi-platform build (docker/buildx#1044), so with this set each platform is built by
     * its own (parallel) invocation and the index is assembled from them. Default none.
     */
    cacheRepository?: pulumi.Input<string>;
    /** Ignore the build cache (`--no-cache`). Default `false`. */
    noCache?: pulumi.Input<boolean>;
    /** Stages of the Dockerfile run without cache at every build (`--no-cache-filter`); not a rebuild reason. Default none. */
    noCacheFilters?: pulumi.Input<string[]>;
    /** Always pull base images (`--pull`). Default `false`. */
    pull?: pulumi.Input<boolean>;
    /**
     * Provenance attestation: `true`, or buildx's attributes as build-push-action takes them,
     * e.g. `"mode=max"` (every build step and its inputs). Default `false` (it adds
     * unknown/unknown entries that some consumers reject).
     */
    provenance?: pulumi.Input<boolean | string>;
    /** SBOM attestation: `true` (BuildKit's default scanner image), or `"generator=<scanner image>"`. Default `false`. */
    sbom?: pulumi.Input<boolean | string>;
    /**
     * The network of RUN steps (`--network`): `"default"`, `"host"` (the builder must permit the
     * `network.host` entitlement) or `"none"`. A rebuild reason: it changes what RUN steps reach.
     * Default `"default"`.
     */
    network?: pulumi.Input<"default" | "host" | "none" | undefined>;
    /** Extra `/etc/hosts` entries of RUN steps, `"host:ip"` (`--add-host`). A rebuild reason. Default none. */
    addHosts?: pulumi.Input<pulumi.Input<string>[] | undefined>;
    /** Size of `/dev/shm` in RUN steps, e.g. `"128m"` (`--shm-size`); not a rebuild reason. Default: BuildKit's (64m). */
    shmSize?: pulumi.Input<string | number>;
    /** Resource limits of RUN steps, `"name=soft[:hard]"`, e.g. `"nofile=1024:2048"` (`--ulimit`); not a rebuild reason. Default none. */
    ulimits?: pulumi.Input<string[]>;
    /**
     * Entitlements the build may use (`--allow`): `"network.host"`, `"security.insecure"`
     * (`RUN --security=insecure`), `"device"`; the builder must permit them
     * (`--allow-insecure-entitlement`). Not a rebuild reason. Default none.
     */
    allow?: pulumi.Input<string[]>;
    /**
     * A login for the tags' registry, used by the push and everything after it; it wins over
     * the docker config's for that registry. Default none: the docker config's logins and
     * credential helpers (`docker login`), as `docker buildx build --push` uses them.
     */
    registry?: RegistryArgs;
    /**
     * More registry logins, `@pulumi/docker-build`'s `registries`: each adds to the user's
     * docker logins for the build (base images, caches, pushes) and for every registry call
     * after it. Default none.
     */
    registries?: pulumi.Input<pulumi.Input<RegistryLoginArgs>[]>;
    /**
     * Load the image into the docker engine (`--load`), tagged with `tags` after verification:
     * one platform, or every platform where the engine has the containerd image store (else
     * refused at preview). Default `false`.
     */
    load?: pulumi.Input<boolean>;
    /**
     * Outputs besides the push (`--output`, `@pulumi/docker-build`'s `exports`): OCI and docker
     * tarballs or layouts, local folders, tar, cacheonly, registry/image pushes, raw strings.
     * Each file's digest is kept in state; refresh notices one deleted or changed. Default none.
     */
    exports?: pulumi.Input<pulumi.Input<ExportArgs>[]>;
    /** Values whose change forces a rebuild (e.g. a release number). Default none. */
    triggers?: pulumi.Input<string[]>;
    /** Verify each platform's config and entrypoint binary before tags move. Default `true`. */
    verify?: pulumi.Input<boolean>;
    /**
     * Findings of BuildKit's own Dockerfile checks (`docker buildx build --call=check`, per
     * platform, once the builder exists) and of this library's rules fail the preview instead
     * of warning. Default `false`.
     */
    strict?: boolean;
    /** Delete the pushed manifests (registry API), the loaded image's tags and the exported files on destroy. Default `false`: all are kept. */
    deleteOnDestroy?: pulumi.Input<boolean>;
}

/**
 * One build context built for several platforms with a {@link BuildxBuilder} and pushed as a
 * manifest list. Rebuilds only when the content of the context (after .dockerignore), the
 * Dockerfile or a build input changes; the rebuild decision does not depend on the machine.
 */
export class MultiArchImage extends pulumi.ComponentResource {
    /** Digest of the pushed index. */
    readonly digest: pulumi.Output<string>;
    /** platform -> digest of that platform's image manifest. */
    readonly platformDigests: pulumi.Output<Record<string, string>>;
    /** `<repository>@<digest>`: pull this to get exactly what was built. */
    readonly ref: pulumi.Output<string>;
    /** Every tag pushed (per-arch tags in that mode). */
    readonly tags: pulumi.Output<string[]>;
    /** The manifest mode used ("auto" resolved). */
    readonly manifestMode: pulumi.Output<string>;
    /** platform -> what verification found (config platform, entrypoint binary architecture). */
    readonly verification: pulumi.Output<Record<string, string>>;
    /** Content digest of context + Dockerfile that the last build used. */
    readonly contextDigest: pulumi.Output<string>;
    /** What drove the last build: `["create"]` or the inputs that changed. */
    readonly buildReason: pulumi.Output<string[]>;
    /** registry -> the manifest mode used there ("auto" resolved per registry). */
    readonly manifestModes: pulumi.Output<Record<string, string>>;
    /** The loaded image's ID in the docker engine, or "". */
    readonly loadedImage: pulumi.Output<string>;
    /** What each export wrote: type, dest, the image digest inside (oci, docker), the file's or folder's content digest. */
    readonly exported: pulumi.Output<ExportResult[]>;
    /**
     * How each platform is built, as the last preview planned it: the builder node, native or
     * emulated (through which binfmt handler), and per stage of the target the platform its RUN
     * steps run on (the build platform, the target's, or one its FROM pins) and whether emulated.
     */
    readonly buildPlan: pulumi.Output<PlatformPlan[]>;
    /** What the last build spent in RUN steps that ran under emulation, per step, from the builder's build history. */
    readonly emulationCost: pulumi.Output<EmulationCost>;

    constructor(name: string, args: MultiArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.MultiArchImage, name, {}, componentOptions("MultiArchImage", opts));
        const warn = (msg: string) => void pulumi.log.warn(msg, this);
        const created = createImageInputs(args, warn);
        const builder = builderOf(args.builder);
        const registryAuth = args.registry
            ? registryLogin(args.registry, created.tags as pulumi.Output<string[]>)
            : undefined;
        const inputs = {
            ...created,
            ...builder.inputs,
            buildkitChecks: buildkitChecks(args, builder.name, created, warn, (msg) => void pulumi.log.info(msg, this)),
            strict: args.strict ?? false,
            secrets: args.secrets ?? {},
            registryAuth,
            registries: registryLogins(
                args.registries,
                registryAuth ? registryAuth.apply((a) => a.address) : undefined,
            ),
        };
        const res = new Image(`${name}-image`, inputs, { parent: this, dependsOn: builder.dependsOn });
        this.digest = res.digest;
        this.platformDigests = res.platformDigests;
        this.ref = res.ref;
        this.tags = res.pushedTags;
        this.manifestMode = res.manifestMode;
        this.verification = res.verification;
        this.contextDigest = res.contextDigest;
        this.buildReason = res.buildReason;
        this.manifestModes = res.manifestModes;
        this.loadedImage = res.loadedImage;
        this.exported = res.exported;
        this.buildPlan = res.buildPlan;
        this.emulationCost = res.emulationCost;
        this.registerOutputs({
            digest: this.digest,
            platformDigests: this.platformDigests,
            ref: this.ref,
            tags: this.tags,
            contextDigest: this.contextDigest,
            buildReason: this.buildReason,
            manifestMode: this.manifestMode,
            verification: this.verification,
            manifestModes: this.manifestModes,
            loadedImage: this.loadedImage,
            exported: this.exported,
            buildPlan: this.buildPlan,
            emulationCost: this.emulationCost,
        });
    }
}

/** The pushed image itself, managed by the plugin (provider, image lifecycle). */
class Image extends PluginResource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly platformDigests: pulumi.Output<Record<string, string>>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly pushedTags: pulumi.Output<string[]>;
    declare readonly manifestMode: pulumi.Output<string>;
    declare readonly verification: pulumi.Output<Record<string, string>>;
    declare readonly contextDigest: pulumi.Output<string>;
    declare readonly buildReason: pulumi.Output<string[]>;
    declare readonly manifestModes: pulumi.Output<Record<string, string>>;
    declare readonly loadedImage: pulumi.Output<string>;
    declare readonly exported: pulumi.Output<ExportResult[]>;
    declare readonly buildPlan: pulumi.Output<PlatformPlan[]>;
    declare readonly emulationCost: pulumi.Output<EmulationCost>;

    constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions & { parent: MultiArchImage }) {
        super(
            RESOURCE_TYPES.Image,
            name,
            {
                ...inputs,
                ...outputsOnly([
                    "digest",
                    "platformDigests",
                    "ref",
                    "buildReason",
                    "pushedTags",
                    "manifestMode",
                    "verification",
                    "manifestModes",
                    "loadedImage",
                    "exported",
                    "drift",
                    "buildPlan",
                    "emulationCost",
                ]),
            },
            opts,
        );
    }
}

/**
 * The image's builder as inputs: a BuildxBuilder of the stack (a dependency, with its reported
 * platforms and its buildkitd config), or a builder by name (read by the plugin at preview).
 */
function builderOf(b: BuildxBuilder | BuilderConfigArgs): {
    name: pulumi.Input<string>;
    inputs: pulumi.Inputs;
    dependsOn: pulumi.Resource[];
} {
    if (b instanceof BuildxBuilder || pulumi.Resource.isInstance(b)) {
        const managed = b as BuildxBuilder;
        return {
            name: managed.name,
            inputs: {
                builder: managed.name,
                builderPlatforms: managed.platforms,
                builderDeclared: managed.declared,
                ...(managed.buildkitdConfig ? { builderConfig: managed.buildkitdConfig } : {}),
            },
            dependsOn: [managed],
        };
    }
    const name = validated({ n: b?.name }, ({ n }) => {
        const e = new ArgErrors("MultiArchImage");
        if (!n) e.add("builder.name", "give the name of an existing builder (`docker buildx ls`), or a BuildxBuilder");
        else if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(n))
            e.add("builder.name", `"${n}" is not a builder name: buildx names use letters, digits, "-", "_" and "."`);
        e.throwIfAny();
        return n!;
    });
    return { name, inputs: { builder: name, existingBuilder: true }, dependsOn: [] };
}

/**
 * BuildKit's own Dockerfile checks for each platform, through the image's builder once it
 * exists. At a stack's first preview there is no BuildKit of the stack to ask (`up` runs them
 * after creating the builder, before the build): the library's rules stand in for BuildKit's
 * where it has the same one (the final stage pinned to a constant platform), so the first
 * preview warns as later ones do. Where BuildKit's finding is about the final stage, it says
 * what that means for this build. Each finding is a warning with its rule and line, or, with
 * `strict`, an error of the image's check that stops the preview. Remembered per Dockerfile
 * (see {@link cachedCheck}); at an update they are asked only with `strict`: the build itself
 * runs the same checks and prints them.
 */
function buildkitChecks(
    args: MultiArchImageArgs,
    builderName: pulumi.Input<string>,
    inputs: pulumi.Inputs,
    warn: (msg: string) => void,
    note: (msg: string) => void,
): pulumi.Output<string[]> {
    return pulumi
        .all([
            builderName,
            inputs.platforms,
            inputs.context,
            inputs.dockerfile,
            inputs.dockerfileInline,
            inputs.namedContexts,
            inputs.buildArgs,
            inputs.target,
        ])
        .apply(
            async ([builder, platforms, context, dockerfile, dockerfileInline, namedContexts, buildArgs, target]: [
                string,
                string[],
                string,
                string | undefined,
                string | undefined,
                Record<string, string> | undefined,
                Record<string, string>,
                string | undefined,
            ]) => {
                if (!builder || !platforms?.length) return [];
                if (dockerfileInRepository({ context, dockerfile, dockerfileInline })) {
                    note(
                        "BuildKit's Dockerfile checks run at build time only: the Dockerfile is read from the Git repository",
                    );
                    return [];
                }
                const name = dockerfileInline !== undefined ? "<inline Dockerfile>" : dockerfile;
                let text: string;
                try {
                    text = dockerfileInline ?? fs.readFileSync(dockerfile!, "utf8");
                } catch {
                    return []; // a missing Dockerfile is the args' error, said by createImageInputs
                }
                // With strict, the image provider's check turns them into errors (a throw here would
                // not stop an inline program cleanly).
                const give = (msgs: string[]) => {
                    if (!args.strict) for (const m of msgs) warn(m);
                    return msgs;
                };
                const ours = lintDockerfile(text, platforms).filter((f) => f.buildkitRule);
                const oursInstead = () =>
                    give(
                        ours.map(
                            (f) =>
                                `${name}:${f.line}: ${f.message} [${f.rule}, in place of BuildKit's ${f.buildkitRule}]`,
                        ),
                    );
                const seen = new Map<string, string[]>();
                // The builder is looked up only when a check is not remembered: a no-op runs no docker.
                let builderExists: boolean | undefined;
                for (const platform of platforms) {
                    const o = {
                        builder,
                        context,
                        platform,
                        buildArgs: buildArgs ?? {},
                        target,
                        ...(dockerfileInline !== undefined ? { dockerfileInline } : { dockerfile }),
                        ...(namedContexts ? { namedContexts } : {}),
                    };
                    let findings = rememberedCheck(o);
                    // Asked at preview; an update (or `up --skip-preview`) builds at once, and the build
                    // runs the same checks and prints their warnings: only strict asks before it.
                    if (!findings && !pulumi.runtime.isDryRun() && !args.strict) continue;
                    try {
                        if (!findings) {
                            builderExists ??= !!(await findBuilder(builder).catch(() => undefined));
                            if (!builderExists) {
                                note(
                                    `BuildKit's Dockerfile checks wait for builder ${builder}: \`pulumi up\` creates it and runs them before the build; this preview ran the library's rules`,
                                );
                                return oursInstead();
                            }
                            findings = await cachedCheck(o);
                        }
                    } catch (e) {
                        // Not a finding: the builder may be down (up recreates it); the build reports real errors.
                        warn(`BuildKit's Dockerfile checks could not run: ${(e as Error).message}`);
                        return oursInstead();
                    }
                    for (const f of findings) {
                        const same = ours.find((o) => o.buildkitRule === f.rule && o.line === f.line);
                        const detail = same ? `${f.detail}: this is the final stage, so ${same.meaning}` : f.detail;
                        const msg = `${name}${f.line ? `:${f.line}` : ""}: ${detail} [BuildKit ${f.rule}${f.url ? `, ${f.url}` : ""}]`;
                        seen.set(msg, [...(seen.get(msg) ?? []), platform]);
                    }
                }
                return give(
                    [...seen].map(([msg, ps]) => (ps.length === platforms.length ? msg : `${msg} (${ps.join(", ")})`)),
                );
            },
        );
}

/**
 * BuildKit's checks, remembered per Dockerfile content, named contexts, build args, target,
 * platform and builder (in the temp dir, core/tempDirs), so a run that changes none of them (a
 * no-op `up`) asks no BuildKit: the checks read only the Dockerfile and the base images' metadata.
 */
async function cachedCheck(o: Parameters<typeof buildkitCheck>[0]): ReturnType<typeof buildkitCheck> {
    const remembered = rememberedCheck(o);
    if (remembered) return remembered;
    const findings = await buildkitCheck(o);
    fs.writeFileSync(checkFile(o), JSON.stringify(findings));
    return findings;
}

function checkFile(o: Parameters<typeof buildkitCheck>[0]): string {
    const text = o.dockerfileInline ?? fs.readFileSync(o.dockerfile!, "utf8");
    const key = crypto
        .createHash("sha256")
        .update(JSON.stringify([text, o.namedContexts ?? {}, o.buildArgs, o.target ?? "", o.platform, o.builder]))
        .digest("hex");
    return path.join(tempDirs.cacheDir("checks"), `${key}.json`);
}

/** The findings of an earlier run of the same check, or undefined. */
function rememberedCheck(
    o: Parameters<typeof buildkitCheck>[0],
): Awaited<ReturnType<typeof buildkitCheck>> | undefined {
    try {
        return JSON.parse(fs.readFileSync(checkFile(o), "utf8"));
    } catch {
        return undefined; /* not checked yet */
    }
}

/**
 * Validates and normalizes the args (all but the builder); one Output per property. Hashes the
 * local sources and lints a local or inline Dockerfile for the requested platforms: findings go
 * to `warn`, or fail with `strict`.
 */
export function createImageInputs(args: MultiArchImageArgs, warn: (msg: string) => void = () => {}): pulumi.Inputs {
    const src = sourceArgs(args);
    // The caches on their own (their credentials are a secret, the rest is not); their errors,
    // when known now, go into the one error below with the others.
    let caches: ReturnType<typeof cacheInputs> | undefined,
        cacheErrors: { propertyPath: string; reason: string }[] = [];
    try {
        caches = cacheInputs(args.cacheFrom, args.cacheTo, typeof src.location === "string" ? src.location : "", warn);
    } catch (err) {
        if (!(err instanceof pulumi.InputPropertiesError)) throw err;
        cacheErrors = (err as any).errors;
    }
    // The entitlements a BuildKit this stack starts permits (unknown for other builders).
    const permitted = args.builder instanceof BuildxBuilder ? args.builder.entitlements : undefined;
    // The secrets' ids, where the map is given as such (its values may be secrets).
    const secretIds =
        args.secrets &&
        typeof args.secrets === "object" &&
        !pulumi.Output.isInstance(args.secrets) &&
        !(args.secrets instanceof Promise)
            ? Object.keys(args.secrets)
            : [];
    // The sources are hashed here, in the program, so `pulumi preview` knows whether to rebuild.
    const checked = validated(
        {
            platforms: args.platforms,
            tags0: args.tags,
            push0: args.push ?? true,
            manifest: args.manifest ?? "index",
            buildArgs: args.buildArgs ?? {},
            target: args.target,
            labels: args.labels ?? {},
            annotations: args.annotations ?? {},
            ssh: args.ssh ?? [],
            cacheRepository: args.cacheRepository,
            noCache: args.noCache ?? false,
            pull: args.pull ?? false,
            provenance0: args.provenance,
            sbom0: args.sbom,
            triggers: args.triggers ?? [],
            verify: args.verify ?? true,
            deleteOnDestroy: args.deleteOnDestroy ?? false,
            named: src.named,
            inline: src.inline,
            load0: args.load ?? false,
            exports0: args.exports ?? [],
            flags0: flagArgs(args),
        },
        ({
            platforms,
            tags0,
            push0,
            manifest,
            buildArgs,
            target,
            labels,
            annotations,
            ssh,
            cacheRepository,
            noCache,
            pull,
            provenance0,
            sbom0,
            triggers,
            verify,
            deleteOnDestroy,
            named,
            inline,
            load0,
            exports0,
            flags0,
        }): Pick<ImageInputs, FieldsFrom<"args">> => {
            const e = new ArgErrors("MultiArchImage");
            const sources = checkSources(e, src, named, inline);
            const normalized = checkPlatforms(e, "platforms", platforms);
            const provenance = checkAttestation(e, "provenance", provenance0),
                sbom = checkAttestation(e, "sbom", sbom0);
            const stages = sources?.dockerfileText ? stageNames(sources.dockerfileText.text) : undefined;
            const flags = checkBuildFlags(e, flags0, secretIds, stages, permitted);
            for (const c of cacheErrors) e.add(c.propertyPath, c.reason);
            // Exports can add the push (a registry export) and the load (a docker export without dest).
            const { exports, load, push, tags } = checkOutputs(e, {
                exports: exports0 as any[],
                load: load0,
                push: push0,
                tags: tags0 ?? [],
                platforms: normalized,
                provenance: attests(provenance),
                sbom: attests(sbom),
                context: typeof src.location === "string" ? src.location : "",
            });
            if (tags.length === 0 && (push || (!load && !exports.length))) {
                e.add(
                    "tags",
                    `give at least one tag, e.g. ["localhost:5000/hello:1.0"]${push ? "" : ", or an output: load or exports"}`,
                );
            }
            tags.forEach((t, i) => {
                try {
                    if (parseRef(t).digest)
                        e.add(`tags[${i}]`, `"${t}" pins a digest; a tag cannot include @sha256:...`);
                } catch (err) {
                    e.add(`tags[${i}]`, (err as Error).message);
                }
            });
            if (normalized.length && sources?.dockerfileText) {
                const { name, text } = sources.dockerfileText;
                // Those BuildKit has too are given with BuildKit's checks (buildkitChecks).
                for (const f of lintDockerfile(text, normalized).filter((x) => !x.buildkitRule)) {
                    const msg = `${name}:${f.line}: ${f.message} [${f.rule}]`;
                    if (args.strict) e.add(src.inline !== undefined ? "dockerfile.inline" : src.dockerfileProp, msg);
                    else warn(msg);
                }
            }
            if (!["index", "per-arch-tags", "auto"].includes(manifest))
                e.add("manifest", `"${manifest}" is not a manifest mode: use "index", "per-arch-tags" or "auto"`);
            if (cacheRepository) {
                try {
                    if (parseRef(cacheRepository).tag !== "latest" || cacheRepository.includes("@")) throw new Error();
                } catch {
                    e.add(
                        "cacheRepository",
                        `"${cacheRepository}" is not a repository: write registry/repository without tag, e.g. localhost:5000/hello-cache`,
                    );
                }
            }
            e.throwIfAny();
            for (const w of sources!.warnings) warn(w);
            return {
                ...sources!.inputs,
                platforms: normalized,
                tags,
                push,
                manifest,
                buildArgs,
                ...(target ? { target } : {}),
                labels,
                annotations,
                ssh,
                ...(cacheRepository ? { cacheRepository } : {}),
                noCache,
                pull,
                provenance,
                sbom,
                triggers,
                verify,
                deleteOnDestroy,
                load,
                exports,
                ...flags,
            };
        },
    );
    return {
        ...spread(checked, ARGS_FIELDS),
        ...caches!,
    };
}

/**
 * The `registry` login as the image takes it, with the registry it is for: `server`, one of the
 * tags' registries, or the tags' one registry. Each missing part, a server the tags do not
 * name, or no server with tags in several registries, is refused.
 */
export function registryLogin(
    r: RegistryArgs,
    tags: pulumi.Input<string[]>,
): pulumi.Output<RegistryAuth & { address: string }> {
    return pulumi.all([r.server, r.username, r.password, tags]).apply(([server, username, password, tags]) => {
        const e = new ArgErrors("MultiArchImage");
        if (!username)
            e.add(
                "registry.username",
                "give the login's user name, or drop registry: the docker config's logins are used",
            );
        if (!password) e.add("registry.password", "give the login's password or token, as a Pulumi secret");
        const hosts = registriesOfTags(tags);
        let address = hosts[0];
        if (server) {
            address = registryOfServer(server);
            if (hosts.length && !hosts.includes(address)) {
                e.add(
                    "registry.server",
                    `"${server}" is not the tags' registry (${hosts.join(", ")}): this login is for a registry the image is pushed to; log in to others with registries (or \`docker login\`)`,
                );
            }
        } else if (hosts.length > 1) {
            e.add(
                "registry.server",
                `the tags are in several registries (${hosts.join(", ")}): name the one this login is for, and log in to the others with registries`,
            );
        }
        if (!address) e.add("registry.server", "the image has no tags: name the registry this login is for");
        e.throwIfAny();
        return { username: username!, password: password!, address: address };
    });
}
