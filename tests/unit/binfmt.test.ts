// binfmt facts, dumps and preflight checks: pure functions on output captured from this host.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import {
    DUMP_HANDLERS,
    factsScript,
    handlerName,
    type HostFacts,
    kernelAtLeast,
    localFacts,
    localHandlerDump,
    nativePlatforms,
    parseFacts,
    parseHandlerDump,
    preflight,
    type PreflightInput,
} from "../../core/binfmt";

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "..", "fixtures", name), "utf8");
const local = parseFacts(fixture("binfmt-facts-local.txt"));
const base: PreflightInput = {
    platforms: ["linux/arm64", "linux/riscv64"],
    flags: "F",
    method: "host",
    definitionsDir: "/usr/share/binfmts",
};

describe("binfmt host facts", () => {
    it("reads uid, kernel, machine, mount, docker, definitions and interpreters", () => {
        assert.strictEqual(local.uid, 0);
        assert.strictEqual(local.machine, "x86_64");
        assert.match(local.kernel, /^\d+\.\d+/);
        assert.strictEqual(local.mounted, true);
        assert.strictEqual(local.docker, false); // only checked for method "container"
        assert.deepStrictEqual(Object.keys(local.definitions).sort(), ["qemu-aarch64", "qemu-riscv64"]);
        assert.deepStrictEqual(local.interpreters, [
            "/usr/libexec/qemu-binfmt/aarch64-binfmt-P",
            "/usr/libexec/qemu-binfmt/riscv64-binfmt-P",
        ]);
    });

    it("parses a dump of every qemu-* handler", () => {
        const h = parseHandlerDump(fixture("binfmt-dump.txt"));
        assert.deepStrictEqual(Object.keys(h), ["qemu-aarch64"]);
        assert.strictEqual(h["qemu-aarch64"].flags, "PF");
        assert.deepStrictEqual(parseHandlerDump(""), {});
    });

    it("knows what each machine runs natively", () => {
        assert.deepStrictEqual(nativePlatforms("x86_64"), ["linux/amd64", "linux/386"]);
        assert.deepStrictEqual(nativePlatforms("aarch64"), ["linux/arm64"]);
        assert.deepStrictEqual(nativePlatforms("riscv64"), ["linux/riscv64"]);
    });

    it("names handlers the way qemu-user-static does", () => {
        assert.strictEqual(handlerName("linux/arm/v7"), "qemu-arm");
        assert.strictEqual(handlerName("linux/ppc64le"), "qemu-ppc64le");
    });

    it("compares kernel releases", () => {
        assert.ok(kernelAtLeast("6.18.44-fc-v669", 4, 8));
        assert.ok(kernelAtLeast("4.8.0", 4, 8));
        assert.ok(!kernelAtLeast("3.10.0-1160.el7.x86_64", 4, 8));
        assert.ok(!kernelAtLeast("4.4.0", 4, 8));
    });
});

