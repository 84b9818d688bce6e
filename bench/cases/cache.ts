// Case 4: one changed source file on a builder whose cache was pruned (a fresh CI runner),
// with MultiArchImage's automatic per-platform registry cache (`cacheRepository`) vs
// without: at most 0.5x of the uncached time.
import { cachedLayersContext, REGISTRY, touchSource } from "../lib/fixtures";
import { type CaseResult, plainRow, ratioRow } from "../lib/report";
import { buildCount, pruneBuilder, say } from "../lib/sh";
import { BenchStack } from "../lib/stack";

const BUILDER = "bench-cache";
const TAG = `${REGISTRY}/bench/cache-app:latest`;
const CACHE_REPO = `${REGISTRY}/bench/cache-app-buildcache`;

export const cacheStack = () => new BenchStack("bench-ours", "cache", "bench/programs/ours/index.ts");

export async function cacheCase(runs: number): Promise<CaseResult> {
    const t0 = Date.now();
    const ctx = cachedLayersContext("c4");
    const config = (cached: boolean) => ({
        "bench:builder": BUILDER,
        "bench:images": [{ name: "app", context: ctx, tag: TAG, ...(cached ? { cacheRepository: CACHE_REPO } : {}) }],
    });
    const stack = cacheStack();
    stack.init(config(true));
    say("case 4: first up, filling the registry cache (not timed)");
    await stack.up({ preview: false });

    const cached: number[] = [];
    const uncached: number[] = [];
    let builds = 0;
    for (let i = 0; i < runs; i++) {
        say(`case 4: run ${i + 1}/${runs}`);
        const once = async (withCache: boolean) => {
            stack.config(config(withCache));
            touchSource(ctx, "main.go", `${withCache ? "cached" : "uncached"} ${i} ${Date.now()}`);
            await pruneBuilder(BUILDER);
            const since = new Date();
            const r = await stack.up({ preview: false });
            builds += buildCount(BUILDER, since);
            (withCache ? cached : uncached).push(r.seconds);
        };
        if (i % 2 === 0) {
            await once(false);
            await once(true);
        } else {
            await once(true);
            await once(false);
        }
    }
    return {
        id: "4",
        title: "One changed file on a pruned builder, with and without the registry cache",
        rows: [
            ratioRow(
                "`pulumi up` after a one-line change of main.go, builder cache pruned: with `cacheRepository` vs without",
                cached,
                uncached,
                { op: "<=", value: 0.5 },
            ),
            plainRow("buildx invocations (BuildKit history)", `${builds} in ${2 * runs} ups`, "", "", undefined),
        ],
        notes: [
            `The context is the article's app with the usual "dependencies first" layout of a Go Dockerfile: the standard-library compile (\`go build -trimpath fmt runtime syscall\` for the target) in its own layer before \`COPY main.go\`, on the plain fixture golang image (nothing precompiled). app/Dockerfile as it is compiles everything in the one step after \`COPY go.mod main.go\`, so for it no cache of any kind can save anything on a source change; this layout is what a registry cache is for.`,
            `With \`cacheRepository: ${CACHE_REPO}\` each platform is built by its own buildx invocation with \`--cache-from/--cache-to type=registry,ref=${CACHE_REPO}:<arch>,mode=max\` (one registry ref keeps only the last platform of a multi-platform build, docker/buildx#1044), so the with-cache figure includes exporting the new cache (every layer of both platforms, mode=max) on each run, besides importing the old one. Without it: one multi-platform invocation. Each run: prune the builder (\`docker buildx prune --all\`), change main.go, \`pulumi up --yes --skip-preview\`.`,
        ],
        seconds: (Date.now() - t0) / 1000,
    };
}
