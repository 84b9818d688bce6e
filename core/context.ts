// Content-based, machine-independent digest of what BuildKit sends for a build context:
// the same ignore file (`<Dockerfile>.dockerignore` first), the same pattern semantics and
// walk (./dockerignore.ts, a port of moby/patternmatcher and tonistiigi/fsutil's filter),
// and for every entry sent what COPY writes into the image: its type, its full permission
// bits (setuid/setgid/sticky included), its bytes, its link target, its device numbers.
// Owners and mtimes are left out (a checkout sets them; COPY resets owners to root).
// Every file is hashed as a stream with one reused buffer, so memory does not grow with
// file size, and names are handled as bytes, so any name a file system allows works.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

import { asSent, IgnoreFileError, PatternMatcher, readIgnoreFile, runes } from "./dockerignore";
import * as tempDirs from "./tempDirs";

export interface ContextDigest {
    /** sha256 over every entry below, in byte order of the paths. */
    digest: string;
    /**
     * relative path -> what the image gets: "sha256:<hex> 0644" for a file, "dir 0755",
     * "-> target" for a symlink, "fifo 0644", "char 1,3 0666", "block 8,0 0660",
     * "hardlink <path>" for a second name of a file. Folders end in "/". Bytes that are not
     * UTF-8 show as \xNN.
     */
    files: Record<string, string>;
    /** The ignore file BuildKit uses for this build, when there is one. */
    ignoreFile?: string;
    /** name -> the same record for each local named context (`--build-context name=path`). */
    named?: Record<string, Record<string, string>>;
    /** Ignore files that BuildKit will not use, each with why and the fix (for a warning). */
    unusedIgnoreFiles?: string[];
}

const EMPTY_SHA256 = crypto.createHash("sha256").digest("hex");
const ASCII = /^[\x00-\x7f]*$/;
const CHUNK = Buffer.allocUnsafe(1 << 20);

/** sha256 of a file, streamed through one 1 MiB buffer (no size limit, flat memory). */
export function hashFile(file: string | Buffer): string {
    const h = crypto.createHash("sha256");
    const fd = fs.openSync(file, "r");
    try {
        for (;;) {
            const n = fs.readSync(fd, CHUNK, 0, CHUNK.length, null);
            if (n === 0) break;
            h.update(CHUNK.subarray(0, n));
        }
    } finally {
        fs.closeSync(fd);
    }
    return h.digest("hex");
}

/** A byte-string path for display and state keys: UTF-8 as is, other bytes as \xNN. */
export function displayPath(bytes: string): string {
    if (ASCII.test(bytes)) return bytes; // most names: nothing to decode
    const decoded = Buffer.from(bytes, "latin1").toString("utf8");
    if (Buffer.from(decoded, "utf8").toString("latin1") === bytes) return decoded;
    let out = "";
    const r = runes(bytes);
    let i = 0;
    for (const ch of r) {
        const n = Buffer.byteLength(ch, "utf8");
        if (ch === "\ufffd" && bytes.slice(i, i + 3) !== "\xef\xbf\xbd") {
            out += `\\x${bytes.charCodeAt(i).toString(16).padStart(2, "0")}`;
            i += 1;
        } else {
            out += ch;
            i += n;
        }
    }
    return out;
}

/**
 * The regular file BuildKit reads as `name` in the folder `root`, or undefined. BuildKit has
 * only what the client sent of that folder, and the client follows a symlink with `root` as
 * "/" (fsutil's FollowPaths; the read in the snapshot resolves the same way): `/x` and `../x`
 * both mean `<root>/x`, so a link to a file outside the folder finds nothing there.
 */
export function fileInside(root: string, name: string): string | undefined {
    let parts = name.split("/");
    const at: string[] = [];
    for (let hops = 0; parts.length > 0;) {
        const part = parts.shift()!;
        if (part === "" || part === ".") continue;
        if (part === "..") {
            at.pop();
            continue;
        }
        const full = path.join(root, ...at, part);
        let st: fs.Stats;
        try {
            st = fs.lstatSync(full);
        } catch {
            return undefined;
        }
        if (!st.isSymbolicLink()) {
            at.push(part);
            if (parts.length > 0 && !st.isDirectory()) return undefined;
            continue;
        }
        if (++hops > 255) return undefined; // a loop, as the kernel refuses it
        const target = fs.readlinkSync(full);
        if (target.startsWith("/")) at.length = 0;
        parts = [...target.split("/"), ...parts];
    }
    const file = path.join(root, ...at);
    try {
        return fs.lstatSync(file).isFile() ? file : undefined;
    } catch {
        return undefined;
    }
}

