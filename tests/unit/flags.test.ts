// The build's flags, caches and secrets before anything runs: docker-build's typed cache
// entries and build-push-action's strings as buildx values without credentials (those go to
// buildx's environment only), the RUN-step flags and attestations as buildx takes them, each
// bad value refused at preview with its property path, and which of them is a rebuild reason.
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import type { ImageInputs } from "../../contract/types";
import { buildArgs } from "../../core/buildx";
import { credentialEnv, parseCacheEntries, withoutCredentials } from "../../core/cache";
import { imageInputs } from "../support/imageInputs";

pulumi.runtime.setMocks(
    { newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: () => ({}) },
    "pulumi-multiarch",
    "unit",
);

const pathsOf = (e: any) => (e as pulumi.InputPropertiesError).errors.map((x) => x.propertyPath);
const value = <T>(o: pulumi.Input<T>) => (pulumi.output(o) as any).promise() as Promise<T>;
const secretOf = (o: pulumi.Output<unknown>) => (o as any).isSecret as Promise<boolean>;

/** A context folder with a Dockerfile of two named stages. */
function context(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-flags-"));
    fs.mkdirSync(path.join(dir, "app"));
    fs.writeFileSync(
        path.join(dir, "app", "Dockerfile"),
        "FROM scratch AS base\nCOPY m /m\nFROM base AS stamp\nCOPY m /n\n",
    );
    fs.writeFileSync(path.join(dir, "app", "m"), "x");
    fs.writeFileSync(path.join(dir, "npmrc"), "//registry/:_authToken=x\n");
    return path.join(dir, "app");
}