describe("binfmt preflight", () => {
    const reasons = (facts: HostFacts, input: PreflightInput = base) =>
        preflight(facts, input, "testhost").map((e) => `${e.property}: ${e.reason}`);

    it("passes on this host as it is", () => assert.deepStrictEqual(reasons(local), []));

    it("binfmt_misc not mounted: says how to mount it", () => {
        assert.match(
            reasons({ ...local, mounted: false })[0],
            /^host: binfmt_misc is not mounted on testhost: run `mount -t binfmt_misc/,
        );
    });

    it("flag F on a kernel older than 4.8: says to upgrade (old CentOS) or drop F", () => {
        const r = reasons({ ...local, kernel: "3.10.0-1160.el7.x86_64" });
        assert.match(r[0], /^flags: flag F needs Linux 4.8 or newer, testhost runs 3\.10\.0.*upgrade the kernel/);
        assert.deepStrictEqual(reasons({ ...local, kernel: "3.10.0" }, { ...base, flags: "" }), []);
    });

    it("not root: says to connect as root", () => {
        assert.match(reasons({ ...local, uid: 1000 })[0], /^method: .*needs root, but testhost runs this as uid 1000/);
    });

    it("interpreter missing: says to reinstall qemu-user-static", () => {
        const r = reasons({ ...local, interpreters: [local.interpreters[1]] });
        assert.deepStrictEqual(r, [
            "platforms: interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P for linux/arm64 is missing on testhost: reinstall qemu-user-static (apt-get install --reinstall qemu-user-static)",
        ]);
    });

    it("no definition: says to install qemu-user-static", () => {
        const r = reasons({ ...local, definitions: {} }, { ...base, platforms: ["linux/s390x"] });
        assert.match(r[0], /^platforms: no QEMU definition for linux\/s390x at \/usr\/share\/binfmts\/qemu-s390x/);
    });

    it("a handler that already serves needs no definition (registered without qemu-user-static)", () => {
        const bare = { ...local, definitions: {}, interpreters: [] };
        assert.deepStrictEqual(preflight(bare, base, "testhost", ["qemu-aarch64", "qemu-riscv64"]), []);
        const r = preflight(bare, base, "testhost", ["qemu-aarch64"]).map((e) => e.reason);
        assert.deepStrictEqual(r.length, 1);
        assert.match(r[0], /^no QEMU definition for linux\/riscv64/);
    });

    it("never asks for native platforms", () => {
        assert.deepStrictEqual(
            reasons({ ...local, definitions: {} }, { ...base, platforms: ["linux/amd64", "linux/386"] }),
            [],
        );
    });

    it("method container: needs docker and a pinned image unless opted out", () => {
        const c: PreflightInput = { ...base, method: "container", image: "127.0.0.1:5000/fixtures/binfmt:latest" };
        const withDocker = { ...local, docker: true };
        assert.match(reasons(local, c).join("\n"), /docker is not installed or its engine does not answer on testhost/);
        assert.match(reasons(withDocker, c)[0], /^image: .* is not pinned by digest.*allowUnpinnedImage: true/);
        assert.deepStrictEqual(reasons(withDocker, { ...c, allowUnpinnedImage: true }), []);
        assert.deepStrictEqual(reasons(withDocker, { ...c, image: `r/binfmt@sha256:${"a".repeat(64)}` }), []);
    });
});

// This machine's facts and handlers are read in-process (no shell at every preview): they
// must say exactly what the scripts print for a host reached over SSH.
describe("binfmt reads of this machine without a shell", () => {
    const sh = (script: string) => execFileSync("sh", ["-c", script], { encoding: "utf8" });

    it("gathers the same facts as the script, for handlers with and without a definition", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "binfmts-"));
        try {
            fs.writeFileSync(
                path.join(dir, "qemu-aarch64"),
                "package qemu-user-static\ninterpreter /bin/sh\nmagic \\x7fELF\n",
            );
            fs.writeFileSync(
                path.join(dir, "qemu-riscv64"),
                "package qemu-user-static\ninterpreter /nonexistent/qemu-riscv64\n",
            );
            fs.mkdirSync(path.join(dir, "qemu-arm"));
            const names = ["qemu-aarch64", "qemu-riscv64", "qemu-arm", "qemu-s390x"];
            const script = sh(factsScript(dir, names));
            assert.strictEqual(localFacts(dir, names), script);
            const facts = parseFacts(script);
            assert.deepStrictEqual(
                [Object.keys(facts.definitions).sort(), facts.interpreters],
                [["qemu-aarch64", "qemu-riscv64"], ["/bin/sh"]],
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("dumps the same handlers as the script", () => {
        assert.strictEqual(localHandlerDump(), sh(DUMP_HANDLERS));
        assert.deepStrictEqual(parseHandlerDump(localHandlerDump()), parseHandlerDump(sh(DUMP_HANDLERS)));
    });
});
