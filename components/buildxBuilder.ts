import * as pulumi from "@pulumi/pulumi";
import { BinfmtSetup } from "./binfmtSetup";
import type { BuilderNode } from "./core/buildx";
import { builderProvider, BuilderInputs } from "./providers/builderProvider";
import { outputsOnly, spread } from "./dynamic";
import { ArgErrors, checkPlatforms, validated } from "./validate";

export type { BuilderNode } from "./core/buildx";

/** Arguments of {@link BuildxBuilder}. */
export interface BuildxBuilderArgs {
    /**
     * Builder name. Default `<project>-<stack>-<resource name>`, so two stacks on one host
     * never share or delete each other's builder.
     */
    name?: string;
    /** buildx driver. Default `"docker-container"` (BuildKit in a container of the local engine). */
    driver?: pulumi.Input<"docker-container">;
    /**
     * Driver options (`--driver-opt k=v`). For docker-container: `image` (the BuildKit image;
     * default buildx's own, moby/buildkit), `network` (e.g. `"host"` to reach a registry on
     * loopback). Default `{}`.
     */
    driverOpts?: pulumi.Input<Record<string, string>>;
    /** Platforms the node declares (`--platform`). Default: whatever BuildKit detects. */
    platforms?: pulumi.Input<string[]>;
    /** Extra buildkitd flags (`--buildkitd-flags`). Default none. */
    buildkitdFlags?: pulumi.Input<string>;
    /** buildkitd.toml text, e.g. `[registry."127.0.0.1:5000"] http = true`. Default none. */
    buildkitdConfig?: pulumi.Input<string>;
    /** Boot the builder at create (`buildx inspect --bootstrap`). Default `true`. */
    bootstrap?: pulumi.Input<boolean>;
    /** Emulators the builder relies on; it is created after them and rebuilt when they change. */
    binfmt?: BinfmtSetup;
    /** Keep BuildKit's state volume on delete (`buildx rm --keep-state`). Default `false`. */
    keepState?: pulumi.Input<boolean>;
}

/**
 * A docker buildx builder, created and bootstrapped by `pulumi up`, recreated when removed
 * out of band (`pulumi refresh` sees it), removed by `pulumi destroy`.
 */
export class BuildxBuilder extends pulumi.ComponentResource {
    readonly name: pulumi.Output<string>;
    readonly driver: pulumi.Output<string>;
    /** Each node as `buildx ls` reports it: name, endpoint, status, platforms, BuildKit version. */
    readonly nodes: pulumi.Output<BuilderNode[]>;
    /** Every platform some node can build (natively or through the host's emulators). */
    readonly platforms: pulumi.Output<string[]>;
    /** The emulators this builder depends on, if any. */
    readonly binfmt?: BinfmtSetup;

    constructor(name: string, args: BuildxBuilderArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("pulumi-multiarch:index:BuildxBuilder", name, {}, opts);
        this.binfmt = args.binfmt;
        const inputs = {
            ...createBuilderInputs(name, args),
            // The requested emulators (known at preview): a new set restarts BuildKit, which
            // detects emulators when it starts; re-registering the same ones does not.
            emulated: args.binfmt ? args.binfmt.requestedPlatforms : [],
        };
        const res = new Builder(`${name}-builder`, inputs, { parent: this, dependsOn: args.binfmt ? [args.binfmt] : [] });
        this.name = res.name;
        this.driver = res.driver;
        this.nodes = res.nodes;
        this.platforms = res.reportedPlatforms;
        this.registerOutputs({ name: this.name, driver: this.driver, nodes: this.nodes, platforms: this.platforms });
    }
}

/** The builder itself, managed by {@link builderProvider}. */
class Builder extends pulumi.dynamic.Resource {
    declare readonly name: pulumi.Output<string>;
    declare readonly driver: pulumi.Output<string>;
    declare readonly nodes: pulumi.Output<BuilderNode[]>;
    declare readonly reportedPlatforms: pulumi.Output<string[]>;

    constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super(builderProvider, name, { ...inputs, ...outputsOnly(["nodes", "reportedPlatforms"]) }, opts, "multiarch", "Builder");
    }
}

/** `<project>-<stack>-<name>`, in the characters buildx accepts. */
export function defaultBuilderName(name: string): string {
    return `${pulumi.getProject()}-${pulumi.getStack()}-${name}`.replace(/[^a-zA-Z0-9_-]/g, "-");
}

type CheckedBuilder = Omit<BuilderInputs, "emulated">;

/** Validates and normalizes the args; one Output per property. */
export function createBuilderInputs(name: string, args: BuildxBuilderArgs): pulumi.Inputs {
    const checked = validated([
        args.driver ?? "docker-container", args.driverOpts ?? {}, args.platforms ?? [], args.buildkitdFlags,
        args.buildkitdConfig, args.bootstrap ?? true, args.keepState ?? false,
    ], ([driver, driverOpts, platforms, buildkitdFlags, buildkitdConfig, bootstrap, keepState]): CheckedBuilder => {
        const errs = new ArgErrors("BuildxBuilder");
        const builderName = args.name ?? defaultBuilderName(name);
        if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(builderName)) errs.add("name", `"${builderName}" is not a valid builder name: use letters, digits, "-", "_" and "."`);
        if (driver !== "docker-container") errs.add("driver", `unknown driver "${driver}": use "docker-container"`);
        const normalized = checkPlatforms(errs, "platforms", platforms, false);
        errs.throwIfAny();
        return {
            name: builderName, driver, driverOpts, platforms: normalized, bootstrap, keepState,
            ...(buildkitdFlags ? { buildkitdFlags } : {}),
            ...(buildkitdConfig ? { buildkitdConfig } : {}),
        };
    });
    return spread(checked, ["name", "driver", "driverOpts", "platforms", "buildkitdFlags", "buildkitdConfig", "bootstrap", "keepState"]);
}