describe("cache backends as buildx takes them", () => {
    const S3 = {
        bucket: "cache",
        region: "eu-west-1",
        endpointUrl: "http://127.0.0.1:9000",
        usePathStyle: true,
        name: "app",
    };

    it("writes docker-build's typed entries as --cache-from/--cache-to values, credentials left out", async () => {
        const { createImageInputs } = await import("../../components/multiArchImage");
        const inputs = createImageInputs({
            context: context(),
            platforms: ["linux/amd64"],
            tags: ["r/x:1"],
            builder: { name: "ci" },
            cacheFrom: [
                { registry: { ref: "ghcr.io/org/app:cache" } },
                { local: { src: "../cache", digest: "sha256:abc" } },
                { gha: { scope: "app", url: "https://cache/" } },
                { azblob: { name: "app", accountUrl: "https://acct.blob.core.windows.net" } },
                {
                    s3: {
                        ...S3,
                        accessKeyId: "AKID",
                        secretAccessKey: pulumi.secret("SECRET-KEY"),
                        sessionToken: pulumi.secret("SESSION"),
                    },
                },
                "type=registry,ref=r/c:1",
                "r/bare:1,r/bare:2",
                { raw: "type=local,src=x", disabled: true },
            ],
            cacheTo: [
                { inline: {} },
                {
                    registry: {
                        ref: "ghcr.io/org/app:cache",
                        mode: "max",
                        imageManifest: true,
                        ociMediaTypes: true,
                        compression: "zstd",
                        compressionLevel: 3,
                    },
                },
                { local: { dest: "../cache-out", mode: "max", ignoreError: true } },
                { gha: { scope: "app", mode: "max", token: pulumi.secret("GHA-TOKEN") } },
                {
                    s3: {
                        ...S3,
                        mode: "max",
                        accessKeyId: "AKID",
                        secretAccessKey: "SECRET-KEY",
                        sessionToken: "SESSION",
                    },
                },
                {
                    raw: "type=s3,bucket=b2,region=r,access_key_id=AKID,secret_access_key=SECRET-KEY,session_token=SESSION",
                },
            ],
        });
        assert.deepStrictEqual(await value(inputs.cacheFrom), [
            "type=registry,ref=ghcr.io/org/app:cache",
            "type=local,src=../cache,digest=sha256:abc",
            "type=gha,scope=app,url=https://cache/",
            "type=azblob,name=app,account_url=https://acct.blob.core.windows.net",
            "type=s3,bucket=cache,region=eu-west-1,name=app,endpoint_url=http://127.0.0.1:9000,use_path_style=true",
            "type=registry,ref=r/c:1",
            "type=registry,ref=r/bare:1",
            "type=registry,ref=r/bare:2",
        ]);
        assert.deepStrictEqual(await value(inputs.cacheTo), [
            "type=inline",
            "type=registry,ref=ghcr.io/org/app:cache,oci-mediatypes=true,image-manifest=true,mode=max,compression=zstd,compression-level=3",
            "type=local,dest=../cache-out,mode=max,ignore-error=true",
            "type=gha,scope=app,mode=max",
            "type=s3,bucket=cache,region=eu-west-1,name=app,endpoint_url=http://127.0.0.1:9000,use_path_style=true,mode=max",
            "type=s3,bucket=b2,region=r",
        ]);
        assert.deepStrictEqual(await value(inputs.cacheCredentials), {
            aws: { accessKeyId: "AKID", secretAccessKey: "SECRET-KEY", sessionToken: "SESSION" },
            gha: { token: "GHA-TOKEN" },
        });
        // The values are no secret (nothing secret is left in them); the credentials are, even when given as plain strings.
        assert.strictEqual(await secretOf(inputs.cacheFrom), false);
        assert.strictEqual(await secretOf(inputs.cacheCredentials), true);
    });

    it("gives buildx the credentials in its environment only, blanking the AWS profile the SDK would prefer", () => {
        const { args, env } = buildArgs(
            {
                builder: "b",
                context: ".",
                platforms: ["linux/amd64"],
                buildArgs: {},
                cacheTo: ["type=s3,bucket=cache,region=r"],
                cacheCredentials: {
                    aws: { accessKeyId: "AKID", secretAccessKey: "SECRET-KEY" },
                    gha: { token: "GHA-TOKEN" },
                },
            },
            "/m",
        );
        assert.ok(!/AKID|SECRET-KEY|GHA-TOKEN/.test(args.join(" ")), `credentials in argv: ${args.join(" ")}`);
        assert.deepStrictEqual(env, {
            AWS_ACCESS_KEY_ID: "AKID",
            AWS_SECRET_ACCESS_KEY: "SECRET-KEY",
            AWS_SESSION_TOKEN: "",
            AWS_PROFILE: "",
            AWS_DEFAULT_PROFILE: "",
            ACTIONS_RUNTIME_TOKEN: "GHA-TOKEN",
        });
        assert.deepStrictEqual(credentialEnv(undefined), {});
    });

    it("reads raw values as buildx's ParseCacheEntry does, and compares old states' strings without their credentials", () => {
        assert.deepStrictEqual(parseCacheEntries('type=Local,"src=a,b",Mode=max'), [
            { type: "Local", attrs: { src: "a,b", mode: "max" } },
        ]);
        assert.deepStrictEqual(
            parseCacheEntries("r/a:1,r/b:1").map((e) => e.attrs.ref),
            ["r/a:1", "r/b:1"],
        );
        assert.throws(() => parseCacheEntries("ref=x"), /no type=/);
        assert.strictEqual(
            withoutCredentials("type=s3,bucket=b,region=r,access_key_id=A,secret_access_key=S"),
            "type=s3,bucket=b,region=r",
        );
        assert.strictEqual(withoutCredentials("type=gha,scope=s,token=T"), "type=gha,scope=s");
    });

    it("refuses bad entries at preview, each with its property path and the fix", async () => {
        const { MultiArchImage } = await import("../../components");
        const ctx = context();
        assert.throws(
            () =>
                new MultiArchImage("bad-caches", {
                    context: ctx,
                    platforms: ["linux/amd64"],
                    tags: ["r/x:1"],
                    builder: { name: "ci" },
                    cacheFrom: [
                        {},
                        { registry: { ref: "r/a:1" }, local: { src: "x" } },
                        { inline: {} } as any,
                        { s3: { bucket: "b" } },
                        { raw: "ref=x" },
                        { azblob: { name: "a", secretAccessKey: "KEY" } },
                        { s3: { bucket: "b", region: "r", accessKeyId: "A" } },
                        { registry: { ref: "Bad Ref" } },
                    ],
                    cacheTo: [
                        { local: { dest: path.join(ctx, "cache") } },
                        {
                            registry: {
                                ref: "r/c:1",
                                mode: "maximal" as any,
                                compression: "lz4",
                                compressionLevel: 30,
                            },
                        },
                        { raw: "type=azblob,name=a,secret_access_key=KEY" },
                        { gha: { scope: "a", token: "T1" } },
                        { gha: { scope: "b", token: "T2" } },
                        { s3: { bucket: "b", region: "r", dest: "x" } as any },
                    ],
                }),
            (e: any) => {
                assert.deepStrictEqual(pathsOf(e), [
                    "cacheFrom[0]",
                    "cacheFrom[1]",
                    "cacheFrom[2].inline",
                    "cacheFrom[3].s3.region",
                    "cacheFrom[4].raw",
                    "cacheFrom[5].azblob.secretAccessKey",
                    "cacheFrom[6].s3.secretAccessKey",
                    "cacheFrom[7].registry.ref",
                    "cacheTo[0].local.dest",
                    "cacheTo[1].registry.mode",
                    "cacheTo[1].registry.compression",
                    "cacheTo[1].registry.compressionLevel",
                    "cacheTo[2].raw",
                    "cacheTo[4]",
                    "cacheTo[5].s3.dest",
                ]);
                assert.match(e.message, /cacheFrom\[1\]: one backend per entry, got local and registry/);
                assert.match(
                    e.message,
                    /cacheFrom\[5\]\.azblob\.secretAccessKey: buildx takes an azblob key only on its command line .*give the builder an Azure identity/,
                );
                assert.match(e.message, /cacheTo\[0\]\.local\.dest: ".*\/cache" is inside the build context/);
                assert.match(
                    e.message,
                    /cacheTo\[4\]: its gha credentials differ from cacheTo\[3\]'s: buildx reads one set from its environment/,
                );
                return true;
            },
        );
    });

    it("takes an s3 region from AWS_REGION where none is given, as docker-build does; warns of a gha cache buildx would leave out", async () => {
        const { cacheInputs } = await import("../../components/caches");
        const saved = { region: process.env.AWS_REGION, token: process.env.ACTIONS_RUNTIME_TOKEN };
        try {
            process.env.AWS_REGION = "us-east-2";
            delete process.env.ACTIONS_RUNTIME_TOKEN;
            const warnings: string[] = [];
            const c = cacheInputs([{ s3: { bucket: "b" } }], [{ gha: {} }], ".", (w) => warnings.push(w));
            assert.deepStrictEqual(await value(c.cacheFrom), ["type=s3,bucket=b,region=us-east-2"]);
            assert.match(
                warnings.join(),
                /a gha cache without a token, and no ACTIONS_RUNTIME_TOKEN in the environment: buildx leaves such a cache out/,
            );
        } finally {
            for (const [k, v] of [
                ["AWS_REGION", saved.region],
                ["ACTIONS_RUNTIME_TOKEN", saved.token],
            ] as const) {
                if (v === undefined) delete process.env[k];
                else process.env[k] = v;
            }
        }
    });
});

