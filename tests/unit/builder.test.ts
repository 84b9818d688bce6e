// BuildxBuilder argument handling and the buildx argv it produces (pure).
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { createArgs, find, rememberBuilders, remove, versionAtLeast } from "../../core/buildx";
import { replaceRunner } from "../../core/exec";
import { BUILDKIT_VERSION } from "../../core/versions";

pulumi.runtime.setMocks(
    { newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: () => ({}) },
    "pulumi-multiarch",
    "unit",
);

describe("buildx argv", () => {
    it("creates the first node and appends the others, each with its endpoint and platforms", () => {
        const argv = createArgs(
            {
                name: "fleet",
                driver: "remote",
                nodes: [
                    {
                        name: "fleet0",
                        endpoint: "tcp://amd64-host:1234",
                        platforms: ["linux/amd64"],
                        driverOpts: { cacert: "/c/ca.pem" },
                    },
                    { name: "arm", endpoint: "tcp://arm-host:1234", platforms: ["linux/arm64"], driverOpts: {} },
                ],
            },
            "/tmp/cfg.toml",
        );
        assert.deepStrictEqual(argv, [
            [
                "buildx",
                "create",
                "--name",
                "fleet",
                "--node",
                "fleet0",
                "--driver",
                "remote",
                "--driver-opt",
                "cacert=/c/ca.pem",
                "--platform",
                "linux/amd64",
                "--buildkitd-config",
                "/tmp/cfg.toml",
                "tcp://amd64-host:1234",
            ],
            [
                "buildx",
                "create",
                "--name",
                "fleet",
                "--node",
                "arm",
                "--append",
                "--platform",
                "linux/arm64",
                "--buildkitd-config",
                "/tmp/cfg.toml",
                "tcp://arm-host:1234",
            ],
        ]);
    });

    it("compares versions", () => {
        assert.ok(versionAtLeast("0.38.2", "0.13.0"));
        assert.ok(versionAtLeast("0.13.0", "0.13.0"));
        assert.ok(!versionAtLeast("0.12.1", "0.13.0"));
        assert.ok(versionAtLeast("1.0.0-rc1", "0.13.0"));
    });
});

describe("BuildxBuilder args", () => {
    let mod: typeof import("../../components/buildxBuilder");
    before(async () => {
        mod = await import("../../components/buildxBuilder");
    });
    const paths = (fn: () => unknown) => {
        try {
            fn();
        } catch (e: any) {
            return e.errors.map((x: any) => x.propertyPath);
        }
        throw new Error("no error");
    };

    it("defaults: docker-container with the pinned BuildKit image, a name per stack", () => {
        const saved = process.env.PULUMI_MULTIARCH_BUILDKIT_IMAGE;
        delete process.env.PULUMI_MULTIARCH_BUILDKIT_IMAGE;
        try {
            const i: any = mod.createBuilderInputs("b", {});
            assert.strictEqual(i.name, "pulumi-multiarch-unit-b");
            assert.strictEqual(i.driver, "docker-container");
            assert.deepStrictEqual(i.nodes, [
                { name: "pulumi-multiarch-unit-b0", platforms: [], driverOpts: { image: mod.DEFAULT_BUILDKIT_IMAGE } },
            ]);
            assert.strictEqual(mod.DEFAULT_BUILDKIT_IMAGE, `moby/buildkit:v${BUILDKIT_VERSION}`);
        } finally {
            if (saved !== undefined) process.env.PULUMI_MULTIARCH_BUILDKIT_IMAGE = saved;
        }
    });

    it("maps kubernetes options to driver options, per node", () => {
        const i: any = mod.createBuilderInputs("k", {
            driver: "kubernetes",
            kubernetes: { namespace: "buildkit", replicas: 2, nodeSelector: { "kubernetes.io/arch": "amd64" } },
            nodes: [
                {
                    name: "arm",
                    platforms: ["linux/arm64"],
                    kubernetes: { nodeSelector: { "kubernetes.io/arch": "arm64" } },
                },
            ],
        });
        assert.deepStrictEqual(i.nodes[0].driverOpts, {
            namespace: "buildkit",
            replicas: "2",
            nodeselector: "kubernetes.io/arch=amd64",
        });
        assert.deepStrictEqual(i.nodes[1], {
            name: "arm",
            platforms: ["linux/arm64"],
            driverOpts: { nodeselector: "kubernetes.io/arch=arm64" },
        });
    });

    it("refuses what buildx would refuse, naming each property", () => {
        assert.deepStrictEqual(
            paths(() => mod.createBuilderInputs("r", { driver: "remote" })),
            ["endpoint"],
        );
        assert.deepStrictEqual(
            paths(() => mod.createBuilderInputs("r", { driver: "remote", endpoint: "http://x" })),
            ["endpoint"],
        );
        assert.deepStrictEqual(
            paths(() =>
                mod.createBuilderInputs("r", {
                    driver: "remote",
                    endpoint: "tcp://a:1",
                    nodes: [
                        { name: "n", endpoint: "tcp://b:1" },
                        { name: "n", endpoint: "tcp://c:1", platforms: ["linux/arm65"] },
                    ],
                }),
            ),
            ["nodes[1].name", "nodes[1].platforms[0]"],
        );
        assert.deepStrictEqual(
            paths(() => mod.createBuilderInputs("d", { driver: "docker", image: "x", nodes: [{}] })),
            ["image", "driver"],
        );
        assert.deepStrictEqual(
            paths(() => mod.createBuilderInputs("k", { kubernetes: { replicas: 1 } })),
            ["kubernetes"],
        );
        assert.deepStrictEqual(
            paths(() => mod.createBuilderInputs("n", { name: "bad name" })),
            ["name"],
        );
    });

    it("refuses TLS where buildx could not use it: a unix socket, another driver, a certificate without its key", () => {
        const tls = { cacert: "ca", cert: "cert", key: "key" };
        assert.deepStrictEqual(
            paths(() => mod.createBuilderInputs("t", { driver: "remote", endpoint: "unix:///run/b.sock", tls })),
            ["tls"],
        );
        assert.deepStrictEqual(
            paths(() => mod.createBuilderInputs("t", { driver: "docker-container", tls })),
            ["tls"],
        );
        assert.deepStrictEqual(
            paths(() =>
                mod.createBuilderInputs("t", {
                    driver: "remote",
                    endpoint: "tcp://a:1234",
                    tls,
                    nodes: [{ name: "arm", endpoint: "tcp://b:1234", tls: { cacert: "ca", cert: "cert" } }],
                }),
            ),
            ["nodes[0].tls"],
        );
        assert.doesNotThrow(() =>
            mod.createBuilderInputs("t", { driver: "remote", endpoint: "tcp://a:1234", tls: { cacert: "ca" } }),
        );
    });

    it("two stacks get two builders: the default name carries the stack", () => {
        assert.strictEqual(mod.defaultBuilderName("builder"), "pulumi-multiarch-unit-builder");
    });
});

