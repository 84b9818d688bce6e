// How a MultiArchImage's RUN steps run and what the build adds beside the image, with the
// names and shapes of @pulumi/docker-build and build-push-action: `network`, `addHosts`,
// `shmSize`, `ulimits`, `allow` (entitlements), `noCacheFilters`, attestations (`provenance`,
// `sbom` with buildx's attributes: `mode=max`, `generator=<image>`), and the build secrets
// read from files and environment variables at build time. Checked in the program, so bad
// input fails at `pulumi preview` with the property path and the fix.
import type * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as net from "net";

import type { ImageInputs } from "../contract/types";
import { csvFields } from "../core/exports";
import { parseRef } from "../core/registry";
import type { ArgErrors } from "./validate";

/** The build flags as given (plain values), under their args' names. */
export interface BuildFlagValues {
    network?: string;
    addHosts?: string[];
    shmSize?: string | number;
    ulimits?: string[];
    allow?: string[];
    noCacheFilters?: string[];
    secretFiles?: Record<string, string>;
    secretEnvs?: Record<string, string>;
    rebuildOnSecretChange?: boolean;
    ignoreSecretsInDiffCalculation?: string[];
}

/** The image inputs the flags become (absent where the build gets BuildKit's default). */
export type CheckedFlags = Pick<
    ImageInputs,
    | "network"
    | "addHosts"
    | "shmSize"
    | "ulimits"
    | "allow"
    | "noCacheFilters"
    | "secretFiles"
    | "secretEnvs"
    | "rebuildOnSecretChange"
    | "ignoreSecretsInDiffCalculation"
>;

/** `docker run --ulimit` names (go-units ParseUlimit). */
const ULIMITS = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];
/** Sizes as buildx reads `--shm-size` (go-units RAMInBytes). */
const SIZE = /^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
/** BuildKit's entitlements (moby/buildkit util/entitlements). */
const ENTITLEMENTS = ["network.host", "security.insecure", "device"];
/** Attributes of buildx's `--provenance` and `--sbom` values that BuildKit reads. */
const ATTEST_KEYS: Record<"provenance" | "sbom", Record<string, (v: string) => string | undefined>> = {
    provenance: {
        mode: (v) => (["min", "max"].includes(v) ? undefined : `mode=${v}: use mode=min or mode=max`),
        version: (v) => (["v0.2", "v1"].includes(v) ? undefined : `version=${v}: use version=v0.2 or version=v1`),
        "builder-id": (v) => (v ? undefined : "builder-id= is empty"),
        reproducible: (v) => (["true", "false"].includes(v) ? undefined : `reproducible=${v} is not true or false`),
        "inline-only": (v) => (["true", "false"].includes(v) ? undefined : `inline-only=${v} is not true or false`),
        filename: (v) => (v ? undefined : "filename= is empty"),
    },
    sbom: {
        generator: (v) => {
            try {
                parseRef(v);
                return undefined;
            } catch (err) {
                return `generator=${v}: ${(err as Error).message} (give the scanner image, e.g. generator=ghcr.io/org/scanner:1)`;
            }
        },
    },
};

/** A set id -> string map (null entries of other languages' SDKs left out). */
const mapOf = (m: unknown): Record<string, unknown> =>
    m && typeof m === "object"
        ? Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined && v !== null))
        : {};
const listOf = (l: unknown): unknown[] => (Array.isArray(l) ? l : l === undefined || l === null ? [] : [l]);

/** One `addHosts` entry as buildx takes it: `host:ip` or `host=ip`, several IPs comma-separated, or `host-gateway`. */
function hostProblem(h: unknown): string | undefined {
    const s = String(h ?? "");
    const sep = s.includes("=") ? "=" : ":";
    const i = s.indexOf(sep);
    const host = i < 0 ? "" : s.slice(0, i),
        ips = i < 0 ? "" : s.slice(i + 1);
    if (!host || !ips) return `"${s}" is not host:ip: write e.g. "db.internal:10.0.0.5"`;
    if (ips === "host-gateway") return undefined;
    const bad = ips
        .split(",")
        .map((ip) => ip.replace(/^\[(.*)\]$/, "$1"))
        .find((ip) => !net.isIP(ip));
    return bad !== undefined ? `"${bad}" in "${s}" is not an IP address (nor host-gateway)` : undefined;
}

