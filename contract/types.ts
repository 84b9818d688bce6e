// The inputs and outputs of the plugin's custom resources: what the program side registers
// and the plugin's lifecycles receive and return. The schema (schema.json) is generated from
// these interfaces and the components' Args (scripts/schema.ts): every field's JSDoc is its
// description there.
import type { Handler } from "../core/binfmt";
import type { DeclaredBuilder, EmulatedStep, PlatformPlan } from "../core/buildPlan";
import type { BuilderNode, NodeOptions } from "../core/buildx";
import type { CacheCredentials } from "../core/cache";
import type { CopyStats } from "../core/copy";
import type { ExportResult, ExportSpec } from "../core/exports";
import type { HostSpec } from "../core/host";
import type { NodeTls } from "../core/nodeProbe";

/** Inputs of `multiarch:index:BinfmtHandlers`. */
export interface BinfmtInputs {
    /** Normalized requested platforms; those the host runs natively are skipped. */
    platforms: string[];
    /** Flags every handler must carry, e.g. "F". */
    flags: string;
    /** `"host"`: register from qemu-user-static's definitions; `"container"`: run the emulator-install `image`. */
    method: "host" | "container";
    /** Emulator-install image for method "container". */
    image?: string;
    /** Accept an `image` that is not pinned by digest. */
    allowUnpinnedImage: boolean;
    /** The builder host: `{kind: "local"}` or `{kind: "ssh", host, port, user, privateKey, hostKey, ...}` (a secret). */
    host: HostSpec;
    /** Where the qemu-user-static definitions live on the host. */
    definitionsDir: string;
    /**
     * Set by check: every handler this host needs, each "ok". Outputs hold what the host
     * really has, so after a refresh `pulumi preview --diff` shows e.g.
     * `qemu-riscv64: "missing" => "ok"`.
     */
    handlerStatus?: Record<string, string>;
}

/** Outputs of `multiarch:index:BinfmtHandlers`. */
export interface BinfmtOutputs extends BinfmtInputs {
    /** handler name -> what the kernel reports for it. */
    handlers: Record<string, Handler>;
    /** Handlers this resource registered (and so removes on delete). */
    owned: string[];
    /** Platforms that need emulation on this host (requested minus native). */
    emulated: string[];
    /** The native platforms plus every emulated platform a test program actually ran on. */
    runnable: string[];
    /** The host's kernel release (`uname -r`). */
    kernelVersion: string;
    /** The host's machine (`uname -m`), e.g. `x86_64`. */
    hostMachine: string;
    /** handler name -> "ok", or why it no longer serves us (missing, disabled, flags, interpreter). */
    handlerStatus: Record<string, string>;
    /** This resource's claim on the handlers it relies on, recorded on the host (see core/binfmtClaims.ts). */
    claim?: string;
}

/** A buildx driver. */
export type Driver = "docker-container" | "remote" | "kubernetes" | "docker";

/** PEM text for a remote node's TLS (secrets). */
export type TlsMaterial = NodeTls;

/** Inputs of `multiarch:index:Builder`. */
export interface BuilderInputs {
    /** The builder's name (`buildx create --name`). */
    name: string;
    /** The buildx driver. */
    driver: Driver;
    /** Every node, the first created and the others appended, with endpoint, platforms and driver options. */
    nodes: NodeOptions[];
    /** node name -> TLS material; written as 0600 files that live as long as the builder. */
    tls: Record<string, TlsMaterial>;
    /** Extra buildkitd flags (`--buildkitd-flags`). */
    buildkitdFlags?: string;
    /** buildkitd.toml text (`--buildkitd-config`, a 0600 file during create). */
    buildkitdConfig?: string;
    /** Boot every node at create (`buildx inspect --bootstrap`) and check their platforms. */
    bootstrap: boolean;
    /** `buildx rm --keep-state` on delete. */
    keepState: boolean;
    /** Platforms the BinfmtSetup this builder depends on emulates (requested). */
    emulated: string[];
    /** `<project>/<stack>/<resource>`: written beside buildx's own state while creating, so an interrupted create is recognised as ours. */
    owner?: string;
}

