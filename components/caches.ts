// The cache backends of a MultiArchImage, as users write them for @pulumi/docker-build
// (`{ registry: { ref } }`, `{ s3: { bucket, region, ... } }`, ...) or for build-push-action
// (raw `type=...` strings): checked in the program, so bad input fails at `pulumi preview` with
// the property path and the fix, and split into the buildx values (kept in state as they are,
// rebuild reasons as before) and the credentials (a secret input of the image, passed to
// buildx through its environment: never argv, never in clear in state, never a rebuild reason).
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";

import {
    type CacheCredentials,
    type CacheEntry,
    formatCacheEntry,
    parseCacheEntries,
    splitCredentials,
} from "../core/cache";
import { parseRef } from "../core/registry";
import { ArgErrors, validated } from "./validate";

/** Options every cache export takes. */
export interface CacheExportArgs {
    /** `"min"` caches the layers of the result, `"max"` those of every stage too. Default `"min"`. */
    mode?: pulumi.Input<"min" | "max" | undefined>;
    /** A failed cache export does not fail the build. Default `false`. */
    ignoreError?: pulumi.Input<boolean | undefined>;
}

/** Compression of a cache export's layers (local and registry caches). */
export interface CacheCompressionArgs {
    /** gzip, estargz, zstd or uncompressed. Default: BuildKit's (gzip). */
    compression?: pulumi.Input<string | undefined>;
    /** Compression level, 0 to 22. Default: the compression's own. */
    compressionLevel?: pulumi.Input<number | undefined>;
    /** Recompress layers already compressed otherwise. Default `false`. */
    forceCompression?: pulumi.Input<boolean | undefined>;
}

/** A cache in a local folder, read (`type=local,src=`). */
export interface CacheFromLocalArgs {
    /** The folder, relative to the program. Default none: required. */
    src: pulumi.Input<string>;
    /** The cache manifest's digest to read. Default: the folder's latest. */
    digest?: pulumi.Input<string | undefined>;
}

/** A cache in a registry, read (`type=registry,ref=`); the registry is reached with the image's logins. */
export interface CacheFromRegistryArgs {
    /** The cache image, e.g. `"ghcr.io/org/app:cache"`. Default none: required. */
    ref: pulumi.Input<string>;
}

/** The GitHub Actions cache (`type=gha`). */
export interface CacheFromGitHubActionsArgs {
    /** Cache key scope: give each image its own. Default `"buildkit"`. */
    scope?: pulumi.Input<string | undefined>;
    /** The cache service URL. Default: `$ACTIONS_CACHE_URL` (or `$ACTIONS_RESULTS_URL`), as buildx reads it. */
    url?: pulumi.Input<string | undefined>;
    /** The runtime token, a Pulumi secret: passed to buildx as `ACTIONS_RUNTIME_TOKEN`. Default: `$ACTIONS_RUNTIME_TOKEN`. */
    token?: pulumi.Input<string | undefined>;
}

/** An Azure blob storage cache (`type=azblob`). */
export interface CacheFromAzureBlobArgs {
    /** The cache's name. Default none: required. */
    name: pulumi.Input<string>;
    /** The storage account's URL, e.g. `"https://acct.blob.core.windows.net"`. Default: the builder's `$BUILDKIT_AZURE_STORAGE_ACCOUNT_URL`. */
    accountUrl?: pulumi.Input<string | undefined>;
    /**
     * Refused: buildx takes an azblob key only on its command line (no environment variable
     * carries it), where every user of the machine can read it. Give the builder an Azure
     * identity instead (BuildKit's `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_CLIENT_SECRET`,
     * or a managed identity). Default none.
     */
    secretAccessKey?: pulumi.Input<string | undefined>;
}

