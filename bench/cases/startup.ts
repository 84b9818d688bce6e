// Case 8: the provider plugin's start-up, as the engine meets it: exec of the installed
// pulumi-resource-multiarch to its port printed on stdout, at most 0.2 s; against the
// cheapest possible Node.js process (a script printing one line), measured in the same run.
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { VERSION } from "../../contract/tokens";
import { type CaseResult, plainRow, ratioRow } from "../lib/report";
import { say } from "../lib/sh";
import { fmtSeconds, summarize } from "../lib/stats";

/** Seconds from spawn to the first line on stdout; the process is killed then. */
export function timeToFirstLine(file: string, args: string[] = []): Promise<number> {
    return new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const child = spawn(file, args, { stdio: ["ignore", "pipe", "inherit"] });
        child.stdout.once("data", () => {
            resolve(Number(process.hrtime.bigint() - t0) / 1e9);
            child.kill();
        });
        child.on("error", reject);
        child.on("exit", (code) => reject(new Error(`${file} exited (${code}) before printing a line`)));
    });
}

/** The first start after install, untimed: it writes the V8 code cache beside the bundle (and warms the page cache). */
async function firstStart(plugin: string): Promise<void> {
    const child = spawn(plugin, [], { stdio: "ignore" });
    const cache = `${plugin}.js.${process.version}.v8cache`;
    for (let i = 0; i < 100 && !fs.existsSync(cache); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill();
    if (!fs.existsSync(cache)) throw new Error(`${plugin} wrote no code cache (${cache}) within 10 s`);
}

export async function startupCase(runs: number): Promise<CaseResult> {
    const t0 = Date.now();
    const plugin = path.join(
        process.env.PULUMI_HOME!,
        "plugins",
        `resource-multiarch-v${VERSION}`,
        "pulumi-resource-multiarch",
    );
    const n = Math.max(20, runs * 4); // start-ups are short: more samples for a stable median
    const ours: number[] = [];
    const bare: number[] = [];
    const node = ["-e", "console.log(1)"];
    await firstStart(plugin);
    for (let i = 0; i < n; i++) {
        if (i % 2 === 0) {
            ours.push(await timeToFirstLine(plugin));
            bare.push(await timeToFirstLine("node", node));
        } else {
            bare.push(await timeToFirstLine("node", node));
            ours.push(await timeToFirstLine(plugin));
        }
    }
    say(`case 8: plugin start-up median ${fmtSeconds(summarize(ours).median)}`);
    const median = summarize(ours).median;
    return {
        id: "8",
        title: "Provider plugin start-up",
        rows: [
            plainRow(
                "exec of the installed pulumi-resource-multiarch to its port printed",
                fmtSeconds(median),
                "",
                "≤ 0.20 s",
                median <= 0.2,
            ),
            ratioRow("the same vs `node -e 'console.log(1)'` (Node.js itself)", ours, bare),
        ],
        notes: [
            `${n} start-ups of each, interleaved, after one untimed first start (which writes the V8 code cache and warms the page cache). The plugin is the esbuild bundle scripts/plugin/build.mjs makes (one file, minified, @npmcli/arborist and typescript stubbed: @pulumi/pulumi loads them only for dynamic providers), started by scripts/plugin/launcher.js with V8's code cache.`,
            "The engine starts the plugin once per `pulumi preview` / `pulumi up` (twice per `up`: preview, then update) for all resources of the stack.",
        ],
        seconds: (Date.now() - t0) / 1000,
    };
}
