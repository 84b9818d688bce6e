// Inline-program stacks for e2e tests: the real engine through the Automation API, on the
// project's local file backend. Each stack gets a work dir under .state/e2e (so the program
// resolves @pulumi/pulumi from the project's node_modules).
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { ENV, ROOT } from "./env";

export interface StackOptions {
    /** Extra environment for the CLI and the provider processes. */
    env?: Record<string, string>;
    /** Run a different `pulumi` (e.g. a wrapper that changes its namespace). */
    pulumiRoot?: string;
}

/**
 * Removes the stack's locks left by a `pulumi` of this host that no longer runs (a run killed
 * by a timeout): the file backend keeps them forever, and every later run of the stack would
 * fail "the stack is currently locked". Locks of live processes stay.
 */
function clearDeadLocks(project: string, stackName: string): void {
    const dir = path.join(ROOT, ".state/pulumi/.pulumi/locks/organization", project, stackName);
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
    const leftover = fs.existsSync(path.join(ROOT, ".state/pulumi/.pulumi/stacks/pm-e2e", `${name}.json`));
    const workDir = path.join(ROOT, ".state", "e2e", name);
    fs.mkdirSync(workDir, { recursive: true });
    const pulumiCommand = opts.pulumiRoot
        ? await PulumiCommand.get({ root: opts.pulumiRoot, skipVersionCheck: true })
        : await pulumiOnPath();
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: name, projectName: "pm-e2e", program },
        {
            workDir,
            projectSettings: { name: "pm-e2e", runtime: "nodejs", backend: { url: ENV.PULUMI_BACKEND_URL } },
            envVars: { ...ENV, ...(opts.env ?? {}) },
            pulumiCommand,
        },
    );
    if (leftover) await stack.destroy({ onOutput: () => {} }).catch(() => {});
    return stack;
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
    const onDisk = fs.readFileSync(
        path.join(ROOT, ".state/pulumi/.pulumi/stacks", project, `${stack.name}.json`),
        "utf8",
    );
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
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: `e2e-${name}`, workDir: ROOT },
        { envVars: ENV, pulumiCommand: await pulumiOnPath() },
    );
    for (const [k, v] of Object.entries(overrides)) await stack.setConfig(`pulumi-multiarch:${k}`, { value: v });
    return stack;
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
