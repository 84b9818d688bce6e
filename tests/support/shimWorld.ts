// A machine made of shims, for testing scripts/bootstrap's decisions: a copy of the scripts
// in a temporary clone, a temporary HOME and $CACHE, and a PATH that holds only the basic
// tools and the commands a scenario says exist. Each such command is a shim that records its
// call ("name args") and does what the scenario's bash function `shim_<name>` does, so a
// command the scenario leaves out is missing, as on a bare machine.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
// Not ./env: it sets the e2e environment on import, which the unit tests using this must not inherit.
const ROOT = path.join(__dirname, "..", "..");

/** What bootstrap needs to run its checks: never shimmed, never recorded. */
const BASICS = [
    "bash",
    "sed",
    "sort",
    "head",
    "tail",
    "grep",
    "awk",
    "tr",
    "cat",
    "mktemp",
    "base64",
    "chmod",
    "rm",
    "readlink",
    "dirname",
    "basename",
    "cmp",
    "id",
    "uname",
    "date",
    "mkdir",
    "ln",
    "mv",
    "cp",
    "seq",
    "sleep",
    "cut",
    "getent",
    "env",
    "ls",
    "install",
    "touch",
    "wc",
    "rmdir",
    "sha256sum",
    "git",
];

/** The files of the clone bootstrap reads. */
const CLONE_FILES = [
    "scripts/bootstrap",
    "scripts/lib.sh",
    "scripts/versions.env",
    "scripts/env.sh",
    "scripts/binfmt-proofs.txt",
    "scripts/buildkitd.toml",
    "scripts/go/sdkgen/main.go",
    "scripts/go/sdkgen/go.sum",
    "scripts/go/s3-server/main.go",
    "scripts/go/s3-server/go.sum",
    "scripts/go/kms-server/main.go",
    "scripts/go/kms-server/go.sum",
    "core/buildx.ts",
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "Pulumi.prod.yaml",
    "package.json",
    "package-lock.json",
];

export interface RunResult {
    status: number | null;
    stdout: string;
    stderr: string;
    calls: string[];
}

export class ShimWorld {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-shims-"));
    readonly root = path.join(this.dir, "clone");
    readonly home = path.join(this.dir, "home");
    readonly cache = path.join(this.dir, "cache");
    private readonly bin = path.join(this.dir, "bin");
    private readonly log = path.join(this.dir, "calls.log");
    private readonly scenarioFile = path.join(this.dir, "scenario.sh");

    /**
     * `scenario`: bash defining `shim_<command>` (dashes as underscores) for every command
     * that exists on this machine, besides the basics.
     */
    constructor(scenario: string, opts: { nodeModules?: boolean } = {}) {
        for (const d of [this.bin, this.home, this.cache]) fs.mkdirSync(d, { recursive: true });
        for (const f of CLONE_FILES) {
            fs.mkdirSync(path.dirname(path.join(this.root, f)), { recursive: true });
            fs.copyFileSync(path.join(ROOT, f), path.join(this.root, f));
        }
        for (const d of fs.readdirSync(path.join(ROOT, "scripts/go")))
            fs.mkdirSync(path.join(this.root, "scripts/go", d), { recursive: true });
        if (opts.nodeModules ?? true) {
            // npm ci done: node_modules newer than the lock file
            fs.mkdirSync(path.join(this.root, "node_modules/@pulumi/pulumi"), { recursive: true });
            fs.writeFileSync(path.join(this.root, "node_modules/.package-lock.json"), "{}");
            const past = new Date(Date.now() - 60_000);
            fs.utimesSync(path.join(this.root, "package-lock.json"), past, past);
        }
        for (const tool of BASICS) {
            const real = spawnSync("/bin/bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
            if (!real) throw new Error(`${tool} is missing on this machine`);
            fs.symlinkSync(real, path.join(this.bin, tool));
        }
        const shim = path.join(this.dir, "shim");
        fs.writeFileSync(
            shim,
            `#!/bin/bash\nname=\${0##*/}\nprintf '%s\\n' "$name $*" >>"$SHIM_LOG"\n` +
                `source "$SHIM_SCENARIO"\n"shim_\${name//-/_}" "$@"\n`,
            { mode: 0o755 },
        );
        for (const name of new Set([...scenario.matchAll(/^shim_(\w+)\(\)/gm)].map((m) => m[1].replace(/_/g, "-")))) {
            fs.symlinkSync(shim, path.join(this.bin, name));
        }
        fs.writeFileSync(this.scenarioFile, scenario);
    }

    private env(): NodeJS.ProcessEnv {
        return {
            PATH: this.bin,
            HOME: this.home,
            PULUMI_MULTIARCH_CACHE: this.cache,
            LANG: "C",
            SHIM_LOG: this.log,
            SHIM_SCENARIO: this.scenarioFile,
            SHIM_DIR: this.dir,
        };
    }

    private exec(args: string[]): RunResult {
        fs.writeFileSync(this.log, "");
        const r = spawnSync("/bin/bash", args, { encoding: "utf8", env: this.env(), cwd: this.root, timeout: 20_000 });
        return {
            status: r.status,
            stdout: r.stdout,
            stderr: r.stderr,
            calls: fs.readFileSync(this.log, "utf8").split("\n").filter(Boolean),
        };
    }

    /** `bash scripts/bootstrap ARGS` in the copied clone. */
    bootstrap(...args: string[]): RunResult {
        return this.exec([path.join(this.root, "scripts/bootstrap"), ...args]);
    }

    /** One step's function, run for real (the run pass), with bootstrap sourced. */
    step(fn: string, scope = "tests"): RunResult {
        return this.exec(["-c", `source scripts/bootstrap && SCOPE=${scope} && ${fn}`]);
    }

    /** Every file and link under the world's clone, HOME and cache: path, size, mtime, target. */
    snapshot(): string[] {
        const out: string[] = [];
        const walk = (d: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                const p = path.join(d, e.name);
                const st = fs.lstatSync(p);
                out.push(
                    `${path.relative(this.dir, p)} ${st.size} ${st.mtimeMs}${e.isSymbolicLink() ? ` -> ${fs.readlinkSync(p)}` : ""}`,
                );
                if (e.isDirectory()) walk(p);
            }
        };
        for (const d of [this.root, this.home, this.cache]) walk(d);
        return out.sort();
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
