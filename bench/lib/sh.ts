// Process calls of the benchmarks, timed with a monotonic clock. Every call's output goes to
// one log file per bench run (.state/bench/bench.log), so a failure can be read afterwards.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { buildsSince } from "./parse";
import { TreeSampler } from "./procfs";

export const ROOT = path.resolve(__dirname, "..", "..");
export const WORK = path.join(ROOT, ".state", "bench");
export const LOG = path.join(WORK, "bench.log");

fs.mkdirSync(WORK, { recursive: true });

export function log(line: string): void {
    fs.appendFileSync(LOG, `${line}\n`);
}

/** Progress for the person running the bench (stderr), also logged. */
export function say(line: string): void {
    process.stderr.write(`${line}\n`);
    log(`## ${line}`);
}

export interface Timed {
    seconds: number;
    stdout: string;
    stderr: string;
    code: number;
    /** Peak RSS per role of the process tree, when sampled. */
    peakKiB?: TreeSampler["peakKiB"];
}

export interface CallOptions {
    cwd?: string;
    env?: Record<string, string>;
    /** Resolve instead of throwing on a non-zero exit. */
    allowFailure?: boolean;
    /** Sample the RSS of the child's process tree. */
    sampleMemory?: boolean;
}

/**
 * Other jobs on this machine test QEMU handlers (remove, disable, re-register them); a build
 * caught in that moment fails with "exec format error". Such a run is repeated (up to three
 * times, 20 s apart) and counted here so RESULTS.md can say how often it happened.
 */
export const retries: string[] = [];
const TRANSIENT = /exec format error/;

/** Runs `file args`, returning its wall time in seconds; throws with the output tail on failure. */
export async function timed(file: string, args: string[], opts: CallOptions = {}): Promise<Timed> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await timedOnce(file, args, opts);
        } catch (e) {
            if (!TRANSIENT.test((e as Error).message) || attempt > 3) throw e;
            retries.push(`${file} ${args.slice(0, 4).join(" ")}: ${(e as Error).message.match(TRANSIENT)![0]}`);
            say(`transient failure (${retries[retries.length - 1]}); repeating in 20 s`);
            await new Promise((r) => setTimeout(r, 20_000));
        }
    }
}

function timedOnce(file: string, args: string[], opts: CallOptions): Promise<Timed> {
    const command = [file, ...args].join(" ");
    log(`$ ${command}${opts.cwd ? `   (in ${opts.cwd})` : ""}`);
    return new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const child = spawn(file, args, {
            cwd: opts.cwd,
            env: { ...process.env, ...opts.env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        const sampler = opts.sampleMemory && child.pid ? new TreeSampler(child.pid).start() : undefined;
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (c: string) => {
            stdout += c;
        });
        child.stderr.setEncoding("utf8").on("data", (c: string) => {
            stderr += c;
        });
        child.on("error", reject);
        child.on("close", (code) => {
            const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
            sampler?.stop();
            log(stdout.trimEnd());
            if (stderr.trim()) log(stderr.trimEnd());
            log(`# exit ${code} after ${seconds.toFixed(3)} s`);
            const res: Timed = {
                seconds,
                stdout,
                stderr,
                code: code ?? -1,
                ...(sampler ? { peakKiB: sampler.peakKiB } : {}),
            };
            if (res.code !== 0 && !opts.allowFailure) {
                const tail =
                    `${stderr}\n${stdout}`.trim().split("\n").slice(-25).join("\n") +
                    (TRANSIENT.test(stderr + stdout) ? "\n(exec format error)" : "");
                reject(new Error(`\`${command}\` failed with exit code ${res.code}:\n${tail}`));
            } else {
                resolve(res);
            }
        });
    });
}

/** A quick synchronous call whose output we need (versions, counts); throws on failure. */
export function out(file: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): string {
    const r = spawnSync(file, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: "utf8" });
    if (r.status !== 0)
        throw new Error(
            `\`${file} ${args.join(" ")}\` failed (${r.status}): ${(r.stderr || r.stdout || String(r.error)).trim()}`,
        );
    return r.stdout.trim();
}

/** Builds the builder started since `since` (BuildKit's history of its builds). */
export function buildCount(builder: string, since: Date): number {
    return buildsSince(out("docker", ["buildx", "history", "ls", "--builder", builder, "--format", "json"]), since);
}

/** Empties a builder's build cache (only builders the bench created: names start with bench-). */
export async function pruneBuilder(builder: string): Promise<void> {
    if (!builder.startsWith("bench-"))
        throw new Error(`refusing to prune ${builder}: the bench prunes only its own builders (bench-*)`);
    await timed("docker", ["buildx", "prune", "--builder", builder, "--all", "--force"]);
}