/** An S3 (or S3-compatible) cache (`type=s3`). */
export interface CacheFromS3Args {
    /** The bucket. Default none: required. */
    bucket: pulumi.Input<string>;
    /** The bucket's region. Default: `$AWS_REGION` of the program's environment; required without it. */
    region?: pulumi.Input<string | undefined>;
    /** The cache's name (several caches in one bucket). Default `"buildkit"`. */
    name?: pulumi.Input<string | undefined>;
    /** The S3 endpoint, for S3-compatible servers (MinIO, ...). Default: AWS's. */
    endpointUrl?: pulumi.Input<string | undefined>;
    /** Prefix of blob object names. Default `"blobs/"`. */
    blobsPrefix?: pulumi.Input<string | undefined>;
    /** Prefix of manifest object names. Default `"manifests/"`. */
    manifestsPrefix?: pulumi.Input<string | undefined>;
    /** Address the bucket in the URL's path instead of its host name. Default `false`. */
    usePathStyle?: pulumi.Input<boolean | undefined>;
    /** The access key ID: passed to buildx as `AWS_ACCESS_KEY_ID`. Default: the AWS credentials of buildx's environment. */
    accessKeyId?: pulumi.Input<string | undefined>;
    /** The secret key, a Pulumi secret: passed to buildx as `AWS_SECRET_ACCESS_KEY`. Default: as accessKeyId. */
    secretAccessKey?: pulumi.Input<string | undefined>;
    /** A session token, a Pulumi secret: passed to buildx as `AWS_SESSION_TOKEN`. Default none. */
    sessionToken?: pulumi.Input<string | undefined>;
}

/** One `cacheFrom` entry, `@pulumi/docker-build`'s shape: exactly one backend per entry. */
export interface CacheFromArgs {
    /** A local folder. Default none. */
    local?: pulumi.Input<CacheFromLocalArgs | undefined>;
    /** A registry. Default none. */
    registry?: pulumi.Input<CacheFromRegistryArgs | undefined>;
    /** The GitHub Actions cache. Default none. */
    gha?: pulumi.Input<CacheFromGitHubActionsArgs | undefined>;
    /** Azure blob storage. Default none. */
    azblob?: pulumi.Input<CacheFromAzureBlobArgs | undefined>;
    /** S3 or an S3-compatible server. Default none. */
    s3?: pulumi.Input<CacheFromS3Args | undefined>;
    /** A `--cache-from` value as buildx takes it, e.g. `"type=registry,ref=ghcr.io/org/app:cache"`. Default none. */
    raw?: pulumi.Input<string | undefined>;
    /** Leave this entry out. Default `false`. */
    disabled?: pulumi.Input<boolean | undefined>;
}

/** A cache written to a local folder (`type=local,dest=`). */
export interface CacheToLocalArgs extends CacheExportArgs, CacheCompressionArgs {
    /** The folder, relative to the program, outside the build context. Default none: required. */
    dest: pulumi.Input<string>;
}

/** A cache written to a registry (`type=registry,ref=`). */
export interface CacheToRegistryArgs extends CacheExportArgs, CacheCompressionArgs {
    /** The cache image, e.g. `"ghcr.io/org/app:cache"`. Default none: required. */
    ref: pulumi.Input<string>;
    /** OCI media types in the cache manifest. Default `true`. */
    ociMediaTypes?: pulumi.Input<boolean | undefined>;
    /** The cache as an image manifest instead of an index (ECR needs it). Default `false`. */
    imageManifest?: pulumi.Input<boolean | undefined>;
}

/** The GitHub Actions cache, written. */
export interface CacheToGitHubActionsArgs extends CacheFromGitHubActionsArgs, CacheExportArgs {}

/** Azure blob storage, written. */
export interface CacheToAzureBlobArgs extends CacheFromAzureBlobArgs, CacheExportArgs {}

/** S3, written. */
export interface CacheToS3Args extends CacheFromS3Args, CacheExportArgs {}

/** The cache inline in the pushed image (`type=inline`). */
export interface CacheToInlineArgs {}

/** One `cacheTo` entry, `@pulumi/docker-build`'s shape: exactly one backend per entry. */
export interface CacheToArgs {
    /** Inline in the image. Default none. */
    inline?: pulumi.Input<CacheToInlineArgs | undefined>;
    /** A local folder. Default none. */
    local?: pulumi.Input<CacheToLocalArgs | undefined>;
    /** A registry. Default none. */
    registry?: pulumi.Input<CacheToRegistryArgs | undefined>;
    /** The GitHub Actions cache. Default none. */
    gha?: pulumi.Input<CacheToGitHubActionsArgs | undefined>;
    /** Azure blob storage. Default none. */
    azblob?: pulumi.Input<CacheToAzureBlobArgs | undefined>;
    /** S3 or an S3-compatible server. Default none. */
    s3?: pulumi.Input<CacheToS3Args | undefined>;
    /** A `--cache-to` value as buildx takes it, e.g. `"type=registry,ref=ghcr.io/org/app:cache,mode=max"`. Default none. */
    raw?: pulumi.Input<string | undefined>;
    /** Leave this entry out. Default `false`. */
    disabled?: pulumi.Input<boolean | undefined>;
}