/** Outputs of `multiarch:index:Builder`. */
export interface BuilderOutputs extends BuilderInputs {
    /** Each node as `buildx ls` reports it. */
    reported: BuilderNode[];
    /** Every platform some node reports it can build. */
    reportedPlatforms: string[];
    /** false for the docker driver's builder, which belongs to the engine. */
    managed: boolean;
}

/** How the tags point at the platforms' images. */
export type ManifestMode = "index" | "per-arch-tags" | "auto";

/** A registry login (the password a secret). */
export interface RegistryAuth {
    /** User name. */
    username: string;
    /** Password or token. */
    password: string;
    /** The registry it is for, as image references name it; absent in states of 0.2.0: the first tag's registry. */
    address?: string;
}

/** One login of the image's `registries` (docker-build's shape; the password a secret). */
export interface RegistryLoginEntry {
    /** The registry, as image references name it: `docker.io`, `ghcr.io`, `registry.corp:5000`. */
    address: string;
    /** User name. */
    username: string;
    /** Password or token. */
    password: string;
}

/** Inputs of `multiarch:index:Image`. */
export interface ImageInputs {
    /** Build context, as the program gave it (relative paths keep state machine-independent): a local folder or a Git URL. */
    context: string;
    /** For a Git context: the commit its ref named at this preview, set by check; the build fetches that commit or fails. */
    contextCommit?: string;
    /** The Dockerfile's path; absent for the text given inline, or for the default Dockerfile of a Git context. */
    dockerfile?: string;
    /** The Dockerfile's text (`--file -`). */
    dockerfileInline?: string;
    /**
     * Named contexts, name -> location (`--build-context`): local folders as given, remote ones
     * pinned by check (`docker-image://<ref>@<digest>`, `oci-layout://<path>:<tag>@<digest>`,
     * a Git URL with `checksum=<commit>`), so a moved tag or a new commit is a change.
     */
    namedContexts?: Record<string, string>;
    /** name -> what `contextFiles` records, for each local named context. */
    namedContextFiles?: Record<string, Record<string, string>>;
    /** Normalized platforms to build. */
    platforms: string[];
    /** Tags to move to the verified image, in any repositories and registries. */
    tags: string[];
    /** Push (and verify and tag); false keeps the result in the build cache. */
    push: boolean;
    /** The buildx builder's name. */
    builder: string;
    /** The builder is one the user already has (by name): read and checked at preview, never created or removed. */
    existingBuilder?: boolean;
    /** What the builder reports it can build; checked, never a rebuild trigger. */
    builderPlatforms?: string[];
    /** The builder's buildkitd.toml as given, for its registry settings until buildx has stored them (first preview). */
    builderConfig?: string;
    /** The builder as the stack declares it (a BuildxBuilder), for the build plan at a preview before it exists. */
    builderDeclared?: DeclaredBuilder;
    /** Set by check at every preview: how each platform will be built (node, native or emulated, each stage's platform). */
    buildPlan?: PlatformPlan[];
    /** How the tags point at the platforms' images. */
    manifest: ManifestMode;
    /** `--build-arg`s. */
    buildArgs: Record<string, string>;
    /** `--target` stage. */
    target?: string;
    /** `--label`s. */
    labels: Record<string, string>;
    /** `--annotation`s. */
    annotations: Record<string, string>;
    /** Build secrets (id -> value); a Pulumi secret in the state's inputs, never an output. */
    secrets: Record<string, string>;
    /** How often the build secrets' values changed (set by check, which sees the old values); outputs keep it instead of the values. */
    secretsRevision?: number;
    /** Build secrets read from files at build time (id -> path, `--secret id=<id>,src=<path>`); only the paths are kept. */
    secretFiles?: Record<string, string>;
    /** Build secrets read from environment variables at build time (id -> variable, `--secret id=<id>,env=<name>`); only the names are kept. */
    secretEnvs?: Record<string, string>;
    /** A changed value of `secrets` is a rebuild reason (the rebuild then uses no cache: BuildKit keys none on secret values). */
    rebuildOnSecretChange?: boolean;
    /** Ids of `secrets` whose value changes never rebuild, even with rebuildOnSecretChange. */
    ignoreSecretsInDiffCalculation?: string[];
    /** `--ssh` specs. */
    ssh: string[];
    /** `--cache-from`s, without credentials. */
    cacheFrom: string[];
    /** `--cache-to`s, without credentials. */
    cacheTo: string[];
    /** The cache backends' credentials (s3's AWS keys, gha's token), given to buildx in its environment; a secret input, never an output. */
    cacheCredentials?: CacheCredentials;
    /** Per-platform registry cache refs (`<cacheRepository>:<arch>`), built platform by platform. */
    cacheRepository?: string;
    /** `--no-cache`. */
    noCache: boolean;
    /** `--pull`. */
    pull: boolean;
    /** Provenance attestation: on, off, or buildx's attributes (`mode=max`). */
    provenance: boolean | string;
    /** SBOM attestation: on, off, or buildx's attributes (`generator=<image>`). */
    sbom: boolean | string;
    /** `--network` of RUN steps: `host` or `none`; absent: BuildKit's default. */
    network?: "host" | "none";
    /** `--add-host`s, `host:ip`. */
    addHosts?: string[];
    /** `--shm-size` of RUN steps, as buildx takes it (`128m`). */
    shmSize?: string;
    /** `--ulimit`s of RUN steps, `name=soft[:hard]`. */
    ulimits?: string[];
    /** `--allow`ed entitlements (`network.host`, `security.insecure`, `device`). */
    allow?: string[];
    /** `--no-cache-filter` stages, run without cache at every build. */
    noCacheFilters?: string[];
    /** The `registry` login (password a Pulumi secret). */
    registryAuth?: RegistryAuth;
    /** More logins (passwords Pulumi secrets), added to the docker config's for the build and every registry call. */
    registries?: RegistryLoginEntry[];
    /** Load the image into the docker engine (`--load`); its tags move there after verification. */
    load?: boolean;
    /** Outputs written besides the push: OCI and docker tarballs or layouts, local folders, cacheonly. */
    exports?: ExportSpec[];
    /** Any change rebuilds (like a timestamp or a git sha the user passes). */
    triggers: string[];
    /** Verify every platform before any tag moves. */
    verify: boolean;
    /** Delete the pushed manifests on destroy. */
    deleteOnDestroy: boolean;
    /** Content digest of the local context, the Dockerfile and the local named contexts; the rebuild trigger. */
    contextDigest: string;
    /** relative path (or folder, for large contexts) -> content hash, to say what changed. */
    contextFiles: Record<string, string>;
    /** Findings of BuildKit's own Dockerfile checks, one line each (file:line: text [rule]). */
    buildkitChecks?: string[];
    /** Findings fail the check (preview) instead of warning. */
    strict?: boolean;
}

