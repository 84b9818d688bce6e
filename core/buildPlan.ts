// How each platform of an image will be built, said before the build: the builder node buildx
// sends it to (buildx's rule: the first node that declares the platform, else the first that
// lists it), whether that node runs the platform's binaries itself or through a QEMU handler,
// and, per stage the target needs, on which platform its RUN steps run (stages.ts). Then the
// advice a user can act on: a compile in a stage that runs emulated, with the fix and what it
// cost last time. Pure: the facts (nodes, handlers, base images' platforms) come from the caller.
import * as binfmt from "./binfmt";
import type { BuilderInfo } from "./buildx";
import { formatPlatform, normalizePlatform, parsePlatform } from "./platform";
import { neededStages, parseStages, type Stage, stageLabel, stagePlatforms } from "./stages";

/** A node of the builder, as the plan needs it. */
export interface PlanNode {
    name: string;
    /** The node's own platform: what it runs without emulation, and the `$BUILDPLATFORM` of its stages; undefined when unknown. */
    native?: string;
    /** Platforms declared for it (`buildx create --platform`): buildx matches these first. */
    declared: string[];
    /** Every platform it lists: declared, then what its BuildKit reports (emulated ones included). */
    platforms: string[];
    /** platform -> the binfmt handler that runs it on the node's host, e.g. `qemu-aarch64 (/usr/bin/qemu-aarch64-static)`; where known. */
    handlers: Record<string, string>;
}

/** One stage of the target, for one platform. */
export interface StagePlan {
    /** The stage as BuildKit names it: `AS <name>`, else `stage-<index>`. */
    stage: string;
    /** Line of its FROM. */
    line: number;
    /** The platform its RUN steps run for ("unknown" when an ARG it needs has no value at preview). */
    platform: string;
    /** "build": the build platform (`FROM --platform=$BUILDPLATFORM`); "target": the target platform; "pinned": another its FROM names. */
    runsOn: "build" | "target" | "pinned";
    /** Why, in the Dockerfile's words. */
    reason: string;
    /** The stage builds the image (the target, or the last stage). */
    final: boolean;
    /** How many RUN steps it has: only they execute the stage's binaries. */
    runs: number;
    /** Its RUN steps run under emulation on the node. */
    emulated: boolean;
    /** What the base image holds, when that decides what runs (e.g. it has no image for the platform). */
    note?: string;
}

/** How one platform of the image is built. */
export interface PlatformPlan {
    /** The target platform. */
    platform: string;
    /** The builder node that builds it. */
    node: string;
    /** That node's own platform ("unknown" when neither declared nor reported). */
    nodePlatform: string;
    /** "native": the node runs the target's binaries itself; "emulated": through a QEMU handler; "unknown": its own platform is unknown. */
    mode: "native" | "emulated" | "unknown";
    /** The handler that runs the target's binaries, when emulated. */
    handler?: string;
    /** Another node of the builder that runs the platform natively, where buildx does not send it there. */
    nativeNode?: string;
    /** The stages the target needs, in Dockerfile order (empty when the Dockerfile is not readable at preview). */
    stages: StagePlan[];
}

/** A node of a BuildxBuilder as declared. */
export interface DeclaredNode {
    /** Node name. */
    name: string;
    /** Its endpoint, for the remote driver. */
    endpoint?: string;
    /** Its declared platforms (`buildx create --platform`); empty: what BuildKit detects. */
    platforms: string[];
}

/** A BuildxBuilder as declared, before buildx lists it. */
export interface DeclaredBuilder {
    /** The buildx driver. */
    driver: string;
    /** Its nodes: name, endpoint, declared platforms. */
    nodes: DeclaredNode[];
    /** Platforms its BinfmtSetup registers emulators for. */
    emulated: string[];
}

/** Nodes whose BuildKit runs on this machine: its binfmt handlers are theirs. */
export function onThisMachine(endpoint: string | undefined, driver: string): boolean {
    if (driver === "docker" || driver === "docker-container")
        return !endpoint || /^(unix:\/\/|default$|npipe:)/.test(endpoint);
    return !!endpoint && /^(unix:\/\/|tcp:\/\/(127\.|localhost[:/]|\[::1\]))/.test(endpoint);
}

/**
 * The nodes of a builder buildx lists: its own platform is the first declared for it, else the
 * first its BuildKit reports (a worker lists its own platform first, then what it emulates).
 * `handlers`: this machine's (platform -> handler), for nodes that run on it.
 */