describe("build flags as buildx takes them", () => {
    it("maps network, hosts, shm size, ulimits, entitlements, no-cache stages, attestation attributes and secret files and variables", () => {
        const { args, env } = buildArgs(
            {
                builder: "b",
                context: ".",
                platforms: ["linux/amd64"],
                buildArgs: {},
                network: "none",
                addHosts: ["db:10.0.0.5", "v6=[::1]"],
                shmSize: "128m",
                ulimits: ["nofile=1024:2048"],
                allow: ["network.host", "security.insecure"],
                noCacheFilters: ["stamp"],
                provenance: "mode=max",
                sbom: "generator=r/scanner:1",
                secretFiles: { npmrc: "../npmrc", "a,b": "x" },
                secretEnvs: { gh: "GH_TOKEN" },
            },
            "/m",
        );
        const pairs = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
        assert.deepStrictEqual(pairs("--network"), ["none"]);
        assert.deepStrictEqual(pairs("--add-host"), ["db:10.0.0.5", "v6=[::1]"]);
        assert.deepStrictEqual(pairs("--shm-size"), ["128m"]);
        assert.deepStrictEqual(pairs("--ulimit"), ["nofile=1024:2048"]);
        assert.deepStrictEqual(pairs("--allow"), ["network.host", "security.insecure"]);
        assert.deepStrictEqual(pairs("--no-cache-filter"), ["stamp"]);
        assert.deepStrictEqual(pairs("--secret"), ['"id=a,b",src=x', "id=npmrc,src=../npmrc", "id=gh,env=GH_TOKEN"]);
        assert.ok(args.includes("--provenance=mode=max") && args.includes("--sbom=generator=r/scanner:1"));
        assert.deepStrictEqual(env, {});
        const off = buildArgs({ builder: "b", context: ".", platforms: ["linux/amd64"], buildArgs: {} }, "/m").args;
        assert.ok(off.includes("--provenance=false") && !off.some((a) => a.startsWith("--sbom")));
    });

    it("normalizes the args: default network and false attestations leave nothing, strings keep buildx's attributes", async () => {
        const { createImageInputs } = await import("../../components/multiArchImage");
        const ctx = context();
        process.env.PM_UNIT_GH_TOKEN = "x";
        const inputs = createImageInputs({
            context: ctx,
            platforms: ["linux/amd64"],
            tags: ["r/x:1"],
            builder: { name: "ci" },
            network: "default",
            shmSize: 1048576,
            provenance: "mode=max",
            sbom: "false",
            noCacheFilters: ["Stamp"],
            secrets: { token: pulumi.secret("v") },
            secretFiles: { npmrc: path.join(ctx, "..", "npmrc") },
            secretEnvs: { gh: "PM_UNIT_GH_TOKEN" },
            rebuildOnSecretChange: true,
            ignoreSecretsInDiffCalculation: ["token"],
        });
        assert.strictEqual(await value(inputs.network), undefined);
        assert.strictEqual(await value(inputs.shmSize), "1048576");
        assert.strictEqual(await value(inputs.provenance), "mode=max");
        assert.strictEqual(await value(inputs.sbom), false);
        assert.deepStrictEqual(await value(inputs.noCacheFilters), ["Stamp"]);
        assert.deepStrictEqual(await value(inputs.secretEnvs), { gh: "PM_UNIT_GH_TOKEN" });
        assert.strictEqual(await value(inputs.rebuildOnSecretChange), true);
    });

    it("refuses every bad flag at preview, each with its property path and the fix", async () => {
        const { MultiArchImage } = await import("../../components");
        const ctx = context();
        delete process.env.PM_UNIT_UNSET;
        assert.throws(
            () =>
                new MultiArchImage("bad-flags", {
                    context: ctx,
                    platforms: ["linux/amd64"],
                    tags: ["r/x:1"],
                    builder: { name: "ci" },
                    load: true,
                    network: "bridge" as any,
                    addHosts: ["nohost", "db:10.0.0.300", "gw:host-gateway"],
                    shmSize: "lots",
                    ulimits: ["nofile=2048:1024", "files=1", "nproc"],
                    allow: ["network.host", "root"],
                    noCacheFilters: ["missing", "Bad Name"],
                    provenance: "mode=maximal,color=red",
                    sbom: "generator=Not A Ref",
                    secrets: { token: "v" },
                    secretFiles: { npmrc: "no/such/file", token: path.join(ctx, "Dockerfile") },
                    secretEnvs: { gh: "PM_UNIT_UNSET", x: "not-a-name" },
                    rebuildOnSecretChange: "yes" as any,
                }),
            (e: any) => {
                assert.deepStrictEqual(pathsOf(e), [
                    "provenance",
                    "provenance",
                    "sbom",
                    "network",
                    "addHosts[0]",
                    "addHosts[1]",
                    "shmSize",
                    "ulimits[0]",
                    "ulimits[1]",
                    "ulimits[2]",
                    "allow[1]",
                    "noCacheFilters[0]",
                    "noCacheFilters[1]",
                    "secretFiles.npmrc",
                    "secretFiles.token",
                    "secretEnvs.gh",
                    "secretEnvs.x",
                    "rebuildOnSecretChange",
                ]);
                for (const re of [
                    /provenance: mode=maximal: use mode=min or mode=max/,
                    /provenance: color= is not an attribute of provenance attestations/,
                    /network: "bridge" is not a network mode: use "default", "host" .* or "none"/,
                    /addHosts\[1\]: "10\.0\.0\.300" in "db:10\.0\.0\.300" is not an IP address/,
                    /ulimits\[0\]: "nofile=2048:1024": the soft limit 2048 is above the hard limit 1024/,
                    /allow\[1\]: "root" is not an entitlement/,
                    /noCacheFilters\[0\]: the Dockerfile has no stage "missing": its stages are base, stamp/,
                    /secretFiles\.npmrc: "no\/such\/file" is not a file/,
                    /secretFiles\.token: secrets gives secret "token" already/,
                    /secretEnvs\.gh: PM_UNIT_UNSET is not set in the environment pulumi runs in/,
                ])
                    assert.match(e.message, re);
                return true;
            },
        );
        // A BuildKit this stack starts permits only what its flags name.
        const { BuildxBuilder } = await import("../../components");
        const permits = new BuildxBuilder("permits", {
            name: "pm-unit-permits",
            buildkitdFlags: "--allow-insecure-entitlement=network.host --debug",
        });
        const plain = new BuildxBuilder("plain", { name: "pm-unit-plain" });
        assert.deepStrictEqual(permits.entitlements, ["network.host"]);
        assert.doesNotThrow(
            () =>
                new MultiArchImage("host-ok", {
                    context: ctx,
                    platforms: ["linux/amd64"],
                    tags: ["r/x:1"],
                    builder: permits,
                    network: "host",
                }),
        );
        assert.throws(
            () =>
                new MultiArchImage("insecure", {
                    context: ctx,
                    platforms: ["linux/amd64"],
                    tags: ["r/x:1"],
                    builder: permits,
                    allow: ["network.host", "security.insecure"],
                }),
            (e: any) =>
                JSON.stringify(pathsOf(e)) === '["allow[1]"]' &&
                /allow\[1\]: the image's builder does not permit security\.insecure: give its BuildxBuilder buildkitdFlags "--allow-insecure-entitlement security\.insecure"/.test(
                    e.message,
                ),
        );
        assert.throws(
            () =>
                new MultiArchImage("host-plain", {
                    context: ctx,
                    platforms: ["linux/amd64"],
                    tags: ["r/x:1"],
                    builder: plain,
                    network: "host",
                }),
            (e: any) => JSON.stringify(pathsOf(e)) === '["network"]',
        );
        // Attestations, in any form, are what a docker tarball cannot hold.
        assert.throws(
            () =>
                new MultiArchImage("attest-docker", {
                    context: ctx,
                    platforms: ["linux/amd64"],
                    tags: ["r/x:1"],
                    builder: { name: "ci" },
                    provenance: "mode=max",
                    exports: [{ docker: { dest: "../d.tar" } }],
                }),
            (e: any) => JSON.stringify(pathsOf(e)) === '["exports[0].docker"]',
        );
    });
});

