// The one exec seam: every process the library starts goes through `run`, so nothing
// shells out on the side, every child gets an environment without Pulumi's variables (plus
// only its own secrets, never on argv), and the seam knows every live child, so that a
// cancelled run or a plugin whose engine is gone can stop them all (`stopAll`).
import { type ChildProcess, spawn } from "child_process";

export interface RunOptions {
    /** Written to the child's stdin, then stdin is closed. Use it for secrets. */
    input?: string | Buffer;
    cwd?: string;
    /** The child's own variables (its secrets), over the parent's environment without Pulumi's ({@link childEnv}). */
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

/**
 * Whether a variable is Pulumi's: the engine, the language host and the SDK keep their state
 * in PULUMI_* variables, several of them secrets: PULUMI_CONFIG (the stack's whole decrypted
 * configuration, secrets included) and PULUMI_CONFIG_SECRET_KEYS in the program,
 * PULUMI_ACCESS_TOKEN and PULUMI_API that the engine gives every plugin, PULUMI_CONFIG_PASSPHRASE
 * (the key to every secret of a passphrase stack), PULUMI_NODEJS_* (the engine's addresses).
 * docker, buildx, ssh and credential helpers read none of them.
 */
export const isPulumiVariable = (name: string): boolean => /^PULUMI_/i.test(name);

/**
 * A child's environment: the parent's without Pulumi's variables, plus `own`. What docker,
 * buildx and their helpers read stays (PATH, HOME, DOCKER_*, BUILDX_*, BUILDKIT_*, proxies,
 * TMPDIR, locale, SSH_AUTH_SOCK, the cloud logins credential helpers use).
 */
export function childEnv(
    own: Record<string, string> = {},
    parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(parent)) if (v !== undefined && !isPulumiVariable(k)) env[k] = v;
    return { ...env, ...own };
}

/** Every child that has not exited yet. */
const live = new Set<ChildProcess>();
/** Set by stopAll: why no child may run any more. */
let stopped: string | undefined;

/** Pids of the children that have not exited yet. */
export function liveChildren(): number[] {
    return [...live].map((c) => c.pid!).filter(Boolean);
}

/** Why children were stopped (the run cancelled, the engine gone), or undefined. */
export function stopReason(): string | undefined {
    return stopped;
}

/** Throws the reason children were stopped, if they were: work that would follow them (a tag move) must not start. */
export function throwIfStopped(): void {
    if (stopped) throw new Error(stopped);
}

/**
 * Stops every live child (SIGTERM; SIGKILL for those still there after `graceMs`) and makes
 * every later `run` fail with `reason`. Resolves once all have exited. docker hands SIGTERM
 * on to its buildx plugin, which cancels the build in BuildKit (measured: all gone in 0.1 s).
 */
export async function stopAll(reason: string, graceMs = 2000): Promise<void> {
    stopped ??= reason;
    const children = [...live];
    if (!children.length) return;
    const exited = children.map(
        (c) =>
            new Promise<void>((resolve) => {
                if (c.exitCode !== null || c.signalCode !== null) return resolve();
                c.once("exit", () => resolve());
            }),
    );
    for (const c of children) c.kill("SIGTERM");
    const hard = setTimeout(() => {
        for (const c of children) if (live.has(c)) c.kill("SIGKILL");
    }, graceMs);
    await Promise.all(exited);
    clearTimeout(hard);
}

/**
 * Where `run` sends every command: a child process (`spawnChild`), or, in a unit test, a fake
 * of the test's own that stands in for a tool (a buildx that pushes into an in-process registry).
 */
let runner: Runner = (file, args, opts) => spawnChild(file, args, opts);

export const run: Runner = (file, args, opts) => runner(file, args, opts);

/**
 * For unit tests: every `run` goes to `fake` until the returned function puts the child
 * processes back. The seam stays one: the fake replaces the children, not the callers' path.
 */
export function replaceRunner(fake: Runner): () => void {
    runner = fake;
    return () => {
        runner = (file, args, opts) => spawnChild(file, args, opts);
    };
}

function spawnChild(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const command = [file, ...args].map(quote).join(" ");
    // A stopped child is named by its command words alone (`docker buildx build`), not its whole argv.
    const firstOption = args.findIndex((a) => a.startsWith("-"));
    const name = [file, ...(firstOption < 0 ? args : args.slice(0, firstOption))].join(" ");
    if (stopped) return Promise.reject(new Error(`\`${name}\` was not started: ${stopped}`));
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, {
            cwd: opts.cwd,
            env: childEnv(opts.env),
            stdio: ["pipe", "pipe", "pipe"],
            signal: opts.signal,
        });
        live.add(child);
        child.on("exit", () => live.delete(child));
        let stdout = "";
        let stderr = "";
        const pending: Record<"stdout" | "stderr", string> = { stdout: "", stderr: "" };
        const feed = (stream: "stdout" | "stderr", chunk: string) => {
            if (!opts.onLine) return;
            const lines = (pending[stream] + chunk).split("\n");
            pending[stream] = lines.pop() ?? "";
            for (const l of lines) opts.onLine(l, stream);
        };
        child.stdout.setEncoding("utf8").on("data", (c: string) => {
            stdout += c;
            feed("stdout", c);
        });
        child.stderr.setEncoding("utf8").on("data", (c: string) => {
            stderr += c;
            feed("stderr", c);
        });
        child.on("error", (err: NodeJS.ErrnoException) => {
            if (child.pid === undefined) live.delete(child); // never started
            if (err.name === "AbortError") return; // the child is being stopped: "close" settles the call
            if (err.code === "ENOENT") {
                reject(
                    new Error(
                        `\`${file}\` was not found on PATH: run \`npm run up\` (scripts/bootstrap) to install the toolchain, or source scripts/env.sh`,
                    ),
                );
            } else {
                reject(err);
            }
        });
        child.on("close", (code) => {
            for (const s of ["stdout", "stderr"] as const) {
                if (pending[s] && opts.onLine) opts.onLine(pending[s], s);
            }
            const result = { command, code: code ?? -1, stdout, stderr };
            if (stopped && result.code !== 0) reject(new Error(`\`${name}\` was stopped: ${stopped}`));
            else if (result.code !== 0 && !opts.allowFailure) reject(execError(result));
            else resolve(result);
        });
        child.stdin.on("error", () => {
            /* the child may exit before reading stdin */
        });
        child.stdin.end(opts.input ?? "");
    });
}
