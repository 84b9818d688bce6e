// The library as another project meets it: `npm pack` of this repository, the tarball
// installed into a copy of examples/consumer and its plugin installed from it, as the README
// says, into a PULUMI_HOME of the consumer's own with plugin downloads allowed (offline, any
// plugin it tried to fetch would fail the run), `pulumi up` of that project on the real
// engine, the image checked in the registry and run, `pulumi destroy`.
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { VERSION } from "../../contract/tokens";
import { builderGone, ENV, requireRealParts, ROOT, runImage, sh } from "../support/env";
import { manifest } from "../support/registry";
import { packCurrent } from "../support/release";
import { dispose, folderStack } from "../support/stack";

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
        const env = {
            ...ENV,
            PULUMI_HOME: path.join(work, ".pulumi-home"),
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "false",
            // The consumer's index.ts is type-checked against the tarball's .d.ts, as a user's is
            // (npm test turns the check off for the programs tsc already checked).
            PULUMI_NODEJS_TRANSPILE_ONLY: "false",
        };
        execFileSync(
            "pulumi",
            [
                "plugin",
                "install",
                "resource",
                "multiarch",
                VERSION,
                "--file",
                "node_modules/pulumi-multiarch/dist/plugin",
            ],
            { cwd: work, env: { ...process.env, ...env }, stdio: "pipe" },
        );
        stack = await folderStack("e2e-consumer", work, env, { "multiarch-consumer:repository": repository });
    });
    after(() => dispose(stack));

    it("the tarball holds the built library, its types and its plugin, not the sources or tests", () => {
        const files = sh("tar", ["-tzf", tarball]).split("\n").filter(Boolean);
        assert.ok(files.includes("package/dist/components/index.js"));
        assert.ok(files.includes("package/dist/components/index.d.ts"));
        assert.ok(files.includes("package/dist/plugin/pulumi-resource-multiarch"));
        assert.ok(files.includes("package/dist/plugin/pulumi-resource-multiarch.js"));
        assert.ok(
            files.includes("package/dist/plugin/re2.wasm"),
            "the bundle loads re2-wasm's module from beside itself",
        );
        assert.deepStrictEqual(
            files.filter((f) => f.startsWith("package/dist/provider/")),
            [],
            "plugin code ships only as the bundle",
        );
        assert.deepStrictEqual(
            files.filter((f) => /\/tests\/|\.ts$/.test(f) && !f.endsWith(".d.ts")),
            [],
        );
        const installed = JSON.parse(
            fs.readFileSync(path.join(work, "node_modules/pulumi-multiarch/package.json"), "utf8"),
        );
        assert.strictEqual(
            installed.version,
            JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
        );
        assert.deepStrictEqual(installed.pulumi, { resource: true, name: "multiarch", version: installed.version });
        // No package in the consumer's tree declares a plugin it would not run.
        const declared = sh("find", [
            path.join(work, "node_modules"),
            "-name",
            "package.json",
            "-path",
            "*/node_modules/*",
            "-not",
            "-path",
            "*/node_modules/*/node_modules/*",
        ])
            .split("\n")
            .filter(Boolean)
            .map((f) => JSON.parse(fs.readFileSync(f, "utf8")))
            .filter((p) => p.pulumi?.resource)
            .map((p) => p.name);
        assert.deepStrictEqual(declared.sort(), ["pulumi-multiarch"]);
    });

    it("pulumi up builds and pushes the consumer's image for amd64 and arm64", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        const index = await manifest("127.0.0.1:5000", repository, "1.0");
        assert.deepStrictEqual(index.body.manifests.map((m: any) => m.platform.architecture).sort(), [
            "amd64",
            "arm64",
        ]);
        assert.strictEqual(runImage("linux/arm64", o.ref.value).trim(), "greetings from aarch64");
    });

    it("pulumi destroy removes its builder", async () => {
        const name = (await stack.outputs()).builderName.value;
        await stack.destroy({ onOutput: () => {} });
        assert.ok(builderGone(name));
    });
});
