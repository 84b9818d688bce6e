// The main job: stack config -> emulators -> builder -> the app's multi-arch image.
// `npm run up` runs it for stack "dev" (Pulumi.dev.yaml).
import * as pulumi from "@pulumi/pulumi";
import { BinfmtSetup, BuildxBuilder, MultiArchImage } from "./components";

const config = new pulumi.Config("pulumi-multiarch");
const platforms = config.requireObject<string[]>("platforms");
const registry = config.get("registry") ?? "127.0.0.1:5000";
const repository = config.get("repository") ?? "hello";
const tag = config.get("tag") ?? "latest";
const manifest = config.get("manifest") ?? "index";
const buildkitImage = config.get("buildkitImage");

const onLoopback = /^(localhost|127\.[\d.]+)(:\d+)?$/.test(registry);

const qemu = new BinfmtSetup("qemu", { platforms });

const builder = new BuildxBuilder("builder", {
    driver: "docker-container",
    binfmt: qemu,
    image: buildkitImage,
    // BuildKit runs in a container; host networking lets it reach a registry on loopback.
    driverOpts: onLoopback ? { network: "host" } : {},
    // A registry on loopback speaks plain HTTP.
    buildkitdConfig: onLoopback ? `[registry."${registry}"]\n  http = true\n  insecure = true\n` : undefined,
});

const image = new MultiArchImage("hello", {
    context: "./app",
    platforms,
    tags: [`${registry}/${repository}:${tag}`],
    builder,
    manifest: manifest as "index", // MultiArchImage refuses other values with the fix
});

export const digest = image.digest;
export const platformDigests = image.platformDigests;
export const ref = image.ref;
export const builderName = builder.name;
export const builderPlatforms = builder.platforms;
export const handlers = qemu.handlers;
export const runnablePlatforms = qemu.platforms;
