// The context digest against the real BuildKit: every generated context is built
// `FROM scratch` with `COPY . /ctx/` and, sent a second time as a named context,
// `COPY --from=named . /named/` (which applies only the folder's own .dockerignore), with
// `--output type=tar` by a buildkitd of the test's own (the bootstrap's build, started and
// stopped here so its hundreds of build records stay out of the machine-wide daemons'
// history), through buildctl, whose file sender is the same fsutil as buildx's, and what lands
// in the tar is compared with the digest's entries for each. Then mutations: a changed file,
// mode or ignore file must change the digest exactly when it changes the image.
import * as assert from "assert";
import { type ChildProcess, execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { contextEntries } from "../../core/context";
import { run } from "../../core/exec";
import { tarEntries } from "../../core/tar";
import { type Case, CASE_DIR, DOCKERFILE, materialize, randomIgnore, randomTree, rng } from "../support/contexts";
import { ROOT } from "../support/env";

const BUILDCTL = path.join(ROOT, ".tools/test-bin/buildctl");
const BUILDKITD = path.join(ROOT, ".tools/test-bin/buildkitd");
const DAEMON = fs.mkdtempSync(path.join(os.tmpdir(), "pm-differential-buildkitd-"));
const ADDR = `unix://${DAEMON}/buildkitd.sock`;
const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 13);
const RANDOM_CASES = Number(process.env.DIFFERENTIAL_RANDOM ?? 240);
const PARALLEL = 4;
/** A Dockerfile folder with no ignore file, for building the named side alone. */
const EMPTY_DOCKERFILE_DIR = path.join(DAEMON, "named-only");

type Records = Map<string, string>;
/** What the build copied of the context as the main one, and as a named one. */
interface Sides {
    main: Records;
    named: Records;
}
const SIDES = ["main", "named"] as const;
const PREFIX = { main: "ctx/", named: "named/" };

/** One build: `context`, the Dockerfile's folder and the named context's folder, each a local of its own. */
async function buildctl(locals: { context: string; dockerfile: string; named: string }, filename: string, out: string) {
    return run(
        BUILDCTL,
        [
            "--addr",
            ADDR,
            "build",
            "--frontend",
            "dockerfile.v0",
            ...Object.entries(locals).flatMap(([k, v]) => ["--local", `${k}=${v}`]),
            "--opt",
            "context:named=local:named",
            "--opt",
            `filename=${filename}`,
            "--output",
            `type=tar,dest=${out}`,
        ],
        { allowFailure: true },
    );
}

function failed(stderr: string): string {
    if (!/dockerignore|pattern|excludepatterns/i.test(stderr))
        throw new Error(`buildctl failed: ${stderr.trim().split("\n").slice(-5).join("\n")}`);
    return (
        stderr
            .trim()
            .split("\n")
            .filter((l) => /error/i.test(l))
            .pop() ?? stderr.trim()
    );
}

