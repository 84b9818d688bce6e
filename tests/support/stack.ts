// Inline-program stacks for e2e tests: the real engine through the Automation API, on the
// project's local file backend. Each stack gets a work dir under .state/e2e (so the program
// resolves @pulumi/pulumi from the project's node_modules).
import {
    type ConfigValue,
    type EngineEvent,
    LocalWorkspace,
    type OutputMap,
    PulumiCommand,
    type PulumiFn,
    type Stack,
    type SummaryEvent,
    type UpdateKind,
    type UpdateSummary,
} from "@pulumi/pulumi/automation";
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

import { ENV, ROOT, SECRETS_PROVIDER } from "./env";

export interface StackOptions {
    /** Extra environment for the CLI and the provider processes. */
    env?: Record<string, string>;
    /** Run a different `pulumi` (e.g. a wrapper that changes its namespace). */
    pulumiRoot?: string;
}

/** The file backend's folder (ENV.PULUMI_BACKEND_URL). */
const BACKEND = path.join(ROOT, ".state/pulumi/.pulumi");
/** The file the file backend keeps a stack's state in. */
const stateFile = (project: string, stackName: string) =>
    path.join(BACKEND, "stacks", project, `${stackName.split("/").pop()}.json`);

/**
 * Removes the stack's locks left by a `pulumi` of this host that no longer runs (a run killed
 * by a timeout): the file backend keeps them forever, and every later run of the stack would
 * fail "the stack is currently locked". Locks of live processes stay.
 */
function clearDeadLocks(project: string, stackName: string): void {
    const dir = path.join(BACKEND, "locks/organization", project, stackName);
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        const lock = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
        if (lock.hostname !== os.hostname() || fs.existsSync(`/proc/${lock.pid}`)) continue;
        fs.rmSync(path.join(dir, f));
    }
}

/**
 * The `pulumi` on PATH, asked its version once per test process: the Automation API asks
 * again for every workspace otherwise (a CLI start, about 0.2 s of CPU, per stack).
 */
let pathPulumi: Promise<PulumiCommand> | undefined;
const pulumiOnPath = () => (pathPulumi ??= PulumiCommand.get({ skipVersionCheck: true }));

export async function inlineStack(name: string, program: PulumiFn, opts: StackOptions = {}): Promise<Stack> {
    clearDeadLocks("pm-e2e", name);
    // A stack of this name left by a run that was killed before it cleaned up: its resources
    // (and what state remembers of them, e.g. a registry's manifest mode) must not leak into
    // this run. Destroyed first, with the program it had.
    const leftover = fs.existsSync(stateFile("pm-e2e", name));
    const workDir = path.join(ROOT, ".state", "e2e", name);
    fs.mkdirSync(workDir, { recursive: true });
    const pulumiCommand = opts.pulumiRoot
        ? await PulumiCommand.get({ root: opts.pulumiRoot, skipVersionCheck: true })
        : await pulumiOnPath();
    const args = { stackName: name, projectName: "pm-e2e", program };
    const options = {
        workDir,
        projectSettings: { name: "pm-e2e", runtime: "nodejs" as const, backend: { url: ENV.PULUMI_BACKEND_URL } },
        envVars: { ...ENV, ...(opts.env ?? {}) },
        pulumiCommand,
        secretsProvider: SECRETS_PROVIDER,
    };
    // Only a leftover needs selecting: a new stack is one `stack init`, not a failed `stack select` first.
    const stack = leftover
        ? await LocalWorkspace.selectStack(args, options)
        : await LocalWorkspace.createStack(args, options);
    resultsFromTheRun(stack, "pm-e2e");
    if (leftover) await stack.destroy({ onOutput: () => {} }).catch(() => {});
    return stack;
}

const execFileAsync = promisify(execFile);

/**
 * A stack of the program in `workDir` (an example project, run by the CLI's language host), with
 * `config` set in one command; results read as {@link inlineStack}'s are.
 */
export async function folderStack(
    stackName: string,
    workDir: string,
    envVars: Record<string, string>,
    config: Record<string, string>,
): Promise<Stack> {
    const project = /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8"))?.[1];
    if (!project) throw new Error(`${workDir}/Pulumi.yaml names no project`);
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName, workDir },
        { envVars, pulumiCommand: await pulumiOnPath(), secretsProvider: SECRETS_PROVIDER },
    );
    resultsFromTheRun(stack, project);
    const values = Object.entries(config).map(([k, value]): [string, ConfigValue] => [k, { value }]);
    if (values.length > 0) await stack.setAllConfig(Object.fromEntries(values));
    return stack;
}

/** The fields of an update's summary the engine's summary event does not give; a test that reads one is told so. */
const UNKNOWN_FIELDS = new Set(["message", "environment", "config", "version", "Deployment"]);

/**
 * After each up, refresh and destroy, the Automation API starts the CLI three more times: the
 * outputs twice (masked, then in clear) and the last history entry. Each opens the stack: a Go
 * start and the passphrase's key derivation, about 0.4 s of CPU. The facts are at hand already:
 * the engine's own summary event carries the changes (the history entry is written from the
 * same counts), and one `stack output --show-secrets` gives the outputs, whose secrecy the
 * stack's state file says.
 */
