// The build plan on Dockerfile text: the stage graph (which stages a target needs, where each
// runs), the node buildx picks per platform (real `buildx ls` and buildx-store captures), the
// compile advice, and the emulated time read back from real BuildKit history captures.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

import {
    compileAdvice,
    declaredNodes,
    describePlan,
    listedNodes,
    nodeFor,
    planBuild,
    type PlanNode,
    type PlatformPlan,
} from "../../core/buildPlan";
import { parseDeclared, parseLs } from "../../core/buildx";
import { emulatedSteps, parseRawLogs, parseStepName } from "../../core/history";
import { neededStages, parseStages, stageLabel } from "../../core/stages";

const ROOT = path.join(__dirname, "..", "..");
const fixture = (name: string) => fs.readFileSync(path.join(ROOT, "tests", "fixtures", name), "utf8");
const df = (name: string) => fixture(path.join("dockerfiles", name));
const BOTH = ["linux/amd64", "linux/arm64"];
const QEMU = { "linux/arm64": "qemu-aarch64 (/usr/bin/qemu-aarch64-static)" };

/** A docker-container builder on this x86 machine with QEMU for arm64 (a real `buildx ls`). */
const emulating: PlanNode[] = listedNodes(
    parseLs(fixture("buildx-ls-arm64-emulated.jsonl")).find((b) => b.name === "capt")!,
    {},
    QEMU,
);
/** The fleet: one node per platform, each declared (a real `buildx ls` and buildx's store of that builder). */
const fleet: PlanNode[] = listedNodes(
    parseLs(fixture("buildx-ls-fleet.jsonl"))[0],
    parseDeclared(fixture("buildx-instance-fleet.json")),
    QEMU,
);

/** `stage@platform:emulated` per stage, for one platform's plan. */
const stagesOf = (p: PlatformPlan) =>
    p.stages.map(
        (s) =>
            `${s.stage}${s.final ? "(final)" : ""} ${s.platform} ${s.runsOn} runs=${s.runs} ${s.emulated ? "emulated" : "native"}`,
    );
const plan = (dockerfile: string, nodes = emulating, extra: object = {}) =>
    planBuild({ dockerfile, platforms: BOTH, buildArgs: {}, nodes, ...extra });

describe("the Dockerfile's stage graph", () => {
    it("a target needs the stages it starts FROM, COPY --from (by name or index) and RUN --mount from; not the others", () => {
        const text = [
            "FROM alpine AS tools",
            "RUN apk add jq",
            "FROM golang AS build",
            "RUN go build -o /app .",
            "FROM alpine AS unused",
            "RUN echo never",
            "FROM build AS test",
            "RUN --mount=type=cache,from=tools,target=/t go test ./...",
            "FROM scratch",
            "COPY --from=1 /app /app",
            "COPY --from=docker.io/library/busybox /bin/busybox /busybox",
        ].join("\n");
        const { stages } = parseStages(text);
        assert.deepStrictEqual(neededStages(stages).map(stageLabel), ["build", "stage-4"]);
        assert.deepStrictEqual(neededStages(stages, "test").map(stageLabel), ["tools", "build", "test"]);
        assert.deepStrictEqual(
            neededStages(stages, "TEST").map(stageLabel),
            ["tools", "build", "test"],
            "stage names match as BuildKit matches them",
        );
    });

    it("where each stage runs: --platform=$BUILDPLATFORM, a constant, a stage's platform (its own --platform ignored), the target; ARGs expanded", () => {
        const text = [
            "ARG BUILDER_PLATFORM=linux/amd64",
            "FROM --platform=$BUILDPLATFORM golang AS cross",
            "FROM --platform=linux/amd64 alpine AS pinned",
            "FROM --platform=${BUILDER_PLATFORM} alpine AS by-arg",
            "FROM --platform=linux/arm64 cross AS child",
            "FROM --platform=$TARGETPLATFORM alpine AS target",
            "FROM alpine",
            "COPY --from=cross / /",
            "COPY --from=pinned / /",
            "COPY --from=by-arg / /",
            "COPY --from=child / /",
            "COPY --from=target / /",
        ].join("\n");
        const [, arm64] = plan(text);
        assert.deepStrictEqual(
            arm64.stages.map((s) => [s.stage, s.platform, s.runsOn, s.reason]),
            [
                ["cross", "linux/amd64", "build", "FROM --platform=$BUILDPLATFORM: the build platform"],
                ["pinned", "linux/amd64", "pinned", "FROM --platform=linux/amd64: linux/amd64"],
                ["by-arg", "linux/amd64", "pinned", "FROM --platform=${BUILDER_PLATFORM}: linux/amd64"],
                ["child", "linux/amd64", "build", "FROM cross: runs where cross runs"],
                ["target", "linux/arm64", "target", "FROM --platform=$TARGETPLATFORM: the target platform"],
                ["stage-5", "linux/arm64", "target", "no --platform: the target platform"],
            ],
        );
        // A build argument overrides the global ARG's default.
        const [, overridden] = plan(text, emulating, { buildArgs: { BUILDER_PLATFORM: "linux/arm64" } });
        assert.deepStrictEqual(overridden.stages.find((s) => s.stage === "by-arg")!.platform, "linux/arm64");
    });
});