/** Where `root/name` leads when a symlink is followed freely, as the library did before 0.3: a regular file, or undefined. */
function realFile(root: string, name: string): string | undefined {
    try {
        const real = fs.realpathSync(path.join(root, name));
        return fs.statSync(real).isFile() ? real : undefined;
    } catch {
        return undefined;
    }
}

export interface IgnoreChoice {
    /** The ignore file BuildKit applies, as named beside the Dockerfile or in the context. */
    name?: string;
    /** The file whose bytes BuildKit reads for it (the name, or where its symlink leads inside the folder). */
    file?: string;
    /** Ignore files BuildKit does not use because they are symlinks out of their folder: why, and the fix. */
    unused: string[];
}

/**
 * The ignore file BuildKit's Dockerfile frontend uses: `<Dockerfile>.dockerignore` beside the
 * Dockerfile (even outside the context) when it is a file, even an empty one, else
 * `<context>/.dockerignore`. Anything but a file (a folder, nothing, a symlink that leaves its
 * folder: see {@link fileInside}) means no ignore file. A named context has only its own
 * `.dockerignore`: leave out `dockerfile`.
 */
export function chooseIgnoreFile(context: string, dockerfile?: string): IgnoreChoice {
    const skipped: { candidate: string; real: string; root: string }[] = [];
    const candidates = [
        ...(dockerfile ? [[path.dirname(dockerfile), `${path.basename(dockerfile)}.dockerignore`]] : []),
        [context, ".dockerignore"],
    ];
    let chosen: { name: string; file: string } | undefined;
    for (const [root, name] of candidates) {
        const file = fileInside(root, name);
        const real = realFile(root, name);
        if (real && (!file || fs.realpathSync(file) !== real))
            skipped.push({ candidate: path.join(root, name), real, root });
        if (file) {
            chosen = { name: path.join(root, name), file };
            break;
        } // even empty: then nothing is ignored
    }
    const applied = chosen && fs.realpathSync(chosen.file);
    const unused = skipped
        .filter((s) => s.real !== applied)
        .map(
            (s) =>
                `${s.candidate} is a symlink to ${s.real}, outside ${s.root}: BuildKit receives only what is inside that folder, so it does not use ` +
                `this ignore file (${chosen ? `it applies ${chosen.file}` : "it sends every file"}); copy the file into the folder, or hard-link it, to have it applied`,
        );
    return { ...chosen, unused };
}

/** The ignore file BuildKit applies (see {@link chooseIgnoreFile}), or undefined. */
export function ignoreFileFor(context: string, dockerfile?: string): string | undefined {
    return chooseIgnoreFile(context, dockerfile).name;
}

/** The patterns of the ignore file `name` (read from `file`, where its symlink leads), or an error naming it and the fix. */
export function loadIgnore(name: string, file = name): PatternMatcher {
    try {
        return new PatternMatcher(
            asSent(readIgnoreFile(fs.readFileSync(file), path.basename(name)), path.basename(name)),
        );
    } catch (e) {
        if (!(e instanceof IgnoreFileError)) throw e;
        throw new Error(
            `${name}: ${e.message}. BuildKit refuses this ignore file, so the build would fail: fix the pattern (escape [ ] * ? \\ with \\ to mean them literally)`,
        );
    }
}

function mode(st: fs.Stats): string {
    return (st.mode & 0o7777).toString(8).padStart(4, "0");
}

interface Walked {
    rel: string; // byte string
    st: fs.Stats;
    /** The absolute path: bytes, or a string when every byte is ASCII (the same path, cheaper). */
    full: Buffer | string;
}

/**
 * Walks `context` as fsutil's filter does for BuildKit's sender: entries in byte order;
 * an excluded folder is skipped unless a `!` pattern could re-include something in it, and
 * then appears only if something inside it does.
 */
