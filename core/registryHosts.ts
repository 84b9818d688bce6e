// How a registry host is reached: plain HTTP or HTTPS, and which certificates to trust, from
// the places a `docker buildx build --push` takes them: the builder's buildkitd config
// (`[registry."host"]` http, insecure, ca, keypair, as buildx stores it with the builder),
// `/etc/docker/certs.d/<host>/` (ca: *.crt, client: *.cert + *.key, as the docker engine
// reads it) and the system trust store (`SSL_CERT_FILE`, else the distribution's bundle).
import * as fs from "fs";
import * as path from "path";
import * as toml from "smol-toml";
import * as tls from "tls";

import { configDir, HUB_NAMES } from "./dockerConfig";

export interface HostAccess {
    /** The host:port requests go to (Docker Hub's API lives at registry-1.docker.io). */
    apiHost: string;
    scheme: "http" | "https";
    /** TLS without certificate checks (buildkitd's `insecure = true`). */
    insecure: boolean;
    /** Extra CA certificates (PEM) beyond the system store. */
    ca: string[];
    /** Client certificate and key (PEM), for registries that ask for one. */
    keypair?: { cert: string; key: string };
    /** Where each setting came from, for error messages. */
    sources: string[];
}

/** buildkitd's per-registry settings, paths already turned into file contents. */
export interface BuildkitdRegistry {
    http?: boolean;
    insecure?: boolean;
    ca: string[];
    keypairs: { cert: string; key: string }[];
    mirrors?: string[];
}

export const HUB_API = "registry-1.docker.io";

export function isLoopback(registry: string): boolean {
    const host = registry.replace(/:\d+$/, "");
    return host === "localhost" || /^127\./.test(host) || host === "[::1]";
}

/**
 * Parses buildkitd.toml's `[registry."host"]` tables. `read` turns a path named by `ca` or
 * `keypair` into its contents (undefined when it cannot); buildx stores the files of a
 * docker-container builder under /etc/buildkit/<path> with the builder.
 */
export function parseBuildkitdRegistries(
    text: string,
    read: (p: string) => string | undefined,
): Record<string, BuildkitdRegistry> {
    const doc = toml.parse(text) as any;
    const out: Record<string, BuildkitdRegistry> = {};
    for (const [host, r] of Object.entries<any>(doc.registry ?? {})) {
        out[host] = {
            ...(typeof r.http === "boolean" ? { http: r.http } : {}),
            ...(typeof r.insecure === "boolean" ? { insecure: r.insecure } : {}),
            ca: (r.ca ?? []).map(read).filter((c: string | undefined): c is string => !!c),
            keypairs: (r.keypair ?? [])
                .map((k: any) => ({ cert: read(k.cert), key: read(k.key) }))
                .filter((k: any) => k.cert && k.key),
            ...(Array.isArray(r.mirrors) ? { mirrors: r.mirrors } : {}),
        };
    }
    return out;
}

/** buildx's own folder: its builders' store (`instances/<name>`) and state. */
export function buildxDir(): string {
    return process.env.BUILDX_CONFIG ?? path.join(configDir(), "buildx");
}

/**
 * The registry settings of builder `name`'s first node, as buildx itself loads them for
 * `imagetools --builder` (store/storeutil.GetImageConfig): from the builder's stored files.
 */
