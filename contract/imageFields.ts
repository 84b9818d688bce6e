// The Image's inputs, each listed once: who fills it in, whether a change of it rebuilds the
// image, whether it is a secret, and the value a state written before it existed holds. The
// compiler checks the table against ImageInputs (a field missing or extra is a type error);
// the program side spreads the "args" fields, the plugin derives its rebuild reasons (in this
// order, the order of buildReason), its secrets and the defaults of older states from it.
import type { ImageInputs } from "./types";

interface Field {
    /**
     * Who fills it in: "args" the checked MultiArchImage args (createImageInputs), "caches"
     * cacheFrom/cacheTo (caches.ts), "builder" the builder's identity, "component" the
     * MultiArchImage itself (logins, secrets, BuildKit's checks), "plugin" the plugin's check
     * (a Git context's commit, the secrets' revision).
     */
    from: "args" | "caches" | "builder" | "component" | "plugin";
    /** A change rebuilds the image, named so in buildReason. */
    rebuild: boolean;
    /** Kept encrypted in the state, wherever it appears (SECRET_OUTPUTS). */
    secret?: true;
    /** Added after 0.2.0: what a state without it holds. */
    addedDefault?: unknown;
}

export const IMAGE_FIELDS = {
    contextDigest: { from: "args", rebuild: true },
    context: { from: "args", rebuild: true },
    contextCommit: { from: "plugin", rebuild: true },
    dockerfile: { from: "args", rebuild: true },
    namedContexts: { from: "args", rebuild: true },
    platforms: { from: "args", rebuild: true },
    tags: { from: "args", rebuild: true },
    push: { from: "args", rebuild: true },
    builder: { from: "builder", rebuild: true },
    manifest: { from: "args", rebuild: true },
    buildArgs: { from: "args", rebuild: true },
    target: { from: "args", rebuild: true },
    labels: { from: "args", rebuild: true },
    annotations: { from: "args", rebuild: true },
    secretsRevision: { from: "plugin", rebuild: true },
    ssh: { from: "args", rebuild: true },
    cacheFrom: { from: "caches", rebuild: true },
    cacheTo: { from: "caches", rebuild: true },
    cacheRepository: { from: "args", rebuild: true },
    noCache: { from: "args", rebuild: true },
    pull: { from: "args", rebuild: true },
    provenance: { from: "args", rebuild: true },
    sbom: { from: "args", rebuild: true },
    network: { from: "args", rebuild: true },
    addHosts: { from: "args", rebuild: true },
    triggers: { from: "args", rebuild: true },
    verify: { from: "args", rebuild: true },
    load: { from: "args", rebuild: true, addedDefault: false },
    exports: { from: "args", rebuild: true, addedDefault: [] },
    // Not rebuild reasons: the Dockerfile's text and the named contexts' files are in the digests,
    // the rest changes how a build runs, not what it makes.
    dockerfileInline: { from: "args", rebuild: false },
    namedContextFiles: { from: "args", rebuild: false },
    contextFiles: { from: "args", rebuild: false },
    existingBuilder: { from: "builder", rebuild: false },
    builderPlatforms: { from: "builder", rebuild: false },
    builderConfig: { from: "builder", rebuild: false },
    builderDeclared: { from: "builder", rebuild: false },
    // The plan says how the next build will run; a new plan is written to the state without a build.
    buildPlan: { from: "plugin", rebuild: false },
    secrets: { from: "component", rebuild: false, secret: true },
    secretFiles: { from: "args", rebuild: false },
    secretEnvs: { from: "args", rebuild: false },
    rebuildOnSecretChange: { from: "args", rebuild: false },
    ignoreSecretsInDiffCalculation: { from: "args", rebuild: false },
    cacheCredentials: { from: "caches", rebuild: false, secret: true },
    shmSize: { from: "args", rebuild: false },
    ulimits: { from: "args", rebuild: false },
    allow: { from: "args", rebuild: false },
    noCacheFilters: { from: "args", rebuild: false },
    registryAuth: { from: "component", rebuild: false, secret: true },
    registries: { from: "component", rebuild: false, secret: true },
    deleteOnDestroy: { from: "args", rebuild: false },
    buildkitChecks: { from: "component", rebuild: false },
    strict: { from: "component", rebuild: false },
} as const satisfies Record<keyof ImageInputs, Field>;

type Key = keyof ImageInputs;
type Fields = typeof IMAGE_FIELDS;
/** The fields one filler fills in, as a type: createImageInputs must return every one. */
export type FieldsFrom<S extends Field["from"]> = { [K in Key]: Fields[K]["from"] extends S ? K : never }[Key];
const keys = (pick: (f: Field) => boolean) => (Object.keys(IMAGE_FIELDS) as Key[]).filter((k) => pick(IMAGE_FIELDS[k]));

/** The inputs whose change rebuilds the image, in buildReason's order. */
export const REBUILD_FIELDS: readonly Key[] = keys((f) => f.rebuild);
/** The inputs createImageInputs fills in from the checked args, each spread as its own property. */
export const ARGS_FIELDS = keys((f) => f.from === "args") as readonly FieldsFrom<"args">[];
/** The inputs kept as secrets. */
export const SECRET_FIELDS: readonly Key[] = keys((f) => f.secret === true);
/** Inputs added after 0.2.0, at their defaults: a state without them holds the same. */
export const ADDED_DEFAULTS: Partial<Record<Key, unknown>> = Object.fromEntries(
    (Object.keys(IMAGE_FIELDS) as Key[]).flatMap((k) =>
        "addedDefault" in IMAGE_FIELDS[k] ? [[k, (IMAGE_FIELDS[k] as Field).addedDefault]] : [],
    ),
);