export function walkContext(context: string, matcher?: PatternMatcher): Walked[] {
    const root = Buffer.from(context);
    const out: Walked[] = [];
    const asciiRoot = ASCII.test(context) && Buffer.byteLength(context) === context.length;
    const abs = (rel: string) =>
        asciiRoot && ASCII.test(rel)
            ? `${context}/${rel}`
            : Buffer.concat([root, Buffer.from("/"), Buffer.from(rel, "latin1")]);
    const pending: { entry: Walked; emitted: boolean }[] = [];
    const walk = (dirRel: string, parentInfo: boolean[] | undefined) => {
        const dir = dirRel ? abs(dirRel) : root;
        // Names as byte strings (latin1: one char per byte), in byte order (char codes are the bytes).
        const names = fs.readdirSync(dir, { encoding: "latin1" }).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        for (const name of names) {
            const rel = dirRel ? `${dirRel}/${name}` : name;
            const full = abs(rel);
            const st = fs.lstatSync(full);
            let skip = false;
            let info: boolean[] | undefined;
            if (matcher) {
                let r: { matched: boolean; info: boolean[] };
                try {
                    r = matcher.matchesUsingParentResults(rel, parentInfo);
                } catch (e) {
                    throw new Error(`${(e as Error).message} (while matching ${displayPath(rel)})`);
                }
                info = r.info;
                if (r.matched) {
                    if (st.isDirectory() && matcher.canSkipExcludedDir(rel)) continue;
                    skip = true;
                }
            }
            const entry = { rel, st, full };
            if (!skip) {
                for (const p of pending)
                    if (!p.emitted) {
                        out.push(p.entry);
                        p.emitted = true;
                    }
                out.push(entry);
            }
            if (st.isDirectory()) {
                pending.push({ entry, emitted: !skip });
                walk(rel, info);
                pending.pop();
            }
        }
    };
    walk("", undefined);
    return out;
}

export interface ContextEntry {
    /** Byte string. */
    path: string;
    /** What the image gets (see {@link ContextDigest.files}), names as bytes. */
    value: string;
    /** A re-included file that BuildKit's sender opens as excluded and sends empty (a BuildKit bug). */
    sentEmpty?: boolean;
}

/** What hashing read in this process: files whose bytes were read, their bytes, files taken from the stat cache. */
export interface HashStats {
    filesRead: number;
    bytesRead: number;
    filesFromCache: number;
}
const stats: HashStats = { filesRead: 0, bytesRead: 0, filesFromCache: 0 };

/** The counters of this process so far (the bench records them per no-op and per change). */
export function hashStats(): HashStats {
    return { ...stats };
}

/**
 * A file changed less than this long before it was hashed is not remembered: a write in the
 * same clock tick as the one seen would leave its stat as it was (git's "racily clean" entries).
 */
export const RACY_MS = 1000;

const HEADER = "pulumi-multiarch stat cache v2\n";

/**
 * The digests of a context's files by their stat, as git's index keeps them: a file whose
 * device, inode, size, mtime and ctime are those seen when it was hashed is not read again,
 * so an unchanged tree costs a walk and a stat per entry. Any write changes the ctime (even
 * one that puts the mtime back), a rename brings another inode; modes and names are not in
 * it (they come from the walk every time). Kept per context folder in the user's private
 * cache folder (core/tempDirs), rewritten only when something changed, holding only the
 * files of the last walk, in walk order: a pass over an unchanged tree compares each file's
 * stat with the next record of the file, without parsing it into objects (50,000 files cost
 * their lstat and little else).
 */
export class StatCache {
    /** The file's records: `<path>\0<dev> <ino> <size> <mtimeMs> <ctimeMs> <sha256 hex, or "" to read again>\0`, in walk order. */
    private text = "";
    private pos = 0;
    /** Records by path, parsed only once the walk left the file's order (a file added or removed). */
    private byPath?: Map<string, string>;
    private out: string[] = [];
    private changed = false;

    constructor(
        readonly file: string | undefined,
        private readonly racyMs = RACY_MS,
    ) {
        if (!file) return;
        try {
            const text = fs.readFileSync(file, "latin1");
            if (text.startsWith(HEADER)) {
                this.text = text;
                this.pos = HEADER.length;
            }
        } catch {
            /* none yet, or unreadable: hash everything */
        }
    }

    /** The cache file of the context folder `root` (a real path). */
    static fileFor(root: string): string {
        const key = crypto.createHash("sha256").update(Buffer.from(root)).digest("hex").slice(0, 32);
        return path.join(tempDirs.cacheDir("context-stat"), `${key}.v2`);
    }

