// Cache backends of a build (`--cache-from`, `--cache-to`): each entry as buildx parses it,
// without its credentials, and the credentials as the environment buildx reads them from.
// buildx adds AWS keys to every s3 entry and the GitHub Actions token to every gha entry from
// its own environment when the entry has none (docker/buildx build/opt.go CreateCaches:
// addAwsCredentials, addGithubToken) and sends them to BuildKit with the build request, so
// they never need to be on its command line. No environment variable carries an azblob key:
// buildx takes it only as an attribute. Pure.
import { csvField, csvFields } from "./exports";

/** One cache entry: its type and attributes, as buildx's ParseCacheEntry reads a `--cache-*` value. */
export interface CacheEntry {
    type: string;
    attrs: Record<string, string>;
}

/** The AWS keys of s3 caches. */
export interface AwsCredentials {
    /** `AWS_ACCESS_KEY_ID` for buildx. */
    accessKeyId: string;
    /** `AWS_SECRET_ACCESS_KEY` for buildx. */
    secretAccessKey: string;
    /** `AWS_SESSION_TOKEN` for buildx. */
    sessionToken?: string;
}

/** The token of gha caches. */
export interface GhaCredentials {
    /** `ACTIONS_RUNTIME_TOKEN` for buildx. */
    token: string;
}

/** Credentials of an image's cache backends (a secret input of the image, never an output). */
export interface CacheCredentials {
    /** s3: the AWS keys. */
    aws?: AwsCredentials;
    /** gha: the GitHub Actions runtime token. */
    gha?: GhaCredentials;
}

/** The attributes that are credentials, per cache type, and the field of {@link CacheCredentials} each goes to. */
const CREDENTIALS: Record<string, Record<string, string>> = {
    s3: { access_key_id: "accessKeyId", secret_access_key: "secretAccessKey", session_token: "sessionToken" },
    gha: { token: "token" },
    azblob: { secret_access_key: "secretAccessKey" },
};

/**
 * A `--cache-from`/`--cache-to` value as buildx parses it: `type=...,key=value` (keys lower-cased,
 * CSV quoting), or bare registry refs (`ref[,ref]`, each its own registry entry). Throws naming
 * what is wrong.
 */
export function parseCacheEntries(value: string): CacheEntry[] {
    const v = value.trim();
    if (!v) return [];
    const fields = csvFields(v);
    if (!v.includes("=")) return fields.map((ref) => ({ type: "registry", attrs: { ref } }));
    const e: CacheEntry = { type: "", attrs: {} };
    for (const f of fields) {
        const i = f.indexOf("=");
        if (i < 0) throw new Error(`"${f}" is not key=value`);
        const k = f.slice(0, i).toLowerCase();
        if (k === "type") e.type = f.slice(i + 1);
        else e.attrs[k] = f.slice(i + 1);
    }
    if (!e.type) throw new Error(`no type= in "${v}" (buildx: type required)`);
    return [e];
}

/** The `--cache-*` value of an entry, CSV-quoted where buildx's parser needs it. */
export function formatCacheEntry(e: CacheEntry): string {
    return [`type=${e.type}`, ...Object.entries(e.attrs).map(([k, v]) => `${k}=${v}`)].map(csvField).join(",");
}

/** An entry without its credential attributes, and those credentials by {@link CacheCredentials} field name. */
export function splitCredentials(e: CacheEntry): { entry: CacheEntry; credentials: Record<string, string> } {
    const names = CREDENTIALS[e.type] ?? {};
    const attrs: Record<string, string> = {},
        credentials: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.attrs)) {
        if (names[k]) credentials[names[k]] = v;
        else attrs[k] = v;
    }
    return { entry: { type: e.type, attrs }, credentials };
}

/**
 * A `--cache-*` value without credential attributes (for comparing what states of earlier
 * versions kept): values it cannot parse stay as they are.
 */
export function withoutCredentials(value: string): string {
    try {
        return parseCacheEntries(value)
            .map((e) => formatCacheEntry(splitCredentials(e).entry))
            .join(",");
    } catch {
        return value;
    }
}

/**
 * The environment that gives buildx the credentials. With AWS keys, the user's profile
 * variables are blanked: the AWS SDK prefers a named profile over keys in the environment.
 */
export function credentialEnv(c: CacheCredentials | undefined): Record<string, string> {
    const env: Record<string, string> = {};
    if (c?.aws) {
        Object.assign(env, {
            AWS_ACCESS_KEY_ID: c.aws.accessKeyId,
            AWS_SECRET_ACCESS_KEY: c.aws.secretAccessKey,
            AWS_SESSION_TOKEN: c.aws.sessionToken ?? "",
            AWS_PROFILE: "",
            AWS_DEFAULT_PROFILE: "",
        });
    }
    if (c?.gha) env.ACTIONS_RUNTIME_TOKEN = c.gha.token;
    return env;
}
