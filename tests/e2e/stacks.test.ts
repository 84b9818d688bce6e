// The committed stacks other than dev and multinode (slice.test.ts and fleet.test.ts prove
// those): each goes up with its Pulumi.<stack>.yaml through the main program, is verified
// (platforms, architecture, what the registry holds) and is destroyed cleanly.
import * as assert from "assert";
import { Stack } from "@pulumi/pulumi/automation";
import { requireRealParts, sh, builderGone } from "../support/env";
import { committedStack, disposeCommitted, failure } from "../support/stack";
import { manifest, imageConfig } from "../support/registry";

const tag = `e2e-${Date.now()}`;
const run = (platform: string, ref: string) => sh("docker", ["run", "--rm", "--platform", platform, ref]);

describe("stack company (Pulumi.company.yaml): a registry without manifest lists", function () {
    const REG = "127.0.0.1:5003";
    let stack: Stack;
    before(async () => {
        requireRealParts();
        stack = await committedStack("company", { repository: "e2e/company", tag });
    });
    after(() => disposeCommitted(stack));

    it("goes up: one per-architecture tag, an arm64 image from the explicit arm64 base", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        assert.deepStrictEqual(o.tags.value, [`${REG}/e2e/company:${tag}-arm64`]);
        assert.deepStrictEqual(Object.keys(o.platformDigests.value), ["linux/arm64"]);
        const m = await manifest(REG, "e2e/company", `${tag}-arm64`);
        assert.strictEqual(m.status, 200);
        assert.strictEqual(m.mediaType, "application/vnd.oci.image.manifest.v1+json", "a single image, not a list");
        assert.strictEqual((await imageConfig(REG, "e2e/company", m)).architecture, "arm64");
        assert.strictEqual((await manifest(REG, "e2e/company", tag)).status, 404, "no plain tag: the registry keeps no lists");
        const out = run("linux/arm64", `${REG}/e2e/company:${tag}-arm64`);
        assert.match(out, /^Hello from linux\/arm64$/m);
        assert.match(out, /^machine: aarch64$/m);
    });

    it("a second up changes nothing", async () => {
        const res = await stack.up({ onOutput: () => {} });
        assert.deepStrictEqual(res.summary.resourceChanges, { same: 7 });
    });

    it("destroys cleanly: the builder is gone", async () => {
        const name = (await stack.outputs()).builderName.value;
        await stack.destroy({ onOutput: () => {} });
        assert.ok(builderGone(name), `builder ${name} is still listed`);
    });
});

describe("a stack with a bad config value", function () {
    let stack: Stack;
    before(async () => {
        requireRealParts();
        stack = await committedStack("dev", { repository: "e2e/badconfig", platforms: "linux/arm64", manifest: "lists" });
    });
    after(() => disposeCommitted(stack));

    it("fails at preview naming each key and the command that fixes it; nothing is created", async () => {
        const text = await failure(() => stack.preview({ onOutput: () => {} }));
        assert.match(text, /pulumi-multiarch:platforms must be a JSON list of platforms, got linux\/arm64: set it with `pulumi config set pulumi-multiarch:platforms '\["linux\/amd64","linux\/arm64"\]'`/);
        assert.match(text, /pulumi-multiarch:manifest "lists" is not a manifest mode \(index, per-arch-tags, auto\)/);
        const state = JSON.parse(JSON.stringify((await stack.exportStack()).deployment));
        assert.deepStrictEqual(state.resources ?? [], []);
    });
});
