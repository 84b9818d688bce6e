// Verification on real tar layers built here (tar-stream), read through the streaming
// Verifier: program resolution as the runtime does it, every ELF the build added, whiteouts,
// shared blobs read once, and reading that stops when the answer is known.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as tarStream from "tar-stream";

import { expand, finalStageBase } from "../../core/baseImage";
import { exitProgram } from "../../core/elf";
import {
    type BlobSource,
    describe as describeCheck,
    parseHead,
    pathCandidates,
    programTargets,
    shellCommandWord,
    Verifier,
} from "../../core/verify";

type Item = { name: string; body?: Buffer; link?: string; type?: "symlink" | "directory" | "file" };

function tar(items: Item[]): Promise<Buffer> {
    const pack = tarStream.pack();
    const chunks: Buffer[] = [];
    pack.on("data", (c: unknown) => chunks.push(c as Buffer));
    for (const i of items) {
        if (i.link !== undefined) pack.entry({ name: i.name, type: "symlink", linkname: i.link });
        else if (i.type === "directory") pack.entry({ name: i.name, type: "directory" });
        else pack.entry({ name: i.name, mode: 0o755 }, i.body ?? Buffer.alloc(0));
    }
    pack.finalize();
    return new Promise((resolve) => pack.on("end", () => resolve(Buffer.concat(chunks))));
}

const sha = (b: Buffer) => `sha256:${crypto.createHash("sha256").update(b).digest("hex")}`;

/** An in-memory image store; counts the bytes handed out per blob. */
function store() {
    const blobs = new Map<string, Buffer>();
    const reads = new Map<string, number>();
    const put = (b: Buffer) => {
        const d = sha(b);
        blobs.set(d, b);
        return d;
    };
    const source: BlobSource = {
        manifest: async (d) => JSON.parse(blobs.get(d)!.toString()),
        blob: async (d) =>
            (async function* () {
                const b = blobs.get(d)!;
                for (let i = 0; i < b.length; i += 4096) {
                    reads.set(d, (reads.get(d) ?? 0) + Math.min(4096, b.length - i));
                    yield b.subarray(i, i + 4096);
                }
            })(),
    };
    const image = async (arch: string, config: any, layers: Buffer[]) => {
        const cfg = put(Buffer.from(JSON.stringify({ os: "linux", architecture: arch, config })));
        const ls = layers.map((l) => ({
            mediaType: "application/vnd.oci.image.layer.v1.tar",
            digest: put(l),
            size: l.length,
        }));
        return put(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: cfg }, layers: ls })));
    };
    return { source, image, reads, put };
}

const ARM = exitProgram("arm64"),
    AMD = exitProgram("amd64");

