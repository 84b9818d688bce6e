// Where an image's tags go: one target per repository (tags in any number of repositories and
// registries), each reached as `docker buildx build --push` reaches it (the docker config's
// logins and credential helpers, the builder's registry settings) plus the resource's own
// logins (`registry`, `registries`); how each registry's tags point at the image (an index,
// or per-arch tags where it keeps no lists: "auto" probes once); the tag moves themselves are
// in tagMoves.ts. Shared by the image, the promotion
// (ImageCopy) and the Index, so their tags behave alike.
import * as crypto from "crypto";

import type { ManifestMode, RegistryAuth, RegistryLoginEntry } from "../../contract/types";
import * as registry from "../../core/registry";

/** How one registry's tags point at the image. */
export type Mode = "index" | "per-arch-tags";

/** What reaching the targets takes from a resource's inputs: its tags, its logins, a builder's registry settings where it has one. */
export interface TargetInputs {
    tags: string[];
    registries?: RegistryLoginEntry[];
    registryAuth?: RegistryAuth;
    builder?: string;
    builderConfig?: string;
}

/** A login of the resource and the property it came from, for messages. */
export interface Login {
    credentials: registry.Credentials;
    property: string;
}

/** registry -> the resource's login for it: `registries` entries, and `registry` (for its address, or the first tag's registry). */
export function loginsOf(inputs: Pick<TargetInputs, "registries" | "registryAuth" | "tags">): Record<string, Login> {
    const out: Record<string, Login> = {};
    (inputs.registries ?? []).forEach((r, i) => {
        out[r.address] = { credentials: { username: r.username, password: r.password }, property: `registries[${i}]` };
    });
    const auth = inputs.registryAuth;
    if (auth) {
        const address = auth.address ?? (inputs.tags[0] ? registry.parseRef(inputs.tags[0]).registry : undefined);
        if (address)
            out[address] = { credentials: { username: auth.username, password: auth.password }, property: "registry" };
    }
    return out;
}

/** The client for one registry, reached through the builder's registry settings and the resource's login for it. */
export function clientFor(inputs: TargetInputs, host: string, timeoutMs?: number): registry.Registry {
    const login = loginsOf(inputs)[host];
    return new registry.Registry(host, {
        builder: inputs.builder,
        builderConfig: inputs.builderConfig,
        ...(login ? { credentials: login.credentials, credentialsProperty: login.property } : {}),
        ...(timeoutMs ? { timeoutMs } : {}),
    });
}

/** One repository the image is pushed to, with its tags (as given) and the client that reaches it. */
export interface Target {
    registry: string;
    repository: string;
    /** `registry/repository`. */
    repo: string;
    tags: string[];
    client: registry.Registry;
}

/** The tags grouped by repository, in the order the tags name them; one client per registry. */
export function targetsOf(inputs: TargetInputs): Target[] {
    const clients = new Map<string, registry.Registry>();
    const byRepo = new Map<string, Target>();
    for (const t of inputs.tags) {
        const ref = registry.parseRef(t);
        const repo = `${ref.registry}/${ref.repository}`;
        let target = byRepo.get(repo);
        if (!target) {
            if (!clients.has(ref.registry)) clients.set(ref.registry, clientFor(inputs, ref.registry));
            target = {
                registry: ref.registry,
                repository: ref.repository,
                repo,
                tags: [],
                client: clients.get(ref.registry)!,
            };
            byRepo.set(repo, target);
        }
        target.tags.push(t);
    }
    return [...byRepo.values()];
}

/**
 * One client per registry for one operation: the targets' own, and one made at the first ask
 * for any other registry (a base image's), so a login or a token is fetched once per registry.
 */
export function clientsOf(inputs: TargetInputs, targets: Target[]): (host: string) => registry.Registry {
    const clients = new Map(targets.map((t) => [t.registry, t.client]));
    return (host) => {
        let client = clients.get(host);
        if (!client) clients.set(host, (client = clientFor(inputs, host)));
        return client;
    };
}

/** The registries of the tags, in order. */
export function registriesOf(targets: Target[]): string[] {
    return [...new Set(targets.map((t) => t.registry))];
}

/** `<tag>-amd64`, `<tag>-arm64`, `<tag>-armv7`. */
export function perArchTag(tag: string, platform: string): string {
    const [, arch, variant] = platform.split("/");
    return `${tag}-${arch}${variant ?? ""}`;
}

/** Can this repository's registry keep an index? Pushes an empty one by digest (no tag). */
export async function acceptsIndex(target: Target): Promise<boolean> {
    const raw = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: registry.INDEX_MEDIA_TYPES[0], manifests: [] }),
    );
    const digest = `sha256:${crypto.createHash("sha256").update(raw).digest("hex")}`;
    try {
        await target.client.putManifest(target.repository, digest, raw, registry.INDEX_MEDIA_TYPES[0], "index probe");
        return true;
    } catch (e) {
        // A refusal of the index itself, as registries without lists answer (MANIFEST_INVALID 400,
        // or 415): a refused login or a server error is no answer to the question.
        if (e instanceof registry.RegistryError && e.refused === "manifest" && [400, 415].includes(e.status))
            return false;
        throw e;
    }
}

/** What the last run decided, as the resource's state keeps it. */
export interface ModeMemory {
    manifest?: ManifestMode;
    manifestModes?: Record<string, Mode>;
    manifestMode?: string;
}

/**
 * The manifest mode of each registry: as asked; for "auto", probed once per registry (the
 * answer is kept in state, so later runs do not probe again). Without a push nothing is asked.
 */
export async function decideModes(
    manifest: ManifestMode,
    targets: Target[],
    platforms: string[],
    opts: { push: boolean; olds?: ModeMemory },
): Promise<Record<string, Mode>> {
    const modes: Record<string, Mode> = {};
    const olds = opts.olds;
    const firstRegistry = targets[0]?.registry;
    for (const host of registriesOf(targets)) {
        if (manifest !== "auto") {
            modes[host] = manifest;
            continue;
        }
        // A state of 0.2.0 kept one mode, for the one registry of its tags.
        const remembered =
            olds?.manifest === "auto"
                ? (olds.manifestModes?.[host] ??
                  (!olds.manifestModes && host === firstRegistry && olds.manifestMode !== "mixed"
                      ? (olds.manifestMode as Mode)
                      : undefined))
                : undefined;
        if (remembered) {
            modes[host] = remembered;
            continue;
        }
        const target = targets.find((t) => t.registry === host)!;
        modes[host] = !opts.push || (await acceptsIndex(target)) ? "index" : "per-arch-tags";
        if (modes[host] === "per-arch-tags") {
            console.log(
                `warning: ${target.repo} does not accept manifest lists / OCI indexes: pushing one tag per architecture ` +
                    `(${platforms.map((p) => perArchTag(target.tags[0], p)).join(", ")}) instead`,
            );
        }
    }
    return modes;
}

/** "index", "per-arch-tags", or "mixed" when the registries differ. */
export function overallMode(modes: Record<string, Mode>, fallback: ManifestMode): "index" | "per-arch-tags" | "mixed" {
    const used = [...new Set(Object.values(modes))];
    return used.length > 1 ? "mixed" : (used[0] ?? (fallback === "per-arch-tags" ? "per-arch-tags" : "index"));
}
