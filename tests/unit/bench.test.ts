// The benchmarks' pure parts: statistics, /proc and tool-output parsers (on output captured
// on this machine, tests/fixtures/bench), the tree's shape and the results table.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

import { buildsSince, parseBashTime, parseChanges, stepDurations, stepSeconds } from "../../bench/lib/parse";
import {
    classify,
    descendants,
    describeLoad,
    parseCpuinfo,
    parseKernel,
    parseLoadavg,
    parseMeminfo,
    parseStatus,
    type Proc,
} from "../../bench/lib/procfs";
import { mergeResults, plainRow, ratioRow, renderResults } from "../../bench/lib/report";
import {
    fmtMiB,
    fmtRatio,
    fmtRatioSummary,
    fmtSeconds,
    median,
    pairedRatios,
    summarize,
    verdict,
} from "../../bench/lib/stats";
import { treeSizes } from "../../bench/lib/tree";

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "..", "fixtures", "bench", name), "utf8");

describe("bench statistics", () => {
    it("takes the median of odd and even counts without reordering its input", () => {
        const xs = [5, 1, 3];
        assert.strictEqual(median(xs), 3);
        assert.deepStrictEqual(xs, [5, 1, 3]);
        assert.strictEqual(median([4, 1, 3, 2]), 2.5);
        assert.throws(() => median([]), /no values/);
    });

    it("summarizes median, min, max and count", () => {
        assert.deepStrictEqual(summarize([9.1, 8.7, 10.2, 9.0, 9.4]), { n: 5, median: 9.1, min: 8.7, max: 10.2 });
    });

    it("divides paired runs, refusing unpaired lists and zero baselines", () => {
        assert.deepStrictEqual(pairedRatios([2, 3], [1, 2]), [2, 1.5]);
        assert.throws(() => pairedRatios([1, 2], [1]), /unpaired/);
        assert.throws(() => pairedRatios([1], [0]), /cannot divide/);
    });

    it("formats seconds, ratios and MiB", () => {
        assert.strictEqual(fmtSeconds(0.0841), "0.084 s");
        assert.strictEqual(fmtSeconds(1.234), "1.23 s");
        assert.strictEqual(fmtSeconds(12.34), "12.3 s");
        assert.strictEqual(fmtSeconds(123.4), "123 s");
        assert.strictEqual(fmtRatio(1.234), "1.23x");
        assert.strictEqual(fmtRatio(0.0456), "0.046x");
        assert.strictEqual(fmtRatioSummary({ n: 3, median: 1.5, min: 1.25, max: 2 }), "1.50x (1.25x–2.00x)");
        assert.strictEqual(fmtMiB(2048), "2.0 MiB");
    });

    it("judges a target", () => {
        assert.strictEqual(verdict(1.5, "<=", 1.5), "met");
        assert.strictEqual(verdict(1.51, "<=", 1.5), "missed");
        assert.strictEqual(verdict(1.0, "<", 1.0), "missed");
        assert.strictEqual(verdict(0.8, ">=", 0.8), "met");
    });
});

