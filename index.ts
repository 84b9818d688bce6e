// The main job: typed stack config -> emulators -> builder -> the app's multi-arch image.
// `npm run up` runs it for stack "dev" (Pulumi.dev.yaml); config keys are in config.ts.
import * as pulumi from "@pulumi/pulumi";
import { BinfmtSetup, BuildxBuilder, MultiArchImage } from "./components";
import { readStackConfig } from "./config";

// Which keys were set with --secret: @pulumi/pulumi knows, but marks the function internal.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

const config = new pulumi.Config("pulumi-multiarch");
const cfg = readStackConfig((key) => config.get(key), (key) => isConfigSecret(`pulumi-multiarch:${key}`));

const onLoopback = /^(localhost|127\.[\d.]+)(:\d+)?$/.test(cfg.registry);

const qemu = new BinfmtSetup("qemu", {
    platforms: cfg.platforms,
    method: cfg.binfmtMethod,
    ...(cfg.binfmtImage ? { image: cfg.binfmtImage } : {}),
});

// docker-container: BuildKit in a container of the local engine. remote: BuildKit daemons
// someone runs (stack "multinode": one per architecture, over mutual TLS); each platform
// goes to its node. The TLS secrets go to every tcp:// node.
const tls = cfg.builderTls
    ? { cacert: config.requireSecret("builderTlsCa"), cert: config.requireSecret("builderTlsCert"), key: config.requireSecret("builderTlsKey") }
    : undefined;
const withTls = (endpoint: string) => (tls && endpoint.startsWith("tcp://") ? { tls } : {});
const [first, ...more] = cfg.builderNodes;
const builder = new BuildxBuilder("builder", cfg.builderDriver === "remote" ? {
    driver: "remote",
    binfmt: qemu,
    endpoint: first.endpoint,
    platforms: first.platforms,
    ...withTls(first.endpoint),
    nodes: more.map((n) => ({ ...n, ...withTls(n.endpoint) })),
} : {
    driver: "docker-container",
    binfmt: qemu,
    image: cfg.buildkitImage,
    // BuildKit runs in a container; host networking lets it reach a registry on loopback.
    driverOpts: onLoopback ? { network: "host" } : {},
    // A registry on loopback speaks plain HTTP.
    buildkitdConfig: onLoopback ? `[registry."${cfg.registry}"]\n  http = true\n  insecure = true\n` : undefined,
});

const image = new MultiArchImage("hello", {
    context: cfg.context,
    ...(cfg.dockerfile ? { dockerfile: cfg.dockerfile } : {}),
    platforms: cfg.platforms,
    tags: [`${cfg.registry}/${cfg.repository}:${cfg.tag}`],
    builder,
    manifest: cfg.manifest,
});

export const digest = image.digest;
export const platformDigests = image.platformDigests;
export const ref = image.ref;
export const tags = image.tags;
export const builderName = builder.name;
export const builderPlatforms = builder.platforms;
export const builderNodes = builder.nodes;
export const handlers = qemu.handlers;
export const runnablePlatforms = qemu.platforms;
