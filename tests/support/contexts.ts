// A seeded generator of build contexts and ignore files for the differential test against
// the real BuildKit: every class of tests/e2e/context-differential.test.ts's hand cases,
// plus random trees and random .dockerignore sets.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** mulberry32: small, seeded, reproducible. */
export function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** One entry of a context; names are byte strings (latin1), so any byte is possible. */
export type Node =
    | { kind: "file"; content: string; mode: number }
    | { kind: "dir"; mode: number }
    | { kind: "symlink"; target: string }
    | { kind: "hardlink"; to: string }
    | { kind: "fifo"; mode: number }
    | { kind: "socket" }
    | { kind: "char"; major: number; minor: number; mode: number };

export interface Case {
    name: string;
    /** path (byte string) -> entry; parents are created as needed (0755). */
    tree: Record<string, Node>;
    /** Dockerfile name inside the context (default "Dockerfile"), or outside it. */
    dockerfile?: { name: string; outside?: boolean };
    /** Bytes of <Dockerfile>.dockerignore, beside the Dockerfile. */
    dockerfileIgnore?: string;
    /** Bytes of .dockerignore at the context root (also settable through tree). */
    dockerignore?: string;
    /** Files beside the context folder (path -> bytes), for symlinks that leave it. */
    outside?: Record<string, string>;
}

/** In a symlink's target, the folder that holds the context (`<dir>/ctx`), for absolute links out of it. */
export const CASE_DIR = "@DIR@";

/** The Dockerfile every case is built with: the context as the main one and, again, as a named one. */
export const DOCKERFILE = "FROM scratch\nCOPY . /ctx/\nCOPY --from=named . /named/\n";

const b = (s: string) => Buffer.from(s, "latin1");

/** Writes a case into `dir` (context in dir/ctx, an outside Dockerfile in dir/df, `outside` files in dir). */
export function materialize(c: Case, dir: string): { context: string; dockerfile: string } {
    const context = path.join(dir, "ctx");
    const dfDir = c.dockerfile?.outside ? path.join(dir, "df") : context;
    fs.mkdirSync(context, { recursive: true });
    fs.mkdirSync(dfDir, { recursive: true });
    const at = (rel: string) => Buffer.concat([b(`${context}/`), b(rel)]);
    const parents = (rel: string) => {
        const parts = rel.split("/");
        for (let i = 1; i < parts.length; i++) {
            const p = at(parts.slice(0, i).join("/"));
            if (!fs.existsSync(p)) fs.mkdirSync(p, { mode: 0o755 });
        }
    };
    const dirs: [Buffer, number][] = [];
    // Hardlinks last: their first name must exist.
    const order = Object.entries(c.tree).sort(
        ([x, a], [y, bb]) => Number(a.kind === "hardlink") - Number(bb.kind === "hardlink") || (x < y ? -1 : 1),
    );
    for (const [rel, n] of order) {
        parents(rel);
        const p = at(rel);
        switch (n.kind) {
            case "file":
                fs.writeFileSync(p, b(n.content));
                fs.chmodSync(p, n.mode);
                break;
            case "dir":
                if (!fs.existsSync(p)) fs.mkdirSync(p);
                dirs.push([p, n.mode]);
                break;
            case "symlink":
                fs.symlinkSync(b(n.target.replace(CASE_DIR, dir)), p);
                break;
            case "hardlink":
                fs.linkSync(at(n.to), p);
                break;
            // Made under an ASCII name, then renamed: argv cannot carry arbitrary bytes.
            case "fifo":
                execFileSync("mkfifo", ["-m", n.mode.toString(8), `${dir}/tmp-node`]);
                fs.renameSync(`${dir}/tmp-node`, p);
                break;
            case "char":
                execFileSync("mknod", [
                    "-m",
                    n.mode.toString(8),
                    `${dir}/tmp-node`,
                    "c",
                    String(n.major),
                    String(n.minor),
                ]);
                fs.renameSync(`${dir}/tmp-node`, p);
                break;
            case "socket": {
                // A socket file outlives its server only as a second (hard) link; a child
                // process listens, since this one is blocked in synchronous calls.
                const tmp = path.join(dir, `sock-${Math.random().toString(36).slice(2)}`);
                const script = `const s=require("net").createServer().listen(process.argv[1],()=>{require("fs").linkSync(process.argv[1],process.argv[2]);s.close()})`;
                execFileSync(process.execPath, ["-e", script, tmp, `${dir}/tmp-node`]);
                fs.renameSync(`${dir}/tmp-node`, p);
                break;
            }
        }
    }
    for (const [p, mode] of dirs.reverse()) fs.chmodSync(p, mode);
    const dfName = c.dockerfile?.name ?? "Dockerfile";
    fs.writeFileSync(path.join(dfDir, dfName), DOCKERFILE);
    for (const [rel, content] of Object.entries(c.outside ?? {})) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), b(content));
    }
    if (c.dockerfileIgnore !== undefined)
        fs.writeFileSync(path.join(dfDir, `${dfName}.dockerignore`), b(c.dockerfileIgnore));
    if (c.dockerignore !== undefined) fs.writeFileSync(path.join(context, ".dockerignore"), b(c.dockerignore));
    return { context, dockerfile: path.join(dfDir, dfName) };
}

