// Why the e2e processes give Pulumi's clients a connection pool of their own (tests/support/grpcPool.ts):
// a leaked client to a port no one serves leaves a failed connection in grpc-js's shared pool, and a new
// engine on that port is then unreachable to a client made with the shared pool.
import { EngineClient, EngineService } from "@pulumi/pulumi/proto/engine_grpc_pb";
import { GetRootResourceRequest, GetRootResourceResponse } from "@pulumi/pulumi/proto/engine_pb";
import * as assert from "assert";
import * as net from "net";

import { LOCAL_POOL, pulumiClientOptions, pulumiGrpc as grpc } from "../support/grpcPool";

const freePort = () =>
    new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = s.address() as net.AddressInfo;
            s.close(() => resolve(port));
        });
    });

const ask = (client: EngineClient) =>
    new Promise<string>((resolve) =>
        client.getRootResource(new GetRootResourceRequest(), (err) => resolve(err ? err.message : "ok")),
    );

/** A run's leaked client to `addr` while nothing serves it, then an engine there and a new run's client. */
async function engineAfterLeak(options: Record<string, unknown>): Promise<string> {
    const addr = `127.0.0.1:${await freePort()}`;
    const leaked = new EngineClient(addr, grpc.credentials.createInsecure(), options);
    assert.match(await ask(leaked), /ECONNREFUSED/);
    const server = new grpc.Server();
    server.addService(EngineService, {
        getRootResource: (_call: unknown, cb: (err: null, res: unknown) => void) =>
            cb(null, new GetRootResourceResponse()),
    });
    await new Promise<void>((resolve, reject) =>
        server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
    );
    const client = new EngineClient(addr, grpc.credentials.createInsecure(), options);
    try {
        return await ask(client);
    } finally {
        client.close();
        leaked.close();
        server.forceShutdown();
    }
}

/**
 * A client that has retried for a while waits long before its next try (grpc-js backs off up to
 * 2 minutes); this one starts there, so no retry of the leaked client lands within the test.
 */
const LONG_BACKOFF: Record<string, unknown> = { "grpc.initial_reconnect_backoff_ms": 60_000 };

describe("Pulumi's gRPC clients in a process that runs many programs", () => {
    it("with the shared pool, a new engine on a leaked client's port is unreachable: the failure CI met", async () => {
        const shared = { ...pulumiClientOptions, ...LONG_BACKOFF };
        delete shared[LOCAL_POOL];
        assert.match(await engineAfterLeak(shared), /14 UNAVAILABLE: No connection established\. Last error: null/);
    });

    it("with the options the e2e processes give Pulumi's runtime, the new run's client reaches its engine", async () => {
        assert.strictEqual(await engineAfterLeak({ ...pulumiClientOptions, ...LONG_BACKOFF }), "ok");
    });
});