describe("bench /proc parsers", () => {
    it("reads the CPU model and count from /proc/cpuinfo", () => {
        assert.deepStrictEqual(parseCpuinfo(fixture("proc-cpuinfo.txt")), { model: "AMD EPYC", cores: 2 });
    });

    it("reads the 1-minute load average and summarizes the samples of a case", () => {
        assert.strictEqual(
            parseLoadavg(fixture("proc-loadavg.txt")),
            Number(fixture("proc-loadavg.txt").split(" ")[0]),
        );
        assert.throws(() => parseLoadavg(""), /loadavg/);
        assert.strictEqual(describeLoad([3, 1.5, 9, 2]), "median 2.5 (1.5–9.0), 4 samples");
        assert.strictEqual(describeLoad([]), "not sampled");
    });

    it("reads MemTotal and the kernel release", () => {
        assert.strictEqual(
            parseMeminfo(fixture("proc-meminfo.txt")),
            Number(/MemTotal:\s+(\d+)/.exec(fixture("proc-meminfo.txt"))![1]),
        );
        assert.throws(() => parseMeminfo("MemFree: 1 kB\n"), /MemTotal/);
        assert.strictEqual(parseKernel(fixture("proc-version.txt")), fixture("proc-version.txt").split(" ")[2]);
    });

    it("reads name, parent and RSS from /proc/<pid>/status; none for a kernel thread", () => {
        const st = parseStatus(fixture("proc-status.txt"));
        assert.strictEqual(st.name, "cat");
        assert.strictEqual(st.ppid, 28200);
        assert.ok(st.rssKiB > 0);
        assert.deepStrictEqual(parseStatus("Name:\tkthreadd\nPPid:\t0\n"), { name: "kthreadd", ppid: 0, rssKiB: 0 });
    });

    it("walks a process tree and tells the parts of a pulumi up apart", () => {
        const p = (pid: number, ppid: number, name: string, cmdline: string): Proc => ({
            pid,
            ppid,
            name,
            cmdline,
            rssKiB: pid,
        });
        const procs = [
            p(10, 1, "pulumi", "pulumi up --yes --skip-preview --stack side"),
            p(
                11,
                10,
                "pulumi-language",
                "/root/.cache/pulumi-multiarch/tools/pulumi-3.248.0/pulumi-language-nodejs 127.0.0.1:1",
            ),
            p(12, 11, "node", "/usr/bin/node /work/node_modules/@pulumi/pulumi/cmd/run --monitor 127.0.0.1:2 ."),
            p(13, 10, "pulumi-resource", "/bin/sh pulumi-resource-pulumi-nodejs 127.0.0.1:3"),
            p(14, 13, "node", "node /work/node_modules/@pulumi/pulumi/cmd/dynamic-provider 127.0.0.1:3"),
            p(15, 14, "docker", "docker buildx build --builder bench-side ."),
            p(20, 1, "node", "node unrelated.js"),
        ];
        assert.deepStrictEqual(
            descendants(procs, 10)
                .map((x) => x.pid)
                .sort(),
            [10, 11, 12, 13, 14, 15],
        );
        assert.deepStrictEqual(
            descendants(procs, 10)
                .sort((a, b) => a.pid - b.pid)
                .map(classify),
            ["engine", "program", "program", "provider", "provider", "tool"],
        );
        assert.strictEqual(
            classify(p(30, 10, "pulumi-resource", "pulumi-resource-docker-build 127.0.0.1:4")),
            "provider",
        );
    });
});

describe("bench tool-output parsers", () => {
    it("times buildx steps from plain progress (the cross-compile step of the app)", () => {
        const text = fixture("buildx-progress-cross.txt");
        const steps = stepDurations(text);
        assert.ok(
            steps.some((s) =>
                /^\[linux\/amd64 build 4\/4\] RUN CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build/.test(s.name),
            ),
        );
        assert.strictEqual(stepSeconds(text, /^\[linux\/amd64->arm64 build \d+\/\d+\] RUN /), 0.4);
        assert.strictEqual(stepSeconds(text, /no such step/), undefined);
        assert.deepStrictEqual(stepDurations("#3 [a 1/1] RUN x\n#3 CACHED\n#4 [b 1/1] RUN y\n#4 DONE 1.5s\n"), [
            { name: "[b 1/1] RUN y", seconds: 1.5 },
        ]);
    });

    it("reads the change counts of a pulumi up", () => {
        assert.deepStrictEqual(parseChanges(fixture("pulumi-up-changes.txt")), { created: 3, replaced: 1, updated: 1 });
        assert.deepStrictEqual(parseChanges(fixture("pulumi-up-noop.txt")), { unchanged: 7 });
        assert.deepStrictEqual(parseChanges("no summary"), {});
    });

    it('reads bash\'s time output (TIMEFORMAT="%R %U %S")', () => {
        assert.deepStrictEqual(parseBashTime("some warning\n0.812 0.50 0.21\n"), { seconds: 0.812, cpuSeconds: 0.71 });
        assert.throws(() => parseBashTime("nothing"), /no timing/);
    });
});

