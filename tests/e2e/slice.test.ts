// The walking skeleton: the main program with the committed stack dev's config, through the
// real engine (Automation API, local file backend), real QEMU handlers, real buildx/BuildKit,
// a real registry and dockerd; then the committed stack prod promotes what it built.
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";

import { builderNames, requireRealParts, runImage, sh } from "../support/env";
import { imageConfig, manifest } from "../support/registry";
import { committedStack, disposeCommitted } from "../support/stack";

function buildCount(builder: string): number {
    const out = sh("docker", ["buildx", "history", "ls", "--builder", builder, "--format", "json"]);
    return out.split("\n").filter((l) => l.trim().startsWith("{")).length;
}

describe("walking skeleton: stack dev (Pulumi.dev.yaml), as e2e-dev", function () {
    const tag = `e2e-${Date.now()}`;
    let stack: Stack;
    let prod: Stack | undefined;
    let builderName: string;
    const log: string[] = [];

    before(async () => {
        requireRealParts();
        stack = await committedStack("dev", { repository: "e2e/hello", tag });
    });

    after(async () => {
        await disposeCommitted(prod);
        await disposeCommitted(stack);
    });

    it("`up` creates emulators, builder and image", async () => {
        const res = await stack.up({ onOutput: (o) => log.push(o) });
        assert.strictEqual(res.summary.result, "succeeded");
        // Stack + 3 components + 3 custom resources.
        assert.strictEqual(res.summary.resourceChanges?.create, 7, JSON.stringify(res.summary.resourceChanges));
        builderName = res.outputs.builderName.value;
        assert.strictEqual(builderName, "pulumi-multiarch-e2e-dev-builder");
        assert.deepStrictEqual(res.outputs.runnablePlatforms.value, ["linux/amd64", "linux/386", "linux/arm64"]);
        const h = res.outputs.handlers.value["qemu-aarch64"];
        assert.strictEqual(h.enabled, true);
        assert.match(h.flags, /F/);
        assert.ok(res.outputs.builderPlatforms.value.includes("linux/arm64"));
        assert.match(
            log.join(""),
            /built linux\/amd64,linux\/arm64 -> sha256:[0-9a-f]{64} \(index; 1 repository\) in [\d.]+s \(\d+ steps cached; [\d.]+s of RUN steps emulated\)/,
        );
    });

    it("the registry serves a manifest list with exactly linux/amd64 and linux/arm64", async () => {
        const index = (await manifest("127.0.0.1:5000", "e2e/hello", tag)).body;
        const platforms = index.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`).sort();
        assert.deepStrictEqual(platforms, ["linux/amd64", "linux/arm64"]);
        const outputs = await stack.outputs();
        assert.deepStrictEqual(Object.keys(outputs.platformDigests.value).sort(), platforms);
        for (const m of index.manifests) {
            assert.strictEqual(outputs.platformDigests.value[`${m.platform.os}/${m.platform.architecture}`], m.digest);
        }
    });

    it("`docker run --platform linux/arm64` prints the hello line and reports aarch64", async () => {
        const outputs = await stack.outputs();
        const out = runImage("linux/arm64", outputs.ref.value);
        assert.match(out, /^Hello from linux\/arm64$/m);
        assert.match(out, /^machine: aarch64$/m);
        // The engine keeps one image per index digest, so the amd64 image by its own digest.
        const amd64 = `127.0.0.1:5000/e2e/hello@${outputs.platformDigests.value["linux/amd64"]}`;
        const amd = runImage("linux/amd64", amd64);
        assert.match(amd, /^Hello from linux\/amd64$/m);
        assert.match(amd, /^machine: x86_64$/m);
    });

    it("a second `up` changes nothing and starts no build", async () => {
        const before = buildCount(builderName);
        assert.ok(before >= 1, "the first up should have left a build in the builder's history");
        const res = await stack.up({ onOutput: () => {} });
        assert.deepStrictEqual(res.summary.resourceChanges, { same: 7 });
        assert.strictEqual(buildCount(builderName), before);
    });

    it("stack prod (Pulumi.prod.yaml) promotes that image to the company registry: per-arch tags on the very manifests dev verified, nothing built", async () => {
        prod = await committedStack("prod", { promoteFrom: "e2e-dev", repository: "e2e/prod-hello", tag });
        const dev = await stack.outputs();
        const res = await prod.up({ onOutput: () => {} });
        assert.deepStrictEqual(
            res.summary.resourceChanges,
            { create: 3 },
            "stack, promotion, its copy: no builder, no emulators",
        );
        const o = res.outputs;
        assert.deepStrictEqual(o.tags.value, [
            `127.0.0.1:5003/e2e/prod-hello:${tag}-amd64`,
            `127.0.0.1:5003/e2e/prod-hello:${tag}-arm64`,
        ]);
        assert.deepStrictEqual(o.platformDigests.value, dev.platformDigests.value);
        for (const p of ["amd64", "arm64"]) {
            const m = await manifest("127.0.0.1:5003", "e2e/prod-hello", `${tag}-${p}`);
            assert.strictEqual(m.digest, dev.platformDigests.value[`linux/${p}`]);
            assert.strictEqual((await imageConfig("127.0.0.1:5003", "e2e/prod-hello", m)).architecture, p);
            assert.match(
                o.verification.value[`linux/${p}`],
                new RegExp(`^ok: config linux/${p}, /usr/local/bin/hello is ${p}`),
            );
        }
        assert.deepStrictEqual((await prod.up({ onOutput: () => {} })).summary.resourceChanges, { same: 3 });
        await prod.destroy({ onOutput: () => {} });
        assert.strictEqual(
            (await manifest("127.0.0.1:5003", "e2e/prod-hello", `${tag}-arm64`)).status,
            200,
            "destroy removed the promoted image",
        );
    });

    it("`destroy` removes the builder", async () => {
        const res = await stack.destroy({ onOutput: () => {} });
        assert.strictEqual(res.summary.result, "succeeded");
        const names = builderNames();
        assert.ok(!names.includes(builderName), `builder ${builderName} still listed: ${names}`);
        const containers = sh("docker", ["ps", "-a", "--format", "{{.Names}}"]);
        assert.ok(!containers.includes(`buildx_buildkit_${builderName}0`), "the BuildKit container is still there");
    });
});
