// Build flags, cache backends and build secrets through the real engine, buildx/BuildKit, the
// registry on 5000 and an S3 server on loopback (gofakes3 behind a signature check, started by
// this file), in ONE stack of tiny amd64 images on one builder:
//   gen     an SBOM generator image (a shell script BuildKit runs as a scanner);
//   attest  provenance mode=max and an SBOM by `gen`, RUN steps on the host network
//           (allow network.host);
//   flags   network none, addHosts, shmSize, ulimits, what RUN steps saw written into the
//           image; a stage in noCacheFilters; typed local and registry caches;
//   secret  a build secret by value, one from a file and one from an environment variable,
//           hashed together into the image; rotated with and without rebuildOnSecretChange;
//   s3      an s3 cache written and read back, its keys a Pulumi secret given to buildx in its
//           environment.
// One up, a no-op up, refresh, rotations, a rebuild from the S3 cache, bad input at preview,
// destroy.
import * as pulumi from "@pulumi/pulumi";
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { type ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

import { BuildxBuilder, MultiArchImage, type MultiArchImageArgs } from "../../components";
import { builderNames, requireRealParts, ROOT, sh } from "../support/env";
import { blobText, imageFileText, manifest } from "../support/registry";
import { dispose, failure, inlineStack, stateTexts } from "../support/stack";

const REG = "127.0.0.1:5000";
const BASE = `${REG}/fixtures/busybox:latest`;
const NS = `e2e/flags-${process.pid}`;
const BUILDER = `pm-e2e-flags-${process.pid}`;
const D = path.join(ROOT, ".state", "e2e", `flags-files-${process.pid}`);
const S3 = {
    bucket: "cache",
    accessKeyId: `AKIDPM${process.pid}`,
    secretAccessKey: `pm-s3-secret-${process.pid}-${Date.now()}`,
    sessionToken: `pm-s3-session-${Date.now()}`,
};
const ENV_SECRET = "PM_E2E_FLAGS_GH_TOKEN";
const quiet = { onOutput: () => {} };
const SAME = 13; // stack, builder (2), 2 per image

describe("build flags, typed caches (s3 for real) and rotating secrets", function () {
    let stack: Stack;
    let s3: ChildProcess;
    let s3Url: string;
    const s3Log: string[] = [];
    let first: Record<string, any>;
    /** Inputs the tests change between runs. */
    const v = { token: "token-1", rebuildOnSecretChange: false, flagsTrigger: "1", s3Trigger: "1", bad: false };

    const write = (file: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(D, file)), { recursive: true });
        fs.writeFileSync(path.join(D, file), text);
    };
    const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

    function program() {
        return async () => {
            const builder = new BuildxBuilder("b", {
                name: BUILDER,
                driverOpts: { network: "host" },
                buildkitdConfig: `[registry."${REG}"]\n  http = true\n`,
                buildkitdFlags: "--allow-insecure-entitlement network.host",
            });
            const image = (name: string, a: Omit<MultiArchImageArgs, "builder" | "platforms" | "tags">) =>
                new MultiArchImage(name, {
                    builder,
                    platforms: ["linux/amd64"],
                    tags: [`${REG}/${NS}/${name}:1`],
                    deleteOnDestroy: true,
                    ...a,
                });
            const s3Cache = {
                bucket: S3.bucket,
                region: "us-east-1",
                endpointUrl: s3Url,
                usePathStyle: true,
                name: "s3-image",
                accessKeyId: S3.accessKeyId,
                secretAccessKey: pulumi.secret(S3.secretAccessKey),
                sessionToken: pulumi.secret(S3.sessionToken),
            };
            const bad = v.bad
                ? {
                      network: "bridge" as any,
                      addHosts: ["nohost"],
                      shmSize: "lots",
                      ulimits: ["nofile=2:1"],
                      allow: ["root", "security.insecure"],
                      noCacheFilters: ["nostage"],
                      provenance: "mode=maximal",
                      sbom: "generator=Not A Ref",
                      secretFiles: { f: `${D}/missing` },
                      secretEnvs: { e: "PM_E2E_FLAGS_UNSET" },
                      rebuildOnSecretChange: "yes" as any,
                      cacheFrom: [{ s3: { bucket: "b" } as any }],
                      cacheTo: [{ azblob: { name: "a", secretAccessKey: "k" } }],
                  }
                : {};
            const gen = image("gen", { context: `${D}/gen` });
            const attest = image("attest", {
                context: `${D}/attest`,
                provenance: "mode=max",
                sbom: pulumi.interpolate`generator=${gen.ref}`,
                network: "host",
                allow: ["network.host"],
            });
            const flags = image("flags", {
                context: `${D}/flags`,
                network: "none",
                addHosts: ["pm-flags.test:10.1.2.3"],
                shmSize: "128m",
                ulimits: ["nofile=1024:2048"],
                noCacheFilters: ["stamp"],
                triggers: [v.flagsTrigger],
                cacheTo: [
                    { local: { dest: `${D}/out/local-cache`, mode: "max" } },
                    { registry: { ref: `${REG}/${NS}/cache:flags`, mode: "max" } },
                ],
                ...bad,
            });
            const secret = image("secret", {
                context: `${D}/secret`,
                secrets: { token: pulumi.secret(v.token) },
                secretFiles: { npmrc: `${D}/out/npmrc` },
                secretEnvs: { gh: ENV_SECRET },
                rebuildOnSecretChange: v.rebuildOnSecretChange,
            });
            const s3Image = image("s3", {
                context: `${D}/s3`,
                cacheFrom: [{ s3: s3Cache }],
                cacheTo: [{ s3: { ...s3Cache, mode: "max" } }],
                triggers: [v.s3Trigger],
            });
            const o = (i: MultiArchImage) => ({
                digest: i.digest,
                platformDigests: i.platformDigests,
                reason: i.buildReason,
                verification: i.verification,
            });
            return { gen: o(gen), attest: o(attest), flags: o(flags), secret: o(secret), s3: o(s3Image) };
        };
    }

    const outputs = (r: { outputs: Record<string, { value: any }> }) =>
        Object.fromEntries(Object.entries(r.outputs).map(([k, x]) => [k, x.value]));
    const file = (name: string, o: any, f: string) =>
        imageFileText(REG, `${NS}/${name}`, o.platformDigests["linux/amd64"], f);
    const secretsSum = () => sha256(`${v.token}${fs.readFileSync(`${D}/out/npmrc`, "utf8")}${process.env[ENV_SECRET]}`);

    before(async function () {
        this.timeout(10 * 60_000);
        requireRealParts();
        fs.rmSync(D, { recursive: true, force: true });
        write(
            "gen/scan.sh",
            [
                "#!/bin/sh",
                "# An SBOM generator as BuildKit runs one: the image under $BUILDKIT_SCAN_SOURCE, in-toto statements written to $BUILDKIT_SCAN_DESTINATION.",
                "set -e",
                'n=$(find "$BUILDKIT_SCAN_SOURCE" -type f | wc -l)',
                'printf \'{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","predicate":{"spdxVersion":"SPDX-2.3","name":"pm-scan","comment":"%s files"}}\' "$n" > "$BUILDKIT_SCAN_DESTINATION/sbom.spdx.json"',
                "",
            ].join("\n"),
        );
        write("gen/Dockerfile", `FROM ${BASE}\nCOPY scan.sh /scan.sh\nENTRYPOINT ["/bin/sh", "/scan.sh"]\n`);
        // RUN on the host network: the registry on the host's loopback answers.
        write(
            "attest/Dockerfile",
            `FROM ${BASE}\nRUN wget -q -O /v2.json http://${REG}/v2/ && echo reached > /reached\n`,
        );
        write(
            "flags/Dockerfile",
            [
                `FROM ${BASE} AS probe`,
                "RUN grep -c : /proc/net/dev > /ifaces; grep pm-flags /etc/hosts > /hosts; df -k /dev/shm | awk 'NR==2{print $2}' > /shm; " +
                    "ulimit -n > /nofile; ulimit -Hn >> /nofile; date +%s%N > /probe-time",
                "FROM probe AS stamp",
                "RUN date +%s%N > /stamp",
                "FROM scratch",
                "COPY --from=probe /ifaces /hosts /shm /nofile /probe-time /",
                "COPY --from=stamp /stamp /",
                "",
            ].join("\n"),
        );
        write(
            "secret/Dockerfile",
            `FROM ${BASE}\nRUN --mount=type=secret,id=token --mount=type=secret,id=npmrc --mount=type=secret,id=gh ` +
                "cat /run/secrets/token /run/secrets/npmrc /run/secrets/gh | sha256sum | cut -c1-64 > /secrets.sum\n",
        );
        write("s3/Dockerfile", `FROM ${BASE}\nRUN date +%s%N > /built-at\n`);
        write("out/npmrc", "//npm.example/:_authToken=npm-1\n");
        process.env[ENV_SECRET] = "gh-1";

        s3 = spawn(
            path.join(ROOT, ".tools/test-bin/s3-server"),
            [
                "-addr",
                "127.0.0.1:0",
                "-bucket",
                S3.bucket,
                "-access-key",
                S3.accessKeyId,
                "-secret-key",
                S3.secretAccessKey,
                "-session-token",
                S3.sessionToken,
            ],
            { stdio: ["ignore", "pipe", "inherit"] },
        );
        s3Url = await new Promise<string>((resolve, reject) => {
            s3.on("error", (e) =>
                reject(
                    new Error(
                        `s3-server did not start (${e.message}): run \`bash scripts/bootstrap\`, which builds it into .tools/test-bin`,
                    ),
                ),
            );
            s3.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
                for (const line of chunk.split("\n").filter(Boolean)) {
                    s3Log.push(line);
                    const m = /^listening on (\S+)/.exec(line);
                    if (m) resolve(`http://${m[1]}`);
                }
            });
        });
        stack = await inlineStack("e2e-flags", program() as any);
        first = outputs(await stack.up(quiet));
    });

    after(async function () {
        this.timeout(5 * 60_000);
        await dispose(stack);
        s3?.kill();
        delete process.env[ENV_SECRET];
        fs.rmSync(D, { recursive: true, force: true });
    });

    it("flags: RUN steps ran with no network, the extra host, a 128m /dev/shm and the ulimits; the local and registry caches were written", async () => {
        const f = first.flags;
        assert.strictEqual(await file("flags", f, "ifaces"), "1\n", "network none: only lo");
        assert.strictEqual(await file("flags", f, "hosts"), "10.1.2.3\tpm-flags.test\n");
        assert.strictEqual(await file("flags", f, "shm"), "131072\n");
        assert.strictEqual(await file("flags", f, "nofile"), "1024\n2048\n");
        assert.ok(fs.existsSync(`${D}/out/local-cache/index.json`), "no local cache written");
        assert.strictEqual((await manifest(REG, `${NS}/cache`, "flags")).status, 200, "no registry cache written");
    });

    it("attest: provenance with mode=max and an SBOM by the stack's own generator, beside the image; RUN reached the host network", async () => {
        const a = first.attest;
        assert.strictEqual(await file("attest", a, "reached"), "reached\n");
        const index = (await manifest(REG, `${NS}/attest`, a.digest)).body;
        const att = index.manifests.find(
            (m: any) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest",
        );
        assert.ok(att, `no attestation manifest in ${JSON.stringify(index)}`);
        const layers = (await manifest(REG, `${NS}/attest`, att.digest)).body.layers;
        const byType = (t: string) => layers.find((l: any) => l.annotations?.["in-toto.io/predicate-type"] === t);
        const sbom = JSON.parse(await blobText(REG, `${NS}/attest`, byType("https://spdx.dev/Document").digest));
        assert.strictEqual(sbom.predicate.name, "pm-scan");
        assert.match(sbom.predicate.comment, /^\d+ files$/);
        const provenance = JSON.parse(
            await blobText(REG, `${NS}/attest`, byType("https://slsa.dev/provenance/v1").digest),
        );
        // mode=max records the build's own definition (mode=min does not).
        assert.ok(
            provenance.predicate.buildDefinition.internalParameters.buildConfig.llbDefinition.length > 0,
            "no buildConfig: not mode=max",
        );
        assert.match(a.verification["linux/amd64"], /^ok: config linux\/amd64/);
    });

    it("secret: the value, the file and the environment variable reached the RUN step", async () => {
        assert.strictEqual(await file("secret", first.secret, "secrets.sum"), `${secretsSum()}\n`);
    });

    it("s3: the cache went to the S3 server, every request signed with the stack's keys", () => {
        assert.ok(
            s3Log.some((l) => /^PUT \/cache\/manifests\/s3-image 200 signed-ok$/.test(l)),
            `no cache manifest written: ${s3Log.join("\n")}`,
        );
        assert.ok(
            s3Log.some((l) => /^PUT \/cache\/blobs\/sha256:[0-9a-f]{64} 200 signed-ok$/.test(l)),
            "no cache blob written",
        );
        assert.deepStrictEqual(
            s3Log.filter((l) => /refused/.test(l)),
            [],
        );
    });

    it("a second up changes nothing; refresh sees no drift; no secret, file content, variable or key is in the state in clear", async () => {
        assert.deepStrictEqual((await stack.up(quiet)).summary.resourceChanges, { same: SAME });
        const refreshed = await stack.refresh(quiet);
        assert.ok(
            !refreshed.summary.resourceChanges?.update,
            `refresh saw drift: ${JSON.stringify(refreshed.summary.resourceChanges)}`,
        );
        assert.deepStrictEqual((await stack.preview()).changeSummary, { same: SAME });
        const { exported, onDisk } = stateTexts(stack);
        for (const s of [v.token, "npm-1", process.env[ENV_SECRET]!, S3.secretAccessKey, S3.sessionToken]) {
            assert.ok(!exported.includes(s) && !onDisk.includes(s), `${s} is in the state in clear`);
        }
    });

    it("rotated secrets (a value, a file, a variable) rebuild nothing by default", async () => {
        v.token = "token-2";
        write("out/npmrc", "//npm.example/:_authToken=npm-2\n");
        process.env[ENV_SECRET] = "gh-2";
        stack.workspace.program = program() as any;
        assert.deepStrictEqual((await stack.preview()).changeSummary, { same: SAME });
        assert.deepStrictEqual((await stack.up(quiet)).summary.resourceChanges, { same: SAME });
        assert.strictEqual((await stack.outputs()).secret.value.digest, first.secret.digest);
    });

    it("with rebuildOnSecretChange a rotated value rebuilds without cache; a noCacheFilters stage runs again while the others stay cached", async () => {
        v.rebuildOnSecretChange = true;
        v.token = "token-3";
        v.flagsTrigger = "2";
        stack.workspace.program = program() as any;
        const next = outputs(await stack.up(quiet));
        assert.deepStrictEqual(next.secret.reason, ["secrets"]);
        assert.strictEqual(
            await file("secret", next.secret, "secrets.sum"),
            `${secretsSum()}\n`,
            "the rebuild did not read the rotated secrets",
        );
        assert.deepStrictEqual(next.flags.reason, ["triggers"]);
        assert.strictEqual(
            await file("flags", next.flags, "probe-time"),
            await file("flags", first.flags, "probe-time"),
            "the probe stage ran again",
        );
        assert.notStrictEqual(
            await file("flags", next.flags, "stamp"),
            await file("flags", first.flags, "stamp"),
            "the noCacheFilters stage was cached",
        );
        // Turning the switch on rebuilt nothing by itself: the other images stayed.
        assert.strictEqual(next.s3.digest, first.s3.digest);
    });

    it("s3: with the builder's cache pruned, a rebuild takes its steps from the S3 cache", async () => {
        sh("docker", ["buildx", "prune", "--builder", BUILDER, "--all", "--force"]);
        const before = s3Log.length;
        v.s3Trigger = "2";
        stack.workspace.program = program() as any;
        const next = outputs(await stack.up(quiet));
        assert.deepStrictEqual(next.s3.reason, ["triggers"]);
        assert.strictEqual(
            await file("s3", next.s3, "built-at"),
            await file("s3", first.s3, "built-at"),
            "the RUN step ran again: not read from S3",
        );
        assert.ok(
            s3Log.slice(before).some((l) => /^GET \/cache\/manifests\/s3-image 200 signed-ok$/.test(l)),
            "the cache manifest was not read",
        );
    });

    it("bad input for every new field is refused at preview, each property named, and nothing changes", async () => {
        v.bad = true;
        stack.workspace.program = program() as any;
        let refused: string;
        try {
            refused = await failure(() => stack.preview());
        } finally {
            v.bad = false;
            stack.workspace.program = program() as any;
        }
        for (const p of [
            "network",
            "addHosts\\[0\\]",
            "shmSize",
            "ulimits\\[0\\]",
            "allow\\[0\\]",
            "allow\\[1\\]",
            "noCacheFilters\\[0\\]",
            "provenance",
            "sbom",
            "secretFiles\\.f",
            "secretEnvs\\.e",
            "rebuildOnSecretChange",
            "cacheFrom\\[0\\]\\.s3\\.region",
            "cacheTo\\[0\\]\\.azblob\\.secretAccessKey",
        ]) {
            assert.match(refused, new RegExp(`(^|\\s)${p}: `, "m"), `${p} not named in: ${refused}`);
        }
        assert.deepStrictEqual((await stack.preview()).changeSummary, { same: SAME });
    });

    it("destroy removes the images' pushes and the builder", async () => {
        const o = (await stack.outputs()).flags.value;
        await stack.destroy(quiet);
        assert.strictEqual((await manifest(REG, `${NS}/flags`, o.digest)).status, 404);
        assert.ok(!builderNames().includes(BUILDER), "destroy left the builder");
    });
});
