// The benchmarks of issue 8 (run by bench/run, i.e. `npm run bench`) and those added since
// (case 9: promotions, issue 21): each figure against a baseline measured in the same run,
// written to bench/RESULTS.md; a case run alone is merged into it with --merge.
import * as fs from "fs";
import * as path from "path";

import { cacheCase, cacheStack } from "./cases/cache";
import { bigCtxStack, contextCase, smallCtxStack } from "./cases/context";
import { hashingCase } from "./cases/hashing";
import { emptyStack, mainStack, noopCase } from "./cases/noop";
import { CRANE_VERSION, promoteCase, promoteStack, sdkStack } from "./cases/promote";
import { scaleCase, scaleStack } from "./cases/scale";
import { oursSideStack, peerEnv, peerSideStack, sideCases } from "./cases/side";
import { startupCase } from "./cases/startup";
import { verifyCase } from "./cases/verify";
import { CACHE, fixtureRecords, GOLANG_STD } from "./lib/fixtures";
import { readMachine } from "./lib/procfs";
import { LoadSampler } from "./lib/procfs";
import { type CaseResult, mergeResults, renderResults } from "./lib/report";
import { LOG, out, retries, ROOT, say, timed, WORK } from "./lib/sh";
import { fmtMiB, fmtSeconds } from "./lib/stats";

const PEER_VERSION = "0.0.22";
const PEER_BIN = path.join(
    CACHE,
    "tools",
    `pulumi-resource-docker-build-${PEER_VERSION}`,
    "pulumi-resource-docker-build",
);

interface Args {
    runs: number;
    cases: Set<string>;
    clean: boolean;
    merge: boolean;
}

const CASES = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];

function parseArgs(argv: string[]): Args {
    const args: Args = { runs: 5, cases: new Set(CASES), clean: false, merge: false };
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--runs") args.runs = Number(argv[++i]);
        else if (argv[i] === "--cases") args.cases = new Set(argv[++i].split(","));
        else if (argv[i] === "--clean") args.clean = true;
        else if (argv[i] === "--merge") args.merge = true;
        else throw new Error(`unknown argument ${argv[i]}: use --runs N, --cases 1,2,..., --merge, --clean`);
    }
    if (!(args.runs >= 1)) throw new Error("--runs needs a positive number");
    return args;
}

function versions(): string[] {
    const pkg = (p: string) => JSON.parse(fs.readFileSync(path.join(ROOT, p), "utf8")).version;
    const tryOut = (f: string, a: string[]) => {
        try {
            return out(f, a);
        } catch (e) {
            return `unknown (${(e as Error).message.split("\n")[0]})`;
        }
    };
    return [
        `pulumi CLI ${tryOut("pulumi", ["version"])}, @pulumi/pulumi ${pkg("node_modules/@pulumi/pulumi/package.json")}, Node.js language host 3.68.0 (see README)`,
        `docker buildx ${tryOut("docker", ["buildx", "version"])}`,
        `BuildKit ${tryOut("buildkitd", ["--version"])} (image ${process.env.PULUMI_MULTIARCH_BUILDKIT_IMAGE ?? "?"})`,
        `Docker engine ${tryOut("docker", ["version", "--format", "{{.Server.Version}}"])}, ${tryOut("sh", ["-c", "qemu-aarch64-static --version | head -1"])}`,
        `Node.js ${process.version}, Go ${tryOut("go", ["env", "GOVERSION"])}`,
        `pulumi-multiarch ${pkg("package.json")} (this tree, commit ${tryOut("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"])})`,
        `peer: @pulumi/docker-build ${pkg("node_modules/@pulumi/docker-build/package.json")}, plugin pulumi-resource-docker-build ${PEER_VERSION} built from the Go module proxy (scripts/go/docker-build)`,
        `copy peers (case 9): crane ${CRANE_VERSION} (github.com/google/go-containerregistry, built from the Go module proxy, scripts/go/crane), ${tryOut("skopeo", ["--version"])} (Debian)`,
    ];
}

const allStacks = () => [
    mainStack(),
    emptyStack(),
    oursSideStack(),
    peerSideStack(),
    cacheStack(),
    scaleStack(),
    promoteStack(),
    sdkStack(),
    smallCtxStack(),
    bigCtxStack(),
];

async function clean(): Promise<void> {
    // The peer stack first: its image uses the builder the ours "side" stack owns.
    for (const s of [peerSideStack(), ...allStacks().filter((s) => !(s.project === "bench-peer"))]) {
        if (!s.exists()) continue;
        say(`destroying ${s.project}/${s.stack}`);
        if (s.project !== "bench-peer" && s.project !== "bench-empty") {
            const released = s.releaseOwnedHandlers();
            if (released.length)
                say(
                    `keeping the emulators ${released.join(", ")} registered: ${s.project}/${s.stack} no longer owns them`,
                );
        }
        await s.destroy(peerEnv(PEER_BIN));
    }
}