/** One `ulimits` entry, `name=soft[:hard]`, as `docker run --ulimit` takes it. */
function ulimitProblem(u: unknown): string | undefined {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(String(u ?? ""));
    if (!m) return `"${u}" is not name=soft[:hard]: write e.g. "nofile=1024:2048"`;
    if (!ULIMITS.includes(m[1])) return `"${m[1]}" is not a ulimit: use ${ULIMITS.join(", ")}`;
    if (m[3] !== undefined && Number(m[2]) > Number(m[3]))
        return `"${u}": the soft limit ${m[2]} is above the hard limit ${m[3]}`;
    return undefined;
}

/** One `allow` entry: an entitlement BuildKit knows (`device` takes `=<name>[,alias=<name>]`). */
function entitlementProblem(a: unknown): string | undefined {
    const s = String(a ?? "");
    const [name] = s.split("=");
    if (!ENTITLEMENTS.includes(name) || (name !== "device" && s !== name)) {
        return `"${s}" is not an entitlement: use ${ENTITLEMENTS.join(", ")} (device=<name>), and start the builder with --allow-insecure-entitlement for it`;
    }
    return undefined;
}

/**
 * An attestation arg (`provenance` or `sbom`) as buildx's flag takes it: a boolean, "true" or
 * "false", or attributes ("mode=max", "generator=<image>"). Returns the normalized value.
 */
export function checkAttestation(e: ArgErrors, prop: "provenance" | "sbom", v: unknown): boolean | string {
    if (v === undefined || v === null || typeof v === "boolean") return v === true;
    if (typeof v !== "string") {
        e.add(
            prop,
            `give true, false or buildx's attributes, e.g. "${prop === "sbom" ? "generator=ghcr.io/org/scanner:1" : "mode=max"}"`,
        );
        return false;
    }
    if (["true", "false", ""].includes(v.trim())) return v.trim() === "true";
    let fields: string[];
    try {
        fields = csvFields(v.trim());
    } catch (err) {
        e.add(prop, (err as Error).message);
        return false;
    }
    const keys = ATTEST_KEYS[prop];
    for (const f of fields) {
        const [k, ...rest] = f.split("=");
        const value = rest.join("=");
        if (k === "disabled" && ["true", "false"].includes(value)) continue;
        const check = keys[k];
        const problem = !check
            ? `${k}= is not an attribute of ${prop} attestations: use ${Object.keys(keys).join(", ")}`
            : check(value);
        if (problem) e.add(prop, problem);
    }
    if (/(^|,)disabled=true(,|$)/.test(v)) return false;
    return v.trim();
}

/** Attestations are added to the image (a value other than false). */
export const attests = (v: boolean | string | undefined) => v !== undefined && v !== false;

/**
 * Checks the flags (plain values) into `e` and returns them as the image's inputs. `secretIds`
 * are the ids of `secrets` (each id names one secret, whichever way it is given); `stages` the
 * Dockerfile's stage names, when the Dockerfile is local or inline; `permitted` the entitlements
 * of a BuildKit this stack starts (BuildxBuilder.entitlements).
 */
