// Lifecycle of QEMU binfmt_misc handlers on a builder host (this machine or one reached over
// SSH), served by the plugin as multiarch:index:BinfmtHandlers. The state drifts under us (a
// reboot wipes every handler), so `read` lets `pulumi refresh` see that, and `diff` reads the
// host too.
import * as crypto from "crypto";

import type { BinfmtInputs, BinfmtOutputs } from "../../contract/types";
import * as binfmt from "../../core/binfmt";
import * as claims from "../../core/binfmtClaims";
import * as elf from "../../core/elf";
import * as hostlib from "../../core/host";
import * as platform from "../../core/platform";
import type { Lifecycle } from "../lifecycle";

interface Plan {
    facts: binfmt.HostFacts;
    emulated: string[];
}

async function plan(h: hostlib.Host, inputs: BinfmtInputs): Promise<Plan> {
    const facts = await binfmt.gatherFacts(h, inputs.definitionsDir, inputs.platforms, inputs.method === "container");
    const native = binfmt.nativePlatforms(facts.machine);
    return { facts, emulated: inputs.platforms.filter((p) => !native.includes(p)) };
}

function fail(errors: { property: string; reason: string }[]): never {
    throw new Error(errors.map((e) => `${e.property}: ${e.reason}`).join("\n"));
}

/** Runs a tiny static program of each architecture; returns the platforms that ran. */
async function proveRunnable(h: hostlib.Host, facts: binfmt.HostFacts, emulated: string[]): Promise<string[]> {
    const native = binfmt.nativePlatforms(facts.machine);
    const ok: string[] = [];
    for (const p of [...native, ...emulated]) {
        const arch = platform.parsePlatform(p).architecture;
        if (!elf.canProve(arch)) continue;
        if ((await binfmt.runProgram(h, elf.exitProgram(arch))) === elf.PROOF_EXIT_CODE && !ok.includes(p)) ok.push(p);
    }
    return ok;
}

/** What the host has now: each wanted handler as the kernel reports it, and "ok" or why it does not serve us. */
async function inspect(h: hostlib.Host, inputs: BinfmtInputs, owned: string[]) {
    const { facts, emulated } = await plan(h, inputs);
    const wanted = new Set(emulated.map(binfmt.handlerName));
    const all = await binfmt.readHandlers(h);
    const handlers = Object.fromEntries(Object.entries(all).filter(([n]) => wanted.has(n)));
    const handlerStatus: Record<string, string> = {};
    for (const name of [...wanted].sort()) {
        handlerStatus[name] =
            drift(
                handlers[name],
                inputs.flags,
                owned.includes(name) ? expectedInterpreter(facts, inputs, name) : undefined,
            ) ?? "ok";
    }
    return { facts, emulated, handlers, handlerStatus };
}

async function observe(h: hostlib.Host, inputs: BinfmtInputs, owned: string[]): Promise<BinfmtOutputs> {
    const { facts, emulated, handlers, handlerStatus } = await inspect(h, inputs, owned);
    return {
        ...inputs,
        handlers,
        owned,
        emulated,
        handlerStatus,
        runnable: await proveRunnable(h, facts, emulated),
        kernelVersion: facts.kernel,
        hostMachine: facts.machine,
    };
}

/** Why a handler does not serve us, or undefined when it does. */
function drift(h: binfmt.Handler | undefined, flags: string, expectedInterpreter?: string): string | undefined {
    if (!h) return "missing";
    if (!h.enabled) return "disabled";
    const lacking = [...flags].filter((f) => !h.flags.includes(f));
    if (lacking.length) return `flags "${h.flags}" lack "${lacking.join("")}"`;
    if (expectedInterpreter && h.interpreter !== expectedInterpreter)
        return `interpreter ${h.interpreter}, expected ${expectedInterpreter}`;
    return undefined;
}

/** Handlers on the host that serve as they are: whoever registered them, they need no definition. */
function serving(handlers: Record<string, binfmt.Handler>, flags: string): string[] {
    return Object.keys(handlers).filter((n) => !drift(handlers[n], flags));
}

function expectedInterpreter(facts: binfmt.HostFacts, inputs: BinfmtInputs, name: string): string | undefined {
    if (inputs.method !== "host") return undefined;
    const text = facts.definitions[name];
    return text ? binfmt.parseDebianDefinition(name, text).interpreter : undefined;
}

