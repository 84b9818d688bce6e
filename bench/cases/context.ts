// Case 10: the cost of a no-op grows with what changed, not with the context. A no-op
// `pulumi up` of one image whose context holds 50,000 files (295 MB) against the same no-op
// with the app's three files (≤ 1.2x), and the bytes the context digest reads per pass: none
// on a no-op, the one file on a one-file change (the stat cache, components/core/context.ts).
import * as fs from "fs";
import * as path from "path";

import { BIG_BYTES, BIG_FILES, REGISTRY, scaleContexts } from "../lib/fixtures";
import { parseChanges } from "../lib/parse";
import { type CaseResult, plainRow, ratioRow } from "../lib/report";
import { buildCount, ROOT, say, timed } from "../lib/sh";
import { BenchStack } from "../lib/stack";
import { fmtSeconds, median } from "../lib/stats";

export const smallCtxStack = () => new BenchStack("bench-ours", "ctx-small", "bench/programs/ours/index.ts");
export const bigCtxStack = () => new BenchStack("bench-ours", "ctx-big", "bench/programs/ours/index.ts");

interface Hashed {
    seconds: number;
    cpuSeconds: number;
    files: number;
    digest: string;
    filesRead: number;
    bytesRead: number;
    filesFromCache: number;
}

/** One pass of the context digest in a fresh process, as the program runs it at each preview and update. */
async function hashPass(context: string, statCache: boolean): Promise<Hashed> {
    const r = await timed(
        process.execPath,
        [
            "-r",
            "ts-node/register",
            path.join(ROOT, "bench/hash-once.ts"),
            context,
            ...(statCache ? ["--stat-cache"] : []),
        ],
        { cwd: ROOT, env: { TS_NODE_TRANSPILE_ONLY: "true" } },
    );
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as Hashed;
}

