// Context hashing on real files: content-based, machine-independent, .dockerignore-aware.
// (tests/e2e/context-differential.test.ts proves the file list against the real BuildKit.)
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import {
    diffFiles,
    expireUnused,
    hashContext,
    hashStats,
    RACY_MS,
    sameAsLegacyRecord,
    StatCache,
    summarizeFiles,
} from "../../core/context";

const made: string[] = [];
after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>, mode = 0o644): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
    made.push(dir);
    for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), content, { mode });
    }
    return dir;
}

describe("context digest", () => {
    const files = { Dockerfile: "FROM scratch\n", "main.go": "package main\n", "pkg/a.go": "package pkg\n" };

    it("is the same for the same content and modes in another place, owned by another user, touched later", () => {
        const a = tree(files, 0o644);
        const b = tree(files, 0o644);
        fs.chownSync(path.join(b, "main.go"), 1234, 1234);
        fs.utimesSync(path.join(b, "main.go"), new Date(2001, 1, 1), new Date(2001, 1, 1));
        assert.strictEqual(hashContext(a).digest, hashContext(b).digest);
    });

    it("changes with the permission bits COPY writes: another umask is another image", () => {
        const a = tree(files, 0o644);
        const b = tree(files, 0o600);
        assert.notStrictEqual(hashContext(a).digest, hashContext(b).digest);
        const before = hashContext(a).digest;
        fs.chmodSync(path.join(a, "main.go"), 0o4644); // setuid
        assert.notStrictEqual(hashContext(a).digest, before);
        fs.chmodSync(path.join(a, "main.go"), 0o644);
        fs.chmodSync(path.join(a, "pkg"), 0o700);
        assert.notStrictEqual(hashContext(a).digest, before);
        assert.strictEqual(hashContext(a).files["pkg/"], "dir 0700");
    });

    it("counts empty folders, symlinks, hardlinks and FIFOs, as BuildKit sends them", () => {
        const a = tree(files);
        const before = hashContext(a).digest;
        fs.mkdirSync(path.join(a, "empty"));
        const withDir = hashContext(a);
        assert.notStrictEqual(withDir.digest, before);
        assert.strictEqual(withDir.files["empty/"], "dir 0755");
        fs.symlinkSync("../main.go", path.join(a, "pkg/link"));
        fs.linkSync(path.join(a, "main.go"), path.join(a, "second"));
        const d = hashContext(a);
        assert.strictEqual(d.files["pkg/link"], "-> ../main.go");
        assert.strictEqual(d.files["second"], "hardlink main.go");
    });

    it("takes any byte sequence as a name", () => {
        const a = tree(files);
        const name = Buffer.concat([Buffer.from(a + "/"), Buffer.from([0x66, 0xff, 0xfe, 0x0a, 0x67])]);
        fs.writeFileSync(name, "x");
        assert.strictEqual(hashContext(a).files["f\\xff\\xfe\ng"]?.slice(0, 7), "sha256:");
    });

    it("changes with one byte of one file, and says which file", () => {
        const a = tree(files);
        const before = hashContext(a);
        fs.writeFileSync(path.join(a, "pkg/a.go"), "package pkg \n");
        const after = hashContext(a);
        assert.notStrictEqual(before.digest, after.digest);
        assert.deepStrictEqual(diffFiles(before.files, after.files), { added: [], removed: [], changed: ["pkg/a.go"] });
    });

    it("streams a file larger than 2 GiB (a sparse one) without reading it into memory", function () {
        this.timeout(120_000);
        const a = tree(files);
        const big = path.join(a, "big.img");
        const fd = fs.openSync(big, "w");
        fs.ftruncateSync(fd, 2 ** 31 + 5);
        fs.closeSync(fd);
        const rssBefore = process.memoryUsage().rss;
        const d = hashContext(a);
        assert.match(d.files["big.img"], /^sha256:[0-9a-f]{64} 0644$/);
        assert.ok(process.memoryUsage().rss - rssBefore < 256 * 2 ** 20, "memory grew with the file");
    });

    it("ignores what .dockerignore ignores", () => {
        const a = tree({
            ...files,
            ".dockerignore": "node_modules\n*.log\n",
            "node_modules/x/i.js": "1",
            "debug.log": "x",
        });
        const d = hashContext(a);
        assert.deepStrictEqual(Object.keys(d.files).sort(), [
            ".dockerignore",
            "Dockerfile",
            "main.go",
            "pkg/",
            "pkg/a.go",
        ]);
        fs.writeFileSync(path.join(a, "node_modules/x/i.js"), "2");
        fs.writeFileSync(path.join(a, "debug.log"), "y");
        assert.strictEqual(hashContext(a).digest, d.digest);
    });

    it("honours exceptions below an ignored folder", () => {
        const a = tree({
            ...files,
            ".dockerignore": "docs\n!docs/keep.md\n",
            "docs/keep.md": "k",
            "docs/drop.md": "d",
        });
        const keys = Object.keys(hashContext(a).files);
        assert.ok(keys.includes("docs/keep.md"));
        assert.ok(keys.includes("docs/"), "BuildKit sends the folder of a re-included file");
        assert.ok(!keys.includes("docs/drop.md"));
    });

    it("uses <Dockerfile>.dockerignore before .dockerignore, also beside a Dockerfile outside the context", () => {
        const a = tree({ ...files, ".dockerignore": "build\n", "build/out": "o", "node_modules/m.js": "m" });
        const dir = tree({ "Dockerfile.prod": "FROM scratch\n", "Dockerfile.prod.dockerignore": "node_modules\n" });
        const d = hashContext(a, path.join(dir, "Dockerfile.prod"));
        assert.strictEqual(d.ignoreFile, path.join(dir, "Dockerfile.prod.dockerignore"));
        assert.ok("build/out" in d.files && !("node_modules/m.js" in d.files));
        assert.ok(!("build/out" in hashContext(a, path.join(a, "Dockerfile")).files));
    });

    it("treats a .dockerignore that is a folder as none, as BuildKit does", () => {
        const a = tree({ ...files, ".dockerignore/x": "main.go\n" });
        assert.ok("main.go" in hashContext(a).files);
    });

    it("refuses a .dockerignore BuildKit refuses, naming the file and the fix", () => {
        const a = tree({ ...files, ".dockerignore": "ok\nsrc/[a-\n" });
        assert.throws(
            () => hashContext(a),
            (e: Error) =>
                e.message.startsWith(path.join(a, ".dockerignore")) &&
                /syntax error in pattern.*fix the pattern/.test(e.message),
        );
        const b = tree({ ...files, ".dockerignore": "*\n!\\y\n" });
        assert.throws(() => hashContext(b), /invalid escape sequence: \\y/);
    });

    it("counts a Dockerfile that lives outside the context", () => {
        const a = tree(files);
        const df = path.join(tree({ "Dockerfile.alt": "FROM scratch\n" }), "Dockerfile.alt");
        const before = hashContext(a, df).digest;
        fs.writeFileSync(df, "FROM scratch\nLABEL x=1\n");
        assert.notStrictEqual(hashContext(a, df).digest, before);
    });

    it("refuses a context that is not a directory", () => {
        assert.throws(() => hashContext("/nonexistent/ctx"), /is not a directory/);
    });

    it("summarizes very large contexts per top-level folder, with counts", () => {
        const files: Record<string, string> = { Dockerfile: "sha256:d" };
        for (let i = 0; i < 600; i++) files[`src/f${i}.go`] = `sha256:${i}`;
        for (let i = 0; i < 3; i++) files[`docs/d${i}.md`] = `sha256:${i}`;
        const s1 = summarizeFiles(files);
        assert.deepStrictEqual(Object.keys(s1).sort(), ["Dockerfile", "docs/", "src/"]);
        assert.match(s1["src/"], /^sha256:[0-9a-f]{64} \(600 files\)$/);
        const s2 = summarizeFiles({ ...files, "src/f7.go": "sha256:changed" });
        assert.deepStrictEqual(diffFiles(s1, s2).changed, ["src/"]);
        assert.strictEqual(Object.keys(summarizeFiles({ a: "1" })).length, 1);
    });
});

