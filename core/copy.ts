// Copies an image by digest between repositories and registries, as `crane copy` or
// `skopeo copy --all` do: the index, every manifest it names (each platform's image and
// BuildKit's attestation manifests), every config and layer blob, and the referrers of each
// (OCI 1.1: signatures, SBOMs, verification records). In two steps, so that preview can say
// what up will do: `readSource` + `planCopy` (which blobs the target lacks: HEADs, no bytes),
// then `runCopy`: blobs the target has are skipped, blobs in another repository of the same
// registry are mounted (no bytes move), the others streamed from the source's GET into the
// target's upload, never held in memory; manifests are put by digest, leaves first. No tag
// moves here: the caller moves tags once every target holds everything.
import * as crypto from "crypto";

import * as exec from "./exec";
import * as registry from "./registry";
import { INDEX_MEDIA_TYPES } from "./registry";

/** An OCI descriptor, as indexes and manifests name what they point at. */
export interface Descriptor {
    mediaType: string;
    digest: string;
    size: number;
    platform?: { os: string; architecture: string; variant?: string };
    annotations?: Record<string, string>;
    artifactType?: string;
}

/** What a manifest is in the image: the root index, one platform's image, BuildKit's attestations, or a referrer. */
export type Role = "index" | "image" | "attestation" | "referrer";

/** One manifest of the source: its exact bytes (the digest is theirs) and the blobs it names. */
export interface SourceManifest {
    digest: string;
    mediaType: string;
    raw: Buffer;
    body: any;
    role: Role;
    /** For a platform image: os/arch[/variant], as the index entry says (the root image: its config). */
    platform?: string;
    /** For a referrer: the digest it refers to. */
    subject?: string;
    /** Config and layers, for manifests that name blobs. */
    blobs: Descriptor[];
}

/** An image read from its registry: every manifest it holds, leaves first, the root last. */
export interface SourceImage {
    registry: string;
    repository: string;
    /** The root's digest (an index, or a single platform's manifest). */
    digest: string;
    root: SourceManifest;
    /** Every manifest under the root (children before parents), the root last; referrers after. */
    manifests: SourceManifest[];
    /** platform -> digest of its image manifest (attestations left out). */
    platforms: Record<string, string>;
}

export type Mode = "index" | "per-arch-tags";

/** One blob of a plan: already at the target, mounted from the source's repository, or copied through us. */
export interface BlobStep {
    digest: string;
    size: number;
    action: "present" | "mount" | "copy";
}

/** One manifest of a plan, put by digest unless the target has it. */
export interface ManifestStep {
    digest: string;
    role: Role;
    present: boolean;
}

/** What one target repository gets, and what it already has. */
export interface CopyPlan {
    registry: string;
    repository: string;
    mode: Mode;
    blobs: BlobStep[];
    manifests: ManifestStep[];
    /** What this target cannot take, and why (attestations and referrers where it keeps no index). */
    dropped: string[];
}

/** What a copy did (or a plan will do). */
export interface CopyStats {
    /** Manifests put (platform images, attestations, referrers, the index). */
    manifests: number;
    /** Blobs streamed from the source into the target. */
    copied: number;
    /** Bytes of the blobs streamed. */
    bytes: number;
    /** Blobs mounted from the source's repository (same registry: no bytes moved). */
    mounted: number;
    /** Blobs the target already had. */
    present: number;
}

export const sha256 = (b: Buffer): string => `sha256:${crypto.createHash("sha256").update(b).digest("hex")}`;

/** `docker.io/library/x` style: where the image is, for messages. */
const at = (r: { registry: string; repository: string }) => `${r.registry}/${r.repository}`;

function isIndex(m: { mediaType: string; body: any }): boolean {
    return INDEX_MEDIA_TYPES.includes(m.mediaType) || (Array.isArray(m.body?.manifests) && !m.body?.layers);
}

function blobsOf(body: any): Descriptor[] {
    if (Array.isArray(body?.blobs)) return body.blobs; // an OCI artifact manifest (1.1-rc)
    return [...(body?.config ? [body.config] : []), ...(body?.layers ?? [])];
}

export function platformOf(p: Descriptor["platform"]): string | undefined {
    return p ? [p.os, p.architecture, p.variant].filter(Boolean).join("/") : undefined;
}

/** Where a source image is read from: the client of its registry and its repository. */
export interface Endpoint {
    client: registry.Registry;
    repository: string;
}

