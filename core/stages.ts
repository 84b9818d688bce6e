// The Dockerfile's stage graph as BuildKit's Dockerfile frontend builds it: which stages a
// target needs (FROM another stage, COPY --from, RUN --mount from=), and on which platform each
// one runs for a target platform and a build platform (FROM --platform, the platform of the
// stage it starts from, else the target). On dockerfile-ast's syntax tree, with ARG values
// expanded as the frontend expands them. Pure.
import { DockerfileParser, type Instruction } from "dockerfile-ast";

import { expand } from "./baseImage";
import { formatPlatform, parsePlatform } from "./platform";

/** One RUN step of a stage. */
export interface RunStep {
    /** Line of the RUN (1-based). */
    line: number;
    /** Its text as written (a heredoc's first line only). */
    text: string;
}

/** One stage of the Dockerfile (one FROM). */
export interface Stage {
    /** Position among the FROMs, from 0. */
    index: number;
    /** `AS <name>`, lower-cased as BuildKit matches it; undefined for an unnamed stage. */
    name?: string;
    /** Line of its FROM (1-based). */
    line: number;
    /** The FROM's image or stage, as written. */
    from: string;
    /** The FROM's `--platform` value, as written. */
    platformFlag?: string;
    runs: RunStep[];
    /** Stages or images it reads from (`COPY --from`, `RUN --mount from=`), as written. */
    reads: string[];
}

/** The stage as BuildKit names it in progress and history: its name, else `stage-<index>`. */
export function stageLabel(s: Stage): string {
    return s.name ?? `stage-${s.index}`;
}

/** The Dockerfile's stages and its global ARGs (before the first FROM: their defaults). */
export function parseStages(dockerfile: string): { stages: Stage[]; globalArgs: Record<string, string | undefined> } {
    const df = DockerfileParser.parse(dockerfile);
    const froms = df.getFROMs();
    const line = (i: Instruction) => i.getRange().start.line + 1;
    const stages: Stage[] = froms.map((f, index) => ({
        index,
        line: line(f),
        from: f.getImage() ?? "",
        runs: [],
        reads: [],
        ...(f.getBuildStage() ? { name: f.getBuildStage()!.toLowerCase() } : {}),
        ...(f.getPlatformFlag()?.getValue() ? { platformFlag: f.getPlatformFlag()!.getValue()! } : {}),
    }));
    const globalArgs: Record<string, string | undefined> = {};
    for (const ins of df.getInstructions()) {
        const at = line(ins);
        const stage = [...stages].reverse().find((s) => s.line <= at);
        const keyword = ins.getKeyword();
        if (!stage) {
            if (keyword === "ARG") {
                for (const a of ins.getArguments()) {
                    const [name, ...value] = a.getValue().split("=");
                    globalArgs[name] = value.length ? value.join("=") : undefined;
                }
            }
            continue;
        }
        const flags =
            (
                ins as unknown as {
                    getFlags?: () => {
                        getName(): string;
                        getValue(): string | null;
                        getOption(n: string): { getValue(): string | null } | null;
                    }[];
                }
            ).getFlags?.() ?? [];
        if (keyword === "COPY" || keyword === "ADD") {
            const from = flags.find((f) => f.getName() === "from")?.getValue();
            if (from) stage.reads.push(from);
        }
        if (keyword === "RUN") {
            for (const f of flags.filter((x) => x.getName() === "mount")) {
                const from = f.getOption("from")?.getValue();
                if (from) stage.reads.push(from);
            }
            stage.runs.push({
                line: at,
                text: (ins.getRawArgumentsContent() ?? "").split("\n")[0].replace(/\\$/, "").trim(),
            });
        }
    }
    return { stages, globalArgs };
}

/** The earlier stage `ref` names (by name or index), or undefined for an image. */
function stageNamed(stages: Stage[], ref: string, before: number): Stage | undefined {
    const lower = ref.toLowerCase();
    const named = stages.slice(0, before).find((s) => s.name === lower);
    if (named) return named;
    return /^\d+$/.test(ref) && Number(ref) < before ? stages[Number(ref)] : undefined;
}

