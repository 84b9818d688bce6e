import * as pulumi from "@pulumi/pulumi";

/**
 * Turns an Output of a plain object into one Output per key, the shape dynamic resources
 * take as props; `outputs` are the keys only the provider fills in.
 */
export function props<T extends object>(value: pulumi.Output<T>, inputs: readonly (keyof T & string)[], outputs: readonly string[]): pulumi.Inputs {
    const out: pulumi.Inputs = {};
    for (const k of inputs) out[k] = value.apply((v) => (v as any)[k]);
    for (const k of outputs) out[k] = undefined;
    return out;
}
