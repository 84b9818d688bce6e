// Where our API mirrors @pulumi/command's and @pulumi/docker's, their objects fit ours: a
// connection made for `remote.Command`s on the builder host is a BinfmtSetup host. Both
// packages are devDependencies only (a consumer must not download plugins it never runs), so
// this file is where they have their role: `tsc` fails if the shapes drift apart.
import type * as command from "@pulumi/command";
import type * as docker from "@pulumi/docker";
import type * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";

import type {
    BuilderConfigArgs,
    CacheFromArgs,
    CacheToArgs,
    ExportArgs,
    IndexArgs,
    MultiArchImageArgs,
    RegistryArgs,
    RegistryLoginArgs,
    SshHostArgs,
} from "../../components";

pulumi.runtime.setMocks(
    { newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: () => ({}) },
    "pulumi-multiarch",
    "unit",
);

/** Compile-time: a @pulumi/command connection is assignable to our host shape, @pulumi/docker's registry args to ours. */
const asHost = (c: command.types.input.remote.ConnectionArgs): SshHostArgs => c;
const asRegistry = (r: docker.types.input.Registry): RegistryArgs => r;
/** Compile-time: @pulumi/docker-build's `registries` entries, `exports` entries and `builder` fit MultiArchImage's. */
const asLogin = (r: dockerBuild.types.input.RegistryArgs): RegistryLoginArgs => r;
const asExport = (e: dockerBuild.types.input.ExportArgs): ExportArgs => e;
const asBuilder = (b: dockerBuild.types.input.BuilderConfigArgs): BuilderConfigArgs => b;
/** Compile-time: its cache entries, network, hosts and secrets inputs fit MultiArchImage's, name for name. */
type Shared = "cacheFrom" | "cacheTo" | "network" | "addHosts" | "secrets" | "ignoreSecretsInDiffCalculation";
const asFlags = (a: Pick<dockerBuild.ImageArgs, Shared>): Pick<MultiArchImageArgs, Shared> => a;
const asCacheFrom = (c: dockerBuild.types.input.CacheFromArgs): CacheFromArgs => c;
const asCacheTo = (c: dockerBuild.types.input.CacheToArgs): CacheToArgs => c;
/** Compile-time: @pulumi/docker-build's `Index` args are our Index's, as they are. */
const asIndex = (a: dockerBuild.IndexArgs): IndexArgs => a;

describe("@pulumi/command's remote connection as a BinfmtSetup host", () => {
    it("is accepted as it is, key authentication and dial limits included", async () => {
        const { BinfmtSetup } = await import("../../components");
        const connection: command.types.input.remote.ConnectionArgs = {
            host: "builder.example",
            port: 2222,
            user: "root",
            privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\n...",
            perDialTimeout: 5,
            dialErrorLimit: 3,
        };
        assert.doesNotThrow(() => new BinfmtSetup("ok", { platforms: ["linux/arm64"], host: asHost(connection) }));
    });

    it("its password, encrypted key and proxy are refused at preview, each with the fix", async () => {
        const { BinfmtSetup } = await import("../../components");
        const connection: command.types.input.remote.ConnectionArgs = {
            host: "builder.example",
            password: "pw",
            privateKeyPassword: "pp",
            proxy: { host: "jump.example" },
        };
        assert.throws(
            () => new BinfmtSetup("bad", { platforms: ["linux/arm64"], host: asHost(connection) }),
            (e: any) => {
                assert.deepStrictEqual(
                    e.errors.map((x: any) => x.propertyPath),
                    ["host.password", "host.privateKeyPassword", "host.proxy"],
                );
                assert.match(e.message, /agentSocketPath/);
                return true;
            },
        );
    });
});

describe("ssh argv for a builder host", () => {
    it("carries the dial limits, the key and host-key files, and the agent socket only in the environment", async () => {
        const { sshCommand } = await import("../../core/host");
        const files = { key: "/tmp/x/id", knownHosts: "/tmp/x/known_hosts" };
        const c = sshCommand(
            {
                kind: "ssh",
                host: "h",
                port: 2222,
                user: "u",
                privateKey: "PRIVATE-KEY-TEXT",
                hostKey: "ssh-ed25519 AAA",
                agentSocketPath: "/run/agent.sock",
                connectTimeout: 5,
                connectionAttempts: 3,
            },
            "echo hi",
            files,
        );
        assert.deepStrictEqual(c.args, [
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "ConnectionAttempts=3",
            "-p",
            "2222",
            "-i",
            "/tmp/x/id",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "UserKnownHostsFile=/tmp/x/known_hosts",
            "-o",
            "StrictHostKeyChecking=yes",
            "u@h",
            "sh -c 'echo hi'",
        ]);
        assert.deepStrictEqual(c.env, { SSH_AUTH_SOCK: "/run/agent.sock" });
        assert.ok(!c.args.join(" ").includes("PRIVATE-KEY-TEXT"), "the key itself never reaches argv");
        const d = sshCommand({ kind: "ssh", host: "h" }, "true", files);
        assert.deepStrictEqual(d.args.slice(0, 7), [
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ConnectionAttempts=1",
            "-p",
        ]);
        assert.strictEqual(d.env, undefined);
    });
});

