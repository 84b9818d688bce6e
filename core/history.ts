// What a build cost under emulation, from what BuildKit recorded: the builder's build history
// (`docker buildx history logs <ref> --progress rawjson`, BuildKit's history API: every
// vertex of the solve with its start, end and cache state), read after the build. Each RUN
// step is matched to its stage and platform by the name BuildKit gives it
// (`[linux/arm64 build 4/4] RUN ...`, `[linux/amd64->arm64 build 4/4] RUN ...` for a stage on
// the build platform), and counted as emulated where the build plan says its stage was.
import type { EmulatedStep, PlatformPlan } from "./buildPlan";
import { run } from "./exec";
import { ARCHITECTURES, normalizePlatform } from "./platform";

/** One step of a recorded build. */
export interface RecordedStep {
    /** The vertex's name, as BuildKit gives it. */
    name: string;
    /** The platform it ran for (the target platform; undefined in a single-platform build, which names none). */
    platform?: string;
    /** The stage, as BuildKit names it (`build`, `stage-1`); undefined for a Dockerfile of one stage. */
    stage?: string;
    /** `4` of `4/4`: its place among the stage's steps. */
    index: number;
    /** `RUN go build ...`. */
    step: string;
    /** From its first start to its last completion. */
    seconds: number;
    /** Taken from the cache: nothing ran. */
    cached: boolean;
}

/**
 * `[<platform>[-><arch>] [<stage>] i/n] <step>`: BuildKit's name of a Dockerfile step
 * (dockerfile2llb prefixCommand); the platform is there in multi-platform builds, `->` names the
 * target where the stage runs on another platform. Undefined for internal vertices.
 */
export function parseStepName(name: string): Omit<RecordedStep, "seconds" | "cached"> | undefined {
    const m = /^\[(?:([a-z0-9]+\/[^\s>\]]+?)(?:->([^\s\]]+))? )?(?:([^\s\]/]+) )?\s*(\d+)\/(\d+)\] (.*)$/s.exec(name);
    if (!m) return undefined;
    const [, platform, targetArch, stage, index, , step] = m;
    let target = platform;
    if (platform && targetArch) {
        // "linux/amd64->arm64" (a variant may follow: "->arm/v7"); another OS is written in full.
        target = targetArch.split("/")[0] in ARCHITECTURES ? `${platform.split("/")[0]}/${targetArch}` : targetArch;
    }
    try {
        if (target) target = normalizePlatform(target);
    } catch {
        /* an OS we do not build */
    }
    return {
        name,
        ...(target ? { platform: target } : {}),
        ...(stage ? { stage } : {}),
        index: Number(index),
        step: step.trim(),
    };
}

/**
 * Parses `history logs --progress rawjson`: BuildKit's status updates (one JSON object per
 * line, vertices repeated as they progress), folded to one entry per vertex.
 */
export function parseRawLogs(text: string): RecordedStep[] {
    type Vertex = { name: string; started?: number; completed?: number; cached: boolean };
    const byDigest = new Map<string, Vertex>();
    for (const line of text.split("\n")) {
        if (!line.trim().startsWith("{")) continue;
        let status: any;
        try {
            status = JSON.parse(line);
        } catch {
            continue;
        }
        for (const v of status.vertexes ?? []) {
            const e: Vertex = byDigest.get(v.digest) ?? { name: String(v.name), cached: false };
            const started = v.started ? Date.parse(v.started) : undefined,
                completed = v.completed ? Date.parse(v.completed) : undefined;
            if (started !== undefined && (e.started === undefined || started < e.started)) e.started = started;
            if (completed !== undefined && (e.completed === undefined || completed > e.completed))
                e.completed = completed;
            e.cached ||= !!v.cached;
            byDigest.set(v.digest, e);
        }
    }
    const out: RecordedStep[] = [];
    for (const e of byDigest.values()) {
        const parsed = parseStepName(e.name);
        if (!parsed) continue;
        const seconds =
            e.started !== undefined && e.completed !== undefined ? Math.max(0, (e.completed - e.started) / 1000) : 0;
        out.push({ ...parsed, seconds, cached: e.cached });
    }
    return out;
}

/**
 * The RUN steps that ran emulated, by the plan of that build: a step of stage S for platform P
 * is emulated where the plan has S emulated for P. Cached steps ran nothing. `run` is the
 * step's place among the stage's RUN steps, as the plan's Dockerfile has them. `built`: the
 * platforms of the buildx invocation that recorded `steps`.
 */
export function emulatedSteps(steps: RecordedStep[], plan: PlatformPlan[], built: string[]): EmulatedStep[] {
    // A build of one platform names none in its steps.
    const only = built.length === 1 ? built[0] : undefined;
    const runs = steps.filter((s) => /^RUN\b/.test(s.step));
    const out: EmulatedStep[] = [];
    for (const s of runs) {
        const platform = s.platform ?? only;
        const p = plan.find((x) => x.platform === platform);
        const stagePlan = p?.stages.find((x) => x.stage === (s.stage ?? x.stage));
        if (!p || !stagePlan?.emulated || s.cached) continue;
        const siblings = runs
            .filter((r) => r.platform === s.platform && r.stage === s.stage)
            .map((r) => r.index)
            .sort((a, b) => a - b);
        out.push({
            platform: p.platform,
            stage: stagePlan.stage,
            step: s.step,
            run: siblings.indexOf(s.index) + 1,
            seconds: Math.round(s.seconds * 10) / 10,
        });
    }
    return out.sort((a, b) => b.seconds - a.seconds);
}

/** The recorded steps of build `ref` (`<builder>/<node>/<id>` as buildx's metadata gives it, or the id). */
export async function readBuild(builder: string, ref: string): Promise<RecordedStep[]> {
    const id = ref.split("/").pop()!;
    // buildx prints the progress (rawjson included) on stderr.
    const r = await run("docker", ["buildx", "history", "logs", "--builder", builder, "--progress", "rawjson", id], {
        allowFailure: true,
    });
    if (r.code !== 0) throw new Error(`\`${r.command}\` failed: ${(r.stderr || r.stdout).trim().split("\n").pop()}`);
    return parseRawLogs(`${r.stdout}\n${r.stderr}`);
}