/** The checked caches: the buildx values without credentials, and the credentials. */
export interface CheckedCaches {
    cacheFrom: string[];
    cacheTo: string[];
    cacheCredentials?: CacheCredentials;
}

const KINDS = ["local", "registry", "gha", "azblob", "s3", "inline", "raw"] as const;
const COMPRESSIONS = ["gzip", "estargz", "zstd", "uncompressed"];
/** Typed field -> buildx attribute, per backend, read and written (credentials are no attributes: they go to the environment). */
const S3_ATTRS = {
    bucket: "bucket",
    region: "region",
    name: "name",
    endpointUrl: "endpoint_url",
    blobsPrefix: "blobs_prefix",
    manifestsPrefix: "manifests_prefix",
    usePathStyle: "use_path_style",
};
const FROM_ATTRS: Record<string, Record<string, string>> = {
    local: { src: "src", digest: "digest" },
    registry: { ref: "ref" },
    gha: { scope: "scope", url: "url" },
    azblob: { name: "name", accountUrl: "account_url" },
    s3: S3_ATTRS,
};
const TO_ATTRS: Record<string, Record<string, string>> = {
    ...FROM_ATTRS,
    local: { dest: "dest" },
    registry: { ref: "ref", ociMediaTypes: "oci-mediatypes", imageManifest: "image-manifest" },
    inline: {},
};
const EXPORT_ATTRS = { mode: "mode", ignoreError: "ignore-error" };
const COMPRESSION_ATTRS = {
    compression: "compression",
    compressionLevel: "compression-level",
    forceCompression: "force-compression",
};
const CREDENTIAL_FIELDS: Record<string, string[]> = {
    s3: ["accessKeyId", "secretAccessKey", "sessionToken"],
    gha: ["token"],
    azblob: ["secretAccessKey"],
};

/** The typed fields an entry of `kind` takes, for `cacheFrom` or `cacheTo`. */
function fieldsOf(kind: string, to: boolean): Record<string, string> {
    if (!to) return FROM_ATTRS[kind];
    return {
        ...TO_ATTRS[kind],
        ...(kind !== "inline" ? EXPORT_ATTRS : {}),
        ...(kind === "local" || kind === "registry" ? COMPRESSION_ATTRS : {}),
    };
}

/** Fields set to null (absent in other languages' SDKs) count as not given. */
const given = (o: unknown) =>
    Object.fromEntries(
        Object.entries(o && typeof o === "object" ? o : {}).filter(([, v]) => v !== undefined && v !== null),
    );

/**
 * One entry (plain values) as buildx entries plus their credentials; errors under `at`.
 * `context` is the build context's folder: a local cache written inside it would change the
 * context at every build.
 */
