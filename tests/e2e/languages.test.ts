// The plugin from other Pulumi languages: its schema as the engine serves it, the Python SDK
// generated from that schema, and the main job written in Pulumi YAML (examples/yaml) and in
// Python (examples/python), each through the components the plugin constructs, with a second
// image from named contexts and an inline Dockerfile (docker-build's input shapes), and the
// app's image promoted by digest (ImagePromotion).
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { VERSION } from "../../contract/tokens";
import { builderGone, ENV, requireRealParts, ROOT, runImage, sh } from "../support/env";
import { imageFiles, manifest } from "../support/registry";
import { dispose, folderStack } from "../support/stack";

const REGISTRY = "127.0.0.1:5000";
const COMPANY = "127.0.0.1:5003"; // keeps no manifest lists

/** The whole life of one example project: up, the images, a no-op up, destroy. */
function lifecycle(example: string, env: Record<string, string> = {}) {
    const repository = `e2e/${example}-${Date.now()}`;
    let stack: Stack;
    before(async () => {
        requireRealParts();
        stack = await folderStack(
            `e2e-${example}`,
            path.join(ROOT, "examples", example),
            { ...ENV, ...env },
            { [`multiarch-${example}:repository`]: repository },
        );
    });
    after(async () => {
        await dispose(stack);
        fs.rmSync(path.join(ROOT, "examples", example, `Pulumi.e2e-${example}.yaml`), { force: true });
    });

    it("up builds the app for amd64 and arm64 through the plugin's components, verified, in two registries", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        const index = await manifest(REGISTRY, repository, "1.0");
        assert.deepStrictEqual(index.body.manifests.map((m: any) => m.platform.architecture).sort(), [
            "amd64",
            "arm64",
        ]);
        // The company registry keeps no list: auto gave it one tag per architecture.
        assert.deepStrictEqual(o.manifestModes.value, { [REGISTRY]: "index", [COMPANY]: "per-arch-tags" });
        assert.deepStrictEqual(o.tags.value, [
            `${REGISTRY}/${repository}:1.0`,
            `${COMPANY}/${repository}-company:1.0-amd64`,
            `${COMPANY}/${repository}-company:1.0-arm64`,
        ]);
        for (const arch of ["amd64", "arm64"]) {
            assert.strictEqual(
                (await manifest(COMPANY, `${repository}-company`, `1.0-${arch}`)).digest,
                index.body.manifests.find((m: any) => m.platform.architecture === arch).digest,
            );
        }
        assert.match(
            o.verification.value["linux/arm64"],
            /^ok: config linux\/arm64, \S+ is arm64, 1 ELF file added by the build$/,
        );
        assert.match(runImage("linux/arm64", o.ref.value), /machine: aarch64/);
        const types = (await stack.exportStack()).deployment.resources.map((r: any) => r.type);
        for (const t of [
            "multiarch:index:MultiArchImage",
            "multiarch:index:Image",
            "multiarch:index:Builder",
            "multiarch:index:BinfmtHandlers",
            "multiarch:index:ImagePromotion",
            "multiarch:index:ImageCopy",
        ]) {
            assert.ok(types.includes(t), `${t} not in ${types}`);
        }
    });

    it("the second image takes its named context through the schema: words' hello.txt, not the draft its .dockerignore leaves out", async () => {
        const digests = (await stack.outputs()).greetingDigests.value;
        assert.deepStrictEqual(Object.keys(digests).sort(), ["linux/amd64", "linux/arm64"]);
        assert.deepStrictEqual(await imageFiles(REGISTRY, `${repository}-greeting`, digests["linux/arm64"]), [
            "hello.txt",
            "note.txt",
        ]);
    });

    it("the promotion copies the app's image by digest through the schema: the promoted tag names the same index, verified", async () => {
        const o = await stack.outputs();
        assert.strictEqual(o.promotedDigest.value, o.digest.value);
        assert.strictEqual((await manifest(REGISTRY, `${repository}-promoted`, "1.0")).digest, o.digest.value);
        assert.match(o.promotedVerification.value["linux/arm64"], /^ok: config linux\/arm64/);
    });

    it("a second up changes nothing", async () => {
        const res = await stack.up({ onOutput: () => {} });
        assert.deepStrictEqual(Object.keys(res.summary.resourceChanges ?? {}), ["same"]);
    });

    it("destroy removes its builder", async () => {
        const name = (await stack.outputs()).builderName.value;
        await stack.destroy({ onOutput: () => {} });
        assert.ok(builderGone(name));
    });
}

describe("other languages: the plugin's schema and SDKs", () => {
    it("`pulumi package get-schema` prints the schema the plugin serves: the committed one", () => {
        const served = JSON.parse(sh("pulumi", ["package", "get-schema", `multiarch@${VERSION}`]));
        assert.deepStrictEqual(served, JSON.parse(fs.readFileSync(path.join(ROOT, "contract/schema.json"), "utf8")));
    });

    it("sdk/python is what Pulumi's code generator makes of that schema (npm run sdk)", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "pm-sdk-"));
        try {
            sh(path.join(ROOT, ".tools/test-bin/sdkgen"), [path.join(ROOT, "contract/schema.json"), "python", out]);
            const list = (dir: string) =>
                fs
                    .readdirSync(dir, { recursive: true, encoding: "utf8" })
                    .filter((f) => fs.statSync(path.join(dir, f)).isFile() && !/__pycache__|\.egg-info/.test(f))
                    .sort();
            assert.deepStrictEqual(list(path.join(ROOT, "sdk/python")), list(out));
            for (const f of list(out)) {
                assert.strictEqual(
                    fs.readFileSync(path.join(ROOT, "sdk/python", f), "utf8"),
                    fs.readFileSync(path.join(out, f), "utf8"),
                    `sdk/python/${f} is stale: run npm run sdk`,
                );
            }
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });
});

describe("Pulumi YAML (examples/yaml)", function () {
    lifecycle("yaml");
});

describe("Python (examples/python, the generated SDK)", function () {
    const venv = path.join(ROOT, "examples/python/venv");
    // The v3.68 Python host ignores runtime.options.virtualenv: the venv is activated by PATH.
    lifecycle("python", { PATH: `${venv}/bin:${ENV.PATH}`, VIRTUAL_ENV: venv });
});
