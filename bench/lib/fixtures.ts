// Build contexts and the hashing tree the cases use. The tree is generated once per machine
// into the bench cache (~/.cache/pulumi-multiarch/bench) and reused; build contexts are
// small and written per run under .state/bench/ctx/.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

import { out, ROOT, say, WORK } from "./sh";
import { treeSizes } from "./tree";

export const REGISTRY = "127.0.0.1:5000";
import { CACHE } from "../../tests/support/cache";
export { CACHE };
export const BENCH_CACHE = path.join(CACHE, "bench");
export const GO_VERSION = out("go", ["env", "GOVERSION"]).replace(/^go/, "");
/** The Go toolchain image of bench/fixtures.sh: amd64 + arm64, standard library compiled. */
export const GOLANG_STD = `${REGISTRY}/bench/golang:${GO_VERSION}-std`;
const FIXTURE_GOLANG = `${REGISTRY}/fixtures/golang:latest`;

/** What bench/fixtures.sh recorded about its cold steps. */
export function fixtureRecords(): Record<string, any> {
    const f = path.join(BENCH_CACHE, "fixtures.json");
    return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : {};
}

function writeContext(name: string, files: Record<string, string>): string {
    const dir = path.join(WORK, "ctx", name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    return dir;
}

function appFiles(): Record<string, string> {
    const read = (f: string) => fs.readFileSync(path.join(ROOT, "app", f), "utf8");
    return { "main.go": read("main.go"), "go.mod": read("go.mod"), ".dockerignore": read(".dockerignore") };
}

/**
 * The article's app with its own Dockerfile (cross-compiling: `FROM --platform=$BUILDPLATFORM`,
 * `GOARCH=$TARGETARCH`), only the golang image swapped for the one with the standard library
 * compiled. `emulated`: the same Dockerfile without `--platform=$BUILDPLATFORM`, so the build
 * stage runs as each target platform (arm64 under QEMU), as in the article before its fix.
 */
export function appContext(name: string, variant: "cross" | "emulated"): string {
    const original = fs.readFileSync(path.join(ROOT, "app", "Dockerfile"), "utf8");
    if (!original.includes(`FROM --platform=$BUILDPLATFORM ${FIXTURE_GOLANG} AS build`)) {
        throw new Error(
            "app/Dockerfile no longer starts its build stage with FROM --platform=$BUILDPLATFORM fixtures/golang: update bench/lib/fixtures.ts",
        );
    }
    const from =
        variant === "cross" ? `FROM --platform=$BUILDPLATFORM ${GOLANG_STD} AS build` : `FROM ${GOLANG_STD} AS build`;
    const dockerfile = original.replace(`FROM --platform=$BUILDPLATFORM ${FIXTURE_GOLANG} AS build`, from);
    return writeContext(name, { ...appFiles(), Dockerfile: dockerfile });
}

/**
 * Case 4: the app with the standard-library compile in its own layer before the sources are
 * copied, the usual "dependencies first" layout of a Go Dockerfile (on the plain fixture
 * golang image, nothing precompiled): a one-file change reruns only the last compile, if
 * the layers before it are in a cache.
 */
export function cachedLayersContext(name: string): string {
    const dockerfile = [
        `FROM --platform=$BUILDPLATFORM ${FIXTURE_GOLANG} AS build`,
        "ARG TARGETOS TARGETARCH",
        "WORKDIR /src",
        "COPY go.mod ./",
        "RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath fmt runtime syscall",
        "COPY main.go ./",
        "RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -o /out/hello .",
        "",
        `FROM ${REGISTRY}/fixtures/busybox:latest`,
        "COPY --from=build /out/hello /usr/local/bin/hello",
        `ENTRYPOINT ["/usr/local/bin/hello"]`,
        "",
    ].join("\n");
    return writeContext(name, { ...appFiles(), Dockerfile: dockerfile });
}

/**
 * Case 5: a small image whose one step waits 2 s (standing in for a download), so what is
 * measured is whether builds overlap, not how many cores the machine has.
 */
export function waitContext(name: string): string {
    return writeContext(name, {
        Dockerfile: [
            `FROM ${REGISTRY}/fixtures/busybox:latest`,
            "COPY stamp /stamp",
            "RUN sleep 2 && cat /stamp > /built",
            `CMD ["cat", "/built"]`,
            "",
        ].join("\n"),
        stamp: "0\n",
    });
}

/** A one-line change of a source file: a comment that names the run, so no cache has seen it. */
export function touchSource(context: string, file: string, marker: string): void {
    const f = path.join(context, file);
    const text = fs.readFileSync(f, "utf8").replace(/\n\/\/ bench: .*\n$/, "\n");
    fs.writeFileSync(f, `${text}\n// bench: ${marker}\n`);
}

/** Copies a directory the way a checkout under `umask` writes it (modes = 0666/0777 & ~umask). */
export function checkoutWithUmask(src: string, dst: string, umask: number): void {
    fs.rmSync(dst, { recursive: true, force: true });
    const copy = (s: string, d: string) => {
        fs.mkdirSync(d, { mode: 0o777 & ~umask });
        fs.chmodSync(d, 0o777 & ~umask);
        for (const e of fs.readdirSync(s, { withFileTypes: true })) {
            if (e.isDirectory()) {
                copy(path.join(s, e.name), path.join(d, e.name));
                continue;
            }
            const exec = (fs.statSync(path.join(s, e.name)).mode & 0o111) !== 0;
            const mode = (exec ? 0o777 : 0o666) & ~umask;
            fs.writeFileSync(path.join(d, e.name), fs.readFileSync(path.join(s, e.name)));
            fs.chmodSync(path.join(d, e.name), mode);
        }
    };
    copy(src, dst);
}

// ---- case 2: the hashing tree -------------------------------------------------------------

export const TREE_FILES = 20_000;
export const TREE_BYTES = 200_000_000;
export const IGNORED_FILES = 1_000;
export const IGNORED_BYTES = 1_000_000_000;
const TREE_VERSION = "1";

/** A deterministic byte stream (AES-128-CTR of zeros) to fill files quickly. */
function stream(seed: string): (n: number) => Buffer {
    const key = crypto.createHash("sha256").update(seed).digest().subarray(0, 16);
    const cipher = crypto.createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
    return (n) => cipher.update(Buffer.alloc(n));
}

export interface Tree {
    /** The build context: 20,000 files (200 MB) in src/, a Dockerfile, a .dockerignore naming ignored-1g/. */
    context: string;
    /** The 1 GB folder; the bench moves it into the context (as ignored-1g/) and out again. */
    ignored: string;
    files: number;
    bytes: number;
}

/** Generates the tree once (about 1.2 GB on disk), keyed by TREE_VERSION. */
export function hashingTree(): Tree {
    const base = path.join(BENCH_CACHE, `tree-v${TREE_VERSION}`);
    const tree: Tree = {
        context: path.join(base, "context"),
        ignored: path.join(base, "ignored-1g"),
        files: TREE_FILES,
        bytes: TREE_BYTES,
    };
    if (fs.existsSync(path.join(base, "complete"))) {
        const inside = path.join(tree.context, "ignored-1g");
        if (fs.existsSync(inside)) fs.renameSync(inside, tree.ignored); // a run stopped half way
        return tree;
    }
    say(
        `generating the hashing tree (${TREE_FILES} files, ${TREE_BYTES / 1e6} MB, plus ${IGNORED_BYTES / 1e9} GB to ignore) in ${base}`,
    );
    const t0 = Date.now();
    fs.rmSync(base, { recursive: true, force: true });
    const next = stream("pulumi-multiarch bench tree");
    // 20 top-level folders x 10 subfolders x 100 files; one file in ten is executable.
    treeSizes(TREE_FILES, TREE_BYTES).forEach((size, i) => {
        const dir = path.join(
            tree.context,
            "src",
            `pkg${String(Math.floor(i / 1000)).padStart(2, "0")}`,
            `mod${Math.floor(i / 100) % 10}`,
        );
        if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `file${String(i % 100).padStart(3, "0")}.dat`);
        fs.writeFileSync(file, next(size), { mode: i % 10 === 0 ? 0o755 : 0o644 });
    });
    fs.writeFileSync(path.join(tree.context, "Dockerfile"), "FROM scratch\nCOPY src/ /src/\n");
    fs.writeFileSync(path.join(tree.context, ".dockerignore"), "ignored-1g/\n");
    fs.mkdirSync(tree.ignored, { recursive: true });
    for (let i = 0; i < IGNORED_FILES; i++) {
        fs.writeFileSync(
            path.join(tree.ignored, `blob${String(i).padStart(4, "0")}.bin`),
            next(IGNORED_BYTES / IGNORED_FILES),
        );
    }
    fs.writeFileSync(
        path.join(base, "complete"),
        JSON.stringify({ seconds: (Date.now() - t0) / 1000, at: new Date().toISOString() }),
    );
    return tree;
}

