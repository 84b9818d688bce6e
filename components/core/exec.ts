// The one exec seam: every process the library starts goes through `run`, so nothing
// shells out on the side. Secrets travel on stdin or in the child's environment, never argv.
import { spawn } from "child_process";

export interface RunOptions {
    /** Written to the child's stdin, then stdin is closed. Use it for secrets. */
    input?: string | Buffer;
    cwd?: string;
    /** Extra environment, merged over process.env. */
    env?: Record<string, string>;
    /** Called with each line of stdout and stderr as it arrives (for progress). */
    onLine?: (line: string, stream: "stdout" | "stderr") => void;
    /** Resolve with the result instead of throwing when the exit code is not 0. */
    allowFailure?: boolean;
    /** Aborting it stops the child (SIGTERM); the call then rejects once the child has exited. */
    signal?: AbortSignal;
}

export interface RunResult {
    command: string;
    code: number;
    stdout: string;
    stderr: string;
}

/** A command that exited non-zero: carries the command line and its trimmed stderr. */
export interface ExecError extends Error {
    result: RunResult;
}

/**
 * A plain Error, not a subclass: provider code is serialized into the state, and errors of
 * a serialized Error subclass reach the engine without their message.
 */
export function execError(result: RunResult): ExecError {
    const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-20).join("\n");
    const e = new Error(`\`${result.command}\` failed with exit code ${result.code}: ${detail}`) as ExecError;
    e.result = result;
    return e;
}

export type Runner = (file: string, args: string[], opts?: RunOptions) => Promise<RunResult>;

function quote(arg: string): string {
    return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export const run: Runner = (file, args, opts = {}) => {
    const command = [file, ...args].map(quote).join(" ");
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, {
            cwd: opts.cwd,
            env: { ...process.env, ...opts.env },
            stdio: ["pipe", "pipe", "pipe"],
            signal: opts.signal,
        });
        let stdout = "";
        let stderr = "";
        const pending: Record<"stdout" | "stderr", string> = { stdout: "", stderr: "" };
        const feed = (stream: "stdout" | "stderr", chunk: string) => {
            if (!opts.onLine) return;
            const lines = (pending[stream] + chunk).split("\n");
            pending[stream] = lines.pop() ?? "";
            for (const l of lines) opts.onLine(l, stream);
        };
        child.stdout.setEncoding("utf8").on("data", (c: string) => { stdout += c; feed("stdout", c); });
        child.stderr.setEncoding("utf8").on("data", (c: string) => { stderr += c; feed("stderr", c); });
        child.on("error", (err: NodeJS.ErrnoException) => {
            if (err.name === "AbortError") return; // the child is being stopped: "close" settles the call
            if (err.code === "ENOENT") {
                reject(new Error(`\`${file}\` was not found on PATH: run \`npm run up\` (scripts/bootstrap) to install the toolchain, or source scripts/env.sh`));
            } else {
                reject(err);
            }
        });
        child.on("close", (code) => {
            for (const s of ["stdout", "stderr"] as const) {
                if (pending[s] && opts.onLine) opts.onLine(pending[s], s);
            }
            const result = { command, code: code ?? -1, stdout, stderr };
            if (result.code !== 0 && !opts.allowFailure) reject(execError(result));
            else resolve(result);
        });
        child.stdin.on("error", () => { /* the child may exit before reading stdin */ });
        child.stdin.end(opts.input ?? "");
    });
};
