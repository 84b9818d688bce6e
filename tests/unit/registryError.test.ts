// Registry refusals are typed (core/registry.ts RegistryError): the manifest-mode probe decides
// by what was refused, against an in-process registry, not by the words of a message.
import * as assert from "assert";

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
});
