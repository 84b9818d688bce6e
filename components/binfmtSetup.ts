import * as pulumi from "@pulumi/pulumi";
import * as os from "os";
import { hostPlatform, ARCHITECTURES } from "./core/platform";
import type { Handler } from "./core/binfmt";
import { DEBIAN_BINFMTS_DIR } from "./core/binfmt";
import { binfmtProvider, BinfmtInputs } from "./providers/binfmtProvider";
import { props } from "./dynamic";
import { ArgErrors, checkPlatforms } from "./validate";

export type { Handler } from "./core/binfmt";

/** Arguments of {@link BinfmtSetup}. */
export interface BinfmtSetupArgs {
    /**
     * Platforms to emulate, e.g. `["linux/arm64"]`, or `["all"]` for every architecture
     * this library knows. The host's own platform is never registered (it runs natively).
     */
    platforms: pulumi.Input<string[]>;
    /**
     * binfmt_misc flags every handler must carry. Default `"F"` ("fix binary": the kernel
     * opens the interpreter at registration, so containers can use it; needs kernel 4.8+).
     */
    flags?: pulumi.Input<string>;
    /**
     * How handlers are registered. Default `"host"`: from the definitions of the installed
     * qemu-user-static package, written to /proc/sys/fs/binfmt_misc/register (needs root).
     */
    method?: pulumi.Input<"host">;
}

/**
 * The QEMU user-mode emulators (binfmt_misc handlers) on the builder host, as state:
 * registered if missing, verified by reading /proc/sys/fs/binfmt_misc/qemu-* and by running
 * a tiny program of each emulated architecture, re-registered after a reboot wiped them
 * (`pulumi refresh` then `pulumi up`). Handlers that existed before are used, never removed.
 */
export class BinfmtSetup extends pulumi.ComponentResource {
    /** Handler name (e.g. `qemu-aarch64`) -> what the kernel reports for it. */
    readonly handlers: pulumi.Output<Record<string, Handler>>;
    /** The native platform plus every emulated platform a test program actually ran on. */
    readonly platforms: pulumi.Output<string[]>;
    /** Platforms emulated by this setup (requested, normalized, without the native one). */
    readonly emulatedPlatforms: pulumi.Output<string[]>;
    /** Handlers this resource registered, and so removes on destroy. */
    readonly ownedHandlers: pulumi.Output<string[]>;
    readonly kernelVersion: pulumi.Output<string>;

    constructor(name: string, args: BinfmtSetupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pulumi-multiarch:index:BinfmtSetup", name, {}, opts);
        const inputs = createBinfmtInputs(args);
        const res = new BinfmtHandlers(`${name}-handlers`, inputs, { parent: this });
        this.handlers = res.handlers;
        this.platforms = res.runnable;
        this.emulatedPlatforms = res.platforms;
        this.ownedHandlers = res.owned;
        this.kernelVersion = res.kernelVersion;
        this.registerOutputs({ handlers: this.handlers, platforms: this.platforms, emulatedPlatforms: this.emulatedPlatforms, ownedHandlers: this.ownedHandlers, kernelVersion: this.kernelVersion });
    }
}

/** The handlers themselves, managed by {@link binfmtProvider}. */
class BinfmtHandlers extends pulumi.dynamic.Resource {
    declare readonly handlers: pulumi.Output<Record<string, Handler>>;
    declare readonly runnable: pulumi.Output<string[]>;
    declare readonly platforms: pulumi.Output<string[]>;
    declare readonly owned: pulumi.Output<string[]>;
    declare readonly kernelVersion: pulumi.Output<string>;

    constructor(name: string, inputs: pulumi.Output<BinfmtInputs>, opts: pulumi.CustomResourceOptions) {
        super(binfmtProvider, name, props(inputs, ["platforms", "flags", "method", "definitionsDir"],
            ["handlers", "owned", "runnable", "kernelVersion"]), opts, "multiarch", "BinfmtHandlers");
    }
}

/** Validates and normalizes the args; every error names its property and the fix. */
export function createBinfmtInputs(args: BinfmtSetupArgs): pulumi.Output<BinfmtInputs> {
    return pulumi.all([args.platforms, args.flags ?? "F", args.method ?? "host"]).apply(([platforms, flags, method]) => {
        const errs = new ArgErrors("BinfmtSetup");
        const requested = platforms.includes("all") ? Object.keys(ARCHITECTURES).map((a) => `linux/${a}`) : platforms;
        const host = hostPlatform();
        const normalized = checkPlatforms(errs, "platforms", requested).filter((p) => p !== host);
        if (!/^[POCF]*$/.test(flags)) errs.add("flags", `"${flags}" has unknown letters: use any of P, O, C, F (default "F")`);
        if (method !== "host") errs.add("method", `"${method}" is not supported: use "host"`);
        if (flags.includes("F")) {
            const [maj, min] = os.release().split(".").map(Number);
            if (maj < 4 || (maj === 4 && min < 8)) errs.add("flags", `flag F needs Linux 4.8 or newer, this host runs ${os.release()}: upgrade the kernel (the article's advice for old CentOS) or drop F`);
        }
        errs.throwIfAny();
        return { platforms: normalized, flags, method, definitionsDir: DEBIAN_BINFMTS_DIR };
    });
}
