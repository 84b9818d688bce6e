// Pure parsers against real output captured from the tools on this machine (tests/fixtures).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

import { parseDebianDefinition, parseHandler, registerLine, sameFlags } from "../../core/binfmt";
import { builderPlatforms, parseLs, parseMetadata, parseVersion, plainText } from "../../core/buildx";
import { elfMachine, exitProgram } from "../../core/elf";
import { normalizePlatform, parsePlatform, qemuName } from "../../core/platform";
import { parseRef, platformDigests } from "../../core/registry";

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "..", "fixtures", name), "utf8");

describe("binfmt parsers", () => {
    it("parses a kernel handler entry", () => {
        const h = parseHandler(fixture("binfmt-qemu-aarch64.txt"));
        assert.deepStrictEqual(h, {
            enabled: true,
            interpreter: "/usr/libexec/qemu-binfmt/aarch64-binfmt-P",
            flags: "PF",
            offset: 0,
            magic: "7f454c460201010000000000000000000200b700",
            mask: "ffffffffffffff00fffffffffffffffffeffffff",
        });
    });

    it("parses the article's example entry (flags OCF, /usr/bin/qemu-aarch64)", () => {
        const h = parseHandler(
            "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: OCF\noffset 0\nmagic 7f454c460201010000000000000000000200b7\nmask ffffffffffffff00fffffffffffffffffeffff\n",
        );
        assert.strictEqual(h.flags, "OCF");
        assert.strictEqual(h.interpreter, "/usr/bin/qemu-aarch64");
        assert.strictEqual(h.enabled, true);
    });

    it("reads a disabled handler as disabled", () => {
        assert.strictEqual(parseHandler("disabled\ninterpreter /x\nflags: F\n").enabled, false);
    });

    it("turns Debian's definition into the register line whose magic and mask the kernel reports", () => {
        const d = parseDebianDefinition("qemu-aarch64", fixture("debian-binfmts-qemu-aarch64"));
        const kernel = parseHandler(fixture("binfmt-qemu-aarch64.txt"));
        assert.strictEqual(d.magic, kernel.magic);
        assert.strictEqual(d.mask, kernel.mask);
        assert.strictEqual(d.interpreter, kernel.interpreter);
        assert.ok(sameFlags(d.flags, kernel.flags), `${d.flags} vs ${kernel.flags}`);
        assert.match(
            registerLine(d),
            /^:qemu-aarch64:M:0:\\x7f\\x45\\x4c\\x46.*:\/usr\/libexec\/qemu-binfmt\/aarch64-binfmt-P:PF$/,
        );
    });
});

describe("buildx parsers", () => {
    it("parses `buildx ls --format json` with a docker-container builder", () => {
        const builders = parseLs(fixture("buildx-ls-arm64-emulated.jsonl"));
        const capt = builders.find((b) => b.name === "capt")!;
        assert.strictEqual(capt.driver, "docker-container");
        assert.strictEqual(capt.nodes.length, 1);
        assert.strictEqual(capt.nodes[0].name, "capt0");
        assert.strictEqual(capt.nodes[0].status, "running");
        assert.strictEqual(capt.nodes[0].buildkitVersion, "v0.34.2");
        assert.deepStrictEqual(capt.nodes[0].driverOpts, {
            image: "pulumi-multiarch/buildkit:v0.34.2",
            network: "host",
        });
        assert.deepStrictEqual(builderPlatforms(capt), ["linux/amd64", "linux/arm64", "linux/386"]);
    });

    it("sees no arm64 on a builder booted before the emulator was registered", () => {
        const capt = parseLs(fixture("buildx-ls-no-emulators.jsonl")).find((b) => b.name === "capt")!;
        assert.ok(!builderPlatforms(capt).includes("linux/arm64"));
    });

    it("reads the buildx version", () => {
        assert.strictEqual(parseVersion(fixture("buildx-version.txt")), "0.38.2");
        assert.throws(() => parseVersion("nonsense"), /cannot read a version/);
    });

    it("reads the digest from a metadata file", () => {
        const m = parseMetadata(
            '{"buildx.build.ref":"b/b0/x","containerimage.digest":"sha256:abc","image.name":"r/h:1"}',
        );
        assert.deepStrictEqual(m, {
            digest: "sha256:abc",
            configDigest: undefined,
            imageName: "r/h:1",
            buildRef: "b/b0/x",
        });
    });

    it("reads the pushed digest and the loaded image's config digest from one build's metadata (push to two registries + load)", () => {
        // Captured: buildx 0.38.2, one platform, --output type=image,"name=<two repos>",push-by-digest=true --output type=docker.
        const m = parseMetadata(fixture("buildx-metadata-push-and-load.json"));
        assert.strictEqual(m.digest, "sha256:358a73e92d61ddfef734c8a51da09fea33256996af20f9467131ef1404be7f1d");
        assert.strictEqual(m.configDigest, "sha256:2eb9b36f8b1e24d830b01f51ac98bc6f3206ee6283ba10be3a72ca439f797e1e");
        assert.strictEqual(m.imageName, "127.0.0.1:5000/i20exp/a,127.0.0.1:5003/i20exp/b");
    });

    it("forwards build output without terminal escapes (buildx colours its warnings even without a terminal)", () => {
        const raw = fixture("buildx-build-warnings.txt").split("\n");
        assert.ok(
            raw.some((l) => l.includes("\x1b[33m")),
            "the captured output has no escape: capture it again",
        );
        const lines = raw.map(plainText);
        assert.deepStrictEqual(
            lines.filter((l) => /[\x00-\x08\x0b-\x1f\x7f]/.test(l)),
            [],
        );
        assert.ok(lines.includes(" 2 warnings found (use docker --debug to expand):"));
        assert.ok(lines.includes(" - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"));
        assert.strictEqual(plainText("#5 \x1b]8;;https://x\x07link\x1b]8;;\x07 done\r"), "#5 link done");
        assert.strictEqual(plainText("tab\tkept"), "tab\tkept");
    });
});

