// Reliability against the real parts (docs/RELIABILITY.md lists every case): faults in the
// middle of a run, each followed by a second `up` that converges with nothing lost and no
// orphaned builder or tag; a killed or cancelled `pulumi up` that leaves nothing running;
// bad input refused at preview; secrets kept out of state, argv, logs and children's
// environments; tags that never point at a partial image.
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";

import { BinfmtSetup, BuildxBuilder, MultiArchImage, type MultiArchImageArgs } from "../../components";
import { exitProgram } from "../../core/elf";
import { argvContaining } from "../support/argv";
import { startAuthRegistry } from "../support/authRegistry";
import { ENV, requireRealParts, ROOT, runImage, SECRETS_PROVIDER, sh } from "../support/env";
import {
    type Cli,
    isLanguageHost,
    type Proc,
    processTree,
    type Proxy,
    pulumiCli,
    sampleProcesses,
    secondsUntilGone,
    type Sighting,
    startDockerd,
    startProxy,
    startRegistry,
    tempFoldersOf,
    whenProcess,
} from "../support/faults";
import { dispose, failure, inlineStack, pendingOps, stateTexts } from "../support/stack";

const REG = "127.0.0.1:5000";
// Ports of this file's own registries and proxies.
const PORTS = { stopped: 5010, perArch: 5011, auth: 5012, authProxy: 5013, faults: 5014, nothing: 5019 };
const BUILDKITD = [5000, ...Object.values(PORTS)].map((p) => `[registry."127.0.0.1:${p}"]\n  http = true\n`).join("");
const ACCEPT = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
        http.get(url, { headers: { Accept: ACCEPT } }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c)).on("end", () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
            );
        }).on("error", reject);
    });
}
/** The digest a tag points at, or undefined. */
async function tagDigest(ref: string): Promise<string | undefined> {
    const [, registry, repo, tag] = /^([^/]+)\/(.+):([^:]+)$/.exec(ref)!;
    const r = await get(`http://${registry}/v2/${repo}/manifests/${tag}`);
    return r.status === 200 ? String(r.headers["docker-content-digest"]) : undefined;
}
/**
 * Every tag of a repository a build moved: not the OCI referrers fallback tags
 * (`sha256-<hex>`) that list each verified image's verification record.
 */
async function tagsOf(registry: string, repo: string): Promise<string[]> {
    const r = await get(`http://${registry}/v2/${repo}/tags/list`);
    return r.status === 200
        ? (JSON.parse(r.body).tags ?? []).filter((t: string) => !/^sha256-[a-f0-9]{64}$/.test(t)).sort()
        : [];
}
/** The platforms an index lists. */
async function indexPlatforms(ref: string): Promise<string[]> {
    const [, registry, repo, tag] = /^([^/]+)\/(.+):([^:]+)$/.exec(ref)!;
    const index = JSON.parse((await get(`http://${registry}/v2/${repo}/manifests/${tag}`)).body);
    return index.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`).sort();
}

const builders = (env: Record<string, string> = {}) =>
    sh("env", [...Object.entries(env).map(([k, v]) => `${k}=${v}`), "docker", "buildx", "ls", "--format", "{{.Name}}"])
        .split("\n")
        .filter(Boolean);

/** Nothing of builder `name` is left: not listed by buildx, no BuildKit container, no state volume. */
function assertNoBuilder(name: string, dockerHost?: string): void {
    const env: Record<string, string> = dockerHost ? { DOCKER_HOST: dockerHost } : {};
    assert.ok(!builders(env).includes(name), `builder ${name} is still listed`);
    const docker = (...args: string[]) =>
        sh("env", [...Object.entries(env).map(([k, v]) => `${k}=${v}`), "docker", ...args]);
    assert.ok(
        !docker("ps", "-a", "--format", "{{.Names}}").includes(`buildx_buildkit_${name}0`),
        `the BuildKit container of ${name} is left`,
    );
    assert.ok(
        !docker("volume", "ls", "--format", "{{.Name}}").includes(`buildx_buildkit_${name}0_state`),
        `the state volume of ${name} is left`,
    );
}

/**
 * A build context whose RUN step runs for a few seconds with `marker` on its command line (so
 * a test can strike while it runs) and records `version` in the image.
 */
function context(name: string, marker: string, version: string, seconds = 3): string {
    const dir = path.join(ROOT, ".state", "e2e", "contexts", `rel-${name}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
        path.join(dir, "Dockerfile"),
        `FROM ${REG}/fixtures/busybox:latest\nCOPY version /version\nRUN echo ${marker} >/dev/null; sleep ${seconds}; cat /version > /built\n`,
    );
    setVersion(dir, version);
    return dir;
}
const setVersion = (dir: string, version: string) => fs.writeFileSync(path.join(dir, "version"), `${version}\n`);
/** What /built says in the image of one platform of the index `repo@digest` (run by the platform's own digest: the engine keeps one image per index). */
async function builtIn(ref: string, platform: string): Promise<string> {
    const [, registry, repo, digest] = /^([^/]+)\/(.+)@(sha256:[0-9a-f]+)$/.exec(ref)!;
    const index = JSON.parse((await get(`http://${registry}/v2/${repo}/manifests/${digest}`)).body);
    const m = index.manifests.find((x: any) => `${x.platform.os}/${x.platform.architecture}` === platform);
    return runImage(platform, `${registry}/${repo}@${m.digest}`, "cat", "/built").trim();
}

function imageProgram(
    builderName: string,
    image: Omit<MultiArchImageArgs, "builder">,
    emulate: string[] = ["linux/arm64"],
) {
    return async () => {
        const qemu = new BinfmtSetup("qemu", { platforms: emulate });
        const builder = new BuildxBuilder("b", {
            name: builderName,
            binfmt: qemu,
            driverOpts: { network: "host" },
            buildkitdConfig: BUILDKITD,
        });
        const img = new MultiArchImage("img", { ...image, builder });
        return {
            digest: img.digest,
            platformDigests: img.platformDigests,
            tags: img.tags,
            ref: img.ref,
            reason: img.buildReason,
        };
    };
}

