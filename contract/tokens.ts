// The contract between the program side (components/*.ts) and the provider plugin
// (provider/): package name, version, type tokens and which outputs are secret.
// Both sides import it; it imports neither.
import { SECRET_FIELDS } from "./imageFields";

/** The Pulumi package (and plugin) name: `pulumi-resource-multiarch`. */
export const PACKAGE = "multiarch";

/** The plugin version the program side asks the engine for; equals package.json's version (a unit test checks). */
export const VERSION = "0.2.0";

/** Type tokens of the components (served by `construct` for other languages). */
export const COMPONENT_TYPES = {
    BinfmtSetup: "multiarch:index:BinfmtSetup",
    BuildxBuilder: "multiarch:index:BuildxBuilder",
    MultiArchImage: "multiarch:index:MultiArchImage",
    ImagePromotion: "multiarch:index:ImagePromotion",
    Index: "multiarch:index:Index",
} as const;

/** Type tokens of the custom resources the plugin manages (check/diff/create/read/update/delete). */
export const RESOURCE_TYPES = {
    BinfmtHandlers: "multiarch:index:BinfmtHandlers",
    Builder: "multiarch:index:Builder",
    Image: "multiarch:index:Image",
    ImageCopy: "multiarch:index:ImageCopy",
    IndexManifest: "multiarch:index:IndexManifest",
} as const;

export type ResourceType = (typeof RESOURCE_TYPES)[keyof typeof RESOURCE_TYPES];
export type ComponentType = (typeof COMPONENT_TYPES)[keyof typeof COMPONENT_TYPES];

/**
 * Properties the plugin keeps as secrets wherever they appear (inputs in the state, outputs):
 * they hold private keys, passwords, build secrets. The Image's build secrets are no output.
 */
export const SECRET_OUTPUTS: Record<ResourceType, readonly string[]> = {
    [RESOURCE_TYPES.BinfmtHandlers]: ["host"],
    [RESOURCE_TYPES.Builder]: ["tls"],
    [RESOURCE_TYPES.Image]: SECRET_FIELDS,
    [RESOURCE_TYPES.ImageCopy]: ["registries"],
    [RESOURCE_TYPES.IndexManifest]: ["registryAuth"],
};

/**
 * Type tokens of version 0.1, for aliases: its components were `pulumi-multiarch:index:*`
 * and each custom resource a dynamic resource, so a 0.1 stack moves to 0.2 with one `up`.
 */
export const LEGACY_COMPONENT_TYPE = (name: keyof typeof COMPONENT_TYPES) => `pulumi-multiarch:index:${name}`;
/** `pulumi-nodejs:dynamic/multiarch:Image` for `multiarch:index:Image`, and so on. */
export const LEGACY_DYNAMIC_TYPE = (type: ResourceType) => `pulumi-nodejs:dynamic/multiarch:${type.split(":").pop()}`;
/** The input/output under which a dynamic resource kept its serialized provider code. */
export const LEGACY_PROVIDER_KEY = "__provider";