describe("the build plan, per platform and stage", () => {
    it("the article's first Dockerfile on a builder that emulates arm64: the compile stage runs emulated for arm64, native for amd64", () => {
        const [amd64, arm64] = plan(df("article-arm64.Dockerfile"));
        assert.deepStrictEqual(
            [amd64.node, amd64.nodePlatform, amd64.mode, amd64.handler],
            ["capt0", "linux/amd64", "native", undefined],
        );
        assert.deepStrictEqual(
            [arm64.node, arm64.mode, arm64.handler],
            ["capt0", "emulated", "qemu-aarch64 (/usr/bin/qemu-aarch64-static)"],
        );
        assert.deepStrictEqual(stagesOf(amd64), [
            "builder linux/amd64 target runs=1 native",
            "stage-1(final) linux/amd64 target runs=0 native",
        ]);
        assert.deepStrictEqual(stagesOf(arm64), [
            "builder linux/arm64 target runs=1 emulated",
            "stage-1(final) linux/arm64 target runs=0 emulated",
        ]);
    });

    it("the app's cross-compiling Dockerfile: the build stage runs on the build platform for both; only the final stage (no RUN) is arm64", () => {
        const [amd64, arm64] = plan(fs.readFileSync(path.join(ROOT, "app", "Dockerfile"), "utf8"));
        assert.deepStrictEqual(stagesOf(amd64), [
            "build linux/amd64 build runs=1 native",
            "stage-1(final) linux/amd64 target runs=0 native",
        ]);
        assert.deepStrictEqual(stagesOf(arm64), [
            "build linux/amd64 build runs=1 native",
            "stage-1(final) linux/arm64 target runs=0 emulated",
        ]);
    });

    it("the app's emulated twin (examples/emulated): its build stage runs emulated for arm64, unless the Go image has no arm64 toolchain", () => {
        const text = fs.readFileSync(path.join(ROOT, "examples", "emulated", "Dockerfile"), "utf8");
        assert.deepStrictEqual(stagesOf(plan(text)[1]), [
            "build linux/arm64 target runs=1 emulated",
            "stage-1(final) linux/arm64 target runs=0 emulated",
        ]);
        // fixtures/golang holds an amd64 image only: BuildKit runs that one for arm64, natively here.
        const held = (image: string) => (image.includes("golang") ? ["linux/amd64"] : BOTH);
        const [, arm64] = plan(text, emulating, { basePlatforms: held });
        assert.deepStrictEqual(stagesOf(arm64), [
            "build linux/arm64 target runs=1 native",
            "stage-1(final) linux/arm64 target runs=0 emulated",
        ]);
        assert.match(
            arm64.stages[0].note!,
            /^127\.0\.0\.1:5000\/fixtures\/golang:latest has no linux\/arm64 image: BuildKit takes its linux\/amd64 one/,
        );
        assert.deepStrictEqual(
            compileAdvice([arm64], text),
            [],
            "no advice where the compile does not really run emulated",
        );
    });

    it("a multi-stage C build and a Rust one: each stage of the target, FROM another stage inheriting its platform, the unneeded stage left out", () => {
        assert.deepStrictEqual(stagesOf(plan(df("multistage-c.Dockerfile"))[1]), [
            "build linux/arm64 target runs=2 emulated",
            "stage-1(final) linux/arm64 target runs=1 emulated",
        ]);
        assert.deepStrictEqual(stagesOf(plan(df("multistage-c-cross.Dockerfile"))[1]), [
            "build linux/amd64 build runs=2 native",
            "stage-1(final) linux/arm64 target runs=1 emulated",
        ]);
        assert.deepStrictEqual(stagesOf(plan(df("multistage-rust.Dockerfile"))[1]), [
            "deps linux/arm64 target runs=1 emulated",
            "build linux/arm64 target runs=1 emulated",
            "stage-3(final) linux/arm64 target runs=0 emulated",
        ]);
    });

    it("the fleet: buildx sends each platform to the node that declares it (though the amd64 node lists arm64 too): nothing emulated", () => {
        assert.ok(
            fleet[0].platforms.includes("linux/arm64"),
            "the capture's amd64 node lists arm64 (its BuildKit found QEMU)",
        );
        const [amd64, arm64] = plan(df("article-arm64.Dockerfile"), fleet);
        assert.deepStrictEqual(
            [amd64.node, amd64.mode, arm64.node, arm64.nodePlatform, arm64.mode],
            ["i23-plan-fleetprobe0", "native", "arm64", "linux/arm64", "native"],
        );
        assert.ok([amd64, arm64].every((p) => p.stages.every((s) => !s.emulated)));
    });

    it("buildx's node choice: declared platforms first when all are declared, else the first node that lists the platform", () => {
        const node = (name: string, native: string, declared: string[], platforms: string[]): PlanNode => ({
            name,
            native,
            declared,
            platforms,
            handlers: {},
        });
        const emulatingFirst = [
            node("x86", "linux/amd64", [], ["linux/amd64", "linux/arm64"]),
            node("arm", "linux/arm64", [], ["linux/arm64"]),
        ];
        assert.strictEqual(
            nodeFor("linux/arm64", BOTH, emulatingFirst).name,
            "x86",
            "undeclared: the first node that lists it, though it emulates",
        );
        const declared = [
            node("x86", "linux/amd64", ["linux/amd64"], ["linux/amd64", "linux/arm64"]),
            node("arm", "linux/arm64", ["linux/arm64"], ["linux/arm64"]),
        ];
        assert.strictEqual(nodeFor("linux/arm64", BOTH, declared).name, "arm");
        // The plan says so, and the advice names the native node that buildx passes over.
        const [, arm64] = plan(df("multistage-c.Dockerfile"), emulatingFirst);
        assert.deepStrictEqual([arm64.node, arm64.mode, arm64.nativeNode], ["x86", "emulated", "arm"]);
        assert.match(
            compileAdvice([arm64], df("multistage-c.Dockerfile"))[0],
            /or let node arm, which runs linux\/arm64 natively, build it: declare each node's platforms/,
        );
    });

    it("a builder the stack declares but buildx does not list yet: this machine's node runs its own platform and emulates the BinfmtSetup's", () => {
        const nodes = declaredNodes(
            { driver: "docker-container", nodes: [{ name: "b0", platforms: [] }], emulated: ["linux/arm64"] },
            "linux/amd64",
            {},
        );
        assert.deepStrictEqual(nodes, [
            {
                name: "b0",
                native: "linux/amd64",
                declared: [],
                platforms: ["linux/amd64", "linux/arm64"],
                handlers: { "linux/arm64": "qemu-aarch64 (registered by the BinfmtSetup)" },
            },
        ]);
        const remote = declaredNodes(
            {
                driver: "remote",
                nodes: [{ name: "far", endpoint: "tcp://10.0.0.9:1234", platforms: [] }],
                emulated: [],
            },
            "linux/amd64",
            QEMU,
        );
        assert.deepStrictEqual(
            plan(df("article-arm64.Dockerfile"), remote).map((p) => [p.mode, p.stages.length]),
            [
                ["unknown", 0],
                ["unknown", 0],
            ],
            "a remote node's own platform is unknown until it is declared or listed",
        );
    });
});

