// The image the final stage builds on, so verification knows which layers the build added:
// the last FROM (or the --target stage's), followed through stages it names, with ARG values
// expanded the way the Dockerfile frontend does; then its layer count, read with the registry
// client, which reaches the registry as the build does (docker's logins, the builder's TLS).
import { DockerfileParser } from "dockerfile-ast";

import * as platformlib from "./platform";
import * as registry from "./registry";

/** `$X`, `${X}`, `${X:-default}`, `${X:+alt}`, `${X-default}`, `${X+alt}`; undefined when a value is unknown. */
export function expand(text: string, vars: Record<string, string | undefined>): string | undefined {
    let unknown = false;
    const out = text.replace(
        /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
        (_m, braced, op, word, bare) => {
            const name = braced ?? bare;
            const v = vars[name];
            const set = v !== undefined,
                nonEmpty = set && v !== "";
            if (op === ":-") return nonEmpty ? v : word;
            if (op === "-") return set ? v : word;
            if (op === ":+") return nonEmpty ? word : "";
            if (op === "+") return set ? word : "";
            if (!set) unknown = true;
            return v ?? "";
        },
    );
    return unknown ? undefined : out;
}

/** The final stage's base image reference, "scratch", or undefined when it cannot be known here. */
export function finalStageBase(
    dockerfile: string,
    buildArgs: Record<string, string>,
    target: string | undefined,
    platform: string,
): string | undefined {
    const df = DockerfileParser.parse(dockerfile);
    const froms = df.getFROMs();
    if (!froms.length) return undefined;
    const p = platformlib.parsePlatform(platform);
    const vars: Record<string, string | undefined> = {
        TARGETPLATFORM: platformlib.formatPlatform(p),
        TARGETOS: p.os,
        TARGETARCH: p.architecture,
        TARGETVARIANT: p.variant ?? "",
    };
    // ARGs before the first FROM: their defaults, overridden by build args.
    const firstFrom = froms[0].getRange().start.line;
    for (const ins of df.getInstructions()) {
        if (ins.getKeyword() !== "ARG" || ins.getRange().start.line > firstFrom) continue;
        for (const a of ins.getArguments()) {
            const [name, ...rest] = a.getValue().split("=");
            vars[name] = buildArgs[name] ?? (rest.length ? expand(rest.join("="), vars) : undefined);
        }
    }
    const stages = froms.map((f) => ({ name: f.getBuildStage()?.toLowerCase(), image: f.getImage() }));
    let i = target ? stages.findIndex((s) => s.name === target.toLowerCase()) : stages.length - 1;
    for (let hops = 0; i >= 0 && hops < stages.length; hops++) {
        const image = stages[i].image ? expand(stages[i].image!, vars) : undefined;
        if (!image) return undefined;
        const stage = stages.slice(0, i).findIndex((s) => s.name === image.toLowerCase());
        if (stage < 0) return image.toLowerCase() === "scratch" ? "scratch" : image;
        i = stage;
    }
    return undefined;
}

/** The names of the Dockerfile's stages (`FROM ... AS <name>`), lower-cased as BuildKit matches them. */
export function stageNames(dockerfile: string): string[] {
    return DockerfileParser.parse(dockerfile)
        .getFROMs()
        .map((f) => f.getBuildStage()?.toLowerCase())
        .filter((n): n is string => !!n);
}

/**
 * How many layers `ref` has for `platform` (0 for scratch); `clientOf` gives the client of its
 * registry (the operation's own, so a login is resolved once per registry).
 */
export async function baseLayerCount(
    ref: string,
    platform: string,
    clientOf: (host: string) => registry.Registry,
): Promise<number> {
    if (ref === "scratch") return 0;
    const r = registry.parseRef(ref);
    const client = clientOf(r.registry);
    const read = async (reference: string) => {
        const m = await client.getManifest(r.repository, reference);
        if (!m) throw new Error(`${ref} is not in its registry`);
        return m.body;
    };
    let m = await read(r.digest ?? r.tag!);
    if (Array.isArray(m.manifests)) {
        const want = platformlib.formatPlatform(platformlib.parsePlatform(platform));
        const entry = m.manifests.find(
            (e: any) =>
                e.platform &&
                (() => {
                    try {
                        return (
                            platformlib.formatPlatform(
                                platformlib.parsePlatform(
                                    [e.platform.os, e.platform.architecture, e.platform.variant]
                                        .filter(Boolean)
                                        .join("/"),
                                ),
                            ) === want
                        );
                    } catch {
                        return false;
                    }
                })(),
        );
        if (!entry) throw new Error(`${ref} has no ${platform} image`);
        m = await read(entry.digest);
    }
    return (m.layers ?? []).length;
}
