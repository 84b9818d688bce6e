// How the library finds a registry's credentials and trust, as docker does: docker config
// logins and credential helpers (a helper script of our own speaking the helper protocol),
// Docker Hub's names, the builder's stored buildkitd config (captured from buildx), certs.d,
// and the retry schedule.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import * as dockerConfig from "../../core/dockerConfig";
import { DEFAULT_RETRY, loginFix, parseChallenge, parseRef, retryDelay } from "../../core/registry";
import * as hosts from "../../core/registryHosts";

const FIXTURES = path.join(__dirname, "..", "fixtures");

/** Runs `fn` with these environment variables set, then puts the old values back. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T | Promise<T>): Promise<T> {
    const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    const set = (v: Record<string, string | undefined>) => {
        for (const [k, x] of Object.entries(v)) {
            if (x === undefined) delete process.env[k];
            else process.env[k] = x;
        }
    };
    set(vars);
    try {
        return await fn();
    } finally {
        set(old);
    }
}

function tmp(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "pm-unit-registry-"));
}

/**
 * A credential helper of our own: `docker-credential-unittest get` reads the server URL on
 * stdin, logs it, and answers from a JSON file, as docker-credential-* programs do.
 */
function fakeHelper(
    dir: string,
    logins: Record<string, { Username: string; Secret: string }>,
): { bin: string; calls: () => string[] } {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(dir, "logins.json"), JSON.stringify(logins));
    fs.writeFileSync(
        path.join(bin, "docker-credential-unittest"),
        `#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
echo "$server" >> "${dir}/calls"
node -e 'const l = require("${dir}/logins.json")[process.argv[1]]; if (!l) { console.log("credentials not found in native keychain"); process.exit(1) } console.log(JSON.stringify({ ServerURL: process.argv[1], ...l }))' "$server"
`,
        { mode: 0o755 },
    );
    return {
        bin,
        calls: () =>
            fs.existsSync(path.join(dir, "calls"))
                ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n")
                : [],
    };
}

describe("registry access: names", () => {
    it("resolves Docker Hub names as docker does", () => {
        assert.deepStrictEqual(parseRef("busybox"), {
            registry: "docker.io",
            repository: "library/busybox",
            tag: "latest",
            digest: undefined,
        });
        assert.deepStrictEqual(parseRef("docker.io/busybox:1"), {
            registry: "docker.io",
            repository: "library/busybox",
            tag: "1",
            digest: undefined,
        });
        assert.deepStrictEqual(parseRef("index.docker.io/org/app:2"), {
            registry: "docker.io",
            repository: "org/app",
            tag: "2",
            digest: undefined,
        });
        assert.strictEqual(dockerConfig.authKey("docker.io"), "https://index.docker.io/v1/");
        assert.strictEqual(dockerConfig.authKey("ghcr.io"), "ghcr.io");
        assert.strictEqual(hosts.hostAccess("docker.io").apiHost, "registry-1.docker.io");
        assert.strictEqual(hosts.hostAccess("docker.io").scheme, "https");
    });

    it("parses Bearer and Basic challenges", () => {
        assert.deepStrictEqual(
            parseChallenge(
                'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
            ),
            {
                realm: "https://auth.docker.io/token",
                service: "registry.docker.io",
                scope: "repository:library/busybox:pull",
            },
        );
        assert.deepStrictEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: "basic" });
        assert.strictEqual(parseChallenge("Negotiate"), undefined);
    });

    it("backs off exponentially up to a cap, and honours Retry-After", () => {
        assert.deepStrictEqual(
            [0, 1, 2, 3, 4, 5].map((n) => retryDelay(DEFAULT_RETRY, n)),
            [500, 1000, 2000, 4000, 8000, 8000],
        );
        assert.strictEqual(retryDelay(DEFAULT_RETRY, 0, "3"), 3000);
        assert.strictEqual(retryDelay(DEFAULT_RETRY, 0, "120"), DEFAULT_RETRY.maxDelayMs);
        assert.strictEqual(retryDelay(DEFAULT_RETRY, 1, "Wed, 21 Oct 2015 07:28:00 GMT"), 1000);
    });
});

