// What a lifecycle prints reaches the user through the engine's Log RPC, on the resource it
// belongs to. The engine shows a provider plugin's stdout only at debug level (only the
// dynamic-provider host's is shown), so console output is re-routed: each CRUD call runs in
// its own async context carrying its URN, and console.log / console.warn send to the engine.
import * as grpc from "@grpc/grpc-js";
import * as engrpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engproto from "@pulumi/pulumi/proto/engine_pb";
import { AsyncLocalStorage } from "async_hooks";

const current = new AsyncLocalStorage<string>();
let last: Promise<void> = Promise.resolve();

/** Runs `fn` with console output attributed to the resource `urn`; returns once its lines reached the engine. */
export async function withResource<T>(urn: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await current.run(urn, fn);
    } finally {
        await last;
    }
}

/** "warning: x" -> a warning; anything else -> info. */
export function severityOf(line: string): { severity: engproto.LogSeverity; message: string } {
    const m = /^warning: (.*)$/s.exec(line);
    return m
        ? { severity: engproto.LogSeverity.WARNING, message: m[1] }
        : { severity: engproto.LogSeverity.INFO, message: line };
}

/**
 * Sends console.log / console.warn of CRUD calls to the engine at `engineAddress`, in order.
 * Output outside a CRUD call (start-up) keeps going to stdout/stderr.
 */
export function routeConsoleToEngine(engineAddress: string): void {
    const engine = new engrpc.EngineClient(engineAddress, grpc.credentials.createInsecure());
    const send = (line: string, warning: boolean, fallback: (...a: unknown[]) => void) => {
        const urn = current.getStore();
        if (urn === undefined) return fallback(line);
        const { severity, message } = severityOf(line);
        const req = new engproto.LogRequest();
        req.setSeverity(warning ? engproto.LogSeverity.WARNING : severity);
        req.setMessage(message);
        req.setUrn(urn);
        last = last.then(
            () =>
                new Promise<void>((resolve) =>
                    engine.log(req, (err) => {
                        if (err) fallback(line);
                        resolve();
                    }),
                ),
        );
    };
    const log = console.log.bind(console),
        warn = console.warn.bind(console);
    console.log = (...args: unknown[]) => send(args.map(String).join(" "), false, log);
    console.warn = (...args: unknown[]) => send(args.map(String).join(" "), true, warn);
}
