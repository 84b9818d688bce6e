// Bundles the provider plugin into one file, beside its launcher, and packs the tarball that
// `pulumi plugin install resource multiarch <version> --file` takes (the folder works too):
//   dist/plugin/pulumi-resource-multiarch      the executable the engine starts (launcher.js)
//   dist/plugin/pulumi-resource-multiarch.js   the bundle
//   dist/plugin/re2.wasm                       re2-wasm's module, which its code loads from beside itself
//   dist/pulumi-resource-multiarch-v<version>-linux-<arch>.tar.gz
// The version is package.json's (contract/tokens.ts VERSION equals it).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const version = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version;
const stub = path.join(root, "scripts/plugin/stub.js");
const outDir = path.join(root, "dist/plugin");
const exe = path.join(outDir, "pulumi-resource-multiarch");

fs.rmSync(outDir, { recursive: true, force: true });
await build({
    entryPoints: [path.join(root, "provider/main.ts")],
    outfile: `${exe}.js`,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    alias: { "@npmcli/arborist": stub, typescript: stub },
});
fs.copyFileSync(path.join(root, "scripts/plugin/launcher.js"), exe);
// esbuild bundles re2-wasm's JavaScript, which reads re2.wasm from __dirname: the bundle's folder.
fs.copyFileSync(path.join(root, "node_modules/re2-wasm/build/wasm/re2.wasm"), path.join(outDir, "re2.wasm"));
fs.chmodSync(exe, 0o755);
const arch = { x64: "amd64", arm64: "arm64" }[process.arch] ?? process.arch;
const tarball = path.join(root, "dist", `pulumi-resource-multiarch-v${version}-linux-${arch}.tar.gz`);
execFileSync("tar", [
    "-czf",
    tarball,
    "-C",
    outDir,
    "pulumi-resource-multiarch",
    "pulumi-resource-multiarch.js",
    "re2.wasm",
]);
console.log(tarball);