describe("compile advice", () => {
    it("a compile in a stage that runs emulated: the fix, for the platforms it concerns; not package installs, not the final stage, not cross stages", () => {
        const advice = compileAdvice(plan(df("multistage-c.Dockerfile")), df("multistage-c.Dockerfile"));
        assert.deepStrictEqual(advice.length, 1, advice.join("\n"));
        assert.match(
            advice[0],
            /^line 6: a C\/C\+\+ compile in stage build runs under emulation for linux\/arm64 \(no --platform: the target platform\), typically several times slower\. /,
        );
        assert.match(
            advice[0],
            /Fix: start the stage with `FROM --platform=\$BUILDPLATFORM` and compile with a cross compiler for \$TARGETARCH .*or give the builder a node that runs linux\/arm64 natively/,
        );
        assert.deepStrictEqual(
            compileAdvice(plan(df("multistage-c-cross.Dockerfile")), df("multistage-c-cross.Dockerfile")),
            [],
        );
        assert.deepStrictEqual(
            compileAdvice(plan(df("article-arm64.Dockerfile"), fleet), df("article-arm64.Dockerfile")),
            [],
            "the fleet runs each platform natively",
        );
    });

    it("Go and Rust say their own fix; a stage the target does not need says nothing; with the last build's cost", () => {
        const [go] = compileAdvice(plan(df("article-arm64.Dockerfile")), df("article-arm64.Dockerfile"), [
            {
                platform: "linux/arm64",
                stage: "builder",
                step: "RUN CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o hello .",
                run: 1,
                seconds: 61.04,
            },
        ]);
        assert.match(
            go,
            /^line 5: go build in stage builder runs under emulation for linux\/arm64 .*; the last build spent 61\.0 s \(linux\/arm64\) on it\. Fix: .*`GOOS=\$TARGETOS GOARCH=\$TARGETARCH`/,
        );
        // The app's emulated twin already builds for $TARGETARCH: only its FROM needs to change.
        const twin = fs.readFileSync(path.join(ROOT, "examples", "emulated", "Dockerfile"), "utf8");
        assert.match(
            compileAdvice(plan(twin), twin)[0],
            /^line 13: go build in stage build .*Fix: start the stage with `FROM --platform=\$BUILDPLATFORM` and keep the step as it is \(it already builds for \$TARGETARCH\);/,
        );
        const rust = compileAdvice(plan(df("multistage-rust.Dockerfile")), df("multistage-rust.Dockerfile"));
        assert.deepStrictEqual(
            rust.map((a) => a.split(":")[0]),
            ["line 11"],
            "cargo build, not cargo fetch, not the tools stage",
        );
        assert.match(rust[0], /a Rust build in stage build .*cargo build --target/);
    });
});

