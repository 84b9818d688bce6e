// The library as users install it: an npm tarball of this repository, and its provider plugin
// installed into the project's PULUMI_HOME, at this version or (for upgrade tests) at another.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { ROOT, sh } from "./env";

/** `npm pack` of the package in `dir` into `dest` (its prepack builds dist/); returns the tarball. */
function npmPack(dir: string, dest: string): string {
    const out = execFileSync("npm", ["pack", "--pack-destination", dest, "--silent"], {
        cwd: dir,
        encoding: "utf8",
        env: process.env,
    });
    return path.join(dest, out.trim().split("\n").pop()!); // npm pack prints the tarball's name last
}

/** `npm pack` of this repository into `dest`; returns the tarball. */
export function packCurrent(dest: string): string {
    return npmPack(ROOT, dest);
}

/**
 * This repository released as `version`: a copy with package.json's and the contract's
 * version rewritten, its plugin bundled and installed (`pulumi plugin install`), packed into
 * `dest`. Returns the npm tarball.
 */
export function packRelease(version: string, dest: string): string {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), `pm-release-${version}-`));
    try {
        for (const f of [
            "package.json",
            "tsconfig.json",
            "tsconfig.build.json",
            "components",
            "core",
            "contract",
            "provider",
            "scripts/plugin",
        ]) {
            fs.cpSync(path.join(ROOT, f), path.join(copy, f), { recursive: true });
        }
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"));
        const pkg = JSON.parse(fs.readFileSync(path.join(copy, "package.json"), "utf8"));
        pkg.version = version;
        pkg.pulumi.version = version;
        fs.writeFileSync(path.join(copy, "package.json"), JSON.stringify(pkg, null, 2));
        const tokens = path.join(copy, "contract/tokens.ts");
        fs.writeFileSync(
            tokens,
            fs
                .readFileSync(tokens, "utf8")
                .replace(/export const VERSION = "[^"]*"/, `export const VERSION = "${version}"`),
        );
        const pluginTarball = sh("node", [path.join(copy, "scripts/plugin/build.mjs")]).trim();
        sh("pulumi", ["plugin", "install", "resource", "multiarch", version, "--file", pluginTarball]);
        return npmPack(copy, dest);
    } finally {
        fs.rmSync(copy, { recursive: true, force: true });
    }
}
