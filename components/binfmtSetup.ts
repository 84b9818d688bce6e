import * as pulumi from "@pulumi/pulumi";

import { COMPONENT_TYPES, RESOURCE_TYPES } from "../contract/tokens";
import type { BinfmtInputs } from "../contract/types";
import type { Handler } from "../core/binfmt";
import { DEBIAN_BINFMTS_DIR } from "../core/binfmt";
import type { HostSpec } from "../core/host";
import { ARCHITECTURES } from "../core/platform";
import { componentOptions, outputsOnly, PluginResource, spread } from "./resourceProps";
import { ArgErrors, checkPlatforms, validated } from "./validate";

export type { Handler } from "../core/binfmt";

/**
 * A builder host reached over SSH, with key authentication. The shape of `@pulumi/command`'s
 * `remote.ConnectionArgs`: a connection object made for `remote.Command`s on the same host can
 * be passed as it is (its password and proxy fields are refused with the fix).
 */
export interface SshHostArgs {
    /** Host name or address. */
    host: pulumi.Input<string>;
    /** Default 22. */
    port?: pulumi.Input<number>;
    /** Default "root": registering handlers needs root. */
    user?: pulumi.Input<string>;
    /** PEM private key. Kept secret: state encrypts it; it reaches ssh as a 0600 file, never argv. Default: ssh's own keys/agent. */
    privateKey?: pulumi.Input<string>;
    /** The host's public key ("ssh-ed25519 AAAA..."), pinning the host. Default: ~/.ssh/known_hosts. */
    hostKey?: pulumi.Input<string>;
    /** An SSH agent's socket holding the key (SSH_AUTH_SOCK). Default: the environment's SSH_AUTH_SOCK. */
    agentSocketPath?: pulumi.Input<string>;
    /** Seconds to wait for each connection (ssh ConnectTimeout). Default `10`. */
    perDialTimeout?: pulumi.Input<number>;
    /** Connection attempts before giving up (ssh ConnectionAttempts). Default `1`. */
    dialErrorLimit?: pulumi.Input<number>;
    /** Not supported (password authentication): refused at preview. Default none: use privateKey or an agent. */
    password?: pulumi.Input<string>;
    /** Not supported (an encrypted privateKey): refused at preview. Default none: load the key into an agent (agentSocketPath). */
    privateKeyPassword?: pulumi.Input<string>;
    /** Not supported (a jump host): refused at preview. Default none: reach the host directly, or set ProxyJump in ~/.ssh/config. */
    proxy?: pulumi.Input<object>;
}

/** Arguments of {@link BinfmtSetup}. */
export interface BinfmtSetupArgs {
    /**
     * Platforms to emulate: linux/arm64, linux/arm/v7, linux/arm/v6, linux/ppc64le,
     * linux/s390x, linux/riscv64, linux/386, linux/amd64, or `["all"]`. Platforms the host
     * runs natively (its own, and 386 on amd64) are never registered.
     */
    platforms: pulumi.Input<string[]>;
    /**
     * binfmt_misc flags every handler must carry. Default `"F"` ("fix binary": the kernel
     * opens the interpreter at registration, so containers can use it; needs kernel 4.8+).
     */
    flags?: pulumi.Input<string>;
    /**
     * How handlers are registered. `"host"` (default): from the definitions of the installed
     * qemu-user-static package, written to /proc/sys/fs/binfmt_misc/register (needs root).
     * `"container"`: a privileged emulator-install image (`image`), as the article does
     * with docker/binfmt; it is run as `<image> --install <arch,...>`.
     */
    method?: pulumi.Input<"host" | "container">;
    /** Emulator-install image for method "container", pinned by digest (`name@sha256:...`). Default none: required for "container". */
    image?: pulumi.Input<string>;
    /** Accept an `image` not pinned by digest. Default `false`: a privileged image must not change under you. */
    allowUnpinnedImage?: pulumi.Input<boolean>;
    /** The builder host. Default: this machine. */
    host?: SshHostArgs;
    /** Where the host keeps qemu-user-static's definitions. Default `/usr/share/binfmts` (Debian, Ubuntu). */
    definitionsDir?: pulumi.Input<string>;
}

