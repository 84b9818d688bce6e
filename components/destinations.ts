// Where a MultiArchImage goes besides its tags, and who it logs in as: the `registries` logins,
// the engine's `load`, the `exports` (docker-build's shapes, so a user moves a stack over by
// renaming a type) and a builder the user already has, by name. Checked in the program, so bad
// input fails at `pulumi preview` with the property path and the fix.
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";

import type { RegistryLoginEntry } from "../contract/types";
import { registryOfServer } from "../core/dockerConfig";
import { type ExportSpec, parseRawExport } from "../core/exports";
import { parseRef } from "../core/registry";
import { ArgErrors } from "./validate";

/** A registry login, as `@pulumi/docker-build`'s `registries` entries are written. */
export interface RegistryLoginArgs {
    /** The registry, e.g. `"ghcr.io"`, `"registry.corp:5000"`, `"docker.io"` (`https://` and Docker Hub's `index.docker.io/v1/` allowed). */
    address: pulumi.Input<string>;
    /** User name. Default none: required. */
    username?: pulumi.Input<string | undefined>;
    /** Password or token, a Pulumi secret: encrypted in state, given to buildx only in a private 0600 copy of the docker config. Default none: required. */
    password?: pulumi.Input<string | undefined>;
}

/** A buildx builder the user already has, by name (`@pulumi/docker-build`'s `builder`). */
export interface BuilderConfigArgs {
    /** Its name, as `docker buildx ls` lists it (made by hand, by setup-buildx-action, ...). Default none: required. */
    name?: pulumi.Input<string | undefined>;
}

/** The image options an OCI or docker export shares (docker-build's fields). */
export interface ExportOCIArgs {
    /** The file (a tarball) or folder (`tar: false`) to write, relative to the program. Default none: required for oci; a docker export without it is the engine's load. */
    dest?: pulumi.Input<string | undefined>;
    /** A tarball (true) or an OCI layout folder (false). Default `true`. */
    tar?: pulumi.Input<boolean | undefined>;
    /** Image names recorded in the export. Default none. */
    names?: pulumi.Input<pulumi.Input<string>[] | undefined>;
    /** OCI media types. Default: the exporter's (oci: true, docker: false). */
    ociMediaTypes?: pulumi.Input<boolean | undefined>;
    /** Annotations of the exported image. Default none. */
    annotations?: pulumi.Input<Record<string, pulumi.Input<string>> | undefined>;
    /** Layer compression: gzip, estargz, zstd or uncompressed. Default: BuildKit's (gzip). */
    compression?: pulumi.Input<string | undefined>;
    /** Compression level, 0 to 22. Default: the compression's own. */
    compressionLevel?: pulumi.Input<number | undefined>;
    /** Recompress layers already compressed otherwise. Default `false`. */
    forceCompression?: pulumi.Input<boolean | undefined>;
}

/** A docker image tarball (one platform, no attestations: the docker exporter's limits). */
export interface ExportDockerArgs extends ExportOCIArgs {}

/** A folder (local) or tarball (tar) of the image's files: the final stage's filesystem, one subfolder per platform when several. */
export interface ExportLocalArgs {
    /** The folder (local) or file (tar) to write, relative to the program. Default none: required. */
    dest: pulumi.Input<string>;
}

/** Nothing written: the build fills its caches only (docker-build's `cacheonly`). */
export interface ExportCacheOnlyArgs {}

/** A push (docker-build's `registry` and `image` exports): the same push, verification and tag moves as `push` with `tags`. */
export interface ExportRegistryArgs {
    /** Where to push when the image has no `tags`. Default: the image's tags. */
    names?: pulumi.Input<pulumi.Input<string>[] | undefined>;
    /** Push. Default `true` for `registry`, `false` for `image` (then nothing leaves BuildKit's cache). */
    push?: pulumi.Input<boolean | undefined>;
}

/** One output of the build besides `push` (docker-build's `exports` entry): exactly one exporter per entry. */
export interface ExportArgs {
    /** An OCI image tarball or layout folder, every platform (`type=oci`). Default none. */
    oci?: pulumi.Input<ExportOCIArgs | undefined>;
    /** A docker image tarball (`type=docker`); without `dest`, a load into the engine (as `load`). Default none. */
    docker?: pulumi.Input<ExportDockerArgs | undefined>;
    /** The image's files in a folder (`type=local`). Default none. */
    local?: pulumi.Input<ExportLocalArgs | undefined>;
    /** The image's files in a tarball (`type=tar`). Default none. */
    tar?: pulumi.Input<ExportLocalArgs | undefined>;
    /** No output, caches only (`type=cacheonly`). Default none. */
    cacheonly?: pulumi.Input<ExportCacheOnlyArgs | undefined>;
    /** A push to the image's tags (or `names`). Default none. */
    registry?: pulumi.Input<ExportRegistryArgs | undefined>;
    /** As `registry`, but pushing only with `push: true`. Default none. */
    image?: pulumi.Input<ExportRegistryArgs | undefined>;
    /** A `--output` value as build-push-action's `outputs` and `docker buildx build -o` take it, e.g. `"type=oci,dest=image.tar"`. Default none. */
    raw?: pulumi.Input<string | undefined>;
    /** Leave this entry out. Default `false`. */
    disabled?: pulumi.Input<boolean | undefined>;
}

