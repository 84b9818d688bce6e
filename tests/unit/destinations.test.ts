// Where an image goes besides its tags, checked before anything runs: exports (docker-build's
// shapes and raw `--output` strings), load against what the engine's image store holds, a
// builder by name, and tags in several registries. Each bad input is refused at preview with
// its property path; the buildx `--output` values are plain arrays.
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { parseInfo } from "../../core/engine";
import { csvFields, outputArg, parseRawExport } from "../../core/exports";

pulumi.runtime.setMocks(
    { newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: () => ({}) },
    "pulumi-multiarch",
    "unit",
);

const FIXTURES = path.join(__dirname, "..", "fixtures");
const pathsOf = (e: any) => (e as pulumi.InputPropertiesError).errors.map((x) => x.propertyPath);

/** A context folder of its own (FROM scratch), outside of which exports may be written. */
function context(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-dest-"));
    fs.mkdirSync(path.join(dir, "app"));
    fs.writeFileSync(path.join(dir, "app", "Dockerfile"), "FROM scratch\nCOPY m /m\n");
    fs.writeFileSync(path.join(dir, "app", "m"), "x");
    return path.join(dir, "app");
}

describe("exports as buildx takes them", () => {
    it("writes each typed export as one --output value, CSV-quoted where buildx's parser needs it", () => {
        assert.strictEqual(outputArg({ type: "oci", dest: "out/i.tar" }), "type=oci,dest=out/i.tar");
        assert.strictEqual(
            outputArg({
                type: "oci",
                dest: "out/layout",
                tar: false,
                names: ["r/a:1", "r/b:1"],
                ociMediaTypes: true,
                compression: "zstd",
                compressionLevel: 3,
                forceCompression: true,
                annotations: { "org.opencontainers.image.title": "a,b" },
            }),
            'type=oci,dest=out/layout,tar=false,"name=r/a:1,r/b:1",oci-mediatypes=true,compression=zstd,compression-level=3,force-compression=true,"annotation.org.opencontainers.image.title=a,b"',
        );
        assert.strictEqual(outputArg({ type: "local", dest: "out/fs" }), "type=local,dest=out/fs");
        assert.strictEqual(outputArg({ type: "cacheonly" }), "type=cacheonly");
        assert.deepStrictEqual(csvFields('type=oci,"name=a,b","x=""a"""'), ["type=oci", "name=a,b", 'x="a"']);
    });

    it("reads raw strings (build-push-action's outputs) as the typed entries they mean, and refuses what it cannot map", () => {
        assert.deepStrictEqual(parseRawExport("type=oci,dest=i.tar,tar=false"), { oci: { dest: "i.tar", tar: false } });
        assert.deepStrictEqual(parseRawExport('type=registry,"name=r/a:1,r/b:1"'), {
            registry: { names: ["r/a:1", "r/b:1"] },
        });
        assert.deepStrictEqual(parseRawExport("type=image,push=true"), { image: { push: true } });
        assert.deepStrictEqual(parseRawExport("./out"), { local: { dest: "./out" } });
        assert.deepStrictEqual(parseRawExport("type=docker,annotation.a=1,annotation.b=2"), {
            docker: { annotations: { a: "1", b: "2" } },
        });
        assert.throws(
            () => parseRawExport("type=oci,dest=i.tar,unpack=true"),
            /unpack= is not an attribute of type=oci/,
        );
        assert.throws(() => parseRawExport("type=gha"), /type=gha is not an exporter the library knows/);
        assert.throws(() => parseRawExport("-"), /stdout/);
        assert.throws(() => parseRawExport("type=oci,tar=maybe,dest=x"), /tar=maybe is not true or false/);
    });

    it("reads the engine's image store from `docker info` (captured: dockerd 20.10, overlay2, no containerd store)", () => {
        assert.deepStrictEqual(parseInfo(fs.readFileSync(path.join(FIXTURES, "docker-info-overlay2.json"), "utf8")), {
            serverVersion: "20.10.24+dfsg1",
            driver: "overlay2",
            containerdStore: false,
        });
        // The key buildx reads (util/dockerutil: driver-type io.containerd.snapshotter.v1).
        assert.strictEqual(
            parseInfo(
                '{"driver":"overlayfs","driverStatus":[["driver-type","io.containerd.snapshotter.v1"]],"serverVersion":"27.0.1"}',
            ).containerdStore,
            true,
        );
    });
});

