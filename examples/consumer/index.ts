// Another project using pulumi-multiarch as a package: emulators, a builder and one image
// of its own build context, for linux/amd64 and linux/arm64, pushed as a manifest list.
import * as pulumi from "@pulumi/pulumi";
import { BinfmtSetup, BuildxBuilder, MultiArchImage } from "pulumi-multiarch";

const config = new pulumi.Config();
const registry = config.get("registry") ?? "127.0.0.1:5000";
const repository = config.get("repository") ?? "consumer/greeter";

const qemu = new BinfmtSetup("qemu", { platforms: ["linux/arm64"] });
const builder = new BuildxBuilder("builder", {
    binfmt: qemu,
    driverOpts: { network: "host" }, // reach a registry on loopback
    buildkitdConfig: `[registry."${registry}"]\n  http = true\n`, // which speaks plain HTTP
});
const image = new MultiArchImage("greeter", {
    context: "./app",
    platforms: ["linux/amd64", "linux/arm64"],
    tags: [`${registry}/${repository}:1.0`],
    builder,
});

export const ref = image.ref;
export const platformDigests = image.platformDigests;
export const builderName = builder.name;
