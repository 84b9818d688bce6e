// The provider plugin's ResourceProvider: one table from type token to the lifecycle that
// manages it, and `construct` of the components for programs in other languages.
// Lifecycles see plain values (wire.ts) and never the engine.
import type * as provider from "@pulumi/pulumi/provider";

import {
    COMPONENT_TYPES,
    LEGACY_PROVIDER_KEY,
    RESOURCE_TYPES,
    type ResourceType,
    SECRET_OUTPUTS,
    VERSION,
} from "../contract/tokens";
import { withResource } from "./engineLog";
import type { Lifecycle } from "./lifecycle";
import { cancel } from "./lifetime";
import { binfmtProvider } from "./resources/binfmt";
import { builderProvider } from "./resources/builder";
import { imageProvider } from "./resources/image";
import { indexProvider } from "./resources/indexManifest";
import { promotionProvider } from "./resources/promotion";
import { reveal, seal, secretKeys, typeOfUrn } from "./wire";

export const LIFECYCLES: Record<ResourceType, Lifecycle> = {
    [RESOURCE_TYPES.BinfmtHandlers]: binfmtProvider,
    [RESOURCE_TYPES.Builder]: builderProvider,
    [RESOURCE_TYPES.Image]: imageProvider,
    [RESOURCE_TYPES.ImageCopy]: promotionProvider,
    [RESOURCE_TYPES.IndexManifest]: indexProvider,
};

function lifecycleOf(urn: string): { type: ResourceType; lc: Lifecycle } {
    const type = typeOfUrn(urn) as ResourceType;
    const lc = LIFECYCLES[type];
    if (!lc)
        throw new Error(
            `pulumi-resource-multiarch ${VERSION} has no resource type ${type}: upgrade the plugin, or check the type token`,
        );
    return { type, lc };
}

/** A 0.1 dynamic resource's state without its serialized provider code. */
function withoutLegacy(props: any): any {
    if (!props || typeof props !== "object" || !(LEGACY_PROVIDER_KEY in props)) return props;
    const { [LEGACY_PROVIDER_KEY]: _code, ...rest } = props;
    return rest;
}

/** Outputs sealed: the type's secret outputs, and whatever the inputs held as secrets. */
function sealed(type: ResourceType, outs: any, inputs?: any): any {
    return outs && seal(outs, [...SECRET_OUTPUTS[type], ...secretKeys(inputs)]);
}

/** Inputs that are no output: the Image's build secrets (the state keeps only how often they changed). */
const NOT_OUTPUTS: Partial<Record<ResourceType, readonly string[]>> = { [RESOURCE_TYPES.Image]: ["secrets"] };

/** A resource at preview as the program sees it (preview.ts): its checked inputs, but those that are no output. */
export function previewOutputs(urn: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const hidden = NOT_OUTPUTS[typeOfUrn(urn) as ResourceType] ?? [];
    return Object.fromEntries(Object.entries(inputs).filter(([k]) => !hidden.includes(k)));
}

export interface ProviderOptions {
    /** The package schema (JSON text) served by GetSchema. */
    schema: string;
    /** Builds a component in this process (other languages' programs); loaded on first use. */
    construct?: provider.Provider["construct"];
}

export function multiarchProvider(opts: ProviderOptions): provider.Provider {
    return {
        version: VERSION,
        schema: opts.schema,

        check: (urn, olds, news) =>
            withResource(urn, async () => {
                const { type, lc } = lifecycleOf(urn);
                const plain = withoutLegacy(reveal(news));
                const r = await lc.check(withoutLegacy(reveal(olds)), plain);
                return { inputs: sealed(type, r.inputs ?? plain, news), failures: r.failures ?? [] };
            }),

        diff: (id, urn, olds, news) =>
            withResource(urn, async () => {
                const { lc } = lifecycleOf(urn);
                const r = await lc.diff(id, withoutLegacy(reveal(olds)), reveal(news));
                // A resource of 0.1 still carries its serialized provider code: an update (that
                // builds nothing, see update) rewrites its state without it.
                if (olds && LEGACY_PROVIDER_KEY in olds && !r.replaces?.length) return { ...r, changes: true };
                return r;
            }),

        create: (urn, inputs) =>
            withResource(urn, async () => {
                const { type, lc } = lifecycleOf(urn);
                const r = await lc.create(reveal(inputs));
                return { id: r.id, outs: sealed(type, r.outs, inputs) };
            }),

        read: (id, urn, props) =>
            withResource(urn, async () => {
                const { type, lc } = lifecycleOf(urn);
                const r = await lc.read(id, withoutLegacy(reveal(props)));
                return {
                    id: r.id,
                    props: sealed(type, r.props, props),
                    inputs: r.inputs && sealed(type, r.inputs, props),
                };
            }),

        update: (id, urn, olds, news) =>
            withResource(urn, async () => {
                const { type, lc } = lifecycleOf(urn);
                const before = withoutLegacy(reveal(olds));
                const after = reveal(news);
                if (olds && LEGACY_PROVIDER_KEY in olds && !(await lc.diff(id, before, after)).changes) {
                    // Only the 0.1 provider code changes: the state is rewritten, nothing is rebuilt.
                    return { outs: sealed(type, { ...before, ...after }, news) };
                }
                const r = await lc.update(id, before, after);
                return { outs: sealed(type, r.outs, news) };
            }),

        delete: (id, urn, props) =>
            withResource(urn, async () => {
                const { type } = lifecycleOf(urn);
                await LIFECYCLES[type].delete(id, withoutLegacy(reveal(props)));
                // One line per delete, naming the code that ran it (after an upgrade: the new one).
                console.log(`${type.split(":").pop()} ${id} deleted by pulumi-resource-multiarch ${VERSION}`);
            }),

        // Ctrl-C once: the engine asks every plugin to cancel; builds stop, no tag moves.
        cancel,

        async construct(name, type, inputs, options) {
            if (!Object.values(COMPONENT_TYPES).includes(type as any) || !opts.construct) {
                throw new Error(
                    `pulumi-resource-multiarch ${VERSION} has no component ${type}: use one of ${Object.values(COMPONENT_TYPES).join(", ")}`,
                );
            }
            return opts.construct(name, type, inputs, options);
        },
    };
}