    /** The stat and digest recorded for `rel` ("<stat> <hex>"), or undefined. */
    private recorded(rel: string): string | undefined {
        const t = this.text;
        if (!this.byPath) {
            if (this.pos < t.length && t.startsWith(rel, this.pos) && t.charCodeAt(this.pos + rel.length) === 0) {
                const from = this.pos + rel.length + 1;
                const to = t.indexOf("\0", from);
                this.pos = to < 0 ? t.length : to + 1;
                return to < 0 ? undefined : t.slice(from, to);
            }
            this.byPath = new Map();
            for (let i = HEADER.length; i < t.length;) {
                const a = t.indexOf("\0", i),
                    b = a < 0 ? -1 : t.indexOf("\0", a + 1);
                if (b < 0) break;
                this.byPath.set(t.slice(i, a), t.slice(a + 1, b));
                i = b + 1;
            }
            this.changed = true; // another set of files: written anew
        }
        return this.byPath.get(rel);
    }

    /** sha256 hex of `full` (`rel` in the folder), from the cache when its stat is the one seen. */
    digest(rel: string, full: Buffer | string, st: fs.Stats): string {
        const stat = `${st.dev} ${st.ino} ${st.size} ${st.mtimeMs} ${st.ctimeMs}`;
        const had = this.text ? this.recorded(rel) : undefined;
        if (had && had.length === stat.length + 65 && had.startsWith(stat) && had.charCodeAt(stat.length) === 32) {
            stats.filesFromCache++;
            this.out.push(rel, had);
            return had.slice(stat.length + 1);
        }
        const started = Date.now();
        const hex = hashFile(full);
        stats.filesRead++;
        stats.bytesRead += st.size;
        this.changed = true;
        // Changed just before (or while) it was read: kept without its digest, read again next time.
        this.out.push(rel, `${stat} ${Math.max(st.mtimeMs, st.ctimeMs) < started - this.racyMs ? hex : ""}`);
        return hex;
    }

    /**
     * Writes the records of this walk when they differ from those read (atomically: another
     * process may read it); an unchanged file read here is marked used instead, once a day.
     */
    save(): void {
        if (!this.file) return;
        try {
            if (!this.changed && this.pos === this.text.length) {
                if (this.text && fs.statSync(this.file).mtimeMs < Date.now() - DAY_MS) {
                    fs.utimesSync(this.file, new Date(), new Date());
                }
            } else if (this.out.length || this.text) {
                const tmp = `${this.file}.${process.pid}`;
                fs.writeFileSync(tmp, HEADER + (this.out.length ? `${this.out.join("\0")}\0` : ""), {
                    encoding: "latin1",
                    mode: 0o600,
                });
                fs.renameSync(tmp, this.file);
            }
            expireUnused(path.dirname(this.file));
        } catch {
            /* a cache that cannot be written is only slower */
        }
    }
}

const DAY_MS = 86_400_000;

/**
 * Folders gone (temp contexts, old checkouts) leave their cache files: those unused for a week
 * go. Looked for once a day (the folder's `.swept` says when), not at every walk: a folder of
 * thousands of files would cost a stat of each at every build.
 */
export function expireUnused(dir: string, now = Date.now()): void {
    const mark = path.join(dir, ".swept");
    try {
        if (fs.statSync(mark).mtimeMs > now - DAY_MS) return;
    } catch {
        /* never swept */
    }
    fs.writeFileSync(mark, "");
    for (const n of fs.readdirSync(dir)) {
        const f = path.join(dir, n);
        try {
            if (n !== ".swept" && fs.statSync(f).mtimeMs < now - 7 * DAY_MS) fs.rmSync(f, { force: true });
        } catch {
            /* gone */
        }
    }
}

/**
 * Every entry BuildKit sends for this context and Dockerfile, in byte order. For a named
 * context leave out `dockerfile`: BuildKit applies only the folder's own `.dockerignore`.
 * Files are read only when their stat changed since the last walk of this folder
 * ({@link StatCache}); `statCache: false` (or PULUMI_MULTIARCH_STAT_CACHE=off in the
 * environment, for a file system whose ctimes cannot be trusted) reads every file.
 */
