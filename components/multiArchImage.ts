import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder } from "./buildxBuilder";
import { check as buildkitCheck, find as findBuilder } from "./core/buildx";
import { hashContext, summarizeFiles } from "./core/context";
import { lintDockerfile } from "./core/lint";
import { registryOfServer } from "./core/dockerConfig";
import { parseRef } from "./core/registry";
import * as tempDirs from "./core/tempDirs";
import { COMPONENT_TYPES, RESOURCE_TYPES } from "./contract/tokens";
import type { ImageInputs, ManifestMode } from "./contract/types";
import { componentOptions, outputsOnly, PluginResource, spread } from "./resourceProps";
import { ArgErrors, checkPlatforms, validated } from "./validate";

/**
 * A login for the tags' registry, added to the user's docker config (its logins and
 * credential helpers stay in force for every other registry, e.g. a private base image).
 */
export interface RegistryArgs {
    /**
     * The registry the login is for, as `@pulumi/docker`'s registry args name it (`https://`,
     * Docker Hub's `index.docker.io` allowed). Default: the tags' registry; another is refused.
     */
    server?: pulumi.Input<string | undefined>;
    /** User name for the tags' registry. Default none: required. */
    username?: pulumi.Input<string | undefined>;
    /** A Pulumi secret: encrypted in state; reaches buildx through a private 0600 copy of the docker config, never argv. Default none: required. */
    password?: pulumi.Input<string | undefined>;
}

/** Arguments of {@link MultiArchImage}. */
export interface MultiArchImageArgs {
    /** Build context directory, relative to the program (e.g. `"./app"`). */
    context: string;
    /** Dockerfile path. Default `<context>/Dockerfile`. */
    dockerfile?: string;
    /** Platforms to build, e.g. `["linux/amd64", "linux/arm64"]`. */
    platforms: pulumi.Input<string[]>;
    /** Tags to push, e.g. `["localhost:5000/hello:1.0"]`; all in one repository. */
    tags: pulumi.Input<string[]>;
    /** Push to the registry. Default `true`. */
    push?: pulumi.Input<boolean>;
    /** The builder; the image depends on it and, through it, on its emulators. */
    builder: BuildxBuilder;
    /**
     * `"index"` (default): each tag points at one manifest list / OCI index.
     * `"per-arch-tags"`: no list; one tag per architecture (`<tag>-amd64`, `<tag>-arm64`), for
     * registries that keep no manifest lists (the article's company registry) or consumers
     * that reject an index. `"auto"`: probe the registry once; fall back to per-arch tags
     * with a warning.
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
    secrets?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** SSH agent sockets or keys to forward (`--ssh`), e.g. `["default"]`. Default none. */
    ssh?: pulumi.Input<string[]>;
    /** Cache sources (`--cache-from`). Default none. */
    cacheFrom?: pulumi.Input<string[]>;
    /** Cache exports (`--cache-to`). Default none. */
    cacheTo?: pulumi.Input<string[]>;
    /**
     * A repository for an automatic registry cache per platform (`<repo>:amd64`,
     * `<repo>:arm64`, mode=max). One registry cache ref keeps only the last platform of a
     * multi-platform build (docker/buildx#1044), so with this set each platform is built by
     * its own (parallel) invocation and the index is assembled from them. Default none.
     */
    cacheRepository?: pulumi.Input<string>;
    /** Ignore the build cache (`--no-cache`). Default `false`. */
    noCache?: pulumi.Input<boolean>;
    /** Always pull base images (`--pull`). Default `false`. */
    pull?: pulumi.Input<boolean>;
    /** Provenance attestation. Default `false` (it adds unknown/unknown entries that some consumers reject). */
    provenance?: pulumi.Input<boolean>;
    /** SBOM attestation. Default `false`. */
    sbom?: pulumi.Input<boolean>;
    /**
     * A login for the tags' registry, used by the push and everything after it; it wins over
     * the docker config's for that registry. Default none: the docker config's logins and
     * credential helpers (`docker login`), as `docker buildx build --push` uses them.
     */
    registry?: RegistryArgs;
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
    /** Delete the pushed manifests on destroy (registry API). Default `false`: images are kept. */
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