describe("finding one builder", () => {
    const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "..", "fixtures", name), "utf8");

    it("asks `buildx ls` of a store holding that builder alone, in the plugin once per engine run until it changes a builder: no other builder's nodes are reached", async () => {
        // The user's store: three builders (buildx's instance files are JSON named after the builder).
        const userStore = fs.mkdtempSync(path.join(os.tmpdir(), "pm-unit-buildx-"));
        fs.mkdirSync(path.join(userStore, "instances"));
        for (const n of ["i23-plan-fleetprobe", "other", "unreachable-remote"])
            fs.writeFileSync(path.join(userStore, "instances", n), JSON.stringify({ Name: n, Nodes: [] }));
        const saved = process.env.BUILDX_CONFIG;
        process.env.BUILDX_CONFIG = userStore;
        const seen: { args: string[]; store: string; instances: string[] }[] = [];
        // A buildx that lists what the store it is given holds (real output, captured: tests/fixtures/buildx-ls-fleet.jsonl).
        const lines = fixture("buildx-ls-fleet.jsonl").split("\n").filter(Boolean);
        const restore = replaceRunner((file, args, opts) => {
            const store = opts?.env?.BUILDX_CONFIG ?? "";
            const instances = store ? fs.readdirSync(path.join(store, "instances")) : [];
            seen.push({ args: [file, ...args], store, instances });
            const stdout = lines.filter((l) => instances.includes((JSON.parse(l) as { Name: string }).Name)).join("\n");
            return Promise.resolve({ command: [file, ...args].join(" "), code: 0, stdout, stderr: "" });
        });
        rememberBuilders(); // as the plugin does
        try {
            const b = await find("i23-plan-fleetprobe");
            assert.deepStrictEqual(
                b?.nodes.map((n) => n.endpoint),
                ["tcp://127.0.1.1:1234", "tcp://127.0.2.1:1234"],
            );
            assert.strictEqual(await find("gone"), undefined);
            assert.deepStrictEqual(
                seen.map((s) => [s.args.join(" "), s.instances]),
                [
                    ["docker buildx ls --format json", ["i23-plan-fleetprobe"]],
                    ["docker buildx ls --format json", []],
                ],
            );
            // Asked once per process until it changes a builder.
            await find("i23-plan-fleetprobe");
            assert.strictEqual(seen.length, 2, "asked buildx again for a builder this process knows");
            await remove("other", false);
            await find("i23-plan-fleetprobe");
            assert.deepStrictEqual(
                seen.map((s) => s.args.slice(1, 3).join(" ")),
                ["buildx ls", "buildx ls", "buildx rm", "buildx ls"],
            );
            // A process that does not keep them (a program's: it may run many engine runs) asks each time.
            rememberBuilders(false);
            await find("i23-plan-fleetprobe");
            await find("i23-plan-fleetprobe");
            assert.strictEqual(seen.length, 6);
            for (const s of seen.filter((x) => x.args[2] === "ls")) {
                assert.notStrictEqual(s.store, userStore);
                assert.ok(!fs.existsSync(s.store), `the store copy ${s.store} is left`);
            }
            assert.deepStrictEqual(fs.readdirSync(path.join(userStore, "instances")).sort(), [
                "i23-plan-fleetprobe",
                "other",
                "unreachable-remote",
            ]);
        } finally {
            restore();
            rememberBuilders(false);
            if (saved === undefined) delete process.env.BUILDX_CONFIG;
            else process.env.BUILDX_CONFIG = saved;
            fs.rmSync(userStore, { recursive: true, force: true });
        }
    });
});
