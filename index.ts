// The main job: typed stack config -> emulators -> builder -> the app's multi-arch image.
// `npm run up` runs it for stack "dev" (Pulumi.dev.yaml); config keys are in config.ts. A
// stack with `promoteFrom` (stack "prod") builds nothing: it promotes what that stack built
// and verified, by digest (`STACK=prod npm run up` after `npm run up`).
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
// The library as a consumer imports it: the compiled package (dist/components, built and
// linked as node_modules/pulumi-multiarch by scripts/bootstrap), so a preview loads JavaScript
// and type-checks this file against .d.ts files (tsconfig.program.json); tsconfig.json maps
// the name to components/ for the repository's own type check.
import { BinfmtSetup, BuildxBuilder, ImagePromotion, MultiArchImage } from "pulumi-multiarch";

import { readStackConfig, TLS_KEYS } from "./config";

// Without dist/components the name resolves to this very file (the repository is the package).
if (typeof MultiArchImage !== "function") {
    throw new Error(
        "the compiled library is missing (dist/components): run `bash scripts/bootstrap` (or `npm run build`), then run this again",
    );
}

// Which keys were set with --secret: @pulumi/pulumi knows, but marks the function internal.

const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

const config = new pulumi.Config("pulumi-multiarch");
const cfg = readStackConfig(
    (key) => config.get(key),
    (key) => isConfigSecret(`pulumi-multiarch:${key}`),
);

/** The app built for every platform, verified and pushed (stacks dev, company, multinode). */
function build() {
    const onLoopback = /^(localhost|127\.[\d.]+)(:\d+)?$/.test(cfg.registry);

    const qemu = new BinfmtSetup("qemu", {
        platforms: cfg.platforms,
        method: cfg.binfmtMethod,
        ...(cfg.binfmtImage ? { image: cfg.binfmtImage } : {}),
    });

    // docker-container: BuildKit in a container of the local engine. remote: BuildKit daemons
    // someone runs (stack "multinode": one per architecture, over mutual TLS); each platform
    // goes to its node. The TLS secrets go to every tcp:// node.
    // The TLS comes from the stack's secrets, or from the files in builderTlsDir (the fleet that
    // scripts/bootstrap made on this machine keeps its keys there, never in Pulumi.<stack>.yaml).
    const tls = cfg.builderTls
        ? {
              cacert: config.requireSecret("builderTlsCa"),
              cert: config.requireSecret("builderTlsCert"),
              key: config.requireSecret("builderTlsKey"),
          }
        : cfg.builderTlsDir !== undefined
          ? readTlsDir(cfg.builderTlsDir)
          : undefined;
    const withTls = (endpoint: string) => (tls && endpoint.startsWith("tcp://") ? { tls } : {});
    const [first, ...more] = cfg.builderNodes;
    const builder = new BuildxBuilder(
        "builder",
        cfg.builderDriver === "remote"
            ? {
                  driver: "remote",
                  binfmt: qemu,
                  endpoint: first.endpoint,
                  platforms: first.platforms,
                  ...withTls(first.endpoint),
                  nodes: more.map((n) => ({ ...n, ...withTls(n.endpoint) })),
              }
            : {
                  driver: "docker-container",
                  binfmt: qemu,
                  image: cfg.buildkitImage,
                  // BuildKit runs in a container; host networking lets it reach a registry on loopback.
                  driverOpts: onLoopback ? { network: "host" } : {},
                  // A registry on loopback speaks plain HTTP.
                  buildkitdConfig: onLoopback
                      ? `[registry."${cfg.registry}"]\n  http = true\n  insecure = true\n`
                      : undefined,
              },
    );

    const image = new MultiArchImage("hello", {
        context: cfg.context,
        ...(cfg.dockerfile ? { dockerfile: cfg.dockerfile } : {}),
        platforms: cfg.platforms,
        tags: [`${cfg.registry}/${cfg.repository}:${cfg.tag}`],
        builder,
        manifest: cfg.manifest,
    });
    return { image, builder, qemu };
}

/**
 * What stack `promoteFrom` built and verified, copied by digest to this stack's registry: its
 * `ref` output (`<repository>@sha256:...`) through a StackReference in the same backend.
 */
function promote(from: string) {
    const source = new pulumi.StackReference(`organization/${pulumi.getProject()}/${from}`)
        .getOutput("ref")
        .apply((ref) => {
            if (!ref)
                throw new Error(
                    `stack ${from} has no ref output: bring it up first (\`npm run up\` for dev), then promote it`,
                );
            return ref as string;
        });
    return new ImagePromotion("hello", {
        source,
        tags: [`${cfg.registry}/${cfg.repository}:${cfg.tag}`],
        manifest: cfg.manifest,
    });
}

/** The stack's outputs: the build's (as they always were), or the promotion's. */
function outputs(): Record<string, unknown> {
    if (cfg.promoteFrom !== undefined) {
        const p = promote(cfg.promoteFrom);
        return {
            digest: p.digest,
            platformDigests: p.platformDigests,
            ref: p.ref,
            tags: p.tags,
            promotedFrom: cfg.promoteFrom,
            verification: p.verification,
            copied: p.copied,
        };
    }
    const { image, builder, qemu } = build();
    return {
        digest: image.digest,
        platformDigests: image.platformDigests,
        ref: image.ref,
        tags: image.tags,
        builderName: builder.name,
        builderPlatforms: builder.platforms,
        builderNodes: builder.nodes,
        handlers: qemu.handlers,
        runnablePlatforms: qemu.platforms,
    };
}

export = outputs();

/** The fleet's client TLS from a folder, as secrets; a missing file is named with the fix. */
function readTlsDir(dir: string): {
    cacert: pulumi.Output<string>;
    cert: pulumi.Output<string>;
    key: pulumi.Output<string>;
} {
    const read = (key: keyof typeof TLS_KEYS) => {
        const file = path.join(dir, TLS_KEYS[key]);
        try {
            return pulumi.secret(fs.readFileSync(file, "utf8"));
        } catch (e) {
            throw new Error(
                `pulumi-multiarch:builderTlsDir: cannot read ${file} (${(e as NodeJS.ErrnoException).code}): ` +
                    "run `STACK=multinode npm run up -- --plan` to see what makes the fleet's certificates, " +
                    "or point builderTlsDir at the folder that holds ca.pem, client.pem and client-key.pem",
            );
        }
    };
    return { cacert: read("builderTlsCa"), cert: read("builderTlsCert"), key: read("builderTlsKey") };
}