export function contextEntries(
    context: string,
    dockerfile?: string,
    opts: { statCache?: boolean } = {},
): { entries: ContextEntry[]; ignoreFile?: string; unusedIgnoreFiles: string[] } {
    if (!fs.existsSync(context) || !fs.statSync(context).isDirectory()) {
        throw new Error(`build context "${context}" is not a directory`);
    }
    const ignore = chooseIgnoreFile(context, dockerfile);
    const ignoreFile = ignore.name;
    const matcher = ignore.name ? loadIgnore(ignore.name, ignore.file) : undefined;
    const root = fs.realpathSync(context);
    const off = opts.statCache === false || process.env.PULUMI_MULTIARCH_STAT_CACHE === "off";
    const cache = new StatCache(off ? undefined : StatCache.fileFor(root));
    const entries: ContextEntry[] = [];
    const inodes = new Map<string, string>();
    for (const { rel, st, full } of walkContext(root, matcher)) {
        let value: string;
        let sentEmpty: boolean | undefined;
        if (st.isSymbolicLink()) {
            value = `-> ${fs.readlinkSync(full, { encoding: "buffer" }).toString("latin1")}`;
        } else if (st.isDirectory()) {
            value = `dir ${mode(st)}`;
        } else if (st.isFile()) {
            const first = st.nlink > 1 ? inodes.get(`${st.dev}:${st.ino}`) : undefined;
            if (first !== undefined) value = `hardlink ${first}`;
            else {
                if (st.nlink > 1) inodes.set(`${st.dev}:${st.ino}`, rel);
                value = `sha256:${cache.digest(rel, full, st)} ${mode(st)}`;
                // Only a `!` pattern can list a file the sender then opens as excluded.
                if (matcher?.exclusions && matcher.matchesOrParentMatches(rel)) sentEmpty = true;
            }
        } else if (st.isFIFO()) {
            value = `fifo ${mode(st)}`;
        } else if (st.isSocket()) {
            value = `sha256:${EMPTY_SHA256} ${mode(st)}`; // BuildKit writes a socket as an empty file
        } else {
            const kind = st.isCharacterDevice() ? "char" : "block";
            value = `${kind} ${Math.floor(st.rdev / 256) & 0xfff},${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)} ${mode(st)}`;
        }
        entries.push({ path: rel, value, ...(sentEmpty ? { sentEmpty } : {}) });
    }
    cache.save();
    return { entries, ...(ignoreFile ? { ignoreFile } : {}), unusedIgnoreFiles: ignore.unused };
}

/** One entry per line of the digest, and its display form. */
function record(entries: ContextEntry[], h: crypto.Hash): Record<string, string> {
    const files: Record<string, string> = {};
    let lines = "";
    for (const { path: rel, value } of entries) {
        const shown = /^(->|hardlink) /.test(value)
            ? value.replace(/ (.*)$/s, (_, t: string) => ` ${displayPath(t)}`)
            : value;
        files[`${displayPath(rel)}${value.startsWith("dir ") ? "/" : ""}`] = shown;
        lines += `${rel}\0${value}\n`;
        if (lines.length > 1 << 16) {
            h.update(lines, "latin1");
            lines = "";
        }
    }
    h.update(lines, "latin1");
    return files;
}

/** What a build reads from this machine: the folders and the Dockerfile BuildKit is sent. */
export interface LocalSources {
    /** The context folder; leave out for a remote (Git) context, which is pinned by its commit instead. */
    context?: string;
    /** The Dockerfile: a local path (inside the context or not), or its text (`--file -`). Leave out when it lives in a Git context. */
    dockerfile?: string | { inline: string };
    /** name -> folder of each local named context (`--build-context name=path`). */
    named?: Record<string, string>;
    /** Take unchanged files' digests from the stat cache ({@link StatCache}). Default true. */
    statCache?: boolean;
}

/**
 * The digest of what BuildKit sends. A file BuildKit's bug sends empty is hashed with its
 * real bytes: a rebuild it causes is needless, never stale (and right once BuildKit is fixed).
 * A context and Dockerfile alone hash as they always have, so stacks keep their digests.
 */
