// Registry credentials the way the docker CLI (and so buildx) finds them: the docker config
// (`$DOCKER_CONFIG/config.json`, default ~/.docker): `credHelpers[host]`, else `credsStore`,
// each through the real `docker-credential-<name>` program, else `auths`. `registry` args
// of a resource add one login on top. Secrets travel on the helper's stdout, never argv.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import * as exec from "./exec";

/** A user name and a password, or an identity (refresh) token when `username` is "<token>". */
export interface Credentials {
    username: string;
    password: string;
}

export interface DockerConfigFile {
    auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
    credHelpers?: Record<string, string>;
    credsStore?: string;
    [key: string]: unknown;
}

/** Where credentials for a registry come from, in words a user can act on. */
export interface CredentialSource {
    kind: "registry args" | "credential helper" | "docker config" | "none";
    /** e.g. `credHelpers["ghcr.io"] = "pass" (docker-credential-pass)`, or the config file. */
    describe: string;
    /** For registry args: the resource's property that holds them (`registry`, `registries[1]`). */
    property?: string;
}

export function configDir(): string {
    return process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker");
}

export function readConfig(dir = configDir()): DockerConfigFile {
    const file = path.join(dir, "config.json");
    if (!fs.existsSync(file)) return {};
    try {
        return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        throw new Error(`${file} is not valid JSON (${(e as Error).message}): fix it or run \`docker login\` again`);
    }
}

const HUB = "https://index.docker.io/v1/";
/** The names Docker Hub goes by in references and logins. */
export const HUB_NAMES = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/** The registry's key in the docker config: Docker Hub's is `https://index.docker.io/v1/`, as docker writes it. */
export function authKey(registry: string): string {
    return HUB_NAMES.includes(registry) ? HUB : registry;
}