    constructor(name: string, args: MultiArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.MultiArchImage, name, {}, componentOptions("MultiArchImage", opts));
        const warn = (msg: string) => pulumi.log.warn(msg, this);
        const created = createImageInputs(args, warn);
        const inputs = {
            ...created, builder: args.builder.name, builderPlatforms: args.builder.platforms,
            ...(args.builder.buildkitdConfig ? { builderConfig: args.builder.buildkitdConfig } : {}),
            buildkitChecks: buildkitChecks(args, created, warn), strict: args.strict ?? false,
            secrets: args.secrets ?? {},
            registryAuth: args.registry ? registryLogin(args.registry, args.tags) : undefined,
        };
        const res = new Image(`${name}-image`, inputs, {
            parent: this, dependsOn: [args.builder],
            // The registry password stays encrypted in state even if given as a plain string (the
            // build secrets are in no output: the plugin keeps only how often they changed).
            additionalSecretOutputs: ["registryAuth"],
        });
        this.digest = res.digest;
        this.platformDigests = res.platformDigests;
        this.ref = res.ref;
        this.tags = res.pushedTags;
        this.manifestMode = res.manifestMode;
        this.verification = res.verification;
        this.contextDigest = res.contextDigest;
        this.buildReason = res.buildReason;
        this.registerOutputs({
            digest: this.digest, platformDigests: this.platformDigests, ref: this.ref, tags: this.tags,
            contextDigest: this.contextDigest, buildReason: this.buildReason, manifestMode: this.manifestMode, verification: this.verification,
        });
    }
}

/** The pushed image itself, managed by the plugin (components/plugin, image lifecycle). */
class Image extends PluginResource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly platformDigests: pulumi.Output<Record<string, string>>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly pushedTags: pulumi.Output<string[]>;
    declare readonly manifestMode: pulumi.Output<string>;
    declare readonly verification: pulumi.Output<Record<string, string>>;
    declare readonly contextDigest: pulumi.Output<string>;
    declare readonly buildReason: pulumi.Output<string[]>;

    constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions & { parent: MultiArchImage }) {
        super(RESOURCE_TYPES.Image, name, { ...inputs, ...outputsOnly(["digest", "platformDigests", "ref", "buildReason", "pushedTags", "manifestMode", "verification"]) }, opts);
    }
}

/**
 * BuildKit's own Dockerfile checks for each platform, through the image's builder once it
 * exists (before that, at a stack's first preview, there is no BuildKit to ask; `up` runs
 * them after creating the builder and before the build). Each finding is a warning with its
 * rule and line, or, with `strict`, an error of the image's check that stops the preview.
 */
function buildkitChecks(args: MultiArchImageArgs, inputs: pulumi.Inputs, warn: (msg: string) => void): pulumi.Output<string[]> {
    return pulumi.all([args.builder.name, inputs.platforms, inputs.dockerfile, inputs.buildArgs, inputs.target]).apply(
        async ([builder, platforms, dockerfile, buildArgs, target]: [string, string[], string, Record<string, string>, string | undefined]) => {
            if (!builder || !platforms?.length || !(await findBuilder(builder).catch(() => undefined))) return [];
            const seen = new Map<string, string[]>();
            for (const platform of platforms) {
                let findings;
                try {
                    findings = await cachedCheck({ builder, context: args.context, dockerfile, platform, buildArgs: buildArgs ?? {}, target });
                } catch (e) {
                    // Not a finding: the builder may be down (up recreates it); the build reports real errors.
                    warn(`BuildKit's Dockerfile checks could not run: ${(e as Error).message}`);
                    return [];
                }
                for (const f of findings) {
                    const msg = `${dockerfile}${f.line ? `:${f.line}` : ""}: ${f.detail} [BuildKit ${f.rule}${f.url ? `, ${f.url}` : ""}]`;
                    seen.set(msg, [...(seen.get(msg) ?? []), platform]);
                }
            }
            const out = [...seen].map(([msg, ps]) => (ps.length === platforms.length ? msg : `${msg} (${ps.join(", ")})`));
            // With strict, the image provider's check turns them into errors (a throw here would
            // not stop an inline program cleanly).
            if (!args.strict) for (const m of out) warn(m);
            return out;
        });
}

/**
 * BuildKit's checks, remembered per Dockerfile content, build args, target, platform and
 * builder (in the temp dir, core/tempDirs), so a run that changes none of them (a no-op `up`) asks no
 * BuildKit: the checks read only the Dockerfile and the base images' metadata.
 */
async function cachedCheck(o: Parameters<typeof buildkitCheck>[0]): ReturnType<typeof buildkitCheck> {
    const key = crypto.createHash("sha256").update(JSON.stringify([fs.readFileSync(o.dockerfile, "utf8"), o.buildArgs, o.target ?? "", o.platform, o.builder])).digest("hex");
    const file = path.join(tempDirs.cacheDir("checks"), `${key}.json`);
    try { return JSON.parse(fs.readFileSync(file, "utf8")); } catch { /* not checked yet */ }
    const findings = await buildkitCheck(o);
    fs.writeFileSync(file, JSON.stringify(findings));
    return findings;
}

/**
 * Validates and normalizes the args (all but the builder); one Output per property. Lints
 * the Dockerfile for the requested platforms: findings go to `warn`, or fail with `strict`.
 */