// ---- case 10: a monorepo-sized context -----------------------------------------------------

export const BIG_FILES = 50_000;
export const BIG_BYTES = 295_000_000;
const BIG_VERSION = "1";

/**
 * Case 10: two contexts of one small image (FROM the busybox fixture, COPY main.go): the app's
 * three files alone, and the same three files beside a `data/` tree of 50,000 files (295 MB,
 * the monorepo stand-in, generated once into the bench cache). BuildKit is sent only
 * what COPY names; the context digest covers every file either way.
 */
export function scaleContexts(): { small: string; big: string } {
    const dockerfile = `FROM ${REGISTRY}/fixtures/busybox:latest\nCOPY main.go /main.go\n`;
    const files = { ...appFiles(), Dockerfile: dockerfile };
    delete (files as Record<string, string>)[".dockerignore"];
    const small = writeContext("c10-small", files);
    const big = path.join(BENCH_CACHE, `big-context-v${BIG_VERSION}`);
    if (!fs.existsSync(path.join(big, ".complete"))) {
        say(`generating the case-10 context (${BIG_FILES} files, ${BIG_BYTES / 1e6} MB) in ${big}`);
        fs.rmSync(big, { recursive: true, force: true });
        const next = stream("pulumi-multiarch bench big context");
        treeSizes(BIG_FILES, BIG_BYTES, 7).forEach((size, i) => {
            const dir = path.join(
                big,
                "data",
                `pkg${String(Math.floor(i / 1000)).padStart(2, "0")}`,
                `mod${Math.floor(i / 100) % 10}`,
            );
            if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, `file${String(i % 100).padStart(3, "0")}.dat`), next(size));
        });
        // Outside the context (.dockerignore'd), so the digest does not depend on it.
        fs.writeFileSync(path.join(big, ".dockerignore"), ".complete\n");
        fs.writeFileSync(path.join(big, ".complete"), new Date().toISOString());
    }
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(big, f), text);
    return { small, big };
}
