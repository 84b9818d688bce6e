// The plugin lives exactly as long as its engine. It exits, after stopping every child it
// started (buildx, docker, credential helpers, ssh) and removing its temp folder, when
// - its stdout or stderr is closed (EPIPE: the engine died; a write to a closed stream is
//   never retried, so no error can loop on it);
// - the engine's address stops answering gRPC health checks, which Pulumi's Go providers
//   make too (pkg/resource/provider Main -> sdk rpcutil.Healthcheck, every 5 minutes; here
//   every second, so an engine killed while the plugin is quiet is noticed at once);
// - it gets SIGINT, SIGTERM or SIGHUP (the engine closes its plugins with SIGINT).
// The engine's Cancel (Ctrl-C once) stops the children too, so builds end promptly and the
// resource fails without moving a tag; the plugin serves on until the engine closes it.
import * as grpc from "@grpc/grpc-js";

import * as exec from "../core/exec";
import * as tempDirs from "../core/tempDirs";

/** What the update is told when its builds are stopped by the engine's Cancel. */
export const CANCELLED = "the update was cancelled (Ctrl-C): no tag was moved; run `pulumi up` again";

/** The engine's Cancel RPC: stop every child; lifecycles then fail before moving any tag. */
export function cancel(): Promise<void> {
    return exec.stopAll(CANCELLED);
}

let exiting = false;

/** Stops every child, removes this process's temp folder and exits; the first reason wins. */
export async function shutdown(reason: string, code = 0): Promise<void> {
    if (exiting) return;
    exiting = true;
    // Whatever happens below, the process is gone within 4 s.
    setTimeout(() => process.exit(code), 4000).unref();
    try {
        process.stderr.write(`pulumi-resource-multiarch exits: ${reason}\n`);
    } catch {
        /* stderr is gone */
    }
    await exec.stopAll(`pulumi-resource-multiarch is exiting: ${reason}`).catch(() => {});
    try {
        tempDirs.removeOwn();
    } catch {
        /* nothing to remove */
    }
    process.exit(code);
}

/**
 * Resolves false when the gRPC server at `address` does not answer a health check within
 * `timeoutMs` (an engine that does not implement it counts as answering, as in Go).
 */
export function answers(client: grpc.Client, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
        client.makeUnaryRequest(
            "/grpc.health.v1.Health/Check",
            () => Buffer.alloc(0),
            (b: Buffer) => b,
            {},
            new grpc.Metadata(),
            { deadline: Date.now() + timeoutMs },
            (err) => resolve(!err || err.code === grpc.status.UNIMPLEMENTED),
        );
    });
}

/** Exits when the engine at `engineAddress` is gone (see the file's comment). */
export function liveWithEngine(engineAddress: string | undefined, intervalMs = 1000): void {
    for (const stream of [process.stdout, process.stderr]) {
        stream.on(
            "error",
            (e: NodeJS.ErrnoException) =>
                void shutdown(
                    `its ${stream === process.stdout ? "stdout" : "stderr"} is closed (${e.code ?? e.message}): the engine is gone`,
                ),
        );
    }
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void shutdown(`it got ${sig}`));
    // Temp folders of plugins that were killed (SIGKILL) before they could remove their own.
    try {
        tempDirs.sweep();
    } catch {
        /* swept by the next temp folder made */
    }
    if (!engineAddress) return;
    const client = new grpc.Client(engineAddress, grpc.credentials.createInsecure());
    const check = async () => {
        if (await answers(client, 5000)) setTimeout(() => void check(), intervalMs).unref();
        else void shutdown(`its engine at ${engineAddress} no longer answers`);
    };
    setTimeout(() => void check(), intervalMs).unref();
}