/** Names that trip pattern engines: regex metacharacters, glob syntax, spaces, emoji, raw bytes. */
const NAMES = [
    "a",
    "b",
    "ab",
    "A",
    "abc",
    "a.txt",
    "b.go",
    "main.go",
    "x.c++",
    "a+b",
    "a|b",
    "Copy (1).txt",
    "Copy 1.txt",
    "{y}",
    "$z",
    "[x]",
    "x",
    "1",
    "2",
    "9a",
    ".hidden",
    "x y",
    "#x",
    "!y",
    "é",
    "\xc3\xa9t\xc3\xa9",
    "\xf0\x9f\x98\x80",
    "\xff\xfe",
    "n\nl",
    "tab\tx",
    "back\\slash",
    "src",
    "util",
    "build",
    "node_modules",
    "docs",
    "keep.md",
    "-dash",
];
const MODES = [0o644, 0o644, 0o644, 0o600, 0o755, 0o700, 0o444, 0o4755, 0o2755, 0o640];
const DIR_MODES = [0o755, 0o755, 0o755, 0o700, 0o750, 0o1777];

export function randomTree(r: () => number): Record<string, Node> {
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const tree: Record<string, Node> = {};
    const dirs = [""];
    const count = 3 + Math.floor(r() * 10);
    for (let i = 0; i < count; i++) {
        const parent = pick(dirs);
        const rel = parent ? `${parent}/${pick(NAMES)}` : pick(NAMES);
        if (rel in tree) continue;
        const roll = r();
        if (roll < 0.55) tree[rel] = { kind: "file", content: `${rel} ${Math.floor(r() * 4)}\n`, mode: pick(MODES) };
        else if (roll < 0.8 && rel.split("/").length < 4) {
            tree[rel] = { kind: "dir", mode: pick(DIR_MODES) };
            dirs.push(rel);
        } else if (roll < 0.9)
            tree[rel] = { kind: "symlink", target: pick(["a", "../a", "/etc/passwd", "missing", "src", "."]) };
        else if (roll < 0.95) {
            const files = Object.keys(tree).filter((k) => tree[k].kind === "file");
            if (files.length) tree[rel] = { kind: "hardlink", to: pick(files) };
        } else tree[rel] = { kind: "fifo", mode: 0o644 };
    }
    return tree;
}

/** Pattern pieces: paths of the tree, globbed, negated, with the syntax BuildKit reads its own way. */
export function randomIgnore(r: () => number, tree: Record<string, Node>): string {
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const paths = Object.keys(tree);
    const lines: string[] = [];
    const n = 1 + Math.floor(r() * 5);
    for (let i = 0; i < n; i++) {
        let p = paths.length && r() < 0.7 ? pick(paths) : pick(NAMES);
        const roll = r();
        if (roll < 0.15) p = p.replace(/[^/]$/, "*");
        else if (roll < 0.25) p = p.replace(/^[^/]/, "?");
        else if (roll < 0.35) p = `**/${p.split("/").pop()}`;
        else if (roll < 0.42) p = `${p.split("/")[0]}/**`;
        else if (roll < 0.47) p = p.replace(/[a-z]/, "[a-c]");
        else if (roll < 0.5) p = p.replace(/[0-9]/, "[[:digit:]]");
        else if (roll < 0.53) p = `*.${p.split(".").pop()}`;
        const decor = r();
        if (decor < 0.25) p = `!${p}`;
        else if (decor < 0.3) p = `/${p}`;
        else if (decor < 0.34) p = `./${p}`;
        else if (decor < 0.38) p = `${p}/`;
        else if (decor < 0.41) p = `  ${p}  `;
        else if (decor < 0.43) p = `# ${p}`;
        else if (decor < 0.45) p = `  #${p}`;
        else if (decor < 0.47) p = `x/../${p}`;
        lines.push(p);
    }
    const eol = r() < 0.15 ? "\r\n" : "\n";
    return `${r() < 0.1 ? "\xef\xbb\xbf" : ""}${lines.join(eol)}${eol}`;
}
