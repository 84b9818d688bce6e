// The image's build plan at every preview (core/buildPlan.ts on the facts gathered here): the
// builder's nodes as buildx lists them and declares them (its store), or as the stack declares
// them before the builder exists; the binfmt handlers of this machine, for nodes that run on
// it; what each base image holds, read from its registry as the build reads it. After a build,
// what it spent under emulation, from the builder's build history (core/history.ts).
import * as fs from "fs";
import * as os from "os";

import type { EmulationCost, ImageInputs } from "../../contract/types";
import * as binfmt from "../../core/binfmt";
import * as buildContexts from "../../core/buildContexts";
import {
    compileAdvice,
    declaredNodes,
    describePlan,
    listedNodes,
    planBuild,
    type PlanInput,
    type PlanNode,
    type PlatformPlan,
} from "../../core/buildPlan";
import * as buildx from "../../core/buildx";
import * as history from "../../core/history";
import * as hostlib from "../../core/host";
import * as platformlib from "../../core/platform";
import * as registry from "../../core/registry";
import { UNKNOWN } from "../wire";
import { clientFor } from "./targets";

/** The Dockerfile's text as the build reads it; undefined when it is in a Git repository (read at build time). */
export function dockerfileText(
    inputs: Pick<ImageInputs, "context" | "dockerfile" | "dockerfileInline">,
): string | undefined {
    if (typeof inputs.dockerfileInline === "string" && inputs.dockerfileInline !== UNKNOWN)
        return inputs.dockerfileInline;
    if (buildContexts.dockerfileInRepository(inputs)) return undefined;
    try {
        return fs.readFileSync(inputs.dockerfile!, "utf8");
    } catch {
        return undefined;
    }
}

/** platform -> `qemu-aarch64 (/usr/bin/qemu-aarch64-static)`, for every enabled handler of this machine. */
async function localHandlers(): Promise<Record<string, string>> {
    let handlers: Record<string, binfmt.Handler> = {};
    try {
        handlers = await binfmt.readHandlers(hostlib.connect({ kind: "local" }));
    } catch {
        /* binfmt_misc not mounted */
    }
    const out: Record<string, string> = {};
    for (const arch of Object.keys(platformlib.ARCHITECTURES)) {
        const p = platformlib.normalizePlatform(`linux/${arch}`);
        const name = binfmt.handlerName(p),
            h = handlers[name];
        if (h?.enabled) out[p] = `${name} (${h.interpreter})`;
    }
    return out;
}

/** This machine's own platform, as buildx names it. */
function machinePlatform(): string | undefined {
    return binfmt.nativePlatforms(os.machine())[0];
}

/**
 * The builder's nodes as the plan needs them: as buildx lists them and declares them (its
 * store), or, before the builder exists, as the stack declares it.
 */
export async function planNodes(inputs: ImageInputs): Promise<PlanNode[]> {
    if (typeof inputs.builder !== "string" || inputs.builder === UNKNOWN) return [];
    const listed = await buildx.find(inputs.builder).catch(() => undefined);
    const handlers = await localHandlers();
    if (listed) return listedNodes(listed, buildx.declaredPlatforms(inputs.builder), handlers);
    const b = inputs.builderDeclared;
    return b && Array.isArray(b.nodes) ? declaredNodes(b, machinePlatform(), handlers) : [];
}

/** What an image holds: its index's platforms, or the one platform of a plain manifest's config. */
async function imagePlatforms(inputs: ImageInputs, ref: string): Promise<string[] | undefined> {
    const named = inputs.namedContexts?.[ref] ?? inputs.namedContexts?.[ref.replace(/:latest$/, "")];
    if (named !== undefined) {
        if (!named.startsWith("docker-image://")) return undefined;
        ref = named.slice("docker-image://".length);
    }
    const r = registry.parseRef(ref);
    const client = clientFor(inputs, r.registry, 10_000);
    const m = await client.getManifest(r.repository, r.digest ?? r.tag!);
    if (!m) return undefined;
    if (Array.isArray(m.body.manifests)) return Object.keys(registry.platformDigests(m.body));
    if (!m.body.config?.digest) return undefined;
    const blob = await client.openBlob(r.repository, m.body.config.digest);
    let text = "";
    for await (const chunk of blob) text += chunk;
    const c = JSON.parse(text);
    return c.os && c.architecture ? [[c.os, c.architecture, c.variant].filter(Boolean).join("/")] : undefined;
}

/** The plan of every platform, with what each base image holds (a registry that does not answer leaves it unknown). */
export async function planOf(inputs: ImageInputs): Promise<PlatformPlan[]> {
    if (!Array.isArray(inputs.platforms) || !inputs.platforms.every((p) => typeof p === "string" && p !== UNKNOWN))
        return [];
    const base: PlanInput = {
        dockerfile: dockerfileText(inputs),
        platforms: inputs.platforms,
        buildArgs: inputs.buildArgs ?? {},
        nodes: await planNodes(inputs),
        ...(typeof inputs.target === "string" ? { target: inputs.target } : {}),
    };
    const images = new Set<string>();
    planBuild({
        ...base,
        basePlatforms: (image) => {
            images.add(image);
            return undefined;
        },
    });
    const held = new Map(
        await Promise.all(
            [...images].map(async (i) => [i, await imagePlatforms(inputs, i).catch(() => undefined)] as const),
        ),
    );
    return planBuild({ ...base, basePlatforms: (image) => held.get(image) });
}

/** Prints the plan as the preview's diagnostics (an info block), and the compile advice as warnings. */
export function report(inputs: ImageInputs, plan: PlatformPlan[], cost?: EmulationCost): void {
    if (!plan.length) return;
    console.log(describePlan(inputs.builder, plan, cost));
    for (const w of compileAdvice(plan, dockerfileText(inputs), cost?.steps)) console.log(`warning: ${w}`);
}

/** One buildx invocation of a build: its history record and the platforms it built. */
export interface BuildRecord {
    ref: string;
    platforms: string[];
}

/**
 * What the build spent in RUN steps that ran emulated, from the builder's history: read only
 * when the plan has a RUN step that runs emulated. Never fails the build: what cannot be read
 * is said in `unknown`.
 */
export async function emulationCost(inputs: ImageInputs, records: BuildRecord[]): Promise<EmulationCost> {
    const plan = inputs.buildPlan ?? [];
    const refs = records.map((r) => r.ref);
    const emulated = plan.filter((p) => p.stages.some((s) => s.emulated && s.runs > 0)).map((p) => p.platform);
    if (!emulated.length) return { records: refs, steps: [] };
    const steps: EmulationCost["steps"] = [];
    const seen = new Set<string>();
    try {
        for (const r of records) {
            const recorded = await history.readBuild(inputs.builder, r.ref);
            for (const s of recorded) seen.add(s.platform ?? (r.platforms.length === 1 ? r.platforms[0] : ""));
            steps.push(...history.emulatedSteps(recorded, plan, r.platforms));
        }
    } catch (e) {
        return { records: refs, steps, unknown: `the builder's history could not be read: ${(e as Error).message}` };
    }
    const missing = emulated.filter((p) => !seen.has(p));
    steps.sort((a, b) => b.seconds - a.seconds);
    return missing.length
        ? {
              records: refs,
              steps,
              unknown: `no record of ${missing.join(", ")}: buildx's history gives one node's record of a build several nodes ran`,
          }
        : { records: refs, steps };
}
