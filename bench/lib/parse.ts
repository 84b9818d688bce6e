// Pure parsers of tool output the bench reads (tested on captured output in tests/unit).

// Step timings from `docker buildx build --progress plain` output:
//   #12 [linux/amd64->arm64 build 4/4] RUN CGO_ENABLED=0 ... go build ...
//   #12 DONE 40.0s
// so a case can report the compile step itself beside the whole build.

export interface Step {
    /** "[linux/arm64 build 4/4] RUN CGO_ENABLED=0 ...". */
    name: string;
    seconds: number;
}

/** Every finished step with its duration, in order of completion (CACHED steps excluded). */
export function stepDurations(progress: string): Step[] {
    const names = new Map<string, string>();
    const steps: Step[] = [];
    for (const line of progress.split("\n")) {
        const head = /^#(\d+) (\[.*)$/.exec(line);
        if (head && !names.has(head[1])) {
            names.set(head[1], head[2].trim());
            continue;
        }
        const done = /^#(\d+) DONE (\d+(?:\.\d+)?)s$/.exec(line.trim());
        if (done && names.has(done[1])) steps.push({ name: names.get(done[1])!, seconds: Number(done[2]) });
    }
    return steps;
}

/** Seconds of the first step whose name matches `pattern` (the last DONE of it wins), or undefined. */
export function stepSeconds(progress: string, pattern: RegExp): number | undefined {
    const matching = stepDurations(progress).filter((s) => pattern.test(s.name));
    return matching.length ? matching[matching.length - 1].seconds : undefined;
}

/** "+ 1 created", "~ 1 updated", "7 unchanged": the change counts of a `pulumi up` summary. */
export function parseChanges(upOutput: string): Record<string, number> {
    const changes: Record<string, number> = {};
    const block = upOutput.split(/^Resources:\s*$/m)[1] ?? "";
    for (const m of block.matchAll(
        /^\s+(?:[+~-]|\+-|-\+)?\s*(\d+)\s+(created|updated|deleted|replaced|unchanged|to create|to update|to delete|to replace)\b/gm,
    )) {
        changes[m[2]] = Number(m[1]);
    }
    return changes;
}

/** Parses bash's `time` with TIMEFORMAT="%R %U %S": wall, and CPU as user + system. */
export function parseBashTime(stderr: string): { seconds: number; cpuSeconds: number } {
    const m = /(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)\s*$/.exec(stderr.trim());
    if (!m) throw new Error(`no timing in: ${stderr.slice(-200)}`);
    return { seconds: Number(m[1]), cpuSeconds: Number(m[2]) + Number(m[3]) };
}

/**
 * Builds in `docker buildx history ls --format json` output (one JSON object a line) created
 * at or after `since`. BuildKit keeps only its newest 50 records, so a count before and after
 * stops moving once that many exist; the creation time does not.
 */
export function buildsSince(historyJsonLines: string, since: Date): number {
    return historyJsonLines
        .split("\n")
        .filter((l) => l.trim().startsWith("{"))
        .map((l) => Date.parse(JSON.parse(l).created_at))
        .filter((t) => t >= since.getTime()).length;
}
