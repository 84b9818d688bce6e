// /proc readers for the machine facts in RESULTS.md and for the peak memory of a process
// tree. Parsers are pure (tested on captured text); the sampler reads the live /proc.
import * as fs from "fs";

export interface Machine {
    cpuModel: string;
    cores: number;
    memTotalKiB: number;
    kernel: string;
}

/** Model name and logical CPU count from /proc/cpuinfo. */
export function parseCpuinfo(text: string): { model: string; cores: number } {
    const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
    const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1].trim() ?? "unknown";
    return { model, cores: blocks.length };
}

/** MemTotal in KiB from /proc/meminfo. */
export function parseMeminfo(text: string): number {
    const m = /^MemTotal:\s+(\d+)\s+kB$/m.exec(text);
    if (!m) throw new Error("no MemTotal in /proc/meminfo");
    return Number(m[1]);
}

/** "6.18.44-..." from /proc/version ("Linux version 6.18.44-... (builder@...) ..."). */
export function parseKernel(text: string): string {
    const m = /^Linux version (\S+)/.exec(text);
    if (!m) throw new Error(`unexpected /proc/version: ${text.slice(0, 80)}`);
    return m[1];
}

export function readMachine(): Machine {
    const cpu = parseCpuinfo(fs.readFileSync("/proc/cpuinfo", "utf8"));
    return {
        cpuModel: cpu.model,
        cores: cpu.cores,
        memTotalKiB: parseMeminfo(fs.readFileSync("/proc/meminfo", "utf8")),
        kernel: parseKernel(fs.readFileSync("/proc/version", "utf8")),
    };
}

export interface ProcStatus {
    name: string;
    ppid: number;
    /** Resident set size in KiB (0 for kernel threads and zombies). */
    rssKiB: number;
}

/** Name, parent and VmRSS from /proc/<pid>/status. */
export function parseStatus(text: string): ProcStatus {
    const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, "m").exec(text)?.[1].trim();
    const rss = field("VmRSS");
    return { name: field("Name") ?? "", ppid: Number(field("PPid") ?? 0), rssKiB: rss ? parseInt(rss, 10) : 0 };
}

export interface Proc extends ProcStatus {
    pid: number;
    /** argv joined with spaces. */
    cmdline: string;
}

/** `root` and every process below it. */
export function descendants(procs: Proc[], root: number): Proc[] {
    const children = new Map<number, Proc[]>();
    for (const p of procs) (children.get(p.ppid) ?? children.set(p.ppid, []).get(p.ppid)!).push(p);
    const out: Proc[] = [];
    const stack = procs.filter((p) => p.pid === root);
    while (stack.length) {
        const p = stack.pop()!;
        out.push(p);
        stack.push(...(children.get(p.pid) ?? []));
    }
    return out;
}

/**
 * Which part of a `pulumi up` a process is: the CLI/engine, the language host and the
 * Node.js program it runs (the Pulumi program), a resource provider plugin (dynamic
 * providers run as `node .../pulumi-resource-pulumi-nodejs`), or a tool a provider started.
 */
export type Role = "engine" | "program" | "provider" | "tool";

export function classify(p: Proc): Role {
    if (p.name === "pulumi" || /(^|\/)pulumi (up|preview|destroy|refresh)\b/.test(p.cmdline)) return "engine";
    if (p.name.startsWith("pulumi-language") || /@pulumi\/pulumi\/cmd\/run\b|pulumi-language-nodejs/.test(p.cmdline))
        return "program";
    if (p.name.startsWith("pulumi-resource") || /pulumi-resource-|cmd\/dynamic-provider/.test(p.cmdline))
        return "provider";
    return "tool";
}

function readProcs(): Proc[] {
    const out: Proc[] = [];
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const st = parseStatus(fs.readFileSync(`/proc/${d}/status`, "utf8"));
            const cmdline = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ").trim();
            out.push({ pid: Number(d), cmdline, ...st });
        } catch {
            /* the process ended while we looked */
        }
    }
    return out;
}

/** Peak summed RSS per role over a process tree, sampled every `intervalMs`. */
export class TreeSampler {
    private timer?: NodeJS.Timeout;
    readonly peakKiB: Record<Role | "all", number> = { engine: 0, program: 0, provider: 0, tool: 0, all: 0 };
    samples = 0;

    constructor(
        private readonly root: number,
        private readonly intervalMs = 100,
    ) {}

    start(): this {
        const tick = () => {
            const sums: Record<Role | "all", number> = { engine: 0, program: 0, provider: 0, tool: 0, all: 0 };
            for (const p of descendants(readProcs(), this.root)) {
                sums[classify(p)] += p.rssKiB;
                sums.all += p.rssKiB;
            }
            for (const k of Object.keys(sums) as (Role | "all")[]) this.peakKiB[k] = Math.max(this.peakKiB[k], sums[k]);
            this.samples++;
        };
        tick();
        this.timer = setInterval(tick, this.intervalMs);
        return this;
    }

    stop(): void {
        if (this.timer) clearInterval(this.timer);
    }
}

/** The 1-minute load average from /proc/loadavg ("0.52 0.58 0.59 1/467 12345"). */
export function parseLoadavg(text: string): number {
    const m = /^\s*(\d+(?:\.\d+)?)\s/.exec(text);
    if (!m) throw new Error(`unexpected /proc/loadavg: ${text.slice(0, 40)}`);
    return Number(m[1]);
}

/** Samples the 1-minute load average every 5 s: per case (reset) and over the whole run. */
export class LoadSampler {
    private timer?: NodeJS.Timeout;
    private current: number[] = [];
    private all: number[] = [];

    start(): void {
        const sample = () => {
            try {
                const v = parseLoadavg(fs.readFileSync("/proc/loadavg", "utf8"));
                this.current.push(v);
                this.all.push(v);
            } catch {
                /* no /proc */
            }
        };
        sample();
        this.timer = setInterval(sample, 5000);
        this.timer.unref();
    }

    stop(): void {
        if (this.timer) clearInterval(this.timer);
    }
    reset(): void {
        this.current = [];
    }
    describe(): string {
        return describeLoad(this.current);
    }
    describeAll(): string {
        return describeLoad(this.all);
    }
}

/** "median 4.1 (1.2–9.8), 37 samples". Pure. */
export function describeLoad(xs: number[]): string {
    if (!xs.length) return "not sampled";
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return `median ${mid.toFixed(1)} (${s[0].toFixed(1)}–${s[s.length - 1].toFixed(1)}), ${s.length} samples`;
}