const fmtBytes = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${b} B`);

export async function contextCase(runs: number): Promise<CaseResult> {
    const t0 = Date.now();
    const { small, big } = scaleContexts();
    const config = (name: string, context: string) => ({
        "bench:builder": `bench-${name}`,
        "bench:images": [{ name, context, tag: `${REGISTRY}/bench/${name}:latest` }],
    });
    const stacks = { small: smallCtxStack(), big: bigCtxStack() };
    stacks.small.init(config("ctx-small", small));
    stacks.big.init(config("ctx-big", big));
    say("case 10: first up of both stacks (not timed)");
    await stacks.small.up({ preview: false });
    await stacks.big.up({ preview: false });
    const builder = { small: "bench-ctx-small", big: "bench-ctx-big" };

    // "uncached": the big context with the stat cache off, every file read at each pass (as
    // before issue 24), in the same rounds.
    type Side = "small" | "big" | "uncached";
    const times: Record<Side, number[]> = { small: [], big: [], uncached: [] };
    let builds = 0,
        changed = 0;
    for (let i = 0; i < runs; i++) {
        say(`case 10: run ${i + 1}/${runs}`);
        const order: Side[] = [
            ["big", "small", "uncached"],
            ["small", "uncached", "big"],
            ["uncached", "big", "small"],
        ][i % 3] as Side[];
        for (const side of order) {
            const since = new Date();
            const stack = side === "small" ? stacks.small : stacks.big;
            const r = await stack.up(side === "uncached" ? { env: { PULUMI_MULTIARCH_STAT_CACHE: "off" } } : {});
            builds += buildCount(builder[side === "small" ? "small" : "big"], since);
            changed += Object.entries(parseChanges(r.stdout))
                .filter(([k]) => k !== "unchanged")
                .reduce((a, [, n]) => a + n, 0);
            times[side].push(r.seconds);
        }
    }

    // What the digest reads: a cold pass (no cache), then the two passes of a no-op up, then
    // one file changed (its size and mtime kept: only its ctime and bytes differ) and the next pass.
    say("case 10: bytes read by the context digest");
    const cold = await hashPass(big, false);
    const warm1 = await hashPass(big, true);
    const warm2 = await hashPass(big, true);
    const victim = path.join(big, "data", "pkg07", "mod3", "file042.dat");
    const before = fs.readFileSync(victim);
    const st = fs.statSync(victim);
    const flipped = Buffer.from(before);
    flipped[0] ^= 0xff;
    fs.writeFileSync(victim, flipped);
    fs.utimesSync(victim, st.atime, st.mtime);
    const change = await hashPass(big, true);
    fs.writeFileSync(victim, before); // back as it was; the next pass reads it again
    fs.utimesSync(victim, st.atime, st.mtime);
    const back = await hashPass(big, true);
    const digestsOk =
        warm1.digest === cold.digest &&
        warm2.digest === cold.digest &&
        change.digest !== cold.digest &&
        back.digest === cold.digest;

    return {
        id: "10",
        title: "A no-op with a 50,000-file context",
        rows: [
            ratioRow(
                `no-op \`pulumi up\` of one image: ${BIG_FILES.toLocaleString("en")}-file (${BIG_BYTES / 1e6} MB) context vs the app's 3-file context`,
                times.big,
                times.small,
                { op: "<=", value: 1.2 },
            ),
            ratioRow(
                "the same, the stat cache off (PULUMI_MULTIARCH_STAT_CACHE=off: every file read at each pass, as before issue 24)",
                times.uncached,
                times.small,
            ),
            ratioRow("50,000-file no-op: with the stat cache vs without", times.big, times.uncached),
            plainRow(
                "builds started / resources changed by those no-op ups",
                `${builds} / ${changed}`,
                "",
                "0 / 0",
                builds === 0 && changed === 0,
            ),
            plainRow(
                "bytes the context digest reads per no-op up (its two passes: preview, update)",
                `${fmtBytes(warm1.bytesRead + warm2.bytesRead)} (${warm1.filesRead + warm2.filesRead} files; ${warm2.filesFromCache} by stat alone per pass)`,
                `without the stat cache: ${fmtBytes(2 * cold.bytesRead)} (${2 * cold.filesRead} files)`,
                "0 B",
                warm1.bytesRead + warm2.bytesRead === 0,
            ),
            plainRow(
                "bytes read by the pass after a one-file change (same size and mtime)",
                `${fmtBytes(change.bytesRead)} (${change.filesRead} file)`,
                "",
                "that file only",
                change.filesRead === 1 && change.bytesRead === st.size,
            ),
            plainRow(
                "one pass of the digest over the 50,000 files, wall (CPU): with the stat cache / without",
                `${fmtSeconds(warm2.seconds)} (${fmtSeconds(warm2.cpuSeconds)}) / ${fmtSeconds(cold.seconds)} (${fmtSeconds(cold.cpuSeconds)})`,
                "",
                "",
                undefined,
            ),
            plainRow(
                "same digest with and without the cache; a change seen and undone",
                digestsOk ? "yes" : "no",
                "",
                "yes",
                digestsOk,
            ),
        ],
        notes: [
            "Both stacks run bench/programs/ours (a BinfmtSetup, a BuildxBuilder of their own, one MultiArchImage for linux/amd64 and linux/arm64, verify on) with `pulumi up --yes` (preview, then update) through the CLI; the order alternates each run.",
            `The contexts: the app's main.go and go.mod and a Dockerfile (FROM the busybox fixture, COPY main.go), alone and beside data/ (${BIG_FILES} files, log-uniform sizes, ${BIG_BYTES / 1e6} MB, generated once into the bench cache). Page cache warm.`,
            "Bytes read: bench/hash-once.ts in a fresh process per pass (what the program runs for the image at each preview and update), counting the files whose bytes were read (components/core/context.ts hashStats). A file changed less than a second before a pass is read again by the next one (racily clean), so the one-file change is read twice only if the passes follow within that second.",
            `Median no-op up: ${fmtSeconds(median(times.big))} (50,000 files), ${fmtSeconds(median(times.uncached))} (50,000 files, stat cache off) and ${fmtSeconds(median(times.small))} (3 files); the order of the three rotates each run.`,
        ],
        seconds: (Date.now() - t0) / 1000,
    };
}