/** The target stage (`--target`, else the last) and every stage it needs, in Dockerfile order. */
export function neededStages(stages: Stage[], target?: string): Stage[] {
    if (!stages.length) return [];
    const last = target ? stages.find((s) => s.name === target.toLowerCase()) : stages[stages.length - 1];
    if (!last) return [];
    const seen = new Set<number>();
    const visit = (s: Stage) => {
        if (seen.has(s.index)) return;
        seen.add(s.index);
        for (const ref of [s.from, ...s.reads]) {
            const dep = stageNamed(stages, ref, ref === s.from ? s.index : stages.length);
            if (dep && dep.index !== s.index) visit(dep);
        }
    };
    visit(last);
    return stages.filter((s) => seen.has(s.index));
}

/** Where a stage runs, for one target platform. */
export interface StagePlatform {
    /** The platform its RUN steps run for; undefined when an ARG it needs has no value here. */
    platform?: string;
    /** "build": the build platform (`$BUILDPLATFORM`); "target": the target platform; "pinned": another platform its FROM names. */
    runsOn: "build" | "target" | "pinned";
    /** Why, in the Dockerfile's words. */
    reason: string;
    /** The image it starts from (ARGs expanded), or undefined when it starts from a stage or scratch. */
    image?: string;
}

/** The automatic platform ARGs of BuildKit for a target and a build platform. */
export function platformArgs(target: string, build: string): Record<string, string> {
    const t = parsePlatform(target),
        b = parsePlatform(build);
    return {
        TARGETPLATFORM: formatPlatform(t),
        TARGETOS: t.os,
        TARGETARCH: t.architecture,
        TARGETVARIANT: t.variant ?? "",
        BUILDPLATFORM: formatPlatform(b),
        BUILDOS: b.os,
        BUILDARCH: b.architecture,
        BUILDVARIANT: b.variant ?? "",
    };
}

/**
 * The platform of each stage for `target`, built on a node whose own platform is `build`:
 * a stage started FROM another stage runs where that one does (BuildKit ignores its
 * --platform then); a FROM --platform decides for the others; else the target platform.
 */
export function stagePlatforms(
    stages: Stage[],
    globalArgs: Record<string, string | undefined>,
    buildArgs: Record<string, string>,
    target: string,
    build: string,
): Map<number, StagePlatform> {
    const auto = platformArgs(target, build);
    const vars: Record<string, string | undefined> = { ...auto };
    for (const [k, v] of Object.entries(globalArgs))
        vars[k] = buildArgs[k] ?? (v === undefined ? undefined : expand(v, vars));
    const out = new Map<number, StagePlatform>();
    for (const s of stages) {
        const base = stageNamed(stages, expand(s.from, vars) ?? s.from, s.index);
        if (base) {
            const b = out.get(base.index)!;
            out.set(s.index, {
                ...b,
                reason: `FROM ${stageLabel(base)}: runs where ${stageLabel(base)} runs`,
                image: b.image,
            });
            continue;
        }
        const image = expand(s.from, vars);
        const img = image && image.toLowerCase() !== "scratch" ? { image } : {};
        if (!s.platformFlag) {
            out.set(s.index, {
                platform: auto.TARGETPLATFORM,
                runsOn: "target",
                reason: "no --platform: the target platform",
                ...img,
            });
            continue;
        }
        const value = expand(s.platformFlag, vars);
        let platform: string | undefined;
        try {
            platform = value ? formatPlatform(parsePlatform(value)) : undefined;
        } catch {
            platform = undefined;
        }
        const flag = `FROM --platform=${s.platformFlag}`;
        if (/^\$\{?BUILDPLATFORM\}?$/.test(s.platformFlag))
            out.set(s.index, { platform, runsOn: "build", reason: `${flag}: the build platform`, ...img });
        else if (/^\$\{?TARGETPLATFORM\}?$/.test(s.platformFlag))
            out.set(s.index, { platform, runsOn: "target", reason: `${flag}: the target platform`, ...img });
        else
            out.set(s.index, {
                platform,
                runsOn: platform === auto.TARGETPLATFORM ? "target" : "pinned",
                reason: `${flag}: ${platform ?? "unknown here"}`,
                ...img,
            });
    }
    return out;
}