/** After the runs: empty and stop the bench's builders (the stacks stay, so a warm run skips their creation). */
async function idleBuilders(): Promise<void> {
    const names = out("docker", ["buildx", "ls", "--format", "{{.Name}}"])
        .split("\n")
        .map((n) => n.trim())
        .filter((n) => n.startsWith("bench-") && !n.includes(" "));
    for (const n of names) {
        await timed("docker", ["buildx", "prune", "--builder", n, "--all", "--force"], { allowFailure: true });
        await timed("docker", ["buildx", "stop", n], { allowFailure: true });
    }
}

async function main(): Promise<void> {
    // bench/run starts this file with ts-node in transpile-only mode; the Pulumi programs the
    // bench runs must not inherit that (they type-check by default, as users run them).
    delete process.env.TS_NODE_TRANSPILE_ONLY;
    const args = parseArgs(process.argv.slice(2));
    if (args.clean) {
        await clean();
        return;
    }
    fs.writeFileSync(LOG, `bench run ${new Date().toISOString()}\n`);
    const t0 = Number(process.env.BENCH_T0 ?? Date.now());
    const peerMs = Number(process.env.BENCH_PEER_MS ?? 0);
    if (args.cases.has("6") && !fs.existsSync(PEER_BIN))
        throw new Error(`${PEER_BIN} is missing: run bash bench/fixtures.sh peer`);

    const results: Record<string, CaseResult> = {};
    // Other jobs share this machine: each case says the load it ran under.
    const load = new LoadSampler();
    const withLoad = async <T extends CaseResult | { case3: CaseResult; case6: CaseResult }>(
        f: () => Promise<T>,
    ): Promise<T> => {
        load.reset();
        const r = await f();
        const note = `Load average (1 min, /proc/loadavg, every 5 s) during this case: ${load.describe()} on ${readMachine().cores} cores.`;
        const parts: CaseResult[] = "case3" in r ? [r.case3, r.case6] : [r];
        for (const c of parts) c.notes.push(note);
        return r;
    };
    load.start();
    if (args.cases.has("1")) results["1"] = await withLoad(() => noopCase(args.runs));
    if (args.cases.has("2")) results["2"] = await withLoad(() => hashingCase(args.runs));
    if (args.cases.has("3") || args.cases.has("6")) {
        const side = await withLoad(() => sideCases(args.runs, PEER_BIN));
        results["3"] = side.case3;
        results["6"] = side.case6;
    }
    if (args.cases.has("4")) results["4"] = await withLoad(() => cacheCase(args.runs));
    if (args.cases.has("5")) results["5"] = await withLoad(() => scaleCase(args.runs));
    if (args.cases.has("7")) results["7"] = await withLoad(() => verifyCase(args.runs));
    if (args.cases.has("8")) results["8"] = await withLoad(() => startupCase(args.runs));
    if (args.cases.has("9")) results["9"] = await withLoad(() => promoteCase(args.runs));
    if (args.cases.has("10")) results["10"] = await withLoad(() => contextCase(args.runs));
    load.stop();
    await idleBuilders();

    const totalSeconds = (Date.now() - t0 - peerMs) / 1000;
    const fx = fixtureRecords();
    const m = readMachine();
    const complete = args.runs >= 5 && CASES.every((c) => results[c]);
    const meta = {
        date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        machine: [
            `${m.cores} cores (${m.cpuModel}), ${fmtMiB(m.memTotalKiB)} RAM, Linux ${m.kernel} (from /proc); shared with other jobs running builds during the bench: load average (1 min) over the run ${load.describeAll()}`,
        ],
        versions: versions(),
        runs: args.runs,
        totalSeconds,
        notCounted: [
            `Not counted: building the peer's provider plugin (${fx.peerBuild ? `${fx.peerBuild.seconds} s of Go compile when it was built, ${fx.peerBuild.at}` : "not recorded"}; ${(peerMs / 1000).toFixed(1)} s in this run, where it was ${peerMs > 30_000 ? "built" : "already present"}).`,
            `Counted: scripts/bootstrap, the bench fixtures when missing (the Go toolchain image ${GOLANG_STD}: ${fx.golangStd ? "built " + fx.golangStd.at : "?"}; the hashing tree), creating the bench stacks when missing, every run, and emptying and stopping the bench builders at the end.`,
            retries.length
                ? `Repeated after a transient failure (another job re-registering QEMU handlers mid-build; the failed attempt's time is dropped): ${retries.length}: ${retries.join("; ")}.`
                : "No run needed repeating (no transient QEMU handler failures).",
            `Log of every command: ${path.relative(ROOT, LOG)}.`,
        ],
    };
    const measured = CASES.filter((c) => results[c]).map((c) => results[c]);
    const file =
        complete || args.merge ? path.join(ROOT, "bench", "RESULTS.md") : path.join(WORK, "RESULTS.partial.md");
    const text =
        !complete && args.merge
            ? mergeResults(fs.readFileSync(file, "utf8"), meta, measured)
            : renderResults(meta, measured);
    fs.writeFileSync(file, text);
    say(`wrote ${path.relative(ROOT, file)} (${fmtSeconds(totalSeconds)} in all, peer build excluded)`);
}

main().catch((e) => {
    process.stderr.write(`bench failed: ${e.stack ?? e}\nsee ${LOG}\n`);
    process.exit(1);
});