export function checkBuildFlags(
    e: ArgErrors,
    f: BuildFlagValues,
    secretIds: string[],
    stages: string[] | undefined,
    permitted?: string[],
): CheckedFlags {
    const out: CheckedFlags = {};
    if (f.network !== undefined && f.network !== null && f.network !== "default") {
        if (f.network === "host" || f.network === "none") out.network = f.network;
        else
            e.add(
                "network",
                `"${f.network}" is not a network mode: use "default", "host" (with allow: ["network.host"] on a builder that permits it) or "none"; for a network of your own, give the builder driverOpts { network }`,
            );
    }
    const list = (prop: string, values: unknown, problem: (v: unknown) => string | undefined): string[] | undefined => {
        const l = listOf(values);
        l.forEach((v, i) => {
            const p = problem(v);
            if (p) e.add(`${prop}[${i}]`, p);
        });
        return l.length ? l.map(String) : undefined;
    };
    const addHosts = list("addHosts", f.addHosts, hostProblem);
    if (addHosts) out.addHosts = addHosts;
    if (f.shmSize !== undefined && f.shmSize !== null) {
        const s = String(f.shmSize).trim();
        if (!SIZE.test(s) || Number.parseFloat(s) <= 0)
            e.add("shmSize", `"${f.shmSize}" is not a size: give bytes or a number with a unit, e.g. "128m" or "2g"`);
        else out.shmSize = s;
    }
    const ulimits = list("ulimits", f.ulimits, ulimitProblem);
    if (ulimits) out.ulimits = ulimits;
    const allow = list("allow", f.allow, entitlementProblem);
    if (allow) out.allow = allow;
    // A BuildKit this stack starts permits only the entitlements its flags name (buildx asks for network.host itself with network "host").
    const permits = (want: string, prop: string) => {
        const name = want.split("=")[0];
        if (!permitted || permitted.includes(name)) return;
        e.add(
            prop,
            `the image's builder does not permit ${name}: give its BuildxBuilder buildkitdFlags "--allow-insecure-entitlement ${name}"`,
        );
    };
    allow?.forEach((a, i) => {
        if (!entitlementProblem(a)) permits(a, `allow[${i}]`);
    });
    if (out.network === "host" && !allow?.includes("network.host")) permits("network.host", "network");
    const noCacheFilters = list("noCacheFilters", f.noCacheFilters, (s) => {
        const name = String(s ?? "").toLowerCase();
        if (!/^[a-z][a-z0-9_.-]*$/.test(name))
            return `"${s}" is not a stage name: stages are named in the Dockerfile, FROM <image> AS <name>`;
        if (stages && !stages.includes(name))
            return `the Dockerfile has no stage "${s}"${stages.length ? `: its stages are ${stages.join(", ")}` : " (no FROM ... AS <name>)"}`;
        return undefined;
    });
    if (noCacheFilters) out.noCacheFilters = noCacheFilters;
    const owner = new Map<string, string>(secretIds.map((id) => [id, "secrets"]));
    const idProblem = (prop: string, id: string) => {
        if (!id || /[,"\n]/.test(id))
            return `"${id}" is not a secret id: use letters, digits, "-", "_", "." (the id of RUN --mount=type=secret,id=<id>)`;
        if (owner.has(id)) return `${owner.get(id)} gives secret "${id}" already: give each secret one way`;
        owner.set(id, prop);
        return undefined;
    };
    const files = mapOf(f.secretFiles),
        envs = mapOf(f.secretEnvs);
    for (const [id, file] of Object.entries(files)) {
        const p = idProblem("secretFiles", id);
        if (p) {
            e.add(`secretFiles.${id}`, p);
            continue;
        }
        let ok = false;
        try {
            ok = typeof file === "string" && fs.statSync(file).isFile();
        } catch {
            /* missing */
        }
        if (!ok)
            e.add(
                `secretFiles.${id}`,
                `"${file}" is not a file: give the path of the file buildx reads the secret from at build time, relative to the program`,
            );
    }
    for (const [id, name] of Object.entries(envs)) {
        const p = idProblem("secretEnvs", id);
        if (p) {
            e.add(`secretEnvs.${id}`, p);
            continue;
        }
        if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
            e.add(`secretEnvs.${id}`, `"${name}" is not an environment variable name`);
        else if (process.env[name] === undefined)
            e.add(
                `secretEnvs.${id}`,
                `${name} is not set in the environment pulumi runs in: set it before pulumi preview/up (buildx reads it at build time), or give the value in secrets`,
            );
    }
    if (Object.keys(files).length) out.secretFiles = files as Record<string, string>;
    if (Object.keys(envs).length) out.secretEnvs = envs as Record<string, string>;
    if (f.rebuildOnSecretChange !== undefined && f.rebuildOnSecretChange !== null) {
        if (typeof f.rebuildOnSecretChange !== "boolean") e.add("rebuildOnSecretChange", "give true or false");
        else if (f.rebuildOnSecretChange) out.rebuildOnSecretChange = true;
    }
    const ignored = list("ignoreSecretsInDiffCalculation", f.ignoreSecretsInDiffCalculation, (s) =>
        typeof s === "string" && s ? undefined : "give a secret id",
    );
    if (ignored) out.ignoreSecretsInDiffCalculation = ignored;
    return out;
}

/** The flags args of a MultiArchImage, picked for {@link checkBuildFlags}. */
export function flagArgs(a: { [K in keyof BuildFlagValues]?: pulumi.Input<any> }): {
    [K in keyof BuildFlagValues]?: pulumi.Input<any>;
} {
    return {
        network: a.network,
        addHosts: a.addHosts,
        shmSize: a.shmSize,
        ulimits: a.ulimits,
        allow: a.allow,
        noCacheFilters: a.noCacheFilters,
        secretFiles: a.secretFiles,
        secretEnvs: a.secretEnvs,
        rebuildOnSecretChange: a.rebuildOnSecretChange,
        ignoreSecretsInDiffCalculation: a.ignoreSecretsInDiffCalculation,
    };
}