/** A manifest by digest, its bytes checked against the digest (a registry may convert what it serves). */
async function manifestByDigest(
    from: Endpoint,
    digest: string,
    missing: () => string,
): Promise<Omit<SourceManifest, "role" | "blobs">> {
    const m = await from.client.getManifest(from.repository, digest);
    if (!m) throw new Error(missing());
    if (sha256(m.raw) !== digest) {
        throw new Error(
            `${at({ registry: from.client.registry, repository: from.repository })}@${digest}: the registry served other bytes (${sha256(m.raw)}, ${m.mediaType}); ` +
                "it converts manifests, so they cannot be copied by digest from it",
        );
    }
    return { digest, mediaType: m.mediaType, raw: m.raw, body: m.body };
}

/** The config blob of an image manifest, parsed (small: read whole). */
export async function readConfig(from: Endpoint, manifest: any): Promise<any> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of await from.client.openBlob(from.repository, manifest.config.digest)) {
        size += c.length;
        if (size > 8 << 20)
            throw new Error(`config ${manifest.config.digest} is larger than 8 MiB: not an image config`);
        chunks.push(Buffer.from(c));
    }
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

/**
 * Reads an image by digest: the root, every manifest it names (recursively), and, with
 * `referrers`, the referrers of the root and of each platform image (one level: what refers
 * to them, not what refers to those). A digest the registry does not hold is an error that
 * says so; so is a manifest the index names but the registry lost.
 */
export async function readSource(from: Endpoint, digest: string, opts: { referrers: boolean }): Promise<SourceImage> {
    const where = at({ registry: from.client.registry, repository: from.repository });
    const root0 = await manifestByDigest(
        from,
        digest,
        () =>
            `${where}@${digest} does not exist: it was deleted or garbage-collected, or the digest is mistyped; give the digest of an image the registry holds (e.g. a stack's current \`ref\` output)`,
    );
    const manifests: SourceManifest[] = [];
    const platforms: Record<string, string> = {};
    const seen = new Set<string>();
    const walk = async (
        m: Omit<SourceManifest, "role" | "blobs">,
        role: Role,
        platform?: string,
    ): Promise<SourceManifest> => {
        const node: SourceManifest = {
            ...m,
            role: isIndex(m) ? "index" : role,
            blobs: isIndex(m) ? [] : blobsOf(m.body),
            ...(platform ? { platform } : {}),
        };
        if (isIndex(m)) {
            const children = await Promise.all(
                (m.body.manifests ?? []).map(async (d: Descriptor) => {
                    const attestation =
                        d.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" ||
                        d.platform?.os === "unknown";
                    const child = await manifestByDigest(
                        from,
                        d.digest,
                        () =>
                            `${where}@${m.digest} names ${d.digest}, which the registry no longer holds: the image is incomplete`,
                    );
                    return [
                        child,
                        attestation ? "attestation" : "image",
                        attestation ? undefined : platformOf(d.platform),
                    ] as const;
                }),
            );
            for (const [child, r, p] of children) {
                if (seen.has(child.digest)) continue;
                seen.add(child.digest);
                const c = await walk(child, r, p);
                if (c.role === "image" && c.platform) platforms[c.platform] = c.digest;
            }
        }
        manifests.push(node);
        return node;
    };
    seen.add(digest);
    let rootPlatform: string | undefined;
    if (!isIndex(root0)) {
        const config = await readConfig(from, root0.body);
        rootPlatform = [config.os, config.architecture, config.variant].filter(Boolean).join("/") || undefined;
    }
    const root = await walk(root0, "image", rootPlatform);
    if (root.role === "image" && rootPlatform) platforms[rootPlatform] = root.digest;
    if (opts.referrers) {
        const subjects = [digest, ...Object.values(platforms)];
        for (const subject of subjects) {
            const { manifests: found } = await from.client.referrers(from.repository, subject);
            for (const d of found as Descriptor[]) {
                if (seen.has(d.digest)) continue;
                seen.add(d.digest);
                const m = await manifestByDigest(
                    from,
                    d.digest,
                    () => `${where}: referrer ${d.digest} of ${subject} is listed but missing`,
                );
                manifests.push({ ...m, role: "referrer", subject, blobs: isIndex(m) ? [] : blobsOf(m.body) });
            }
        }
    }
    return { registry: from.client.registry, repository: from.repository, digest, root, manifests, platforms };
}

/**
 * The manifests a target gets in `mode`: everything for "index"; for "per-arch-tags" (a
 * registry without indexes) only the platform images, with what is left out named.
 */
