// `construct` of the components, for programs in other languages (Pulumi YAML,
// Python, ...): the engine asks the plugin to build a component, and the plugin runs the very
// classes a TypeScript program uses, so every language gets the same checks and children.
import * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";

import { BinfmtSetup } from "../components/binfmtSetup";
import { BuildxBuilder } from "../components/buildxBuilder";
import { Index } from "../components/imageIndex";
import { ImagePromotion } from "../components/imagePromotion";
import { MultiArchImage } from "../components/multiArchImage";
import { COMPONENT_TYPES, type ComponentType, PACKAGE, VERSION } from "../contract/tokens";

/**
 * A component made earlier in the same program, passed by reference (`builder: ${builder}`
 * in YAML): its outputs come from the engine, which is all a dependent component reads.
 */
class ComponentReference extends pulumi.ComponentResource {
    constructor(type: ComponentType, name: string, urn: string, outputs: readonly string[]) {
        super(type, name, Object.fromEntries(outputs.map((k) => [k, undefined])), { urn });
    }
}

/** Outputs a dependent component reads from a referenced one. */
const REFERENCED_OUTPUTS: Partial<Record<ComponentType, readonly string[]>> = {
    [COMPONENT_TYPES.BinfmtSetup]: ["requestedPlatforms", "platforms"],
    [COMPONENT_TYPES.BuildxBuilder]: ["name", "platforms", "declared"],
};

pulumi.runtime.registerResourceModule(PACKAGE, "index", {
    version: VERSION,
    construct: (name, type, urn) =>
        new ComponentReference(type as ComponentType, name, urn, REFERENCED_OUTPUTS[type as ComponentType] ?? []),
});

interface OutputInternals {
    isKnown: Promise<boolean>;
    isSecret: Promise<boolean>;
    promise(): Promise<unknown>;
}

/**
 * Component args from construct's inputs (each an Output): a known value becomes plain, as
 * a TypeScript program would pass it (several args must be plain: context, driver, nodes);
 * a secret stays a secret, each of its fields when it is an object (registry, host, tls);
 * a value unknown at preview stays an Output (args that take Inputs accept it).
 */
async function argsOf(inputs: pulumi.Inputs): Promise<Record<string, unknown>> {
    const args: Record<string, unknown> = {};
    for (const [key, input] of Object.entries(inputs)) {
        if (!pulumi.Output.isInstance(input)) {
            args[key] = input;
            continue;
        }
        const o = input as unknown as OutputInternals;
        if (!(await o.isKnown)) {
            args[key] = input;
            continue;
        }
        const value = await o.promise();
        if (!(await o.isSecret)) {
            args[key] = value;
            continue;
        }
        args[key] =
            value && typeof value === "object" && !Array.isArray(value)
                ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, pulumi.secret(v)]))
                : pulumi.secret(value);
    }
    return args;
}

/** The component's public outputs, from its own fields (no list to keep in step). */
function stateOf(component: pulumi.ComponentResource): pulumi.Inputs {
    return Object.fromEntries(Object.entries(component).filter(([k, v]) => k !== "urn" && pulumi.Output.isInstance(v)));
}

export const construct: NonNullable<provider.Provider["construct"]> = async (name, type, inputs, options) => {
    const args = (await argsOf(inputs)) as any;
    const component =
        type === COMPONENT_TYPES.BinfmtSetup
            ? new BinfmtSetup(name, args, options)
            : type === COMPONENT_TYPES.BuildxBuilder
              ? new BuildxBuilder(name, args, options)
              : type === COMPONENT_TYPES.ImagePromotion
                ? new ImagePromotion(name, args, options)
                : type === COMPONENT_TYPES.Index
                  ? new Index(name, args, options)
                  : new MultiArchImage(name, args, options);
    return { urn: component.urn, state: stateOf(component) };
};
