// BuildxBuilder against real buildx and BuildKit through the real engine: docker-container
// and remote drivers, a two-node builder of separate BuildKit daemons, and every check.
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { type ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

import { BinfmtSetup, BuildxBuilder, type BuildxBuilderArgs, MultiArchImage } from "../../components";
import { find } from "../../core/buildx";
import { builderNames, requireRealParts, ROOT, runImage, sh } from "../support/env";
import { dispose, failure, inlineStack } from "../support/stack";

const builders = builderNames;

function builderProgram(args: BuildxBuilderArgs) {
    return async () => {
        const b = new BuildxBuilder("b", args);
        return { name: b.name, nodes: b.nodes, platforms: b.platforms };
    };
}

describe("BuildxBuilder, docker-container driver", function () {
    let stack: Stack;
    const name = `pm-e2e-dc-${process.pid}`;
    before(async () => {
        requireRealParts();
        stack = await inlineStack(
            "e2e-builder-dc",
            builderProgram({ name, driverOpts: { network: "host" }, keepState: true }),
        );
    });
    after(async () => {
        await dispose(stack);
        sh("sh", ["-c", `docker volume rm buildx_buildkit_${name}0_state >/dev/null 2>&1 || true`]);
    });

    it("creates and bootstraps; outputs come from `buildx ls --format json`", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        assert.strictEqual(o.name.value, name);
        assert.strictEqual(o.nodes.value.length, 1);
        assert.strictEqual(o.nodes.value[0].status, "running");
        assert.strictEqual(o.nodes.value[0].buildkitVersion, "v0.34.2");
        assert.strictEqual(
            o.nodes.value[0].driverOpts.image,
            "pulumi-multiarch/buildkit:v0.34.2",
            "the pinned local image is the default here",
        );
        assert.ok(o.platforms.value.includes("linux/amd64"));
        assert.ok(builders().includes(name));
    });

    it("refresh sees a builder removed out of band, and up recreates it", async () => {
        sh("docker", ["buildx", "rm", "--keep-state", name]);
        await stack.refresh({ onOutput: () => {} });
        const preview = await stack.preview();
        assert.strictEqual(preview.changeSummary.create, 1, JSON.stringify(preview.changeSummary));
        await stack.up({ onOutput: () => {} });
        assert.ok(builders().includes(name));
    });

    it("a second up changes nothing", async () => {
        const res = await stack.up({ onOutput: () => {} });
        assert.strictEqual(res.summary.resourceChanges?.same, 3, JSON.stringify(res.summary.resourceChanges));
    });

    it("destroy runs buildx rm, honouring keepState", async () => {
        await stack.destroy({ onOutput: () => {} });
        assert.ok(!builders().includes(name));
        assert.match(
            sh("docker", ["volume", "ls", "--format", "{{.Name}}"]),
            new RegExp(`buildx_buildkit_${name}0_state`),
        );
    });
});

/** A real buildkitd on a unix socket, restricted to one platform. */
function startBuildkitd(dir: string, arch: string): { proc: ChildProcess; socket: string } {
    const socket = path.join(dir, `${arch}.sock`);
    const config = path.join(dir, `${arch}.toml`);
    fs.writeFileSync(
        config,
        `[otel]\n  socketPath = "${dir}/otel-${arch}.sock"\n[registry."127.0.0.1:5000"]\n  http = true\n  insecure = true\n`,
    );
    const log = fs.openSync(path.join(dir, `${arch}.log`), "w");
    const proc = spawn(
        path.join(ROOT, ".tools/test-bin/buildkitd"),
        [
            "--addr",
            `unix://${socket}`,
            "--root",
            path.join(dir, `root-${arch}`),
            "--config",
            config,
            "--oci-worker-platform",
            `linux/${arch}`,
            "--oci-worker-net",
            "host",
        ],
        { stdio: ["ignore", log, log] },
    );
    return { proc, socket };
}