/**
 * The QEMU user-mode emulators (binfmt_misc handlers) on a builder host, as state:
 * registered if missing, verified by reading /proc/sys/fs/binfmt_misc/qemu-* and by running
 * a tiny program of each emulated architecture, re-registered after a reboot wiped them
 * (`pulumi refresh` then `pulumi up`). Handlers that existed before are used, never removed.
 */
export class BinfmtSetup extends pulumi.ComponentResource {
    /** Handler name (e.g. `qemu-aarch64`) -> what the kernel reports for it. */
    readonly handlers: pulumi.Output<Record<string, Handler>>;
    /** The native platforms plus every emulated platform a test program actually ran on. */
    readonly platforms: pulumi.Output<string[]>;
    /** Platforms this setup emulates (requested, normalized, minus what the host runs natively). */
    readonly emulatedPlatforms: pulumi.Output<string[]>;
    /** Handlers this resource registered, and so removes on destroy. */
    readonly ownedHandlers: pulumi.Output<string[]>;
    /** The requested platforms, normalized; known at preview, so dependents can key on it. */
    readonly requestedPlatforms: pulumi.Output<string[]>;
    /** Wanted handler -> why it no longer serves (after `pulumi refresh`); empty when all is well. */
    readonly drift: pulumi.Output<Record<string, string>>;
    /** The builder host's kernel release (`uname -r`); flag F needs 4.8 or later. */
    readonly kernelVersion: pulumi.Output<string>;

    constructor(name: string, args: BinfmtSetupArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.BinfmtSetup, name, {}, componentOptions("BinfmtSetup", opts));
        const checked = createBinfmtInputs(args);
        this.requestedPlatforms = checked.platforms;
        const res = new BinfmtHandlers(`${name}-handlers`, { ...checked, host: hostSpec(args.host) }, { parent: this });
        this.handlers = res.handlers;
        this.platforms = res.runnable;
        this.emulatedPlatforms = res.emulated;
        this.ownedHandlers = res.owned;
        this.drift = res.handlerStatus.apply((st) =>
            Object.fromEntries(Object.entries(st ?? {}).filter(([, v]) => v !== "ok")),
        );
        this.kernelVersion = res.kernelVersion;
        this.registerOutputs({
            handlers: this.handlers,
            platforms: this.platforms,
            emulatedPlatforms: this.emulatedPlatforms,
            ownedHandlers: this.ownedHandlers,
            drift: this.drift,
            kernelVersion: this.kernelVersion,
            requestedPlatforms: this.requestedPlatforms,
        });
    }
}

/** The handlers themselves, managed by the plugin (provider, binfmt lifecycle). */
class BinfmtHandlers extends PluginResource {
    declare readonly handlers: pulumi.Output<Record<string, Handler>>;
    declare readonly runnable: pulumi.Output<string[]>;
    declare readonly emulated: pulumi.Output<string[]>;
    declare readonly owned: pulumi.Output<string[]>;
    declare readonly handlerStatus: pulumi.Output<Record<string, string>>;
    declare readonly kernelVersion: pulumi.Output<string>;

    constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions & { parent: BinfmtSetup }) {
        super(
            RESOURCE_TYPES.BinfmtHandlers,
            name,
            {
                ...inputs,
                ...outputsOnly([
                    "handlers",
                    "owned",
                    "emulated",
                    "runnable",
                    "kernelVersion",
                    "hostMachine",
                    "handlerStatus",
                ]),
            },
            opts,
        );
    }
}

type CheckedBinfmt = Omit<BinfmtInputs, "host" | "handlerStatus">;

/**
 * Validates and normalizes the args (all but the host); every error names its property and
 * the fix. One Output per property.
 */
