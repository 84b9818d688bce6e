import * as pulumi from "@pulumi/pulumi";

/**
 * Turns an Output of a plain object into one Output per key, the shape dynamic resources
 * take as props. Inputs that come from other resources are passed beside it, each as its
 * own property, so an unknown value at preview makes only that property unknown.
 */
export function spread<T extends object>(value: pulumi.Output<T>, keys: readonly (keyof T & string)[]): pulumi.Inputs {
    const out: pulumi.Inputs = {};
    for (const k of keys) out[k] = value.apply((v) => (v as any)[k]);
    return out;
}

/** Placeholders for the properties only the provider fills in. */
export function outputsOnly(keys: readonly string[]): pulumi.Inputs {
    return Object.fromEntries(keys.map((k) => [k, undefined]));
}