describe("registry access: credentials from the docker config", () => {
    it("reads a docker login from auths, by exact key or by host", async () => {
        const dir = tmp();
        fs.writeFileSync(
            path.join(dir, "config.json"),
            JSON.stringify({
                auths: {
                    "reg.example:5000": { auth: Buffer.from("alice:pw:with:colons").toString("base64") },
                    "https://other.example/v1/": { username: "bob", password: "pw2" },
                    "https://index.docker.io/v1/": { identitytoken: "refresh-123" },
                },
            }),
        );
        await withEnv({ DOCKER_CONFIG: dir }, async () => {
            const a = await dockerConfig.resolve("reg.example:5000");
            assert.deepStrictEqual(a.credentials, { username: "alice", password: "pw:with:colons" });
            assert.strictEqual(a.source.kind, "docker config");
            assert.match(a.source.describe, /^auths\["reg\.example:5000"\] of .*config\.json \(docker login\)$/);
            assert.deepStrictEqual((await dockerConfig.resolve("other.example")).credentials, {
                username: "bob",
                password: "pw2",
            });
            assert.deepStrictEqual((await dockerConfig.resolve("docker.io")).credentials, {
                username: "<token>",
                password: "refresh-123",
            });
            const none = await dockerConfig.resolve("nobody.example");
            assert.strictEqual(none.credentials, undefined);
            assert.match(none.source.describe, /no login for nobody\.example in .*config\.json/);
        });
    });

    it("asks credHelpers first, then credsStore, through the real helper protocol; registry args win", async () => {
        const dir = tmp();
        const helper = fakeHelper(dir, {
            "ghcr.io": { Username: "gh-user", Secret: "gh-token" },
            "https://index.docker.io/v1/": { Username: "hub-user", Secret: "hub-pw" },
        });
        fs.writeFileSync(
            path.join(dir, "config.json"),
            JSON.stringify({
                credsStore: "unittest",
                credHelpers: { "ghcr.io": "unittest" },
                auths: { "plain.example": { auth: Buffer.from("ignored:because-credsStore").toString("base64") } },
            }),
        );
        await withEnv({ DOCKER_CONFIG: dir, PATH: `${helper.bin}:${process.env.PATH}` }, async () => {
            const gh = await dockerConfig.resolve("ghcr.io");
            assert.deepStrictEqual(gh.credentials, { username: "gh-user", password: "gh-token" });
            assert.match(
                gh.source.describe,
                /^credHelpers "unittest" of .*config\.json \(docker-credential-unittest\)$/,
            );
            const hub = await dockerConfig.resolve("docker.io");
            assert.deepStrictEqual(hub.credentials, { username: "hub-user", password: "hub-pw" });
            assert.match(hub.source.describe, /^credsStore "unittest"/);
            // With a credsStore, docker asks the store, not auths: a store without the login means none.
            const plain = await dockerConfig.resolve("plain.example");
            assert.strictEqual(plain.credentials, undefined);
            assert.match(plain.source.describe, /which has no login for plain\.example/);
            const args = await dockerConfig.resolve("ghcr.io", { username: "ci", password: "from-args" });
            assert.deepStrictEqual(args.credentials, { username: "ci", password: "from-args" });
            assert.strictEqual(args.source.kind, "registry args");
            assert.strictEqual(loginFix(args, "ghcr.io"), "check registry.username and registry.password");
            // A login of the registries list is named by its entry, in the description and the fix.
            const entry = await dockerConfig.resolve(
                "ghcr.io",
                { username: "ci", password: "x" },
                undefined,
                "registries[1]",
            );
            assert.strictEqual(entry.source.describe, "the resource's registries[1]");
            assert.strictEqual(loginFix(entry, "ghcr.io"), "check registries[1].username and registries[1].password");
        });
        // The server URL went to the helper on stdin, Docker Hub's under its v1 key; args asked nothing.
        assert.deepStrictEqual(helper.calls(), ["ghcr.io", "https://index.docker.io/v1/", "plain.example"]);
    });

    it("a helper that fails says which helper and how to fix it", async () => {
        const dir = tmp();
        fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ credsStore: "missing-helper" }));
        await withEnv({ DOCKER_CONFIG: dir }, async () => {
            await assert.rejects(
                dockerConfig.resolve("reg.example"),
                /`docker-credential-missing-helper` was not found on PATH/,
            );
        });
    });

    it("the build's private config adds the args logins to the user's logins and helpers", async () => {
        const home = tmp();
        fs.mkdirSync(path.join(home, "cli-plugins"));
        fs.writeFileSync(
            path.join(home, "config.json"),
            JSON.stringify({
                credsStore: "pass",
                credHelpers: { "gcr.io": "gcloud" },
                auths: { "base.example": { auth: "YTpi" } },
                proxies: { default: { httpProxy: "http://p:3128" } },
            }),
        );
        const work = tmp();
        const env = await withEnv({ DOCKER_CONFIG: home, BUILDX_CONFIG: undefined }, () =>
            dockerConfig.privateConfig(work, {
                "push.example:5000": { username: "ci", password: "pw" },
                "gcr.io": { username: "_json_key", password: "k" },
            }),
        );
        assert.strictEqual(env.DOCKER_CONFIG, path.join(work, "docker"));
        assert.strictEqual(env.BUILDX_CONFIG, path.join(home, "buildx"));
        const file = path.join(work, "docker", "config.json");
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600);
        const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
        assert.deepStrictEqual(cfg, {
            credsStore: "pass",
            // An empty helper for each login's registry sends docker to auths for it; the others keep theirs.
            credHelpers: { "gcr.io": "", "push.example:5000": "" },
            auths: {
                "base.example": { auth: "YTpi" },
                "push.example:5000": { auth: Buffer.from("ci:pw").toString("base64") },
                "gcr.io": { auth: Buffer.from("_json_key:k").toString("base64") },
            },
            proxies: { default: { httpProxy: "http://p:3128" } },
        });
        assert.strictEqual(fs.readlinkSync(path.join(work, "docker", "cli-plugins")), path.join(home, "cli-plugins"));
        const hub = tmp();
        await withEnv({ DOCKER_CONFIG: tmp() }, () =>
            dockerConfig.privateConfig(hub, { "docker.io": { username: "u", password: "p" } }),
        );
        assert.deepStrictEqual(
            Object.keys(JSON.parse(fs.readFileSync(path.join(hub, "docker", "config.json"), "utf8")).auths),
            ["https://index.docker.io/v1/"],
        );
    });
});