export function createBinfmtInputs(args: BinfmtSetupArgs): {
    [K in keyof CheckedBinfmt]-?: pulumi.Output<CheckedBinfmt[K]>;
} {
    const checked = validated(
        {
            platforms: args.platforms,
            flags: args.flags ?? "F",
            method: args.method ?? "host",
            image: args.image,
            allowUnpinnedImage: args.allowUnpinnedImage ?? false,
            definitionsDir: args.definitionsDir ?? DEBIAN_BINFMTS_DIR,
            hostName: args.host?.host,
            password: args.host?.password,
            keyPassword: args.host?.privateKeyPassword,
            proxy: args.host?.proxy,
        },
        ({
            platforms,
            flags,
            method,
            image,
            allowUnpinnedImage,
            definitionsDir,
            hostName,
            password,
            keyPassword,
            proxy,
        }): CheckedBinfmt => {
            const errs = new ArgErrors("BinfmtSetup");
            const requested = (platforms ?? []).includes("all")
                ? Object.keys(ARCHITECTURES).map((a) => `linux/${a}`)
                : platforms;
            const normalized = checkPlatforms(errs, "platforms", requested);
            if (!/^[POCF]*$/.test(flags))
                errs.add("flags", `"${flags}" has unknown letters: use any of P, O, C, F (default "F")`);
            if (method !== "host" && method !== "container")
                errs.add("method", `"${method}" is not a method: use "host" or "container"`);
            if (method === "container" && !image)
                errs.add(
                    "image",
                    `method "container" needs an emulator-install image pinned by digest, e.g. "127.0.0.1:5000/fixtures/binfmt@sha256:..."`,
                );
            if (image && !/@sha256:[a-f0-9]{64}$/.test(image) && !allowUnpinnedImage) {
                errs.add(
                    "image",
                    `"${image}" is not pinned by digest: write name@sha256:<digest>, or set allowUnpinnedImage: true to accept an image that can change under you`,
                );
            }
            if (args.host && !hostName) errs.add("host.host", "give the builder host's name or address");
            if (password) {
                errs.add(
                    "host.password",
                    "BinfmtSetup reaches hosts with key authentication only: give privateKey, or an agent holding the key (agentSocketPath)",
                );
            }
            if (keyPassword) {
                errs.add(
                    "host.privateKeyPassword",
                    "an encrypted privateKey cannot be used without a prompt: load it into an SSH agent and give agentSocketPath",
                );
            }
            if (proxy)
                errs.add(
                    "host.proxy",
                    "jump hosts are not supported: reach the builder host directly, or set ProxyJump for it in ~/.ssh/config",
                );
            errs.throwIfAny();
            return {
                platforms: normalized,
                flags,
                method,
                allowUnpinnedImage,
                definitionsDir,
                ...(image ? { image } : {}),
            };
        },
    );
    return spread(checked, ["platforms", "flags", "method", "image", "allowUnpinnedImage", "definitionsDir"]) as any;
}

function hostSpec(h: SshHostArgs | undefined): pulumi.Output<HostSpec> {
    if (!h) return pulumi.output({ kind: "local" as const });
    return pulumi
        .all([h.host, h.port, h.user, h.privateKey, h.hostKey, h.agentSocketPath, h.perDialTimeout, h.dialErrorLimit])
        .apply(([name, port, user, privateKey, hostKey, agentSocketPath, connectTimeout, connectionAttempts]) => ({
            kind: "ssh" as const,
            host: name,
            port: port ?? 22,
            user: user ?? "root",
            ...(privateKey ? { privateKey } : {}),
            ...(hostKey ? { hostKey } : {}),
            ...(agentSocketPath ? { agentSocketPath } : {}),
            ...(connectTimeout !== undefined ? { connectTimeout } : {}),
            ...(connectionAttempts !== undefined ? { connectionAttempts } : {}),
        }));
}