function checkEntry(
    e: ArgErrors,
    at: string,
    entry0: any,
    to: boolean,
    context: string,
): { entries: CacheEntry[]; credentials: Record<string, Record<string, string>> } | undefined {
    const none = { entries: [], credentials: {} };
    if (typeof entry0 === "string") entry0 = { raw: entry0 };
    if (!entry0 || typeof entry0 !== "object") {
        e.add(at, `give one backend, e.g. { registry: { ref: "ghcr.io/org/app:cache" } } or a raw string "type=..."`);
        return undefined;
    }
    if (entry0.disabled === true) return none;
    if (!to && entry0.inline !== undefined && entry0.inline !== null) {
        e.add(
            `${at}.inline`,
            "an inline cache is written into the pushed image: read it with { registry: { ref: <that image> } }",
        );
        return undefined;
    }
    const kinds = KINDS.filter((k) => entry0[k] !== undefined && entry0[k] !== null && (to || k !== "inline"));
    if (kinds.length !== 1) {
        e.add(
            at,
            kinds.length
                ? `one backend per entry, got ${kinds.join(" and ")}: give each its own entry`
                : `give one backend: ${KINDS.filter((k) => to || k !== "inline").join(", ")}`,
        );
        return undefined;
    }
    const kind = kinds[0];
    if (kind === "raw") {
        let parsed: CacheEntry[];
        try {
            parsed = parseCacheEntries(String(entry0.raw));
        } catch (err) {
            e.add(
                `${at}.raw`,
                `${(err as Error).message}: write type=<backend>,key=value,..., e.g. "type=registry,ref=ghcr.io/org/app:cache"`,
            );
            return undefined;
        }
        const out: { entries: CacheEntry[]; credentials: Record<string, Record<string, string>> } = {
            entries: [],
            credentials: {},
        };
        for (const p of parsed) {
            const { entry, credentials } = splitCredentials(p);
            if (credentials.secretAccessKey !== undefined && p.type === "azblob") {
                e.add(`${at}.raw`, azblobKeyRefused("secret_access_key="));
                continue;
            }
            if (
                p.type === "s3" &&
                Object.keys(credentials).length &&
                (!credentials.accessKeyId || !credentials.secretAccessKey)
            ) {
                e.add(
                    `${at}.raw`,
                    "give access_key_id and secret_access_key together, or neither (buildx then reads the AWS credentials of its environment)",
                );
                continue;
            }
            if (Object.keys(credentials).length) out.credentials[p.type] = credentials;
            out.entries.push(entry);
        }
        return out;
    }
    const prop = `${at}.${kind}`;
    const f = given(entry0[kind]) as Record<string, any>;
    const fields = fieldsOf(kind, to);
    const credentialFields = CREDENTIAL_FIELDS[kind] ?? [];
    for (const k of Object.keys(f).filter((k) => !fields[k] && !credentialFields.includes(k))) {
        e.add(
            `${prop}.${k}`,
            `not a field of ${kind} caches${to ? "" : " to read"}: use ${[...Object.keys(fields), ...credentialFields].join(", ") || "none"}`,
        );
    }
    const need = (k: string, example: string) => {
        if (typeof f[k] !== "string" || !f[k]) e.add(`${prop}.${k}`, `give ${k}, e.g. ${example}`);
    };
    if (kind === "local") {
        need(to ? "dest" : "src", `"cache/app"`);
        if (to && typeof f.dest === "string") {
            const abs = path.resolve(f.dest),
                ctx = path.resolve(context);
            if (context && (abs === ctx || abs.startsWith(`${ctx}${path.sep}`))) {
                e.add(
                    `${prop}.dest`,
                    `"${f.dest}" is inside the build context ${context}: every cache export would change the context and so rebuild; write it outside the context`,
                );
            }
        }
    }
    if (kind === "registry") {
        need("ref", `"ghcr.io/org/app:cache"`);
        if (typeof f.ref === "string" && f.ref) {
            try {
                parseRef(f.ref);
            } catch (err) {
                e.add(`${prop}.ref`, (err as Error).message);
            }
        }
    }
    if (kind === "azblob") {
        need("name", `"app-cache"`);
        if (f.secretAccessKey !== undefined) e.add(`${prop}.secretAccessKey`, azblobKeyRefused("secretAccessKey"));
    }
    if (kind === "s3") {
        need("bucket", `"build-cache"`);
        if (f.region === undefined && process.env.AWS_REGION) f.region = process.env.AWS_REGION;
        need("region", `"eu-west-1" (or set AWS_REGION where pulumi runs)`);
        if ((f.accessKeyId === undefined) !== (f.secretAccessKey === undefined)) {
            e.add(
                `${prop}.${f.accessKeyId === undefined ? "accessKeyId" : "secretAccessKey"}`,
                "give accessKeyId and secretAccessKey together, or neither (buildx then reads the AWS credentials of its environment)",
            );
        }
        if (f.sessionToken !== undefined && f.accessKeyId === undefined)
            e.add(`${prop}.sessionToken`, "a session token goes with accessKeyId and secretAccessKey");
    }
    if (f.mode !== undefined && !["min", "max"].includes(f.mode))
        e.add(`${prop}.mode`, `"${f.mode}" is not a cache mode: use "min" or "max"`);
    if (f.compression !== undefined && !COMPRESSIONS.includes(f.compression))
        e.add(`${prop}.compression`, `"${f.compression}" is not a compression: use ${COMPRESSIONS.join(", ")}`);
    if (
        f.compressionLevel !== undefined &&
        !(Number.isInteger(f.compressionLevel) && f.compressionLevel >= 0 && f.compressionLevel <= 22)
    ) {
        e.add(`${prop}.compressionLevel`, `${f.compressionLevel} is not a level: give an integer from 0 to 22`);
    }
    const attrs: Record<string, string> = {};
    for (const [k, attr] of Object.entries(fields)) if (f[k] !== undefined) attrs[attr] = String(f[k]);
    const keysRefused = kind === "s3" && (f.accessKeyId === undefined || f.secretAccessKey === undefined);
    const credentials = Object.fromEntries(
        credentialFields
            .filter((k) => kind !== "azblob" && !keysRefused && f[k] !== undefined)
            .map((k) => [k, String(f[k])]),
    );
    return {
        entries: [{ type: kind, attrs }],
        credentials: Object.keys(credentials).length ? { [kind]: credentials } : {},
    };
}