describe("@pulumi/docker's registry args as MultiArchImage.registry", () => {
    const value = <T>(o: pulumi.Output<T>) => (o as any).promise() as Promise<T>;

    it("are accepted as they are; Docker Hub's server names match docker.io tags", async () => {
        const { registryLogin } = await import("../../components/multiArchImage");
        const hub = asRegistry({
            server: "https://index.docker.io/v1/",
            username: "me",
            password: pulumi.secret("token"),
        });
        assert.deepStrictEqual(await value(registryLogin(hub, ["me/app:1.0"])), {
            username: "me",
            password: "token",
            address: "docker.io",
        });
        const own = asRegistry({ server: "registry.corp:5105", username: "ci", password: "pw" });
        assert.deepStrictEqual(await value(registryLogin(own, ["registry.corp:5105/team/app:1.0"])), {
            username: "ci",
            password: "pw",
            address: "registry.corp:5105",
        });
        // Without server: the tags' one registry; with tags in two, the server picks one of them.
        assert.strictEqual(
            (await value(registryLogin(asRegistry({ username: "ci", password: "pw" }), ["registry.corp:5105/a:1"])))
                .address,
            "registry.corp:5105",
        );
        const two = ["registry.corp:5105/a:1", "ghcr.io/org/a:1"];
        assert.strictEqual(
            (await value(registryLogin(asRegistry({ server: "ghcr.io", username: "ci", password: "pw" }), two)))
                .address,
            "ghcr.io",
        );
    });

    it("a login for another registry, or without user or password, is refused naming each property", async () => {
        const { registryLogin } = await import("../../components/multiArchImage");
        await assert.rejects(
            value(registryLogin(asRegistry({ server: "ghcr.io" }), ["registry.corp:5105/team/app:1.0"])),
            (e: any) => {
                assert.deepStrictEqual(
                    e.errors.map((x: any) => x.propertyPath),
                    ["registry.username", "registry.password", "registry.server"],
                );
                assert.match(e.message, /"ghcr.io" is not the tags' registry \(registry.corp:5105\)/);
                return true;
            },
        );
        await assert.rejects(
            value(
                registryLogin(asRegistry({ username: "ci", password: "pw" }), [
                    "registry.corp:5105/a:1",
                    "ghcr.io/org/a:1",
                ]),
            ),
            (e: any) => {
                assert.deepStrictEqual(
                    e.errors.map((x: any) => x.propertyPath),
                    ["registry.server"],
                );
                assert.match(
                    e.message,
                    /the tags are in several registries \(registry.corp:5105, ghcr.io\): name the one this login is for/,
                );
                return true;
            },
        );
    });
});

describe("@pulumi/docker-build's Image inputs as MultiArchImage's", () => {
    const value = <T>(o: pulumi.Output<T>) => (o as any).promise() as Promise<T>;

    it("registries entries are accepted as they are (Docker Hub's names too), and bad ones refused naming each property", async () => {
        const { registryLogins } = await import("../../components/destinations");
        const list = [
            asLogin({ address: "ghcr.io", username: "me", password: pulumi.secret("t") }),
            asLogin({ address: "https://index.docker.io/v1/", username: "u", password: "p" }),
        ];
        assert.deepStrictEqual(await value(registryLogins(list, undefined)), [
            { address: "ghcr.io", username: "me", password: "t" },
            { address: "docker.io", username: "u", password: "p" },
        ]);
        const bad = [
            asLogin({ address: "not a host" }),
            asLogin({ address: "ghcr.io", username: "a", password: "b" }),
            asLogin({ address: "ghcr.io", username: "c", password: "d" }),
            asLogin({ address: "registry.corp:5105", username: "e", password: "f" }),
        ];
        await assert.rejects(value(registryLogins(bad, "registry.corp:5105")), (e: any) => {
            assert.deepStrictEqual(
                e.errors.map((x: any) => x.propertyPath),
                [
                    "registries[0].address",
                    "registries[0].username",
                    "registries[0].password",
                    "registries[2].address",
                    "registries[3].address",
                ],
            );
            assert.match(e.message, /registries\[2\]\.address: registries\[1\] logs in to ghcr\.io already/);
            assert.match(
                e.message,
                /registries\[3\]\.address: the registry arg logs in to registry\.corp:5105 already/,
            );
            return true;
        });
    });

    it("exports entries and builder are accepted as docker-build types them", () => {
        assert.deepStrictEqual(asExport({ oci: { dest: "image.tar", tar: true } }), {
            oci: { dest: "image.tar", tar: true },
        });
        assert.deepStrictEqual(asBuilder({ name: "ci" }), { name: "ci" });
    });

    it("cache entries, network, hosts and secrets are accepted as docker-build types them, and written as buildx takes them", async () => {
        const { createImageInputs } = await import("../../components/multiArchImage");
        const fs = await import("fs"),
            os = await import("os"),
            path = await import("path");
        const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "pm-compat-"));
        fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM scratch\n");
        const flags = asFlags({
            cacheFrom: [
                { registry: { ref: "ghcr.io/org/app:cache" } },
                { s3: { bucket: "b", region: "r", accessKeyId: "A", secretAccessKey: pulumi.secret("S") } },
            ],
            cacheTo: [{ registry: { ref: "ghcr.io/org/app:cache", mode: "max" } }, { inline: {} }],
            network: "host",
            addHosts: ["metadata.google.internal:169.254.169.254"],
            secrets: { npm: pulumi.secret("t") },
            ignoreSecretsInDiffCalculation: ["npm"],
        });
        assert.deepStrictEqual(
            [asCacheFrom({ local: { src: "c" } }), asCacheTo({ local: { dest: "c", mode: "max" } })],
            [{ local: { src: "c" } }, { local: { dest: "c", mode: "max" } }],
        );
        const inputs = createImageInputs({
            context: ctx,
            platforms: ["linux/amd64"],
            tags: ["r/x:1"],
            builder: { name: "ci" },
            ...flags,
        });
        assert.deepStrictEqual(await value(inputs.cacheFrom as pulumi.Output<string[]>), [
            "type=registry,ref=ghcr.io/org/app:cache",
            "type=s3,bucket=b,region=r",
        ]);
        assert.deepStrictEqual(await value(inputs.cacheTo as pulumi.Output<string[]>), [
            "type=registry,ref=ghcr.io/org/app:cache,mode=max",
            "type=inline",
        ]);
        assert.strictEqual(await value(inputs.network as pulumi.Output<string>), "host");
        assert.deepStrictEqual(await value(inputs.addHosts as pulumi.Output<string[]>), [
            "metadata.google.internal:169.254.169.254",
        ]);
    });
});

