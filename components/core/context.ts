// Content-based, machine-independent digest of a build context: relative paths, file
// contents and the executable bit only (no umask, owner, mtime or absolute path), after
// .dockerignore. Ignored folders are not walked unless an exception (!pattern) could
// re-include something below them.
import crypto = require("crypto");
import fs = require("fs");
import path = require("path");
import dockerignore = require("@balena/dockerignore");

export interface ContextDigest {
    /** sha256 over every entry below, in path order. */
    digest: string;
    /** relative path -> "sha256:<hex>" (with "+x" appended for executables). */
    files: Record<string, string>;
}

function fileHash(file: string): string {
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** Reads and parses <context>/.dockerignore (none: nothing ignored). */
export function loadIgnore(context: string): { ignores(p: string): boolean; hasExceptions: boolean } {
    const file = path.join(context, ".dockerignore");
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    const ig = dockerignore.default({ ignorecase: false }).add(lines);
    return { ignores: (p) => ig.ignores(p), hasExceptions: lines.some((l) => l.startsWith("!")) };
}

export function hashContext(context: string, dockerfile?: string): ContextDigest {
    if (!fs.existsSync(context) || !fs.statSync(context).isDirectory()) {
        throw new Error(`build context "${context}" is not a directory`);
    }
    const ig = loadIgnore(context);
    const files: Record<string, string> = {};
    const walk = (rel: string) => {
        const abs = path.join(context, rel);
        for (const ent of fs.readdirSync(abs, { withFileTypes: true })) {
            const r = rel ? `${rel}/${ent.name}` : ent.name;
            if (ent.isDirectory()) {
                if (ig.ignores(r) && !ig.hasExceptions) continue;
                walk(r);
            } else if (!ig.ignores(r)) {
                const full = path.join(context, r);
                if (ent.isSymbolicLink()) {
                    files[r] = `link:${fs.readlinkSync(full)}`;
                } else if (ent.isFile()) {
                    const exec = (fs.statSync(full).mode & 0o111) !== 0;
                    files[r] = `sha256:${fileHash(full)}${exec ? "+x" : ""}`;
                }
            }
        }
    };
    walk("");
    // The Dockerfile counts even when it lives outside the context or is ignored.
    if (dockerfile) files["<Dockerfile>"] = `sha256:${fileHash(dockerfile)}`;
    const h = crypto.createHash("sha256");
    for (const k of Object.keys(files).sort()) h.update(`${k}\0${files[k]}\n`);
    return { digest: `sha256:${h.digest("hex")}`, files };
}

/**
 * What state keeps to explain a rebuild: every file for small contexts; above `limit` files,
 * one entry per top-level folder ("src/" -> "sha256:... (1234 files)") so the state stays
 * small and `preview --diff` still says where the change is.
 */
export function summarizeFiles(files: Record<string, string>, limit = 500): Record<string, string> {
    const keys = Object.keys(files).sort();
    if (keys.length <= limit) return Object.fromEntries(keys.map((k) => [k, files[k]]));
    const groups: Record<string, string[]> = {};
    for (const k of keys) {
        const slash = k.indexOf("/");
        const g = slash < 0 ? k : `${k.slice(0, slash)}/`;
        (groups[g] ??= []).push(k);
    }
    const out: Record<string, string> = {};
    for (const [g, members] of Object.entries(groups)) {
        if (!g.endsWith("/")) { out[g] = files[g]; continue; }
        const h = crypto.createHash("sha256");
        for (const k of members) h.update(`${k}\0${files[k]}\n`);
        out[g] = `sha256:${h.digest("hex")} (${members.length} files)`;
    }
    return out;
}

/** Which files were added, removed or changed between two digests' file maps. */
export function diffFiles(before: Record<string, string>, after: Record<string, string>): { added: string[]; removed: string[]; changed: string[] } {
    const added = Object.keys(after).filter((k) => !(k in before)).sort();
    const removed = Object.keys(before).filter((k) => !(k in after)).sort();
    const changed = Object.keys(after).filter((k) => k in before && before[k] !== after[k]).sort();
    return { added, removed, changed };
}
