// OCI platform strings ("linux/arm64", "linux/arm/v7") and how the kernel and QEMU name
// the same machines.

export interface Platform {
    os: string;
    architecture: string;
    variant?: string;
}

interface Arch {
    /** QEMU's name for the architecture: qemu-<name>, binfmt handler qemu-<name>. */
    qemu: string;
    /** ELF e_machine value of binaries built for it. */
    elfMachine: number;
    /** What `uname -m` prints on it. */
    uname: string;
    variants?: string[];
}

/** The architectures this library can build and emulate. */
export const ARCHITECTURES: Record<string, Arch> = {
    amd64: { qemu: "x86_64", elfMachine: 62, uname: "x86_64" },
    arm64: { qemu: "aarch64", elfMachine: 183, uname: "aarch64", variants: ["v8"] },
    arm: { qemu: "arm", elfMachine: 40, uname: "armv7l", variants: ["v6", "v7"] },
    "386": { qemu: "i386", elfMachine: 3, uname: "i686" },
    ppc64le: { qemu: "ppc64le", elfMachine: 21, uname: "ppc64le" },
    s390x: { qemu: "s390x", elfMachine: 22, uname: "s390x" },
    riscv64: { qemu: "riscv64", elfMachine: 243, uname: "riscv64" },
};

export class PlatformError extends Error {}

/** Parses and normalizes "os/arch[/variant]"; arm64/v8 becomes arm64, as buildx does. */
export function parsePlatform(text: string): Platform {
    const parts = text.trim().split("/");
    const known = Object.keys(ARCHITECTURES)
        .map((a) => `linux/${a}`)
        .join(", ");
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
        throw new PlatformError(`"${text}" is not a platform: write os/arch[/variant], one of ${known}`);
    }
    const [os, architecture, variant] = parts;
    if (os !== "linux") {
        throw new PlatformError(`"${text}": only linux images can be built here; use one of ${known}`);
    }
    const arch = ARCHITECTURES[architecture];
    if (!arch) throw new PlatformError(`"${text}": unknown architecture "${architecture}"; use one of ${known}`);
    if (variant !== undefined && !(arch.variants ?? []).includes(variant)) {
        throw new PlatformError(
            `"${text}": unknown variant "${variant}" for ${architecture}; known: ${(arch.variants ?? ["none"]).join(", ")}`,
        );
    }
    if (architecture === "arm64" && variant === "v8") return { os, architecture };
    if (architecture === "arm" && variant === undefined) return { os, architecture, variant: "v7" };
    return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
    return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** Normalized "os/arch[/variant]" string. */
export function normalizePlatform(text: string): string {
    return formatPlatform(parsePlatform(text));
}

export function qemuName(platform: string): string {
    return ARCHITECTURES[parsePlatform(platform).architecture].qemu;
}