/**
 * Registers every wanted handler that does not serve us; returns the handlers we own, and
 * those registered where there was none.
 */
async function ensure(
    h: hostlib.Host,
    inputs: BinfmtInputs,
    owned: string[],
): Promise<{ owned: string[]; fresh: string[] }> {
    const { facts, emulated } = await plan(h, inputs);
    const current = await binfmt.readHandlers(h);
    const errors = binfmt.preflight(facts, inputs, h.describe(), serving(current, inputs.flags));
    if (errors.length) fail(errors);
    const nowOwned = new Set(owned);
    const toInstall: string[] = [];
    const fresh: string[] = [];
    for (const p of emulated) {
        const name = binfmt.handlerName(p);
        const have = current[name];
        const mine = nowOwned.has(name);
        const why = drift(have, inputs.flags, mine ? expectedInterpreter(facts, inputs, name) : undefined);
        if (!why) continue;
        // Someone else's working handler is theirs to change, not ours to replace.
        if (have && have.enabled && !mine) {
            throw new Error(
                `binfmt handler ${name} on ${h.describe()} was not registered by this stack and ${why}: remove it (echo -1 > ${binfmt.BINFMT_DIR}/${name}) so this stack registers its own, or set flags to "${have.flags}"`,
            );
        }
        if (have) await binfmt.unregister(h, name);
        else fresh.push(name);
        toInstall.push(p);
        nowOwned.add(name);
    }
    if (toInstall.length && inputs.method === "host") {
        for (const p of toInstall) {
            const name = binfmt.handlerName(p);
            const def = binfmt.parseDebianDefinition(name, facts.definitions[name]);
            def.flags = [...new Set([...def.flags, ...inputs.flags])].join("");
            await binfmt.register(h, def);
        }
    } else if (toInstall.length) {
        const archs = toInstall.map((p) => platform.parsePlatform(p).architecture).join(",");
        const r = await h.sh(`docker run --rm --privileged ${inputs.image} --install ${archs}`);
        if (r.code !== 0)
            throw new Error(
                `the emulator-install image ${inputs.image} failed on ${h.describe()}: ${(r.stderr || r.stdout).trim()}`,
            );
        const after = await binfmt.readHandlers(h);
        for (const p of toInstall) {
            const why = drift(after[binfmt.handlerName(p)], inputs.flags);
            if (why)
                throw new Error(
                    `after running ${inputs.image}, handler ${binfmt.handlerName(p)} ${why}: use an image that registers with flags "${inputs.flags}"`,
                );
        }
    }
    return { owned: [...nowOwned].sort(), fresh };
}

/**
 * Drops this resource's claim on `names` and removes each handler no other stack claims and
 * that a stack registered (or this one, in state from before claims were recorded).
 */
async function release(h: hostlib.Host, names: string[], claim: string | undefined, owned: string[]): Promise<void> {
    const free = await claims.releaseHandlers(h, [...new Set(names)], claim ?? "none");
    for (const [name, f] of Object.entries(free))
        if (f.registered || owned.includes(name)) await binfmt.unregister(h, name);
}

