// Typed stack config for the main job (index.ts), validated with errors that name the
// config key and the command that fixes it. Pure: takes a getter, so tests need no engine.
// Every key lives in the `pulumi-multiarch:` namespace; docs/operations.md (Stacks) lists them with defaults.
import * as os from "os";

export interface StackNode {
    /** Node name (not for the first node, which buildx names `<builder>0`); default `<builder><index>`. */
    name?: string;
    /** `unix:///path/buildkitd.sock` or `tcp://host:port` of a BuildKit daemon. */
    endpoint: string;
    /** Platforms this node builds, e.g. `["linux/arm64"]`. */
    platforms: string[];
}

export interface StackConfig {
    platforms: string[];
    registry: string;
    repository: string;
    tag: string;
    manifest: "index" | "per-arch-tags" | "auto";
    /** Build context, relative to the project. */
    context: string;
    /** Dockerfile, relative to the project; undefined: `<context>/Dockerfile`. */
    dockerfile?: string;
    builderDriver: "docker-container" | "remote";
    /** remote: the builder's nodes (at least one); the first is the builder's endpoint. */
    builderNodes: StackNode[];
    /** remote: every tcp:// node gets the TLS in secrets builderTlsCa, builderTlsCert and builderTlsKey. */
    builderTls: boolean;
    /**
     * remote: every tcp:// node gets the TLS read from this folder at each run (the files named
     * in TLS_KEYS), so machine-made keys stay in the machine's files, not in Pulumi.<stack>.yaml.
     * `~/` is the user's home.
     */
    builderTlsDir?: string;
    buildkitImage?: string;
    binfmtMethod: "host" | "container";
    binfmtImage?: string;
    /**
     * Promote instead of build: the stack (in this project and backend) whose verified image,
     * its `ref` output, is copied by digest to `<registry>/<repository>:<tag>`; nothing is built.
     */
    promoteFrom?: string;
}

const NS = "pulumi-multiarch";
const MANIFESTS = ["index", "per-arch-tags", "auto"] as const;
const DRIVERS = ["docker-container", "remote"] as const;
const NODES_EXAMPLE = `'[{"endpoint":"tcp://amd64-builder:1234","platforms":["linux/amd64"]}]'`;
/** The fleet's mutual TLS: config key -> the file `pulumi config set --secret` reads it from. */
export const TLS_KEYS = {
    builderTlsCa: "ca.pem",
    builderTlsCert: "client.pem",
    builderTlsKey: "client-key.pem",
} as const;

/**
 * `get(key)` returns the raw config string, as `pulumi.Config.get` does; `isSecret(key)`
 * says whether it was set with `--secret`. Secret values are only checked for presence.
 */
