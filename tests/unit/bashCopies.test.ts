// scripts/bootstrap names QEMU's emulators and this machine's native platforms before
// `npm ci` has run (its plan pass), so it cannot ask core/ through ts-node, and Node 20 runs
// no TypeScript by itself: its two small bash copies are run here against core/'s answers.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { nativePlatforms } from "../../core/binfmt";
import { ARCHITECTURES, qemuName } from "../../core/platform";

const ROOT = path.resolve(__dirname, "..", "..");
const BOOTSTRAP = fs.readFileSync(path.join(ROOT, "scripts", "bootstrap"), "utf8");

/** The body of a bash function of scripts/bootstrap, from its name to the first `}` line. */
function bashFunction(name: string): string {
    const m = new RegExp(`^${name}\\(\\) \\{[^\\n]*\\n(?:.*\\n)*?\\}\\n`, "m").exec(BOOTSTRAP);
    assert.ok(m, `scripts/bootstrap has no function ${name}`);
    return m[0];
}

function bash(script: string): string {
    return execFileSync("bash", ["-c", script], { encoding: "utf8" }).trim();
}

describe("bootstrap's bash copies of core/", () => {
    const platforms = Object.entries(ARCHITECTURES).flatMap(([a, arch]) => [
        `linux/${a}`,
        ...(arch.variants ?? []).map((v) => `linux/${a}/${v}`),
    ]);

    it("qemu_name names each platform's emulator as core/platform.ts qemuName does", () => {
        const fn = bashFunction("qemu_name");
        const got = bash(
            `${fn}\nfor p in ${platforms.join(" ")} linux/mips64; do echo "$p $(qemu_name "$p" || echo none)"; done`,
        );
        const want = [...platforms.map((p) => `${p} ${qemuName(p)}`), "linux/mips64 none"].join("\n");
        assert.strictEqual(got, want);
    });

    it("native_platforms answers for each machine as core/binfmt.ts nativePlatforms does", () => {
        const fn = bashFunction("native_platforms");
        const machines = [...new Set(Object.values(ARCHITECTURES).map((a) => a.uname)), "mips64"];
        for (const m of machines) {
            assert.strictEqual(
                bash(`uname() { echo ${m}; }\n${fn}\nnative_platforms`),
                nativePlatforms(m).join(" "),
                `uname -m = ${m}`,
            );
        }
    });
});
