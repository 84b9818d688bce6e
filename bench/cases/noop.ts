// Case 1: a no-op `pulumi up` of the main job (index.ts, a stack configured like dev) starts
// no build and costs at most 1.5x a `pulumi up` of an empty program on the same engine.
import { LOCAL_BUILDKIT_IMAGE } from "../../core/versions";
import { REGISTRY } from "../lib/fixtures";
import { parseChanges } from "../lib/parse";
import { type CaseResult, plainRow, ratioRow } from "../lib/report";
import { buildCount, say } from "../lib/sh";
import { BenchStack } from "../lib/stack";

export const mainStack = () => new BenchStack("bench-main", "dev", "index.ts");
export const emptyStack = () => new BenchStack("bench-empty", "dev", "bench/programs/empty/index.ts");

export async function noopCase(runs: number): Promise<CaseResult> {
    const t0 = Date.now();
    const main = mainStack();
    // As Pulumi.dev.yaml, pushing to the bench's own repository.
    main.init({
        "pulumi-multiarch:platforms": JSON.stringify(["linux/amd64", "linux/arm64"]),
        "pulumi-multiarch:registry": REGISTRY,
        "pulumi-multiarch:repository": "bench/hello",
        "pulumi-multiarch:tag": "1.0",
        "pulumi-multiarch:manifest": "index",
        "pulumi-multiarch:buildkitImage": process.env.PULUMI_MULTIARCH_BUILDKIT_IMAGE ?? LOCAL_BUILDKIT_IMAGE,
    });
    const empty = emptyStack();
    empty.init({});
    say("case 1: first up of both stacks (not timed)");
    await main.up();
    await empty.up();
    const builder: string = main.outputs().builderName;

    const mainTimes: number[] = [];
    const emptyTimes: number[] = [];
    // The same pair with ts-node's type check off (PULUMI_NODEJS_TRANSPILE_ONLY=true), to show
    // what the type check of index.ts and components/ costs on every preview and update.
    const noCheck = { PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
    const mainNoCheck: number[] = [];
    const emptyNoCheck: number[] = [];
    let builds = 0;
    let changed = 0;
    for (let i = 0; i < runs; i++) {
        say(`case 1: run ${i + 1}/${runs}`);
        const doMain = async () => {
            const since = new Date();
            const r = await main.up();
            builds += buildCount(builder, since);
            const c = parseChanges(r.stdout);
            changed += Object.entries(c)
                .filter(([k]) => k !== "unchanged")
                .reduce((a, [, n]) => a + n, 0);
            mainTimes.push(r.seconds);
        };
        const doEmpty = async () => {
            emptyTimes.push((await empty.up()).seconds);
        };
        const doMainNoCheck = async () => {
            mainNoCheck.push((await main.up({ env: noCheck })).seconds);
        };
        const doEmptyNoCheck = async () => {
            emptyNoCheck.push((await empty.up({ env: noCheck })).seconds);
        };
        if (i % 2 === 0) {
            await doMain();
            await doEmpty();
            await doMainNoCheck();
            await doEmptyNoCheck();
        } else {
            await doEmpty();
            await doMain();
            await doEmptyNoCheck();
            await doMainNoCheck();
        }
    }
    return {
        id: "1",
        title: "No-op `pulumi up` of the main job",
        rows: [
            ratioRow(
                "no-op `pulumi up` of index.ts (stack like dev) vs `pulumi up` of an empty program",
                mainTimes,
                emptyTimes,
                { op: "<=", value: 1.5 },
            ),
            ratioRow(
                "the same pair, type check off in both (PULUMI_NODEJS_TRANSPILE_ONLY=true)",
                mainNoCheck,
                emptyNoCheck,
            ),
            plainRow(
                "builds started by the no-op ups (BuildKit history of the stack's builder)",
                `${builds} in ${runs} ups`,
                "",
                "0",
                builds === 0,
            ),
            plainRow("resources changed by the no-op ups", `${changed}`, "", "0", changed === 0),
        ],
        notes: [
            "Both as `npm run up` runs them: `pulumi up --yes` (preview, then update) through the CLI, TypeScript programs on the same engine, language host and local file backend.",
            `Builds counted as records of \`docker buildx history ls --builder ${builder}\` created during each no-op up (the type-checked ones).`,
            "index.ts imports the library as a consumer does since issue 24: the compiled package (dist/components through node_modules/pulumi-multiarch), type-checked by ts-node against its .d.ts files; before, it imported components/ as TypeScript sources (the committed 2.54x, at 2c49985).",
            "Where the time goes (one no-op `pulumi preview -v=9 --logtostderr` of the same stack, type check off, traced by hand at a load average of about 15, not part of the bench): the language host starts the program at 0.34 s; the program registers its stack at 2.43 s (Node.js, @pulumi/pulumi, ts-node: what the empty program pays too) and its components 1.66 s later (ts-node compiling index.ts and config.ts, the compiled library's load: 0.05 s with `node -e 'require(...)'`, the context digest of app/); the engine starts pulumi-resource-multiarch (0.35 s to its port at that load; 0.12 s on a quiet machine, case 8), and the check and diff of the three resources take 0.21 s. `strace -f -e trace=execve` of the same preview: no `docker`, `docker buildx` or `sh` process (before, per preview: `docker buildx version` and `docker buildx ls`, 3 processes each, and 17 `sh`/`id`/`uname`/`cat`/`sed` processes; `docker buildx ls` alone about 1 s at that load); what runs is the CLI's own (`git status`, `node --version`), the language host, the program and the plugin. With the type check on, ts-node also type-checks index.ts and config.ts against @pulumi/pulumi's and the library's .d.ts files at each of the two runs of an `up`; the empty program imports nothing.",
        ],
        seconds: (Date.now() - t0) / 1000,
    };
}
