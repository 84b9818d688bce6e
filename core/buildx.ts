// docker buildx through the exec seam: builder lifecycle and builds. Parsers are pure and
// tested against captured real output (tests/fixtures/buildx-*).
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

import type { CacheCredentials } from "./cache";
import * as cacheLib from "./cache";
import * as dockerConfig from "./dockerConfig";
import { run, type RunOptions } from "./exec";
import { csvField } from "./exports";
import { buildxDir } from "./registryHosts";
import * as tempDirs from "./tempDirs";

export interface BuilderNode {
    /** Node name, e.g. `<builder>0`. */
    name: string;
    /** Where BuildKit runs: a docker context's socket, `tcp://` or `unix://`. */
    endpoint: string;
    /** `running`, `inactive`, ... as buildx reports it. */
    status: string;
    /** Platforms the node reports it can build. */
    platforms: string[];
    /** BuildKit's version on the node, e.g. `v0.34.2`. */
    buildkitVersion: string;
    /** The node's driver options. */
    driverOpts: Record<string, string>;
}

export interface BuilderInfo {
    name: string;
    driver: string;
    nodes: BuilderNode[];
}

/** Parses `docker buildx ls --format json` (one JSON object per builder per line). */
export function parseLs(text: string): BuilderInfo[] {
    return text
        .split("\n")
        .filter((l) => l.trim().startsWith("{"))
        .map((l) => JSON.parse(l))
        .map((b: any) => ({
            name: b.Name,
            driver: b.Driver,
            nodes: (b.Nodes ?? []).map((n: any) => ({
                name: n.Name,
                endpoint: n.Endpoint ?? "",
                status: n.Status ?? "",
                platforms: n.Platforms ?? [],
                buildkitVersion: n.Version ?? "",
                driverOpts: n.DriverOpts ?? {},
            })),
        }));
}

/** Parses `docker buildx version`: "github.com/docker/buildx v0.38.2 <revision>". */
export function parseVersion(text: string): string {
    const m = /\bv?(\d+\.\d+\.\d+[\w.+-]*)/.exec(text);
    if (!m) throw new Error(`cannot read a version from \`docker buildx version\` output: ${text.trim()}`);
    return m[1];
}

/** Every platform some node of the builder reports, without micro-architecture levels. */
export function builderPlatforms(b: BuilderInfo): string[] {
    const all = b.nodes.flatMap((n) => n.platforms).filter((p) => !/^linux\/amd64\/v[234]$/.test(p));
    return [...new Set(all)];
}

/**
 * The buildx version, as `docker buildx version` prints it. That is three processes (docker,
 * its plugin metadata call, buildx) at every preview, so the answer is remembered by the
 * stat of the docker binary and of the buildx plugin docker runs (another binary or another
 * build of it asks again), in the process and in the user's cache folder.
 */
export async function version(): Promise<string> {
    const key = binariesKey();
    const file = key ? path.join(tempDirs.cacheDir("buildx-version"), `${key}.txt`) : undefined;
    if (file) {
        try {
            return fs.readFileSync(file, "utf8");
        } catch {
            /* not asked yet */
        }
    }
    const v = parseVersion((await run("docker", ["buildx", "version"])).stdout);
    if (file) fs.writeFileSync(file, v);
    return v;
}

/** Where docker looks for CLI plugins, first match wins (docker/cli's pluginmanager, Linux). */
export function pluginDirs(): string[] {
    return [
        path.join(dockerConfig.configDir(), "cli-plugins"),
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ];
}

