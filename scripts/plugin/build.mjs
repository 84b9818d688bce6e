// Bundles the provider plugin into one executable file and packs the tarball that
// `pulumi plugin install resource multiarch <version> --file` takes:
//   dist/plugin/pulumi-resource-multiarch
//   dist/pulumi-resource-multiarch-v<version>-linux-<arch>.tar.gz
// The version is package.json's (components/contract/tokens.ts VERSION equals it).
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
    entryPoints: [path.join(root, "components/plugin/main.ts")],
    outfile: exe,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    banner: { js: "#!/usr/bin/env node" },
    alias: { "@npmcli/arborist": stub, typescript: stub },
});
fs.chmodSync(exe, 0o755);
const arch = { x64: "amd64", arm64: "arm64" }[process.arch] ?? process.arch;
const tarball = path.join(root, "dist", `pulumi-resource-multiarch-v${version}-linux-${arch}.tar.gz`);
execFileSync("tar", ["-czf", tarball, "-C", outDir, "pulumi-resource-multiarch"]);
console.log(tarball);
