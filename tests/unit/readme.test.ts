// docs/buildx-builder.md's "Native nodes instead of emulation" example is what stack multinode runs: the
// snippet and index.ts with Pulumi.multinode.yaml's config register the same builder (with
// Pulumi's mocks: the inputs the provider would get, TLS secrets included).
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.join(__dirname, "..", "..");

pulumi.runtime.setMocks(
    { newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: () => ({}) },
    "pulumi-multiarch",
    "unit",
);

/** Inputs of each registration of resource `name`, in order (the mocks' newResource sees no secrets). */
const registered: Record<string, any[]> = {};

const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks");
const original = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (req: any, cb: any) {
    (registered[req.getName()] ??= []).push(req.getObject()?.toJavaScript() ?? {});
    return original.call(this, req, cb);
};

/**
 * The committed stack's `pulumi-multiarch:` values (one line each), with the TLS as a team sets
 * its own (the README's snippet): the three secrets in place of this machine's builderTlsDir.
 */
function stackConfig(stack: string): Record<string, string> {
    const yaml = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
    const config: Record<string, string> = {};
    for (const m of yaml.matchAll(/^ {2}(pulumi-multiarch:\w+): (.*)$/gm))
        config[m[1]] = m[2].replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
    delete config["pulumi-multiarch:builderTlsDir"];
    for (const k of ["builderTlsCa", "builderTlsCert", "builderTlsKey"])
        config[`pulumi-multiarch:${k}`] = `-----BEGIN ${k}-----`;
    return config;
}

const builders = () => registered["builder-builder"] ?? [];

/** The inputs of the `count`th registration of resource "builder-builder" (other unit tests use the name too). */
async function builderInputs(count: number): Promise<any> {
    for (let i = 0; i < 100 && builders().length < count; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(builders().length >= count, "the builder was not registered");
    return builders()[count - 1];
}

describe("docs/buildx-builder.md: the native-nodes example is stack multinode's builder", () => {
    before(() => {
        const config = stackConfig("multinode");
        pulumi.runtime.setAllConfig(
            config,
            Object.keys(config).filter((k) => k.includes("builderTls")),
        );
    });
    after(() => pulumi.runtime.setAllConfig({}));

    it("the snippet and index.ts register the same builder inputs", async () => {
        const readme = fs.readFileSync(path.join(ROOT, "docs", "buildx-builder.md"), "utf8");
        const section = readme.slice(readme.indexOf("**Native nodes instead of emulation.**"));
        const snippet = /```ts\n([\s\S]*?)```/.exec(section)![1];
        const js = ts.transpileModule(snippet, {
            compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 },
        }).outputText;
        const components = await import("../../components");
        const before = builders().length;
        new Function("pulumi", "BinfmtSetup", "BuildxBuilder", js)(
            pulumi,
            components.BinfmtSetup,
            components.BuildxBuilder,
        );
        const fromReadme = await builderInputs(before + 1);

        await import("../../index");
        const fromStack = await builderInputs(before + 2);
        assert.deepStrictEqual(fromReadme, fromStack);
        assert.deepStrictEqual(
            fromStack.nodes.map((n: any) => n.endpoint),
            ["tcp://127.0.1.1:1234", "tcp://127.0.2.1:1234"],
        );
        // One secret: node name -> the stack's TLS material, for both tcp:// nodes.
        assert.strictEqual(fromStack.tls[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig);
        assert.deepStrictEqual(Object.keys(fromStack.tls.value).sort(), ["arm64", "pulumi-multiarch-unit-builder0"]);
        assert.strictEqual(fromStack.tls.value.arm64.key, "-----BEGIN builderTlsKey-----");
    });
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (h: string) =>
    h
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_\- ]/gu, "")
        .replace(/ /g, "-");

function anchors(file: string): Set<string> {
    const out = new Set<string>();
    let fence = false;
    for (const l of fs.readFileSync(file, "utf8").split("\n")) {
        if (l.startsWith("```")) fence = !fence;
        const m = /^#{1,6} (.*)$/.exec(l);
        if (m && !fence) out.add(slug(m[1]));
    }
    return out;
}

describe("README and docs/: the reader's path", () => {
    const pages = [
        "README.md",
        ...fs
            .readdirSync(path.join(ROOT, "docs"))
            .filter((f) => f.endsWith(".md"))
            .map((f) => `docs/${f}`),
    ];

    it("every relative link leads to a file that exists, and every #anchor to a heading there", () => {
        const broken: string[] = [];
        for (const page of pages) {
            const text = fs.readFileSync(path.join(ROOT, page), "utf8").replace(/```[\s\S]*?```/g, "");
            for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
                if (/^[a-z]+:/.test(target)) continue;
                const [file, anchor] = target.split("#");
                const dest = file ? path.join(ROOT, path.dirname(page), file) : path.join(ROOT, page);
                if (!fs.existsSync(dest)) broken.push(`${page}: ${target} (no such file)`);
                else if (anchor && dest.endsWith(".md") && !anchors(dest).has(anchor))
                    broken.push(`${page}: ${target} (no such heading)`);
            }
        }
        assert.deepStrictEqual(broken, []);
    });

    it("the README is a front door: the two commands, an example, and a page for each reader", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        assert.ok(readme.split("\n").length <= 150, "keep the README short: move detail into docs/");
        for (const h of ["The two commands", "Use it in your project", "Where to go next"])
            assert.ok(anchors(path.join(ROOT, "README.md")).has(slug(h)), h);
        for (const page of pages.filter((p) => p.startsWith("docs/")))
            assert.ok(readme.includes(`(${page})`), `the README links ${page}`);
    });
});