const quiet = { onOutput: () => {} };
/** Pids of processes whose argv holds every one of `words`. */
function pidsWith(words: string[]): number[] {
    return fs
        .readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((pid) => {
            try {
                const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
                return words.every((w) => argv.includes(w));
            } catch {
                return false;
            }
        })
        .map(Number);
}
const BINFMT = "/proc/sys/fs/binfmt_misc";
const hasHandler = (h: string) => fs.existsSync(path.join(BINFMT, h));
const removeHandler = (h: string) => {
    if (hasHandler(h)) fs.writeFileSync(path.join(BINFMT, h), "-1");
};
const marker = (what: string) => `rel-${what}-marker-${process.pid}`;

describe("reliability: faults, each followed by an up that converges", function () {
    before(() => requireRealParts());

    it("the builder's BuildKit container killed mid-build: the tag stays, the next up rebuilds and moves it", async () => {
        const name = `rel-kill-${process.pid}`;
        const tag = `${REG}/rel/kill:1.0`;
        const ctx = context("kill", marker("kill"), "v1");
        const s = await inlineStack(
            "rel-kill",
            imageProgram(name, { context: ctx, platforms: ["linux/amd64", "linux/arm64"], tags: [tag] }),
        );
        try {
            const first = (await s.up(quiet)).outputs;
            assert.strictEqual(await tagDigest(tag), first.digest.value);
            setVersion(ctx, "v2");
            const up = s.up(quiet);
            await whenProcess(marker("kill"));
            sh("docker", ["kill", `buildx_buildkit_${name}0`]);
            const text = await failure(() => up);
            assert.match(text, /buildx build/);
            assert.strictEqual(await tagDigest(tag), first.digest.value, "the tag moved although the build was killed");

            const second = await s.up(quiet);
            assert.deepStrictEqual(
                second.summary.resourceChanges,
                { update: 1, same: 6 },
                JSON.stringify(second.summary.resourceChanges),
            );
            assert.strictEqual(await tagDigest(tag), second.outputs.digest.value);
            assert.deepStrictEqual(await indexPlatforms(tag), ["linux/amd64", "linux/arm64"]);
            assert.strictEqual(await builtIn(second.outputs.ref.value, "linux/arm64"), "v2");
            assert.deepStrictEqual(await tagsOf(REG, "rel/kill"), ["1.0"], "a stray tag was pushed");
            assert.strictEqual(builders().filter((b) => b === name).length, 1);
            assert.deepStrictEqual((await s.up(quiet)).summary.resourceChanges, { same: 7 });
        } finally {
            await dispose(s);
        }
        assertNoBuilder(name);
    });

    it("the registry stopped mid-push: the tag stays on the old image, the next up pushes again", async () => {
        const registry = await startRegistry(PORTS.stopped);
        const name = `rel-regstop-${process.pid}`;
        const tag = `${registry.addr}/rel/regstop:1.0`;
        const ctx = context("regstop", marker("regstop"), "v1", 1);
        const s = await inlineStack(
            "rel-regstop",
            imageProgram(name, { context: ctx, platforms: ["linux/amd64", "linux/arm64"], tags: [tag] }),
        );
        try {
            const first = (await s.up(quiet)).outputs;
            setVersion(ctx, "v2");
            // Killed as soon as it accepted the first blob upload of the new image: mid-push.
            let killedAt = "";
            registry.onRequest((method, uri) => {
                if (!(method === "POST" && /\/blobs\/uploads\/$/.test(uri))) return false;
                registry.kill();
                killedAt = `${method} ${uri}`;
                return true;
            });
            const text = await failure(() => s.up(quiet));
            assert.ok(killedAt, "the registry was not killed during the push");
            assert.match(text, /failed to push 127\.0\.0\.1:5010\/rel\/regstop/);
            await registry.start();
            assert.strictEqual(await tagDigest(tag), first.digest.value, "the tag moved to a partial push");
            assert.deepStrictEqual(await indexPlatforms(tag), ["linux/amd64", "linux/arm64"]);

            const second = await s.up(quiet);
            assert.deepStrictEqual(
                second.summary.resourceChanges,
                { update: 1, same: 6 },
                JSON.stringify(second.summary.resourceChanges),
            );
            assert.strictEqual(await tagDigest(tag), second.outputs.digest.value);
            assert.deepStrictEqual(await indexPlatforms(tag), ["linux/amd64", "linux/arm64"]);
            assert.strictEqual(await builtIn(second.outputs.ref.value, "linux/amd64"), "v2");
            assert.deepStrictEqual(await tagsOf(registry.addr, "rel/regstop"), ["1.0"], "a stray tag was pushed");
        } finally {
            await dispose(s);
            registry.stop();
        }
        assertNoBuilder(name);
    });

    it("a binfmt handler removed between preview and up: up registers it again before building", async () => {
        const name = `rel-binfmt-${process.pid}`;
        const tag = `${REG}/rel/binfmt:1.0`;
        const dir = path.join(ROOT, ".state", "e2e", "contexts", "rel-binfmt");
        fs.mkdirSync(dir, { recursive: true });
        // A riscv64 program that exits 0 (the proof program, exit code patched), run by a RUN
        // step: only a working qemu-riscv64 handler can run it.
        const prog = exitProgram("riscv64");
        prog.writeUInt32LE(0x00000513, prog.length - 12); // addi a0, zero, 0
        fs.writeFileSync(path.join(dir, "prog"), prog, { mode: 0o755 });
        fs.writeFileSync(
            path.join(dir, "Dockerfile"),
            'FROM scratch\nCOPY version /version\nCOPY prog /prog\nRUN ["/prog"]\nENTRYPOINT ["/prog"]\n',
        );
        setVersion(dir, "v1");
        removeHandler("qemu-riscv64");
        const s = await inlineStack(
            "rel-binfmt",
            imageProgram(name, { context: dir, platforms: ["linux/riscv64"], tags: [tag] }, ["linux/riscv64"]),
        );
        try {
            const first = (await s.up(quiet)).outputs;
            assert.ok(hasHandler("qemu-riscv64"));
            setVersion(dir, "v2");
            const preview = await s.preview();
            assert.deepStrictEqual({ update: preview.changeSummary.update }, { update: 1 });
            removeHandler("qemu-riscv64"); // what a reboot does
            const second = await s.up(quiet);
            assert.ok(hasHandler("qemu-riscv64"), "up did not register the handler again");
            assert.strictEqual(await tagDigest(tag), second.outputs.digest.value);
            assert.notStrictEqual(second.outputs.digest.value, first.digest.value);
            assert.deepStrictEqual((await s.up(quiet)).summary.resourceChanges, { same: 7 });
            assert.deepStrictEqual(await tagsOf(REG, "rel/binfmt"), ["1.0"], "a stray tag was pushed");
            await s.destroy(quiet);
            assert.ok(!hasHandler("qemu-riscv64"), "destroy left the handler this stack registered");
        } finally {
            await dispose(s);
            removeHandler("qemu-riscv64");
        }
        assertNoBuilder(name);
    });

    it("dockerd restarted between runs: the builder is back, up changes nothing, a change builds", async () => {
        const dockerd = await startDockerd(process.env.PULUMI_MULTIARCH_BUILDKIT_IMAGE!);
        const name = `rel-dockerd-${process.pid}`;
        const tag = `${REG}/rel/dockerd:1.0`;
        const ctx = context("dockerd", marker("dockerd"), "v1", 1);
        const s = await inlineStack(
            "rel-dockerd",
            imageProgram(name, { context: ctx, platforms: ["linux/amd64", "linux/arm64"], tags: [tag] }),
            { env: { DOCKER_HOST: dockerd.host } },
        );
        try {
            const first = (await s.up(quiet)).outputs;
            await dockerd.restart();
            assert.deepStrictEqual((await s.up(quiet)).summary.resourceChanges, { same: 7 });
            await s.refresh(quiet);
            const builder = (await s.exportStack()).deployment.resources.find((r: any) =>
                String(r.type).endsWith(":Builder"),
            );
            assert.strictEqual(
                builder.outputs.reported[0].status,
                "running",
                "refresh does not see the builder running again",
            );
            setVersion(ctx, "v2");
            const second = await s.up(quiet);
            assert.deepStrictEqual(second.summary.resourceChanges, { update: 1, same: 6 });
            assert.notStrictEqual(second.outputs.digest.value, first.digest.value);
            assert.strictEqual(await tagDigest(tag), second.outputs.digest.value);
            assert.strictEqual(await builtIn(second.outputs.ref.value, "linux/arm64"), "v2");
            assert.deepStrictEqual(await tagsOf(REG, "rel/dockerd"), ["1.0"], "a stray tag was pushed");
            await s.destroy(quiet);
            assertNoBuilder(name, dockerd.host);
        } finally {
            await dispose(s);
            await dockerd.stop();
        }
    });

    it("SIGINT twice while the builder is being created: the next up takes over the builder it half-created", async () => {
        const name = `rel-sigcreate-${process.pid}`;
        const s = await inlineStack("rel-sigcreate", async () => {
            const b = new BuildxBuilder("b", { name, driverOpts: { network: "host" } });
            return { name: b.name };
        });
        try {
            const twice = failure(() => s.up(quiet));
            await whenProcess(`--bootstrap\0${name}`);
            for (let i = 0; i < 2; i++) {
                for (const pid of pidsWith(["up", "--stack", "rel-sigcreate"])) process.kill(pid, "SIGINT");
                await new Promise((r) => setTimeout(r, 300));
            }
            // The first Ctrl-C stops the bootstrap (the engine's Cancel): the create fails at once
            // (pulumi may have ended before the second one), or is still pending when the second
            // one ends pulumi.
            assert.match(await twice, /\^C received; terminating|the update was cancelled \(Ctrl-C\)/);
            assert.ok(
                ["", "creating b-builder"].includes((await pendingOps(s)).join()),
                `pending: ${await pendingOps(s)}`,
            );
            assert.ok(builders().includes(name), "the interrupted create left no builder: nothing to take over");
            const again = await s.up(quiet);
            assert.strictEqual(again.outputs.name.value, name);
            assert.strictEqual(builders().filter((b) => b === name).length, 1);
            assert.deepStrictEqual((await s.up(quiet)).summary.resourceChanges, { same: 3 });
        } finally {
            await dispose(s);
        }
        assertNoBuilder(name);
    });

    it("a builder of the same name that this stack did not create is refused, never taken over or removed", async () => {
        const name = `rel-foreign-${process.pid}`;
        sh("docker", [
            "buildx",
            "create",
            "--name",
            name,
            "--driver",
            "docker-container",
            "--driver-opt",
            `image=${process.env.PULUMI_MULTIARCH_BUILDKIT_IMAGE}`,
        ]);
        const s = await inlineStack("rel-foreign", async () => ({ name: new BuildxBuilder("b", { name }).name }));
        try {
            const text = await failure(() => s.up(quiet));
            assert.match(
                text,
                new RegExp(`a buildx builder named "${name}" already exists and is not managed by this stack`),
            );
            assert.ok(builders().includes(name), "the stack removed a builder it did not create");
        } finally {
            await dispose(s);
            assert.ok(builders().includes(name), "destroy removed a builder the stack did not create");
            sh("docker", ["buildx", "rm", name]);
        }
    });

    it("two images building on one builder at once: both built at the same time, each tag its own image", async () => {
        const name = `rel-twoimg-${process.pid}`;
        const ctxA = context("two-a", marker("two-a"), "a"),
            ctxB = context("two-b", marker("two-b"), "b");
        const s = await inlineStack("rel-twoimg", async () => {
            const qemu = new BinfmtSetup("qemu", { platforms: ["linux/arm64"] });
            const builder = new BuildxBuilder("b", {
                name,
                binfmt: qemu,
                driverOpts: { network: "host" },
                buildkitdConfig: BUILDKITD,
            });
            const a = new MultiArchImage("a", {
                context: ctxA,
                platforms: ["linux/amd64", "linux/arm64"],
                tags: [`${REG}/rel/two-a:1.0`],
                builder,
            });
            const b = new MultiArchImage("b", {
                context: ctxB,
                platforms: ["linux/amd64", "linux/arm64"],
                tags: [`${REG}/rel/two-b:1.0`],
                builder,
            });
            return { a: a.ref, b: b.ref };
        });
        try {
            const up = s.up(quiet);
            const together = whenProcess([marker("two-a"), marker("two-b")]).then(
                () => true,
                () => false,
            );
            const o = (await up).outputs;
            assert.ok(await together, "the two builds never ran at the same time");
            for (const [id, ref] of [
                ["a", o.a.value],
                ["b", o.b.value],
            ]) {
                assert.strictEqual(await tagDigest(`${REG}/rel/two-${id}:1.0`), ref.split("@")[1]);
                assert.deepStrictEqual(await indexPlatforms(`${REG}/rel/two-${id}:1.0`), [
                    "linux/amd64",
                    "linux/arm64",
                ]);
                for (const p of ["linux/amd64", "linux/arm64"])
                    assert.strictEqual(await builtIn(ref, p), id, `${ref} ${p} holds the other image`);
                assert.deepStrictEqual(await tagsOf(REG, `rel/two-${id}`), ["1.0"], "a stray tag was pushed");
            }
            assert.deepStrictEqual((await s.up(quiet)).summary.resourceChanges, { same: 9 });
        } finally {
            await dispose(s);
        }
        assertNoBuilder(name);
    });

    it("two stacks on one host: neither's destroy touches the other's builder or handlers", async () => {
        removeHandler("qemu-riscv64");
        const program = async () => {
            const qemu = new BinfmtSetup("qemu", { platforms: ["linux/riscv64"] });
            const b = new BuildxBuilder("b", { binfmt: qemu });
            return { builder: b.name, platforms: b.platforms, owned: qemu.ownedHandlers };
        };
        const a = await inlineStack("rel-two-a", program),
            b = await inlineStack("rel-two-b", program);
        const running = (n: string) => /^Status:\s+running$/m.test(sh("docker", ["buildx", "inspect", n]));
        try {
            const oa = (await a.up(quiet)).outputs;
            let ob = (await b.up(quiet)).outputs;
            assert.deepStrictEqual([oa.builder.value, ob.builder.value], ["pm-e2e-rel-two-a-b", "pm-e2e-rel-two-b-b"]);
            assert.deepStrictEqual(
                [oa.owned.value, ob.owned.value],
                [["qemu-riscv64"], []],
                "stack a registered the handler, b uses it",
            );
            assert.ok(ob.platforms.value.includes("linux/riscv64"));

            // b (which uses a's handler) goes first: a keeps its builder and handler.
            await b.destroy(quiet);
            assert.ok(!builders().includes(ob.builder.value));
            assert.ok(running(oa.builder.value), "a's builder was touched");
            assert.ok(hasHandler("qemu-riscv64"), "b's destroy removed a's handler");
            ob = (await b.up(quiet)).outputs;

            // a (which registered the handler) goes first: b still relies on it, so it stays.
            await a.destroy(quiet);
            assert.ok(!builders().includes(oa.builder.value));
            assert.ok(running(ob.builder.value), "b's builder was touched");
            assert.ok(hasHandler("qemu-riscv64"), "a's destroy removed the handler b relies on");
            assert.deepStrictEqual((await b.preview()).changeSummary, { same: 5 }, "b sees drift after a's destroy");

            // The last stack that relies on a handler a stack registered removes it.
            await b.destroy(quiet);
            assert.ok(!hasHandler("qemu-riscv64"), "the handler outlived every stack that used it");
            assertNoBuilder(oa.builder.value);
            assertNoBuilder(ob.builder.value);
        } finally {
            await dispose(a);
            await dispose(b);
            removeHandler("qemu-riscv64");
        }
    });
});

