// Lifecycle of QEMU binfmt_misc handlers on the local host. A dynamic provider, because the
// state can drift under us (a reboot wipes every handler) and only a provider with `read`
// lets `pulumi refresh` see that; no plugin binary is needed. Its code is serialized into
// the state, so it captures only engine-free modules (core/*) and Node built-ins, imported
// with `import x = require(...)` so the serializer sees the real module objects.
import type * as pulumi from "@pulumi/pulumi";
import fs = require("fs");
import os = require("os");
import path = require("path");
import binfmt = require("../core/binfmt");
import exec = require("../core/exec");
import elf = require("../core/elf");
import platform = require("../core/platform");

export interface BinfmtInputs {
    /** Normalized platforms to emulate; never the host's own. */
    platforms: string[];
    /** Flags every handler must carry, e.g. "F". */
    flags: string;
    method: "host";
    /** Where the qemu-user-static definitions live. */
    definitionsDir: string;
}

export interface BinfmtOutputs extends BinfmtInputs {
    /** handler name -> what the kernel reports for it. */
    handlers: Record<string, binfmt.Handler>;
    /** Handlers this resource registered (and so removes on delete). */
    owned: string[];
    /** The native platform plus every emulated platform a test program actually ran on. */
    runnable: string[];
    kernelVersion: string;
}

function handlerName(p: string): string {
    return `qemu-${platform.qemuName(p)}`;
}

/** Runs a tiny static program for each architecture; returns the platforms that ran. */
async function proveRunnable(platforms: string[]): Promise<string[]> {
    const ok = [platform.hostPlatform()];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "binfmt-proof-"));
    try {
        for (const p of platforms) {
            const arch = platform.parsePlatform(p).architecture;
            if (!elf.canProve(arch)) continue;
            const file = path.join(dir, `exit-${arch}`);
            fs.writeFileSync(file, elf.exitProgram(arch), { mode: 0o755 });
            const r = await exec.run(file, [], { allowFailure: true }).catch(() => undefined);
            if (r?.code === elf.PROOF_EXIT_CODE) ok.push(p);
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return ok;
}

function preflight(inputs: BinfmtInputs): void {
    if (!binfmt.isMounted()) {
        throw new Error(`binfmt_misc is not mounted at ${binfmt.BINFMT_DIR}: run \`mount -t binfmt_misc binfmt_misc ${binfmt.BINFMT_DIR}\` as root (scripts/bootstrap does)`);
    }
    if (inputs.method === "host" && process.getuid && process.getuid() !== 0) {
        throw new Error(`BinfmtSetup method "host" writes ${binfmt.BINFMT_DIR}/register and needs root: run pulumi as root, or register the handlers another way`);
    }
}

async function observe(inputs: BinfmtInputs, owned: string[]): Promise<BinfmtOutputs> {
    const all = binfmt.readQemuHandlers();
    const wanted = new Set(inputs.platforms.map(handlerName));
    const handlers = Object.fromEntries(Object.entries(all).filter(([n]) => wanted.has(n)));
    return { ...inputs, handlers, owned, runnable: await proveRunnable(inputs.platforms), kernelVersion: os.release() };
}

/** Registers every wanted handler that is missing, disabled or lacks a wanted flag. */
function ensure(inputs: BinfmtInputs, owned: string[]): string[] {
    const nowOwned = new Set(owned);
    const current = binfmt.readQemuHandlers();
    for (const p of inputs.platforms) {
        const name = handlerName(p);
        const have = current[name];
        const flagsOk = have && [...inputs.flags].every((f) => have.flags.includes(f));
        if (have && have.enabled && flagsOk) continue;
        // Someone else's handler that merely lacks our flags is theirs to fix, not ours to replace.
        if (have && !nowOwned.has(name) && have.enabled) {
            throw new Error(`binfmt handler ${name} exists with flags "${have.flags}" but "${inputs.flags}" is required; it was not registered by this stack: remove it (echo -1 > ${binfmt.BINFMT_DIR}/${name}) or set flags to "${have.flags}"`);
        }
        const defFile = path.join(inputs.definitionsDir, name);
        if (!fs.existsSync(defFile)) {
            throw new Error(`no QEMU definition for ${p} at ${defFile}: install qemu-user-static (apt-get install qemu-user-static)`);
        }
        const def = binfmt.parseDebianDefinition(name, fs.readFileSync(defFile, "utf8"));
        if (!fs.existsSync(def.interpreter)) {
            throw new Error(`interpreter ${def.interpreter} for ${p} is missing: reinstall qemu-user-static`);
        }
        def.flags = [...new Set([...def.flags, ...inputs.flags])].join("");
        if (have) binfmt.unregister(name);
        binfmt.register(def);
        nowOwned.add(name);
    }
    return [...nowOwned].sort();
}

export const binfmtProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: BinfmtInputs) {
        preflight(inputs);
        const owned = ensure(inputs, []);
        const outs = await observe(inputs, owned);
        return { id: `binfmt:${inputs.platforms.join(",")}`, outs };
    },

    async read(id: string, props: BinfmtOutputs) {
        return { id, props: await observe(props, props.owned ?? []) };
    },

    async diff(_id: string, olds: BinfmtOutputs, news: BinfmtInputs) {
        const changed: string[] = [];
        if (olds.platforms.join(",") !== news.platforms.join(",")) changed.push("platforms");
        if (olds.flags !== news.flags || olds.method !== news.method) changed.push("flags");
        // Drift seen by refresh: a wanted handler gone, disabled or without a wanted flag.
        const drifted = news.platforms.some((p) => {
            const h = olds.handlers?.[handlerName(p)];
            return !h || !h.enabled || ![...news.flags].every((f) => h.flags.includes(f));
        });
        if (drifted && !changed.includes("handlers")) changed.push("handlers");
        return { changes: changed.length > 0, replaces: [], stables: [], deleteBeforeReplace: false, detailedDiff: Object.fromEntries(changed.map((k) => [k, { kind: "update" as any }])) };
    },

    async update(_id: string, olds: BinfmtOutputs, news: BinfmtInputs) {
        preflight(news);
        const wanted = new Set(news.platforms.map(handlerName));
        // Handlers we registered for platforms no longer wanted go away.
        for (const name of olds.owned ?? []) if (!wanted.has(name)) binfmt.unregister(name);
        const owned = ensure(news, (olds.owned ?? []).filter((n) => wanted.has(n)));
        return { outs: await observe(news, owned) };
    },

    async delete(_id: string, props: BinfmtOutputs) {
        for (const name of props.owned ?? []) binfmt.unregister(name);
    },
};
