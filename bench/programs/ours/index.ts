// The library side of the benchmarks: one builder and the images listed in stack config
// `bench:images`, each a MultiArchImage as a user would write it. Config:
//   bench:builder  builder name (bench-*)
//   bench:images   [{ name, context, tag, platforms?, cacheRepository?, buildArgs?, triggers? }]
import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder, MultiArchImage } from "../../../components";

interface ImageSpec {
    name: string;
    context: string;
    tag: string;
    platforms?: string[];
    cacheRepository?: string;
    buildArgs?: Record<string, string>;
    triggers?: string[];
}

const cfg = new pulumi.Config("bench");
const images = cfg.requireObject<ImageSpec[]>("images");

const builder = new BuildxBuilder("builder", {
    name: cfg.require("builder"),
    // BuildKit in a container reaches the registry on loopback through the host network.
    driverOpts: { network: "host" },
    buildkitdConfig: `[registry."127.0.0.1:5000"]\n  http = true\n  insecure = true\n`,
});

export const digests: Record<string, pulumi.Output<string>> = {};
for (const spec of images) {
    const image = new MultiArchImage(spec.name, {
        context: spec.context,
        platforms: spec.platforms ?? ["linux/amd64", "linux/arm64"],
        tags: [spec.tag],
        builder,
        ...(spec.cacheRepository ? { cacheRepository: spec.cacheRepository } : {}),
        ...(spec.buildArgs ? { buildArgs: spec.buildArgs } : {}),
        ...(spec.triggers ? { triggers: spec.triggers } : {}),
    });
    digests[spec.name] = image.digest;
}
export const builderName = builder.name;