function azblobKeyRefused(field: string): string {
    return (
        `buildx takes an azblob key only on its command line (no environment variable carries it), where every user of the machine can read it: ` +
        `drop ${field} and give the builder an Azure identity (BuildKit reads AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET or a managed identity)`
    );
}

/**
 * Checks `cacheFrom` and `cacheTo` (plain values) into `e`: each entry one backend, its
 * required fields, modes and compressions; every s3 entry of the image with the same AWS keys
 * and every gha entry with the same token (buildx reads one of each from its environment).
 */
export function checkCaches(e: ArgErrors, from: unknown[], to: unknown[], context: string): CheckedCaches {
    const out: CheckedCaches = { cacheFrom: [], cacheTo: [] };
    const seen: Record<string, { at: string; value: string }> = {};
    const credentials: CacheCredentials = {};
    const each = (list: unknown[], name: "cacheFrom" | "cacheTo") =>
        (Array.isArray(list) ? list : []).forEach((entry, i) => {
            const at = `${name}[${i}]`;
            const r = checkEntry(e, at, entry, name === "cacheTo", context);
            if (!r) return;
            out[name].push(...r.entries.map(formatCacheEntry));
            for (const [type, c] of Object.entries(r.credentials)) {
                const value = JSON.stringify(c);
                if (seen[type] && seen[type].value !== value) {
                    e.add(
                        at,
                        `its ${type} credentials differ from ${seen[type].at}'s: buildx reads one set from its environment for the whole build; give every ${type} entry the same`,
                    );
                    continue;
                }
                seen[type] = { at, value };
                if (type === "s3") credentials.aws = c as any;
                if (type === "gha") credentials.gha = c as any;
            }
        });
    each(from, "cacheFrom");
    each(to, "cacheTo");
    if (credentials.aws || credentials.gha) out.cacheCredentials = credentials;
    return out;
}

/**
 * The image's caches as its inputs: the buildx values as plain strings (the credentials taken
 * out, so they are no secret even when the entries held secrets) and the credentials as a
 * Pulumi secret. Bad input throws at preview with every property path.
 */
export function cacheInputs(
    cacheFrom: unknown,
    cacheTo: unknown,
    context: string,
    warn: (msg: string) => void = () => {},
): {
    cacheFrom: pulumi.Output<string[]>;
    cacheTo: pulumi.Output<string[]>;
    cacheCredentials: pulumi.Output<CacheCredentials | undefined>;
} {
    const checked = validated({ from: cacheFrom ?? [], to: cacheTo ?? [] }, ({ from, to }) => {
        const e = new ArgErrors("MultiArchImage");
        const c = checkCaches(e, from as unknown[], to as unknown[], context);
        e.throwIfAny();
        const gha = [...c.cacheFrom, ...c.cacheTo].some((v) => v.startsWith("type=gha"));
        if (gha && !c.cacheCredentials?.gha && !process.env.ACTIONS_RUNTIME_TOKEN) {
            warn(
                "a gha cache without a token, and no ACTIONS_RUNTIME_TOKEN in the environment: buildx leaves such a cache out of the build (as docker-build does); give token, or run in GitHub Actions with crazy-max/ghaction-github-runtime",
            );
        }
        return c;
    });
    return {
        cacheFrom: pulumi.unsecret(checked.apply((c) => c.cacheFrom)),
        cacheTo: pulumi.unsecret(checked.apply((c) => c.cacheTo)),
        cacheCredentials: pulumi.secret(checked.apply((c) => c.cacheCredentials)),
    };
}