export function createImageInputs(args: MultiArchImageArgs, warn: (msg: string) => void = () => {}): pulumi.Inputs {
    const errs = new ArgErrors("MultiArchImage");
    // The context is hashed here, in the program, so `pulumi preview` knows whether to rebuild.
    const dockerfile = args.dockerfile ?? path.join(args.context ?? ".", "Dockerfile");
    if (!args.context || !fs.existsSync(args.context) || !fs.statSync(args.context).isDirectory()) {
        errs.add("context", `"${args.context}" is not a directory: give the build context relative to the program, e.g. "./app"`);
    } else if (!fs.existsSync(dockerfile)) {
        errs.add("dockerfile", `"${dockerfile}" does not exist: create it or point dockerfile at yours`);
    }
    errs.throwIfAny();
    const digest = hashContext(args.context, dockerfile);
    const checked = validated([
        args.platforms, args.tags, args.push ?? true, args.manifest ?? "index", args.buildArgs ?? {}, args.target,
        args.labels ?? {}, args.annotations ?? {}, args.ssh ?? [], args.cacheFrom ?? [], args.cacheTo ?? [], args.cacheRepository,
        args.noCache ?? false, args.pull ?? false, args.provenance ?? false, args.sbom ?? false, args.triggers ?? [], args.verify ?? true,
        args.deleteOnDestroy ?? false,
    ], ([platforms, tags, push, manifest, buildArgs, target, labels, annotations, ssh, cacheFrom, cacheTo, cacheRepository,
        noCache, pull, provenance, sbom, triggers, verify, deleteOnDestroy]): Omit<ImageInputs, "builder" | "secrets" | "registryAuth"> => {
        const e = new ArgErrors("MultiArchImage");
        const normalized = checkPlatforms(e, "platforms", platforms);
        if (!tags || tags.length === 0) e.add("tags", `give at least one tag, e.g. ["localhost:5000/hello:1.0"]`);
        const repos = new Set<string>();
        (tags ?? []).forEach((t, i) => {
            try {
                const r = parseRef(t);
                repos.add(`${r.registry}/${r.repository}`);
                if (r.digest) e.add(`tags[${i}]`, `"${t}" pins a digest; a tag cannot include @sha256:...`);
            } catch (err) {
                e.add(`tags[${i}]`, (err as Error).message);
            }
        });
        if (repos.size > 1) e.add("tags", `all tags must be in one repository, got ${[...repos].join(", ")}: use one MultiArchImage per repository`);
        if (normalized.length && fs.existsSync(dockerfile)) {
            for (const f of lintDockerfile(fs.readFileSync(dockerfile, "utf8"), normalized)) {
                const msg = `${dockerfile}:${f.line}: ${f.message} [${f.rule}]`;
                if (args.strict) e.add("dockerfile", msg);
                else warn(msg);
            }
        }
        if (!["index", "per-arch-tags", "auto"].includes(manifest)) e.add("manifest", `"${manifest}" is not a manifest mode: use "index", "per-arch-tags" or "auto"`);
        if (cacheRepository) {
            try { if (parseRef(cacheRepository).tag !== "latest" || cacheRepository.includes("@")) throw new Error(); } catch {
                e.add("cacheRepository", `"${cacheRepository}" is not a repository: write registry/repository without tag, e.g. localhost:5000/hello-cache`);
            }
        }
        e.throwIfAny();
        return {
            context: args.context, dockerfile, platforms: normalized, tags, push, manifest, buildArgs,
            ...(target ? { target } : {}),
            labels, annotations, ssh, cacheFrom, cacheTo, ...(cacheRepository ? { cacheRepository } : {}),
            noCache, pull, provenance, sbom, triggers, verify, deleteOnDestroy,
            contextDigest: digest.digest, contextFiles: summarizeFiles(digest.files),
        };
    });
    return spread(checked, ["context", "dockerfile", "platforms", "tags", "push", "manifest", "buildArgs", "target",
        "labels", "annotations", "ssh", "cacheFrom", "cacheTo", "cacheRepository", "noCache", "pull", "provenance", "sbom",
        "triggers", "verify", "deleteOnDestroy", "contextDigest", "contextFiles"]);
}

/** The `registry` login as the image takes it; each missing part, or a server other than the tags' registry, is refused. */
export function registryLogin(r: RegistryArgs, tags: pulumi.Input<string[]>): pulumi.Output<{ username: string; password: string }> {
    return pulumi.all([r.server, r.username, r.password, tags]).apply(([server, username, password, tags]) => {
        const e = new ArgErrors("MultiArchImage");
        if (!username) e.add("registry.username", "give the login's user name, or drop registry: the docker config's logins are used");
        if (!password) e.add("registry.password", "give the login's password or token, as a Pulumi secret");
        let host: string | undefined;
        try { host = tags?.[0] ? parseRef(tags[0]).registry : undefined; } catch { /* refused with the tags */ }
        if (server && host && registryOfServer(server) !== host) {
            e.add("registry.server", `"${server}" is not the tags' registry (${host}): this login is for the registry the image is pushed to; log in to others with \`docker login\``);
        }
        e.throwIfAny();
        return { username: username!, password: password! };
    });
}