/** What the last build spent under emulation, read from the builder's build history. */
export interface EmulationCost {
    /** The build records read (`<builder>/<node>/<id>`). */
    records: string[];
    /** RUN steps that ran emulated (per the build plan), slowest first; empty when none did. */
    steps: EmulatedStep[];
    /** Why the time is not known, when it is not (no history on the builder, a record buildx cannot reach). */
    unknown?: string;
}

/** Outputs of `multiarch:index:Image`: its inputs but the build secrets' values and the caches' credentials, and what was built. */
export interface ImageOutputs extends Omit<ImageInputs, "secrets" | "cacheCredentials"> {
    /** Digest of the index (manifest "index"), "" for per-arch tags. */
    digest: string;
    /** platform -> digest of that platform's image manifest. */
    platformDigests: Record<string, string>;
    /** `<repository>@<digest>`. */
    ref: string;
    /** Every tag this resource pushed. */
    pushedTags: string[];
    /** The mode used ("auto" resolves to one of the others, once per registry); "mixed" when registries differ. */
    manifestMode: "index" | "per-arch-tags" | "mixed";
    /** registry -> the mode used there. */
    manifestModes?: Record<string, "index" | "per-arch-tags">;
    /** The image loaded into the docker engine (its ID there), or "". */
    loadedImage?: string;
    /** What each export wrote. */
    exported?: ExportResult[];
    /** What refresh found changed out of band (a tag moved, an export deleted); the next `up` repairs it. */
    drift?: string[];
    /** Why the last build ran: "create", or the inputs that changed. */
    buildReason: string[];
    /** platform -> what verification found. */
    verification: Record<string, string>;
    /**
     * Digest of the verification record attached to the index (an OCI referrer that promotions
     * check and carry along); "" when there is none (verify off, per-arch tags only). Absent in
     * states from before records: the next `up` attaches one, building nothing.
     */
    verificationRecord?: string;
    /** What the last build spent in RUN steps under emulation, from the builder's build history. */
    emulationCost?: EmulationCost;
}

