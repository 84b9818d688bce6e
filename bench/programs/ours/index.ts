// The library side of the benchmarks: one builder and the images listed in stack config
// `bench:images`, each a MultiArchImage as a user would write it. Config:
//   bench:builder  builder name (bench-*)
//   bench:images   [{ name, context, tag, platforms?, cacheRepository?, buildArgs?, triggers?, verify? }]
// The library as users get it: the compiled package (dist/, `npm run build`, linked as
// node_modules/pulumi-multiarch by bench/run); tsconfig.json maps the name to components/
// for the repository's type check.
import * as pulumi from "@pulumi/pulumi";
import { BinfmtSetup, BuildxBuilder, MultiArchImage } from "pulumi-multiarch";

interface ImageSpec {
    name: string;
    context: string;
    tag: string;
    platforms?: string[];
    cacheRepository?: string;
    buildArgs?: Record<string, string>;
    triggers?: string[];
    verify?: boolean;
}

const cfg = new pulumi.Config("bench");
const images = cfg.requireObject<ImageSpec[]>("images");

// As the main job: the builder waits for the arm64 emulator (registered only if missing; one
// that is there is used, not owned), since BuildKit reads the emulators when it starts.
const qemu = new BinfmtSetup("qemu", { platforms: ["linux/arm64"] });

const builder = new BuildxBuilder("builder", {
    name: cfg.require("builder"),
    binfmt: qemu,
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
        ...(spec.verify === false ? { verify: false } : {}),
    });
    digests[spec.name] = image.digest;
}
export const builderName = builder.name;