export function listedNodes(
    b: BuilderInfo,
    declared: Record<string, string[]>,
    handlers: Record<string, string>,
): PlanNode[] {
    return b.nodes.map((n) => {
        const d = declared[n.name] ?? [];
        const platforms = n.platforms.map((p) => {
            try {
                return normalizePlatform(p);
            } catch {
                return p;
            }
        });
        const native = d[0] ?? platforms[0];
        return {
            name: n.name,
            ...(native ? { native } : {}),
            declared: d,
            platforms: [...new Set(platforms)],
            handlers: onThisMachine(n.endpoint, b.driver) ? handlers : {},
        };
    });
}

/**
 * The nodes of a builder the stack declares but buildx does not list yet (a first preview): a
 * node of this machine runs its platform (`host`) and what its BinfmtSetup and the registered
 * handlers emulate; a remote node, what is declared for it.
 */
export function declaredNodes(
    b: DeclaredBuilder,
    host: string | undefined,
    handlers: Record<string, string>,
): PlanNode[] {
    return b.nodes.map((n) => {
        const local = onThisMachine(n.endpoint, b.driver);
        const native = n.platforms[0] ?? (local ? host : undefined);
        const emulated = local
            ? [...new Set([...(Array.isArray(b.emulated) ? b.emulated : []), ...Object.keys(handlers)])].filter(
                  (p) => !native || !runsNatively(p, native),
              )
            : [];
        return {
            name: n.name,
            ...(native ? { native } : {}),
            declared: n.platforms,
            platforms: [...new Set([...n.platforms, ...(native ? [native] : []), ...emulated])],
            handlers: Object.fromEntries(
                emulated.map((p) => [p, handlers[p] ?? `${binfmt.handlerName(p)} (registered by the BinfmtSetup)`]),
            ),
        };
    });
}

/** What a base image holds: its platforms (an index), or the one platform of a plain manifest. */
export type BasePlatforms = (image: string) => string[] | undefined;

/** True when a node of platform `native` runs `p`'s binaries without emulation. */
export function runsNatively(p: string, native: string): boolean {
    const a = parsePlatform(p).architecture,
        n = parsePlatform(native).architecture;
    return a === n || (a === "386" && n === "amd64");
}

/**
 * The node buildx gives `platform` (build/resolver/driver.go): when every requested platform is
 * declared by some node, the first node declaring it; else the first node that lists it
 * (declared or reported); the first node when none does.
 */
export function nodeFor(platform: string, platforms: string[], nodes: PlanNode[]): PlanNode {
    const declaredAll = platforms.every((p) => nodes.some((n) => n.declared.includes(p)));
    const by = (list: (n: PlanNode) => string[]) => nodes.find((n) => list(n).includes(platform));
    return (declaredAll ? by((n) => n.declared) : by((n) => [...n.declared, ...n.platforms])) ?? nodes[0];
}

export interface PlanInput {
    /** The Dockerfile's text; undefined when it is not readable at preview (in a Git repository). */
    dockerfile?: string;
    platforms: string[];
    target?: string;
    buildArgs: Record<string, string>;
    nodes: PlanNode[];
    /** What each base image holds, where the registry answered. */
    basePlatforms?: BasePlatforms;
}

/** The plan of every platform. */
export function planBuild(input: PlanInput): PlatformPlan[] {
    const parsed = input.dockerfile !== undefined ? parseStages(input.dockerfile) : undefined;
    const needed = parsed ? neededStages(parsed.stages, input.target) : [];
    return input.platforms.map((platform) => {
        const node = input.nodes.length ? nodeFor(platform, input.platforms, input.nodes) : undefined;
        const native = node?.native;
        const mode = !native ? "unknown" : runsNatively(platform, native) ? "native" : "emulated";
        const handler =
            mode === "emulated"
                ? (node!.handlers[platform] ?? `qemu (the handler of ${node!.name}'s host)`)
                : undefined;
        const stages = parsed && native ? planStages(parsed, needed, input, platform, native) : [];
        const other =
            mode === "emulated" ? input.nodes.find((n) => n.native && runsNatively(platform, n.native)) : undefined;
        return {
            platform,
            node: node?.name ?? "unknown",
            nodePlatform: native ?? "unknown",
            mode,
            ...(handler ? { handler } : {}),
            ...(other ? { nativeNode: other.name } : {}),
            stages,
        };
    });
}

