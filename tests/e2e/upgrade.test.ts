// Upgrades as users meet them, on examples/consumer installed from npm tarballs:
// - a stack made by 0.1.0 (three dynamic providers, their code serialized into the state)
//   moves to this version with one `pulumi up`: no image rebuilt, no handler removed, the
//   builder kept, and no provider code left in the state;
// - a stack made by this version, upgraded to the next patch release, runs the NEW plugin's
//   code at destroy (dynamic providers ran the old code serialized in the state).
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

import { VERSION } from "../../contract/tokens";
import { builderGone, ENV, requireRealParts, ROOT, sh } from "../support/env";
import { packCurrent, packRelease } from "../support/release";
import { dispose, folderStack } from "../support/stack";

/** A copy of examples/consumer at `work` with `tarball` installed, and its stack. */
async function consumer(work: string, tarball: string, repository: string): Promise<Stack> {
    fs.rmSync(work, { recursive: true, force: true });
    fs.cpSync(path.join(ROOT, "examples", "consumer"), work, { recursive: true });
    install(work, tarball);
    return folderStack(`e2e-${path.basename(work)}`, work, ENV, { "multiarch-consumer:repository": repository });
}

function install(work: string, tarball: string): void {
    sh("npm", ["install", "--no-audit", "--no-fund", "--prefix", work, tarball]);
}

/** What must survive an upgrade untouched: the BuildKit container, its builds, the image. */
function observe(builder: string) {
    return {
        container: sh("docker", ["ps", "-q", "--no-trunc", "--filter", `name=^buildx_buildkit_${builder}0$`]).trim(),
        builds: sh("docker", ["buildx", "history", "ls", "--builder", builder, "--format", "{{.Ref}}"])
            .trim()
            .split("\n").length,
    };
}

const stateText = async (stack: Stack) => JSON.stringify((await stack.exportStack()).deployment);

describe("upgrade from 0.1.0 (dynamic providers) with one `pulumi up`", function () {
    const work = path.join(ROOT, ".state", "e2e", "upgrade-from-0.1.0");
    let stack: Stack;
    let first: { ref: string; builder: string; owned: string[] };

    before(async () => {
        requireRealParts();
        stack = await consumer(
            work,
            path.join(ROOT, "tests/fixtures/releases/pulumi-multiarch-0.1.0.tgz"),
            `e2e/upgrade-${Date.now()}`,
        );
    });
    after(() => dispose(stack));

    it("0.1.0 builds the image with dynamic providers, their code in the state", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        const state = (await stack.exportStack()).deployment;
        const dynamic = state.resources.filter((r: any) => r.type.startsWith("pulumi-nodejs:dynamic/multiarch:"));
        assert.strictEqual(dynamic.length, 3);
        assert.ok(dynamic.every((r: any) => "__provider" in r.outputs));
        const handlers = state.resources.find((r: any) => r.urn.endsWith("::qemu-handlers"));
        first = { ref: o.ref.value, builder: o.builderName.value, owned: handlers.outputs.owned };
    });

    it("one up with this version: no rebuild, no replacement, builder and handlers kept, no provider code left", async () => {
        const live = observe(first.builder);
        install(work, packCurrent(work));
        const res = await stack.up({ onOutput: () => {} });
        const changes = res.summary.resourceChanges ?? {};
        assert.deepStrictEqual(
            Object.keys(changes).filter((k) => !["same", "update"].includes(k)),
            [],
            JSON.stringify(changes),
        );
        assert.strictEqual(res.outputs.ref.value, first.ref, "the image was rebuilt");
        assert.deepStrictEqual(observe(first.builder), live, "the builder was recreated or built something");
        assert.ok(fs.existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64"), "qemu-aarch64 was removed");
        const state = (await stack.exportStack()).deployment;
        assert.deepStrictEqual(
            state.resources.find((r: any) => r.urn.endsWith("::qemu-handlers")).outputs.owned,
            first.owned,
        );
        const text = JSON.stringify(state);
        assert.doesNotMatch(text, /__provider|pulumi-nodejs:dynamic/);
        for (const t of ["multiarch:index:Image", "multiarch:index:Builder", "multiarch:index:BinfmtHandlers"])
            assert.match(text, new RegExp(t));
    });

    it("a second up changes nothing; destroy removes the builder", async () => {
        const res = await stack.up({ onOutput: () => {} });
        assert.deepStrictEqual(Object.keys(res.summary.resourceChanges ?? {}), ["same"]);
        await stack.destroy({ onOutput: () => {} });
        assert.ok(builderGone(first.builder));
    });
});

describe(`upgrade from ${VERSION} to the next release: destroy runs the new plugin`, function () {
    const work = path.join(ROOT, ".state", "e2e", "upgrade-patch");
    const next = VERSION.replace(/\d+$/, (p) => String(Number(p) + 1));
    let stack: Stack;

    before(async () => {
        requireRealParts();
        fs.mkdirSync(work, { recursive: true });
        stack = await consumer(work, packCurrent(path.dirname(work)), `e2e/upgrade-patch-${Date.now()}`);
    });
    after(async () => {
        await dispose(stack);
        sh("pulumi", ["plugin", "rm", "resource", "multiarch", next, "--yes"]);
    });

    it(`the stack is made by ${VERSION}, then upgraded to ${next} without changes`, async () => {
        await stack.up({ onOutput: () => {} });
        install(work, packRelease(next, path.dirname(work)));
        const res = await stack.up({ onOutput: () => {} });
        assert.deepStrictEqual(Object.keys(res.summary.resourceChanges ?? {}), ["same"]);
        assert.match(await stateText(stack), new RegExp(`default_${next.replace(/\./g, "_")}`));
    });

    it(`destroy runs pulumi-resource-multiarch ${next}, the version installed, not the one that created them`, async () => {
        const out: string[] = [];
        await stack.destroy({ onOutput: (o) => out.push(o) });
        // One line per resource (the display repeats it: deleting, deleted, diagnostics).
        const deleted = [...new Set(out.join("").match(/\w+ \S+ deleted by pulumi-resource-multiarch \S+/g))];
        assert.deepStrictEqual(
            deleted.map((d) => d.split(" ")[0]).sort(),
            ["BinfmtHandlers", "Builder", "Image"],
            out.join(""),
        );
        assert.ok(
            deleted.every((d) => d.endsWith(next)),
            deleted.join("; "),
        );
    });
});
