// Cases 3 and 6, on one builder (bench-side, created by the `ours` stack "side"):
//   3a the article's app for linux/amd64+linux/arm64, compile stage under emulation vs
//      cross-compiled (bare buildx, no library);
//   3b the library's overhead: `pulumi up` building the image vs a bare
//      `docker buildx build --push` of the same inputs, minus the engine's no-op up;
//   6  the same image with @pulumi/docker-build: cold build, no-op up, one-file change, and
//      a checkout of the same context under another umask.
import * as fs from "fs";
import * as path from "path";

import { appContext, checkoutWithUmask, fixtureRecords, GOLANG_STD, REGISTRY, touchSource } from "../lib/fixtures";
import { parseChanges } from "../lib/parse";
import { stepSeconds } from "../lib/parse";
import { type CaseResult, plainRow, ratioRow } from "../lib/report";
import { buildCount, pruneBuilder, say, timed } from "../lib/sh";
import { BenchStack } from "../lib/stack";
import { fmtSeconds, median } from "../lib/stats";

export const BUILDER = "bench-side";
const PLATFORMS = ["linux/amd64", "linux/arm64"];
const OURS_TAG = `${REGISTRY}/bench/side-ours:latest`;
const PEER_TAG = `${REGISTRY}/bench/side-peer:latest`;
const BARE_TAG = `${REGISTRY}/bench/side-bare:latest`;

export const oursSideStack = () => new BenchStack("bench-ours", "side", "bench/programs/ours/index.ts");
export const peerSideStack = () => new BenchStack("bench-peer", "side", "bench/programs/peer/index.ts");

/** The peer's plugin on PATH: the engine takes pulumi-resource-<name> from PATH when plugin downloads are off. */
export function peerEnv(peerBin: string): Record<string, string> {
    return { PATH: `${path.dirname(peerBin)}:${process.env.PATH}` };
}

function oursConfig(context: string, run: string): Record<string, unknown> {
    return {
        "bench:builder": BUILDER,
        "bench:images": [{ name: "side", context, tag: OURS_TAG, buildArgs: { BENCH_RUN: run } }],
    };
}

function peerConfig(context: string, run: string): Record<string, unknown> {
    return {
        "bench:builder": BUILDER,
        "bench:context": context,
        "bench:tag": PEER_TAG,
        "bench:buildArgs": { BENCH_RUN: run },
    };
}

async function bareBuild(context: string, extra: string[]): Promise<{ seconds: number; progress: string }> {
    const r = await timed("docker", [
        "buildx",
        "build",
        "--builder",
        BUILDER,
        "--platform",
        PLATFORMS.join(","),
        "--provenance=false",
        "--progress",
        "plain",
        ...extra,
        context,
    ]);
    return { seconds: r.seconds, progress: r.stderr };
}

export interface SideResults {
    case3: CaseResult;
    case6: CaseResult;
}