describe("bench hashing tree and results", () => {
    it("sizes 20,000 files to exactly 200 MB, deterministically, with a wide spread", () => {
        const a = treeSizes(20_000, 200_000_000);
        assert.strictEqual(a.length, 20_000);
        assert.strictEqual(
            a.reduce((x, y) => x + y, 0),
            200_000_000,
        );
        assert.deepStrictEqual(treeSizes(20_000, 200_000_000), a);
        assert.ok(Math.max(...a) / Math.min(...a) > 1000);
    });

    it("renders a figure with its baseline, paired ratio and verdict, and lists it under targets", () => {
        const row = ratioRow("no-op up vs empty", [3, 4, 6], [2, 2, 3], { op: "<=", value: 1.5 });
        assert.strictEqual(row.ratio, "2.00x (1.50x–2.00x)");
        assert.strictEqual(row.verdict, "missed");
        assert.strictEqual(row.target, "≤ 1.50x");
        const md = renderResults(
            {
                date: "d",
                machine: ["2 cores"],
                versions: ["pulumi v3.248.0"],
                runs: 3,
                totalSeconds: 600,
                notCounted: ["peer build"],
            },
            [
                {
                    id: "1",
                    title: "No-op",
                    rows: [row, plainRow("builds", "0 in 3 ups", "", "0", true)],
                    notes: ["a note"],
                    seconds: 60,
                },
            ],
        );
        assert.match(md, /^\| 1 \| no-op up vs empty \| 2\.00x \(1\.50x–2\.00x\) \| ≤ 1\.50x \| \*\*missed\*\* \|$/m);
        assert.match(md, /^\| 1 \| builds \| 0 in 3 ups \| 0 \| met \|$/m);
        assert.match(md, /^\| no-op up vs empty \| 4\.00 s \(3\.00 s–6\.00 s\) \| 2\.00 s \(2\.00 s–3\.00 s\) \|/m);
        assert.match(md, /Whole `npm run bench`: 600 s \(10\.0 min\)/);
    });

    it("merges a case run alone into the results: its Targets rows and section replaced or added, the others' kept", () => {
        const meta = {
            date: "d1",
            machine: ["2 cores"],
            versions: ["pulumi v3.248.0"],
            runs: 5,
            totalSeconds: 600,
            notCounted: [],
        };
        const one = (id: string, v: string) => ({
            id,
            title: `Case ${id}`,
            rows: [plainRow(`figure ${id}`, v, "", "0", true)],
            notes: [`note ${id}`],
            seconds: 6,
        });
        const md = renderResults(meta, [one("1", "a"), one("2", "b")]);
        const merged = mergeResults(md, { ...meta, date: "d2" }, [one("2", "c"), one("9", "z")]);
        assert.match(
            merged,
            /^\| 1 \| figure 1 \| a \| 0 \| met \|\n\| 2 \| figure 2 \| c \| 0 \| met \|\n\| 9 \| figure 9 \| z \| 0 \| met \|\n\n## 1\. Case 1/m,
        );
        assert.doesNotMatch(merged, /\| b \|/);
        assert.match(
            merged,
            /## 2\. Case 2\n\nMeasured alone on d2 \(5 rounds\), on 2 cores; pulumi v3\.248\.0\.\n[^]*note 2[^]*\n## 9\. Case 9\n[^]*note 9[^]*\n## Bench run/,
        );
        assert.strictEqual(merged.match(/## 2\. /g)!.length, 1);
    });
});

describe("bench build counts", () => {
    it("counts the builds of a buildx history created since a moment", () => {
        const lines = [
            `{"created_at":"2026-11-28T13:28:20.552149058Z","name":"a","status":"Completed"}`,
            `{"created_at":"2026-11-28T13:22:15.137281474Z","name":"b","status":"Completed"}`,
            "#1 [internal] booting buildkit",
        ].join("\n");
        assert.strictEqual(buildsSince(lines, new Date("2026-11-28T13:25:00Z")), 1);
        assert.strictEqual(buildsSince(lines, new Date("2026-11-28T13:00:00Z")), 2);
        assert.strictEqual(buildsSince("", new Date(0)), 0);
    });
});
