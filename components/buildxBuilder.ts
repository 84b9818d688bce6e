import * as pulumi from "@pulumi/pulumi";

import { COMPONENT_TYPES, RESOURCE_TYPES } from "../contract/tokens";
import type { BuilderInputs, Driver, TlsMaterial } from "../contract/types";
import type { DeclaredBuilder } from "../core/buildPlan";
import type { BuilderNode } from "../core/buildx";
import type { NodeOptions } from "../core/buildx";
import { BUILDKIT_VERSION } from "../core/versions";
import { type BinfmtSetup } from "./binfmtSetup";
import { componentOptions, outputsOnly, PluginResource } from "./resourceProps";
import { ArgErrors, checkPlatforms } from "./validate";

export type { BuilderNode } from "../core/buildx";

/** TLS material for a remote node, as PEM text. Pass secrets: the state encrypts them. */
export interface TlsArgs {
    /** CA certificate that signed the daemon's certificate (`cacert=`). Default none: the system's CAs. */
    cacert?: pulumi.Input<string>;
    /** Client certificate (`cert=`). Default none. */
    cert?: pulumi.Input<string>;
    /** Client private key (`key=`), a secret. Default none. */
    key?: pulumi.Input<string>;
}

/** Kubernetes driver options. */
export interface KubernetesArgs {
    /** Namespace for the BuildKit deployment. Default: the kubeconfig's. */
    namespace?: string;
    /** BuildKit pods. Default 1. */
    replicas?: number;
    /** Node selector for the pods, e.g. `{ "kubernetes.io/arch": "arm64" }`. Default none. */
    nodeSelector?: Record<string, string>;
}

/** One more node of a builder (`buildx create --append`). */
export interface BuilderNodeArgs {
    /** Node name. Default `<builder><index>`. */
    name?: string;
    /** Remote driver: `tcp://host:port` or `unix:///path/buildkitd.sock`. Default none: required for "remote". */
    endpoint?: string;
    /** Platforms this node builds, e.g. `["linux/arm64"]` for a native arm64 machine. Default: whatever BuildKit detects. */
    platforms?: string[];
    /** Driver options for this node only. Default `{}`. */
    driverOpts?: Record<string, string>;
    /** Remote driver TLS for this node. Default none (plain connection). */
    tls?: TlsArgs;
    /** Kubernetes driver: this node's deployment (e.g. a node selector per architecture). Default: the builder's. */
    kubernetes?: KubernetesArgs;
}

/** Arguments of {@link BuildxBuilder}. */
export interface BuildxBuilderArgs {
    /**
     * Builder name. Default `<project>-<stack>-<resource name>`, so two stacks on one host
     * never share or delete each other's builder. For driver "docker": the docker context's name.
     */
    name?: string;
    /**
     * buildx driver. Default `"docker-container"` (BuildKit in a container of the local
     * engine). `"remote"`: BuildKit daemons you run (`endpoint`, `nodes`). `"kubernetes"`:
     * BuildKit pods (`kubernetes`). `"docker"`: the engine's own builder, used as it is.
     */
    driver?: "docker-container" | "remote" | "kubernetes" | "docker";
    /**
     * docker-container: the BuildKit image. Default `$PULUMI_MULTIARCH_BUILDKIT_IMAGE` if
     * set (scripts/env.sh sets the locally built one), else `moby/buildkit:v0.34.2`.
     */
    image?: string;
    /** remote: the first node's endpoint, `tcp://host:port` or `unix:///path/buildkitd.sock`. Default none: required for "remote". */
    endpoint?: string;
    /** remote: TLS for the first node (secrets). Default none (plain connection). */
    tls?: TlsArgs;
    /** kubernetes: namespace, replicas and node selector of the first node. Default: the kubeconfig's namespace, 1 replica, no selector. */
    kubernetes?: KubernetesArgs;
    /** Driver options of the first node (`--driver-opt k=v`), e.g. `network: "host"`. Default `{}`. */
    driverOpts?: Record<string, string>;
    /** Platforms of the first node (`--platform`). Default: whatever BuildKit detects. */
    platforms?: string[];
    /** More nodes, each with its own endpoint, platforms and options: native arm64 machines replace emulation for their platforms. Default `[]`. */
    nodes?: BuilderNodeArgs[];
    /** Extra buildkitd flags (`--buildkitd-flags`). Default none. */
    buildkitdFlags?: string;
    /** buildkitd.toml text, e.g. `[registry."127.0.0.1:5000"] http = true`. Default none. */
    buildkitdConfig?: string;
    /** Boot the builder at create (`buildx inspect --bootstrap`). Default `true`. */
    bootstrap?: boolean;
    /** Emulators the builder relies on; it is created after them and replaced when the requested set changes. Default none: the host's emulators as they are. */
    binfmt?: BinfmtSetup;
    /** Keep BuildKit's state on delete (`buildx rm --keep-state`). Default `false`. */
    keepState?: boolean;
}

