// Context hashing on real files: content-based, machine-independent, .dockerignore-aware.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hashContext, diffFiles, summarizeFiles } from "../../components/core/context";

function tree(files: Record<string, string>, mode = 0o644): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
    for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), content, { mode });
    }
    return dir;
}

describe("context digest", () => {
    const files = { "Dockerfile": "FROM scratch\n", "main.go": "package main\n", "pkg/a.go": "package pkg\n" };

    it("is the same for the same content in another place with other permissions", () => {
        const a = tree(files, 0o644);
        const b = tree(files, 0o600); // another umask
        assert.strictEqual(hashContext(a).digest, hashContext(b).digest);
    });

    it("changes with one byte of one file, and says which file", () => {
        const a = tree(files);
        const before = hashContext(a);
        fs.writeFileSync(path.join(a, "pkg/a.go"), "package pkg \n");
        const after = hashContext(a);
        assert.notStrictEqual(before.digest, after.digest);
        assert.deepStrictEqual(diffFiles(before.files, after.files), { added: [], removed: [], changed: ["pkg/a.go"] });
    });

    it("counts the executable bit, and only that", () => {
        const a = tree(files);
        const before = hashContext(a).digest;
        fs.chmodSync(path.join(a, "main.go"), 0o755);
        assert.notStrictEqual(hashContext(a).digest, before);
    });

    it("ignores what .dockerignore ignores", () => {
        const a = tree({ ...files, ".dockerignore": "node_modules\n*.log\n", "node_modules/x/i.js": "1", "debug.log": "x" });
        const d = hashContext(a);
        assert.deepStrictEqual(Object.keys(d.files).sort(), [".dockerignore", "Dockerfile", "main.go", "pkg/a.go"]);
        fs.writeFileSync(path.join(a, "node_modules/x/i.js"), "2");
        fs.writeFileSync(path.join(a, "debug.log"), "y");
        assert.strictEqual(hashContext(a).digest, d.digest);
    });

    it("honours exceptions below an ignored folder", () => {
        const a = tree({ ...files, ".dockerignore": "docs\n!docs/keep.md\n", "docs/keep.md": "k", "docs/drop.md": "d" });
        const keys = Object.keys(hashContext(a).files);
        assert.ok(keys.includes("docs/keep.md"));
        assert.ok(!keys.includes("docs/drop.md"));
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
        const files: Record<string, string> = { "Dockerfile": "sha256:d" };
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