export function selectManifests(
    source: SourceImage,
    mode: Mode,
    registryName: string,
): { manifests: SourceManifest[]; dropped: string[] } {
    if (mode === "index") return { manifests: source.manifests, dropped: [] };
    const images = source.manifests.filter((m) => m.role === "image" && m.platform);
    const dropped: string[] = [];
    const attestations = source.manifests.filter((m) => m.role === "attestation").length;
    const referrers = source.manifests.filter((m) => m.role === "referrer").length;
    if (attestations)
        dropped.push(
            `${attestations} attestation manifest${attestations > 1 ? "s" : ""} (${registryName} keeps no index to hold them)`,
        );
    if (referrers)
        dropped.push(
            `${referrers} referrer${referrers > 1 ? "s" : ""} (signatures, SBOMs, verification records: ${registryName} keeps no index to list them)`,
        );
    return { manifests: images, dropped };
}

/**
 * The plan for one target: each blob present, mounted (same registry, another repository) or
 * copied; each manifest present or put. Pure: `present` holds what the target has (HEADs).
 */
export function planCopy(
    source: SourceImage,
    target: { registry: string; repository: string },
    mode: Mode,
    present: { blobs: Set<string>; manifests: Set<string> },
): CopyPlan {
    const { manifests, dropped } = selectManifests(source, mode, target.registry);
    const sameRegistry = source.registry === target.registry;
    const blobs = new Map<string, BlobStep>();
    for (const m of manifests) {
        for (const b of m.blobs) {
            if (blobs.has(b.digest)) continue;
            const action = present.blobs.has(b.digest) ? "present" : sameRegistry ? "mount" : "copy";
            blobs.set(b.digest, { digest: b.digest, size: b.size, action });
        }
    }
    return {
        registry: target.registry,
        repository: target.repository,
        mode,
        blobs: [...blobs.values()],
        manifests: manifests.map((m) => ({ digest: m.digest, role: m.role, present: present.manifests.has(m.digest) })),
        dropped,
    };
}

/** What the target already holds of `source` in `mode`: a HEAD per blob, a GET per manifest (small). */
export async function probeTarget(
    source: SourceImage,
    to: Endpoint,
    mode: Mode,
): Promise<{ blobs: Set<string>; manifests: Set<string> }> {
    const { manifests } = selectManifests(source, mode, to.client.registry);
    const digests = [...new Set(manifests.flatMap((m) => m.blobs.map((b) => b.digest)))];
    const blobs = new Set<string>();
    await limit(8, digests, async (d) => {
        if (await to.client.hasBlob(to.repository, d)) blobs.add(d);
    });
    const present = new Set<string>();
    await limit(8, manifests, async (m) => {
        const got = await to.client.getManifest(to.repository, m.digest).catch(() => undefined);
        if (got && sha256(got.raw) === m.digest) present.add(m.digest);
    });
    return { blobs, manifests: present };
}

/** The counts a plan amounts to. */
export function planStats(plan: CopyPlan): CopyStats {
    const of = (a: BlobStep["action"]) => plan.blobs.filter((b) => b.action === a);
    return {
        manifests: plan.manifests.filter((m) => !m.present).length,
        copied: of("copy").length,
        bytes: of("copy").reduce((n, b) => n + b.size, 0),
        mounted: of("mount").length,
        present: of("present").length,
    };
}