/**
 * A docker buildx builder, created and bootstrapped by `pulumi up`, recreated when removed
 * out of band (`pulumi refresh` sees it), removed by `pulumi destroy`.
 */
export class BuildxBuilder extends pulumi.ComponentResource {
    /** The builder's name, as `docker buildx ls` lists it. */
    readonly name: pulumi.Output<string>;
    /** The buildx driver. */
    readonly driver: pulumi.Output<string>;
    /** Each node as `buildx ls --format json` reports it: name, endpoint, status, platforms, BuildKit version. */
    readonly nodes: pulumi.Output<BuilderNode[]>;
    /** Every platform some node can build (natively or through the host's emulators). */
    readonly platforms: pulumi.Output<string[]>;
    /** The emulators this builder depends on, if any. */
    readonly binfmt?: BinfmtSetup;
    /**
     * The builder as declared: driver, nodes with their endpoints and declared platforms, the
     * platforms its BinfmtSetup emulates. Known at preview: images plan their builds with it
     * before buildx lists the builder.
     */
    readonly declared: pulumi.Output<DeclaredBuilder>;
    /** The buildkitd.toml text it is created with, if any: images read its registry settings before the builder exists. */
    readonly buildkitdConfig?: string;
    /**
     * The entitlements its BuildKit permits (`--allow-insecure-entitlement` in buildkitdFlags),
     * where this stack starts BuildKit (docker-container, kubernetes); undefined for a remote
     * daemon or the engine's builder, whose flags are not the stack's.
     */
    readonly entitlements?: string[];

    constructor(name: string, args: BuildxBuilderArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.BuildxBuilder, name, {}, componentOptions("BuildxBuilder", opts));
        this.binfmt = args.binfmt;
        this.buildkitdConfig = args.buildkitdConfig;
        if ((args.driver ?? "docker-container") === "docker-container" || args.driver === "kubernetes") {
            this.entitlements = [
                ...(args.buildkitdFlags ?? "").matchAll(/--allow-insecure-entitlement(?:=|\s+)(\S+)/g),
            ].map((m) => m[1]);
        }
        const inputs = {
            ...createBuilderInputs(name, args),
            tls: tlsInputs(name, args),
            // The requested emulators (known at preview): a new set restarts BuildKit, which
            // detects emulators when it starts; re-registering the same ones does not.
            emulated: args.binfmt ? args.binfmt.requestedPlatforms : [],
        };
        const checked = inputs as unknown as CheckedBuilder;
        this.declared = pulumi.output(inputs.emulated).apply((emulated) => ({
            driver: checked.driver,
            nodes: checked.nodes.map((n) => ({
                name: n.name,
                ...(n.endpoint ? { endpoint: n.endpoint } : {}),
                platforms: n.platforms,
            })),
            emulated,
        }));
        const res = new Builder(`${name}-builder`, inputs, {
            parent: this,
            dependsOn: args.binfmt ? [args.binfmt] : [],
        });
        this.name = res.name;
        this.driver = res.driver;
        this.nodes = res.reported;
        this.platforms = res.reportedPlatforms;
        this.registerOutputs({
            name: this.name,
            driver: this.driver,
            nodes: this.nodes,
            platforms: this.platforms,
            declared: this.declared,
        });
    }
}