/** sha256 of the docker binary's, the buildx plugin's and docker's config file's path and stat; undefined when a binary is not found. */
function binariesKey(): string | undefined {
    const stat = (f: string) => {
        try {
            const st = fs.statSync(f);
            return st.isFile() ? `${f}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : undefined;
        } catch {
            return undefined;
        }
    };
    const docker = (process.env.PATH ?? "")
        .split(":")
        .filter(Boolean)
        .map((d) => stat(path.join(d, "docker")))
        .find(Boolean);
    const plugin = pluginDirs()
        .map((d) => stat(path.join(d, "docker-buildx")))
        .find(Boolean);
    if (!docker || !plugin) return undefined;
    // config.json may name more plugin folders (cliPluginsExtraDirs): a change of it asks again.
    const config = stat(path.join(dockerConfig.configDir(), "config.json")) ?? "";
    return crypto.createHash("sha256").update(`${docker}\n${plugin}\n${config}`).digest("hex").slice(0, 32);
}

/**
 * Builder `name` as `buildx ls --format json` lists it, asked of a copy of buildx's store that
 * holds this builder alone: `ls` reaches the nodes of every builder in the store (a `docker exec`
 * into each running BuildKit container, a TLS handshake with each remote node, up to 20 s for
 * one that does not answer), and a machine holds many builders. The engine's own builders
 * (docker contexts, not in the store) are listed either way.
 *
 * In a process that lives for one engine run (the plugin: {@link rememberBuilders}), asked once
 * until the process changes a builder (create, bootstrap, remove, or a build, which boots its
 * nodes): an engine run asks for its builder at each image's check, plan and create (24 times in
 * one run of the e2e tests' stack of many images). A program's process may run many (the
 * Automation API's inline programs): it asks each time.
 */
export function find(name: string): Promise<BuilderInfo | undefined> {
    if (!remember) return lookUp(name);
    let found = known.get(name);
    if (!found) {
        found = lookUp(name);
        known.set(name, found);
        found.catch(() => known.delete(name));
    }
    return found;
}

let remember = false;
const known = new Map<string, Promise<BuilderInfo | undefined>>();
/** {@link find} keeps what it found, for a process that lives for one engine run (or stops keeping it: `false`). */
export function rememberBuilders(on = true): void {
    remember = on;
    forgetBuilders();
}
/** What {@link find} knows is forgotten: a builder changed. */
function forgetBuilders(): void {
    known.clear();
}
/** Runs `change` (a buildx command that changes a builder or boots its nodes) with nothing of {@link find}'s kept across it. */
function changing<T>(change: () => Promise<T>): Promise<T> {
    forgetBuilders();
    return change().finally(forgetBuilders);
}

async function lookUp(name: string): Promise<BuilderInfo | undefined> {
    const store = tempDirs.make("buildx-store-");
    try {
        const instance = path.join(buildxDir(), "instances", name);
        fs.mkdirSync(path.join(store, "instances"));
        if (fs.existsSync(instance)) fs.copyFileSync(instance, path.join(store, "instances", name));
        const r = await run("docker", ["buildx", "ls", "--format", "json"], { env: { BUILDX_CONFIG: store } });
        return parseLs(r.stdout).find((b) => b.name === name);
    } finally {
        fs.rmSync(store, { recursive: true, force: true });
    }
}

/**
 * node name -> the platforms declared for it (`buildx create --platform`), from buildx's store of
 * the builder (`instances/<name>`): buildx sends a platform to the first node that declares it.
 * `buildx ls` lists them merged with what BuildKit reports. Empty when the builder is not stored.
 */
export function declaredPlatforms(name: string): Record<string, string[]> {
    const file = path.join(buildxDir(), "instances", name);
    if (!fs.existsSync(file)) return {};
    return parseDeclared(fs.readFileSync(file, "utf8"));
}

/** Parses buildx's stored builder (`instances/<name>`, JSON): node name -> declared platforms. */
export function parseDeclared(text: string): Record<string, string[]> {
    const ng = JSON.parse(text);
    return Object.fromEntries(
        (ng.Nodes ?? []).map((n: any) => [
            n.Name,
            (n.Platforms ?? []).map((p: any) => [p.os, p.architecture, p.variant].filter(Boolean).join("/")),
        ]),
    );
}

/** Oldest buildx this library drives: it needs `buildx ls --format json` (v0.13). */
export const MIN_VERSION = "0.13.0";

export function versionAtLeast(have: string, min: string): boolean {
    const a = have.split(/[.+-]/).map(Number),
        b = min.split(".").map(Number);
    for (let i = 0; i < 3; i++) {
        if ((a[i] || 0) !== b[i]) return (a[i] || 0) > b[i];
    }
    return true;
}

/** One node of a builder as `buildx create` makes it. */
export interface NodeOptions {
    /** Node name (`--node`). */
    name: string;
    /** Endpoint: a docker context, or for the remote driver tcp://, unix://. */
    endpoint?: string;
    /** Platforms the node is declared to build (`--platform`); empty: what BuildKit detects. */
    platforms: string[];
    /** Driver options (`--driver-opt k=v`). */
    driverOpts: Record<string, string>;
}

export interface CreateOptions {
    name: string;
    driver: string;
    /** The first node is created, the rest appended (`--append`). */
    nodes: NodeOptions[];
    buildkitdFlags?: string;
    /** TOML text; written to a 0600 temp file for the duration of `create`. */
    buildkitdConfig?: string;
}

/** The `buildx create` argv for each node, first node first. Pure. */
export function createArgs(o: CreateOptions, configFile?: string): string[][] {
    return o.nodes.map((n, i) => {
        const args = ["buildx", "create", "--name", o.name, "--node", n.name];
        if (i === 0) args.push("--driver", o.driver);
        else args.push("--append");
        for (const [k, v] of Object.entries(n.driverOpts).sort()) args.push("--driver-opt", `${k}=${v}`);
        if (n.platforms.length) args.push("--platform", n.platforms.join(","));
        if (o.buildkitdFlags) args.push("--buildkitd-flags", o.buildkitdFlags);
        if (configFile) args.push("--buildkitd-config", configFile);
        if (n.endpoint) args.push(n.endpoint);
        return args;
    });
}

export async function create(o: CreateOptions): Promise<void> {
    let dir: string | undefined;
    try {
        let configFile: string | undefined;
        if (o.buildkitdConfig) {
            dir = tempDirs.make("buildkitd-");
            configFile = path.join(dir, "buildkitd.toml");
            fs.writeFileSync(configFile, o.buildkitdConfig, { mode: 0o600 });
        }
        for (const args of createArgs(o, configFile)) await changing(() => run("docker", args));
    } finally {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Boots every node (`inspect --bootstrap`), then reads the builder back. */
export async function bootstrap(name: string, opts: RunOptions = {}): Promise<BuilderInfo> {
    await changing(() => run("docker", ["buildx", "inspect", "--bootstrap", name], opts));
    const b = await find(name);
    if (!b) throw new Error(`builder ${name} vanished right after bootstrap`);
    return b;
}

export async function remove(name: string, keepState: boolean): Promise<void> {
    const args = ["buildx", "rm", ...(keepState ? ["--keep-state"] : []), name];
    const r = await changing(() => run("docker", args, { allowFailure: true }));
    if (r.code !== 0 && !/not found|no builder/i.test(r.stderr)) {
        throw new Error(`\`${r.command}\` failed: ${r.stderr.trim()}`);
    }
}