const KINDS = ["oci", "docker", "local", "tar", "cacheonly", "registry", "image", "raw"] as const;
const IMAGE_FIELDS = [
    "dest",
    "tar",
    "names",
    "ociMediaTypes",
    "annotations",
    "compression",
    "compressionLevel",
    "forceCompression",
];
const COMPRESSIONS = ["gzip", "estargz", "zstd", "uncompressed"];

/** What the outputs amount to: the exports to write, and the push, load and tags they add. */
export interface CheckedOutputs {
    exports: ExportSpec[];
    load: boolean;
    push: boolean;
    tags: string[];
}

/**
 * Checks `exports` (plain values), each error under `exports[i]...`, and folds in what entries
 * mean for the rest: a docker export without dest is the load, a registry export the push.
 */
export function checkOutputs(
    e: ArgErrors,
    a: {
        exports: any[];
        load: boolean;
        push: boolean;
        tags: string[];
        platforms: string[];
        provenance: boolean;
        sbom: boolean;
        context: string;
    },
): CheckedOutputs {
    const out: CheckedOutputs = { exports: [], load: a.load, push: a.push, tags: [...a.tags] };
    const dests = new Map<string, string>();
    const context = path.resolve(a.context);
    (a.exports ?? []).forEach((entry0, i) => {
        const at = `exports[${i}]`;
        if (!entry0 || typeof entry0 !== "object") {
            e.add(at, 'give an object with one exporter, e.g. { oci: { dest: "image.tar" } }');
            return;
        }
        if (entry0.disabled === true) return;
        let entry = entry0;
        if (entry.raw !== undefined) {
            try {
                entry = {
                    ...parseRawExport(String(entry.raw)),
                    ...Object.fromEntries(Object.entries(entry).filter(([k]) => k !== "raw")),
                };
            } catch (err) {
                e.add(`${at}.raw`, `${(err as Error).message}`);
                return;
            }
        }
        const kinds = KINDS.filter((k) => entry[k] !== undefined && entry[k] !== null);
        if (kinds.length !== 1) {
            e.add(
                at,
                kinds.length
                    ? `one exporter per entry, got ${kinds.join(" and ")}: give each its own entry`
                    : `give one exporter: ${KINDS.join(", ")}`,
            );
            return;
        }
        const kind = kinds[0] as Exclude<(typeof KINDS)[number], "raw">;
        // Fields set to null (absent in other languages' SDKs) count as not given.
        const f = Object.fromEntries(
            Object.entries(entry[kind] ?? {}).filter(([, x]) => x !== undefined && x !== null),
        ) as Record<string, any>;
        const prop = `${at}.${kind}`;
        const allowed =
            kind === "oci" || kind === "docker"
                ? IMAGE_FIELDS
                : kind === "local" || kind === "tar"
                  ? ["dest"]
                  : kind === "cacheonly"
                    ? []
                    : ["names", "push"];
        for (const k of Object.keys(f).filter((k) => !allowed.includes(k))) {
            e.add(
                `${prop}.${k}`,
                kind === "registry" || kind === "image"
                    ? `not taken here: the push is by digest, verified, then tagged (push options are BuildKit's defaults); drop ${k}`
                    : `not a field of ${kind} exports: use ${allowed.join(", ") || "none"}`,
            );
        }
        if (kind === "registry" || kind === "image") {
            if (f.push ?? kind === "registry") {
                out.push = true;
                if (!out.tags.length) out.tags.push(...(f.names ?? []));
                if (!out.tags.length)
                    e.add(
                        `${prop}.names`,
                        'give the image tags (or names here) to push to, e.g. ["ghcr.io/org/app:1.0"]',
                    );
            }
            return;
        }
        if (kind === "cacheonly") {
            out.exports.push({ type: "cacheonly" });
            return;
        }
        if (kind === "docker" && f.dest === undefined) {
            const extra = Object.keys(f);
            if (extra.length)
                e.add(
                    `${prop}.dest`,
                    `without dest a docker export is the engine's load, which takes none of ${extra.join(", ")}: give dest to write a tarball`,
                );
            out.load = true;
            return;
        }
        if (typeof f.dest !== "string" || !f.dest) {
            e.add(
                `${prop}.dest`,
                `give the ${kind === "local" || f.tar === false ? "folder" : "file"} to write, relative to the program, e.g. "${kind === "local" ? "out/rootfs" : `out/image.${kind}.tar`}"`,
            );
            return;
        }
        const abs = path.resolve(f.dest);
        if (abs === context || abs.startsWith(`${context}${path.sep}`)) {
            e.add(
                `${prop}.dest`,
                `"${f.dest}" is inside the build context ${a.context}: every export would change the context and so rebuild; write it outside the context`,
            );
        }
        if (dests.has(abs))
            e.add(`${prop}.dest`, `"${f.dest}" is also written by ${dests.get(abs)}: give each export its own dest`);
        dests.set(abs, prop);
        if (kind === "local" || kind === "tar") {
            out.exports.push({ type: kind, dest: f.dest });
            return;
        }
        if (kind === "docker" && (a.platforms.length > 1 || a.provenance || a.sbom)) {
            e.add(
                prop,
                `buildx's docker exporter writes one platform without attestations ("docker exporter does not support exporting manifest lists, ` +
                    `use the oci exporter instead"), and this image has ${a.platforms.length > 1 ? a.platforms.join(", ") : "attestations"}: use { oci: { dest } }`,
            );
        }
        if (f.compression !== undefined && !COMPRESSIONS.includes(f.compression))
            e.add(`${prop}.compression`, `"${f.compression}" is not a compression: use ${COMPRESSIONS.join(", ")}`);
        if (
            f.compressionLevel !== undefined &&
            !(Number.isInteger(f.compressionLevel) && f.compressionLevel >= 0 && f.compressionLevel <= 22)
        ) {
            e.add(`${prop}.compressionLevel`, `${f.compressionLevel} is not a level: give an integer from 0 to 22`);
        }
        const spec: ExportSpec = { type: kind, dest: f.dest };
        for (const k of IMAGE_FIELDS.slice(1)) if (k in f) (spec as any)[k] = f[k];
        out.exports.push(spec);
    });
    return out;
}

