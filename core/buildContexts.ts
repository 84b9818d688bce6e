// Named build contexts (`--build-context name=location`) as buildx reads a location: a local
// folder, `docker-image://<ref>`, `oci-layout://<path>[:tag][@digest]`, a Git URL; and each
// remote one pinned to what it names now (an image digest, a commit), so the build uses what
// the preview saw and a moved tag or a new commit is a rebuild reason that `preview --diff` names.
import * as fs from "fs";
import * as path from "path";

import * as git from "./git";
import * as registry from "./registry";

export type ContextKind = "local" | "docker-image" | "oci-layout" | "git";

/**
 * What kind of source a named context's location is, or why buildx would refuse it (undefined
 * reason: fine). Local folders are checked by the caller, which hashes them.
 */
export function classify(location: string): { kind: ContextKind; problem?: string } {
    if (location.startsWith("docker-image://")) {
        const ref = location.slice("docker-image://".length);
        if (ref === "scratch") return { kind: "docker-image" };
        try {
            registry.parseRef(ref);
        } catch (e) {
            return { kind: "docker-image", problem: (e as Error).message };
        }
        return { kind: "docker-image" };
    }
    if (location.startsWith("oci-layout://")) {
        const { path: dir } = parseOciLayout(location);
        return dir
            ? { kind: "oci-layout" }
            : {
                  kind: "oci-layout",
                  problem: `"${location}" names no folder: write oci-layout://<path>[:tag][@sha256:...]`,
              };
    }
    if (location.startsWith("target:")) {
        return {
            kind: "docker-image",
            problem:
                `"${location}": buildx's target: links two targets of one \`docker buildx bake\` run, which \`docker buildx build\` refuses ` +
                '("failed to find target"); to build on another MultiArchImage of this program, pass its ref: `docker-image://${image.ref}` ' +
                "(pinned by digest, and this image then depends on it)",
        };
    }
    let g: git.GitContext | undefined;
    try {
        g = git.parseGitContext(location);
    } catch (e) {
        return { kind: "git", problem: (e as Error).message };
    }
    if (g) return { kind: "git" };
    if (git.isRemote(location)) {
        return {
            kind: "git",
            problem: `"${location}" is a URL but not a Git repository (an https URL must end in .git): remote tarballs and files are not supported; give a Git URL or a local folder`,
        };
    }
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(location)) {
        return {
            kind: "local",
            problem: `"${location}": unknown scheme; use a local folder, docker-image://, oci-layout:// or a Git URL`,
        };
    }
    return { kind: "local" };
}

/**
 * A named context's name as the Dockerfile frontend accepts it (an image name, optionally with
 * a tag: `FROM <name>` and `COPY --from=<name>` use it); why not, or undefined when fine.
 */
export function nameProblem(name: string): string | undefined {
    if (
        /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?$/.test(
            name,
        )
    )
        return undefined;
    return `"${name}" is not a context name BuildKit accepts: use a lowercase image name (letters, digits, . _ - /), as FROM and COPY --from name it`;
}

/** `oci-layout://<path>[:tag][@digest]` split as buildx's ocilayout.Parse does (tag "latest" when neither is given). */
export function parseOciLayout(location: string): { path: string; tag?: string; digest?: string } {
    let rest = location.slice("oci-layout://".length);
    let digest: string | undefined, tag: string | undefined;
    const at = rest.lastIndexOf("@");
    if (at >= 0 && /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(rest.slice(at + 1)))
        [rest, digest] = [rest.slice(0, at), rest.slice(at + 1)];
    const colon = rest.lastIndexOf(":");
    if (colon >= 0 && /^[\w][\w.-]{0,127}$/.test(rest.slice(colon + 1)))
        [rest, tag] = [rest.slice(0, colon), rest.slice(colon + 1)];
    return { path: rest, ...(tag || !digest ? { tag: tag ?? "latest" } : {}), ...(digest ? { digest } : {}) };
}

/**
 * The digest `tag` names in an OCI layout's index.json, as buildx resolves it: the manifest
 * whose `io.containerd.image.name`, then `org.opencontainers.image.ref.name`, is the tag, else
 * the only manifest.
 */
export function ociLayoutDigest(dir: string, tag: string): string {
    const file = path.join(dir, "index.json");
    let index: any;
    try {
        index = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        throw new Error(
            `${file} cannot be read as an OCI layout's index (${(e as Error).message.split("\n")[0]}): point oci-layout:// at a folder that \`--output type=oci,tar=false\` wrote`,
        );
    }
    const manifests: any[] = Array.isArray(index?.manifests) ? index.manifests : [];
    const hit =
        manifests.find((m) => m.annotations?.["io.containerd.image.name"] === tag) ??
        manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag) ??
        (manifests.length === 1 ? manifests[0] : undefined);
    if (!hit?.digest)
        throw new Error(
            `${file} has no image tagged "${tag}" (and more than one image): name one with :<tag> or @sha256:...`,
        );
    return hit.digest;
}

/**
 * The location pinned to what it names now: `docker-image://<ref>@<digest>`,
 * `oci-layout://<path>:<tag>@<digest>`, a Git URL with `checksum=<commit>`; a local folder (and
 * anything already pinned) as it is. `opts` say how the image's registry is reached.
 */
export async function pin(location: string, opts: registry.RegistryOptions = {}): Promise<string> {
    const { kind } = classify(location);
    if (kind === "docker-image") {
        const ref = location.slice("docker-image://".length);
        if (ref === "scratch") return location;
        const r = registry.parseRef(ref);
        if (r.digest) return location;
        const m = await new registry.Registry(r.registry, opts).getManifest(r.repository, r.tag!).catch((e: Error) => {
            throw new Error(`${ref}: ${e.message}`);
        });
        if (!m)
            throw new Error(
                `${ref} is not in its registry (${r.registry}/${r.repository} has no tag ${r.tag}): push it first, or fix the reference`,
            );
        return `${location}@${m.digest}`;
    }
    if (kind === "oci-layout") {
        const o = parseOciLayout(location);
        if (o.digest) return location;
        return `oci-layout://${o.path}:${o.tag}@${ociLayoutDigest(o.path, o.tag!)}`;
    }
    if (kind === "git") {
        const g = git.parseGitContext(location)!;
        return git.pinnedLocation(g, await git.resolveCommit(g));
    }
    return location;
}

/** True when the build reads the Dockerfile from a Git context's repository: no local file or text to read. */
export function dockerfileInRepository(i: {
    context: string;
    dockerfile?: string;
    dockerfileInline?: string;
}): boolean {
    if (i.dockerfileInline !== undefined) return false;
    let g;
    try {
        g = git.parseGitContext(i.context);
    } catch {
        return false;
    }
    return !!g && !(i.dockerfile && path.isAbsolute(i.dockerfile));
}
