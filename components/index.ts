// Public API: what users import.
export { BinfmtSetup, BinfmtSetupArgs, SshHostArgs, Handler } from "./binfmtSetup";
export {
    BuildxBuilder, BuildxBuilderArgs, BuilderNodeArgs, BuilderNode, KubernetesArgs, TlsArgs,
    defaultBuilderName, DEFAULT_BUILDKIT_IMAGE,
} from "./buildxBuilder";
export {
    MultiArchImage, MultiArchImageArgs, RegistryArgs, BuildContextArgs, NamedContextArgs, DockerfileArgs,
} from "./multiArchImage";
export {
    BuilderConfigArgs, ExportArgs, ExportCacheOnlyArgs, ExportDockerArgs, ExportLocalArgs, ExportOCIArgs, ExportRegistryArgs, RegistryLoginArgs,
} from "./destinations";
export {
    CacheFromArgs, CacheFromAzureBlobArgs, CacheFromGitHubActionsArgs, CacheFromLocalArgs, CacheFromRegistryArgs, CacheFromS3Args,
    CacheToArgs, CacheToAzureBlobArgs, CacheToGitHubActionsArgs, CacheToInlineArgs, CacheToLocalArgs, CacheToRegistryArgs, CacheToS3Args,
    CacheExportArgs, CacheCompressionArgs,
} from "./caches";
export { ImagePromotion, ImagePromotionArgs } from "./imagePromotion";
export { Index, IndexArgs } from "./imageIndex";
export type { EmulationCost, ManifestMode } from "../contract/types";
export type { DeclaredBuilder, DeclaredNode, EmulatedStep, PlatformPlan, StagePlan } from "../core/buildPlan";
export type { CopyStats } from "../core/copy";
export type { ExportResult, ExportType } from "../core/exports";