describe("registry access: trust and plain HTTP", () => {
    it("reads a builder's registry settings as buildx stored them (captured instance file)", async () => {
        const buildx = tmp();
        fs.mkdirSync(path.join(buildx, "instances"));
        fs.copyFileSync(
            path.join(FIXTURES, "buildx-instance-registries.json"),
            path.join(buildx, "instances", "pm-capture"),
        );
        await withEnv({ BUILDX_CONFIG: buildx }, () => {
            const regs = hosts.builderRegistries("pm-capture")!;
            assert.deepStrictEqual(Object.keys(regs).sort(), [
                "127.0.0.1:5000",
                "plain.pm12.test:5105",
                "tls.pm12.test:5101",
            ]);
            assert.strictEqual(regs["plain.pm12.test:5105"].http, true);
            assert.strictEqual(regs["tls.pm12.test:5101"].ca.length, 1);
            assert.match(regs["tls.pm12.test:5101"].ca[0], /^-----BEGIN CERTIFICATE-----/);
            const tlsHost = hosts.hostAccess("tls.pm12.test:5101", "pm-capture");
            assert.strictEqual(tlsHost.scheme, "https");
            assert.strictEqual(tlsHost.ca.length, 1);
            assert.deepStrictEqual(tlsHost.sources, [
                `builder pm-capture's buildkitd config [registry."tls.pm12.test:5101"]`,
            ]);
            assert.strictEqual(hosts.hostAccess("plain.pm12.test:5105", "pm-capture").scheme, "http");
            // Not in the builder's config: HTTPS, except on loopback (the engine's insecure default).
            assert.strictEqual(hosts.hostAccess("other.pm12.test:5105", "pm-capture").scheme, "https");
            assert.strictEqual(hosts.hostAccess("127.0.0.1:5999", "pm-capture").scheme, "http");
            assert.strictEqual(hosts.hostAccess("tls.pm12.test:5101", "no-such-builder").ca.length, 0);
            // Before the builder exists (first preview): the TOML it will be created with.
            assert.strictEqual(
                hosts.hostAccess(
                    "corp.example:5000",
                    "no-such-builder",
                    `[registry."corp.example:5000"]\n  http = true\n`,
                ).scheme,
                "http",
            );
            assert.strictEqual(
                hosts.hostAccess("corp.example:5000", "pm-capture", `[registry."corp.example:5000"]\n  http = true\n`)
                    .scheme,
                "https",
                "a stored builder's config is what buildx uses",
            );
        });
    });

    it("reads /etc/docker/certs.d/<host>/ as the engine does: *.crt CAs, *.cert + *.key a client pair", () => {
        const root = tmp();
        const dir = path.join(root, "reg.example:443");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "ca.crt"), "CA");
        fs.writeFileSync(path.join(dir, "client.cert"), "CERT");
        fs.writeFileSync(path.join(dir, "client.key"), "KEY");
        assert.deepStrictEqual(hosts.certsDir("reg.example:443", root), {
            ca: ["CA"],
            keypair: { cert: "CERT", key: "KEY" },
            dir,
        });
        assert.deepStrictEqual(hosts.certsDir("none.example", root), { ca: [], dir: path.join(root, "none.example") });
    });

    it("takes the system trust store from SSL_CERT_FILE, as Go programs do", async () => {
        const file = path.join(tmp(), "bundle.crt");
        fs.writeFileSync(file, "BUNDLE");
        await withEnv({ SSL_CERT_FILE: file }, () => assert.deepStrictEqual(hosts.systemRoots(), ["BUNDLE"]));
    });
});