describe("what the last build spent under emulation (BuildKit's history, real captures)", () => {
    it("names BuildKit gives Dockerfile steps: platform, the target after ->, stage, place", () => {
        assert.deepStrictEqual(parseStepName("[linux/arm64 build 4/4] RUN cc -o /out/hello /src/hello.c"), {
            name: "[linux/arm64 build 4/4] RUN cc -o /out/hello /src/hello.c",
            platform: "linux/arm64",
            stage: "build",
            index: 4,
            step: "RUN cc -o /out/hello /src/hello.c",
        });
        assert.deepStrictEqual(parseStepName("[linux/amd64->arm64 build 4/4] RUN go build")!.platform, "linux/arm64");
        assert.deepStrictEqual(parseStepName("[linux/arm64->arm/v7 stage-1  2/12] RUN x")!.platform, "linux/arm/v7");
        assert.deepStrictEqual(
            parseStepName("[build  3/12] RUN make")!.stage,
            "build",
            "one platform, ten steps or more: no platform, padded",
        );
        assert.deepStrictEqual(
            parseStepName("[linux/arm64 3/4] RUN go build")!.stage,
            undefined,
            "a Dockerfile of one stage names none",
        );
        assert.strictEqual(parseStepName("[internal] load build context"), undefined);
    });

    it("the stand-in C compile on a builder that emulates arm64: its arm64 RUN counted, the amd64 one not", () => {
        const steps = parseRawLogs(fixture("buildx-history-cc-emulated.jsonl"));
        const runs = steps
            .filter((s) => s.step.startsWith("RUN"))
            .map((s) => [s.platform, s.stage, s.seconds.toFixed(1)]);
        assert.deepStrictEqual(runs.sort(), [
            ["linux/amd64", "build", "0.7"],
            ["linux/arm64", "build", "2.6"],
        ]);
        const text =
            "FROM busybox AS build\nCOPY cc /usr/local/bin/cc\nCOPY hello.c /src/\nRUN cc -o /out/hello /src/hello.c\nFROM busybox\nCOPY --from=build /out/hello /h\n";
        assert.deepStrictEqual(emulatedSteps(steps, plan(text), BOTH), [
            {
                platform: "linux/arm64",
                stage: "build",
                step: "RUN cc -o /out/hello /src/hello.c",
                run: 1,
                seconds: 2.6,
            },
        ]);
    });

    it("the app cross-compiled: the arm64 compile ran on the build platform (->arm64): nothing emulated", () => {
        const steps = parseRawLogs(fixture("buildx-history-cross.jsonl"));
        assert.ok(
            steps.some((s) => s.name.startsWith("[linux/amd64->arm64 build 4/4] RUN") && s.platform === "linux/arm64"),
        );
        assert.deepStrictEqual(
            emulatedSteps(steps, plan(fs.readFileSync(path.join(ROOT, "app", "Dockerfile"), "utf8")), BOTH),
            [],
        );
    });

    it("a build of one platform names none: its steps are that platform's; cached steps ran nothing", () => {
        const steps = [
            { name: "[build 2/3] RUN cc x", stage: "build", index: 2, step: "RUN cc x", seconds: 3, cached: false },
            { name: "[build 3/3] RUN cc y", stage: "build", index: 3, step: "RUN cc y", seconds: 5, cached: true },
        ];
        const text = "FROM busybox AS build\nRUN cc x\nRUN cc y\nFROM busybox\nCOPY --from=build / /\n";
        assert.deepStrictEqual(emulatedSteps(steps, plan(text), ["linux/arm64"]), [
            { platform: "linux/arm64", stage: "build", step: "RUN cc x", run: 1, seconds: 3 },
        ]);
        assert.deepStrictEqual(emulatedSteps(steps, plan(text), ["linux/amd64"]), []);
    });

    it("the preview's block: per platform the node and how, per stage where it runs; the last build's emulated time and steps", () => {
        const text = describePlan(
            "capt",
            plan(fs.readFileSync(path.join(ROOT, "examples", "emulated", "Dockerfile"), "utf8")),
            {
                steps: [
                    {
                        platform: "linux/arm64",
                        stage: "build",
                        step: "RUN CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -o /out/hello .",
                        run: 1,
                        seconds: 2.6,
                    },
                ],
            },
        );
        assert.strictEqual(
            text,
            [
                "build plan on builder capt:",
                "  linux/amd64: node capt0 (linux/amd64), native",
                "    build, line 9: linux/amd64, no --platform: the target platform; 1 RUN: native",
                "    stage-1 (final), line 15: linux/amd64, no --platform: the target platform; no RUN: nothing executes",
                "  linux/arm64: node capt0 (linux/amd64), emulated through qemu-aarch64 (/usr/bin/qemu-aarch64-static)",
                "    build, line 9: linux/arm64, no --platform: the target platform; 1 RUN: emulated",
                "    stage-1 (final), line 15: linux/arm64, no --platform: the target platform; no RUN: nothing executes",
                "  last build: 2.6 s of RUN steps under emulation (linux/arm64 2.6 s)",
                "    2.6 s  [linux/arm64 build] RUN CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -o /out/hello .",
            ].join("\n"),
        );
    });
});
