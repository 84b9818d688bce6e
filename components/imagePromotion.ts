// Build once, promote by digest: what another stack (or resource) built and verified, copied
// to tags in other repositories and registries without a rebuild, as state. The copy itself is
// the plugin's (provider/resources/promotion.ts); this is what a program writes.
import * as pulumi from "@pulumi/pulumi";

import { COMPONENT_TYPES, RESOURCE_TYPES } from "../contract/tokens";
import type { ManifestMode } from "../contract/types";
import type { CopyStats } from "../core/copy";
import { parseRef } from "../core/registry";
import { type RegistryLoginArgs, registryLogins } from "./destinations";
import { outputsOnly, PluginResource, spread } from "./resourceProps";
import { ArgErrors, validated } from "./validate";

/** Arguments of {@link ImagePromotion}. */
export interface ImagePromotionArgs {
    /**
     * The image to promote, by digest: `registry/repository@sha256:...`, typically another
     * stack's `ref` output (`new pulumi.StackReference("organization/project/dev").getOutput("ref")`)
     * or a MultiArchImage's `ref`. A tag alone is refused: it could move between preview and up.
     */
    source: pulumi.Input<string>;
    /** Tags to point at it, in any repositories and registries, e.g. `["registry.corp:5000/hello:1.0"]`. */
    tags: pulumi.Input<string[]>;
    /**
     * `"index"` (default): each tag points at the source's own index, the same digest.
     * `"per-arch-tags"`: no index; one tag per architecture (`<tag>-amd64`, `<tag>-arm64`) on the
     * source's platform manifests, for registries that keep no manifest lists. `"auto"`: probe
     * each registry once, as MultiArchImage does.
     */
    manifest?: pulumi.Input<ManifestMode>;
    /**
     * Logins for the source's and the targets' registries, `@pulumi/docker-build`'s `registries`
     * shape; each adds to the docker config's logins and credential helpers. Default none.
     */
    registries?: pulumi.Input<pulumi.Input<RegistryLoginArgs>[]>;
    /**
     * Promote only an image that carries a verification record covering it (what MultiArchImage
     * and Index attach after verifying); checked at preview. Default `true`.
     */
    requireVerification?: pulumi.Input<boolean>;
    /** Delete the copied manifests at the targets on destroy (never in the source's repository). Default `false`: copies are kept. */
    deleteOnDestroy?: pulumi.Input<boolean>;
}

/**
 * An image promoted by digest: the index, every platform's manifest, config and layer blobs,
 * attestations and referrers (its verification record among them) copied to `tags`, mounted
 * within a registry and streamed across registries, never rebuilt. `pulumi preview` says what
 * it will copy, `pulumi refresh` sees a tag moved or deleted, `pulumi up` puts it back.
 */
export class ImagePromotion extends pulumi.ComponentResource {
    /** Digest of the index at the targets: the source's own ("" when every target has per-arch tags). */
    readonly digest: pulumi.Output<string>;
    /** platform -> digest of that platform's image manifest (the same as at the source). */
    readonly platformDigests: pulumi.Output<Record<string, string>>;
    /** `<first target repository>@<digest>`: pull this to get exactly what was promoted. */
    readonly ref: pulumi.Output<string>;
    /** Every tag pointed at the image (per-arch tags where the registry keeps no lists). */
    readonly tags: pulumi.Output<string[]>;
    /** registry -> "index" or "per-arch-tags" ("auto" resolved). */
    readonly manifestModes: pulumi.Output<Record<string, string>>;
    /** platform -> what verification found, from the source's verification record. */
    readonly verification: pulumi.Output<Record<string, string>>;
    /** What the last copy did: manifests put, blobs copied (and their bytes), mounted, already there. */
    readonly copied: pulumi.Output<CopyStats>;

    constructor(name: string, args: ImagePromotionArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.ImagePromotion, name, {}, opts);
        const checked = validated(
            {
                source: args.source,
                tags: args.tags,
                manifest: args.manifest ?? "index",
                requireVerification: args.requireVerification ?? true,
                deleteOnDestroy: args.deleteOnDestroy ?? false,
            },
            ({ source, tags, manifest, requireVerification, deleteOnDestroy }) => {
                const e = new ArgErrors("ImagePromotion");
                try {
                    if (!parseRef(source).digest)
                        e.add(
                            "source",
                            `"${source}" names no digest: give the image by digest (registry/repository@sha256:...), e.g. a stack's ref output`,
                        );
                } catch (err) {
                    e.add("source", (err as Error).message);
                }
                if (!tags?.length) e.add("tags", `give at least one tag, e.g. ["registry.corp:5000/hello:1.0"]`);
                (tags ?? []).forEach((t, i) => {
                    try {
                        if (parseRef(t).digest)
                            e.add(`tags[${i}]`, `"${t}" pins a digest; a tag cannot include @sha256:...`);
                    } catch (err) {
                        e.add(`tags[${i}]`, (err as Error).message);
                    }
                });
                if (!["index", "per-arch-tags", "auto"].includes(manifest))
                    e.add("manifest", `"${manifest}" is not a manifest mode: use "index", "per-arch-tags" or "auto"`);
                e.throwIfAny();
                return { source, tags: [...new Set(tags)], manifest, requireVerification, deleteOnDestroy };
            },
        );
        const res = new ImageCopy(
            `${name}-copy`,
            {
                ...spread(checked, ["source", "tags", "manifest", "requireVerification", "deleteOnDestroy"]),
                registries: registryLogins(args.registries, undefined, "ImagePromotion"),
            },
            { parent: this },
        );
        this.digest = res.digest;
        this.platformDigests = res.platformDigests;
        this.ref = res.ref;
        this.tags = res.pushedTags;
        this.manifestModes = res.manifestModes;
        this.verification = res.verification;
        this.copied = res.copied;
        this.registerOutputs({
            digest: this.digest,
            platformDigests: this.platformDigests,
            ref: this.ref,
            tags: this.tags,
            manifestModes: this.manifestModes,
            verification: this.verification,
            copied: this.copied,
        });
    }
}

/** The copy itself, managed by the plugin (provider, promotion lifecycle). */
class ImageCopy extends PluginResource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly platformDigests: pulumi.Output<Record<string, string>>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly pushedTags: pulumi.Output<string[]>;
    declare readonly manifestModes: pulumi.Output<Record<string, string>>;
    declare readonly verification: pulumi.Output<Record<string, string>>;
    declare readonly copied: pulumi.Output<CopyStats>;

    constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions & { parent: ImagePromotion }) {
        super(
            RESOURCE_TYPES.ImageCopy,
            name,
            {
                ...inputs,
                ...outputsOnly([
                    "digest",
                    "platformDigests",
                    "ref",
                    "pushedTags",
                    "manifestModes",
                    "verification",
                    "verificationRecord",
                    "copied",
                    "plan",
                    "drift",
                ]),
            },
            opts,
        );
    }
}