export interface BuildOptions {
    builder: string;
    /** A local folder or a Git URL. */
    context: string;
    /** The Dockerfile's path; leave out for `<context>/Dockerfile` (in a Git context: in the repository). */
    dockerfile?: string;
    /** The Dockerfile's text, sent on stdin (`--file -`) instead of a path. */
    dockerfileInline?: string;
    /** Named contexts, name -> location (`--build-context name=location`). */
    namedContexts?: Record<string, string>;
    platforms: string[];
    /** Repositories to push to by digest (no tag moves here); none: the result stays in the build cache unless `outputs` write it. */
    pushRepositories?: string[];
    /** More `--output` values (exports, the engine's load), written by the same build. */
    outputs?: string[];
    buildArgs: Record<string, string>;
    target?: string;
    labels?: Record<string, string>;
    /** OCI annotations on the index/manifests (`--annotation`). */
    annotations?: Record<string, string>;
    /** Build secrets: id -> value. Passed through the environment (`--secret id=..,env=..`), never argv. */
    secrets?: Record<string, string>;
    /** Build secrets read by buildx from files at build time: id -> path (`--secret id=..,src=..`). */
    secretFiles?: Record<string, string>;
    /** Build secrets read by buildx from its environment at build time: id -> variable (`--secret id=..,env=..`). */
    secretEnvs?: Record<string, string>;
    /** `--ssh` specs, e.g. "default" or "id=/path/to/key". */
    ssh?: string[];
    /** Cache entries without credentials. */
    cacheFrom?: string[];
    cacheTo?: string[];
    /** The caches' credentials: through buildx's environment, never argv. */
    cacheCredentials?: CacheCredentials;
    noCache?: boolean;
    /** Stages run without cache (`--no-cache-filter`). */
    noCacheFilters?: string[];
    pull?: boolean;
    /** On, off, or buildx's attributes (`mode=max`). */
    provenance?: boolean | string;
    /** On, off, or buildx's attributes (`generator=<image>`). */
    sbom?: boolean | string;
    /** `--network` of RUN steps: host or none. */
    network?: string;
    /** `--add-host`s, host:ip. */
    addHosts?: string[];
    /** `--shm-size`. */
    shmSize?: string;
    /** `--ulimit`s, name=soft[:hard]. */
    ulimits?: string[];
    /** `--allow`ed entitlements. */
    allow?: string[];
    /** Registry logins (registry -> login) added to the user's docker config, in a private copy for this build only. */
    logins?: Record<string, dockerConfig.Credentials>;
    onLine?: (line: string) => void;
    /** Aborting it stops the build (buildx cancels it on SIGTERM). */
    signal?: AbortSignal;
}

