// A fake `docker buildx build` for unit tests of the image lifecycle, put in the one exec seam
// (core/exec.ts replaceRunner): it reads the argv the build job wrote (core/buildx.ts
// buildArgs), "pushes" by digest, as buildx does, into the in-process registries the
// `--output type=image,name=...` names (tests/support/fakeRegistry.ts): per platform a config
// and one layer holding /hello, an ELF of the platform's architecture (or of another, to fail
// verification); an index over them when one invocation builds several platforms. Then it
// writes the `--metadata-file` with the keys of real buildx's (tests/fixtures/
// buildx-metadata-push-and-load.json). Any other command fails the test.
import * as fs from "fs";
import * as tarStream from "tar-stream";

import { exitProgram } from "../../core/elf";
import { execError, type Runner, type RunResult } from "../../core/exec";
import { csvFields } from "../../core/exports";
import { type FakeRegistry, sha256 } from "./fakeRegistry";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const INDEX = "application/vnd.oci.image.index.v1+json";

/** A tar holding one executable file. */
function tarOf(name: string, body: Buffer): Promise<Buffer> {
    const pack = tarStream.pack();
    const chunks: Buffer[] = [];
    pack.on("data", (c: unknown) => chunks.push(c as Buffer));
    pack.entry({ name, mode: 0o755 }, body);
    pack.finalize();
    return new Promise((resolve) => pack.on("end", () => resolve(Buffer.concat(chunks))));
}

/** The value after `flag` each time it appears. */
const valuesOf = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

export interface FakeBuildxOptions {
    /** The architecture of /hello in `platform`'s image. Default: the platform's own. */
    binaryArch?: (platform: string) => string;
    /** buildx's stderr to fail the first build of `platform` with (exit code 1, nothing pushed); undefined: it builds. */
    failFirst?: (platform: string) => string | undefined;
}

export class FakeBuildx {
    /** Each `docker buildx build`'s argv, in order. */
    readonly builds: string[][] = [];

    constructor(
        private readonly registries: FakeRegistry[],
        readonly opts: FakeBuildxOptions = {},
    ) {}

    /** The runner to put in the exec seam. */
    readonly runner: Runner = (file, args) => {
        if (file !== "docker" || args[0] !== "buildx" || args[1] !== "build")
            return Promise.reject(new Error(`the fake buildx does not run \`${[file, ...args].join(" ")}\``));
        this.builds.push(args);
        return this.build(args);
    };

    private registry(addr: string): FakeRegistry {
        const r = this.registries.find((x) => x.addr === addr);
        if (!r) throw new Error(`the fake buildx knows no registry ${addr}`);
        return r;
    }

    /** One platform's image in `repo` of `reg`: the manifest's digest and bytes. */
    private async pushPlatform(reg: FakeRegistry, repo: string, platform: string, salt: string) {
        const [os, architecture, variant] = platform.split("/");
        const binary = exitProgram(this.opts.binaryArch?.(platform) ?? architecture);
        const layer = reg.putBlobDirect(repo, await tarOf("hello", binary));
        const config = reg.putBlobDirect(
            repo,
            Buffer.from(
                JSON.stringify({
                    os,
                    architecture,
                    ...(variant ? { variant } : {}),
                    config: { Cmd: ["/hello"] },
                    salt,
                }),
            ),
        );
        const manifest = {
            schemaVersion: 2,
            mediaType: MANIFEST,
            config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
        };
        const raw = Buffer.from(JSON.stringify(manifest));
        return { digest: reg.putManifestDirect(repo, "sha256:", MANIFEST, raw), raw, platform: { os, architecture } };
    }

    private readonly failed = new Set<string>();

    private async build(args: string[]): Promise<RunResult> {
        const platforms = valuesOf(args, "--platform")[0].split(",");
        const failure = platforms.length === 1 ? this.opts.failFirst?.(platforms[0]) : undefined;
        if (failure !== undefined && !this.failed.has(platforms[0])) {
            this.failed.add(platforms[0]);
            throw execError({ command: args.join(" "), code: 1, stdout: "", stderr: failure });
        }
        const metadataFile = valuesOf(args, "--metadata-file")[0];
        // The build args change what is built, as they would in a Dockerfile's RUN.
        const salt = valuesOf(args, "--build-arg").join(" ");
        const image = valuesOf(args, "--output")
            .map(csvFields)
            .find((f) => f.includes("type=image") && f.includes("push=true"));
        const names =
            image
                ?.find((f) => f.startsWith("name="))
                ?.slice("name=".length)
                .split(",") ?? [];
        let digest = "";
        for (const name of names) {
            const [addr, ...path] = name.split("/");
            const reg = this.registry(addr),
                repo = path.join("/");
            const pushed = [];
            for (const p of platforms) pushed.push(await this.pushPlatform(reg, repo, p, salt));
            if (pushed.length === 1) {
                digest = pushed[0].digest;
                continue;
            }
            // What buildx pushes to a registry that keeps no lists: it fails, as the real one does.
            if (reg.opts.noIndex)
                throw execError({
                    command: args.join(" "),
                    code: 1,
                    stdout: "",
                    stderr: `failed to push ${name}: 400`,
                });
            const index = {
                schemaVersion: 2,
                mediaType: INDEX,
                manifests: pushed.map((m) => ({
                    mediaType: MANIFEST,
                    digest: m.digest,
                    size: m.raw.length,
                    platform: m.platform,
                })),
            };
            digest = reg.putManifestDirect(repo, "sha256:", INDEX, index);
        }
        fs.writeFileSync(
            metadataFile,
            JSON.stringify({
                "buildx.build.ref": `${valuesOf(args, "--builder")[0]}/${valuesOf(args, "--builder")[0]}0/${sha256(Buffer.from(args.join(" "))).slice(7, 32)}`,
                ...(digest
                    ? {
                          "containerimage.digest": digest,
                          "containerimage.descriptor": { mediaType: platforms.length > 1 ? INDEX : MANIFEST, digest },
                          "image.name": names.join(","),
                      }
                    : {}),
            }),
        );
        return { command: args.join(" "), code: 0, stdout: "", stderr: "" };
    }
}