/**
 * One project in a folder, run by `pulumi` itself in its own process group as a CI runner runs
 * it: the CLI, the language host with the program, the plugin with buildx under it. Every test
 * strikes one `up` of the same stack (one builder for all), then checks that nothing of ours
 * runs 5 s later, that no temp folder of ours is left, that the tag is where it was, and that
 * the next `up` (after `pulumi cancel` where the file backend's lock was left) converges.
 */
describe("reliability: a killed or cancelled `pulumi up` leaves nothing running; no child gets a secret it does not need", function () {
    const dir = path.join(ROOT, ".state", "e2e", "rel-faults");
    const ctx = path.join(dir, "ctx");
    const stack = "rel-faults";
    const name = `rel-faults-${process.pid}`;
    const mark = marker("faults");
    const configSecret = `config-secret-${process.pid}-${Date.now()}`;
    const buildSecret = `build-secret-${process.pid}-${Date.now()}`;
    let proxy: Proxy;
    let tag = "";
    /** The CLI's environment: the toolchain's, the program transpiled only (as a CI job would set it). */
    const env = { ...ENV, PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
    const cli = (...args: string[]) => pulumiCli([...args, "--stack", stack, "--non-interactive"], dir, env);
    async function ok(...args: string[]): Promise<string> {
        const r = await cli(...args).exited;
        assert.strictEqual(r.code, 0, `pulumi ${args.join(" ")} failed:\n${r.output.slice(-3000)}`);
        return r.output;
    }
    const outputs = async () => JSON.parse(await ok("stack", "output", "--json"));
    const locks = path.join(ROOT, ".state/pulumi/.pulumi/locks/organization/pm-e2e-faults", stack);
    const locked = () => fs.existsSync(locks) && fs.readdirSync(locks).length > 0;
    /** The version in the image; with "slow" in it, the RUN step runs for a minute with `mark` on its argv. */
    const version = (v: string) => fs.writeFileSync(path.join(ctx, "version"), `${v}\n`);
    /** Seconds until nothing of ours ran, per fault: reported at the end. */
    const measured: Record<string, number> = {};

    before(async function () {
        requireRealParts();
        proxy = await startProxy(PORTS.faults, 5000);
        tag = `${proxy.addr}/rel/faults:1.0`;
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(ctx, { recursive: true });
        // "as" in lower case: BuildKit warns (FromAsCasing), and buildx colours that warning.
        fs.writeFileSync(
            path.join(ctx, "Dockerfile"),
            `FROM ${REG}/fixtures/busybox:latest as base\nCOPY version /version\n` +
                `RUN --mount=type=secret,id=token sh -c 'test -s /run/secrets/token; if grep -q slow /version; then echo ${mark}; sleep 60; fi; cat /version > /built'\n`,
        );
        version("v1");
        fs.writeFileSync(
            path.join(dir, "Pulumi.yaml"),
            "name: pm-e2e-faults\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n",
        );
        // The build secret is a plain string in the program; the config secret is used by nothing.
        fs.writeFileSync(
            path.join(dir, "index.ts"),
            [
                `import { BinfmtSetup, BuildxBuilder, MultiArchImage } from ${JSON.stringify(path.join(ROOT, "components"))};`,
                `const qemu = new BinfmtSetup("qemu", { platforms: ["linux/arm64"] });`,
                `const builder = new BuildxBuilder("b", { name: "${name}", binfmt: qemu, driverOpts: { network: "host" }, buildkitdConfig: ${JSON.stringify(BUILDKITD)} });`,
                `const img = new MultiArchImage("img", { context: "./ctx", platforms: ["linux/amd64", "linux/arm64"], tags: ["${tag}"], builder, secrets: { token: "${buildSecret}" } });`,
                "export const digest = img.digest;",
                "export const ref = img.ref;",
                "export const verification = img.verification;",
                "",
            ].join("\n"),
        );
        if (locked()) await cli("cancel", "--yes").exited; // a run of this file that was killed
        await cli("stack", "rm", "--yes", "--force").exited;
        await ok("stack", "init", "--secrets-provider", SECRETS_PROVIDER);
        const set = spawnSync("pulumi", ["config", "set", "--secret", "conf", "--stack", stack], {
            cwd: dir,
            env: { ...process.env, ...env },
            input: configSecret,
        });
        assert.strictEqual(set.status, 0, String(set.stderr));
    });
    after(async () => {
        await cli("destroy", "--yes", "--skip-preview").exited;
        await cli("stack", "rm", "--yes", "--force").exited;
        proxy?.close();
        assertNoBuilder(name);
        console.log(`      seconds until nothing of ours ran: ${JSON.stringify(measured)}`);
    });

    /** The next up converges: the tag on the complete index it built and verified, the image of `v`. */
    async function converges(v: string): Promise<void> {
        if (locked()) await ok("cancel", "--yes"); // the file backend's lock of the killed run
        version(v);
        await ok("up", "--yes", "--skip-preview");
        const o = await outputs();
        assert.strictEqual(await tagDigest(tag), o.digest, "the tag is not on the image this up built");
        assert.deepStrictEqual(Object.keys(o.verification).sort(), ["linux/amd64", "linux/arm64"], "not verified");
        assert.strictEqual(await builtIn(o.ref.replace(proxy.addr, REG), "linux/arm64"), v);
    }

    /**
     * Starts an up that builds `v` (slow), waits for `strikeAt`, runs `strike` on the CLI; then
     * nothing of ours (the tree under the CLI but Pulumi's language host, and the RUN step) may
     * run 5 s later, and no temp folder of theirs may be left. Returns what the CLI printed.
     */
    async function struck(
        fault: string,
        v: string,
        strikeAt: () => Promise<unknown>,
        strike: (up: Cli, tree: Proc[]) => void,
        opts: { pluginKilled?: boolean } = {},
    ): Promise<{ output: string; ours: number[] }> {
        const before = await tagDigest(tag);
        version(v);
        const up = cli("up", "--yes", "--skip-preview");
        let timer: NodeJS.Timeout | undefined;
        try {
            await Promise.race([
                strikeAt(),
                up.exited.then((r) => {
                    throw new Error(
                        `pulumi up ended (${r.code}) before the moment to strike:\n${r.output.slice(-3000)}`,
                    );
                }),
                new Promise((_, reject) => {
                    timer = setTimeout(
                        () =>
                            reject(
                                new Error(
                                    `the moment to strike did not come in 3 minutes:\n${up.output().slice(-3000)}`,
                                ),
                            ),
                        180_000,
                    );
                }),
            ]);
        } catch (e) {
            try {
                process.kill(-up.pid, "SIGKILL");
            } catch {
                /* ended */
            }
            throw e;
        } finally {
            clearTimeout(timer);
        }
        const tree = processTree(up.pid);
        assert.ok(
            tree.some((p) => /pulumi-resource-multiarch/.test(p.argv)),
            "no plugin under the CLI",
        );
        const ours = tree.filter((p) => !isLanguageHost(p)).map((p) => p.pid);
        strike(up, tree);
        try {
            measured[fault] = await secondsUntilGone(ours, mark, 5000);
        } finally {
            // Pulumi's language host waits for its 5-minute health check: not ours, stopped here.
            for (const p of tree.filter(isLanguageHost))
                try {
                    process.kill(p.pid, "SIGKILL");
                } catch {
                    /* gone */
                }
        }
        // A plugin killed with SIGKILL cannot remove its own folder: the next run sweeps it (checked by the caller).
        if (!opts.pluginKilled) assert.deepStrictEqual(tempFoldersOf(ours), [], "a temp folder of ours is left");
        assert.strictEqual(await tagDigest(tag), before, "the tag moved during an interrupted up");
        return { output: (await up.exited).output, ours };
    }
    const killGroup = (up: Cli) => process.kill(-up.pid, "SIGKILL");

    it("preview and up of a stack with a config secret and a plain-string build secret: no child gets a Pulumi variable or a secret but its own; neither secret is in `--debug` output or on any argv", async () => {
        const needles = { configSecret, buildSecret };
        const { result: printed, sightings } = await sampleProcesses(needles, async () => {
            const preview = await ok("preview", "--debug");
            const up = await ok("up", "--yes", "--skip-preview", "--debug");
            return preview + up;
        });
        for (const [what, value] of Object.entries(needles))
            assert.ok(!printed.includes(value), `the ${what} is in the --debug output`);
        assert.match(printed, /debug: RegisterResource RPC finished: resource:img-image/, "no debug output");
        assert.match(printed, /built linux\/amd64,linux\/arm64 -> sha256:/);
        assert.match(printed, /1 warning found \(use docker --debug to expand\)/, "buildx's warning was not forwarded");
        assert.ok(!printed.includes("\x1b"), "raw terminal escapes in the output");
        assert.deepStrictEqual(
            sightings.filter((s) => s.argvHas.length).map((s) => s.argv),
            [],
            "a secret on a command line",
        );
        // Our children: every process that the program or the plugin (under a pulumi of this stack) started.
        const latest = new Map(sightings.map((x) => [x.pid, x]));
        const ancestors = (x: Sighting): Sighting[] => {
            const up: Sighting[] = [];
            for (let p = latest.get(x.ppid); p && up.length < 12 && !up.includes(p); p = latest.get(p.ppid)) up.push(p);
            return up;
        };
        const isCli = (x: Sighting) => /^pulumi (preview|up) .*--stack rel-faults/.test(x.argv);
        const isOurs = (x: Sighting) =>
            /pulumi-resource-multiarch |@pulumi\/pulumi\/cmd\/run\/index\.js/.test(x.argv) && ancestors(x).some(isCli);
        const children = sightings.filter((x) => !isOurs(x) && ancestors(x).some(isOurs));
        assert.ok(
            sightings.some((x) => isOurs(x) && /cmd\/run/.test(x.argv) && x.envHas.includes("configSecret")),
            "the sampler did not see PULUMI_CONFIG in the program's environment: it sees nothing",
        );
        assert.ok(
            children.some((x) => /^docker buildx (ls|build --builder \S+ --call)/.test(x.argv)),
            `no program-side child seen: ${children.map((c) => c.argv).join(" | ")}`,
        );
        // The build and what docker runs for it (its plugin's metadata query) hold the build secret: theirs.
        const isBuild = (x: Sighting) =>
            /buildx build --builder \S+ --platform .*--secret id=token,env=MULTIARCH_BUILD_SECRET_0/.test(x.argv);
        const builds = children.filter((x) => isBuild(x) || ancestors(x).some(isBuild));
        assert.ok(
            builds.some((x) => isBuild(x) && x.envHas.includes("buildSecret")),
            "no build seen with its secret in its environment",
        );
        const leaks = children.filter(
            (x) =>
                x.pulumiVars.length ||
                x.envHas.includes("configSecret") ||
                (x.envHas.includes("buildSecret") && !builds.includes(x)),
        );
        assert.deepStrictEqual(
            leaks.map((x) => `${x.argv.slice(0, 120)}: ${[...x.pulumiVars, ...x.envHas].join(", ")}`),
            [],
            "a child got what it does not need",
        );
        // The engine's answer to the program carries no secret value: the Image outputs no `secrets`.
        const image = JSON.parse(await ok("stack", "export")).deployment.resources.find(
            (r: any) => r.type === "multiarch:index:Image",
        );
        assert.ok(
            !("secrets" in image.outputs) && image.outputs.secretsRevision === 0,
            JSON.stringify(Object.keys(image.outputs)),
        );
        assert.strictEqual(await tagDigest(tag), (await outputs()).digest);
    });

    it("SIGKILL of the CLI's process group during the build: the plugin stops buildx and exits; the next up converges", async () => {
        await struck("SIGKILL during the build", "v2 slow", () => whenProcess(mark), killGroup);
        await converges("v2");
    });

    it("SIGKILL of the CLI's process group during verification", async () => {
        // Verification reads the pushed blobs back: the first read is held, the CLI killed.
        await struck(
            "SIGKILL during verification",
            "v3",
            () => proxy.hold((m, u) => m === "GET" && /\/blobs\/sha256:/.test(u)),
            killGroup,
        );
        await converges("v3");
    });

    it("SIGKILL of the CLI's process group during the tag move", async () => {
        await struck(
            "SIGKILL during the tag move",
            "v4",
            () => proxy.hold((m, u) => m === "PUT" && u === "/v2/rel/faults/manifests/1.0"),
            killGroup,
        );
        await converges("v4");
    });

    it("SIGINT once during the build (the engine's Cancel): the builds stop at once, the update fails cleanly, the next up converges", async () => {
        const { output: out } = await struck(
            "SIGINT once",
            "v5 slow",
            () => whenProcess(mark),
            (up) => process.kill(-up.pid, "SIGINT"),
        );
        assert.match(out, /was stopped: the update was cancelled \(Ctrl-C\): no tag was moved; run `pulumi up` again/);
        assert.ok(!locked(), "a cancelled up left the stack locked");
        assert.deepStrictEqual(JSON.parse(await ok("stack", "export")).deployment.pending_operations ?? [], []);
        await converges("v5");
    });

    it("SIGINT twice during the build: pulumi ends at once, nothing of ours runs on, the next up converges", async () => {
        const { output: out } = await struck(
            "SIGINT twice",
            "v6 slow",
            () => whenProcess(mark),
            (up) => {
                process.kill(-up.pid, "SIGINT");
                setTimeout(() => {
                    try {
                        process.kill(-up.pid, "SIGINT");
                    } catch {
                        /* already gone */
                    }
                }, 100);
            },
        );
        assert.match(out, /\^C received; terminating|update canceled|was stopped: the update was cancelled/);
        await converges("v6");
    });

    it("the plugin process killed alone during the build: buildx stops, pulumi fails the update, the next up converges and sweeps the plugin's temp folder", async () => {
        const { output, ours } = await struck(
            "plugin SIGKILLed alone",
            "v7 slow",
            () => whenProcess(mark),
            (_up, tree) => {
                for (const p of tree.filter((x) => /pulumi-resource-multiarch/.test(x.argv)))
                    process.kill(p.pid, "SIGKILL");
            },
            { pluginKilled: true },
        );
        assert.match(output, /error/i);
        assert.notDeepStrictEqual(tempFoldersOf(ours), [], "the killed plugin had no temp folder: this tests nothing");
        await converges("v7");
        assert.deepStrictEqual(tempFoldersOf(ours), [], "the next up did not sweep the killed plugin's temp folder");
    });
});

describe("reliability: bad input refused at preview with the property path and the fix, nothing created", function () {
    before(() => requireRealParts());
    const name = `rel-badinput-${process.pid}`;
    const app = path.join(ROOT, "app");

    /** Runs `pulumi preview` of the program, expecting it to fail; checks nothing was created. */
    async function refused(stackName: string, program: () => Promise<unknown>): Promise<string> {
        const s = await inlineStack(stackName, program as any);
        try {
            const text = await failure(() => s.preview());
            const resources = (await s.exportStack()).deployment.resources ?? [];
            assert.deepStrictEqual(
                resources.map((r: any) => r.type),
                [],
                "preview left resources in the state",
            );
            assert.ok(!builders().includes(name), "preview created the builder");
            return text;
        } finally {
            await dispose(s);
        }
    }
    const image = (args: Partial<MultiArchImageArgs>) =>
        imageProgram(name, { context: app, platforms: ["linux/amd64"], tags: [`${REG}/rel/never:1.0`], ...args });

    it("invalid and unknown platform strings, and an invalid image reference: every property path in one error", async () => {
        const text = await refused(
            "rel-bad-platforms",
            image({
                platforms: ["linux/arm65", "linux", "windows/amd64", "linux/arm64/v9"],
                tags: ["127.0.0.1:5000/Bad Tag:1"],
            }),
        );
        assert.match(
            text,
            /platforms\[0\]: "linux\/arm65": unknown architecture "arm65"; use one of linux\/386, linux\/amd64/,
        );
        assert.match(text, /platforms\[1\]: "linux" is not a platform: write os\/arch\[\/variant\]/);
        assert.match(text, /platforms\[2\]: "windows\/amd64": only linux images can be built here/);
        assert.match(text, /platforms\[3\]: "linux\/arm64\/v9": unknown variant "v9" for arm64; known: v8/);
        assert.match(
            text,
            /tags\[0\]: "127\.0\.0\.1:5000\/Bad Tag:1" is not an image reference: write registry\/repository:tag/,
        );
    });

    // Each other refusal of a program-side field (empty platforms, a context or Dockerfile that
    // does not exist, an emulator-install image not pinned) is proven by the unit tests
    // (tests/unit/contexts.test.ts, binfmt.test.ts); the case above proves the engine's part:
    // a refusal at preview creates nothing.
    it("an unreachable registry", async () => {
        const text = await refused(
            "rel-bad-unreachable",
            image({ tags: [`127.0.0.1:${PORTS.nothing}/rel/never:1.0`] }),
        );
        assert.match(
            text,
            /property tags value .* has a problem: preview ping: the registry 127\.0\.0\.1:5019 does not answer as a registry \(GET http:\/\/127\.0\.0\.1:5019\/v2\/: connect ECONNREFUSED 127\.0\.0\.1:5019\): start it, or fix the registry in tags/,
        );
    });

    it("wrong credentials: one clear message at preview, and only a few requests (no retry storm)", async () => {
        const auth = await startAuthRegistry(PORTS.auth);
        const proxy = await startProxy(PORTS.authProxy, PORTS.auth);
        const tag = `${proxy.addr}/rel/denied:1.0`;
        try {
            const program = image({
                tags: [tag],
                registry: { username: auth.username, password: pulumi.secret("wrong-password") },
            });
            const text = await refused("rel-bad-login", program);
            assert.match(
                text,
                /property registry .* has a problem: preview ping: 127\.0\.0\.1:5013 refused the login of ci from the resource's registry args \(401\): check registry\.username and registry\.password/,
            );
            assert.ok(!text.includes("wrong-password"), "the password is in the message");
            assert.ok(
                proxy.requests.length <= 2,
                `preview sent ${proxy.requests.length} requests: ${proxy.requests.join(", ")}`,
            );
            // up stops at the same check, before any build or push.
            const s = await inlineStack("rel-bad-login-up", program as any);
            try {
                const before = proxy.requests.length;
                const upText = await failure(() => s.up(quiet));
                assert.match(upText, /refused the login of ci/);
                const sent = proxy.requests.slice(before);
                assert.ok(sent.length <= 2, `up sent ${sent.length} requests: ${sent.join(", ")}`);
                assert.ok(!sent.some((r) => /blobs|manifests/.test(r)), `up tried to push: ${sent.join(", ")}`);
            } finally {
                await dispose(s);
            }
            assert.deepStrictEqual(await tagsOf(auth.addr, "rel/denied").catch(() => []), []);
        } finally {
            proxy.close();
            auth.stop();
        }
    });
});

/** Pulumi's own verbose log lines that print resource inputs and outputs as they are, secrets included. */
const PULUMI_OWN_LOGGING =
    /^(Marshaling property for RPC|Unmarshaling property for RPC|Planner decided to \w+ |RegisterResource RPC finished: |eventSink::Debug\(<\{%reset%\}>RegisterResource RPC finished: )/;

describe("reliability: secrets never in state, argv or logs", function () {
    before(() => requireRealParts());

    it("a registry password and a build secret: not in the state (nor its history), any argv, the engine's output, BuildKit's log, or a verbose log line but Pulumi's own property dumps", async () => {
        const auth = await startAuthRegistry(PORTS.auth);
        const name = `rel-secrets-${process.pid}`;
        const buildSecret = `bs-${process.pid}-${Date.now()}`;
        const dir = path.join(ROOT, ".state", "e2e", "contexts", "rel-secrets");
        fs.mkdirSync(dir, { recursive: true });
        // The RUN step proves the secret arrived by its length; the value itself must appear nowhere.
        fs.writeFileSync(
            path.join(dir, "Dockerfile"),
            `FROM ${REG}/fixtures/busybox:latest\nRUN --mount=type=secret,id=token sh -c 'test $(wc -c < /run/secrets/token) -eq ${buildSecret.length} && sleep 2 && echo token-ok > /ok'\n`,
        );
        const s = await inlineStack(
            "rel-secrets",
            imageProgram(name, {
                context: dir,
                platforms: ["linux/amd64", "linux/arm64"],
                tags: [`${auth.addr}/rel/private:1.0`],
                registry: { username: auth.username, password: pulumi.secret(auth.password) },
                secrets: { token: pulumi.secret(buildSecret) },
            }),
        );
        try {
            // The engine's output (stdout) of up, refresh and preview --diff; and up's verbose
            // logs (-v=9, flowing to the providers) on stderr.
            const output: string[] = [];
            let logs = "";
            const { result: secretArgv, seen: passwordArgv } = await argvContaining(auth.password, async () => {
                const { seen } = await argvContaining(buildSecret, async () => {
                    const res = await s.up({
                        onOutput: (l) => output.push(l),
                        logToStdErr: true,
                        logVerbosity: 9,
                        logFlow: true,
                    });
                    logs = res.stderr;
                    await s.refresh({ onOutput: (l) => output.push(l) });
                    output.push((await s.preview({ diff: true })).stdout);
                });
                return seen;
            });
            assert.deepStrictEqual(passwordArgv, [], "the registry password was on a command line");
            assert.deepStrictEqual(secretArgv, [], "the build secret was on a command line");
            assert.match(output.join(""), /built linux\/amd64,linux\/arm64 -> sha256:/, "not the build's output");
            // Verbose logs that reached the plugin (logFlow): its gRPC calls are logged.
            assert.ok(logs.length > 100_000, `verbose logs expected, got ${logs.length} characters`);
            assert.match(logs, /resource-multiarch/, "the verbose logs do not show the plugin");
            const buildkitLogs = sh("sh", ["-c", `docker logs buildx_buildkit_${name}0 2>&1`]);
            const { exported, onDisk } = stateTexts(s);
            for (const [what, value] of [
                ["registry password", auth.password],
                ["build secret", buildSecret],
            ]) {
                assert.ok(!output.join("").includes(value), `the ${what} is in the engine's output`);
                assert.ok(!exported.includes(value) && !onDisk.includes(value), `the ${what} is in the state`);
                const files = sh("sh", ["-c", `grep -rlF -- "$0" ${ROOT}/.state/pulumi || true`, value]).trim();
                assert.strictEqual(files, "", `the ${what} is in the backend's files (history, backups)`);
                assert.ok(!buildkitLogs.includes(value), `the ${what} is in BuildKit's log`);
                // Pulumi's own verbose logging prints resource inputs and outputs, secrets included
                // (docs/RELIABILITY.md); nothing else may: not our provider, buildx or BuildKit.
                const foreign = logs
                    .split("\n")
                    .filter((l) => l.includes(value))
                    .filter((l) => {
                        try {
                            return !PULUMI_OWN_LOGGING.test(JSON.parse(l).msg);
                        } catch {
                            return true;
                        }
                    });
                assert.deepStrictEqual(
                    foreign.map((l) => l.slice(0, 300)),
                    [],
                    `the ${what} is in a log line that is not Pulumi's own`,
                );
            }
        } finally {
            await dispose(s);
            auth.stop();
        }
        assertNoBuilder(name);
    });
});

describe("reliability: registry content", function () {
    before(() => requireRealParts());

    it("per-arch tags: a failed arm64 build moves no tag; a failed tag move puts the moved tags back and says so; the next up moves all", async () => {
        let refuseArm64Tag = false;
        const proxy = await startProxy(PORTS.perArch, 5000, (method, url) =>
            refuseArm64Tag && method === "PUT" && url === "/v2/rel/perarch/manifests/1.0-arm64" ? 500 : undefined,
        );
        const name = `rel-perarch-${process.pid}`;
        const dir = path.join(ROOT, ".state", "e2e", "contexts", "rel-perarch");
        fs.mkdirSync(dir, { recursive: true });
        // A version containing "fail-arm64" makes the arm64 build fail at once, while amd64 builds on.
        fs.writeFileSync(
            path.join(dir, "Dockerfile"),
            `FROM ${REG}/fixtures/busybox:latest\nCOPY version /version\n` +
                `RUN if grep -q fail-arm64 /version; then [ "$(uname -m)" = aarch64 ] && exit 3; sleep 4; fi; cat /version > /built\n`,
        );
        setVersion(dir, "v1");
        const tag = (arch: string) => `${proxy.addr}/rel/perarch:1.0-${arch}`;
        const digests = async () => [await tagDigest(tag("amd64")), await tagDigest(tag("arm64"))];
        const s = await inlineStack(
            "rel-perarch",
            imageProgram(name, {
                context: dir,
                platforms: ["linux/amd64", "linux/arm64"],
                tags: [`${proxy.addr}/rel/perarch:1.0`],
                manifest: "per-arch-tags",
            }),
        );
        try {
            const first = (await s.up(quiet)).outputs;
            assert.deepStrictEqual(first.tags.value, [tag("amd64"), tag("arm64")]);
            const v1 = await digests();
            assert.deepStrictEqual(v1, [
                first.platformDigests.value["linux/amd64"],
                first.platformDigests.value["linux/arm64"],
            ]);

            setVersion(dir, "v2 fail-arm64");
            const buildFailed = await failure(() => s.up(quiet));
            assert.match(buildFailed, /exit code: 3/);
            assert.deepStrictEqual(await digests(), v1, "a tag moved although the arm64 build failed");
            assert.deepStrictEqual(pidsWith(["buildx", "build", name]), [], "the amd64 build outlived the failed run");

            setVersion(dir, "v3");
            refuseArm64Tag = true;
            const moveFailed = await failure(() => s.up(quiet));
            assert.match(
                moveFailed,
                /moving tag 127\.0\.0\.1:5011\/rel\/perarch:1\.0-arm64 failed \(.*500.*\); put 1\.0-amd64 back where it was, so no tag moved to this build; run `pulumi up` again/,
            );
            assert.deepStrictEqual(await digests(), v1, "one architecture's tag is newer than the other's");

            refuseArm64Tag = false;
            const last = await s.up(quiet);
            assert.deepStrictEqual(last.summary.resourceChanges, { update: 1, same: 6 });
            assert.deepStrictEqual(await digests(), [
                last.outputs.platformDigests.value["linux/amd64"],
                last.outputs.platformDigests.value["linux/arm64"],
            ]);
            for (const arch of ["amd64", "arm64"]) {
                assert.strictEqual(
                    runImage(
                        `linux/${arch}`,
                        `${REG}/rel/perarch@${last.outputs.platformDigests.value[`linux/${arch}`]}`,
                        "cat",
                        "/built",
                    ).trim(),
                    "v3",
                );
            }
            assert.deepStrictEqual(
                await tagsOf(REG, "rel/perarch"),
                ["1.0-amd64", "1.0-arm64"],
                "a stray tag was pushed",
            );
            assert.deepStrictEqual((await s.up(quiet)).summary.resourceChanges, { same: 7 });
        } finally {
            await dispose(s);
            proxy.close();
        }
        assertNoBuilder(name);
    });
});