/** The entries under `prefix`, without it (hardlinks name their first path under it too). */
function side(all: Records, prefix: string): Records {
    return new Map(
        [...all]
            .filter(([k]) => k.startsWith(prefix))
            .map(([k, v]) => [k.slice(prefix.length), v.replace(/^hardlink (ctx|named)\//, "hardlink ")]),
    );
}

/**
 * What BuildKit wrote for each side, in the digest's notation; or, per side, the error that
 * stopped it. When the build fails, each side is built again with the other one empty, to
 * tell which one fails (the Dockerfile, maybe part of the context, stays as it is).
 */
async function buildkit(
    context: string,
    dockerfile: string,
    out: string,
): Promise<{ records: Partial<Sides>; error: Partial<Record<keyof Sides, string>> }> {
    const locals = { context, dockerfile: path.dirname(dockerfile), named: context };
    const r = await buildctl(locals, path.basename(dockerfile), out);
    if (r.code === 0) {
        const all = await tarRecords(out);
        return { records: { main: side(all, PREFIX.main), named: side(all, PREFIX.named) }, error: {} };
    }
    failed(r.stderr);
    const result: { records: Partial<Sides>; error: Partial<Record<keyof Sides, string>> } = { records: {}, error: {} };
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "pm-differential-empty-"));
    try {
        for (const s of SIDES) {
            const one = await buildctl(
                s === "main"
                    ? { ...locals, named: empty }
                    : { ...locals, context: empty, dockerfile: EMPTY_DOCKERFILE_DIR },
                s === "main" ? path.basename(dockerfile) : "Dockerfile",
                out,
            );
            if (one.code !== 0) result.error[s] = failed(one.stderr);
            else result.records[s] = side(await tarRecords(out), PREFIX[s]);
        }
    } finally {
        fs.rmSync(empty, { recursive: true, force: true });
    }
    return result;
}

/** Every entry of a tar in the digest's notation. */
async function tarRecords(out: string): Promise<Records> {
    const records: Records = new Map();
    for await (const e of tarEntries(fs.createReadStream(out))) {
        const h = e.header;
        if (h.name === "" || h.name === "." || h.name === "ctx" || h.name === "named") continue;
        const mode = h.mode.toString(8).padStart(4, "0");
        let value: string;
        switch (h.type) {
            case "file": {
                const hash = crypto.createHash("sha256");
                for await (const p of e.body()) hash.update(p);
                value = `sha256:${hash.digest("hex")} ${mode}`;
                break;
            }
            case "dir":
                value = `dir ${mode}`;
                break;
            case "symlink":
                value = `-> ${h.linkname}`;
                break;
            case "hardlink":
                value = `hardlink ${h.linkname.replace(/^\/+/, "")}`;
                break;
            case "fifo":
                value = `fifo ${mode}`;
                break;
            case "char":
            case "block":
                value = `${h.type} ${h.devmajor},${h.devminor} ${mode}`;
                break;
            default:
                value = `other ${mode}`;
        }
        records.set(h.name, value);
    }
    fs.rmSync(out, { force: true });
    return records;
}

interface Ours {
    records?: Records;
    sentEmpty?: Set<string>;
    digest?: string;
    error?: string;
}

/** The digest's entries for the context as the main one (with its Dockerfile) and as a named one, or the error it refuses each with. */
function ours(context: string, dockerfile: string): Record<keyof Sides, Ours> {
    const side = (df?: string): Ours => {
        try {
            const { entries } = contextEntries(context, df);
            const h = crypto.createHash("sha256");
            for (const e of entries) h.update(Buffer.from(`${e.path}\0${e.value}\n`, "latin1"));
            return {
                records: new Map(entries.map((e) => [e.path, e.value])),
                sentEmpty: new Set(entries.filter((e) => e.sentEmpty).map((e) => e.path)),
                digest: h.digest("hex"),
            };
        } catch (e) {
            return { error: (e as Error).message };
        }
    };
    return { main: side(dockerfile), named: side() };
}

const EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const show = (s: string) => JSON.stringify(Buffer.from(s, "latin1").toString("utf8"));

interface Outcome {
    divergences: string[];
    buildkitBugs: string[];
}

/** Every difference between BuildKit's tar and our entries, and those explained by the named BuildKit bug. */
function compare(bk: Records, us: Records, sentEmpty: Set<string>): Outcome {
    const divergences: string[] = [],
        buildkitBugs: string[] = [];
    for (const k of new Set([...bk.keys(), ...us.keys()])) {
        const a = bk.get(k),
            b = us.get(k);
        if (a === b) continue;
        // BuildKit's sender walks with MatchesUsingParentResults but opens files after asking
        // MatchesOrParentMatches; where they disagree the file is listed and sent empty.
        if (b && a && sentEmpty.has(k) && a.startsWith(`${EMPTY} `) && a.slice(72) === b.slice(72)) {
            buildkitBugs.push(`${show(k)}: BuildKit wrote it empty (the digest hashes its real bytes)`);
            continue;
        }
        divergences.push(`${show(k)}: BuildKit ${a ?? "(absent)"}, digest ${b ?? "(absent)"}`);
    }
    return { divergences, buildkitBugs };
}

/** The article's classes and the rows of the issue, each a case of its own. */
function handCases(): Case[] {
    const f = (content = "x\n", mode = 0o644) => ({ kind: "file" as const, content, mode });
    const d = (mode = 0o755) => ({ kind: "dir" as const, mode });
    const base = {
        "main.go": f("package main\n"),
        "src/a.go": f(),
        "src/util/u.go": f(),
        "src/x/b.go": f(),
        "build/out": f(),
        "node_modules/m/i.js": f(),
    };
    const ign = (name: string, text: string, tree: Case["tree"] = base, more: Partial<Case> = {}): Case => ({
        name,
        tree,
        dockerignore: text,
        ...more,
    });
    const l = (target: string) => ({ kind: "symlink" as const, target });
    const linked = (name: string, tree: Case["tree"]): Case => ({
        name,
        tree: { ...base, ...tree },
        outside: { "shared.dockerignore": "build\nsrc\n" },
    });
    return [
        {
            name: "Dockerfile.prod.dockerignore first",
            tree: base,
            dockerignore: "build\n",
            dockerfile: { name: "Dockerfile.prod" },
            dockerfileIgnore: "node_modules\n",
        },
        {
            name: "Dockerfile.prod.dockerignore beside a Dockerfile outside the context",
            tree: base,
            dockerignore: "build\n",
            dockerfile: { name: "Dockerfile.prod", outside: true },
            dockerfileIgnore: "node_modules\n",
        },
        {
            name: "empty Dockerfile.prod.dockerignore",
            tree: base,
            dockerignore: "build\n",
            dockerfile: { name: "Dockerfile.prod" },
            dockerfileIgnore: "",
        },
        {
            name: "Dockerfile.dockerignore with the default Dockerfile",
            tree: base,
            dockerignore: "build\n",
            dockerfileIgnore: "src\n",
        },
        {
            name: "permission bits",
            tree: {
                r600: f("a", 0o600),
                r700: f("b", 0o700),
                suid: f("c", 0o4755),
                sgid: f("d", 0o2755),
                ro: f("e", 0o444),
                d700: d(0o700),
                "d700/x": f(),
                sticky: d(0o1777),
            },
        },
        ign("a+b does not drop ab", "a+b\n", { "a+b": f(), ab: f(), aab: f() }),
        ign("parentheses are literal", "Copy (1).txt\n", { "Copy (1).txt": f(), "Copy 1.txt": f() }),
        ign("a|b is literal", "a|b\n", { "a|b": f(), abc: f(), a: f() }),
        ign("\\a is RE2's bell", "\\a.txt\n", { "a.txt": f(), "\x07.txt": f() }),
        ign("BOM on a later line is a pattern byte", "x\n\xef\xbb\xbfa.txt\n", { "a.txt": f(), x: f() }),
        ign("BOM on the first line is stripped", "\xef\xbb\xbfa.txt\n", { "a.txt": f(), b: f() }),
        ign("*.c++", "*.c++\n", { "x.c++": f(), "x.c": f(), "x.cc": f() }),
        ign("braces and dollars", "{y}\n$z\n", { "{y}": f(), y: f(), $z: f(), z: f() }),
        {
            name: "empty folders, FIFOs, sockets, devices",
            tree: {
                empty: d(),
                "deep/er/est": d(0o700),
                fifo: { kind: "fifo", mode: 0o640 },
                sock: { kind: "socket" },
                null: { kind: "char", major: 1, minor: 3, mode: 0o666 },
            },
        },
        ign("**/*.go then !src/*", "**/*.go\n!src/*\n"),
        ign("src/util then !src", "src/util\n!src\n"),
        ign("leading spaces before # make a pattern", "  #x\n#y\n", { "#x": f(), "#y": f() }),
        ign("[[:digit:]] classes", "f[[:digit:]]\n", { f1: f(), fa: f(), f12: f() }),
        ign("emoji with ?", "?.txt\n", { "\xf0\x9f\x98\x80.txt": f(), "ab.txt": f() }),
        ign("non-UTF-8 names", "\xff*\n", { "\xff\xfe": f(), "\xfe": f(), ok: f() }),
        { name: ".dockerignore that is a folder", tree: { ".dockerignore/x": f("main.go\n"), "main.go": f() } },
        ign("symlinks of every kind", "", {
            a: f(),
            rel: { kind: "symlink", target: "a" },
            abs: { kind: "symlink", target: "/etc/passwd" },
            dangling: { kind: "symlink", target: "nowhere" },
            dir: d(),
            dirlink: { kind: "symlink", target: "dir" },
        }),
        ign("hardlinks", "", {
            a: f("same\n"),
            b: { kind: "hardlink", to: "a" },
            "sub/c": { kind: "hardlink", to: "a" },
        }),
        ign("hidden files and case", ".h*\nA\n", { ".hidden": f(), ".h2/x": f(), A: f(), a: f() }),
        ign("CRLF", "build\r\nsrc/*.go\r\n"),
        ign("./ and leading and trailing /", "./build\n/node_modules/\nsrc/util/\n"),
        ign("..", "x/../build\n../src\n"),
        ign("* ? [a-b] **", "*.go\nsrc/?.go\n[a-m]*\n**/u.go\n"),
        ign("ordering", "!src\nsrc\n"),
        ign("!dir", "*\n!src\n"),
        ign("re-including a file inside an ignored folder", "src\n!src/a.go\n"),
        ign("RE2 escapes", "\\x61.txt\n\\d\n", { "a.txt": f(), "1": f(), d: f() }),
        ign("a bad pattern fails the build", "ok\nsrc/[a-\n"),
        ign("an unused bad exclusion is never compiled", "!\\y\n"),
        ign("a used bad exclusion fails the build", "*\n!\\y\n"),
        ign("the BuildKit bug: a re-included file listed but sent empty", "a\n!a/d\na\n", {
            "a/d": f("real bytes\n"),
            "a/e": f(),
        }),
        // An ignore file that is a symlink: BuildKit follows it only inside its folder ("/" and ".." stop at the folder).
        linked(".dockerignore -> a file outside the context (relative): not used", {
            ".dockerignore": l("../shared.dockerignore"),
        }),
        linked(".dockerignore -> a file outside the context (absolute): not used", {
            ".dockerignore": l(`${CASE_DIR}/shared.dockerignore`),
        }),
        linked(".dockerignore -> a file inside the context: used", {
            ".dockerignore": l("conf/ignore"),
            "conf/ignore": f("build\nsrc/*.go\n"),
        }),
        linked(".dockerignore -> a chain of links and a linked folder inside: used", {
            ".dockerignore": l("first"),
            first: l("cfg/ignore"),
            cfg: l("conf"),
            "conf/ignore": f("build\n"),
        }),
        linked(".dockerignore -> /conf/ignore, absolute: read as the context's conf/ignore", {
            ".dockerignore": l("/conf/ignore"),
            "conf/ignore": f("node_modules\n"),
        }),
        linked(".dockerignore -> ../ctx/conf/ignore: leaves the context, so not used even though it comes back", {
            ".dockerignore": l("../ctx/conf/ignore"),
            "conf/ignore": f("build\n"),
        }),
        linked("Dockerfile.dockerignore -> outside: .dockerignore is used instead", {
            "Dockerfile.dockerignore": l("../shared.dockerignore"),
            ".dockerignore": f("node_modules\n"),
        }),
        linked(".dockerignore -> a folder inside: not used", { ".dockerignore": l("src") }),
    ];
}

const pickOf = <T>(r: () => number, xs: T[]): T => xs[Math.floor(r() * xs.length)];

async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(
        Array.from({ length: n }, async () => {
            while (next < items.length) {
                const i = next++;
                await fn(items[i], i);
            }
        }),
    );
}

