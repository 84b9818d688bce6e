// Registry refusals are typed (core/registry.ts RegistryError): the manifest-mode probe and the
// preview ping decide by what was refused, against an in-process registry, not by the words of
// a message.
import * as assert from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

import { Registry, RegistryError } from "../../core/registry";
import { acceptsIndex } from "../../provider/resources/targets";
import { FakeRegistry } from "../support/fakeRegistry";

describe("registry refusals, typed", () => {
    const regs: FakeRegistry[] = [];
    const start = async (opts: ConstructorParameters<typeof FakeRegistry>[0]) => {
        const r = await new FakeRegistry(opts).start();
        regs.push(r);
        return r;
    };
    after(async () => {
        for (const r of regs) await r.stop();
    });
    const target = (r: FakeRegistry) =>
        ({
            client: new Registry(r.addr, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }),
            repository: "hello",
            repo: `${r.addr}/hello`,
            tags: [`${r.addr}/hello:1`],
        }) as never;

    it("a registry that keeps lists accepts the probe's empty index; one that keeps none refuses the manifest", async () => {
        assert.strictEqual(await acceptsIndex(target(await start({}))), true);
        assert.strictEqual(await acceptsIndex(target(await start({ noIndex: true }))), false);
    });

    it("a refused login is no answer about lists: it reaches the user as a RegistryError of kind auth", async () => {
        const r = await start({ login: { username: "u", password: "p" } });
        await assert.rejects(
            acceptsIndex(target(r)),
            (e: unknown) =>
                e instanceof RegistryError && e.refused === "auth" && e.status === 401 && e.registry === r.addr,
        );
    });

    it("a server error on the probe is thrown, not taken for 'no lists'", async () => {
        const r = await start({ fault: { match: /^PUT /, status: 500, times: 10 } });
        await assert.rejects(
            acceptsIndex(target(r)),
            (e: unknown) => e instanceof RegistryError && e.refused === "manifest" && e.status === 500,
        );
    });

    it("the preview ping: a refused login, a login that cannot be read and a registry that does not answer, each its own kind", async () => {
        const r = await start({ login: { username: "u", password: "p" } });
        const once = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };
        await assert.rejects(
            new Registry(r.addr, { credentials: { username: "u", password: "wrong" }, retry: once }).ping("hello"),
            (e: unknown) => e instanceof RegistryError && e.refused === "auth" && e.status === 401,
        );
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-regerr-"));
        fs.writeFileSync(path.join(dir, "config.json"), "{ not json");
        const was = process.env.DOCKER_CONFIG;
        process.env.DOCKER_CONFIG = dir;
        try {
            await assert.rejects(
                new Registry(r.addr, { retry: once }).ping("hello"),
                (e: unknown) =>
                    e instanceof RegistryError && e.refused === "login" && /is not valid JSON/.test(e.message),
            );
        } finally {
            if (was === undefined) delete process.env.DOCKER_CONFIG;
            else process.env.DOCKER_CONFIG = was;
            fs.rmSync(dir, { recursive: true, force: true });
        }
        // A port nothing listens on: taken, then closed.
        const server = net.createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as net.AddressInfo).port;
        await new Promise((resolve) => server.close(resolve));
        await assert.rejects(new Registry(`127.0.0.1:${port}`, { retry: once }).ping(), (e: unknown) => {
            assert.ok(e instanceof RegistryError && e.refused === "unreachable" && e.status === 0, String(e));
            assert.match(e.message, /ECONNREFUSED.*: is the registry running and reachable\?$/);
            assert.strictEqual(e.detail, `GET http://127.0.0.1:${port}/v2/: connect ECONNREFUSED 127.0.0.1:${port}`);
            return true;
        });
    });
});
