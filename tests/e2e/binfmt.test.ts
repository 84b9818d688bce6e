// e2e: exclusive (it removes, disables and re-registers the arm64 handler every other file emulates with): npm test never runs it beside another e2e file (it runs beside the unit tests, which build nothing).
// BinfmtSetup against the real kernel interface (/proc/sys/fs/binfmt_misc), real QEMU,
// a real sshd on loopback and the real engine (Automation API, inline programs).
import * as pulumi from "@pulumi/pulumi";
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { BinfmtSetup, type BinfmtSetupArgs } from "../../components";
import { CACHE, requireRealParts, ROOT, runImage, sh } from "../support/env";
import { dispose, failure, inlineStack, stateTexts } from "../support/stack";

const DIR = "/proc/sys/fs/binfmt_misc";
const SSH_KEY = path.join(CACHE, "sshd/id_ed25519");
const HOST_KEY = path.join(CACHE, "sshd/ssh_host_ed25519_key.pub");

const has = (name: string) => fs.existsSync(path.join(DIR, name));
const read = (name: string) => fs.readFileSync(path.join(DIR, name), "utf8");
const remove = (name: string) => {
    if (has(name)) fs.writeFileSync(path.join(DIR, name), "-1");
};
/** Registers a handler by hand, as someone else would, from Debian's definition. */
function registerByHand(q: string, flags: string, interpreter?: string): void {
    const def = fs.readFileSync(`/usr/share/binfmts/qemu-${q}`, "utf8");
    const get = (k: string) => new RegExp(`^${k} (.*)$`, "m").exec(def)![1];
    fs.writeFileSync(
        path.join(DIR, "register"),
        `:qemu-${q}:M:${get("offset")}:${get("magic")}:${get("mask")}:${interpreter ?? get("interpreter")}:${flags}`,
    );
}

/** The handlers resource's outputs as the state holds them (refresh updates these, not stack outputs). */
async function stateOf(stack: Stack): Promise<any> {
    const d = (await stack.exportStack()).deployment;
    return d.resources.find((r: any) => String(r.type).endsWith(":BinfmtHandlers")).outputs;
}

function program(args: BinfmtSetupArgs) {
    return async () => {
        const q = new BinfmtSetup("qemu", args);
        return {
            handlers: q.handlers,
            platforms: q.platforms,
            emulated: q.emulatedPlatforms,
            owned: q.ownedHandlers,
            drift: q.drift,
            kernel: q.kernelVersion,
        };
    };
}

describe("BinfmtSetup on this host (method host)", function () {
    let stack: Stack;
    before(async () => {
        requireRealParts();
        remove("qemu-riscv64");
        stack = await inlineStack(
            "e2e-binfmt-local",
            program({ platforms: ["linux/amd64", "linux/arm64", "linux/riscv64"] }),
        );
    });
    after(async () => {
        await dispose(stack);
        remove("qemu-riscv64");
    });

    it("registers, verifies like the article, and proves each platform runs", async () => {
        const res = await stack.up({ onOutput: () => {} });
        const o = res.outputs;
        assert.deepStrictEqual(
            o.emulated.value,
            ["linux/arm64", "linux/riscv64"],
            "amd64 is native here and must not be emulated",
        );
        assert.deepStrictEqual(o.platforms.value, ["linux/amd64", "linux/386", "linux/arm64", "linux/riscv64"]);
        const kernel = read("qemu-riscv64");
        assert.match(kernel, /^enabled$/m);
        assert.strictEqual(o.handlers.value["qemu-riscv64"].interpreter, /^interpreter (.*)$/m.exec(kernel)![1]);
        assert.match(o.handlers.value["qemu-riscv64"].flags, /F/);
        assert.strictEqual(o.handlers.value["qemu-riscv64"].magic, /^magic (.*)$/m.exec(kernel)![1]);
        assert.ok(o.owned.value.includes("qemu-riscv64"));
        assert.strictEqual(o.kernel.value, os.release());
    });

    it("an arm64 binary (Debian's busybox) runs here through the handler", () => {
        const out = runImage("linux/arm64", "127.0.0.1:5000/fixtures/busybox:latest", "uname", "-m");
        assert.strictEqual(out.trim(), "aarch64");
    });

    it("a reboot (handler written -1) is seen by refresh, shown by preview --diff and repaired by up", async () => {
        remove("qemu-riscv64");
        await stack.refresh({ onOutput: () => {} });
        assert.strictEqual((await stateOf(stack)).handlerStatus["qemu-riscv64"], "missing");
        const preview = await stack.preview({ diff: true });
        assert.strictEqual(preview.changeSummary.update, 1, JSON.stringify(preview.changeSummary));
        assert.match(preview.stdout, /qemu-riscv64\s*: "missing" => "ok"/);
        await stack.up({ onOutput: () => {} });
        assert.ok(has("qemu-riscv64"), "up did not re-register the handler");
        assert.match(read("qemu-riscv64"), /^enabled$/m);
        assert.deepStrictEqual((await stack.outputs()).drift.value, {});
        assert.strictEqual((await stateOf(stack)).handlerStatus["qemu-riscv64"], "ok");
    });

    it("a disabled handler (echo 0) is seen by refresh and enabled again by up", async () => {
        fs.writeFileSync(path.join(DIR, "qemu-riscv64"), "0");
        assert.match(read("qemu-riscv64"), /^disabled$/m);
        await stack.refresh({ onOutput: () => {} });
        assert.strictEqual((await stateOf(stack)).handlerStatus["qemu-riscv64"], "disabled");
        await stack.up({ onOutput: () => {} });
        assert.match(read("qemu-riscv64"), /^enabled$/m);
    });

    it("a handler with other flags, or another interpreter, shows as a diff and up restores it", async () => {
        remove("qemu-riscv64");
        registerByHand("riscv64", "P");
        await stack.refresh({ onOutput: () => {} });
        assert.match((await stateOf(stack)).handlerStatus["qemu-riscv64"], /flags "P" lack "F"/);
        await stack.up({ onOutput: () => {} });
        assert.match(read("qemu-riscv64"), /^flags: .*F/m);

        remove("qemu-riscv64");
        registerByHand("riscv64", "F", "/usr/bin/qemu-riscv64-static");
        await stack.refresh({ onOutput: () => {} });
        assert.match(
            (await stateOf(stack)).handlerStatus["qemu-riscv64"],
            /interpreter \/usr\/bin\/qemu-riscv64-static, expected/,
        );
        const preview = await stack.preview({ diff: true });
        assert.strictEqual(preview.changeSummary.update, 1);
        await stack.up({ onOutput: () => {} });
        assert.match(read("qemu-riscv64"), /^interpreter \/usr\/libexec\/qemu-binfmt\/riscv64-binfmt-P$/m);
    });

    it("destroy removes the handlers it registered", async () => {
        await stack.destroy({ onOutput: () => {} });
        assert.ok(!has("qemu-riscv64"));
    });
});