describe("context digest with the stat cache", () => {
    // Files changed within RACY_MS of their hashing are never remembered (they are read again),
    // so each tree is made, then left alone that long before its first hash fills the cache.
    const settle = () => new Promise((r) => setTimeout(r, RACY_MS + 100));
    const fresh = (dir: string, dockerfile?: string) => hashContext(dir, dockerfile, { statCache: false });
    const files = {
        Dockerfile: "FROM scratch\n",
        "a.txt": "aaaa\n",
        "b.txt": "bbbb\n",
        "sub/c.txt": "cccc\n",
        "sub/skip.log": "log\n",
    };
    // A whole second, as a checkout may leave it (utimes cannot give back a finer mtime).
    const then = new Date(2020, 0, 1);

    /** Hashes through the cache; returns the digest and how many files were read and taken from the cache. */
    function cached(dir: string, dockerfile?: string) {
        const before = hashStats();
        const d = hashContext(dir, dockerfile);
        const after = hashStats();
        return { d, read: after.filesRead - before.filesRead, reused: after.filesFromCache - before.filesFromCache };
    }

    it("reads an unchanged tree by stat alone, and reads again exactly what changed", async function () {
        this.timeout(20_000);
        const a = tree(files);
        await settle();
        const first = cached(a);
        assert.strictEqual(first.read, 5);
        assert.ok(
            fs.existsSync(StatCache.fileFor(fs.realpathSync(a))),
            "the cache is written beside the user's other caches",
        );
        const again = cached(a);
        assert.deepStrictEqual([again.read, again.reused, again.d.digest], [0, 5, first.d.digest]);

        // Same size, same mtime put back: only the ctime says it changed.
        const f = path.join(a, "a.txt");
        fs.utimesSync(f, then, then);
        await settle();
        cached(a);
        const st = fs.statSync(f);
        fs.writeFileSync(f, "AAAA\n");
        fs.utimesSync(f, then, then);
        assert.strictEqual(fs.statSync(f).size, st.size);
        assert.strictEqual(fs.statSync(f).mtimeMs, st.mtimeMs);
        const r = cached(a);
        assert.strictEqual(r.read, 1, "only the changed file is read");
        assert.notStrictEqual(r.d.digest, first.d.digest);
        assert.deepStrictEqual(r.d, fresh(a));
        assert.deepStrictEqual(diffFiles(first.d.files, r.d.files).changed, ["a.txt"]);
    });

    it("sees a file replaced by a rename, a mode change and a .dockerignore change", async function () {
        this.timeout(20_000);
        const a = tree(files);
        fs.writeFileSync(path.join(a, "b.new"), "BBBB\n"); // b.txt's size, other bytes
        await settle();
        const first = cached(a);
        // A rename brings another inode under the old name, with the old name's size and mtime.
        fs.utimesSync(path.join(a, "b.txt"), then, then);
        fs.utimesSync(path.join(a, "b.new"), then, then);
        await settle();
        cached(a);
        fs.renameSync(path.join(a, "b.new"), path.join(a, "b.txt"));
        let r = cached(a);
        assert.strictEqual(r.read, 1, "only the renamed file is read");
        assert.deepStrictEqual(diffFiles(first.d.files, r.d.files), {
            added: [],
            removed: ["b.new"],
            changed: ["b.txt"],
        });
        assert.deepStrictEqual(r.d, fresh(a));
        // A mode change: the image gets another file.
        fs.chmodSync(path.join(a, "sub/c.txt"), 0o755);
        r = cached(a);
        assert.strictEqual(r.d.files["sub/c.txt"]?.endsWith(" 0755"), true);
        assert.deepStrictEqual(r.d, fresh(a));
        // .dockerignore: a file ignored now is gone from the digest, one ignored before comes back.
        fs.writeFileSync(path.join(a, ".dockerignore"), "**/*.log\n");
        r = cached(a);
        assert.strictEqual(r.d.files["sub/skip.log"], undefined);
        assert.deepStrictEqual(r.d, fresh(a));
        fs.writeFileSync(path.join(a, ".dockerignore"), "a.txt\n");
        r = cached(a);
        assert.strictEqual(r.d.files["a.txt"], undefined);
        assert.ok(r.d.files["sub/skip.log"]);
        assert.deepStrictEqual(r.d, fresh(a));
    });

    it("does not remember a file changed just before it was hashed (a write in the same clock tick would not change its stat)", () => {
        const a = tree(files);
        const first = cached(a);
        assert.strictEqual(first.read, 5);
        const again = cached(a);
        assert.strictEqual(again.read, 5, "every file is younger than RACY_MS: read again");
        assert.doesNotMatch(
            fs.readFileSync(StatCache.fileFor(fs.realpathSync(a)), "latin1"),
            /[0-9a-f]{64}/,
            "no digest remembered",
        );
    });

    it("reads every file with PULUMI_MULTIARCH_STAT_CACHE=off", async function () {
        this.timeout(20_000);
        const a = tree(files);
        await settle();
        cached(a);
        process.env.PULUMI_MULTIARCH_STAT_CACHE = "off";
        try {
            const r = cached(a);
            assert.deepStrictEqual([r.read, r.reused], [5, 0]);
        } finally {
            delete process.env.PULUMI_MULTIARCH_STAT_CACHE;
        }
        assert.strictEqual(cached(a).read, 0);
    });

    it("removes cache files unused for a week, looking once a day; a cache read unchanged counts as used", async function () {
        this.timeout(20_000);
        const ago = (days: number) => new Date(Date.now() - days * 86_400_000);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-stat-expiry-"));
        try {
            const file = (n: string, days: number) => {
                fs.writeFileSync(path.join(dir, n), "");
                fs.utimesSync(path.join(dir, n), ago(days), ago(days));
            };
            file("old.v2", 8);
            file("recent.v2", 6);
            expireUnused(dir);
            assert.deepStrictEqual(fs.readdirSync(dir).sort(), [".swept", "recent.v2"]);
            file("old-too.v2", 8);
            expireUnused(dir);
            assert.ok(fs.existsSync(path.join(dir, "old-too.v2")), "swept less than a day ago: not looked at again");
            expireUnused(dir, Date.now() + 2 * 86_400_000);
            assert.deepStrictEqual(fs.readdirSync(dir).sort(), [".swept"], "two days later both are over a week old");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }

        // A folder built every day whose files never change: its cache is never rewritten, but stays.
        const a = tree(files);
        await settle();
        cached(a);
        const cacheFile = StatCache.fileFor(fs.realpathSync(a));
        fs.utimesSync(cacheFile, ago(8), ago(8));
        assert.strictEqual(cached(a).read, 0);
        assert.ok(fs.statSync(cacheFile).mtimeMs > Date.now() - 60_000, "marked used by the unchanged walk");
    });

    it("ignores a cache file it cannot read, and never takes an entry of another folder", async function () {
        this.timeout(20_000);
        const a = tree(files);
        const b = tree({ ...files, "a.txt": "zzzz\n" });
        await settle();
        fs.writeFileSync(StatCache.fileFor(fs.realpathSync(a)), "{not a cache");
        assert.deepStrictEqual(cached(a).d, fresh(a));
        assert.deepStrictEqual(cached(b).d, fresh(b));
        assert.notStrictEqual(cached(a).d.digest, cached(b).d.digest);
        // A cache cut short (a crash while another process wrote it) is read as far as it goes.
        const file = StatCache.fileFor(fs.realpathSync(a));
        const text = fs.readFileSync(file, "latin1");
        fs.writeFileSync(file, text.slice(0, Math.floor(text.length / 2)), "latin1");
        const r = cached(a);
        assert.ok(r.read > 0 && r.read < 5, `read ${r.read}`);
        assert.deepStrictEqual(r.d, fresh(a));
    });

    it("takes files added and removed in the middle of the walk, and keeps the rest by stat", async function () {
        this.timeout(20_000);
        const a = tree({ ...files, "m/1": "1", "m/2": "2", "z/3": "3" });
        await settle();
        cached(a);
        fs.rmSync(path.join(a, "b.txt"));
        fs.writeFileSync(path.join(a, "m/15"), "new");
        const r = cached(a);
        assert.deepStrictEqual([r.read, r.reused], [1, 7]);
        assert.deepStrictEqual(r.d, fresh(a));
    });
});

