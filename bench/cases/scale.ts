// Case 5: 1, 4 and 8 images on one builder in one stack: wall time against the sum of their
// single runs (the library must not serialize what BuildKit can run in parallel), and the
// peak memory of the Pulumi program.
import * as fs from "fs";
import * as path from "path";

import { REGISTRY, waitContext } from "../lib/fixtures";
import type { TreeSampler } from "../lib/procfs";
import { type CaseResult, plainRow, ratioRow } from "../lib/report";
import { say } from "../lib/sh";
import { BenchStack } from "../lib/stack";
import { fmtMiB, fmtSummary, summarize } from "../lib/stats";

const BUILDER = "bench-scale";
const SIZES = [1, 4, 8];

export const scaleStack = () => new BenchStack("bench-ours", "scale", "bench/programs/ours/index.ts");

export async function scaleCase(runs: number): Promise<CaseResult> {
    const t0 = Date.now();
    const contexts = Array.from({ length: 8 }, (_, k) => waitContext(`c5-${k}`));
    const config = (n: number) => ({
        "bench:builder": BUILDER,
        "bench:images": contexts
            .slice(0, n)
            .map((context, k) => ({ name: `scale-${k}`, context, tag: `${REGISTRY}/bench/scale-${k}:latest` })),
    });
    const stack = scaleStack();
    stack.init(config(8));
    say("case 5: first up with 8 images (not timed)");
    await stack.up({ preview: false });

    const wall: Record<number, number[]> = { 1: [], 4: [], 8: [] };
    const peaks: Record<number, TreeSampler["peakKiB"][]> = { 1: [], 4: [], 8: [] };
    const noop8: number[] = [];
    for (let i = 0; i < runs; i++) {
        say(`case 5: run ${i + 1}/${runs}`);
        // Rotate 1, 4, 8; the no-op up of 8 images follows the 8-image up.
        const order = [...SIZES.slice(i % 3), ...SIZES.slice(0, i % 3)];
        for (const n of order) {
            stack.config(config(n));
            for (let k = 0; k < n; k++)
                fs.writeFileSync(path.join(contexts[k], "stamp"), `run ${i} n ${n} ${Date.now()}\n`);
            const r = await stack.up({ preview: false, sampleMemory: true });
            wall[n].push(r.seconds);
            peaks[n].push(r.peakKiB!);
            if (n === 8) noop8.push((await stack.up({ preview: false })).seconds);
        }
    }
    const sumOfSingles = (n: number) => wall[1].map((t) => n * t);
    // Up minus the no-op up of the same run (floored at 1 ms so a ratio stays defined).
    const buildPart = (xs: number[]) => xs.map((t, i) => Math.max(t - noop8[i], 0.001));
    const singlesBuildPart = (n: number) => buildPart(wall[1]).map((t) => n * t);
    const mem = (n: number, role: "program" | "provider" | "all") =>
        fmtSummary(summarize(peaks[n].map((p) => p[role])), fmtMiB);
    return {
        id: "5",
        title: "1, 4 and 8 images on one builder in one stack",
        rows: [
            ratioRow("4 images in one `pulumi up` vs 4 single-image ups (sum)", wall[4], sumOfSingles(4)),
            ratioRow("8 images in one `pulumi up` vs 8 single-image ups (sum)", wall[8], sumOfSingles(8)),
            ratioRow(
                "build part only (up minus the no-op up of 8 images): 4 images vs 4 x 1",
                buildPart(wall[4]),
                singlesBuildPart(4),
            ),
            ratioRow("build part only: 8 images vs 8 x 1", buildPart(wall[8]), singlesBuildPart(8)),
            ...SIZES.map((n) =>
                plainRow(
                    `peak RSS with ${n} image${n > 1 ? "s" : ""}: Pulumi program (language host + node program) / provider plugin / whole tree`,
                    `${mem(n, "program")} / ${mem(n, "provider")} / ${mem(n, "all")}`,
                ),
            ),
        ],
        notes: [
            "Each image: FROM the busybox fixture, COPY a stamp file, `RUN sleep 2` (a stand-in for a download: it occupies no core, so what shows is whether builds overlap, not how many cores the machine has), amd64 + arm64, pushed and verified. Each run rewrites the stamps of the images it builds, so every one of them rebuilds.",
            "Sum of single runs: N times the single-image up of the same run (the N images are the same work on different stamps). A serializing library would give about 1.0 on the build-part rows; 1/N is full overlap.",
            "Build part: each up minus the no-op up of the 8-image stack in the same run (measured right after the 8-image up). Subtracting the 8-image no-op from the single-image up too makes the single build look shorter, so these ratios err against us.",
            "Peak RSS: the sum of VmRSS over the `pulumi up` process tree, sampled every 100 ms from /proc, split by role: the language host and the Node.js process running the program; the provider plugin's Node.js process (pulumi-resource-multiarch), where builds are driven; the whole tree (CLI, buildx and docker clients included).",
        ],
        seconds: (Date.now() - t0) / 1000,
    };
}