/** Inputs of `multiarch:index:ImageCopy`. */
export interface ImageCopyInputs {
    /** The image, by digest: `registry/repository@sha256:...`. */
    source: string;
    /** The tags to point at it, in any repositories and registries. */
    tags: string[];
    /** How each registry's tags point at it. */
    manifest: ManifestMode;
    /** Logins for the source's and the targets' registries (passwords Pulumi secrets), added to the docker config's. */
    registries?: RegistryLoginEntry[];
    /** Refuse a source without a verification record that covers it. */
    requireVerification: boolean;
    /** Delete the copied manifests at the targets on destroy. */
    deleteOnDestroy: boolean;
    /** Set by check when this run copies: what each target gets, one line each. */
    plan?: string[];
}

/** Outputs of `multiarch:index:ImageCopy`. */
export interface ImageCopyOutputs extends ImageCopyInputs {
    /** The index's digest at the targets that keep indexes: the source's own; "" when every target has per-arch tags. */
    digest: string;
    /** platform -> digest of its image manifest (the same at the source and at every target). */
    platformDigests: Record<string, string>;
    /** `<first target repository>@<digest>` (the first platform's manifest where no target keeps the index). */
    ref: string;
    /** Every tag pointed at the image (per-arch tags where the registry keeps no lists). */
    pushedTags: string[];
    /** registry -> how its tags point at the image ("auto" resolved once). */
    manifestModes: Record<string, "index" | "per-arch-tags">;
    /** platform -> what verification found, from the source's verification record; {} when none was required and none found. */
    verification: Record<string, string>;
    /** Digest of the verification record copied with the image; "" when none. */
    verificationRecord: string;
    /** What the last copy did, over every target. */
    copied: CopyStats;
    /** What refresh found moved or gone; the next `up` puts it back. */
    drift?: string[];
}

/** Inputs of `multiarch:index:IndexManifest`. */
export interface IndexManifestInputs {
    /** The tag to point at the index. */
    tag: string;
    /** The images joined, by digest: one platform each, or indexes whose every platform is taken. */
    sources: string[];
    /** Push the index and move the tag; false only computes it. */
    push: boolean;
    /** How the tag's registry points at the images. */
    manifest: ManifestMode;
    /** The login for the tag's registry (its password a Pulumi secret), added to the docker config's. */
    registryAuth?: RegistryAuth;
    /** Verify each platform's image (config and binaries) before the tag moves. */
    verify: boolean;
    /** Delete the index on destroy. */
    deleteOnDestroy: boolean;
    /** Set by check when this run pushes: what the tag's repository gets. */
    plan?: string[];
}

/** Outputs of `multiarch:index:IndexManifest`. */
export interface IndexManifestOutputs extends IndexManifestInputs {
    /** Digest of the index ("" for per-arch tags). */
    digest: string;
    /** `<tag>@<digest>`, as docker-build's Index gives it; the tag alone when not pushed. */
    ref: string;
    /** platform -> digest of its image manifest. */
    platformDigests: Record<string, string>;
    /** Every tag pushed (per-arch tags where the registry keeps no lists). */
    pushedTags: string[];
    /** The mode used ("auto" resolved once). */
    manifestMode: "index" | "per-arch-tags";
    /** platform -> what verification found. */
    verification: Record<string, string>;
    /** Digest of the verification record attached to the index; "" when none. */
    verificationRecord: string;
    /** What the last push copied into the tag's repository. */
    copied: CopyStats;
    /** What refresh found moved or gone; the next `up` puts it back. */
    drift?: string[];
}
