// Loaded first by every e2e test process (tests/e2e/.mocharc.json). Each process runs many inline
// programs one after another, and Pulumi's runtime reaches each run's engine through grpc-js,
// whose connections to one address are shared by the whole process. A run that fails while one
// of its calls is still on the way leaves a client to its engine's port that retries forever; a
// later engine given the same port by the kernel then gets that failed connection, and its
// program's first call fails at once: "14 UNAVAILABLE: No connection established. Last error:
// null" (seen in CI: two tests of 492, in flags.test.ts and plan.test.ts). With a pool per client,
// each run's connection is its own. tests/unit/grpcPool.test.ts shows both.
import type * as GrpcJs from "@grpc/grpc-js";
import * as path from "path";

/* eslint-disable @typescript-eslint/no-require-imports -- the runtime's options are not in its .d.ts */
const settings = require("@pulumi/pulumi/runtime/settings") as { grpcClientOptions: Record<string, unknown> };

/** The grpc-js module Pulumi's runtime uses (its connection pool is per module instance). */
export const pulumiGrpc = require(
    require.resolve("@grpc/grpc-js", { paths: [path.dirname(require.resolve("@pulumi/pulumi/package.json"))] }),
) as typeof GrpcJs;
/* eslint-enable @typescript-eslint/no-require-imports */

export const LOCAL_POOL = "grpc.use_local_subchannel_pool";
settings.grpcClientOptions[LOCAL_POOL] = 1;

/** The options Pulumi's runtime creates its engine and monitor clients with. */
export const pulumiClientOptions = settings.grpcClientOptions;
