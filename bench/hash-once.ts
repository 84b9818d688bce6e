// One context hash in a fresh process, timed around the call only (not node's start-up or
// ts-node's compile), wall and CPU (user + system) time, and what it read:
//   node -r ts-node/register bench/hash-once.ts <context> [--stat-cache]
// Without --stat-cache every file is read (case 2's throughput); with it, as the program
// hashes at every preview and update (case 10). Prints JSON.
import * as path from "path";

import { hashContext, hashStats } from "../core/context";

const context = process.argv[2];
const statCache = process.argv.includes("--stat-cache");
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
const digest = hashContext(context, path.join(context, "Dockerfile"), { statCache });
const cpu = process.cpuUsage(c0);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(
    JSON.stringify({
        seconds,
        cpuSeconds,
        files: Object.keys(digest.files).length,
        digest: digest.digest,
        ...hashStats(),
    }),
);
