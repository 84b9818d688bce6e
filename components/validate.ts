// Argument checks that run in the program, so bad input fails at `pulumi preview` with the
// property path and the fix, before anything is created.
import * as pulumi from "@pulumi/pulumi";

import { formatPlatform, parsePlatform } from "../core/platform";

export class ArgErrors {
    private readonly errors: { propertyPath: string; reason: string }[] = [];

    constructor(private readonly resource: string) {}

    add(propertyPath: string, reason: string): void {
        this.errors.push({ propertyPath, reason });
    }

    /** How many problems were found so far. */
    get count(): number {
        return this.errors.length;
    }

    /** Throws one InputPropertiesError listing every problem found. */
    throwIfAny(): void {
        if (this.errors.length === 0) return;
        const lines = this.errors.map((e) => `  ${e.propertyPath}: ${e.reason}`).join("\n");
        throw new pulumi.InputPropertiesError({
            message: `invalid arguments for ${this.resource}:\n${lines}`,
            errors: this.errors,
        });
    }
}

/** Normalizes platform strings, recording an error per bad one; dedupes, keeps order. */
export function checkPlatforms(
    errs: ArgErrors,
    prop: string,
    platforms: readonly string[] | undefined,
    required = true,
): string[] {
    if (!platforms || platforms.length === 0) {
        if (required) errs.add(prop, `give at least one platform, e.g. ["linux/amd64", "linux/arm64"]`);
        return [];
    }
    const out: string[] = [];
    platforms.forEach((p, i) => {
        try {
            const n = formatPlatform(parsePlatform(p));
            if (!out.includes(n)) out.push(n);
        } catch (e) {
            errs.add(`${prop}[${i}]`, (e as Error).message);
        }
    });
    return out;
}

function isKnownPlain(v: unknown): boolean {
    if (pulumi.Output.isInstance(v) || v instanceof Promise) return false;
    if (Array.isArray(v)) return v.every(isKnownPlain);
    if (v && typeof v === "object") return Object.values(v).every(isKnownPlain);
    return true;
}

/**
 * Runs `check` on the resolved inputs, named (never a tuple whose order could swap two). When every input is a plain value (the usual case)
 * it runs now, so bad input throws from the constructor: the program stops at preview with
 * the message, before any resource is registered. Otherwise it runs once the values are known.
 */
export function validated<T extends Record<string, unknown>, U>(
    inputs: T,
    check: (values: { [K in keyof T]: pulumi.Unwrap<T[K]> }) => U,
): pulumi.Output<U> {
    type Values = { [K in keyof T]: pulumi.Unwrap<T[K]> };
    if (Object.values(inputs).every(isKnownPlain)) return pulumi.output(check(inputs as Values)) as pulumi.Output<U>;
    return (pulumi.all(inputs) as unknown as pulumi.Output<Values>).apply((values) =>
        check(values),
    ) as pulumi.Output<U>;
}