export const binfmtProvider: Lifecycle = {
    // Preflight at preview: each failure names the property and the fix.
    async check(_olds: BinfmtInputs, news: BinfmtInputs) {
        // Values still unknown at preview (from other resources) are checked at create.
        if (typeof news.host !== "object" || typeof news.definitionsDir !== "string" || !Array.isArray(news.platforms))
            return { inputs: news };
        const h = hostlib.connect(news.host);
        const facts = await binfmt.gatherFacts(h, news.definitionsDir, news.platforms, news.method === "container");
        const native = binfmt.nativePlatforms(facts.machine);
        const handlerStatus = Object.fromEntries(
            news.platforms
                .filter((p) => !native.includes(p))
                .map((p) => [binfmt.handlerName(p), "ok"])
                .sort(),
        );
        const failures = binfmt.preflight(facts, news, h.describe(), serving(await binfmt.readHandlers(h), news.flags));
        return { inputs: { ...news, handlerStatus }, failures };
    },

    async create(inputs: BinfmtInputs) {
        const h = hostlib.connect(inputs.host);
        const { owned, fresh } = await ensure(h, inputs, []);
        try {
            const claim = crypto.randomUUID();
            const outs = await observe(h, inputs, owned);
            await claims.claimHandlers(h, Object.keys(outs.handlerStatus), claim, fresh);
            return { id: `binfmt@${h.describe()}`, outs: { ...outs, claim } };
        } catch (e) {
            for (const name of owned) await binfmt.unregister(h, name); // leave nothing half-created
            throw e;
        }
    },

    async read(id: string, props: BinfmtOutputs) {
        const outs = await observe(hostlib.connect(props.host), props, props.owned ?? []);
        // Inputs carry what refresh found, so the next diff shows `"missing" => "ok"`.
        const { platforms, flags, method, image, allowUnpinnedImage, host, definitionsDir } = outs;
        const inputs: BinfmtInputs = {
            platforms,
            flags,
            method,
            allowUnpinnedImage,
            host,
            definitionsDir,
            handlerStatus: outs.handlerStatus,
            ...(image ? { image } : {}),
        };
        return { id, props: outs, inputs };
    },

    async diff(_id: string, olds: BinfmtOutputs, news: BinfmtInputs) {
        const detailedDiff: Record<string, { kind: "update" | "update-replace"; inputDiff: boolean }> = {};
        const replaces: string[] = [];
        if (JSON.stringify(olds.host) !== JSON.stringify(news.host)) {
            replaces.push("host");
            detailedDiff.host = { kind: "update-replace", inputDiff: true };
        }
        for (const k of ["platforms", "flags", "method", "image", "definitionsDir"] as const) {
            if (JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null))
                detailedDiff[k] = { kind: "update", inputDiff: true };
        }
        // Drift seen by refresh: a handler gone (a reboot), disabled, with other flags or,
        // for handlers we registered, another interpreter.
        const want = news.handlerStatus ?? {};
        for (const [name, status] of Object.entries(olds.handlerStatus ?? {})) {
            if (status !== "ok" && want[name] === "ok")
                detailedDiff[`handlerStatus.${name}`] = { kind: "update", inputDiff: false };
        }
        // And drift on the host right now, without a refresh: a handler removed between
        // preview and up (a reboot) is registered again before anything builds on it.
        if (
            !replaces.length &&
            typeof news.host === "object" &&
            typeof news.definitionsDir === "string" &&
            Array.isArray(news.platforms)
        ) {
            const { handlerStatus } = await inspect(hostlib.connect(news.host), news, olds.owned ?? []);
            for (const [name, status] of Object.entries(handlerStatus)) {
                if (status !== "ok") detailedDiff[`handlerStatus.${name}`] = { kind: "update", inputDiff: false };
            }
            // Our claim is gone (a reboot cleared it): record it again, or another stack's
            // destroy would remove a handler this one relies on.
            if (
                olds.claim &&
                !(await claims.holdsClaims(hostlib.connect(news.host), Object.keys(handlerStatus), olds.claim))
            ) {
                detailedDiff.claim = { kind: "update", inputDiff: false };
            }
        }
        return { changes: Object.keys(detailedDiff).length > 0, replaces, detailedDiff, deleteBeforeReplace: true };
    },

    async update(_id: string, olds: BinfmtOutputs, news: BinfmtInputs) {
        const h = hostlib.connect(news.host);
        const { emulated } = await plan(h, news);
        const wanted = new Set(emulated.map(binfmt.handlerName));
        const claim = olds.claim ?? crypto.randomUUID();
        // Handlers of platforms no longer wanted: released, and removed if no stack uses them.
        await release(
            h,
            [...Object.keys(olds.handlerStatus ?? {}), ...(olds.owned ?? [])].filter((n) => !wanted.has(n)),
            claim,
            olds.owned ?? [],
        );
        const { owned, fresh } = await ensure(
            h,
            news,
            (olds.owned ?? []).filter((n) => wanted.has(n)),
        );
        await claims.claimHandlers(h, [...wanted], claim, fresh);
        return { outs: { ...(await observe(h, news, owned)), claim } };
    },

    // Removes the handlers a stack registered that no other stack on the host still uses.
    async delete(_id: string, props: BinfmtOutputs) {
        const h = hostlib.connect(props.host);
        await release(
            h,
            [...Object.keys(props.handlerStatus ?? {}), ...(props.owned ?? [])],
            props.claim,
            props.owned ?? [],
        );
    },
};