function planStages(
    parsed: ReturnType<typeof parseStages>,
    needed: Stage[],
    input: PlanInput,
    platform: string,
    native: string,
): StagePlan[] {
    const where = stagePlatforms(parsed.stages, parsed.globalArgs, input.buildArgs, platform, native);
    const final = needed[needed.length - 1];
    return needed.map((s) => {
        const w = where.get(s.index)!;
        let runsAs = w.platform;
        let note: string | undefined;
        // BuildKit takes a base without an image for the stage's platform as it is (the
        // article's registry without manifest lists): its binaries are what RUN executes.
        const held = w.image && w.platform ? input.basePlatforms?.(w.image) : undefined;
        if (held?.length && w.platform && !held.some((h) => formatPlatform(parsePlatform(h)) === w.platform)) {
            runsAs = held[0];
            note = `${w.image} has no ${w.platform} image: BuildKit takes its ${held.join(", ")} one, whose binaries run${s.runs.length ? "" : " (if any ran)"}`;
        }
        return {
            stage: stageLabel(s),
            line: s.line,
            platform: w.platform ?? "unknown",
            runsOn: w.runsOn,
            reason: w.reason,
            final: s === final,
            runs: s.runs.length,
            emulated: runsAs ? !runsNatively(runsAs, native) : false,
            ...(note ? { note } : {}),
        };
    });
}

/** A RUN step of the last build that ran emulated, as the builder's build history recorded it. */
export interface EmulatedStep {
    /** The target platform. */
    platform: string;
    /** The stage, as BuildKit names it. */
    stage: string;
    /** The step as BuildKit names it, e.g. `RUN go build -o /out/hello .`. */
    step: string;
    /** Which RUN of the stage it is, from 1 (the Dockerfile's order). */
    run: number;
    /** Seconds it ran. */
    seconds: number;
}

/** A compiler or a build that compiles, and how to move it to the build platform. */
const COMPILES: { re: RegExp; what: string; fix: string }[] = [
    {
        re: /\bgo (build|install)\b/,
        what: "go build",
        fix: "add `ARG TARGETOS TARGETARCH` and build with `GOOS=$TARGETOS GOARCH=$TARGETARCH` (Go cross-compiles)",
    },
    {
        re: /\bcargo (build|install)\b|\brustc\b/,
        what: "a Rust build",
        fix: "build with `cargo build --target <triple of $TARGETARCH>` (aarch64-unknown-linux-gnu, x86_64-unknown-linux-gnu) and that target's linker",
    },
    {
        re: /\b(gcc|g\+\+|cc|c\+\+|clang|clang\+\+)\b|\b(make|cmake|ninja)\b/,
        what: "a C/C++ compile",
        fix: "compile with a cross compiler for $TARGETARCH (e.g. `CC=aarch64-linux-gnu-gcc` from gcc-aarch64-linux-gnu, or `clang --target=aarch64-linux-gnu`)",
    },
    {
        re: /\b(javac|mvn|gradle|gradlew)\b/,
        what: "a Java build",
        fix: "bytecode does not depend on the architecture: the jar built there is the same; copy it into the target stage",
    },
    {
        re: /\b(npm (ci|install)|yarn install|pnpm install)\b/,
        what: "an npm install (native modules compile under node-gyp)",
        fix: "JavaScript does not depend on the architecture: install there and copy node_modules, with `npm_config_arch=$TARGETARCH` for modules that ship prebuilt binaries",
    },
    {
        re: /\bdotnet (publish|build)\b/,
        what: "a .NET build",
        fix: "publish with `-r linux-$TARGETARCH` (x64/arm64 runtime identifiers)",
    },
];

/** A RUN's commands, without package installs (`apt-get install gcc` installs a compiler, it compiles nothing). */
function commands(run: string): string[] {
    return run
        .split(/&&|\|\||;|\|/)
        .map((c) => c.trim())
        .filter((c) => !/^(sudo\s+)?(apt-get|apt|apk|yum|dnf|microdnf|zypper|pip3?|conda)\b/.test(c));
}

/**
 * Warnings for compiles in stages that run emulated and need not: the final stage must run on
 * the target platform (its package installs stay), every other stage can move to the build
 * platform. Each says the fix, a node of the builder that runs the platform natively where
 * there is one, and what the step cost in the last build.
 */
