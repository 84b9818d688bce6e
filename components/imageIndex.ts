// Index: one tag over images pushed elsewhere (by other resources, stacks, native machines or
// CI jobs), one per platform, by digest: `@pulumi/docker-build`'s Index (`tag`, `sources`,
// `push`, `registry`), with MultiArchImage's tag semantics, preview, refresh and verification.
// The work is the plugin's (provider/resources/indexManifest.ts).
import * as pulumi from "@pulumi/pulumi";

import { COMPONENT_TYPES, RESOURCE_TYPES } from "../contract/tokens";
import type { ManifestMode, RegistryAuth } from "../contract/types";
import type { CopyStats } from "../core/copy";
import { parseRef } from "../core/registry";
import { type RegistryLoginArgs, registryLogins } from "./destinations";
import { outputsOnly, PluginResource, spread } from "./resourceProps";
import { ArgErrors, validated } from "./validate";

/** Arguments of {@link Index}. */
export interface IndexArgs {
    /** The tag to point at the index, e.g. `"registry.corp:5000/hello:1.0"` (docker-build's `tag`). */
    tag: pulumi.Input<string>;
    /**
     * The images to join, by digest, one per platform (docker-build's `sources`): e.g. the `ref`s
     * of single-platform MultiArchImages built on native machines, or other stacks' outputs. An
     * index among them gives all its platforms.
     */
    sources: pulumi.Input<pulumi.Input<string>[]>;
    /** Push the index and move the tag. Default `true`. */
    push?: pulumi.Input<boolean | undefined>;
    /** A login for the tag's registry (docker-build's `registry`: address, username, password). Default none: the docker config's logins. */
    registry?: pulumi.Input<RegistryLoginArgs | undefined>;
    /**
     * `"index"` (default): the tag points at the index. `"per-arch-tags"`: no index; `<tag>-amd64`,
     * `<tag>-arm64` on the children, for registries that keep no lists. `"auto"`: probe once.
     */
    manifest?: pulumi.Input<ManifestMode>;
    /** Verify each child (its config and the binaries it runs, every layer read) before the tag moves. Default `true`. */
    verify?: pulumi.Input<boolean>;
    /** Delete the index on destroy (the children belong to their sources and stay). Default `false`. */
    deleteOnDestroy?: pulumi.Input<boolean>;
}

/**
 * A manifest list / OCI index assembled from images pushed elsewhere, one per platform: each
 * child's platform checked against its image config and verified, the children brought into the
 * tag's repository (mounted or streamed), the index pushed with its verification record, the tag
 * moved last. Preview says what it will copy; refresh sees the tag moved; up puts it back.
 */
export class Index extends pulumi.ComponentResource {
    /** Digest of the index ("" for per-arch tags). */
    readonly digest: pulumi.Output<string>;
    /** `<tag>@<digest>`, as docker-build's Index gives it; the tag alone when not pushed. */
    readonly ref: pulumi.Output<string>;
    /** platform -> digest of that platform's image manifest. */
    readonly platformDigests: pulumi.Output<Record<string, string>>;
    /** Every tag pushed (per-arch tags where the registry keeps no lists). */
    readonly tags: pulumi.Output<string[]>;
    /** The manifest mode used ("auto" resolved). */
    readonly manifestMode: pulumi.Output<string>;
    /** platform -> what verification found. */
    readonly verification: pulumi.Output<Record<string, string>>;
    /** What the last push copied into the tag's repository. */
    readonly copied: pulumi.Output<CopyStats>;

    constructor(name: string, args: IndexArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.Index, name, {}, opts);
        const checked = validated(
            {
                tag: args.tag,
                sources: args.sources,
                push: args.push ?? true,
                manifest: args.manifest ?? "index",
                verify: args.verify ?? true,
                deleteOnDestroy: args.deleteOnDestroy ?? false,
            },
            ({ tag, sources, push, manifest, verify, deleteOnDestroy }) => {
                const e = new ArgErrors("Index");
                try {
                    if (parseRef(tag).digest)
                        e.add("tag", `"${tag}" pins a digest; the tag cannot include @sha256:...`);
                } catch (err) {
                    e.add("tag", (err as Error).message);
                }
                if (!sources?.length)
                    e.add(
                        "sources",
                        "give the images to join, by digest, one per platform, e.g. [amd64.ref, arm64.ref]",
                    );
                (sources ?? []).forEach((s, i) => {
                    try {
                        if (!parseRef(s).digest)
                            e.add(
                                `sources[${i}]`,
                                `"${s}" names no digest: give each image by digest (registry/repository@sha256:...), e.g. a MultiArchImage's ref`,
                            );
                    } catch (err) {
                        e.add(`sources[${i}]`, (err as Error).message);
                    }
                });
                if (!["index", "per-arch-tags", "auto"].includes(manifest))
                    e.add("manifest", `"${manifest}" is not a manifest mode: use "index", "per-arch-tags" or "auto"`);
                e.throwIfAny();
                return { tag, sources, push: push ?? true, manifest, verify, deleteOnDestroy };
            },
        );
        const res = new IndexManifest(
            `${name}-index`,
            {
                ...spread(checked, ["tag", "sources", "push", "manifest", "verify", "deleteOnDestroy"]),
                registryAuth: args.registry
                    ? indexLogin(args.registry as pulumi.Input<RegistryLoginArgs>, args.tag)
                    : undefined,
            },
            { parent: this },
        );
        this.digest = res.digest;
        this.ref = res.ref;
        this.platformDigests = res.platformDigests;
        this.tags = res.pushedTags;
        this.manifestMode = res.manifestMode;
        this.verification = res.verification;
        this.copied = res.copied;
        this.registerOutputs({
            digest: this.digest,
            ref: this.ref,
            platformDigests: this.platformDigests,
            tags: this.tags,
            manifestMode: this.manifestMode,
            verification: this.verification,
            copied: this.copied,
        });
    }
}

/** The `registry` login, for the tag's registry only. */
export function indexLogin(
    login: pulumi.Input<RegistryLoginArgs>,
    tag: pulumi.Input<string>,
): pulumi.Output<RegistryAuth> {
    return pulumi.all([registryLogins([login], undefined, "Index", "registry"), tag]).apply(([[entry], t]) => {
        let host: string | undefined;
        try {
            host = parseRef(t).registry;
        } catch {
            /* refused with the tag */
        }
        if (host && entry.address !== host) {
            const e = new ArgErrors("Index");
            e.add(
                "registry.address",
                `"${entry.address}" is not the tag's registry (${host}): this login is for the registry the index is pushed to; log in to the sources' registries with \`docker login\``,
            );
            e.throwIfAny();
        }
        return { username: entry.username, password: entry.password, address: entry.address };
    });
}

/** The index itself, managed by the plugin (provider, index lifecycle). */
class IndexManifest extends PluginResource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly platformDigests: pulumi.Output<Record<string, string>>;
    declare readonly pushedTags: pulumi.Output<string[]>;
    declare readonly manifestMode: pulumi.Output<string>;
    declare readonly verification: pulumi.Output<Record<string, string>>;
    declare readonly copied: pulumi.Output<CopyStats>;

    constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions & { parent: Index }) {
        super(
            RESOURCE_TYPES.IndexManifest,
            name,
            {
                ...inputs,
                ...outputsOnly([
                    "digest",
                    "ref",
                    "platformDigests",
                    "pushedTags",
                    "manifestMode",
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
