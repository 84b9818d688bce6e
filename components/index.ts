// Public API: what users import.
export { BinfmtSetup, BinfmtSetupArgs, Handler } from "./binfmtSetup";
export { BuildxBuilder, BuildxBuilderArgs, BuilderNode, defaultBuilderName } from "./buildxBuilder";
export { MultiArchImage, MultiArchImageArgs } from "./multiArchImage";