describe("BinfmtSetup and handlers registered by someone else", function () {
    let stack: Stack;
    before(async () => {
        remove("qemu-s390x");
        registerByHand("s390x", "PF"); // Debian's -binfmt-P interpreters need P
        stack = await inlineStack("e2e-binfmt-foreign", program({ platforms: ["linux/s390x"] }));
    });
    after(async () => {
        await dispose(stack);
        remove("qemu-s390x");
    });

    it("uses a handler that existed before, without owning it", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        assert.deepStrictEqual(o.owned.value, []);
        assert.ok(o.platforms.value.includes("linux/s390x"));
    });

    it("destroy leaves it alone", async () => {
        await stack.destroy({ onOutput: () => {} });
        assert.ok(has("qemu-s390x"), "destroy removed a handler this stack did not register");
        assert.match(read("qemu-s390x"), /^enabled$/m);
    });
});

describe("BinfmtSetup on a remote host over SSH (real sshd on 127.0.0.1:2222)", function () {
    let stack: Stack;
    const key = () => fs.readFileSync(SSH_KEY, "utf8");
    const hostKey = () => fs.readFileSync(HOST_KEY, "utf8").split(" ").slice(0, 2).join(" ");
    before(async () => {
        remove("qemu-ppc64le");
        stack = await inlineStack(
            "e2e-binfmt-ssh",
            program({
                platforms: ["linux/ppc64le"],
                host: {
                    host: "127.0.0.1",
                    port: 2222,
                    user: "root",
                    privateKey: pulumi.secret(key()),
                    hostKey: hostKey(),
                },
            }),
        );
    });
    after(async () => {
        await dispose(stack);
        remove("qemu-ppc64le");
    });

    it("registers and verifies over SSH", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        assert.ok(o.owned.value.includes("qemu-ppc64le"));
        assert.ok(o.platforms.value.includes("linux/ppc64le"));
        assert.ok(has("qemu-ppc64le"));
    });

    it("keeps the private key out of the state, after up and refresh: encrypted as a secret", async () => {
        await stack.refresh({ onOutput: () => {} });
        const { exported, onDisk } = stateTexts(stack);
        for (const line of key()
            .split("\n")
            .filter((l) => l && !l.startsWith("-----"))) {
            assert.ok(!exported.includes(line), "a line of the private key is in `pulumi stack export`");
            assert.ok(!onDisk.includes(line), "a line of the private key is in the state file");
        }
        assert.match(exported, /ciphertext/);
    });

    it("destroy removes the remote handler", async () => {
        await stack.destroy({ onOutput: () => {} });
        assert.ok(!has("qemu-ppc64le"));
    });
});

