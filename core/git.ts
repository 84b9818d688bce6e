// Git build contexts as BuildKit reads them (moby/buildkit dfgitutil.ParseGitRef,
// gitutil.ParseURL): which locations are Git repositories, their `#ref:subdir` fragment and
// query (`?ref=`, `branch=`, `tag=`, `subdir=`, `checksum=`...); the commit a ref names now,
// resolved with `git ls-remote` by the rules of BuildKit's git source; and the location pinned
// to that commit (`checksum=`), so the build fetches exactly what the preview resolved, or fails.
import * as path from "path";

import { run } from "./exec";

export interface GitContext {
    /** The location as given. */
    location: string;
    /** The repository URL without fragment and query, as `git` takes it. */
    remote: string;
    /** Branch, tag, full ref or commit; undefined for the remote's default branch. */
    ref?: string;
    /** Folder inside the repository used as the context. */
    subdir?: string;
    /** A commit (or its prefix) the ref must resolve to. */
    checksum?: string;
    /** `fetch-by-commit`: the checksum is trusted as the commit, no ref lookup. */
    fetchByCommit: boolean;
}

const PROTOCOL = /^([a-zA-Z0-9]+):\/\//;
const SCP = /^([a-zA-Z0-9_-]+)@([a-zA-Z0-9.-]+):(.*?)(?:\?(.*?))?(?:#(.*))?$/;
const QUERY_KEYS = new Set([
    "ref",
    "tag",
    "branch",
    "subdir",
    "checksum",
    "commit",
    "keep-git-dir",
    "submodules",
    "mtime",
    "fetch-by-commit",
]);

/** A full commit hash (SHA-1 or SHA-256), as BuildKit's gitutil.IsCommitSHA. */
export function isCommit(s: string | undefined): boolean {
    return !!s && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(s);
}

/** True for a location BuildKit treats as remote: any http(s) URL, or a Git URL. */
export function isRemote(location: string): boolean {
    return (
        /^https?:\/\//.test(location) ||
        (PROTOCOL.test(location) && ["git", "ssh"].includes(PROTOCOL.exec(location)![1].toLowerCase())) ||
        SCP.test(location)
    );
}

/**
 * The Git repository a location names, or undefined when it is not a Git URL (a local path,
 * an http(s) URL without `.git`, another scheme). Throws, as BuildKit fails the build, for a
 * Git URL with a query it refuses.
 */
export function parseGitContext(location: string): GitContext | undefined {
    if (location.startsWith("./") || location.startsWith("../")) return undefined;
    let remote: string, query: URLSearchParams, fragment: string;
    const proto = PROTOCOL.exec(location)?.[1].toLowerCase();
    if (proto) {
        if (!["http", "https", "ssh", "git"].includes(proto)) return undefined;
        let u: URL;
        try {
            u = new URL(location);
        } catch {
            return undefined;
        }
        if ((proto === "http" || proto === "https") && !u.pathname.endsWith(".git")) return undefined;
        query = new URLSearchParams(u.search); // a copy: the URL's own is cleared below
        fragment = decodeURIComponent(u.hash.replace(/^#/, ""));
        u.hash = "";
        u.search = "";
        remote = u.toString();
    } else {
        const m = SCP.exec(location);
        if (!m) return undefined;
        remote = `${m[1]}@${m[2]}:${m[3]}`;
        query = new URLSearchParams(m[4] ?? "");
        fragment = m[5] ?? "";
    }
    const [fragmentRef, ...rest] = fragment ? fragment.split(":") : [];
    const ctx: GitContext = { location, remote, fetchByCommit: false };
    if (fragmentRef) ctx.ref = fragmentRef;
    const subdir = rest.length ? path.posix.join("/", rest.join(":")).slice(1) : "";
    if (subdir) ctx.subdir = subdir;
    const refused = (why: string) => new Error(`${location}: ${why}`);
    let tag: string | undefined, branch: string | undefined;
    for (const key of new Set(query.keys())) {
        const values = query.getAll(key);
        if (!QUERY_KEYS.has(key))
            throw refused(`unexpected query "${key}": BuildKit takes ${[...QUERY_KEYS].join(", ")}`);
        if (values.length > 1) throw refused(`query "${key}" has multiple values`);
        const v = values[0];
        if (v === "" && !["submodules", "keep-git-dir", "fetch-by-commit"].includes(key))
            throw refused(`query "${key}" has no value`);
        if (key === "ref") {
            if (ctx.ref && ctx.ref !== v) throw refused(`ref conflicts: "${ctx.ref}" vs "${v}"`);
            ctx.ref = v;
        } else if (key === "tag") tag = v;
        else if (key === "branch") branch = v;
        else if (key === "subdir") {
            if (ctx.subdir && ctx.subdir !== v) throw refused(`subdir conflicts: "${ctx.subdir}" vs "${v}"`);
            ctx.subdir = v;
        } else if (key === "checksum" || key === "commit") ctx.checksum = v;
        else if (key === "fetch-by-commit") ctx.fetchByCommit = v === "" || v === "true" || v === "1";
    }
    for (const [v, prefix] of [
        [tag, "refs/tags/"],
        [branch, "refs/heads/"],
    ] as const) {
        if (!v) continue;
        const full = v.startsWith(prefix) ? v : `${prefix}${v}`;
        if (ctx.ref && ctx.ref !== full) throw refused(`ref conflicts: "${ctx.ref}" vs "${full}"`);
        ctx.ref = full;
    }
    if (tag && branch) throw refused("branch conflicts with tag");
    if (ctx.checksum !== undefined && !/^[0-9a-fA-F]+$/.test(ctx.checksum))
        throw refused(`invalid checksum ${ctx.checksum}: expected a hex commit hash`);
    return ctx;
}

/** The default branch from `git ls-remote --symref <remote> HEAD` (`ref: refs/heads/main\tHEAD`). */
export function parseDefaultBranch(text: string): string | undefined {
    return /^ref: (refs\/\S+)\tHEAD$/m.exec(text)?.[1];
}

/**
 * The commit `ref` names in `git ls-remote -- <remote> <ref> <ref>^{}` output, by BuildKit's
 * rules: an exact `refs/...` match, else a branch, else a tag (an annotated tag is peeled to
 * its commit). Undefined when the repository has no such ref.
 */
export function parseLsRemote(text: string, ref: string): { commit: string; ref: string } | undefined {
    const bare = ref.replace(/^refs\//, "");
    const partial = `refs/${bare}`,
        head = `refs/heads/${ref.replace(/^refs\/heads\//, "")}`,
        tagRef = `refs/tags/${ref.replace(/^refs\/tags\//, "")}`;
    const found: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const [sha, name] = line.trim().split("\t");
        if (sha && name) found[name] = sha;
    }
    if (found[partial]) return { commit: found[partial], ref: partial };
    if (found[head]) return { commit: found[head], ref: head };
    if (found[tagRef]) return { commit: found[`${tagRef}^{}`] ?? found[tagRef], ref: tagRef };
    return undefined;
}

async function git(args: string[], what: string): Promise<string> {
    const r = await run("git", args, {
        allowFailure: true,
        // Never wait for a password prompt; a hung server is a failed preview, not a hung one.
        env: { GIT_TERMINAL_PROMPT: "0", GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? "ssh -o BatchMode=yes" },
        signal: AbortSignal.timeout(60_000),
    }).catch((e: Error) => {
        throw new Error(`${what}: ${e.name === "AbortError" ? "no answer within 60 s" : e.message}`);
    });
    if (r.code !== 0)
        throw new Error(`${what}: ${r.stderr.trim().split("\n").slice(-2).join(" ") || `git exited ${r.code}`}`);
    return r.stdout;
}

/**
 * The commit the context's ref names now, as BuildKit would resolve it (a commit given as the
 * ref or with fetch-by-commit needs no lookup). Throws with the cause when the repository does
 * not answer, has no such ref, or the ref is not at the `checksum` given.
 */
export async function resolveCommit(g: GitContext): Promise<string> {
    if (isCommit(g.ref)) {
        if (g.checksum && !g.ref!.startsWith(g.checksum))
            throw new Error(`${g.location}: the ref ${g.ref} is not the checksum ${g.checksum}`);
        return g.ref!;
    }
    if (g.fetchByCommit && isCommit(g.checksum)) return g.checksum!;
    const where = `git ls-remote ${g.remote}`;
    const ref = g.ref ?? parseDefaultBranch(await git(["ls-remote", "--symref", "--", g.remote, "HEAD"], where));
    if (!ref)
        throw new Error(`${where}: the repository names no default branch (HEAD): give a ref, e.g. ${g.remote}#main`);
    const hit = parseLsRemote(await git(["ls-remote", "--", g.remote, ref, `${ref}^{}`], where), ref);
    if (!hit) throw new Error(`${where}: the repository has no branch or tag "${ref}"`);
    if (g.checksum && !hit.commit.startsWith(g.checksum))
        throw new Error(`${g.location}: ${hit.ref} is at ${hit.commit}, not at the checksum ${g.checksum}`);
    return hit.commit;
}

/** The location with `checksum=<commit>`: BuildKit fetches the ref and fails unless it is at that commit. */
export function pinnedLocation(g: GitContext, commit: string): string {
    const hash = g.location.indexOf("#");
    const [base, fragment] = hash < 0 ? [g.location, ""] : [g.location.slice(0, hash), g.location.slice(hash)];
    const q = base.indexOf("?");
    const params = new URLSearchParams(q < 0 ? "" : base.slice(q + 1));
    params.delete("checksum");
    params.delete("commit");
    params.set("checksum", commit);
    return `${q < 0 ? base : base.slice(0, q)}?${params.toString()}${fragment}`;
}
