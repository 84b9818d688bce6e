// Which stacks on a host rely on a binfmt handler. Handlers are global to a host; stacks are
// not. Each BinfmtSetup records a claim on every handler it relies on, and a handler a stack
// registered is removed only by the destroy of the last stack that claims it. Kept on tmpfs:
// a reboot clears the claims with the handlers.
import * as fs from "fs";

import { must } from "./binfmt";
import type { Host } from "./host";

export const CLAIMS_DIR = "/run/pulumi-multiarch/binfmt";

function checkedNames(names: string[], claim: string): void {
    for (const n of names) if (!/^[\w.-]+$/.test(n)) throw new Error(`bad handler name ${n}`);
    if (!/^[\w-]+$/.test(claim)) throw new Error(`bad claim ${claim}`);
}

/**
 * Records `claim` on each handler in `names`. `registered`: handlers just registered where
 * none was, so claims left from before are void, and a stack registered them.
 */
export async function claimHandlers(host: Host, names: string[], claim: string, registered: string[]): Promise<void> {
    checkedNames([...names, ...registered], claim);
    const script = names
        .map((n) => {
            const d = `${CLAIMS_DIR}/${n}`;
            return `${registered.includes(n) ? `rm -rf ${d} && mkdir -p ${d}/users && : > ${d}/registered && ` : ""}mkdir -p ${d}/users && : > ${d}/users/${claim}`;
        })
        .join("\n");
    await must(host, `recording which stacks use ${names.join(", ")}`, `set -e\n${script || ":"}`);
}

/**
 * Drops `claim` from each handler in `names`; returns the handlers now claimed by no one
 * else, each with whether a stack registered it (and so may remove it).
 */
export async function releaseHandlers(
    host: Host,
    names: string[],
    claim: string,
): Promise<Record<string, { registered: boolean }>> {
    checkedNames(names, claim);
    const script = names
        .map((n) => {
            const d = `${CLAIMS_DIR}/${n}`;
            return `rm -f ${d}/users/${claim}; if [ -z "$(ls -A ${d}/users 2>/dev/null)" ]; then if [ -e ${d}/registered ]; then echo "${n} registered"; else echo "${n} other"; fi; rm -rf ${d}; fi`;
        })
        .join("\n");
    const r = await host.sh(script || ":");
    if (r.code !== 0) throw new Error(`releasing ${names.join(", ")} on ${host.describe()} failed: ${r.stderr.trim()}`);
    return Object.fromEntries(
        r.stdout
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(" "))
            .map(([n, how]) => [n, { registered: how === "registered" }]),
    );
}

/** Whether `claim` is still recorded on every handler in `names` (a reboot clears claims). */
export async function holdsClaims(host: Host, names: string[], claim: string): Promise<boolean> {
    checkedNames(names, claim);
    if (host.local) return names.every((n) => fs.existsSync(`${CLAIMS_DIR}/${n}/users/${claim}`));
    const r = await host.sh(names.map((n) => `[ -e ${CLAIMS_DIR}/${n}/users/${claim} ] || exit 1`).join("\n") || ":");
    return r.code === 0;
}