export function builderRegistries(name: string): Record<string, BuildkitdRegistry> | undefined {
    const file = path.join(buildxDir(), "instances", name);
    if (!fs.existsSync(file)) return undefined;
    const ng = JSON.parse(fs.readFileSync(file, "utf8"));
    const files: Record<string, string> = ng.Nodes?.[0]?.Files ?? {};
    const text = files["buildkitd.toml"];
    if (!text) return {};
    const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
    return parseBuildkitdRegistries(decode(text), (p) => {
        const stored = files[p.replace(/^\/etc\/buildkit\//, "")];
        if (stored) return decode(stored);
        return readLocal(p);
    });
}

/** `/etc/docker/certs.d/<host>/`, as the docker engine reads it: *.crt are CAs, *.cert + *.key a client pair. */
export function certsDir(
    registry: string,
    root = "/etc/docker/certs.d",
): { ca: string[]; keypair?: { cert: string; key: string }; dir: string } {
    const dir = path.join(root, registry);
    if (!fs.existsSync(dir)) return { ca: [], dir };
    const names = fs.readdirSync(dir).sort();
    const ca = names.filter((n) => n.endsWith(".crt")).map((n) => fs.readFileSync(path.join(dir, n), "utf8"));
    const cert = names.find((n) => n.endsWith(".cert") && names.includes(n.replace(/\.cert$/, ".key")));
    const read = (n: string) => fs.readFileSync(path.join(dir, n), "utf8");
    const keypair = cert ? { cert: read(cert), key: read(cert.replace(/\.cert$/, ".key")) } : undefined;
    return { ca, ...(keypair ? { keypair } : {}), dir };
}

/** The system trust store as Go programs (buildx, BuildKit) read it on Linux: SSL_CERT_FILE, else the distribution's bundle. */
export function systemRoots(): string[] {
    const candidates = process.env.SSL_CERT_FILE
        ? [process.env.SSL_CERT_FILE]
        : [
              "/etc/ssl/certs/ca-certificates.crt",
              "/etc/pki/tls/certs/ca-bundle.crt",
              "/etc/ssl/ca-bundle.pem",
              "/etc/ssl/cert.pem",
          ];
    const file = candidates.find((f) => fs.existsSync(f));
    return file ? [fs.readFileSync(file, "utf8")] : [];
}

/** Reads a path named in a buildkitd.toml on this machine, as `buildx create` does. */
function readLocal(p: string): string | undefined {
    return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined;
}

/**
 * How to reach `registry` (host[:port]) pushed to through builder `builder`: its stored
 * buildkitd config, or `builderConfig` (the TOML it will be created with) before it exists.
 */
export function hostAccess(registry: string, builder?: string, builderConfig?: string): HostAccess {
    const apiHost = HUB_NAMES.includes(registry) ? HUB_API : registry;
    const sources: string[] = [];
    let fromBuilder: BuildkitdRegistry | undefined;
    if (builder) {
        try {
            const stored = builderRegistries(builder);
            fromBuilder = (stored ?? (builderConfig ? parseBuildkitdRegistries(builderConfig, readLocal) : {}))[
                registry
            ];
        } catch (e) {
            throw new Error(
                `cannot read builder ${builder}'s buildkitd config (${(e as Error).message}): fix its buildkitdConfig`,
            );
        }
        if (fromBuilder) sources.push(`builder ${builder}'s buildkitd config [registry."${registry}"]`);
    }
    const certs = certsDir(registry);
    if (certs.ca.length || certs.keypair) sources.push(certs.dir);
    // Loopback registries speak plain HTTP unless the builder says `http = false`, as BuildKit
    // (containerd's MatchLocalhost) and the docker engine treat them.
    const plain = fromBuilder?.http ?? isLoopback(registry);
    return {
        apiHost,
        scheme: plain ? "http" : "https",
        insecure: fromBuilder?.insecure === true,
        ca: [...(fromBuilder?.ca ?? []), ...certs.ca],
        ...((fromBuilder?.keypairs[0] ?? certs.keypair) ? { keypair: fromBuilder?.keypairs[0] ?? certs.keypair } : {}),
        sources,
    };
}

/** Node TLS options for `access`: the system store, Node's own roots and the extra CAs. */
export function tlsOptions(access: HostAccess): tls.ConnectionOptions {
    return {
        ca: [...tls.rootCertificates, ...systemRoots(), ...access.ca],
        rejectUnauthorized: !access.insecure,
        ...(access.keypair ? { cert: access.keypair.cert, key: access.keypair.key } : {}),
    };
}
