// Pure statistics for the benchmarks: medians, ranges and ratios of paired runs. Every figure
// in RESULTS.md is a ratio against a baseline measured in the same run, interleaved with it
// (ABAB), so a noisy shared machine shifts both sides of a pair alike.

export interface Summary {
    n: number;
    median: number;
    min: number;
    max: number;
}

/** Median (mean of the middle two for an even count). Throws on an empty list. */
export function median(xs: number[]): number {
    if (xs.length === 0) throw new Error("median of no values");
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(xs: number[]): Summary {
    return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** subject[i] / baseline[i] for each pair (the two lists are runs of the same repetitions). */
export function pairedRatios(subject: number[], baseline: number[]): number[] {
    if (subject.length !== baseline.length)
        throw new Error(`unpaired runs: ${subject.length} subject vs ${baseline.length} baseline`);
    return subject.map((s, i) => {
        if (!(baseline[i] > 0)) throw new Error(`baseline run ${i + 1} is ${baseline[i]}, cannot divide by it`);
        return s / baseline[i];
    });
}

/** Formats seconds: "0.084 s", "1.23 s", "12.3 s", "123 s". */
export function fmtSeconds(s: number): string {
    if (s < 0.1) return `${s.toFixed(3)} s`;
    if (s < 10) return `${s.toFixed(2)} s`;
    if (s < 100) return `${s.toFixed(1)} s`;
    return `${s.toFixed(0)} s`;
}

/** "9.1 s (8.7–10.2)": median and range. */
export function fmtSummary(x: Summary, unit: (v: number) => string = fmtSeconds): string {
    return `${unit(x.median)} (${unit(x.min)}–${unit(x.max)})`;
}

/** "1.23x" with two decimals (three below 0.1). */
export function fmtRatio(r: number): string {
    return `${r < 0.1 ? r.toFixed(3) : r.toFixed(2)}x`;
}

/** "1.23x (1.10–1.41)". */
export function fmtRatioSummary(x: Summary): string {
    return `${fmtRatio(x.median)} (${fmtRatio(x.min)}–${fmtRatio(x.max)})`;
}

export type Comparison = "<=" | "<" | ">=" | ">";

/** Whether `value` meets `target` under `op`, as "met" / "missed". */
export function verdict(value: number, op: Comparison, target: number): "met" | "missed" {
    const ok =
        op === "<=" ? value <= target : op === "<" ? value < target : op === ">=" ? value >= target : value > target;
    return ok ? "met" : "missed";
}

/** Mebibytes with one decimal, from KiB. */
export function fmtMiB(kib: number): string {
    return `${(kib / 1024).toFixed(1)} MiB`;
}
