// Registries as users have them, through the real engine, buildx/BuildKit and Debian's
// docker-registry: HTTPS with a private CA, htpasswd and token auth (a token server of our
// own), a public repository with anonymous pull, plain HTTP under a non-loopback name, a
// private base image in another registry; credentials from `docker login`, a real
// credential helper (docker-credential-pass), `registry` args, or both. Every case goes
// up (push, verify, tag moves), up again (no-op), refresh, and is deleted with
// deleteOnDestroy. One builder for the file, configured as a user would (ca, http).
import * as pulumi from "@pulumi/pulumi";
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";

import { MultiArchImage, type MultiArchImageArgs } from "../../components";
import { parseRef, Registry } from "../../core/registry";
import { emulatingBuilder } from "../support/builder";
import * as company from "../support/companyRegistries";
import { requireRealParts } from "../support/env";
import { startProxy } from "../support/faults";
import { ACCEPT } from "../support/registry";
import { dispose, failure, inlineStack } from "../support/stack";

const TLS = "tls.pm12.test:5101"; // HTTPS, private CA, htpasswd
const TOKEN = "token.pm12.test:5102"; // HTTPS, private CA, token auth
const AUTH_HOST = "auth.pm12.test"; // the token service, HTTPS on 5103
const PLAIN = "plain.pm12.test:5105"; // plain HTTP, no login: the article's company registry
const CERTS = "certs.pm12.test:5108"; // HTTPS, private CA, trusted through /etc/docker/certs.d only
const NAMES = [TLS, TOKEN, `${AUTH_HOST}:5103`, PLAIN].map((h) => h.split(":")[0]);
const USER = "ci";
const PASSWORD = `pm12-${process.pid}-${Date.now()}`;
const BUILDER = `pm-e2e-registries-${process.pid}`;
/** The test login as `registry` args (the password a Pulumi secret). */
const login = (password = PASSWORD) => ({ username: USER, password: pulumi.secret(password) });