export function hashSources(s: LocalSources): ContextDigest {
    const h = crypto.createHash("sha256");
    const dockerfile = typeof s.dockerfile === "string" ? s.dockerfile : undefined;
    const opts = { statCache: s.statCache };
    const main = s.context !== undefined ? contextEntries(s.context, dockerfile, opts) : undefined;
    const files = main ? record(main.entries, h) : {};
    const unused = [...(main?.unusedIgnoreFiles ?? [])];
    // The Dockerfile counts even when it lives outside the context or is ignored.
    if (s.dockerfile !== undefined) {
        files["<Dockerfile>"] =
            `sha256:${typeof s.dockerfile === "string" ? hashFile(s.dockerfile) : crypto.createHash("sha256").update(s.dockerfile.inline).digest("hex")}`;
        h.update(`<Dockerfile>\0${files["<Dockerfile>"]}\n`);
    }
    const named: Record<string, Record<string, string>> = {};
    for (const name of Object.keys(s.named ?? {}).sort()) {
        const sent = contextEntries(s.named![name], undefined, opts);
        const hn = crypto.createHash("sha256");
        named[name] = record(sent.entries, hn);
        unused.push(...sent.unusedIgnoreFiles);
        h.update(`<named ${name}>\0sha256:${hn.digest("hex")}\n`);
    }
    return {
        digest: `sha256:${h.digest("hex")}`,
        files,
        ...(main?.ignoreFile ? { ignoreFile: main.ignoreFile } : {}),
        ...(s.named && Object.keys(s.named).length ? { named } : {}),
        ...(unused.length ? { unusedIgnoreFiles: unused } : {}),
    };
}

/** The digest of a context folder and its Dockerfile (see {@link hashSources}). */
export function hashContext(context: string, dockerfile?: string, opts: { statCache?: boolean } = {}): ContextDigest {
    return hashSources({ context, dockerfile, ...opts });
}

/**
 * What state keeps to explain a rebuild: every entry for small contexts; above `limit`
 * entries, one per top-level folder ("src/" -> "sha256:... (1234 files)") so the state stays
 * small and `preview --diff` still says where the change is.
 */
export function summarizeFiles(files: Record<string, string>, limit = 500): Record<string, string> {
    const keys = Object.keys(files).sort();
    if (keys.length <= limit) return Object.fromEntries(keys.map((k) => [k, files[k]]));
    const groups: Record<string, string[]> = {};
    for (const k of keys) {
        const slash = k.indexOf("/");
        const g = slash < 0 || slash === k.length - 1 ? k : `${k.slice(0, slash)}/`;
        (groups[g] ??= []).push(k);
    }
    const out: Record<string, string> = {};
    for (const [g, members] of Object.entries(groups)) {
        if (members.length === 1 && members[0] === g) {
            out[g] = files[g];
            continue;
        }
        const h = crypto.createHash("sha256");
        for (const k of members) h.update(`${k}\0${files[k]}\n`);
        out[g] = `sha256:${h.digest("hex")} (${members.filter((k) => !k.endsWith("/")).length} files)`;
    }
    return out;
}

/** Which files were added, removed or changed between two digests' file maps. */
export function diffFiles(
    before: Record<string, string>,
    after: Record<string, string>,
): { added: string[]; removed: string[]; changed: string[] } {
    const added = Object.keys(after)
        .filter((k) => !(k in before))
        .sort();
    const removed = Object.keys(before)
        .filter((k) => !(k in after))
        .sort();
    const changed = Object.keys(after)
        .filter((k) => k in before && before[k] !== after[k])
        .sort();
    return { added, removed, changed };
}

const LEGACY_ENTRY = /^(sha256:[0-9a-f]{64}(\+x)?|link:.*)$/s;

/**
 * 0.1.0 recorded a context as "sha256:<hex>" per file ("+x" when executable) and
 * "link:<target>" per symlink, without folders or special files. True when `old` is such a
 * record and `current` (this version's record) holds the same files, modes as far as 0.1.0
 * saw them, and links: the context did not change, only the record's format. A record
 * 0.1.0 could not have written the same way (a hard link, a summary of a large context)
 * is never the same, so the image is rebuilt as before.
 */
export function sameAsLegacyRecord(
    old: Record<string, string> | undefined,
    current: Record<string, string> | undefined,
): boolean {
    if (!old || !current || !Object.values(old).every((v) => LEGACY_ENTRY.test(v))) return false;
    const projected: Record<string, string> = {};
    for (const [k, v] of Object.entries(current)) {
        let m: RegExpMatchArray | null;
        if (/^(dir|fifo|char|block) /.test(v)) continue; // 0.1.0 listed files and links only
        if ((m = /^(sha256:[0-9a-f]{64})(?: ([0-7]{4}))?$/.exec(v)))
            projected[k] = `${m[1]}${m[2] && parseInt(m[2], 8) & 0o111 ? "+x" : ""}`;
        else if (v.startsWith("-> ")) projected[k] = `link:${v.slice(3)}`;
        else return false;
    }
    const keys = Object.keys(old).sort();
    return keys.length === Object.keys(projected).length && keys.every((k) => projected[k] === old[k]);
}