describe("load: what the engine's image store holds, refused at preview", () => {
    const classic = { serverVersion: "20.10.24+dfsg1", driver: "overlay2", containerdStore: false };

    it("one platform loads; several, or attestations, are refused on an engine without the containerd store, naming load and the fixes", async () => {
        const { loadProblems } = await import("../../provider/resources/image");
        assert.deepStrictEqual(
            loadProblems({ load: true, platforms: ["linux/arm64"], provenance: false, sbom: false }, classic),
            [],
        );
        const many = loadProblems(
            { load: true, platforms: ["linux/amd64", "linux/arm64"], provenance: false, sbom: false },
            classic,
        );
        assert.deepStrictEqual(
            many.map((f) => f.property),
            ["load"],
        );
        assert.match(
            many[0].reason,
            /^the docker engine \(20\.10\.24\+dfsg1, storage driver overlay2, no containerd image store\) holds one platform per image, and linux\/amd64, linux\/arm64 were asked: load one platform .*containerd-snapshotter.*exports: \[\{ oci: \{ dest: "image\.tar" \} \}\]/,
        );
        assert.match(
            loadProblems({ load: true, platforms: ["linux/amd64"], provenance: true, sbom: false }, classic)[0].reason,
            /without attestations: set provenance and sbom to false/,
        );
        assert.deepStrictEqual(
            loadProblems(
                { load: true, platforms: ["linux/amd64", "linux/arm64"], provenance: true, sbom: true },
                { ...classic, containerdStore: true },
            ),
            [],
        );
        assert.deepStrictEqual(
            loadProblems(
                { load: false, platforms: ["linux/amd64", "linux/arm64"], provenance: false, sbom: false },
                classic,
            ),
            [],
        );
    });
});

