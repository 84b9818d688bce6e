// The library as another project meets it: `npm pack` of this repository, the tarball
// installed into a copy of examples/consumer, `pulumi up` of that project on the real engine,
// the image checked in the registry and run, `pulumi destroy`.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { ENV, ROOT, requireRealParts, sh } from "../support/env";
import { dispose } from "../support/stack";
import { manifest } from "../support/registry";
import { packCurrent } from "../support/release";

describe("consumer example (examples/consumer) on the packed tarball", function () {
    const work = path.join(ROOT, ".state", "e2e", "consumer");
    const repository = `e2e/consumer-${Date.now()}`;
    let stack: Stack;
    let tarball: string;

    before(async () => {
        requireRealParts();
        fs.rmSync(work, { recursive: true, force: true });
        fs.cpSync(path.join(ROOT, "examples", "consumer"), work, { recursive: true });
        tarball = packCurrent(work);
        sh("npm", ["install", "--no-audit", "--no-fund", "--prefix", work, tarball]);
        sh("npm", ["install", "--no-audit", "--no-fund", "--prefix", work]);
        stack = await LocalWorkspace.createOrSelectStack({ stackName: "e2e-consumer", workDir: work }, { envVars: ENV });
        await stack.setConfig("multiarch-consumer:repository", { value: repository });
    });
    after(() => dispose(stack));

    it("the tarball holds the built library and its types, not the sources or tests", () => {
        const files = sh("tar", ["-tzf", tarball]).split("\n").filter(Boolean);
        assert.ok(files.includes("package/dist/components/index.js"));
        assert.ok(files.includes("package/dist/components/index.d.ts"));
        assert.deepStrictEqual(files.filter((f) => /\/tests\/|\.ts$/.test(f) && !f.endsWith(".d.ts")), []);
        const installed = JSON.parse(fs.readFileSync(path.join(work, "node_modules/pulumi-multiarch/package.json"), "utf8"));
        assert.strictEqual(installed.version, JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version);
    });

    it("pulumi up builds and pushes the consumer's image for amd64 and arm64", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        const index = await manifest("127.0.0.1:5000", repository, "1.0");
        assert.deepStrictEqual(index.body.manifests.map((m: any) => m.platform.architecture).sort(), ["amd64", "arm64"]);
        assert.strictEqual(sh("docker", ["run", "--rm", "--platform", "linux/arm64", o.ref.value]).trim(), "greetings from aarch64");
    });

    it("pulumi destroy removes its builder", async () => {
        const name = (await stack.outputs()).builderName.value;
        await stack.destroy({ onOutput: () => {} });
        assert.ok(!sh("docker", ["buildx", "ls", "--format", "{{.Name}}"]).split("\n").includes(name));
    });
});
