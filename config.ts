// Typed stack config for the main job (index.ts), validated with errors that name the
// config key and the command that fixes it. Pure: takes a getter, so tests need no engine.
export interface StackConfig {
    platforms: string[];
    registry: string;
    repository: string;
    tag: string;
    manifest: "index" | "per-arch-tags" | "auto";
    buildkitImage?: string;
    binfmtMethod: "host" | "container";
    binfmtImage?: string;
}

const NS = "pulumi-multiarch";
const MANIFESTS = ["index", "per-arch-tags", "auto"] as const;

/** `get(key)` returns the raw config string, as `pulumi.Config.get` does. */
export function readStackConfig(get: (key: string) => string | undefined): StackConfig {
    const errors: string[] = [];
    const fix = (key: string, example: string) => `set it with \`pulumi config set ${NS}:${key} ${example}\``;
    let platforms: string[] = [];
    const rawPlatforms = get("platforms");
    if (rawPlatforms === undefined) {
        errors.push(`${NS}:platforms is missing: ${fix("platforms", `'["linux/amd64","linux/arm64"]'`)}`);
    } else {
        try {
            const v = JSON.parse(rawPlatforms);
            if (!Array.isArray(v) || v.some((p) => typeof p !== "string")) throw new Error();
            platforms = v;
        } catch {
            errors.push(`${NS}:platforms must be a JSON list of platforms, got ${rawPlatforms}: ${fix("platforms", `'["linux/amd64","linux/arm64"]'`)}`);
        }
    }
    const manifest = get("manifest") ?? "index";
    if (!(MANIFESTS as readonly string[]).includes(manifest)) {
        errors.push(`${NS}:manifest "${manifest}" is not a manifest mode (${MANIFESTS.join(", ")}): ${fix("manifest", "index")}`);
    }
    const binfmtMethod = get("binfmtMethod") ?? "host";
    if (binfmtMethod !== "host" && binfmtMethod !== "container") {
        errors.push(`${NS}:binfmtMethod "${binfmtMethod}" is not a method (host, container): ${fix("binfmtMethod", "host")}`);
    }
    const registry = get("registry") ?? "127.0.0.1:5000";
    if (!/^[\w.-]+(:\d+)?$/.test(registry)) errors.push(`${NS}:registry "${registry}" is not host[:port]: ${fix("registry", "127.0.0.1:5000")}`);
    if (errors.length) throw new Error(`stack config:\n  ${errors.join("\n  ")}`);
    return {
        platforms, registry, repository: get("repository") ?? "hello", tag: get("tag") ?? "latest",
        manifest: manifest as StackConfig["manifest"], binfmtMethod: binfmtMethod as StackConfig["binfmtMethod"],
        ...(get("buildkitImage") ? { buildkitImage: get("buildkitImage") } : {}),
        ...(get("binfmtImage") ? { binfmtImage: get("binfmtImage") } : {}),
    };
}
