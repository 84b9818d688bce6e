// The resource graph and argument checks, with Pulumi's mocks (no provider code runs).
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import * as path from "path";

interface Registered {
    type: string;
    name: string;
    inputs: any;
    dependencies: string[];
    parent: string;
    urn: string;
}
const registered: Registered[] = [];

pulumi.runtime.setMocks(
    {
        newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
        call: () => ({}),
    },
    "pulumi-multiarch",
    "unit",
);

// The mocks' newResource sees no dependencies; record them from the monitor's requests.

const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks");
const original = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (req: any, cb: any) {
    const urn = `urn:pulumi:unit::pulumi-multiarch::${req.getType()}::${req.getName()}`;
    registered.push({
        type: req.getType(),
        name: req.getName(),
        inputs: req.getObject()?.toJavaScript() ?? {},
        dependencies: req.getDependenciesList(),
        parent: req.getParent(),
        urn,
    });
    return original.call(this, req, cb);
};

function urnOf(o: pulumi.Resource): Promise<string> {
    return new Promise((resolve) => o.urn.apply(resolve));
}

describe("resource graph", () => {
    let components: typeof import("../../components");
    before(async () => {
        components = await import("../../components");
    });

    it("MultiArchImage -> BuildxBuilder -> BinfmtSetup", async () => {
        const { BinfmtSetup, BuildxBuilder, MultiArchImage } = components;
        const qemu = new BinfmtSetup("qemu", { platforms: ["linux/arm64"] });
        const builder = new BuildxBuilder("builder", { binfmt: qemu });
        const image = new MultiArchImage("hello", {
            context: path.join(__dirname, "..", "..", "app"),
            platforms: ["linux/amd64", "linux/arm64"],
            tags: ["127.0.0.1:5000/hello:unit"],
            builder,
        });
        // The image resource registers once BuildKit's checks answered (no builder here: at once).
        await Promise.all([
            urnOf(qemu),
            urnOf(builder),
            urnOf(image),
            new Promise((r) => image.contextDigest.apply(r)),
        ]);
        await new Promise((r) => setTimeout(r, 200)); // let child registrations finish
        const find = (name: string) => {
            const r = registered.find((x) => x.name === name);
            assert.ok(r, `${name} was not registered; got ${registered.map((x) => x.name).join(", ")}`);
            return r;
        };
        const handlers = find("qemu-handlers");
        const builderRes = find("builder-builder");
        const imageRes = find("hello-image");
        assert.ok(
            builderRes.dependencies.some((d) => d.endsWith("::qemu-handlers")),
            `builder deps: ${builderRes.dependencies}`,
        );
        assert.ok(
            imageRes.dependencies.some((d) => d.endsWith("::builder-builder")),
            `image deps: ${imageRes.dependencies}`,
        );
        assert.match(handlers.parent, /BinfmtSetup::qemu$/);
        assert.deepStrictEqual(handlers.inputs.platforms, ["linux/arm64"]);
        assert.strictEqual(builderRes.inputs.name, "pulumi-multiarch-unit-builder");
        assert.deepStrictEqual(imageRes.inputs.platforms, ["linux/amd64", "linux/arm64"]);
        assert.match(imageRes.inputs.contextDigest, /^sha256:[0-9a-f]{64}$/);
    });
});