describe("rebuild reasons of the new inputs", () => {
    const base = imageInputs({ context: "app", tags: ["r/x:1"], secrets: { token: "v1" } });
    let changedKeys: typeof import("../../provider/resources/image").changedKeys;
    let secretsRevision: typeof import("../../provider/resources/image").secretsRevision;
    before(async () => {
        ({ changedKeys, secretsRevision } = await import("../../provider/resources/image"));
    });

    it("a rotated secret value is no reason unless rebuildOnSecretChange; an added or removed secret always is", () => {
        // check compares the old inputs (values included) with the new ones; outputs keep the count.
        const reasons = (news: Partial<ImageInputs>) => {
            const after = { ...base, ...news };
            const { secrets: _values, ...outputs } = { ...base, secretsRevision: 0 };
            return changedKeys(outputs, { ...after, secretsRevision: secretsRevision(base, after) });
        };
        assert.deepStrictEqual(reasons({ secrets: { token: "v2" } }), []);
        assert.deepStrictEqual(reasons({ secrets: { token: "v2" }, rebuildOnSecretChange: true }), ["secrets"]);
        assert.deepStrictEqual(
            reasons({
                secrets: { token: "v2" },
                rebuildOnSecretChange: true,
                ignoreSecretsInDiffCalculation: ["token"],
            }),
            [],
        );
        // Turning the switch on is no change by itself.
        assert.deepStrictEqual(reasons({ rebuildOnSecretChange: true }), []);
        assert.deepStrictEqual(reasons({ secrets: { token: "v1", npm: "n" } }), ["secrets"]);
        assert.deepStrictEqual(reasons({ secrets: {}, secretFiles: { token: "../token" } }), []);
        assert.deepStrictEqual(reasons({ secretEnvs: { gh: "GH_TOKEN" } }), ["secrets"]);
        // A state written before issue 22 holds the values in its outputs: the same rule.
        assert.deepStrictEqual(changedKeys(base, { ...base, secrets: { token: "v2" } }), []);
        assert.deepStrictEqual(changedKeys(base, { ...base, secrets: { token: "v2" }, rebuildOnSecretChange: true }), [
            "secrets",
        ]);
    });

    it("network and hosts rebuild; shm size, ulimits, entitlements, no-cache stages and cache credentials do not", () => {
        assert.deepStrictEqual(changedKeys(base, { ...base, network: "none", addHosts: ["db:10.0.0.5"] }), [
            "network",
            "addHosts",
        ]);
        assert.deepStrictEqual(
            changedKeys(base, {
                ...base,
                shmSize: "1g",
                ulimits: ["nofile=1:2"],
                allow: ["security.insecure"],
                noCacheFilters: ["x"],
                cacheCredentials: { aws: { accessKeyId: "A", secretAccessKey: "S2" } },
            }),
            [],
        );
        assert.deepStrictEqual(changedKeys(base, { ...base, provenance: "mode=max" }), ["provenance"]);
        // A state of 0.2 kept the keys inside the string: the same cache without them is no change.
        assert.deepStrictEqual(
            changedKeys(
                { ...base, cacheTo: ["type=s3,bucket=b,region=r,access_key_id=A,secret_access_key=S"] },
                { ...base, cacheTo: ["type=s3,bucket=b,region=r"] },
            ),
            [],
        );
    });
});