describe("MultiArchImage outputs and targets at preview", () => {
    let components: typeof import("../../components");
    before(async () => {
        components = await import("../../components");
    });
    const value = <T>(o: pulumi.Input<T>) => (pulumi.output(o) as any).promise() as Promise<T>;

    it("takes tags in several repositories and registries; drops the one-repository rule", async () => {
        const { createImageInputs } = await import("../../components/multiArchImage");
        const inputs = createImageInputs({
            context: context(),
            platforms: ["linux/amd64"],
            builder: { name: "ci" },
            tags: ["127.0.0.1:5000/a:1", "127.0.0.1:5003/team/a:1", "127.0.0.1:5000/b:1"],
        });
        assert.deepStrictEqual(await value(inputs.tags), [
            "127.0.0.1:5000/a:1",
            "127.0.0.1:5003/team/a:1",
            "127.0.0.1:5000/b:1",
        ]);
    });

    it("normalizes exports: raw and typed alike, a docker export without dest is the load, a registry export the push", async () => {
        const { createImageInputs } = await import("../../components/multiArchImage");
        const ctx = context();
        const inputs = createImageInputs({
            context: ctx,
            platforms: ["linux/amd64"],
            builder: { name: "ci" },
            tags: [],
            push: false,
            exports: [
                { oci: { dest: "../out/i.tar" } },
                { raw: "type=local,dest=../out/fs" },
                { docker: {} },
                { cacheonly: {} },
                { tar: { dest: "../x.tar" }, disabled: true },
                { registry: { names: ["127.0.0.1:5000/from-export:1"] } },
            ],
        });
        assert.deepStrictEqual(await value(inputs.exports), [
            { type: "oci", dest: "../out/i.tar" },
            { type: "local", dest: "../out/fs" },
            { type: "cacheonly" },
        ]);
        assert.strictEqual(await value(inputs.load), true);
        assert.strictEqual(await value(inputs.push), true);
        assert.deepStrictEqual(await value(inputs.tags), ["127.0.0.1:5000/from-export:1"]);
    });

    it("refuses bad exports, each with its property path, before anything is registered", async () => {
        const { MultiArchImage } = components;
        const ctx = context();
        assert.throws(
            () =>
                new MultiArchImage("bad-exports", {
                    context: ctx,
                    platforms: ["linux/amd64", "linux/arm64"],
                    tags: ["r/x:1"],
                    builder: { name: "ci" },
                    exports: [
                        {},
                        { oci: { dest: "a.tar" }, local: { dest: "b" } },
                        { oci: {} },
                        { local: { dest: path.join(ctx, "fs") } },
                        { docker: { dest: "../d.tar" } },
                        { oci: { dest: "../o.tar", compression: "lz4", compressionLevel: 30 } },
                        { raw: "type=s3" },
                        { registry: { insecure: true } as any },
                        { tar: { dest: "../o.tar" } },
                        { docker: { names: ["x"] } },
                    ],
                }),
            (e: any) => {
                assert.deepStrictEqual(pathsOf(e), [
                    "exports[0]",
                    "exports[1]",
                    "exports[2].oci.dest",
                    "exports[3].local.dest",
                    "exports[4].docker",
                    "exports[5].oci.compression",
                    "exports[5].oci.compressionLevel",
                    "exports[6].raw",
                    "exports[7].registry.insecure",
                    "exports[8].tar.dest",
                    "exports[9].docker.dest",
                ]);
                assert.match(e.message, /exports\[1\]: one exporter per entry, got oci and local/);
                assert.match(
                    e.message,
                    /exports\[3\]\.local\.dest: ".*\/app\/fs" is inside the build context .*: every export would change the context and so rebuild/,
                );
                assert.match(
                    e.message,
                    /exports\[4\]\.docker: buildx's docker exporter writes one platform without attestations .*use \{ oci: \{ dest \} \}/,
                );
                assert.match(e.message, /exports\[8\]\.tar\.dest: "\.\.\/o\.tar" is also written by exports\[5\]\.oci/);
                assert.match(
                    e.message,
                    /exports\[9\]\.docker\.dest: without dest a docker export is the engine's load, which takes none of names/,
                );
                return true;
            },
        );
    });

    it("needs a tag to push, and otherwise an output; refuses a builder by name without one", async () => {
        const { createImageInputs } = await import("../../components/multiArchImage");
        const ctx = context();
        assert.throws(
            () => createImageInputs({ context: ctx, platforms: ["linux/amd64"], tags: [], builder: { name: "ci" } }),
            (e: any) => JSON.stringify(pathsOf(e)) === '["tags"]',
        );
        assert.throws(
            () =>
                createImageInputs({
                    context: ctx,
                    platforms: ["linux/amd64"],
                    tags: [],
                    push: false,
                    builder: { name: "ci" },
                }),
            (e: any) => /or an output: load or exports/.test(e.message),
        );
        assert.doesNotThrow(() =>
            createImageInputs({
                context: ctx,
                platforms: ["linux/amd64"],
                tags: [],
                push: false,
                load: true,
                builder: { name: "ci" },
            }),
        );
        const { MultiArchImage } = components;
        for (const name of [undefined, "bad name!"]) {
            assert.throws(
                () =>
                    new MultiArchImage(`by-name-${name}`, {
                        context: ctx,
                        platforms: ["linux/amd64"],
                        tags: ["r/x:1"],
                        builder: { name },
                    }),
                (e: any) => JSON.stringify(pathsOf(e)) === '["builder.name"]',
            );
        }
    });
});

describe("a builder the user already has, at the image's check (preview)", () => {
    it("is read by name: one that does not exist is refused on builder, with the fix", async function () {
        this.timeout(30000); // asks the real `docker buildx ls`
        const { imageProvider } = await import("../../provider/resources/image");
        const name = `pm-unit-no-such-builder-${process.pid}`;
        const r = await imageProvider.check(
            {},
            {
                builder: name,
                existingBuilder: true,
                platforms: ["linux/amd64"],
                tags: ["127.0.0.1:5000/x:1"],
                push: false,
            },
        );
        assert.deepStrictEqual(
            r.failures?.map((f) => f.property),
            ["builder"],
        );
        assert.match(
            r.failures[0].reason,
            new RegExp(
                `^no buildx builder named "${name}" \\(\`docker buildx ls\`\\): create it \\(\`docker buildx create --name ${name} --bootstrap\`, as setup-buildx-action does\\), or give the image a BuildxBuilder$`,
            ),
        );
    });
});