// The record 0.1.0 kept in the state, as its hashContext wrote it (tests/fixtures/releases/
// pulumi-multiarch-0.1.0.tgz, dist/core/context.js): files and links only.
describe("a 0.1.0 context record", () => {
    const sha = (text: string) => `sha256:${crypto.createHash("sha256").update(text).digest("hex")}`;
    const ctx = () => {
        const dir = tree({ Dockerfile: "FROM scratch\n", "pkg/a.go": "package pkg\n" });
        fs.writeFileSync(path.join(dir, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
        fs.symlinkSync("pkg/a.go", path.join(dir, "link"));
        return dir;
    };
    const legacy = {
        Dockerfile: sha("FROM scratch\n"),
        link: "link:pkg/a.go",
        "pkg/a.go": sha("package pkg\n"),
        "run.sh": `${sha("#!/bin/sh\n")}+x`,
        "<Dockerfile>": sha("FROM scratch\n"),
    };
    const current = (dir: string) => ({
        ...summarizeFiles(hashContext(dir).files),
        "<Dockerfile>": sha("FROM scratch\n"),
    });

    it("is the same context in this version's record: no rebuild after an upgrade", () => {
        assert.ok(sameAsLegacyRecord(legacy, current(ctx())));
    });

    it("differs when a file's content, its executable bit or a link changed, or a file came or went", () => {
        const changes: ((dir: string) => void)[] = [
            (d) => fs.writeFileSync(path.join(d, "pkg/a.go"), "package pkg // changed\n"),
            (d) => fs.chmodSync(path.join(d, "run.sh"), 0o644),
            (d) => {
                fs.rmSync(path.join(d, "link"));
                fs.symlinkSync("run.sh", path.join(d, "link"));
            },
            (d) => fs.writeFileSync(path.join(d, "new.txt"), "x"),
            (d) => fs.rmSync(path.join(d, "run.sh")),
            (d) => fs.linkSync(path.join(d, "run.sh"), path.join(d, "second")), // 0.1.0 hashed it as a file
        ];
        for (const change of changes) {
            const dir = ctx();
            change(dir);
            assert.ok(!sameAsLegacyRecord(legacy, current(dir)), change.toString());
        }
    });

    it("is never taken for a record of this version", () => {
        const dir = ctx();
        assert.ok(!sameAsLegacyRecord(current(dir), current(dir)));
    });
});
