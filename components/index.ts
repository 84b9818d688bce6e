// Public API: what users import.
export type { EmulationCost, ManifestMode } from "../contract/types";
export type { DeclaredBuilder, DeclaredNode, EmulatedStep, PlatformPlan, StagePlan } from "../core/buildPlan";
export type { CopyStats } from "../core/copy";
export type { ExportResult, ExportType } from "../core/exports";
export { BinfmtSetup, BinfmtSetupArgs, Handler, SshHostArgs } from "./binfmtSetup";
export {
    BuilderNode,
    BuilderNodeArgs,
    BuildxBuilder,
    BuildxBuilderArgs,
    DEFAULT_BUILDKIT_IMAGE,
    defaultBuilderName,
    KubernetesArgs,
    TlsArgs,
} from "./buildxBuilder";
export {
    CacheCompressionArgs,
    CacheExportArgs,
    CacheFromArgs,
    CacheFromAzureBlobArgs,
    CacheFromGitHubActionsArgs,
    CacheFromLocalArgs,
    CacheFromRegistryArgs,
    CacheFromS3Args,
    CacheToArgs,
    CacheToAzureBlobArgs,
    CacheToGitHubActionsArgs,
    CacheToInlineArgs,
    CacheToLocalArgs,
    CacheToRegistryArgs,
    CacheToS3Args,
} from "./caches";
export {
    BuilderConfigArgs,
    ExportArgs,
    ExportCacheOnlyArgs,
    ExportDockerArgs,
    ExportLocalArgs,
    ExportOCIArgs,
    ExportRegistryArgs,
    RegistryLoginArgs,
} from "./destinations";
export { Index, IndexArgs } from "./imageIndex";
export { ImagePromotion, ImagePromotionArgs } from "./imagePromotion";
export {
    BuildContextArgs,
    DockerfileArgs,
    MultiArchImage,
    MultiArchImageArgs,
    NamedContextArgs,
    RegistryArgs,
} from "./multiArchImage";
