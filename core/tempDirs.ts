// Temp folders (a build's metadata, the private docker config with a registry login, an SSH
// key, a buildkitd.toml) live under one folder per process, <tmpdir>/pulumi-multiarch-<uid>/
// <pid>-<start>/, so that a process killed before it could remove its own (SIGKILL, a second
// Ctrl-C) leaves nothing for long: the next process of ours that makes a temp folder removes
// the folders of processes that no longer run. BuildKit's check cache lives beside them.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** <tmpdir>/pulumi-multiarch-<uid>: 0700, ours, never a symlink (the temp dir is shared). */
export function root(): string {
    const uid = typeof process.getuid === "function" ? process.getuid() : 0;
    const dir = path.join(os.tmpdir(), `pulumi-multiarch-${uid}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
        throw new Error(
            `${dir} is not a private folder of this user (a symlink, another owner, or open to others): remove it; temp files with secrets go there`,
        );
    }
    return dir;
}

/** The start time of process `pid` in clock ticks since boot (Linux), so a reused pid is not taken for the old process. */
function startOf(pid: number): string | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    } catch {
        return undefined;
    }
}

/** The name of `pid`'s folder: `<pid>-<start>`, or `<pid>` where there is no /proc. */
export function ownerName(pid: number): string {
    const start = startOf(pid);
    return start ? `${pid}-${start}` : String(pid);
}

/** True when the process a folder is named after still runs. */
function running(name: string): boolean {
    const [pid, start] = name.split("-");
    try {
        process.kill(Number(pid), 0);
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
    }
    return start === undefined || startOf(Number(pid)) === start;
}

/** Removes the folders of processes that no longer run; returns their names. */
export function sweep(): string[] {
    const dir = root();
    const gone = fs.readdirSync(dir).filter((n) => /^\d+(-\d+)?$/.test(n) && !running(n));
    for (const n of gone) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    return gone;
}

let own: string | undefined;

/** This process's folder, created (0700) on first use after a sweep. */
export function ownDir(): string {
    const dir = root();
    if (own && path.dirname(own) === dir && fs.existsSync(own)) return own;
    sweep();
    own = path.join(dir, ownerName(process.pid));
    fs.mkdirSync(own, { recursive: true, mode: 0o700 });
    return own;
}

/** A new 0700 folder `<prefix>XXXXXX` in this process's folder; remove it when done. */
export function make(prefix: string): string {
    return fs.mkdtempSync(path.join(ownDir(), prefix));
}

/** Removes this process's folder and everything in it (at exit). */
export function removeOwn(): void {
    if (own) fs.rmSync(own, { recursive: true, force: true });
    own = undefined;
}

/** A folder of its own for caches that outlive a process (no secrets): `<root>/<name>`. */
export function cacheDir(name: string): string {
    const dir = path.join(root(), name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
}
