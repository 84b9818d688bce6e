// Where an image's tags go: one target per repository (tags in any number of repositories and
// registries), each reached as `docker buildx build --push` reaches it (the docker config's
// logins and credential helpers, the builder's registry settings) plus the resource's own
// logins (`registry`, `registries`); how each registry's tags point at the image (an index,
// or per-arch tags where it keeps no lists: "auto" probes once); the tag moves over all
// targets, all or none; and what refresh finds moved. Shared by the image, the promotion
// (ImageCopy) and the Index, so their tags behave alike.
import * as crypto from "crypto";
import * as registry from "../../core/registry";
import type { ManifestMode, RegistryAuth, RegistryLoginEntry } from "../../contract/types";

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
export interface Login { credentials: registry.Credentials; property: string }

/** registry -> the resource's login for it: `registries` entries, and `registry` (for its address, or the first tag's registry). */
export function loginsOf(inputs: Pick<TargetInputs, "registries" | "registryAuth" | "tags">): Record<string, Login> {
    const out: Record<string, Login> = {};
    (inputs.registries ?? []).forEach((r, i) => {
        out[r.address] = { credentials: { username: r.username, password: r.password }, property: `registries[${i}]` };
    });
    const auth = inputs.registryAuth;
    if (auth) {
        const address = auth.address ?? (inputs.tags[0] ? registry.parseRef(inputs.tags[0]).registry : undefined);
        if (address) out[address] = { credentials: { username: auth.username, password: auth.password }, property: "registry" };
    }
    return out;
}

/** The client for one registry, reached through the builder's registry settings and the resource's login for it. */
export function clientFor(inputs: TargetInputs, host: string, timeoutMs?: number): registry.Registry {
    const login = loginsOf(inputs)[host];
    return new registry.Registry(host, {
        builder: inputs.builder, builderConfig: inputs.builderConfig,
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
            target = { registry: ref.registry, repository: ref.repository, repo, tags: [], client: clients.get(ref.registry)! };
            byRepo.set(repo, target);
        }
        target.tags.push(t);
    }
    return [...byRepo.values()];
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
    const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: registry.INDEX_MEDIA_TYPES[0], manifests: [] }));
    const digest = `sha256:${crypto.createHash("sha256").update(raw).digest("hex")}`;
    try {
        await target.client.putManifest(target.repository, digest, raw, registry.INDEX_MEDIA_TYPES[0], "index probe");
        return true;
    } catch (e) {
        // A refusal of the index itself, as registries without lists answer (MANIFEST_INVALID 400,
        // or 415): a refused login or a server error is no answer to the question.
        if (e instanceof registry.RegistryError && e.refused === "manifest" && [400, 415].includes(e.status)) return false;
        throw e;
    }
}

/** What the last run decided, as the resource's state keeps it. */
export interface ModeMemory { manifest?: ManifestMode; manifestModes?: Record<string, Mode>; manifestMode?: string }

/**
 * The manifest mode of each registry: as asked; for "auto", probed once per registry (the
 * answer is kept in state, so later runs do not probe again). Without a push nothing is asked.
 */
export async function decideModes(manifest: ManifestMode, targets: Target[], platforms: string[],
    opts: { push: boolean; olds?: ModeMemory }): Promise<Record<string, Mode>> {
    const modes: Record<string, Mode> = {};
    const olds = opts.olds;
    const firstRegistry = targets[0]?.registry;
    for (const host of registriesOf(targets)) {
        if (manifest !== "auto") { modes[host] = manifest; continue; }
        // A state of 0.2.0 kept one mode, for the one registry of its tags.
        const remembered = olds?.manifest === "auto"
            ? olds.manifestModes?.[host] ?? (!olds.manifestModes && host === firstRegistry && olds.manifestMode !== "mixed" ? olds.manifestMode as Mode : undefined)
            : undefined;
        if (remembered) { modes[host] = remembered; continue; }
        const target = targets.find((t) => t.registry === host)!;
        modes[host] = !opts.push || await acceptsIndex(target) ? "index" : "per-arch-tags";
        if (modes[host] === "per-arch-tags") {
            console.log(`warning: ${target.repo} does not accept manifest lists / OCI indexes: pushing one tag per architecture ` +
                `(${platforms.map((p) => perArchTag(target.tags[0], p)).join(", ")}) instead`);
        }
    }
    return modes;
}

/** "index", "per-arch-tags", or "mixed" when the registries differ. */
export function overallMode(modes: Record<string, Mode>, fallback: ManifestMode): "index" | "per-arch-tags" | "mixed" {
    const used = [...new Set(Object.values(modes))];
    return used.length > 1 ? "mixed" : used[0] ?? (fallback === "per-arch-tags" ? "per-arch-tags" : "index");
}

/** A manifest's exact bytes, as a tag is pointed at it. */
export interface RawManifest { raw: Buffer; mediaType: string; digest: string }

