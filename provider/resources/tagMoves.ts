// The tag move, the rule that tags move only after verification ends in: each tag pointed at its
// manifest over every target, all or none (one registry refusing puts the others back), the
// tags each registry should hold by its mode, and which of them refresh finds moved or gone.
import * as registry from "../../core/registry";
import { type Mode, perArchTag, type Target } from "./targets";

/** A manifest's exact bytes, as a tag is pointed at it. */
export interface RawManifest {
    raw: Buffer;
    mediaType: string;
    digest: string;
}

/**
 * The tag moves for every target, by its registry's mode: each tag to the index, or
 * `<tag>-<arch>` to each platform's manifest; and the tags as users see them. `index(target)`
 * is asked once, for the first target that keeps indexes.
 */
export async function movesFor(
    targets: Target[],
    modes: Record<string, Mode>,
    platforms: string[],
    index: (target: Target) => Promise<RawManifest>,
    platform: (target: Target, platform: string) => Promise<RawManifest>,
): Promise<{ moves: TagMove[]; pushedTags: string[]; index?: RawManifest }> {
    const moves: TagMove[] = [],
        pushedTags: string[] = [];
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
export function expectedTags(
    target: Target,
    mode: Mode,
    digest: string,
    platformDigests: Record<string, string>,
    platforms: string[],
): [string, string][] {
    return mode === "index"
        ? target.tags.map((t) => [registry.parseRef(t).tag!, digest || platformDigests[platforms[0]]])
        : target.tags.flatMap((t) =>
              platforms.map((p) => [registry.parseRef(perArchTag(t, p)).tag!, platformDigests[p]] as [string, string]),
          );
}

/** The tags that no longer point where they should (refresh): one line each, `tag r/x:1.0 moved to sha256:...` or `... is gone`. */
export async function tagDrift(targets: Target[], expected: (target: Target) => [string, string][]): Promise<string[]> {
    const drift: string[] = [];
    for (const target of targets) {
        for (const [tag, want] of expected(target)) {
            const now = await target.client.getManifest(target.repository, tag);
            if (now?.digest !== want)
                drift.push(`tag ${target.repo}:${tag} ${now ? `moved to ${now.digest}` : "is gone"}`);
        }
    }
    return drift;
}

/** One tag to point at exactly these manifest bytes. */
export interface TagMove {
    target: Target;
    tag: string;
    raw: Buffer;
    mediaType: string;
}

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
            const restored: string[] = [],
                newer: string[] = [];
            for (let j = 0; j < i; j++) {
                const prev = before[j];
                try {
                    if (!prev) throw new Error("it did not exist before, and a registry cannot untag");
                    await moves[j].target.client.putManifest(
                        moves[j].target.repository,
                        moves[j].tag,
                        prev.raw,
                        prev.mediaType,
                    );
                    restored.push(show(moves[j]));
                } catch (e2) {
                    newer.push(`${show(moves[j])} (${(e2 as Error).message.split("\n")[0]})`);
                }
            }
            const cause = `moving tag ${nameOf(failed)} failed (${(e as Error).message.split("\n")[0]})`;
            throw new Error(
                newer.length
                    ? `${cause}; NOT put back, so newer than the others: ${newer.join(", ")}; still on the previous build: ${[...restored, ...moves.slice(i).map(show)].join(", ")}; run \`pulumi up\` again to move them all`
                    : `${cause}; ${restored.length ? `put ${restored.join(", ")} back where ${restored.length > 1 ? "they were" : "it was"}, so ` : ""}no tag moved to this build; run \`pulumi up\` again`,
            );
        }
    }
}
