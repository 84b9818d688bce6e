// Where an image's tags go: one target per repository (tags in any number of repositories and
// registries), each reached as `docker buildx build --push` reaches it (the docker config's
// logins and credential helpers, the builder's registry settings) plus the resource's own
// logins (`registry`, `registries`); and the tag moves over all targets, all or none.
import registry = require("../../core/registry");
import type { ImageInputs } from "../../contract/types";

/** A login of the resource and the property it came from, for messages. */
export interface Login { credentials: registry.Credentials; property: string }

/** registry -> the resource's login for it: `registries` entries, and `registry` (for its address, or the first tag's registry). */
export function loginsOf(inputs: Pick<ImageInputs, "registries" | "registryAuth" | "tags">): Record<string, Login> {
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
export function clientFor(inputs: Omit<ImageInputs, "secrets">, host: string, timeoutMs?: number): registry.Registry {
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
export function targetsOf(inputs: Omit<ImageInputs, "secrets">): Target[] {
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
