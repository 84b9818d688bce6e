// How the program side registers the plugin's resources: props shaped one Output per key,
// pinned to this library's plugin version, with the 0.1 type tokens as aliases.
import * as pulumi from "@pulumi/pulumi";

import {
    type COMPONENT_TYPES,
    LEGACY_COMPONENT_TYPE,
    LEGACY_DYNAMIC_TYPE,
    type ResourceType,
    SECRET_OUTPUTS,
    VERSION,
} from "../contract/tokens";

/**
 * Turns an Output of a plain object into one Output per key, the shape resources take as
 * props. Inputs that come from other resources are passed beside it, each as its own
 * property, so an unknown value at preview makes only that property unknown.
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

/** Options of a component: its 0.1 type token as an alias, so a 0.1 stack keeps it. */
export function componentOptions(
    component: keyof typeof COMPONENT_TYPES,
    opts?: pulumi.ComponentResourceOptions,
): pulumi.ComponentResourceOptions {
    return { ...opts, aliases: [...(opts?.aliases ?? []), { type: LEGACY_COMPONENT_TYPE(component) }] };
}

/**
 * A resource served by pulumi-resource-multiarch at this library's version. A 0.1 stack
 * held it as a dynamic resource under the component's 0.1 type: both are aliases, so one
 * `pulumi up` moves it without replacing it. Its secret properties (contract/tokens.ts
 * SECRET_OUTPUTS, the list the plugin seals) stay encrypted in the state even when given
 * as plain strings; a name the outputs lack (the Image's build secrets) is ignored.
 */
export class PluginResource extends pulumi.CustomResource {
    constructor(
        type: ResourceType,
        name: string,
        props: pulumi.Inputs,
        opts: pulumi.CustomResourceOptions & { parent: pulumi.ComponentResource },
    ) {
        const legacyParent = opts.parent.urn.apply((urn) =>
            urn.replace(/(::|\$)multiarch:index:(\w+)::(.*)$/, "$1pulumi-multiarch:index:$2::$3"),
        );
        super(type, name, props, {
            ...opts,
            version: VERSION,
            additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), ...SECRET_OUTPUTS[type]],
            aliases: [
                ...(opts.aliases ?? []),
                { type: LEGACY_DYNAMIC_TYPE(type) },
                { type: LEGACY_DYNAMIC_TYPE(type), parent: legacyParent },
            ],
        });
    }
}