/** What `--metadata-file` records for a push. */
export interface BuildMetadata {
    digest?: string;
    /** The image config's digest: a loaded image's ID in an engine without the containerd image store. */
    configDigest?: string;
    imageName?: string;
    buildRef?: string;
}

export function parseMetadata(text: string): BuildMetadata {
    const m = JSON.parse(text);
    return {
        digest: m["containerimage.digest"],
        configDigest: m["containerimage.config.digest"],
        imageName: m["image.name"],
        buildRef: m["buildx.build.ref"],
    };
}

/** An attestation flag's value: `true`, `false`, or buildx's attributes as given (`mode=max`). */
function attestFlag(v: boolean | string | undefined): string {
    return typeof v === "string" ? v : v ? "true" : "false";
}

/** `--file` (a path, or `-` for the text on stdin) and one `--build-context` per named context. */
function dockerfileArgs(o: {
    dockerfile?: string;
    dockerfileInline?: string;
    namedContexts?: Record<string, string>;
}): string[] {
    const args = o.dockerfileInline !== undefined ? ["--file", "-"] : o.dockerfile ? ["--file", o.dockerfile] : [];
    for (const [name, location] of Object.entries(o.namedContexts ?? {}).sort())
        args.push("--build-context", `${name}=${location}`);
    return args;
}

/** The `buildx build` argv and environment for `o`. Pure: secrets appear only in env. */
export function buildArgs(o: BuildOptions, metadataFile: string): { args: string[]; env: Record<string, string> } {
    const args = [
        "buildx",
        "build",
        "--builder",
        o.builder,
        "--platform",
        o.platforms.join(","),
        ...dockerfileArgs(o),
        "--metadata-file",
        metadataFile,
        "--progress",
        "plain",
        // Attestation manifests would add unknown/unknown entries to the index; opt in.
        `--provenance=${attestFlag(o.provenance)}`,
    ];
    if (o.sbom !== undefined && o.sbom !== false) args.push(`--sbom=${attestFlag(o.sbom)}`);
    const env: Record<string, string> = cacheLib.credentialEnv(o.cacheCredentials);
    for (const [k, v] of Object.entries(o.buildArgs).sort()) args.push("--build-arg", `${k}=${v}`);
    for (const [k, v] of Object.entries(o.labels ?? {}).sort()) args.push("--label", `${k}=${v}`);
    for (const [k, v] of Object.entries(o.annotations ?? {}).sort()) args.push("--annotation", `${k}=${v}`);
    Object.keys(o.secrets ?? {})
        .sort()
        .forEach((id, i) => {
            const name = `MULTIARCH_BUILD_SECRET_${i}`;
            env[name] = o.secrets![id];
            args.push("--secret", `id=${id},env=${name}`);
        });
    for (const [id, src] of Object.entries(o.secretFiles ?? {}).sort())
        args.push("--secret", `${csvField(`id=${id}`)},${csvField(`src=${src}`)}`);
    for (const [id, name] of Object.entries(o.secretEnvs ?? {}).sort())
        args.push("--secret", `${csvField(`id=${id}`)},env=${name}`);
    for (const s of o.ssh ?? []) args.push("--ssh", s);
    for (const c of o.cacheFrom ?? []) args.push("--cache-from", c);
    for (const c of o.cacheTo ?? []) args.push("--cache-to", c);
    if (o.noCache) args.push("--no-cache");
    for (const s of o.noCacheFilters ?? []) args.push("--no-cache-filter", s);
    if (o.network) args.push("--network", o.network);
    for (const h of o.addHosts ?? []) args.push("--add-host", h);
    if (o.shmSize) args.push("--shm-size", o.shmSize);
    for (const u of o.ulimits ?? []) args.push("--ulimit", u);
    for (const a of o.allow ?? []) args.push("--allow", a);
    if (o.pull) args.push("--pull");
    if (o.target) args.push("--target", o.target);
    if (o.pushRepositories?.length) {
        args.push(
            "--output",
            `type=image,${csvField(`name=${o.pushRepositories.join(",")}`)},push-by-digest=true,name-canonical=true,push=true`,
        );
    }
    for (const out of o.outputs ?? []) args.push("--output", out);
    if (!o.pushRepositories?.length && !o.outputs?.length) args.push("--output", "type=image,push=false");
    args.push(o.context);
    return { args, env };
}

