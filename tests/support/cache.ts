// Where scripts/bootstrap keeps built tools and machine-wide services: CACHE in scripts/lib.sh,
// which this must match (a unit test checks both), for the tests and the bench.
import * as os from "os";
import * as path from "path";

export const CACHE =
    process.env.PULUMI_MULTIARCH_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "pulumi-multiarch");