async function waitFor(file: string): Promise<void> {
    for (let i = 0; i < 100 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    if (!fs.existsSync(file)) throw new Error(`${file} did not appear: see the buildkitd logs beside it`);
}

describe("BuildxBuilder, remote driver with two nodes (one BuildKit daemon per platform)", function () {
    let stack: Stack;
    let dir: string;
    const daemons: ChildProcess[] = [];
    const sockets: Record<string, string> = {};
    const name = `pm-e2e-mn-${process.pid}`;
    before(async () => {
        dir = fs.mkdtempSync(path.join("/tmp", "pm-buildkitd-"));
        for (const arch of ["amd64", "arm64"]) {
            const d = startBuildkitd(dir, arch);
            daemons.push(d.proc);
            sockets[arch] = d.socket;
            await waitFor(d.socket);
        }
        const ctx = path.join(dir, "ctx");
        fs.mkdirSync(ctx);
        fs.writeFileSync(
            path.join(ctx, "Dockerfile"),
            "FROM 127.0.0.1:5000/fixtures/busybox:latest\nRUN uname -m > /built-on\n",
        );
        stack = await inlineStack("e2e-builder-multinode", async () => {
            const qemu = new BinfmtSetup("qemu", { platforms: ["linux/arm64"] });
            const b = new BuildxBuilder("b", {
                name,
                driver: "remote",
                binfmt: qemu,
                endpoint: `unix://${sockets.amd64}`,
                platforms: ["linux/amd64"],
                nodes: [{ name: "native-arm64", endpoint: `unix://${sockets.arm64}`, platforms: ["linux/arm64"] }],
            });
            const img = new MultiArchImage("img", {
                context: ctx,
                platforms: ["linux/amd64", "linux/arm64"],
                tags: [`127.0.0.1:5000/e2e/multinode:${process.pid}`],
                builder: b,
            });
            return { nodes: b.nodes, digests: img.platformDigests, ref: img.ref };
        });
    });
    after(async () => {
        await dispose(stack);
        for (const d of daemons) d.kill();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("forms one builder of both daemons", async () => {
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        const nodes = o.nodes.value.map((n: any) => [n.name, n.endpoint, n.status]);
        assert.deepStrictEqual(nodes, [
            [`${name}0`, `unix://${sockets.amd64}`, "running"],
            ["native-arm64", `unix://${sockets.arm64}`, "running"],
        ]);
        assert.deepStrictEqual(Object.keys(o.digests.value).sort(), ["linux/amd64", "linux/arm64"]);
    });

    it("each platform was built on its own node (each daemon's own build history)", () => {
        for (const arch of ["amd64", "arm64"]) {
            const records = sh(path.join(ROOT, ".tools/test-bin/buildctl"), [
                "--addr",
                `unix://${sockets[arch]}`,
                "debug",
                "histories",
                "--format",
                "{{json .}}",
            ])
                .split("\n")
                .filter(Boolean)
                .map((l) => JSON.parse(l).record)
                .filter((r: any) => r?.FrontendAttrs);
            const platforms = records.map((r: any) => r.FrontendAttrs.platform);
            assert.deepStrictEqual([...new Set(platforms)], [`linux/${arch}`], `daemon ${arch} built ${platforms}`);
        }
    });

    it("the arm64 image ran its RUN step as aarch64", async () => {
        const o = await stack.outputs();
        const arm = `127.0.0.1:5000/e2e/multinode@${o.digests.value["linux/arm64"]}`;
        assert.strictEqual(runImage("linux/arm64", arm, "cat", "/built-on").trim(), "aarch64");
    });
});

describe("BuildxBuilder checks, at preview", function () {
    const stacks: Stack[] = [];
    after(async () => {
        for (const s of stacks) await dispose(s);
    });
    async function previewError(
        name: string,
        program: () => Promise<unknown>,
        env?: Record<string, string>,
    ): Promise<string> {
        const s = await inlineStack(name, program as any, { env });
        stacks.push(s);
        return failure(() => s.preview());
    }

    it("an unknown driver names the drivers", async () => {
        const text = await previewError("e2e-builder-baddriver", builderProgram({ driver: "podman" as any }));
        assert.match(text, /driver: unknown driver "podman": use one of docker-container, remote, kubernetes, docker/);
    });

    it("buildx missing: says how to install it", async () => {
        const emptyConfig = fs.mkdtempSync(path.join(os.tmpdir(), "no-plugins-"));
        const text = await previewError("e2e-builder-nobuildx", builderProgram({}), { DOCKER_CONFIG: emptyConfig });
        assert.match(
            text,
            /docker buildx is not available .*: run `npm run up` \(scripts\/bootstrap\) or install buildx >= 0\.13\.0/,
        );
    });

    it("a platform no node can build names the platform and the node list", async () => {
        const text = await previewError(
            "e2e-builder-noplatform",
            builderProgram({ name: "pm-e2e-nope", platforms: ["linux/s390x"] }),
        );
        assert.match(
            text,
            /has a problem: platforms: no node can build linux\/s390x: node pm-e2e-nope0 runs linux\/amd64, linux\/386 natively and emulates .*\(nodes: pm-e2e-nope0 \[linux\/s390x\]\); add a BinfmtSetup for linux\/s390x/,
        );
        assert.ok(!builders().includes("pm-e2e-nope"));
    });

    it("a remote endpoint that does not exist", async () => {
        const text = await previewError(
            "e2e-builder-nosocket",
            builderProgram({ driver: "remote", endpoint: "unix:///nonexistent/buildkitd.sock" }),
        );
        assert.match(
            text,
            /has a problem: endpoint: unix:\/\/\/nonexistent\/buildkitd\.sock does not exist: start buildkitd with --addr/,
        );
    });

    it("an image platform the existing builder cannot build names the builder's platforms", async () => {
        const name = `pm-e2e-amd64only-${process.pid}`;
        const ctx = path.join(ROOT, "app");
        const s = await inlineStack("e2e-builder-imagecheck", async () => {
            new BuildxBuilder("b", { name, driverOpts: { network: "host" }, platforms: ["linux/amd64"] });
        });
        stacks.push(s);
        await s.up({ onOutput: () => {} });
        s.workspace.program = async () => {
            const b = new BuildxBuilder("b", { name, driverOpts: { network: "host" }, platforms: ["linux/amd64"] });
            new MultiArchImage("img", {
                context: ctx,
                platforms: ["linux/amd64", "linux/s390x"],
                tags: ["127.0.0.1:5000/e2e/never:1"],
                builder: b,
            });
        };
        const text = await failure(() => s.preview());
        assert.match(
            text,
            new RegExp(
                `property platforms .* has a problem: builder ${name} cannot build linux/s390x: its nodes build linux/amd64`,
            ),
        );
    });
});

describe("BuildxBuilder, docker driver", function () {
    let stack: Stack;
    after(async () => dispose(stack));

    it("uses the engine's own builder as it is, and destroy leaves it", async () => {
        stack = await inlineStack("e2e-builder-docker", builderProgram({ driver: "docker" }));
        const o = (await stack.up({ onOutput: () => {} })).outputs;
        assert.strictEqual(o.name.value, "default");
        assert.strictEqual(o.nodes.value[0].status, "running");
        await stack.destroy({ onOutput: () => {} });
        assert.ok(builders().includes("default"), "destroy removed the engine's builder");
    });
});

describe("BuildxBuilder, kubernetes driver without a cluster", function () {
    let stack: Stack;
    after(async () => dispose(stack));

    it("fails with a clear message and leaves no builder behind", async () => {
        stack = await inlineStack(
            "e2e-builder-k8s",
            builderProgram({
                name: "pm-e2e-k8s",
                driver: "kubernetes",
                kubernetes: { namespace: "buildkit", replicas: 2, nodeSelector: { "kubernetes.io/arch": "arm64" } },
            }),
            { env: { KUBECONFIG: "/nonexistent/kubeconfig" } },
        );
        const text = await failure(() => stack.up({ onOutput: () => {} }));
        assert.match(
            text,
            /the kubernetes driver found no cluster: .*point KUBECONFIG \(or ~\/\.kube\/config\) at a cluster you can reach/,
        );
        assert.ok(!builders().includes("pm-e2e-k8s"));
    });
});

describe("finding a builder, with other builders in buildx's store", function () {
    before(() => requireRealParts());

    it("reaches no other builder's nodes: a remote builder whose daemon never answers is not dialled (buildx ls waits on it)", async () => {
        // A BuildKit endpoint that accepts connections and never answers, as a hung daemon does.
        const dialled: net.Socket[] = [];
        const hung = net.createServer((c) => void dialled.push(c));
        await new Promise<void>((r) => hung.listen(0, "127.0.0.1", r));
        const port = (hung.address() as net.AddressInfo).port;
        const store = fs.mkdtempSync(path.join(os.tmpdir(), "pm-e2e-buildx-store-"));
        const saved = process.env.BUILDX_CONFIG;
        try {
            sh("env", [
                `BUILDX_CONFIG=${store}`,
                "docker",
                "buildx",
                "create",
                "--name",
                "pm-e2e-hung",
                "--driver",
                "remote",
                "--timeout", // create waits for the node's status: 20 s by default
                "1s",
                `tcp://127.0.0.1:${port}`,
            ]);
            process.env.BUILDX_CONFIG = store;
            const settled = () => new Promise((r) => setTimeout(r, 200)); // connections accepted meanwhile
            await settled();
            const before = dialled.length;
            const engine = await find("default");
            assert.strictEqual(engine?.driver, "docker");
            await settled();
            assert.strictEqual(dialled.length, before, "finding the engine's builder dialled the hung daemon");
            // What `buildx ls` of the whole store does (bounded here by its --timeout): it dials it.
            sh("env", [`BUILDX_CONFIG=${store}`, "docker", "buildx", "ls", "--timeout", "2s"]);
            await settled();
            assert.ok(dialled.length > before, "buildx ls did not dial the hung daemon: this test proves nothing");
        } finally {
            if (saved === undefined) delete process.env.BUILDX_CONFIG;
            else process.env.BUILDX_CONFIG = saved;
            for (const c of dialled) c.destroy();
            hung.close();
            fs.rmSync(store, { recursive: true, force: true });
        }
    });
});