describe("argument checks", () => {
    let components: typeof import("../../components");
    before(async () => {
        components = await import("../../components");
    });

    function errorOf(o: pulumi.Output<unknown>): Promise<Error> {
        return new Promise((resolve, reject) => {
            // An apply that throws rejects the output's promise; read it through the internal promise.
            (o as any).promise().then(() => reject(new Error("expected an error")), resolve);
        });
    }

    const pathsOf = (e: any) => (e as pulumi.InputPropertiesError).errors.map((x) => x.propertyPath);

    it("collects every bad platform and tag with its property path, thrown by the constructor", async () => {
        const { BuildxBuilder, MultiArchImage } = components;
        const builder = new BuildxBuilder("b2");
        assert.throws(
            () =>
                new MultiArchImage("bad", {
                    context: path.join(__dirname, "..", "..", "app"),
                    platforms: ["linux/arm64", "linux/arm65"],
                    tags: ["Bad Tag"],
                    builder,
                }),
            (e: any) =>
                pulumi.InputPropertiesError.isInstance(e) &&
                JSON.stringify(pathsOf(e)) === JSON.stringify(["platforms[1]", "tags[0]"]),
        );
        assert.ok(!registered.some((r) => r.name === "bad-image"), "a resource was registered despite bad input");
    });

    it("checks inputs that are Outputs once they are known", async () => {
        const { createImageInputs } = await import("../../components/multiArchImage");
        const builder = new components.BuildxBuilder("b4");
        const err = await errorOf(
            createImageInputs({
                context: path.join(__dirname, "..", "..", "app"),
                platforms: pulumi.output(["linux/arm65"]),
                tags: ["r/x:1"],
                builder,
            }).platforms as pulumi.Output<unknown>,
        );
        assert.deepStrictEqual(pathsOf(err), ["platforms[0]"]);
    });

    it("lints the Dockerfile: a warning by default, an error on dockerfile with strict", async () => {
        const fs = await import("fs");
        const os = await import("os");
        const { createImageInputs } = await import("../../components/multiArchImage");
        const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "lint-"));
        const pinned = fs.readFileSync(
            path.join(__dirname, "..", "fixtures", "dockerfiles", "pinned-final.Dockerfile"),
            "utf8",
        );
        fs.writeFileSync(
            path.join(ctx, "Dockerfile"),
            pinned.replace("--platform=linux/amd64", "--platform=$BUILDPLATFORM"),
        );
        const builder = new components.BuildxBuilder("b5");
        const warnings: string[] = [];
        createImageInputs({ context: ctx, platforms: ["linux/amd64", "linux/arm64"], tags: ["r/x:1"], builder }, (m) =>
            warnings.push(m),
        );
        assert.strictEqual(warnings.length, 1);
        assert.match(
            warnings[0],
            /Dockerfile:4: the final stage pins --platform=\$BUILDPLATFORM.*\[final-stage-platform\]$/,
        );
        assert.throws(
            () =>
                createImageInputs({
                    context: ctx,
                    platforms: ["linux/amd64", "linux/arm64"],
                    tags: ["r/x:1"],
                    builder,
                    strict: true,
                }),
            (e: any) => JSON.stringify(pathsOf(e)) === JSON.stringify(["dockerfile"]),
        );
    });

    it("refuses a missing context before anything is registered", async () => {
        const { createImageInputs } = await import("../../components/multiArchImage");
        const builder = new components.BuildxBuilder("b3");
        assert.throws(
            () => createImageInputs({ context: "./no-such-dir", platforms: ["linux/amd64"], tags: ["r/x:1"], builder }),
            (e: any) =>
                pulumi.InputPropertiesError.isInstance(e) &&
                /context: "\.\/no-such-dir" is not a directory/.test(e.message),
        );
    });

    it("refuses empty platforms and unknown flags for BinfmtSetup", async () => {
        const { createBinfmtInputs } = await import("../../components/binfmtSetup");
        assert.throws(
            () => createBinfmtInputs({ platforms: [], flags: "FX" }),
            (e: any) => JSON.stringify(pathsOf(e)) === JSON.stringify(["platforms", "flags"]),
        );
    });

    it('expands "all" to every architecture (the provider skips what the host runs natively)', async () => {
        const { createBinfmtInputs } = await import("../../components/binfmtSetup");
        const platforms: string[] = await (createBinfmtInputs({ platforms: ["all"] }).platforms as any).promise();
        assert.deepStrictEqual([...platforms].sort(), [
            "linux/386",
            "linux/amd64",
            "linux/arm/v7",
            "linux/arm64",
            "linux/ppc64le",
            "linux/riscv64",
            "linux/s390x",
        ]);
    });

    it("refuses an unpinned emulator image without the opt-out, and a container method without image", async () => {
        const { createBinfmtInputs } = await import("../../components/binfmtSetup");
        assert.throws(
            () => createBinfmtInputs({ platforms: ["linux/arm64"], method: "container", image: "r/binfmt:latest" }),
            /image: "r\/binfmt:latest" is not pinned by digest/,
        );
        assert.throws(
            () => createBinfmtInputs({ platforms: ["linux/arm64"], method: "container" }),
            /image: method "container" needs an emulator-install image/,
        );
        const image = await (
            createBinfmtInputs({
                platforms: ["linux/arm64"],
                method: "container",
                image: "r/binfmt:latest",
                allowUnpinnedImage: true,
            }).image as any
        ).promise();
        assert.strictEqual(image, "r/binfmt:latest");
    });
});