/** `registry.corp:5000`, `[::1]:5000`, `ghcr.io`: what a registry address must look like once `https://` and paths are dropped. */
const HOST = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:]+\])(:\d+)?$/i;

/**
 * The `registries` logins as the image takes them: every address a registry host, each with
 * user and password, none twice, none the `registry` arg's registry too (`registryAddress`).
 */
export function registryLogins(
    list: pulumi.Input<pulumi.Input<RegistryLoginArgs>[]> | undefined,
    registryAddress: pulumi.Input<string | undefined>,
    resource = "MultiArchImage",
    property = "registries",
): pulumi.Output<RegistryLoginEntry[]> {
    return pulumi.all([pulumi.output(list ?? []), registryAddress]).apply(([entries, fromRegistry]) => {
        const e = new ArgErrors(resource);
        const seen = new Map<string, number>();
        const out: RegistryLoginEntry[] = [];
        (entries as RegistryLoginArgs[]).forEach((r, i) => {
            const at = `${property}[${i}]`;
            const address =
                typeof r?.address === "string" && r.address.trim() ? registryOfServer(r.address) : undefined;
            if (!address || !HOST.test(address))
                e.add(
                    `${at}.address`,
                    `"${r?.address ?? ""}" is not a registry address: write its host[:port], e.g. "ghcr.io" or "registry.corp:5000"`,
                );
            if (!r?.username) e.add(`${at}.username`, "give the login's user name");
            if (!r?.password) e.add(`${at}.password`, "give the login's password or token, as a Pulumi secret");
            if (address && seen.has(address))
                e.add(
                    `${at}.address`,
                    `${property}[${seen.get(address)}] logs in to ${address} already: keep one login per registry`,
                );
            if (address && address === fromRegistry)
                e.add(`${at}.address`, `the registry arg logs in to ${address} already: keep one of them`);
            if (address) seen.set(address, i);
            if (address && r.username && r.password)
                out.push({ address, username: r.username as string, password: r.password as string });
        });
        e.throwIfAny();
        return out;
    });
}

/** The registry each tag names, in order, without repeats; tags that do not parse are left to the tags check. */
export function registriesOfTags(tags: readonly string[] | undefined): string[] {
    const out: string[] = [];
    for (const t of tags ?? []) {
        try {
            const r = parseRef(t).registry;
            if (!out.includes(r)) out.push(r);
        } catch {
            /* refused with the tags */
        }
    }
    return out;
}