describe("registries as users have them", function () {
    let dir: string;
    let pki: company.Pki;
    let token: company.TokenServer;
    const running: { stop(): void }[] = [];
    let pass: company.PassStore;
    let dockerConfig: string;
    let env: Record<string, string>;
    let stack: Stack;
    let buildkitdConfig: string;
    let app: string;

    /** What a user's `~/.docker/config.json` holds for this case. */
    const setDockerConfig = (cfg: object) =>
        fs.writeFileSync(path.join(dockerConfig, "config.json"), JSON.stringify(cfg));

    /** GET a manifest as an independent client: our own Basic or Bearer exchange with the test login, or none. */
    async function manifestDigest(
        registry: string,
        repo: string,
        ref: string,
        anonymous = false,
    ): Promise<string | undefined> {
        type Got = { status: number; headers: http.IncomingHttpHeaders; body: string };
        const get = (url: string, headers: Record<string, string>) =>
            new Promise<Got>((resolve, reject) => {
                const lib = url.startsWith("https:") ? https : http;
                lib.get(url, { headers, ca: [pki.ca] }, (res) => {
                    let body = "";
                    res.on("data", (c) => (body += c)).on("end", () =>
                        resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
                    );
                }).on("error", reject);
            });
        const url = `${registry === PLAIN ? "http" : "https"}://${registry}/v2/${repo}/manifests/${ref}`;
        const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
        let auth = registry === TLS ? basic : undefined;
        if (registry === TOKEN) {
            const t = await get(
                `${token.realm}?service=${TOKEN}&scope=repository:${repo}:pull`,
                anonymous ? {} : { Authorization: basic },
            );
            auth = `Bearer ${JSON.parse(t.body).token}`;
        }
        const res = await get(url, { Accept: ACCEPT, ...(auth ? { Authorization: auth } : {}) });
        if (res.status === 404) return undefined;
        assert.strictEqual(res.status, 200, `GET ${url}: ${res.status} ${res.body}`);
        return String(res.headers["docker-content-digest"]);
    }

    function program(image?: Omit<MultiArchImageArgs, "builder" | "context">) {
        return async () => {
            const builder = emulatingBuilder(BUILDER, buildkitdConfig);
            if (!image) return {};
            const img = new MultiArchImage("img", { context: app, deleteOnDestroy: true, ...image, builder });
            return {
                digest: img.digest,
                platformDigests: img.platformDigests,
                tags: img.tags,
                verification: img.verification,
            };
        };
    }

    /**
     * The whole lifecycle of one image: up (push, verify, tags move), a no-op up, refresh
     * (sees the tag where it was), and removal with deleteOnDestroy (the same provider
     * delete as `pulumi destroy`). Returns the first up's outputs.
     */
    async function lifecycle(
        image: Omit<MultiArchImageArgs, "builder" | "context">,
        dockerfile: string,
        whileUp?: (outputs: Record<string, any>) => Promise<void>,
    ): Promise<Record<string, any>> {
        try {
            return await lifecycleSteps(image, dockerfile, whileUp);
        } catch (e) {
            // Remove whatever image the failed case left, so the next case starts from the builder alone.
            stack.workspace.program = program();
            await stack.up({ onOutput: () => {} }).catch(() => {});
            throw e;
        }
    }

    async function lifecycleSteps(
        image: Omit<MultiArchImageArgs, "builder" | "context">,
        dockerfile: string,
        whileUp?: (outputs: Record<string, any>) => Promise<void>,
    ): Promise<Record<string, any>> {
        fs.writeFileSync(path.join(app, "Dockerfile"), dockerfile);
        const { registry, repository, tag } = parseRef((image.tags as string[])[0]);
        stack.workspace.program = program(image);
        const up = await stack.up({ onOutput: () => {} });
        assert.strictEqual(up.summary.resourceChanges?.create, 2, JSON.stringify(up.summary.resourceChanges));
        const o = Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
        for (const p of image.platforms as string[])
            assert.match(
                o.verification[p],
                new RegExp(
                    `^ok: config ${p}, /bin/sh \\(-> /bin/busybox\\) is ${p.split("/")[1]}, \\d+ ELF files? added by the build$`,
                ),
            );
        assert.strictEqual(
            await manifestDigest(registry, repository, tag!),
            o.digest,
            "the tag is not on the pushed index",
        );
        await whileUp?.(o);
        const again = await stack.up({ onOutput: () => {} });
        assert.deepStrictEqual(again.summary.resourceChanges, { same: 7 }, "a second up changed something");
        const refreshed = await stack.refresh({ onOutput: () => {} });
        assert.ok(
            !refreshed.summary.resourceChanges?.update && !refreshed.summary.resourceChanges?.delete,
            `refresh saw drift: ${JSON.stringify(refreshed.summary.resourceChanges)}`,
        );
        const afterRefresh = await stack.preview();
        assert.deepStrictEqual(afterRefresh.changeSummary, { same: 7 }, "refresh changed what the next up would do");
        stack.workspace.program = program();
        const removed = await stack.up({ onOutput: () => {} });
        assert.strictEqual(removed.summary.resourceChanges?.delete, 2);
        assert.strictEqual(
            await manifestDigest(registry, repository, o.digest),
            undefined,
            "deleteOnDestroy left the index",
        );
        return o;
    }

    const FROM_BUSYBOX = `FROM 127.0.0.1:5000/fixtures/busybox:latest\nCOPY msg.txt /msg.txt\n`;

    before(async () => {
        requireRealParts();
        dir = company.scratch("pm-e2e-registries-");
        company.aliasHosts(NAMES);
        pki = company.makePki(dir, NAMES);
        token = await company.startTokenServer(dir, AUTH_HOST, 5103, pki, { [USER]: PASSWORD });
        running.push({ stop: () => token.close() });
        running.push(
            await company.startRegistry(dir, TLS, {
                port: 5101,
                tls: pki,
                auth: { htpasswd: { username: USER, password: PASSWORD } },
            }),
        );
        running.push(await company.startRegistry(dir, TOKEN, { port: 5102, tls: pki, auth: { token } }));
        running.push(await company.startRegistry(dir, PLAIN, { port: 5105 }));
        pass = company.passStore(dir);
        dockerConfig = company.dockerConfigDir(dir);
        // buildx fetches bearer tokens on the client with the system trust store: a user adds
        // the company CA there (update-ca-certificates) or points SSL_CERT_FILE at a bundle.
        env = { DOCKER_CONFIG: dockerConfig, SSL_CERT_FILE: company.trustBundle(dir, pki), ...pass.env };
        Object.assign(process.env, env);
        // As a user configures the builder: the company CA for the HTTPS registries, plain HTTP for the others.
        buildkitdConfig =
            [
                `[registry."${TLS}"]\n  ca = ["${pki.caFile}"]`,
                `[registry."${TOKEN}"]\n  ca = ["${pki.caFile}"]`,
                `[registry."${PLAIN}"]\n  http = true`,
                `[registry."127.0.0.1:5000"]\n  http = true`,
            ].join("\n") + "\n";
        app = path.join(dir, "app");
        fs.mkdirSync(app);
        fs.writeFileSync(path.join(app, "msg.txt"), "hello\n");
        stack = await inlineStack("e2e-registries", program() as any, { env });
        await stack.up({ onOutput: () => {} });
    });

    after(async () => {
        await dispose(stack);
        for (const r of running) r.stop();
        pass?.stop();
        company.restoreHosts(NAMES);
        for (const k of Object.keys(env ?? {})) delete process.env[k];
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("HTTPS with a private CA (builder ca), htpasswd, `docker login` only: amd64 + arm64", async () => {
        setDockerConfig({});
        await company.dockerLogin(env, TLS, USER, PASSWORD);
        assert.ok(
            JSON.parse(fs.readFileSync(path.join(dockerConfig, "config.json"), "utf8")).auths[TLS],
            "docker login wrote no auths entry",
        );
        await lifecycle({ platforms: ["linux/amd64", "linux/arm64"], tags: [`${TLS}/login/app:1.0`] }, FROM_BUSYBOX);
    });

    it("HTTPS with a private CA, htpasswd, registry args over a stale `docker login` of the same registry (both)", async () => {
        setDockerConfig({ auths: { [TLS]: { auth: Buffer.from(`${USER}:stale-password`).toString("base64") } } });
        await lifecycle({ platforms: ["linux/amd64"], tags: [`${TLS}/both/app:1.0`], registry: login() }, FROM_BUSYBOX);
    });

    it("token auth, a credential helper only (credsStore: pass): a public repository, pushed with a push-scoped token", async () => {
        setDockerConfig({ credsStore: "pass" });
        await company.dockerLogin(env, TOKEN, USER, PASSWORD);
        const cfg = JSON.parse(fs.readFileSync(path.join(dockerConfig, "config.json"), "utf8"));
        assert.ok(
            !JSON.stringify(cfg).includes(Buffer.from(`${USER}:${PASSWORD}`).toString("base64")),
            "docker login bypassed the credential helper",
        );
        const from = token.issued.length;
        await lifecycle({ platforms: ["linux/amd64"], tags: [`${TOKEN}/public/app:1.0`] }, FROM_BUSYBOX, async (o) => {
            assert.strictEqual(
                await manifestDigest(TOKEN, "public/app", "1.0", true),
                o.digest,
                "anyone may pull the public repository",
            );
            assert.strictEqual(
                await manifestDigest(TOKEN, "private/app", "1.0", true)
                    .catch((e: Error) => e.message)
                    .then((m) => /401/.test(String(m))),
                true,
                "the token server must refuse anonymous pulls elsewhere",
            );
        });
        const grants = token.issued
            .slice(from)
            .filter((t) => t.who === USER)
            .flatMap((t) => t.granted);
        // Tokens per scope: pull for reads, pull+push for the push and tag moves, delete for
        // deleteOnDestroy. Only the library deletes, with the login that lives only in the
        // pass store: it got it through docker-credential-pass.
        for (const g of ["public/app:pull", "public/app:pull,push", "public/app:delete"]) {
            assert.ok(grants.includes(g), `no ${g} token was issued to ${USER}: ${grants.join(" ")}`);
        }
    });

    it("token auth, registry args only, a private repository", async () => {
        setDockerConfig({});
        await lifecycle(
            { platforms: ["linux/amd64"], tags: [`${TOKEN}/private/app:1.0`], registry: login() },
            FROM_BUSYBOX,
        );
    });

    it("a private base image in one registry (docker login through the helper), pushed with registry args to another", async () => {
        setDockerConfig({ credsStore: "pass" });
        await company.dockerLogin(env, TOKEN, USER, PASSWORD);
        // The company's mirrored base image, private in the token registry.
        const base = `${TOKEN}/private/busybox:latest`;
        fs.writeFileSync(path.join(dir, "Dockerfile.mirror"), "FROM 127.0.0.1:5000/fixtures/busybox:latest\n");
        await company.run("docker", [
            "buildx",
            "build",
            "--builder",
            BUILDER,
            "--provenance=false",
            "--platform",
            "linux/amd64,linux/arm64",
            "-f",
            path.join(dir, "Dockerfile.mirror"),
            "-t",
            base,
            "--push",
            "--progress",
            "quiet",
            dir,
        ]);
        const image = {
            platforms: ["linux/amd64", "linux/arm64"],
            tags: [`${TLS}/from-private/app:1.0`],
            registry: login(),
        };
        // Logged out of the base image's registry: the build says so, and names the fix.
        setDockerConfig({});
        fs.writeFileSync(path.join(app, "Dockerfile"), `FROM ${base}\nCOPY msg.txt /msg.txt\n`);
        stack.workspace.program = program(image);
        let refused: string;
        try {
            refused = await failure(() => stack.up({ onOutput: () => {} }));
        } finally {
            stack.workspace.program = program();
            await stack.up({ onOutput: () => {} }); // the failed create left the component
        }
        assert.match(
            refused,
            /build: a registry refused a pull \(.*pull access denied.*\): log in to the base image's registry as docker does \(docker login <registry>\); registry args cover only tls\.pm12\.test:5101/,
        );
        assert.strictEqual(await manifestDigest(TLS, "from-private/app", "1.0"), undefined);
        setDockerConfig({ credsStore: "pass" });
        await lifecycle(image, `FROM ${base}\nCOPY msg.txt /msg.txt\n`);
    });

    it("plain HTTP under a non-loopback name (builder http = true), no login", async () => {
        setDockerConfig({});
        await lifecycle(
            { platforms: ["linux/amd64", "linux/arm64"], tags: [`${PLAIN}/company/app:1.0`] },
            FROM_BUSYBOX,
        );
    });

    it("a wrong password, from registry args or from docker login, is refused at preview and nothing is pushed", async () => {
        fs.writeFileSync(path.join(app, "Dockerfile"), FROM_BUSYBOX);
        setDockerConfig({});
        stack.workspace.program = program({
            platforms: ["linux/amd64"],
            tags: [`${TLS}/denied/app:1.0`],
            registry: login("wrong-password"),
        });
        const args = await failure(() => stack.preview());
        assert.match(
            args,
            /property registry .* has a problem: preview ping: tls\.pm12\.test:5101 refused the login of ci from the resource's registry args \(401\): check registry\.username and registry\.password/,
        );
        assert.ok(!args.includes("wrong-password"));
        setDockerConfig({ auths: { [TOKEN]: { auth: Buffer.from(`${USER}:wrong-password`).toString("base64") } } });
        stack.workspace.program = program({ platforms: ["linux/amd64"], tags: [`${TOKEN}/denied/app:1.0`] });
        const fromConfig = await failure(() => stack.up({ onOutput: () => {} }));
        assert.match(
            fromConfig,
            /preview ping: token\.pm12\.test:5102's token service https:\/\/auth\.pm12\.test:5103\/token refused the login of ci from auths\["token\.pm12\.test:5102"\] of .*config\.json \(docker login\) for repository:denied\/app:pull,push \(401\): run .docker login token\.pm12\.test:5102. again/,
        );
        assert.strictEqual(await manifestDigest(TLS, "denied/app", "1.0"), undefined);
        assert.strictEqual(await manifestDigest(TOKEN, "denied/app", "1.0"), undefined);
        stack.workspace.program = program();
    });
});

describe("registry client: reaching a registry as docker does", function () {
    let dir: string;
    let pki: company.Pki;
    const running: { stop(): void }[] = [];
    const certsD = `/etc/docker/certs.d/${CERTS}`;

    before(async () => {
        requireRealParts();
        dir = company.scratch("pm-e2e-registry-client-");
        company.aliasHosts([CERTS.split(":")[0]]);
        pki = company.makePki(dir, [CERTS.split(":")[0]]);
        running.push(await company.startRegistry(dir, CERTS, { port: 5108, tls: pki }));
    });

    after(() => {
        for (const r of running) r.stop();
        fs.rmSync(certsD, { recursive: true, force: true });
        company.restoreHosts([CERTS.split(":")[0]]);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("trusts a CA in /etc/docker/certs.d/<host>/, and without it says where a CA goes", async () => {
        const untrusted = await new Registry(CERTS).ping().then(
            () => "",
            (e: Error) => e.message,
        );
        assert.match(
            untrusted,
            /(self[- ]signed certificate in certificate chain|unable to verify the first certificate): trust its CA as the push does: ca = \["\/path\/ca\.crt"\] under \[registry\."certs\.pm12\.test:5108"\] in the builder's buildkitdConfig, \/etc\/docker\/certs\.d\/certs\.pm12\.test:5108\/ca\.crt, or the system trust store/,
        );
        fs.mkdirSync(certsD, { recursive: true });
        fs.copyFileSync(pki.caFile, path.join(certsD, "ca.crt"));
        const r = new Registry(CERTS);
        assert.deepStrictEqual(r.access.sources, [certsD]);
        await r.ping();
        assert.strictEqual(await r.getManifest("nothing/here", "latest"), undefined);
    });

    it("preview ping: an HTTP request to an HTTPS registry (a 400) is not a registry's answer", async () => {
        // 127.0.0.1:5108 is loopback, so plain HTTP, but this registry speaks HTTPS.
        const text = await new Registry("127.0.0.1:5108").ping().then(
            () => "",
            (e: Error) => e.message,
        );
        assert.match(
            text,
            /^GET http:\/\/127\.0\.0\.1:5108\/v2\/ answered 400 \(Client sent an HTTP request to an HTTPS server\.\), not a registry's \/v2\/ answer: it speaks HTTPS; remove http = true/,
        );
    });

    it("retries 429 and 5xx with backoff (Retry-After honoured), and gives up after a bounded number of tries", async () => {
        const upstream = await company.startRegistry(dir, "127.0.0.1:5107", { port: 5107 });
        running.push(upstream);
        let faults = ["429", "503", "502"];
        const proxy = await startProxy(5106, 5107, (method, url) =>
            /\/v2\/retry\//.test(url) && faults.length ? Number(faults.shift()) : undefined,
        );
        running.push({ stop: () => proxy.close() });
        const r = new Registry("127.0.0.1:5106", { retry: { attempts: 4, baseDelayMs: 50, maxDelayMs: 200 } });
        assert.strictEqual(await r.getManifest("retry/app", "latest"), undefined, "a 404 after three faults");
        assert.strictEqual(proxy.requests.filter((q) => q.includes("/v2/retry/")).length, 4);
        faults = ["503", "503", "503", "503", "503"];
        const text = await r.getManifest("retry/app", "latest").then(
            () => "",
            (e: Error) => e.message,
        );
        assert.match(text, /^read: GET 127\.0\.0\.1:5106\/retry\/app manifest latest answered 503/);
        assert.strictEqual(faults.length, 1, "not exactly 4 tries");
    });
});