export function compileAdvice(
    plan: PlatformPlan[],
    dockerfile: string | undefined,
    cost: EmulatedStep[] = [],
): string[] {
    if (dockerfile === undefined) return [];
    const { stages } = parseStages(dockerfile);
    const out = new Map<string, { platforms: string[]; text: (ps: string[]) => string }>();
    for (const p of plan) {
        for (const sp of p.stages.filter((s) => s.emulated && !s.final && s.runs > 0)) {
            const stage = stages.find((s) => stageLabel(s) === sp.stage)!;
            stage.runs.forEach((run, i) => {
                const c = COMPILES.find((x) => commands(run.text).some((cmd) => x.re.test(cmd)));
                if (!c) return;
                const key = `${run.line}`;
                // A step that already builds for $TARGETARCH needs only the FROM (the article's emulated Dockerfile).
                const fix = /\$\{?TARGETARCH\}?/.test(run.text)
                    ? "keep the step as it is (it already builds for $TARGETARCH)"
                    : c.fix;
                const nodeFix = p.nativeNode
                    ? `or let node ${p.nativeNode}, which runs ${p.platform} natively, build it: declare each node's platforms (BuildxBuilder \`platforms\`, \`nodes[].platforms\`), so buildx sends ${p.platform} there`
                    : `or give the builder a node that runs ${p.platform} natively (BuildxBuilder \`nodes\`)`;
                const entry = out.get(key) ?? {
                    platforms: [],
                    text: (ps: string[]) => {
                        const spent = cost.filter(
                            (s) => ps.includes(s.platform) && s.stage === sp.stage && s.run === i + 1,
                        );
                        const measured = spent.length
                            ? `; the last build spent ${spent.map((s) => `${s.seconds.toFixed(1)} s (${s.platform})`).join(", ")} on it`
                            : "";
                        return (
                            `line ${run.line}: ${c.what} in stage ${sp.stage} runs under emulation for ${ps.join(", ")} (${sp.reason}), ` +
                            `typically several times slower${measured}. Fix: start the stage with \`FROM --platform=$BUILDPLATFORM\` and ${fix}; ${nodeFix}`
                        );
                    },
                };
                if (!entry.platforms.includes(p.platform)) entry.platforms.push(p.platform);
                out.set(key, entry);
            });
        }
    }
    return [...out.values()].map((e) => e.text(e.platforms));
}

/** The plan as a few lines for the preview's diagnostics; with what the last build spent emulated. */
export function describePlan(
    builder: string,
    plan: PlatformPlan[],
    cost?: { steps: EmulatedStep[]; unknown?: string },
): string {
    const lines = [`build plan on builder ${builder}:`];
    for (const p of plan) {
        const how =
            p.mode === "native"
                ? "native"
                : p.mode === "emulated"
                  ? `emulated through ${p.handler}`
                  : "its own platform is unknown";
        lines.push(`  ${p.platform}: node ${p.node} (${p.nodePlatform}), ${how}`);
        for (const s of p.stages) {
            const runs = s.runs === 0 ? "no RUN" : `${s.runs} RUN`;
            const where = s.runs === 0 ? "nothing executes" : s.emulated ? "emulated" : "native";
            lines.push(
                `    ${s.stage}${s.final ? " (final)" : ""}, line ${s.line}: ${s.platform}, ${s.reason}; ${runs}: ${where}${s.note ? ` (${s.note})` : ""}`,
            );
        }
    }
    if (cost) {
        if (cost.unknown) lines.push(`  last build: emulated time unknown (${cost.unknown})`);
        else {
            const total = cost.steps.reduce((a, s) => a + s.seconds, 0);
            const per = [...new Set(cost.steps.map((s) => s.platform))].map(
                (pl) =>
                    `${pl} ${cost.steps
                        .filter((s) => s.platform === pl)
                        .reduce((a, s) => a + s.seconds, 0)
                        .toFixed(1)} s`,
            );
            lines.push(
                `  last build: ${total.toFixed(1)} s of RUN steps under emulation${per.length ? ` (${per.join(", ")})` : ""}`,
            );
            for (const s of [...cost.steps].sort((a, b) => b.seconds - a.seconds).slice(0, 5)) {
                lines.push(`    ${s.seconds.toFixed(1)} s  [${s.platform} ${s.stage}] ${s.step}`);
            }
        }
    }
    return lines.join("\n");
}