function resultsFromTheRun(stack: Stack, project: string): void {
    let last: { kind: UpdateKind; start: Date; event: SummaryEvent } | undefined;
    type Opts = { onEvent?: (e: EngineEvent) => void } | undefined;
    const watched = <O extends Opts>(kind: UpdateKind, opts: O): O => {
        const start = new Date();
        last = undefined;
        return {
            ...opts,
            onEvent: (e: EngineEvent) => {
                opts?.onEvent?.(e);
                if (e.summaryEvent) last = { kind, start, event: e.summaryEvent };
            },
        };
    };
    const up = stack.up.bind(stack);
    const refresh = stack.refresh.bind(stack);
    const destroy = stack.destroy.bind(stack);
    const info = stack.info.bind(stack);
    stack.up = (opts) => up(watched("update", opts));
    stack.refresh = (opts) => refresh(watched("refresh", opts));
    stack.destroy = (opts) => destroy(watched("destroy", opts));
    stack.info = async (showSecrets) => {
        const run = last;
        last = undefined;
        if (!run) return info(showSecrets);
        const summary = {
            kind: run.kind,
            result: "succeeded", // a failed run throws before its summary is asked for
            resourceChanges: run.event.resourceChanges,
            startTime: run.start,
            endTime: new Date(),
        };
        return new Proxy(summary, {
            get(target, field) {
                if (typeof field === "string" && UNKNOWN_FIELDS.has(field)) {
                    throw new Error(
                        `summary.${field}: tests/support/stack.ts gives an update's kind, result, changes and times; read stack.history() for more`,
                    );
                }
                return target[field as keyof typeof target];
            },
        }) as unknown as UpdateSummary;
    };
    stack.workspace.stackOutputs = async (name: string): Promise<OutputMap> => {
        const clear = await execFileAsync(
            "pulumi",
            ["stack", "output", "--json", "--show-secrets", "--stack", name, "--non-interactive"],
            { cwd: stack.workspace.workDir, env: { ...process.env, ...stack.workspace.envVars }, encoding: "utf8" },
        );
        const values = JSON.parse(clear.stdout) as Record<string, unknown>;
        const secret = secretOutputs(project, name);
        return Object.fromEntries(Object.entries(values).map(([k, value]) => [k, { value, secret: secret.has(k) }]));
    };
}

/** Pulumi's mark of a secret value in state. */
const SECRET_SIG = ["4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"] as const;

/** The names of the stack's outputs its state file holds as secrets. */
function secretOutputs(project: string, stackName: string): Set<string> {
    const state = JSON.parse(fs.readFileSync(stateFile(project, stackName), "utf8")) as {
        checkpoint: { latest?: { resources?: { type: string; outputs?: Record<string, unknown> }[] } };
    };
    const root = state.checkpoint.latest?.resources?.find((r) => r.type === "pulumi:pulumi:Stack");
    const isSecret = (v: unknown) =>
        typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG[0]] === SECRET_SIG[1];
    return new Set(
        Object.entries(root?.outputs ?? {})
            .filter(([, v]) => isSecret(v))
            .map(([k]) => k),
    );
}

/** Destroys and removes a stack, ignoring a stack that is already gone. */
export async function dispose(stack: Stack | undefined): Promise<void> {
    if (!stack) return;
    await stack.destroy({ onOutput: () => {} }).catch(() => {});
    await stack.workspace.removeStack(stack.name).catch(() => {});
}

/** Runs `fn`, expecting it to reject; returns the error's text (with the CLI's stderr). */
export async function failure(fn: () => Promise<unknown>): Promise<string> {
    try {
        await fn();
    } catch (e: any) {
        return `${e.message ?? e}\n${e.commandResult?.stderr ?? ""}\n${e.commandResult?.stdout ?? ""}`;
    }
    throw new Error("expected a failure, but it succeeded");
}

/** The stack's state twice: as `pulumi stack export` prints it, and the backend's file on disk. */
export function stateTexts(stack: Stack, project = "pm-e2e"): { exported: string; onDisk: string } {
    const exported = execFileSync(
        "pulumi",
        ["stack", "export", "--stack", stack.name, "--cwd", stack.workspace.workDir],
        { encoding: "utf8", env: process.env },
    );
    const onDisk = fs.readFileSync(stateFile(project, stack.name), "utf8");
    return { exported, onDisk };
}

/**
 * Stack `e2e-<name>` of the main program (index.ts) with the committed `Pulumi.<name>.yaml`'s
 * config (secrets left out), `overrides` applied (e.g. another repository, so tests never
 * touch the stack a user runs). Its Pulumi.e2e-<name>.yaml is git-ignored and removed by {@link disposeCommitted}.
 */
export async function committedStack(name: string, overrides: Record<string, string>): Promise<Stack> {
    // Without the salt and the secrets encrypted with it (scripts/up sets some for stack multinode):
    // the copy gets its own salt, and tests set the secrets they need.
    const yaml = fs
        .readFileSync(path.join(ROOT, `Pulumi.${name}.yaml`), "utf8")
        .replace(/^encryptionsalt:.*\n?/m, "")
        .replace(/^ {2}\S+:\n {4}secure: .*\n?/gm, "");
    fs.writeFileSync(path.join(ROOT, `Pulumi.e2e-${name}.yaml`), yaml);
    clearDeadLocks("pulumi-multiarch", `e2e-${name}`);
    return folderStack(
        `e2e-${name}`,
        ROOT,
        ENV,
        Object.fromEntries(Object.entries(overrides).map(([k, v]) => [`pulumi-multiarch:${k}`, v])),
    );
}

export async function disposeCommitted(stack: Stack | undefined): Promise<void> {
    if (!stack) return;
    await dispose(stack);
    fs.rmSync(path.join(ROOT, `Pulumi.${stack.name}.yaml`), { force: true });
}

/** The stack's pending operations, as `<type> <resource name>` (e.g. "creating b-builder"). */
export async function pendingOps(stack: Stack): Promise<string[]> {
    return ((await stack.exportStack()).deployment.pending_operations ?? []).map(
        (o: any) => `${o.type} ${String(o.resource.urn).split("::").pop()}`,
    );
}