/**
 * The tag moves for every target, by its registry's mode: each tag to the index, or
 * `<tag>-<arch>` to each platform's manifest; and the tags as users see them. `index(target)`
 * is asked once, for the first target that keeps indexes.
 */
export async function movesFor(targets: Target[], modes: Record<string, Mode>, platforms: string[],
    index: (target: Target) => Promise<RawManifest>, platform: (target: Target, platform: string) => Promise<RawManifest>):
    Promise<{ moves: TagMove[]; pushedTags: string[]; index?: RawManifest }> {
    const moves: TagMove[] = [], pushedTags: string[] = [];
    let idx: RawManifest | undefined;
    for (const target of targets) {
        if (modes[target.registry] === "index") {
            idx ??= await index(target);
            for (const t of target.tags) {
                moves.push({ target, tag: registry.parseRef(t).tag!, raw: idx.raw, mediaType: idx.mediaType });
                pushedTags.push(t);
            }
            continue;
        }
        // Every platform is in place before the first per-arch tag moves, so no architecture's
        // tag is left newer than another's by a failure; moveTags puts moved tags back if a
        // later move fails.
        for (const t of target.tags) {
            for (const p of platforms) {
                const m = await platform(target, p);
                const tag = perArchTag(t, p);
                moves.push({ target, tag: registry.parseRef(tag).tag!, raw: m.raw, mediaType: m.mediaType });
                pushedTags.push(tag);
            }
        }
    }
    return { moves, pushedTags, ...(idx ? { index: idx } : {}) };
}

/** Each tag of `target` and the digest it should point at, by the registry's mode. */
export function expectedTags(target: Target, mode: Mode, digest: string, platformDigests: Record<string, string>, platforms: string[]): [string, string][] {
    return mode === "index"
        ? target.tags.map((t) => [registry.parseRef(t).tag!, digest || platformDigests[platforms[0]]])
        : target.tags.flatMap((t) => platforms.map((p) => [registry.parseRef(perArchTag(t, p)).tag!, platformDigests[p]] as [string, string]));
}

/** The tags that no longer point where they should (refresh): one line each, `tag r/x:1.0 moved to sha256:...` or `... is gone`. */
export async function tagDrift(targets: Target[], expected: (target: Target) => [string, string][]): Promise<string[]> {
    const drift: string[] = [];
    for (const target of targets) {
        for (const [tag, want] of expected(target)) {
            const now = await target.client.getManifest(target.repository, tag);
            if (now?.digest !== want) drift.push(`tag ${target.repo}:${tag} ${now ? `moved to ${now.digest}` : "is gone"}`);
        }
    }
    return drift;
}

/** One tag to point at exactly these manifest bytes. */
export interface TagMove { target: Target; tag: string; raw: Buffer; mediaType: string }

const nameOf = (m: TagMove) => `${m.target.repo}:${m.tag}`;

/**
 * Moves each tag to its manifest, over every target, all or none: when one move fails (one
 * registry refuses or is down), the tags already moved, in that registry and the others, go
 * back to the manifests they had, so no registry is left on a newer build than another.
 * The error names the tag and registry that failed, and whatever could not be put back.
 */
export async function moveTags(moves: TagMove[]): Promise<void> {
    const before = await Promise.all(moves.map((m) => m.target.client.getManifest(m.target.repository, m.tag)));
    for (let i = 0; i < moves.length; i++) {
        const failed = moves[i];
        try {
            await failed.target.client.putManifest(failed.target.repository, failed.tag, failed.raw, failed.mediaType);
        } catch (e) {
            // Tags of the failed repository by their short name, others by their full name.
            const show = (m: TagMove) => (m.target.repo === failed.target.repo ? m.tag : nameOf(m));
            const restored: string[] = [], newer: string[] = [];
            for (let j = 0; j < i; j++) {
                const prev = before[j];
                try {
                    if (!prev) throw new Error("it did not exist before, and a registry cannot untag");
                    await moves[j].target.client.putManifest(moves[j].target.repository, moves[j].tag, prev.raw, prev.mediaType);
                    restored.push(show(moves[j]));
                } catch (e2) {
                    newer.push(`${show(moves[j])} (${(e2 as Error).message.split("\n")[0]})`);
                }
            }
            const cause = `moving tag ${nameOf(failed)} failed (${(e as Error).message.split("\n")[0]})`;
            throw new Error(newer.length
                ? `${cause}; NOT put back, so newer than the others: ${newer.join(", ")}; still on the previous build: ${[...restored, ...moves.slice(i).map(show)].join(", ")}; run \`pulumi up\` again to move them all`
                : `${cause}; ${restored.length ? `put ${restored.join(", ")} back where ${restored.length > 1 ? "they were" : "it was"}, so ` : ""}no tag moved to this build; run \`pulumi up\` again`);
        }
    }
}
