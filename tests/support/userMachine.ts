// The states a user's machine is in, made on this real machine for tests that run
// scripts/bootstrap and the README's commands for real: a copy of this clone as it is (its
// tracked files, in a git repository of its own, so `git status` can tell what a command
// changed), a new user's HOME, a tools cache that shares this machine's built tools (so no Go
// build runs) but nothing else, and PATHs without a given command.
import { execFileSync, spawnSync, type SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { CACHE, ROOT } from "./env";

export class UserMachine {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-user-"));
    /** A new user's HOME: no ~/.docker, no caches. */
    readonly home = path.join(this.dir, "home");
    /** A tools cache holding this machine's built tools (links), and nothing else. */
    readonly cache = path.join(this.dir, "cache");
    private clone?: string;

    constructor() {
        fs.mkdirSync(this.home);
        fs.mkdirSync(this.cache);
        for (const shared of ["tools", "apt", "fleet", "sshd"]) {
            if (fs.existsSync(path.join(CACHE, shared)))
                fs.symlinkSync(path.join(CACHE, shared), path.join(this.cache, shared));
        }
        for (const e of fs.readdirSync(CACHE).filter((n) => n.startsWith("busybox-static-"))) {
            fs.symlinkSync(path.join(CACHE, e), path.join(this.cache, e));
        }
    }

    /**
     * This clone's tracked files as they are in the working tree, committed into a repository
     * of their own; node_modules hard-linked from this clone (npm ci is not what these tests are about).
     */
    copyOfClone(): string {
        if (this.clone) return this.clone;
        const dst = path.join(this.dir, "clone");
        fs.mkdirSync(dst);
        const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
            cwd: ROOT,
            encoding: "utf8",
        })
            .split("\0")
            .filter((f) => f && fs.existsSync(path.join(ROOT, f)));
        for (const f of files) {
            fs.mkdirSync(path.dirname(path.join(dst, f)), { recursive: true });
            fs.cpSync(path.join(ROOT, f), path.join(dst, f), { verbatimSymlinks: true, preserveTimestamps: true });
        }
        // Hard links: cheap, and an npm run in the copy replaces files instead of writing into this clone's.
        execFileSync("cp", ["-al", path.join(ROOT, "node_modules"), path.join(dst, "node_modules")]);
        const git = (...args: string[]) =>
            execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dst, stdio: "pipe" });
        git("init", "-q");
        git("add", "-A");
        git("commit", "-qm", "the clone under test");
        return (this.clone = dst);
    }

    /**
     * A PATH with every command of `base` except `without`: one folder of links, so that
     * removing docker from PATH does not also remove what shares its folder.
     */
    pathWithout(without: string[], base = process.env.PATH ?? ""): string {
        const bin = path.join(this.dir, `bin-without-${without.join("-")}`);
        if (!fs.existsSync(bin)) {
            fs.mkdirSync(bin);
            for (const d of base.split(":").filter(Boolean)) {
                if (!fs.existsSync(d)) continue;
                for (const name of fs.readdirSync(d)) {
                    const target = path.join(d, name),
                        link = path.join(bin, name);
                    if (without.includes(name) || fs.existsSync(link)) continue;
                    try {
                        if (fs.statSync(target).isFile()) fs.symlinkSync(target, link);
                    } catch {
                        /* a dangling link */
                    }
                }
            }
        }
        return bin;
    }

    /** Runs `bash -c script` in the copy of the clone as this new user (env: HOME, the cache, and `env`). */
    bash(script: string, env: Record<string, string> = {}, cwd = this.copyOfClone()): SpawnSyncReturns<string> {
        return spawnSync("bash", ["-c", script], {
            cwd,
            encoding: "utf8",
            timeout: 600_000,
            maxBuffer: 64 * 1024 * 1024,
            env: { PATH: systemPath(), HOME: this.home, PULUMI_MULTIARCH_CACHE: this.cache, LANG: "C.UTF-8", ...env },
        });
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** The PATH a user's login shell has on this machine: the system's, without this project's folders. */
export function systemPath(): string {
    return (process.env.PATH ?? "")
        .split(":")
        .filter((d) => d && !d.startsWith(ROOT))
        .join(":");
}