export function formatBytes(n: number): string {
    if (n < 1000) return `${n} B`;
    const units = ["kB", "MB", "GB", "TB"];
    let v = n,
        u = -1;
    do {
        v /= 1000;
        u++;
    } while (v >= 1000 && u < units.length - 1);
    return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

/** One line: `127.0.0.1:5003/hello (per-arch tags): 2 manifests, 3 blobs to copy (1.20 GB), 1 to mount, 2 present`. */
export function describe(plan: CopyPlan, stats: CopyStats = planStats(plan), verb = "to copy"): string {
    const parts = [
        `${stats.manifests} manifest${stats.manifests === 1 ? "" : "s"}`,
        `${stats.copied} blob${stats.copied === 1 ? "" : "s"} ${verb} (${formatBytes(stats.bytes)})`,
        ...(stats.mounted
            ? [`${stats.mounted} ${verb === "to copy" ? "to mount" : "mounted"} from ${plan.registry}`]
            : []),
        `${stats.present} already there`,
    ];
    const dropped = plan.dropped.length ? `; not copied: ${plan.dropped.join(", ")}` : "";
    return `${plan.registry}/${plan.repository} (${plan.mode === "index" ? "index" : "per-arch tags"}): ${parts.join(", ")}${dropped}`;
}

/** Runs `fn` over `items`, at most `n` at a time; the first failure stops new work and is thrown once the running ones end. */
export async function limit<T>(n: number, items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    let failed: unknown;
    const worker = async () => {
        while (failed === undefined && next < items.length) {
            const item = items[next++];
            try {
                await fn(item);
            } catch (e) {
                failed ??= e;
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
    if (failed !== undefined) throw failed;
}

/** Network failures worth one more try of a whole blob (the stream is opened again). */
const TRANSIENT = /ECONNRESET|socket hang up|EPIPE|timed out|answered 5\d\d|\(5\d\d\)/;

export interface RunOptions {
    /** Blobs in flight at once. Default 4. */
    concurrency?: number;
    /** Tries per blob on a transient failure. Default 3. */
    attempts?: number;
    /** Progress lines (one per blob copied, one per manifest batch). */
    log?: (line: string) => void;
}

/**
 * Does a plan: blobs first (skipped, mounted or streamed), then the manifests by digest,
 * leaves first, so the target never names what it does not hold. Referrers the target does
 * not list by itself (no referrers API: its answer lacks OCI-Subject) are added to its
 * fallback tag `sha256-<hex>`. Returns what was done.
 */
export async function runCopy(
    source: SourceImage,
    from: Endpoint,
    to: Endpoint,
    plan: CopyPlan,
    opts: RunOptions = {},
): Promise<CopyStats> {
    const log = opts.log ?? (() => undefined);
    const stats: CopyStats = { manifests: 0, copied: 0, bytes: 0, mounted: 0, present: 0 };
    const where = `${to.client.registry}/${to.repository}`;
    await limit(opts.concurrency ?? 4, plan.blobs, async (b) => {
        if (b.action === "present") {
            stats.present++;
            return;
        }
        exec.throwIfStopped(); // the run was cancelled: no new blob starts
        const started = Date.now();
        for (let attempt = 1; ; attempt++) {
            try {
                const how = await to.client.putBlob(
                    to.repository,
                    b,
                    () => from.client.openBlob(from.repository, b.digest),
                    b.action === "mount" ? from.repository : undefined,
                );
                if (how === "mounted") {
                    stats.mounted++;
                    return;
                }
                stats.copied++;
                stats.bytes += b.size;
                if (b.size >= 1 << 20)
                    log(
                        `copied ${b.digest.slice(0, 19)} (${formatBytes(b.size)}) to ${where} in ${((Date.now() - started) / 1000).toFixed(1)}s`,
                    );
                return;
            } catch (e) {
                if (attempt >= (opts.attempts ?? 3) || !TRANSIENT.test((e as Error).message)) {
                    throw new Error(
                        `copying blob ${b.digest} (${formatBytes(b.size)}) from ${from.client.registry}/${from.repository} to ${where}: ${(e as Error).message}`,
                    );
                }
                log(
                    `warning: blob ${b.digest.slice(0, 19)} to ${where} failed (${(e as Error).message.split("\n")[0]}); trying again`,
                );
            }
        }
    });
    exec.throwIfStopped();
    const byDigest = new Map(source.manifests.map((m) => [m.digest, m]));
    const unlisted = new Map<string, Descriptor[]>();
    for (const step of plan.manifests) {
        if (step.present) continue;
        const m = byDigest.get(step.digest)!;
        const put = await to.client.putManifest(to.repository, m.digest, m.raw, m.mediaType, "copy");
        stats.manifests++;
        if (m.role === "referrer" && m.subject && !put.subjectIndexed) {
            unlisted.set(m.subject, [...(unlisted.get(m.subject) ?? []), referrerDescriptor(m)]);
        }
    }
    for (const [subject, descriptors] of unlisted) await addReferrers(to, subject, descriptors);
    return stats;
}

/** How an index of referrers lists a referrer (OCI 1.1: its artifactType and annotations). */
export function referrerDescriptor(m: { digest: string; mediaType: string; raw: Buffer; body: any }): Descriptor {
    const artifactType = m.body.artifactType ?? m.body.config?.mediaType;
    return {
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.raw.length,
        ...(artifactType ? { artifactType } : {}),
        ...(m.body.annotations ? { annotations: m.body.annotations } : {}),
    };
}

/**
 * Lists `descriptors` among `subject`'s referrers in the fallback tag `sha256-<hex>` (an OCI
 * index), keeping those already there: the OCI 1.1 way for registries without the referrers
 * API, as oras and cosign do.
 */
export async function addReferrers(to: Endpoint, subject: string, descriptors: Descriptor[]): Promise<void> {
    const tag = registry.referrersTag(subject);
    const existing = await to.client.getManifest(to.repository, tag);
    const listed: Descriptor[] = Array.isArray(existing?.body.manifests) ? existing.body.manifests : [];
    const fresh = descriptors.filter((d) => !listed.some((l) => l.digest === d.digest));
    if (!fresh.length) return;
    const raw = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPES[0], manifests: [...listed, ...fresh] }),
    );
    await to.client.putManifest(to.repository, tag, raw, INDEX_MEDIA_TYPES[0], "copy");
}