describe("BinfmtSetup method container (privileged emulator-install image, pinned)", function () {
    let stack: Stack;
    before(async () => {
        remove("qemu-arm");
        const digest = sh("curl", [
            "-fsSI",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            "http://127.0.0.1:5000/v2/fixtures/binfmt/manifests/latest",
        ]).match(/docker-content-digest: (\S+)/i)![1];
        stack = await inlineStack(
            "e2e-binfmt-container",
            program({
                platforms: ["linux/arm/v7"],
                method: "container",
                image: `127.0.0.1:5000/fixtures/binfmt@${digest}`,
            }),
        );
    });
    after(async () => {
        await dispose(stack);
        remove("qemu-arm");
    });

    it("registers through the container; the handler outlives it (flag F)", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        assert.strictEqual(o.handlers.value["qemu-arm"].interpreter, "/usr/bin/qemu-arm-static");
        assert.match(o.handlers.value["qemu-arm"].flags, /F/);
        assert.ok(o.platforms.value.includes("linux/arm/v7"), `ran: ${o.platforms.value}`);
        await stack.destroy({ onOutput: () => {} });
        assert.ok(!has("qemu-arm"));
    });
});

describe("BinfmtSetup preflight errors, at preview, creating nothing", function () {
    const stacks: Stack[] = [];
    after(async () => {
        for (const s of stacks) await dispose(s);
    });
    async function previewError(name: string, args: BinfmtSetupArgs, opts = {}): Promise<string> {
        const s = await inlineStack(name, program(args), opts);
        stacks.push(s);
        const text = await failure(() => s.preview());
        const state = await s.exportStack();
        assert.ok(
            (state.deployment.resources ?? []).every((r: any) => !String(r.type).includes("BinfmtHandlers")),
            "preview created a resource",
        );
        return text;
    }

    it("unknown platform string: names the property and the known platforms", async () => {
        const text = await previewError("e2e-binfmt-badplatform", { platforms: ["linux/arm65"] });
        assert.match(text, /platforms\[0\]: "linux\/arm65": unknown architecture "arm65"; use one of/);
    });

    it("not root (method host over SSH as an unprivileged user)", async () => {
        const text = await previewError("e2e-binfmt-nonroot", {
            platforms: ["linux/riscv64"],
            host: {
                host: "127.0.0.1",
                port: 2222,
                user: "pm-nonroot",
                privateKey: pulumi.secret(fs.readFileSync(SSH_KEY, "utf8")),
                hostKey: fs.readFileSync(HOST_KEY, "utf8").split(" ").slice(0, 2).join(" "),
            },
        });
        assert.match(text, /needs root, but pm-nonroot@127\.0\.0\.1:2222 runs this as uid \d+: connect as root/);
    });

    it("interpreter binary missing", async () => {
        const defs = fs.mkdtempSync(path.join(os.tmpdir(), "defs-"));
        fs.writeFileSync(
            path.join(defs, "qemu-riscv64"),
            fs
                .readFileSync("/usr/share/binfmts/qemu-riscv64", "utf8")
                .replace(/^interpreter .*$/m, "interpreter /nonexistent/qemu-riscv64"),
        );
        const text = await previewError("e2e-binfmt-nointerp", { platforms: ["linux/riscv64"], definitionsDir: defs });
        assert.match(
            text,
            /interpreter \/nonexistent\/qemu-riscv64 for linux\/riscv64 is missing on localhost: reinstall qemu-user-static/,
        );
    });

    it("binfmt_misc not mounted (pulumi run in a mount namespace without it)", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "unmounted-pulumi-"));
        fs.mkdirSync(path.join(root, "bin"));
        fs.writeFileSync(
            path.join(root, "bin", "pulumi"),
            `#!/bin/sh\nexec unshare -m sh -c 'umount ${DIR} && exec "$0" "$@"' ${path.join(ROOT, ".tools/bin/pulumi")} "$@"\n`,
            { mode: 0o755 },
        );
        const text = await previewError("e2e-binfmt-unmounted", { platforms: ["linux/riscv64"] }, { pulumiRoot: root });
        assert.match(
            text,
            /binfmt_misc is not mounted on localhost: run `mount -t binfmt_misc binfmt_misc \/proc\/sys\/fs\/binfmt_misc`/,
        );
        assert.ok(fs.existsSync(`${DIR}/register`), "the host's binfmt_misc must stay mounted");
    });

    it("docker missing or not answering, for method container", async () => {
        const text = await previewError(
            "e2e-binfmt-nodocker",
            { platforms: ["linux/riscv64"], method: "container", image: "r/binfmt:x", allowUnpinnedImage: true },
            { env: { DOCKER_HOST: "unix:///nonexistent/docker.sock" } },
        );
        assert.match(text, /docker is not installed or its engine does not answer on localhost/);
    });
});