export async function sideCases(runs: number, peerBin: string): Promise<SideResults> {
    const t0 = Date.now();
    const env = peerEnv(peerBin);
    const oursCtx = appContext("side-ours", "cross");
    const peerCtx = appContext("side-peer", "cross");
    const cross = appContext("c3-cross", "cross");
    const emulated = appContext("c3-emulated", "emulated");
    const ours = oursSideStack();
    const peer = peerSideStack();
    ours.init(oursConfig(oursCtx, "setup"));
    peer.init(peerConfig(peerCtx, "setup"));
    say("cases 3/6: first up of both stacks (not timed)");
    await ours.up({ preview: false });
    await peer.up({ preview: false, env });

    // ---- 3a: emulated vs cross compile ----
    say("case 3a: warm-up builds (not timed)");
    for (const ctx of [cross, emulated]) await bareBuild(ctx, ["--output", "type=cacheonly"]);
    const crossTimes: number[] = [],
        emuTimes: number[] = [],
        crossStep: number[] = [],
        emuStep: number[] = [];
    for (let i = 0; i < runs; i++) {
        say(`case 3a: run ${i + 1}/${runs}`);
        const doCross = async () => {
            touchSource(cross, "main.go", `3a cross ${Date.now()}`);
            const r = await bareBuild(cross, ["--output", "type=cacheonly"]);
            crossTimes.push(r.seconds);
            crossStep.push(stepSeconds(r.progress, /^\[linux\/amd64->arm64 build \d+\/\d+\] RUN /) ?? NaN);
        };
        const doEmu = async () => {
            touchSource(emulated, "main.go", `3a emulated ${Date.now()}`);
            const r = await bareBuild(emulated, ["--output", "type=cacheonly"]);
            emuTimes.push(r.seconds);
            emuStep.push(stepSeconds(r.progress, /^\[linux\/arm64 build \d+\/\d+\] RUN /) ?? NaN);
        };
        if (i % 2 === 0) {
            await doEmu();
            await doCross();
        } else {
            await doCross();
            await doEmu();
        }
    }
    const t3a = (Date.now() - t0) / 1000;

    // ---- 3b and 6 ----
    const t6 = Date.now();
    checkoutWithUmask(oursCtx, `${oursCtx}.tmp`, 0o022);
    fs.rmSync(oursCtx, { recursive: true });
    fs.renameSync(`${oursCtx}.tmp`, oursCtx);
    checkoutWithUmask(peerCtx, `${peerCtx}.tmp`, 0o022);
    fs.rmSync(peerCtx, { recursive: true });
    fs.renameSync(`${peerCtx}.tmp`, peerCtx);
    type Side = "ours" | "peer";
    const times: Record<string, Record<Side, number[]>> = {
        cold: { ours: [], peer: [] },
        noop: { ours: [], peer: [] },
        change: { ours: [], peer: [] },
        umask: { ours: [], peer: [] },
    };
    const builds: Record<string, Record<Side, number>> = {
        cold: { ours: 0, peer: 0 },
        noop: { ours: 0, peer: 0 },
        change: { ours: 0, peer: 0 },
        umask: { ours: 0, peer: 0 },
    };
    const umaskUpdates: Record<Side, number> = { ours: 0, peer: 0 };
    const bare: number[] = [];
    const stacks: Record<Side, BenchStack> = { ours, peer };
    const ctxOf: Record<Side, string> = { ours: oursCtx, peer: peerCtx };
    const configOf = (side: Side, run: string) =>
        side === "ours" ? oursConfig(oursCtx, run) : peerConfig(peerCtx, run);
    const up = async (side: Side, what: string) => {
        const since = new Date();
        const r = await stacks[side].up({ preview: false, env });
        builds[what][side] += buildCount(BUILDER, since);
        times[what][side].push(r.seconds);
        return r;
    };
    for (let i = 0; i < runs; i++) {
        say(`cases 3b/6: run ${i + 1}/${runs}`);
        const order: Side[] = i % 2 === 0 ? ["ours", "peer"] : ["peer", "ours"];
        const run = `cold-${i}-${Date.now()}`;
        for (const side of order) {
            // Cold: the builder's cache emptied (a fresh CI runner); a changed build argument makes both rebuild.
            stacks[side].config(configOf(side, run));
            await pruneBuilder(BUILDER);
            await up(side, "cold");
            if (side === "ours") {
                await pruneBuilder(BUILDER);
                bare.push(
                    (await bareBuild(oursCtx, ["--build-arg", `BENCH_RUN=${run}`, "-t", BARE_TAG, "--push"])).seconds,
                );
            }
        }
        for (const side of order) await up(side, "noop");
        for (const side of order) {
            touchSource(ctxOf[side], "main.go", `${side} ${i} ${Date.now()}`);
            await up(side, "change");
        }
        // The same files checked out again under another umask: 0600/0700 vs 0644/0755.
        const umask = i % 2 === 0 ? 0o077 : 0o022;
        for (const side of order) {
            const ctx = ctxOf[side];
            checkoutWithUmask(ctx, `${ctx}.checkout`, umask);
            fs.rmSync(ctx, { recursive: true });
            fs.renameSync(`${ctx}.checkout`, ctx);
            const r = await up(side, "umask");
            if ((parseChanges(r.stdout).updated ?? 0) > 0) umaskUpdates[side]++;
        }
    }
    const overhead = times.cold.ours.map((c, i) => c - times.noop.ours[i]);
    const std = fixtureRecords().golangStd;
    const case3: CaseResult = {
        id: "3",
        title: "The article's Go app: emulated vs cross compile, and the library's overhead",
        rows: [
            ratioRow(
                "whole build, linux/amd64+linux/arm64: compile stage under emulation vs cross-compiled",
                emuTimes,
                crossTimes,
            ),
            ratioRow("its arm64 compile step alone (`go build` of the app: emulated vs cross)", emuStep, crossStep),
            ratioRow(
                "`pulumi up` building the image, minus the no-op up, vs bare `docker buildx build --push` (builder cache pruned before each)",
                overhead,
                bare,
                { op: "<=", value: 1.1 },
            ),
        ],
        notes: [
            `Both compile variants use app/ as it is, with the golang image swapped for ${GOLANG_STD} (bench/fixtures.sh): the host's Go release for amd64 and, cross-built from the same sources, for arm64, each with the standard library the app imports already compiled (-trimpath, as the app's build). "Emulated" is app/Dockerfile without \`--platform=$BUILDPLATFORM\` on the build stage, so it runs as linux/arm64 under QEMU (the article's first attempt); "cross" is app/Dockerfile as it is. Both produce byte-identical arm64 binaries (checked by hand: the emulated toolchain and the cross compile emit the same file).`,
            "Each run changes main.go (a comment naming the run), so the compile really runs; `--output type=cacheonly`, base images already in the builder.",
            std
                ? `The standard library itself, compiled cold once when ${std.ref} was built (${std.at}, n=1): ${fmtSeconds(std.emulatedArm64Seconds)} emulated vs ${fmtSeconds(std.crossArm64Seconds)} cross for arm64, ${(std.emulatedArm64Seconds / std.crossArm64Seconds).toFixed(1)}x.`
                : "The one-off cold standard-library compile was not recorded (fixture built before timing was added).",
            `Overhead: the up is \`pulumi up --yes --skip-preview\` of bench/programs/ours (one MultiArchImage, verify on) after a changed build argument; the bare build is \`docker buildx build --platform linux/amd64,linux/arm64 --provenance=false --build-arg BENCH_RUN=... -t ${BARE_TAG} --push\` of the same context on the same builder. The engine's no-op up of the same stack (measured in the same run, median ${fmtSeconds(median(times.noop.ours))}) is subtracted from the up.`,
        ],
        // The 3b runs are shared with case 6 and counted there.
        seconds: t3a,
    };
    const case6: CaseResult = {
        id: "6",
        title: "Side by side with @pulumi/docker-build 0.0.22",
        rows: [
            ratioRow("cold build (builder cache pruned): ours vs docker-build", times.cold.ours, times.cold.peer, {
                op: "<=",
                value: 1.0,
            }),
            ratioRow("no-op `pulumi up`: ours vs docker-build", times.noop.ours, times.noop.peer, {
                op: "<",
                value: 1.0,
            }),
            ratioRow("one-file change (main.go): ours vs docker-build", times.change.ours, times.change.peer, {
                op: "<=",
                value: 1.0,
            }),
            ratioRow(
                "same context checked out under another umask (077 vs 022): ours vs docker-build",
                times.umask.ours,
                times.umask.peer,
            ),
            plainRow(
                "builds started by the no-op ups",
                `ours ${builds.noop.ours}`,
                `docker-build ${builds.noop.peer}`,
                "ours 0",
                builds.noop.ours === 0,
            ),
            plainRow(
                "builds started by the umask checkouts",
                `ours ${builds.umask.ours} (updates: ${umaskUpdates.ours})`,
                `docker-build ${builds.umask.peer} (updates: ${umaskUpdates.peer})`,
                `ours ${runs}: each checkout is another image`,
                builds.umask.ours === runs,
            ),
            plainRow(
                "builds started by cold / one-file-change ups",
                `ours ${builds.cold.ours} / ${builds.change.ours}`,
                `docker-build ${builds.cold.peer} / ${builds.change.peer}`,
                `${runs} / ${runs} each`,
                builds.cold.ours === runs &&
                    builds.change.ours === runs &&
                    builds.cold.peer === runs &&
                    builds.change.peer === runs,
            ),
        ],
        notes: [
            `Same image, platforms (${PLATFORMS.join(", ")}) and builder (${BUILDER}, docker-container, created by our BuildxBuilder); the same app context (app/ with ${GOLANG_STD}) in two copies, so one side's build is never the other's cache hit; each side pushes to its own repository. Both \`pulumi up --yes --skip-preview\` through the CLI; docker-build's provider is pulumi-resource-docker-build v0.0.22 built from the Go module proxy (bench/fixtures.sh).`,
            "Each run: cold (prune, changed build argument, up) for both sides, then the no-op ups, then a one-line change of main.go in each copy, then each copy checked out again with the same content under the other umask; the side that goes first alternates.",
            "Ours verifies every platform (config and ELF machine of the entrypoint, read from the registry) before it moves the tag; docker-build pushes the tag directly.",
            "What ours pays that docker-build does not (both start a provider plugin once per program run): a Node.js plugin (0.12 s to its port, case 8) where docker-build's is one Go binary, and a program that hashes the context as BuildKit will send it (by stat alone when nothing changed, case 10) before it registers the image; on a build, buildx as a child process, every platform read back from the registry to verify it (case 7: 1.03x a cached build without) and the tag moved with a manifest PUT after the push-by-digest. Since issue 24 a run starts no `docker` process besides the build itself: BuildKit's Dockerfile checks are asked at preview (these ups skip it, so they ask none; before, each cold up ran `docker buildx ls` and one `buildx build --call=check` per platform first), the buildx version is remembered by the binaries' stat, binfmt facts are read from /proc. The rebuild decisions (no build on a no-op) are right on both sides.",
            "Why both rebuild on a umask-only checkout: COPY writes each file's permission bits into the image, so files checked out under umask 077 instead of 022 make another image. docker-build's context hash writes each file's mode (fs.FileMode.String(), provider/internal/context.go, hashBuildContext); ours hashes the full permission bits too (since issue 13: it used to keep only the executable bit, and so reused an image whose files had other modes than the checkout's).",
        ],
        seconds: (Date.now() - t6) / 1000,
    };
    return { case3, case6 };
}