describe("context digest vs the real BuildKit (differential)", function () {
    this.timeout(20 * 60_000);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "pm-differential-"));
    after(() => {
        if (!process.env.DIFFERENTIAL_REPORT) fs.rmSync(work, { recursive: true, force: true });
    });

    let daemon: ChildProcess | undefined;
    before(async () => {
        if (!fs.existsSync(BUILDCTL) || !fs.existsSync(BUILDKITD)) {
            throw new Error(`buildctl or buildkitd is missing from .tools/test-bin: run \`bash scripts/bootstrap\``);
        }
        fs.writeFileSync(path.join(DAEMON, "buildkitd.toml"), `[otel]\n  socketPath = "${DAEMON}/otel.sock"\n`);
        fs.mkdirSync(EMPTY_DOCKERFILE_DIR);
        fs.writeFileSync(path.join(EMPTY_DOCKERFILE_DIR, "Dockerfile"), DOCKERFILE);
        const log = fs.openSync(path.join(DAEMON, "buildkitd.log"), "a");
        daemon = spawn(
            BUILDKITD,
            [
                "--addr",
                ADDR,
                "--root",
                path.join(DAEMON, "root"),
                "--config",
                path.join(DAEMON, "buildkitd.toml"),
                "--oci-worker-platform",
                "linux/amd64",
            ],
            { stdio: ["ignore", log, log] },
        );
        for (let i = 0; i < 60; i++) {
            try {
                execFileSync(BUILDCTL, ["--addr", ADDR, "debug", "workers"], { stdio: "ignore" });
                return;
            } catch {
                await new Promise((r) => setTimeout(r, 500));
            }
        }
        throw new Error(
            `the test's buildkitd did not start: ${fs.readFileSync(path.join(DAEMON, "buildkitd.log"), "utf8").split("\n").slice(-5).join(" ")}`,
        );
    });
    after(async () => {
        if (daemon && daemon.exitCode === null) {
            daemon.kill("SIGTERM");
            await new Promise((r) => {
                daemon!.once("exit", r);
                setTimeout(r, 10_000);
            });
        }
        fs.rmSync(DAEMON, { recursive: true, force: true });
    });

    it(`lists exactly what BuildKit copies: ${handCases().length} hand cases and ${RANDOM_CASES} random ones (seed ${SEED}), with mutations`, async () => {
        const r = rng(SEED);
        const cases = [...handCases()];
        for (let i = 0; i < RANDOM_CASES; i++) {
            const tree = randomTree(r);
            const c: Case = { name: `random ${cases.length}`, tree, dockerignore: randomIgnore(r, tree) };
            if (r() < 0.08) {
                // The ignore file a symlink, out of the context or into it.
                const out = r() < 0.5;
                c.outside = { "shared.dockerignore": c.dockerignore! };
                c.tree = {
                    ...tree,
                    ".dockerignore": {
                        kind: "symlink",
                        target: out
                            ? pickOf(r, ["../shared.dockerignore", `${CASE_DIR}/shared.dockerignore`])
                            : "in.ignore",
                    },
                };
                if (!out) c.tree["in.ignore"] = { kind: "file", content: c.dockerignore!, mode: 0o644 };
                delete c.dockerignore;
            }
            if (r() < 0.1) {
                c.dockerfile = { name: "Dockerfile.x", outside: r() < 0.5 };
                c.dockerfileIgnore = randomIgnore(r, tree);
            }
            cases.push(c);
        }
        const mutate = rng(SEED + 1);
        const divergences: string[] = [],
            bugs: string[] = [];
        let built = 0,
            mutations = 0,
            changedImages = 0;
        await pool(cases, PARALLEL, async (c, i) => {
            const dir = path.join(work, String(i));
            const { context, dockerfile } = materialize(c, dir);
            const tar = path.join(dir, "out.tar");
            const bk = await buildkit(context, dockerfile, tar);
            const us = ours(context, dockerfile);
            built++;
            const comparable: (keyof Sides)[] = [];
            for (const side of SIDES) {
                const name = `${c.name}${side === "named" ? " (as a named context)" : ""}`;
                const b = bk.error[side],
                    u = us[side].error;
                if (b || u) {
                    if (process.env.DIFFERENTIAL_REPORT) fs.writeFileSync(`${dir}/errors-${side}`, `${b}\n${u}`);
                    if (!(b && u))
                        divergences.push(
                            `${name}: BuildKit ${b ? `failed (${b})` : "built"}, digest ${u ? `failed (${u})` : "computed"}`,
                        );
                    continue;
                }
                const o = compare(bk.records[side]!, us[side].records!, us[side].sentEmpty!);
                divergences.push(...o.divergences.map((x) => `${name}: ${x}`));
                bugs.push(...o.buildkitBugs.map((x) => `${name}: ${x}`));
                comparable.push(side);
            }
            // Every third case: mutate once, rebuild, and compare "image changed" with "digest changed".
            if (i % 3 !== 0 || comparable.length < 2 || us.main.records!.size === 0) return;
            const m = applyMutation(mutate, context, dockerfile, [...us.main.records!.keys()], Object.keys(c.tree));
            const bk2 = await buildkit(context, dockerfile, tar);
            const us2 = ours(context, dockerfile);
            mutations++;
            for (const side of SIDES) {
                const name = `${c.name}${side === "named" ? " (as a named context)" : ""} after ${m}`;
                const b = bk2.error[side],
                    u = us2[side].error;
                if (b || u) {
                    if (!(b && u)) divergences.push(`${name}: BuildKit ${b ?? "built"}, digest ${u ?? "computed"}`);
                    continue;
                }
                const imageChanged =
                    JSON.stringify([...bk.records[side]!].sort()) !== JSON.stringify([...bk2.records[side]!].sort());
                const digestChanged = us[side].digest !== us2[side].digest;
                if (imageChanged) changedImages++;
                const bugOnly =
                    compare(bk2.records[side]!, us2[side].records!, us2[side].sentEmpty!).buildkitBugs.length +
                        compare(bk.records[side]!, us[side].records!, us[side].sentEmpty!).buildkitBugs.length >
                    0;
                if (imageChanged !== digestChanged && !bugOnly)
                    divergences.push(
                        `${name}: image ${imageChanged ? "changed" : "unchanged"}, digest ${digestChanged ? "changed" : "unchanged"}`,
                    );
            }
        });
        console.log(
            `      ${built} contexts built, each as the main and as a named context; ${mutations} mutations (${changedImages} changed an image), ${divergences.length} divergences, ${bugs.length} files hit by the BuildKit bug`,
        );
        for (const b of bugs.slice(0, 5)) console.log(`      BuildKit bug: ${b}`);
        if (process.env.DIFFERENTIAL_REPORT)
            fs.writeFileSync(
                process.env.DIFFERENTIAL_REPORT,
                [...divergences, ...bugs.map((b) => `bug: ${b}`)].join("\n"),
            );
        assert.deepStrictEqual(divergences, []);
        assert.ok(
            bugs.some((b) => b.startsWith("the BuildKit bug")),
            "the named BuildKit bug no longer shows: BuildKit may be fixed; update the docs",
        );
        assert.ok(
            bugs.some((b) => b.startsWith("the BuildKit bug") && b.includes("(as a named context)")),
            "the named BuildKit bug no longer shows for named contexts",
        );
    });
});

