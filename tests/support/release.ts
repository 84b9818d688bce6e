// The library as users install it: an npm tarball of this repository, and its provider plugin
// installed into the project's PULUMI_HOME, at this version or (for upgrade tests) at another.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
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

/**
 * What `npm pack`'s prepack reads: the sources, the build's settings and (bundled into the plugin)
 * the dependencies. A release's copy (packRelease) is made of them.
 */
const PACK_INPUTS = [
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "components",
    "core",
    "contract",
    "provider",
    "scripts/plugin",
];

/** A hash of the files under `paths` (relative to ROOT): their names and contents. */
function treeHash(paths: string[]): string {
    const h = crypto.createHash("sha256");
    const walk = (rel: string): void => {
        const abs = path.join(ROOT, rel);
        if (fs.statSync(abs).isDirectory()) {
            for (const e of fs.readdirSync(abs).sort()) walk(path.join(rel, e));
        } else {
            h.update(`${rel}\0`).update(fs.readFileSync(abs)).update("\0");
        }
    };
    for (const p of paths) walk(p);
    return h.digest("hex").slice(0, 16);
}

/**
 * `npm pack` of this repository into `dest`; returns the tarball. Its prepack compiles and
 * bundles into dist/ (about 9 s of CPU), and two test files pack it: so it is packed once per
 * state of the sources, under a lock (two packs at once would build the same dist/ at once),
 * kept in .state/pack and copied from there.
 */
export function packCurrent(dest: string): string {
    const cache = path.join(ROOT, ".state", "pack");
    const dir = path.join(cache, treeHash(PACK_INPUTS));
    fs.mkdirSync(cache, { recursive: true });
    const script = [
        'dir=$1; [ -e "$dir/done" ] && exit 0',
        'rm -rf "$dir" && mkdir -p "$dir" && npm pack --pack-destination "$dir" --silent >/dev/null && touch "$dir/done"',
        // Only the last sources' pack is kept.
        'find "${dir%/*}" -mindepth 1 -maxdepth 1 -type d ! -path "$dir" -exec rm -rf {} +',
    ].join("\n");
    execFileSync("flock", [path.join(cache, ".lock"), "bash", "-euo", "pipefail", "-c", script, "pack", dir], {
        cwd: ROOT,
        env: process.env,
        stdio: ["ignore", "ignore", "inherit"],
    });
    const [tarball] = fs.readdirSync(dir).filter((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
    fs.mkdirSync(dest, { recursive: true });
    fs.copyFileSync(path.join(dir, tarball), path.join(dest, tarball));
    return path.join(dest, tarball);
}

/**
 * This repository released as `version`: a copy with package.json's and the contract's
 * version rewritten, its plugin bundled and installed (`pulumi plugin install`), packed into
 * `dest`. Returns the npm tarball.
 */
export function packRelease(version: string, dest: string): string {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), `pm-release-${version}-`));
    try {
        for (const f of PACK_INPUTS) {
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
