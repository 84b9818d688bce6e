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
        if (head && !names.has(head[1])) { names.set(head[1], head[2].trim()); continue; }
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