export function readStackConfig(
    get: (key: string) => string | undefined,
    isSecret: (key: string) => boolean = () => false,
    home = os.homedir(),
): StackConfig {
    const errors: string[] = [];
    const fix = (key: string, example: string) => `set it with \`pulumi config set ${NS}:${key} ${example}\``;
    const json = (key: string, example: string, ok: (v: unknown) => boolean, what: string): unknown => {
        const raw = get(key);
        if (raw === undefined) return undefined;
        try {
            const v = JSON.parse(raw);
            if (ok(v)) return v;
        } catch {
            /* reported below */
        }
        errors.push(`${NS}:${key} must be ${what}, got ${raw}: ${fix(key, example)}`);
        return undefined;
    };
    const oneOf = <T extends string>(key: string, allowed: readonly T[], dflt: T, what: string): T => {
        const v = get(key) ?? dflt;
        if (!(allowed as readonly string[]).includes(v))
            errors.push(`${NS}:${key} "${v}" is not ${what} (${allowed.join(", ")}): ${fix(key, dflt)}`);
        return v as T;
    };
    const isStrings = (v: unknown) => Array.isArray(v) && v.every((p) => typeof p === "string");

    const platformsExample = `'["linux/amd64","linux/arm64"]'`;
    const platforms = json("platforms", platformsExample, isStrings, "a JSON list of platforms") as
        string[] | undefined;
    if (get("platforms") === undefined)
        errors.push(`${NS}:platforms is missing: ${fix("platforms", platformsExample)}`);
    const manifest = oneOf("manifest", MANIFESTS, "index", "a manifest mode");
    const binfmtMethod = oneOf("binfmtMethod", ["host", "container"] as const, "host", "a method");
    const builderDriver = oneOf("builderDriver", DRIVERS, "docker-container", "a driver this program supports");
    const registry = get("registry") ?? "127.0.0.1:5000";
    if (!/^[\w.-]+(:\d+)?$/.test(registry))
        errors.push(`${NS}:registry "${registry}" is not host[:port]: ${fix("registry", "127.0.0.1:5000")}`);
    const isNodes = (v: unknown) =>
        Array.isArray(v) &&
        v.every(
            (n) =>
                typeof n === "object" &&
                n !== null &&
                typeof n.endpoint === "string" &&
                isStrings(n.platforms) &&
                (n.name === undefined || typeof n.name === "string"),
        );
    const nodes = json("builderNodes", NODES_EXAMPLE, isNodes, "a JSON list of {name?, endpoint, platforms}") as
        StackNode[] | undefined;
    const builderNodes = nodes ?? [];
    if (builderDriver === "remote" && builderNodes.length === 0 && (nodes || get("builderNodes") === undefined)) {
        errors.push(`${NS}:builderNodes is required for builderDriver "remote": ${fix("builderNodes", NODES_EXAMPLE)}`);
    }
    if (builderNodes[0]?.name !== undefined) {
        errors.push(
            `${NS}:builderNodes[0].name: the first node is the builder's own, named <builder>0 by buildx; remove "name" from the first entry`,
        );
    }
    if (builderDriver !== "remote" && get("builderNodes") !== undefined) {
        errors.push(`${NS}:builderNodes needs builderDriver "remote": ${fix("builderDriver", "remote")}`);
    }
    const tlsKeys = Object.keys(TLS_KEYS) as (keyof typeof TLS_KEYS)[];
    const tlsSet = tlsKeys.filter((k) => get(k) !== undefined);
    const setSecret = (k: keyof typeof TLS_KEYS) => `\`pulumi config set --secret ${NS}:${k} < ${TLS_KEYS[k]}\``;
    const tlsDir = get("builderTlsDir");
    if (tlsDir !== undefined && tlsSet.length) {
        errors.push(
            `${NS}:builderTlsDir and ${NS}:${tlsSet[0]} both give the TLS: keep one (\`pulumi config rm ${NS}:builderTlsDir\`, or the three secrets)`,
        );
    } else if (
        tlsDir !== undefined &&
        (builderDriver !== "remote" || !builderNodes.some((n) => n.endpoint.startsWith("tcp://")))
    ) {
        errors.push(
            `${NS}:builderTlsDir: TLS applies to tcp:// nodes of builderDriver "remote", and there are none: ` +
                `set builderNodes, or remove it with \`pulumi config rm ${NS}:builderTlsDir\``,
        );
    }
    if (tlsSet.length) {
        for (const k of tlsKeys.filter((x) => !tlsSet.includes(x))) {
            errors.push(
                `${NS}:${k} is missing (mutual TLS needs all of ${tlsKeys.join(", ")}): set it with ${setSecret(k)}`,
            );
        }
        for (const k of tlsSet.filter((x) => !isSecret(x))) {
            errors.push(
                `${NS}:${k} is not a secret (its text is in Pulumi.<stack>.yaml in clear): set it again with ${setSecret(k)}`,
            );
        }
        if (builderDriver !== "remote" || !builderNodes.some((n) => n.endpoint.startsWith("tcp://"))) {
            errors.push(
                `${NS}:${tlsSet[0]}: TLS applies to tcp:// nodes of builderDriver "remote", and there are none: ` +
                    "set builderNodes, or remove the TLS keys with `pulumi config rm`",
            );
        }
    }
    const promoteFrom = get("promoteFrom");
    if (promoteFrom !== undefined && !/^[\w.-]+$/.test(promoteFrom)) {
        errors.push(
            `${NS}:promoteFrom "${promoteFrom}" is not a stack name of this project: ${fix("promoteFrom", "dev")}`,
        );
    }
    if (errors.length) throw new Error(`stack config:\n  ${errors.join("\n  ")}`);
    const optional = (key: string) => (get(key) ? { [key]: get(key) } : {});
    return {
        platforms: platforms!,
        registry,
        repository: get("repository") ?? "hello",
        tag: get("tag") ?? "latest",
        manifest,
        binfmtMethod,
        builderDriver,
        builderNodes,
        builderTls: tlsSet.length > 0,
        context: get("context") ?? "./app",
        ...(tlsDir !== undefined ? { builderTlsDir: tlsDir.replace(/^~(?=\/|$)/, home) } : {}),
        ...optional("dockerfile"),
        ...optional("buildkitImage"),
        ...optional("binfmtImage"),
        ...optional("promoteFrom"),
    };
}