describe("registry", () => {
    it("maps platforms to digests in a pushed index", () => {
        const index = JSON.parse(fixture("registry-index-hello.json"));
        assert.deepStrictEqual(Object.keys(platformDigests(index)).sort(), ["linux/amd64", "linux/arm64"]);
    });

    it("leaves attestation manifests out", () => {
        const index = {
            manifests: [
                { digest: "sha256:a", platform: { os: "linux", architecture: "arm64" } },
                {
                    digest: "sha256:b",
                    platform: { os: "unknown", architecture: "unknown" },
                    annotations: { "vnd.docker.reference.type": "attestation-manifest" },
                },
            ],
        };
        assert.deepStrictEqual(platformDigests(index), { "linux/arm64": "sha256:a" });
    });

    const refs: [string, object][] = [
        [
            "127.0.0.1:5000/hello:1.0",
            { registry: "127.0.0.1:5000", repository: "hello", tag: "1.0", digest: undefined },
        ],
        ["localhost:5000/a/b", { registry: "localhost:5000", repository: "a/b", tag: "latest", digest: undefined }],
        ["busybox", { registry: "docker.io", repository: "library/busybox", tag: "latest", digest: undefined }],
        ["ghcr.io/org/app:v1", { registry: "ghcr.io", repository: "org/app", tag: "v1", digest: undefined }],
    ];
    for (const [ref, want] of refs) {
        it(`parses ${ref}`, () => assert.deepStrictEqual(parseRef(ref), want));
    }
    it("refuses a malformed reference with an example", () => {
        assert.throws(() => parseRef("Not A Ref"), /is not an image reference: write registry\/repository:tag/);
    });
});

describe("platforms", () => {
    const table: [string, string][] = [
        ["linux/amd64", "linux/amd64"],
        ["linux/arm64/v8", "linux/arm64"],
        ["linux/arm", "linux/arm/v7"],
        ["linux/arm/v6", "linux/arm/v6"],
        [" linux/riscv64 ", "linux/riscv64"],
    ];
    for (const [input, want] of table)
        it(`normalizes ${input}`, () => assert.strictEqual(normalizePlatform(input), want));

    it("rejects unknown architectures, other OSes and bad shapes, naming the fix", () => {
        assert.throws(() => parsePlatform("linux/arm65"), /unknown architecture "arm65"; use one of .*linux\/arm64/);
        assert.throws(() => parsePlatform("windows/amd64"), /only linux images/);
        assert.throws(() => parsePlatform("arm64"), /write os\/arch\[\/variant\]/);
        assert.throws(() => parsePlatform("linux/arm64/v9"), /unknown variant "v9"/);
    });

    it("names QEMU's emulator for a platform", () => {
        assert.strictEqual(qemuName("linux/arm64"), "aarch64");
        assert.strictEqual(qemuName("linux/386"), "i386");
    });
});

describe("ELF", () => {
    it("builds exit programs whose header names the right machine", () => {
        assert.strictEqual(elfMachine(exitProgram("arm64")), 183);
        assert.strictEqual(elfMachine(exitProgram("amd64")), 62);
        assert.strictEqual(elfMachine(Buffer.from("#!/bin/sh\n")), undefined);
    });
});