describe("verification", () => {
    it("resolves the program like the runtime: absolute, WorkingDir-relative, PATH, shell form", () => {
        assert.deepStrictEqual(pathCandidates("./hello", "/app", "/bin"), ["/app/hello"]);
        assert.deepStrictEqual(pathCandidates("sh", "/", "/usr/bin:/bin"), ["/usr/bin/sh", "/bin/sh"]);
        assert.deepStrictEqual(
            programTargets({ config: { WorkingDir: "/app", Cmd: ["./hello"] } }).map((t) => t.candidates),
            [["/app/hello"], ["/bin/sh"]],
        );
        const shell = programTargets({
            config: { WorkingDir: "/app", Cmd: ["/bin/sh", "-c", "FOO=1 exec ./hello --x"] },
        });
        assert.deepStrictEqual(
            shell.map((t) => t.candidates[0]),
            ["/bin/sh", "/app/hello", "/bin/sh"],
        );
        assert.strictEqual(shellCommandWord("$APP"), undefined);
        assert.deepStrictEqual(
            programTargets({ config: { Entrypoint: ["/e"], Cmd: ["x"] } }).map((t) => t.path),
            ["/e", "/bin/sh"],
        );
    });

    it("reads an ELF's machine and a dynamic binary's loader (this host's /bin/ls), and a #! line", () => {
        const ls = parseHead(fs.readFileSync("/bin/ls").subarray(0, 4096))!;
        assert.strictEqual(ls.machine, 62);
        assert.match(ls.interpreter!, /^\/lib.*\/ld-linux-x86-64\.so\.2$/);
        assert.deepStrictEqual(parseHead(Buffer.from("#!/usr/bin/env python3\nprint(1)\n")), {
            shebang: ["/usr/bin/env", "python3"],
        });
        assert.strictEqual(parseHead(Buffer.from("plain text")), undefined);
    });

    it("names the article's x86-64 ./hello under WORKDIR /app in an arm64 image", async () => {
        const s = store();
        const base = await tar([
            { name: "bin/busybox", body: ARM },
            { name: "bin/sh", link: "busybox" },
        ]);
        const added = await tar([
            { name: "app/", type: "directory" },
            { name: "app/hello", body: AMD },
        ]);
        const m = await s.image("arm64", { WorkingDir: "/app", Cmd: ["./hello"] }, [base, added]);
        const c = await new Verifier(s.source).check(m, "linux/arm64", 1);
        assert.match(
            c.problem!,
            /\/app\/hello, added by the build, is an amd64 ELF file. Likely cause: a hard-coded GOARCH/,
        );
    });

    it("fails on a foreign ELF in a folder the program never runs; passes an honest image", async () => {
        const s = store();
        const base = await tar([
            { name: "bin/busybox", body: ARM },
            { name: "bin/sh", link: "busybox" },
        ]);
        const honest = await tar([{ name: "app/hello", body: ARM }]);
        const stray = await tar([
            { name: "app/hello", body: ARM },
            { name: "app/tools/x", body: AMD },
        ]);
        const ok = await new Verifier(s.source).check(
            await s.image("arm64", { Cmd: ["/app/hello"] }, [base, honest]),
            "linux/arm64",
            1,
        );
        assert.strictEqual(ok.problem, undefined);
        assert.match(
            describeCheck(ok),
            /^ok: config linux\/arm64, \/app\/hello is arm64, 1 ELF file added by the build$/,
        );
        const bad = await new Verifier(s.source).check(
            await s.image("arm64", { Cmd: ["/app/hello"] }, [base, stray]),
            "linux/arm64",
            1,
        );
        assert.match(bad.problem!, /\/app\/tools\/x, added by the build, is an amd64 ELF/);
    });

    it("follows a shell form and a #! script to an interpreter of another architecture (a wrong last FROM)", async () => {
        const s = store();
        const amdBase = await tar([
            { name: "bin/busybox", body: AMD },
            { name: "bin/sh", link: "busybox" },
        ]);
        const script = await tar([{ name: "run.sh", body: Buffer.from("#!/bin/sh\necho hi\n") }]);
        const viaShell = await new Verifier(s.source).check(
            await s.image("arm64", { Cmd: ["/bin/sh", "-c", "echo hi"] }, [amdBase]),
            "linux/arm64",
            1,
        );
        assert.match(
            viaShell.problem!,
            /\/bin\/sh \(-> \/bin\/busybox\) is an amd64 binary. Likely cause: the final stage's FROM/,
        );
        const viaScript = await new Verifier(s.source).check(
            await s.image("arm64", { Entrypoint: ["/run.sh"] }, [amdBase, script]),
            "linux/arm64",
            1,
        );
        assert.match(viaScript.problem!, /interpreter of \/run.sh comes from a base of another architecture/);
    });

    it("honours whiteouts, and stops reading a base layer once the program is found", async () => {
        const s = store();
        const big = Buffer.alloc(4 << 20, 1);
        const base = await tar([
            { name: "bin/busybox", body: ARM },
            { name: "bin/sh", link: "busybox" },
            { name: "zz/big", body: big },
        ]);
        const gone = await tar([{ name: "bin/.wh.sh" }]);
        const m = await s.image("arm64", { Cmd: ["/bin/sh", "-c", "true"] }, [base]);
        const v = new Verifier(s.source);
        const c = await v.check(m, "linux/arm64", 1);
        assert.strictEqual(c.problem, undefined);
        assert.ok(c.bytesRead! < big.length / 2, `read ${c.bytesRead} bytes of a ${base.length}-byte layer`);
        const m2 = await s.image("arm64", { Cmd: ["/bin/sh", "-c", "true"] }, [base, gone]);
        assert.match((await v.check(m2, "linux/arm64", 1)).problem!, /runs \/bin\/sh, which is not in the image/);
    });

    it("reads a blob shared by two platforms once", async () => {
        const s = store();
        const shared = await tar([{ name: "etc/motd", body: Buffer.from("hi") }]);
        const a = await s.image("arm64", { Cmd: ["/a"] }, [await tar([{ name: "a", body: ARM }]), shared]);
        const b = await s.image("amd64", { Cmd: ["/a"] }, [await tar([{ name: "a", body: AMD }]), shared]);
        const v = new Verifier(s.source);
        const [ca, cb] = await Promise.all([v.check(a, "linux/arm64", 0), v.check(b, "linux/amd64", 0)]);
        assert.strictEqual(ca.problem ?? cb.problem, undefined);
        assert.strictEqual(s.reads.get(sha(shared)), shared.length);
    });

    it("finds the final stage's base through stages and ARGs", () => {
        const df =
            "ARG BASE=busybox\nFROM --platform=$BUILDPLATFORM golang AS build\nFROM ${BASE}:1 AS run\nFROM run\n";
        assert.strictEqual(finalStageBase(df, {}, undefined, "linux/arm64"), "busybox:1");
        assert.strictEqual(finalStageBase(df, { BASE: "alpine" }, undefined, "linux/arm64"), "alpine:1");
        assert.strictEqual(finalStageBase(df, {}, "build", "linux/arm64"), "golang");
        assert.strictEqual(finalStageBase("FROM scratch\n", {}, undefined, "linux/amd64"), "scratch");
        assert.strictEqual(finalStageBase("FROM $NOPE\n", {}, undefined, "linux/amd64"), undefined);
        assert.strictEqual(expand("${X:-d}/${TARGETARCH}", { TARGETARCH: "arm64" }), "d/arm64");
    });
});