/** `https://host/v1/` -> `host`, as docker/cli's ConvertToHostname. */
function hostnameOf(key: string): string {
    return key.replace(/^https?:\/\//, "").split("/")[0];
}

/** The registry a login's server names, as image references name it: `https://index.docker.io/v1/` -> `docker.io`. */
export function registryOfServer(server: string): string {
    const host = hostnameOf(server.trim());
    return HUB_NAMES.includes(host) ? "docker.io" : host;
}

/** The helper docker would ask for `registry` and the setting naming it (credHelpers first, then credsStore), or undefined. */
function helperEntry(
    cfg: DockerConfigFile,
    registry: string,
): { helper: string; how: "credHelpers" | "credsStore" } | undefined {
    for (const key of [authKey(registry), registry]) {
        if (cfg.credHelpers && key in cfg.credHelpers)
            return cfg.credHelpers[key] ? { helper: cfg.credHelpers[key], how: "credHelpers" } : undefined;
    }
    return cfg.credsStore ? { helper: cfg.credsStore, how: "credsStore" } : undefined;
}

/** The helper docker would ask for `registry` (credHelpers first, then credsStore), or undefined. */
export function helperFor(cfg: DockerConfigFile, registry: string): string | undefined {
    return helperEntry(cfg, registry)?.helper;
}

/** The `auths` entry docker would use for `registry`: the exact key, else one naming the same host. */
function authsEntry(
    cfg: DockerConfigFile,
    registry: string,
): [string, NonNullable<DockerConfigFile["auths"]>[string]] | undefined {
    const key = authKey(registry);
    const auths = cfg.auths ?? {};
    if (auths[key]) return [key, auths[key]];
    const host = hostnameOf(key);
    const k = Object.keys(auths).find((k) => hostnameOf(k) === host);
    return k ? [k, auths[k]] : undefined;
}

function fromAuths(entry: NonNullable<DockerConfigFile["auths"]>[string]): Credentials | undefined {
    if (entry.identitytoken) return { username: "<token>", password: entry.identitytoken };
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (!entry.auth) return undefined;
    const text = Buffer.from(entry.auth, "base64").toString("utf8");
    const i = text.indexOf(":");
    return i > 0 ? { username: text.slice(0, i), password: text.slice(i + 1) } : undefined;
}

/** Parses what `docker-credential-<name> get` prints: `{"ServerURL","Username","Secret"}`. */
export function parseHelperOutput(text: string): Credentials | undefined {
    const j = JSON.parse(text);
    if (!j.Secret) return undefined;
    return { username: j.Username ?? "", password: j.Secret };
}

export interface Resolved {
    credentials?: Credentials;
    source: CredentialSource;
}

/**
 * The credentials docker would send to `registry`, and where they came from. `args` (a
 * resource's `registry` login) wins for its registry, as it does in the private docker
 * config written for the build. A helper that knows nothing of the registry is no login.
 */
export async function resolve(
    registry: string,
    args?: Credentials,
    run: exec.Runner = exec.run,
    property = "registry",
): Promise<Resolved> {
    if (args) {
        const describe = property === "registry" ? "the resource's registry args" : `the resource's ${property}`;
        return { credentials: args, source: { kind: "registry args", describe, property } };
    }
    const dir = configDir();
    const cfg = readConfig(dir);
    const file = path.join(dir, "config.json");
    const entry0 = helperEntry(cfg, registry);
    if (entry0) {
        const { helper, how } = entry0;
        const describe = `${how} "${helper}" of ${file} (docker-credential-${helper})`;
        const none: Resolved = {
            source: { kind: "none", describe: `${describe}, which has no login for ${registry}` },
        };
        const r = await run(`docker-credential-${helper}`, ["get"], { input: authKey(registry), allowFailure: true });
        if (r.code !== 0) {
            if (/credentials not found/i.test(r.stdout + r.stderr)) return none;
            throw new Error(
                `docker-credential-${helper} get failed for ${registry} (${(r.stderr || r.stdout).trim().split("\n").pop()}): ` +
                    `fix the helper named by ${how} in ${file}, or give the resource registry args`,
            );
        }
        const credentials = parseHelperOutput(r.stdout);
        return credentials ? { credentials, source: { kind: "credential helper", describe } } : none;
    }
    const entry = authsEntry(cfg, registry);
    const credentials = entry && fromAuths(entry[1]);
    if (entry && credentials)
        return {
            credentials,
            source: { kind: "docker config", describe: `auths["${entry[0]}"] of ${file} (docker login)` },
        };
    return { source: { kind: "none", describe: `no login for ${registry} in ${file}` } };
}

/**
 * A private docker config for one build: the user's config (logins, credential helpers,
 * proxies, context) plus `logins` (registry -> login), in a 0700 dir under `dir`. Each login
 * is made to win over a credsStore/credHelpers entry for its registry (an empty helper sends
 * docker to the file), and nothing of the user's is hidden. Returns the environment.
 */
export function privateConfig(dir: string, logins: Record<string, Credentials>): Record<string, string> {
    const home = configDir();
    const cfg = readConfig(home);
    const out: DockerConfigFile = { ...cfg, auths: { ...(cfg.auths ?? {}) } };
    for (const [registry, login] of Object.entries(logins)) {
        const key = authKey(registry);
        out.auths![key] = { auth: Buffer.from(`${login.username}:${login.password}`).toString("base64") };
        if (helperFor(cfg, registry)) out.credHelpers = { ...(out.credHelpers ?? {}), [key]: "" };
    }
    const priv = path.join(dir, "docker");
    fs.mkdirSync(priv, { mode: 0o700 });
    fs.writeFileSync(path.join(priv, "config.json"), JSON.stringify(out), { mode: 0o600 });
    // Plugins (buildx itself) and contexts stay the user's.
    for (const sub of ["cli-plugins", "contexts"]) {
        if (fs.existsSync(path.join(home, sub))) fs.symlinkSync(path.join(home, sub), path.join(priv, sub));
    }
    return { DOCKER_CONFIG: priv, BUILDX_CONFIG: process.env.BUILDX_CONFIG ?? path.join(home, "buildx") };
}
