// RESULTS.md: one table per case, each figure with its baseline from the same run, the
// paired ratio and its target. Pure: takes the measured values, returns markdown.
import {
    type Comparison,
    fmtRatio,
    fmtRatioSummary,
    fmtSummary,
    pairedRatios,
    summarize,
    type Summary,
    verdict,
} from "./stats";

export interface Row {
    figure: string;
    subject: string;
    baseline: string;
    ratio: string;
    target: string;
    verdict: "met" | "missed" | "";
    /** The median ratio, for the headline list. */
    value?: number;
}

export interface CaseResult {
    id: string;
    title: string;
    rows: Row[];
    notes: string[];
    /** Wall time of the case, set-up included. */
    seconds: number;
    /** The versions that matter to this case, said in its section when it is merged in alone. Default: the run's. */
    versions?: string[];
}

/** A timed figure against its baseline: medians, ranges and the median of per-pair ratios. */
export function ratioRow(
    figure: string,
    subject: number[],
    baseline: number[],
    target?: { op: Comparison; value: number },
    unit?: (v: number) => string,
): Row {
    const ratios = summarize(pairedRatios(subject, baseline));
    return {
        figure,
        subject: fmtSummary(summarize(subject), unit),
        baseline: fmtSummary(summarize(baseline), unit),
        ratio: fmtRatioSummary(ratios),
        target: target ? `${target.op.replace("<=", "≤").replace(">=", "≥")} ${fmtRatio(target.value)}` : "",
        verdict: target ? verdict(ratios.median, target.op, target.value) : "",
        value: ratios.median,
    };
}

/** A count or other figure with its own target (e.g. builds started: 0 of 5). */
export function plainRow(figure: string, subject: string, baseline = "", target = "", met?: boolean): Row {
    return { figure, subject, baseline, ratio: "", target, verdict: met === undefined ? "" : met ? "met" : "missed" };
}

export function summaryOf(xs: number[]): Summary {
    return summarize(xs);
}

export interface Meta {
    date: string;
    machine: string[];
    versions: string[];
    runs: number;
    totalSeconds: number;
    notCounted: string[];
}

function table(rows: Row[]): string[] {
    const esc = (s: string) => s.replace(/\|/g, "\\|");
    const lines = [
        "| figure | subject: median (min–max) | baseline: median (min–max) | ratio: median (min–max) | target | |",
        "|---|---|---|---|---|---|",
    ];
    for (const r of rows) {
        lines.push(
            `| ${[r.figure, r.subject, r.baseline, r.ratio, r.target, r.verdict === "missed" ? "**missed**" : r.verdict].map(esc).join(" | ")} |`,
        );
    }
    return lines;
}

export function renderResults(meta: Meta, cases: CaseResult[], preamble: string[] = []): string {
    const lines: string[] = [
        "# Benchmark results",
        "",
        `Written by \`npm run bench\` on ${meta.date}; ${meta.runs} runs of every figure, subject and`,
        "baseline interleaved (ABAB) on a shared machine. Each ratio is the median of the per-run",
        "ratios subject/baseline, with their range.",
        "",
        ...preamble,
        "## Machine and versions",
        "",
        ...meta.machine.map((m) => `- ${m}`),
        ...meta.versions.map((v) => `- ${v}`),
        "",
        "## Targets",
        "",
        "| case | figure | ratio | target | |",
        "|---|---|---|---|---|",
    ];
    for (const c of cases) {
        for (const r of c.rows.filter((r) => r.target)) {
            lines.push(
                `| ${c.id} | ${r.figure} | ${r.ratio || r.subject} | ${r.target} | ${r.verdict === "missed" ? "**missed**" : r.verdict} |`,
            );
        }
    }
    lines.push("");
    for (const c of cases) {
        lines.push(`## ${c.id}. ${c.title}`, "", ...table(c.rows), "");
        if (c.notes.length) lines.push(...c.notes.map((n) => `- ${n}`), "");
        lines.push(`Case wall time, set-up included: ${Math.round(c.seconds)} s.`, "");
    }
    lines.push(
        "## Bench run",
        "",
        `Whole \`npm run bench\`: ${Math.round(meta.totalSeconds)} s (${(meta.totalSeconds / 60).toFixed(1)} min).`,
    );
    lines.push(...meta.notCounted.map((n) => `- ${n}`), "");
    return lines.join("\n");
}

/**
 * `existing` (a RESULTS.md) with the sections of `cases` replaced (or added before "## Bench
 * run") and their rows of the Targets table replaced, each such section saying when and on what
 * it was measured: for a case run alone (`npm run bench -- --cases 9 --merge`) while the others'
 * figures stand. Pure.
 */
export function mergeResults(existing: string, meta: Meta, cases: CaseResult[]): string {
    let text = existing;
    const ids = new Set(cases.map((c) => c.id));
    // Targets: drop the rows of these cases, then add theirs at the end of the table.
    const lines = text.split("\n");
    const start = lines.indexOf("## Targets");
    if (start < 0) throw new Error('no "## Targets" section in the results to merge into');
    let end = lines.findIndex((l, i) => i > start + 3 && !l.startsWith("|"));
    const kept = lines.slice(start, end).filter((l) => !ids.has(/^\| (\w+) \|/.exec(l)?.[1] ?? ""));
    const added = cases.flatMap((c) =>
        c.rows
            .filter((r) => r.target)
            .map(
                (r) =>
                    `| ${c.id} | ${r.figure} | ${r.ratio || r.subject} | ${r.target} | ${r.verdict === "missed" ? "**missed**" : r.verdict} |`,
            ),
    );
    lines.splice(start, end - start, ...kept, ...added);
    text = lines.join("\n");
    for (const c of cases) {
        const section = [
            `## ${c.id}. ${c.title}`,
            "",
            `Measured alone on ${meta.date} (${meta.runs} rounds), on ${meta.machine.join("; ")}; ${(c.versions ?? meta.versions).join("; ")}.`,
            "",
            ...table(c.rows),
            "",
            ...c.notes.map((n) => `- ${n}`),
            "",
            `Case wall time, set-up included: ${Math.round(c.seconds)} s.`,
            "",
        ].join("\n");
        const at = text.indexOf(`\n## ${c.id}. `);
        if (at >= 0) {
            end = text.indexOf("\n## ", at + 1);
            text = `${text.slice(0, at + 1)}${section}${text.slice(end + 1)}`;
        } else {
            const run = text.indexOf("\n## Bench run");
            text = `${text.slice(0, run + 1)}${section}\n${text.slice(run + 1)}`;
        }
    }
    return text;
}
