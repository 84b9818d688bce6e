import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder } from "./buildxBuilder";
import { hashContext } from "./core/context";
import { parseRef } from "./core/registry";
import { imageProvider, ImageInputs } from "./providers/imageProvider";
import { outputsOnly, spread } from "./dynamic";
import { ArgErrors, checkPlatforms, validated } from "./validate";

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
    /** `"index"`: one tag pointing at a manifest list / OCI index. Default `"index"`. */
    manifest?: pulumi.Input<"index">;
    /** Build arguments (`--build-arg`). Default `{}`. */
    buildArgs?: pulumi.Input<Record<string, string>>;
    /** Target stage (`--target`). Default: the last stage. */
    target?: pulumi.Input<string>;
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
    readonly tags: pulumi.Output<string[]>;
    /** Content digest of context + Dockerfile that the last build used. */
    readonly contextDigest: pulumi.Output<string>;
    /** What drove the last build: `["create"]` or the inputs that changed. */
    readonly buildReason: pulumi.Output<string[]>;

    constructor(name: string, args: MultiArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pulumi-multiarch:index:MultiArchImage", name, {}, opts);
        const inputs = { ...createImageInputs(args), builder: args.builder.name, builderPlatforms: args.builder.platforms };
        const res = new Image(`${name}-image`, inputs, { parent: this, dependsOn: [args.builder] });
        this.digest = res.digest;
        this.platformDigests = res.platformDigests;
        this.ref = res.ref;
        this.tags = res.tags;
        this.contextDigest = res.contextDigest;
        this.buildReason = res.buildReason;
        this.registerOutputs({ digest: this.digest, platformDigests: this.platformDigests, ref: this.ref, tags: this.tags, contextDigest: this.contextDigest, buildReason: this.buildReason });
    }
}

/** The pushed image itself, managed by {@link imageProvider}. */
class Image extends pulumi.dynamic.Resource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly platformDigests: pulumi.Output<Record<string, string>>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly tags: pulumi.Output<string[]>;
    declare readonly contextDigest: pulumi.Output<string>;
    declare readonly buildReason: pulumi.Output<string[]>;

    constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super(imageProvider, name, { ...inputs, ...outputsOnly(["digest", "platformDigests", "ref", "buildReason"]) }, opts, "multiarch", "Image");
    }
}

/** Validates and normalizes the args (all but the builder); one Output per property. */
export function createImageInputs(args: MultiArchImageArgs): pulumi.Inputs {
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
    ], ([platforms, tags, push, manifest, buildArgs, target]): Omit<ImageInputs, "builder"> => {
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
        if (manifest !== "index") e.add("manifest", `"${manifest}" is not supported yet: use "index"`);
        e.throwIfAny();
        return {
            context: args.context, dockerfile, platforms: normalized, tags, push, manifest, buildArgs,
            ...(target ? { target } : {}),
            contextDigest: digest.digest, contextFiles: digest.files,
        };
    });
    return spread(checked, ["context", "dockerfile", "platforms", "tags", "push", "manifest", "buildArgs", "target", "contextDigest", "contextFiles"]);
}