/** Changes one thing: a file's bytes, a mode, the ignore file, or only an mtime. */
function applyMutation(r: () => number, context: string, dockerfile: string, sent: string[], all: string[]): string {
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const at = (rel: string) => Buffer.concat([Buffer.from(`${context}/`), Buffer.from(rel, "latin1")]);
    const files = [...new Set([...sent, ...all])].filter((p) => {
        try {
            return fs.lstatSync(at(p)).isFile();
        } catch {
            return false;
        }
    });
    const roll = r();
    if (roll < 0.35 && files.length) {
        const p = pick(files);
        fs.appendFileSync(at(p), "# changed\n"); // a comment, should it be the Dockerfile
        return `appending to ${show(p)}`;
    }
    if (roll < 0.7 && files.length) {
        const p = pick(files);
        const st = fs.statSync(at(p));
        fs.chmodSync(at(p), (st.mode & 0o7777) ^ pick([0o100, 0o020, 0o004, 0o4000]));
        return `chmod of ${show(p)}`;
    }
    if (roll < 0.9) {
        const own = `${dockerfile}.dockerignore`;
        const file = fs.existsSync(own) ? own : path.join(context, ".dockerignore");
        const target = pick([...all, "src", "*.go"]);
        if (fs.existsSync(file) && !fs.statSync(file).isFile()) return "nothing (the ignore file is a folder)";
        fs.appendFileSync(file, Buffer.from(`\n${r() < 0.5 ? "!" : ""}${target}\n`, "latin1"));
        return `a line "${show(target)}" in ${path.basename(file)}`;
    }
    if (files.length) {
        const p = pick(files);
        fs.utimesSync(at(p), new Date(2020, 1, 1), new Date(2020, 1, 1));
        return `touching ${show(p)}`;
    }
    return "nothing";
}
