// The build plan (issue 23) through the real engine, BuildKit, QEMU and the fleet: one stack of
// five images on two builders of its own: a docker-container builder on this machine (a native
// amd64 node that runs arm64 through the machine's QEMU handler) and the fleet (stack
// multinode's two daemons over mutual TLS, one node per platform). A multi-stage C build (with
// a stand-in compiler: no arm64 C toolchain image is reachable here, so a busybox script does
// the compile's CPU work, for real under QEMU for arm64) on each builder, built; previewed
// only: the article's two Dockerfiles (image.test.ts builds that app) and a final stage pinned
// to linux/amd64 built for linux/arm64 (the article's pitfall: its up fails at verification).
// The fresh stack's first preview (no builder exists yet): the pinned final stage's warning,
// the plan of every image per platform and stage, the compile warning only where the stage
// really runs emulated. Then up (the cost read from the build's history into the state), a
// no-op up, and the next preview: the last build's emulated time and steps, BuildKit's own
// check through the builder that now exists. Destroy.
import * as pulumi from "@pulumi/pulumi";
import { type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { BuildxBuilder, MultiArchImage, type MultiArchImageArgs } from "../../components";
import { builderGone, requireRealParts, ROOT, sh } from "../support/env";
import { FLEET_ENDPOINTS, MACHINE_TLS, requireFleet } from "../support/fleet";
import { dispose, inlineStack } from "../support/stack";

const REG = "127.0.0.1:5000";
const BUSYBOX = `${REG}/fixtures/busybox:latest`;
const BOTH = ["linux/amd64", "linux/arm64"];
const BUILDKITD = `[registry."${REG}"]\n  http = true\n`;

/** A stand-in C compiler: busybox's shell spends CPU in proportion to nothing but a loop, then writes the program. */
const CC =
    "#!/bin/sh\n# cc -o OUT SRC\nset -e\nn=0\nwhile [ $n -lt 60000 ]; do n=$((n+1)); done\n" +
    'printf \'#!/bin/sh\\necho hello from %s\\n\' "$(uname -m)" > "$2"\nchmod +x "$2"\n';
/** The multi-stage C build, the emulated way: its compile stage has no --platform; the final stage's RUN must run on the target. */
const C_DOCKERFILE = [
    `FROM ${BUSYBOX} AS build`,
    "COPY cc /usr/local/bin/cc",
    "COPY hello.c /src/",
    "RUN mkdir -p /out && cc -o /out/hello /src/hello.c",
    `FROM ${BUSYBOX}`,
    "RUN echo app:x:1000:1000::/tmp:/bin/sh >> /etc/passwd",
    "COPY --from=build /out/hello /usr/local/bin/hello",
    "USER app",
    'ENTRYPOINT ["/usr/local/bin/hello"]',
    "",
].join("\n");
/** The article's pitfall: the last FROM pinned to linux/amd64. */
const PINNED = [
    `FROM ${BUSYBOX} AS build`,
    "RUN echo built > /built",
    `FROM --platform=linux/amd64 ${BUSYBOX}`,
    "COPY --from=build /built /built",
    "",
].join("\n");

function context(name: string, files: Record<string, string>): string {
    const dir = path.join(ROOT, ".state", "e2e", "contexts", `plan-${name}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files))
        fs.writeFileSync(path.join(dir, f), text, { mode: f === "cc" ? 0o755 : 0o644 });
    return dir;
}

/** The diagnostics the engine showed, per resource name: the provider's info lines and warnings, the program's warnings. */
function collector() {
    const diags: { resource: string; severity: string; message: string }[] = [];
    const onEvent = (e: EngineEvent) => {
        const d = e.diagnosticEvent;
        if (d)
            diags.push({
                resource:
                    String(d.urn ?? "")
                        .split("::")
                        .pop() ?? "",
                severity: d.severity,
                message: d.message.trim(),
            });
    };
    const of = (resource: string, severity?: string) =>
        diags.filter((d) => d.resource === resource && (!severity || d.severity === severity)).map((d) => d.message);
    return { onEvent, of, all: diags };
}

describe("the build plan: per image, platform and stage, with what emulation cost the last build", function () {
    const id = process.pid;
    const LOCAL = `pm-e2e-plan-${id}`;
    const FLEET = `pm-e2e-plan-fleet-${id}`;
    const repo = (n: string) => `${REG}/e2e/plan-${id}/${n}`;
    let stack: Stack;
    // The article's images and the pinned one are previewed only: image.test.ts builds the
    // article's app, and the pinned final stage fails its up at verification by design.
    let previewOnly = true;

    before(async () => {
        requireRealParts();
        requireFleet();
        const hello = { "hello.c": "int main(void) { return 0; }\n", cc: CC };
        const ctx = {
            cross: path.join(ROOT, "app"),
            c: context("c", { ...hello, Dockerfile: C_DOCKERFILE }),
            pinned: context("pinned", { Dockerfile: PINNED }),
        };
        const read = (f: string) => pulumi.secret(fs.readFileSync(f, "utf8"));
        const tls = { cacert: read(MACHINE_TLS.ca), cert: read(MACHINE_TLS.cert), key: read(MACHINE_TLS.key) };
        stack = await inlineStack("e2e-plan", async () => {
            const local = new BuildxBuilder("local", {
                name: LOCAL,
                driverOpts: { network: "host" },
                buildkitdConfig: BUILDKITD,
            });
            const fleet = new BuildxBuilder("fleet", {
                name: FLEET,
                driver: "remote",
                endpoint: FLEET_ENDPOINTS.amd64,
                platforms: ["linux/amd64"],
                tls,
                nodes: [{ name: "arm64", endpoint: FLEET_ENDPOINTS.arm64, platforms: ["linux/arm64"], tls }],
            });
            const images: Record<string, MultiArchImageArgs> = {
                c: { context: ctx.c, platforms: BOTH, tags: [`${repo("c")}:1`], builder: local, verify: false },
                "c-fleet": {
                    context: ctx.c,
                    platforms: BOTH,
                    tags: [`${repo("c-fleet")}:1`],
                    builder: fleet,
                    verify: false,
                },
                ...(previewOnly
                    ? {
                          // The article's first way, as examples/emulated has it: its build stage runs on the target platform.
                          emulated: {
                              context: ctx.cross,
                              dockerfile: path.join(ROOT, "examples", "emulated", "Dockerfile"),
                              platforms: BOTH,
                              tags: [`${repo("emulated")}:1`],
                              builder: local,
                          },
                          // The article's second way (app/Dockerfile): the build stage on the build platform, Go cross-compiles.
                          cross: { context: ctx.cross, platforms: BOTH, tags: [`${repo("cross")}:1`], builder: local },
                          pinned: {
                              context: ctx.pinned,
                              platforms: ["linux/arm64"],
                              tags: [`${repo("pinned")}:1`],
                              builder: local,
                          },
                      }
                    : {}),
            };
            const out: Record<string, unknown> = {};
            for (const [n, a] of Object.entries(images)) {
                const img = new MultiArchImage(n, a);
                out[n] = { plan: img.buildPlan, cost: img.emulationCost };
            }
            return out;
        });
    });
    after(async () => {
        await dispose(stack);
        // A run killed mid-up leaves its builders: gone with the stack, else here.
        for (const b of [LOCAL, FLEET])
            try {
                sh("docker", ["buildx", "rm", "-f", b]);
            } catch {
                /* already gone */
            }
    });

    it("a fresh stack's first preview: the pinned final stage warned with its rule, line and meaning; each image's plan; compile warnings only where emulated", async () => {
        assert.ok(builderGone(LOCAL) && builderGone(FLEET), "the stack's builders exist before its first up");
        const d = collector();
        await stack.preview({ onEvent: d.onEvent, onOutput: () => {} });
        // 0. No builder exists yet: the library's rule stands in for BuildKit's, and says what it means.
        const pinned = d.of("pinned", "warning").join("\n");
        assert.match(
            pinned,
            /Dockerfile:3: the final stage pins --platform=linux\/amd64: every other target \(linux\/arm64\) gets linux\/amd64's base and fails at docker run with "exec format error"/,
        );
        assert.match(pinned, /\[final-stage-platform, in place of BuildKit's FromPlatformFlagConstDisallowed\]/);

        // 1. The plan, per platform: the node and how; per stage: where it runs.
        const plan = (n: string) => d.of(`${n}-image`, "info").find((m) => m.startsWith("build plan on builder"))!;
        const emulated = plan("emulated");
        assert.ok(emulated, `no plan for image emulated: ${JSON.stringify(d.all)}`);
        assert.match(
            emulated,
            new RegExp(`^build plan on builder ${LOCAL}:\\n  linux/amd64: node ${LOCAL}0 \\(linux/amd64\\), native\\n`),
        );
        assert.match(
            emulated,
            new RegExp(`  linux/arm64: node ${LOCAL}0 \\(linux/amd64\\), emulated through qemu-aarch64 \\(/\\S+\\)\\n`),
        );
        // fixtures/golang holds amd64 only: BuildKit runs that one for arm64, so the compile is not emulated (and not warned).
        assert.match(
            emulated,
            /    build, line 9: linux\/arm64, no --platform: the target platform; 1 RUN: native \(127\.0\.0\.1:5000\/fixtures\/golang:latest has no linux\/arm64 image: BuildKit takes its linux\/amd64 one/,
        );
        assert.match(
            plan("cross"),
            /  linux\/arm64: .*\n    build, line 5: linux\/amd64, FROM --platform=\$BUILDPLATFORM: the build platform; 1 RUN: native\n    stage-1 \(final\), line 11: linux\/arm64, no --platform: the target platform; no RUN: nothing executes/,
        );
        assert.match(
            plan("c"),
            /  linux\/arm64: .*emulated through .*\n    build, line 1: linux\/arm64, no --platform: the target platform; 1 RUN: emulated\n    stage-1 \(final\), line 5: linux\/arm64, no --platform: the target platform; 1 RUN: emulated/,
        );
        const fleet = plan("c-fleet");
        assert.match(
            fleet,
            new RegExp(
                `  linux/amd64: node ${FLEET}0 \\(linux/amd64\\), native\\n[^]*  linux/arm64: node arm64 \\(linux/arm64\\), native\\n    build, line 1: linux/arm64, no --platform: the target platform; 1 RUN: native`,
            ),
        );
        assert.doesNotMatch(fleet, /emulated/);

        // 3. The compile warning: the C build's compile stage on the local builder, nothing else (not its final stage's RUN, not the fleet, not cross).
        const compileWarnings = d.all.filter((x) => x.severity === "warning" && /runs under emulation/.test(x.message));
        assert.deepStrictEqual(
            compileWarnings.map((x) => x.resource),
            ["c-image"],
            JSON.stringify(compileWarnings),
        );
        assert.match(
            compileWarnings[0].message,
            /^line 4: a C\/C\+\+ compile in stage build runs under emulation for linux\/arm64 \(no --platform: the target platform\), typically several times slower\. Fix: start the stage with `FROM --platform=\$BUILDPLATFORM` and compile with a cross compiler/,
        );
    });

    it("up: each image's plan in its outputs; the emulated RUN steps' time read from the builder's history into the state; a no-op up", async () => {
        previewOnly = false;
        const up = await stack.up({ onOutput: () => {} });
        const o = Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
        const stages = (n: string, p: string) =>
            o[n].plan
                .find((x: any) => x.platform === p)
                .stages.map((s: any) => `${s.stage} ${s.runsOn} ${s.emulated ? "emulated" : "native"}`);
        assert.deepStrictEqual(
            o.c.plan.map((p: any) => [p.platform, p.node, p.mode]),
            [
                ["linux/amd64", `${LOCAL}0`, "native"],
                ["linux/arm64", `${LOCAL}0`, "emulated"],
            ],
        );
        assert.deepStrictEqual(stages("c", "linux/arm64"), ["build target emulated", "stage-1 target emulated"]);
        assert.deepStrictEqual(
            o["c-fleet"].plan.map((p: any) => [p.platform, p.node, p.mode]),
            [
                ["linux/amd64", `${FLEET}0`, "native"],
                ["linux/arm64", "arm64", "native"],
            ],
        );

        // 2. The cost, from the history of the build that just ran: the C compile and the final stage's RUN for arm64.
        const cost = o.c.cost;
        assert.strictEqual(cost.unknown, undefined, JSON.stringify(cost));
        assert.ok(
            cost.records.length >= 1 && cost.records.every((r: string) => r.startsWith(`${LOCAL}/`)),
            JSON.stringify(cost.records),
        );
        assert.deepStrictEqual(cost.steps.map((s: any) => [s.platform, s.stage, s.step]).sort(), [
            ["linux/arm64", "build", "RUN mkdir -p /out && cc -o /out/hello /src/hello.c"],
            ["linux/arm64", "stage-1", "RUN echo app:x:1000:1000::/tmp:/bin/sh >> /etc/passwd"],
        ]);
        const compile = cost.steps.find((s: any) => s.stage === "build");
        assert.ok(compile.seconds > 0, JSON.stringify(cost));
        // buildx's own account of that record says the same time for the step (its plain log: "#12 DONE 2.6s").
        const logs = spawnSync(
            "docker",
            ["buildx", "history", "logs", "--builder", LOCAL, "--progress", "plain", cost.records[0].split("/").pop()],
            { encoding: "utf8" },
        );
        const plain = `${logs.stdout}${logs.stderr}`; // buildx prints the progress on stderr
        const vertex = /^#(\d+) \[linux\/arm64 build 4\/4\] RUN mkdir -p \/out && cc/m.exec(plain);
        assert.ok(vertex, plain);
        const done = new RegExp(`^#${vertex[1]} DONE (\\d+\\.\\d)s$`, "m").exec(plain);
        assert.ok(done && Math.abs(Number(done[1]) - compile.seconds) <= 0.2, `${done?.[0]} vs ${compile.seconds} s`);
        assert.deepStrictEqual(
            o["c-fleet"].cost.steps,
            [],
            `the fleet emulates nothing: ${JSON.stringify(o["c-fleet"].cost)}`,
        );

        const again = await stack.up({ onOutput: () => {} });
        assert.deepStrictEqual(
            again.summary.resourceChanges,
            { same: again.summary.resourceChanges!.same },
            "a no-op up changes nothing",
        );
    });

    it("the next preview: the last build's emulated time and the RUN steps that took it, in the plan and the compile warning; BuildKit's check now runs, with what it means", async () => {
        previewOnly = true;
        const d = collector();
        await stack.preview({ onEvent: d.onEvent, onOutput: () => {} });
        const c = d.of("c-image", "info").find((m) => m.startsWith("build plan on builder"))!;
        const last =
            /\n  last build: (\d+\.\d) s of RUN steps under emulation \(linux\/arm64 (\d+\.\d) s\)\n    (\d+\.\d) s  \[linux\/arm64 (\S+)\] (RUN .*)/.exec(
                c,
            );
        assert.ok(last, c);
        assert.ok(Number(last[1]) > 0);
        const warning = d.of("c-image", "warning").find((m) => /runs under emulation/.test(m))!;
        assert.match(warning, /; the last build spent \d+\.\d s \(linux\/arm64\) on it\. Fix: /);
        assert.doesNotMatch(d.of("c-fleet-image", "info").join("\n"), /last build: [1-9]/);
        // 0. With the builder there, BuildKit's own rule, and what it means for this build.
        const pinned = d.of("pinned", "warning").join("\n");
        assert.match(
            pinned,
            /Dockerfile:3: FROM --platform flag should not use constant value "linux\/amd64": this is the final stage, so every other target \(linux\/arm64\) gets linux\/amd64's base and fails at docker run with "exec format error".*\[BuildKit FromPlatformFlagConstDisallowed/,
        );
    });
});