/**
 * `line` without terminal escapes and control characters: buildx colours some lines even
 * without a terminal (`\x1b[33m2 warnings found ...\x1b[0m`), and the engine shows them raw. Pure.
 */
export function plainText(line: string): string {
    return line.replace(
        /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g,
        "",
    );
}

export async function build(o: BuildOptions): Promise<BuildMetadata> {
    const dir = tempDirs.make("build-");
    const metadataFile = path.join(dir, "metadata.json");
    try {
        const { args, env } = buildArgs(o, metadataFile);
        const authEnv = o.logins && Object.keys(o.logins).length ? dockerConfig.privateConfig(dir, o.logins) : {};
        // The build boots the builder's nodes.
        await changing(() =>
            run("docker", args, {
                env: { ...env, ...authEnv },
                onLine: o.onLine ? (l) => o.onLine!(plainText(l)) : undefined,
                signal: o.signal,
                ...(o.dockerfileInline !== undefined ? { input: o.dockerfileInline } : {}),
            }),
        );
        return parseMetadata(fs.readFileSync(metadataFile, "utf8"));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** A finding of BuildKit's own Dockerfile checks (`docker buildx build --call=check`). */
export interface CheckFinding {
    rule: string;
    detail: string;
    url: string;
    /** First line the finding points at, when it points at one. */
    line?: number;
}

export interface CheckOptions {
    builder: string;
    context: string;
    /** The Dockerfile's path (see {@link BuildOptions}). */
    dockerfile?: string;
    /** The Dockerfile's text, on stdin. */
    dockerfileInline?: string;
    /** Named contexts, name -> location. */
    namedContexts?: Record<string, string>;
    platform: string;
    buildArgs: Record<string, string>;
    target?: string;
}

/** The argv of BuildKit's checks for one platform, machine-readable. Pure. */
export function checkArgs(o: CheckOptions): string[] {
    const args = [
        "buildx",
        "build",
        "--builder",
        o.builder,
        "--call",
        "check,format=json",
        "--platform",
        o.platform,
        ...dockerfileArgs(o),
    ];
    for (const [k, v] of Object.entries(o.buildArgs).sort()) args.push("--build-arg", `${k}=${v}`);
    if (o.target) args.push("--target", o.target);
    args.push(o.context);
    return args;
}

/** Parses `--call=check,format=json` output: its `warnings`. */
export function parseCheck(text: string): CheckFinding[] {
    const start = text.indexOf("{");
    if (start < 0) throw new Error(`no JSON in \`buildx build --call=check\` output: ${text.trim().slice(0, 300)}`);
    const j = JSON.parse(text.slice(start));
    return (j.warnings ?? []).map((w: any) => ({
        rule: String(w.ruleName ?? "BuildKit"),
        detail: String(w.detail ?? w.description ?? ""),
        url: String(w.url ?? ""),
        ...(w.location?.ranges?.[0]?.start?.line ? { line: Number(w.location.ranges[0].start.line) } : {}),
    }));
}

/**
 * Runs BuildKit's checks of the Dockerfile frontend (buildx exits 1 when there are
 * findings, so only output without JSON is a failure: e.g. a Dockerfile that does not parse).
 */
export async function check(o: CheckOptions): Promise<CheckFinding[]> {
    // The checks run on the builder: they boot its nodes.
    const r = await changing(() =>
        run("docker", checkArgs(o), {
            allowFailure: true,
            ...(o.dockerfileInline !== undefined ? { input: o.dockerfileInline } : {}),
        }),
    );
    if (r.stdout.includes("{")) return parseCheck(r.stdout);
    throw new Error(
        `BuildKit's checks of ${o.dockerfile ?? "the inline Dockerfile"} for ${o.platform} failed: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`,
    );
}