describe("@pulumi/docker-build's Index inputs as Index's", () => {
    const digest = `sha256:${"a".repeat(64)}`;

    it("are accepted as docker-build types them; a source by tag and a login for another registry are refused, each on its property", async () => {
        const { Index } = await import("../../components");
        const ok = new Index(
            "ok",
            asIndex({
                tag: "registry.corp:5000/hello:1.0",
                sources: [`registry.corp:5000/hello@${digest}`, `ci.corp:5000/hello-arm64@${digest}`],
                registry: { address: "registry.corp:5000", username: "ci", password: pulumi.secret("t") },
                push: true,
            }),
        );
        assert.match(await (ok.urn as any).promise(), /multiarch:index:Index::ok$/);
        await (ok.ref as any).promise(); // its IndexManifest registered, with the login checked
        assert.throws(
            () =>
                new Index(
                    "tagged",
                    asIndex({ tag: "registry.corp:5000/hello:1.0", sources: ["registry.corp:5000/hello:amd64"] }),
                ),
            (e: any) => {
                assert.deepStrictEqual(
                    e.errors.map((x: any) => x.propertyPath),
                    ["sources[0]"],
                );
                assert.match(
                    e.message,
                    /"registry\.corp:5000\/hello:amd64" names no digest: give each image by digest/,
                );
                return true;
            },
        );
        const { indexLogin } = await import("../../components/imageIndex");
        const login = (address: string) =>
            (indexLogin({ address, username: "u", password: "p" }, "registry.corp:5000/hello:1.0") as any).promise();
        assert.deepStrictEqual(await login("https://registry.corp:5000"), {
            username: "u",
            password: "p",
            address: "registry.corp:5000",
        });
        await assert.rejects(
            login("ghcr.io"),
            /registry\.address: "ghcr\.io" is not the tag's registry \(registry\.corp:5000\)/,
        );
    });
});