/** The builder itself, managed by the plugin (provider, builder lifecycle). */
class Builder extends PluginResource {
    declare readonly name: pulumi.Output<string>;
    declare readonly driver: pulumi.Output<string>;
    declare readonly reported: pulumi.Output<BuilderNode[]>;
    declare readonly reportedPlatforms: pulumi.Output<string[]>;

    constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions & { parent: BuildxBuilder }) {
        super(
            RESOURCE_TYPES.Builder,
            name,
            { ...inputs, ...outputsOnly(["reported", "reportedPlatforms", "managed"]) },
            opts,
        );
    }
}

/** `<project>-<stack>-<name>`, in the characters buildx accepts. */
export function defaultBuilderName(name: string): string {
    return `${pulumi.getProject()}-${pulumi.getStack()}-${name}`.replace(/[^a-zA-Z0-9_-]/g, "-");
}

const DRIVERS: Driver[] = ["docker-container", "remote", "kubernetes", "docker"];
export const DEFAULT_BUILDKIT_IMAGE = `moby/buildkit:v${BUILDKIT_VERSION}`;

function kubernetesOpts(k: KubernetesArgs | undefined): Record<string, string> {
    if (!k) return {};
    return {
        ...(k.namespace ? { namespace: k.namespace } : {}),
        ...(k.replicas !== undefined ? { replicas: String(k.replicas) } : {}),
        ...(k.nodeSelector
            ? {
                  nodeselector: Object.entries(k.nodeSelector)
                      .map(([a, b]) => `${a}=${b}`)
                      .join(","),
              }
            : {}),
    };
}

type CheckedBuilder = Omit<BuilderInputs, "emulated" | "tls">;

/** Validates and normalizes the args (plain values, so errors stop the program at preview); one Output per property. */
export function createBuilderInputs(name: string, args: BuildxBuilderArgs): pulumi.Inputs {
    const errs = new ArgErrors("BuildxBuilder");
    const driver = args.driver ?? "docker-container";
    const builderName = args.name ?? (driver === "docker" ? "default" : defaultBuilderName(name));
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(builderName))
        errs.add("name", `"${builderName}" is not a valid builder name: use letters, digits, "-", "_" and "."`);
    if (!DRIVERS.includes(driver)) errs.add("driver", `unknown driver "${driver}": use one of ${DRIVERS.join(", ")}`);
    const endpointOk = (e: string | undefined, prop: string) => {
        if (driver === "remote" && !e)
            errs.add(prop, `the remote driver needs an endpoint: tcp://host:port or unix:///path/buildkitd.sock`);
        if (e && driver === "remote" && !/^(tcp|unix):\/\/.+/.test(e))
            errs.add(prop, `"${e}" is not a BuildKit endpoint: write tcp://host:port or unix:///path/buildkitd.sock`);
    };
    // TLS is for tcp:// (a unix socket's daemon ignores it, so buildx could not connect).
    const tlsOk = (tls: TlsArgs | undefined, e: string | undefined, prop: string) => {
        if (!tls) return;
        if (driver !== "remote")
            errs.add(prop, `TLS applies to the remote driver's tcp:// nodes, not driver "${driver}": remove ${prop}`);
        else if (e && !e.startsWith("tcp://"))
            errs.add(
                prop,
                `TLS applies to tcp:// endpoints, not ${e}: remove ${prop} or reach the node on tcp://host:port`,
            );
        const [set, unset] = tls.cert === undefined ? ["key", "cert"] : ["cert", "key"];
        if ((tls.cert === undefined) !== (tls.key === undefined))
            errs.add(prop, `${set} is set without ${unset}: a client certificate needs its private key`);
    };
    endpointOk(args.endpoint, "endpoint");
    tlsOk(args.tls, args.endpoint, "tls");
    if (args.image && driver !== "docker-container")
        errs.add("image", `image applies to the docker-container driver only, not "${driver}"`);
    if (args.kubernetes && driver !== "kubernetes")
        errs.add("kubernetes", `kubernetes options need driver "kubernetes", not "${driver}"`);
    if (driver === "docker" && (args.nodes?.length || args.platforms?.length))
        errs.add(
            "driver",
            `the docker driver uses the engine's own builder as it is: drop nodes and platforms, or use "docker-container"`,
        );
    const first: NodeOptions = {
        name: `${builderName}0`,
        ...(args.endpoint ? { endpoint: args.endpoint } : {}),
        platforms: checkPlatforms(errs, "platforms", args.platforms, false),
        driverOpts: {
            ...(driver === "docker-container"
                ? { image: args.image ?? process.env.PULUMI_MULTIARCH_BUILDKIT_IMAGE ?? DEFAULT_BUILDKIT_IMAGE }
                : {}),
            ...kubernetesOpts(args.kubernetes),
            ...(args.driverOpts ?? {}),
        },
    };
    const names = new Set([first.name]);
    const more: NodeOptions[] = (args.nodes ?? []).map((n, i) => {
        const nodeName = n.name ?? `${builderName}${i + 1}`;
        if (names.has(nodeName))
            errs.add(`nodes[${i}].name`, `node name "${nodeName}" is used twice: give each node its own name`);
        names.add(nodeName);
        endpointOk(n.endpoint, `nodes[${i}].endpoint`);
        tlsOk(n.tls, n.endpoint, `nodes[${i}].tls`);
        if (driver === "docker-container" && n.endpoint)
            errs.add(
                `nodes[${i}].endpoint`,
                `docker-container nodes run on a docker context, not an endpoint URL; use driver "remote" for BuildKit daemons`,
            );
        return {
            name: nodeName,
            ...(n.endpoint ? { endpoint: n.endpoint } : {}),
            platforms: checkPlatforms(errs, `nodes[${i}].platforms`, n.platforms, false),
            driverOpts: { ...kubernetesOpts(n.kubernetes), ...(n.driverOpts ?? {}) },
        };
    });
    errs.throwIfAny();
    const checked: CheckedBuilder = {
        name: builderName,
        driver,
        nodes: [first, ...more],
        bootstrap: args.bootstrap ?? true,
        keepState: args.keepState ?? false,
        owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
        ...(args.buildkitdFlags ? { buildkitdFlags: args.buildkitdFlags } : {}),
        ...(args.buildkitdConfig ? { buildkitdConfig: args.buildkitdConfig } : {}),
    };
    return { ...checked };
}

/** node name -> TLS material (secrets), from the first node's and each extra node's `tls`. */
function tlsInputs(name: string, args: BuildxBuilderArgs): pulumi.Output<Record<string, TlsMaterial>> {
    const builderName = args.name ?? defaultBuilderName(name);
    const entries: [string, TlsArgs][] = [];
    if (args.tls) entries.push([`${builderName}0`, args.tls]);
    (args.nodes ?? []).forEach((n, i) => {
        if (n.tls) entries.push([n.name ?? `${builderName}${i + 1}`, n.tls]);
    });
    return pulumi
        .all(
            entries.map(([node, t]) =>
                pulumi
                    .all([t.cacert, t.cert, t.key])
                    .apply(
                        ([cacert, cert, key]) =>
                            [
                                node,
                                { ...(cacert ? { cacert } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) },
                            ] as [string, TlsMaterial],
                    ),
            ),
        )
        .apply((pairs) => Object.fromEntries(pairs));
}
