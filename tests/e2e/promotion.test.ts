// Build once, promote by digest, through the real engine, BuildKit and Debian's docker-registry:
// one stack builds and verifies an image, and promotes it within its registry (mounted), to two
// registries with different auth (htpasswd through `registries` args, token auth through a
// `docker login`: streamed), to a registry without manifest lists (per-arch tags, "auto"), and
// joins its platform images into an Index in a third repository, which a last promotion takes
// on (the Index's own verification record). One up, a no-op up that asks no registry, refresh
// after a tag was moved and another deleted by hand, up again, and destroy. Previews refuse a
// source never verified and a digest the registry does not hold. Apart: a layer over 2 GiB,
// streamed between two registries of the test's own with the copying process's memory checked.
import * as pulumi from "@pulumi/pulumi";
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import type * as http from "http";
import * as path from "path";
import * as stream from "stream";

import { ImagePromotion, Index, MultiArchImage } from "../../components";
import { Registry } from "../../core/registry";
import { findRecords } from "../../core/verificationRecord";
import { emulatingBuilder, httpRegistries } from "../support/builder";
import * as company from "../support/companyRegistries";
import { ENV, requireRealParts, ROOT } from "../support/env";
import { startProxy } from "../support/faults";
import { startNoIndexRegistry } from "../support/noIndexRegistry";
import { freePort } from "../support/registry";
import { dispose, failure, inlineStack } from "../support/stack";

const REG = "127.0.0.1:5000";
const BASE = `e2e/promo-${process.pid}`;
const AUTH_HOST = "auth.pm21.test"; // the token service, HTTPS with a private CA
const USER = "ci";
const PASSWORD = `pm21-${process.pid}-${Date.now()}`;
const BUILDER = `pm-e2e-promo-${process.pid}`;
const PLATFORMS = ["linux/amd64", "linux/arm64"];

describe("promotions: build once, promote by digest", function () {
    let dir: string;
    let app: string;
    let stack: Stack;
    let env: Record<string, string>;
    let token: company.TokenServer;
    const running: { stop(): void }[] = [];
    /** htpasswd registry, reached through a proxy that logs requests */
    let AUTH: string;
    let authRequests: string[];
    /** token-auth registry (plain HTTP on loopback, tokens over HTTPS) */
    let TOKEN: string;
    /** a registry without manifest lists, in front of 127.0.0.1:5000 */
    let COMPANY: string;
    const companyRequests: string[] = [];
    let outputs: Record<string, any>;

    const login = () => ({ address: AUTH, username: USER, password: pulumi.secret(PASSWORD) });

    function program(extra: (src: MultiArchImage) => Record<string, pulumi.Output<any>> = () => ({})) {
        return async () => {
            const builder = emulatingBuilder(BUILDER, httpRegistries(REG));
            const src = new MultiArchImage("src", {
                context: app,
                platforms: PLATFORMS,
                tags: [`${REG}/${BASE}/src:1.0`],
                builder,
                deleteOnDestroy: true,
            });
            const same = new ImagePromotion("same", { source: src.ref, tags: [`${REG}/${BASE}/prod:1.0`] });
            const two = new ImagePromotion("two", {
                source: src.ref,
                tags: [`${AUTH}/promo/app:1.0`, `${TOKEN}/promo/app:1.0`],
                registries: [login()],
                deleteOnDestroy: true,
            });
            const noLists = new ImagePromotion("company", {
                source: src.ref,
                tags: [`${COMPANY}/${BASE}/company:1.0`],
                manifest: "auto",
            });
            const joined = new Index("joined", {
                tag: `${AUTH}/promo/joined:1.0`,
                registry: login(),
                sources: PLATFORMS.map(
                    (p) => pulumi.interpolate`${REG}/${BASE}/src@${src.platformDigests.apply((d) => d[p])}`,
                ),
            });
            const onward = new ImagePromotion("onward", {
                source: joined.ref,
                tags: [`${REG}/${BASE}/joined:1.0`],
                registries: [login()],
            });
            return {
                src: src.ref,
                srcDigest: src.digest,
                platformDigests: src.platformDigests,
                same: same.copied,
                sameRef: same.ref,
                two: two.copied,
                twoDigest: two.digest,
                twoVerification: two.verification,
                company: noLists.tags,
                companyModes: noLists.manifestModes,
                joined: joined.ref,
                joinedDigests: joined.platformDigests,
                joinedVerification: joined.verification,
                joinedCopied: joined.copied,
                onward: onward.digest,
                ...extra(src),
            };
        };
    }

    /** A manifest's digest as an independent client reads it: GET with Basic (htpasswd), a token (token registry), or nothing. */
    async function digestAt(registry: string, repo: string, ref: string): Promise<string | undefined> {
        const credentials =
            registry === AUTH || registry === TOKEN ? { username: USER, password: PASSWORD } : undefined;
        return (await new Registry(registry, credentials ? { credentials } : {}).getManifest(repo, ref))?.digest;
    }

    const changes = async () => (await stack.preview()).changeSummary;

    before(async function () {
        requireRealParts();
        dir = company.scratch("pm-e2e-promotion-");
        company.aliasHosts([AUTH_HOST]);
        const pki = company.makePki(dir, [AUTH_HOST]);
        const [authPort, proxyPort, tokenPort, tokenServerPort, companyPort] = await Promise.all(
            [1, 2, 3, 4, 5].map(() => freePort()),
        );
        running.push(
            await company.startRegistry(dir, `127.0.0.1:${authPort}`, {
                port: authPort,
                auth: { htpasswd: { username: USER, password: PASSWORD } },
            }),
        );
        const proxy = await startProxy(proxyPort, authPort);
        running.push({ stop: () => proxy.close() });
        AUTH = proxy.addr;
        authRequests = proxy.requests;
        token = await company.startTokenServer(dir, AUTH_HOST, tokenServerPort, pki, { [USER]: PASSWORD });
        running.push({ stop: () => token.close() });
        TOKEN = `127.0.0.1:${tokenPort}`;
        running.push(await company.startRegistry(dir, TOKEN, { port: tokenPort, auth: { token } }));
        const noIndex = await startNoIndexRegistry(companyPort);
        noIndex.on("request", (req: http.IncomingMessage) => companyRequests.push(`${req.method} ${req.url}`));
        running.push({ stop: () => noIndex.close() });
        COMPANY = `127.0.0.1:${companyPort}`;
        // The token registry's login as `docker login` leaves it: an auths entry of the user's docker config.
        const dockerConfig = company.dockerConfigDir(dir, {
            auths: { [TOKEN]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString("base64") } },
        });
        env = { DOCKER_CONFIG: dockerConfig, SSL_CERT_FILE: company.trustBundle(dir, pki) };
        Object.assign(process.env, env);
        app = path.join(dir, "app");
        fs.mkdirSync(app);
        fs.writeFileSync(path.join(app, "msg.txt"), "promote me\n");
        fs.writeFileSync(path.join(app, "Dockerfile"), `FROM ${REG}/fixtures/busybox:latest\nCOPY msg.txt /msg.txt\n`);
        stack = await inlineStack(`e2e-promotion-${process.pid}`, program() as any, { env });
    });

    after(async () => {
        await dispose(stack);
        for (const r of running) r.stop();
        company.restoreHosts([AUTH_HOST]);
        for (const k of Object.keys(env ?? {})) delete process.env[k];
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("up: mounted within the registry, streamed to two registries of different auth, per-arch tags where lists are refused, and an Index that is promoted on", async () => {
        const up = await stack.up({ onOutput: () => {} });
        outputs = Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
        const o = outputs;
        // Within 127.0.0.1:5000: every blob mounted, none streamed; the same digest.
        assert.strictEqual(o.same.copied, 0, JSON.stringify(o.same));
        assert.ok(o.same.mounted >= 4, JSON.stringify(o.same));
        assert.strictEqual(await digestAt(REG, `${BASE}/prod`, "1.0"), o.srcDigest);
        // Two registries, htpasswd (registries args) and token auth (docker config): streamed, same digest, record along.
        assert.ok(o.two.copied >= 8 && o.two.bytes > 1_000_000, JSON.stringify(o.two));
        assert.strictEqual(o.twoDigest, o.srcDigest);
        assert.strictEqual(await digestAt(AUTH, "promo/app", "1.0"), o.srcDigest);
        assert.strictEqual(await digestAt(TOKEN, "promo/app", "1.0"), o.srcDigest);
        for (const p of PLATFORMS) assert.match(o.twoVerification[p], new RegExp(`^ok: config ${p}`));
        const atToken = await findRecords(
            {
                client: new Registry(TOKEN, { credentials: { username: USER, password: PASSWORD } }),
                repository: "promo/app",
            },
            o.srcDigest,
        );
        assert.deepStrictEqual(
            atToken.map((r) => r.record.subject),
            [o.srcDigest],
            "the verification record did not travel",
        );
        const issued = token.issued.filter((t) => t.who === USER).flatMap((t) => t.granted);
        assert.ok(issued.includes("promo/app:pull,push"), `no push token was issued: ${issued.join(" ")}`);
        // No lists at the company registry: one tag per architecture, on the source's own platform manifests.
        assert.deepStrictEqual(o.company, [
            `${COMPANY}/${BASE}/company:1.0-amd64`,
            `${COMPANY}/${BASE}/company:1.0-arm64`,
        ]);
        assert.deepStrictEqual(o.companyModes, { [COMPANY]: "per-arch-tags" });
        for (const p of PLATFORMS)
            assert.strictEqual(
                await digestAt(COMPANY, `${BASE}/company`, `1.0-${p.split("/")[1]}`),
                o.platformDigests[p],
            );
        // The Index: the platform images joined under another registry's tag, verified, and promoted on.
        assert.deepStrictEqual(o.joinedDigests, o.platformDigests);
        const joinedDigest = o.joined.split("@")[1];
        assert.strictEqual(await digestAt(AUTH, "promo/joined", "1.0"), joinedDigest);
        for (const p of PLATFORMS)
            assert.match(
                o.joinedVerification[p],
                new RegExp(`^ok: config ${p}, /bin/sh \\(-> /bin/busybox\\) is ${p.split("/")[1]}`),
            );
        // Its children came into promo/joined streamed, or were there when the promotion to promo/app ran first.
        assert.ok(
            o.joinedCopied.copied + o.joinedCopied.present >= 6 && o.joinedCopied.manifests >= 2,
            JSON.stringify(o.joinedCopied),
        );
        assert.strictEqual(o.onward, joinedDigest);
        assert.strictEqual(await digestAt(REG, `${BASE}/joined`, "1.0"), joinedDigest);
    });

    it("a no-op up copies nothing, opens no blob and asks no registry anything", async () => {
        const before = { auth: authRequests.length, company: companyRequests.length, tokens: token.issued.length };
        const up = await stack.up({ onOutput: () => {} });
        assert.deepStrictEqual(
            Object.keys(up.summary.resourceChanges ?? {}),
            ["same"],
            JSON.stringify(up.summary.resourceChanges),
        );
        assert.deepStrictEqual(authRequests.slice(before.auth), [], "the htpasswd registry was asked");
        assert.deepStrictEqual(companyRequests.slice(before.company), [], "the company registry was asked");
        assert.strictEqual(token.issued.length, before.tokens, "a token was asked for");
    });

    it("preview says what a new promotion would copy, and copies nothing", async () => {
        stack.workspace.program = program((src) => ({
            extra: new ImagePromotion("extra", {
                source: src.ref,
                tags: [`${AUTH}/promo/extra:1.0`],
                registries: [login()],
            }).digest,
        }));
        try {
            const before = authRequests.length;
            const preview = await stack.preview();
            assert.deepStrictEqual(preview.changeSummary.create, 2, JSON.stringify(preview.changeSummary));
            // In the preview's diagnostics (and, with --diff, as the copy's `plan`): 2 platform images, the index, its verification record.
            assert.match(
                preview.stdout,
                new RegExp(
                    `Diagnostics:[\\s\\S]*will copy ${AUTH.replace(/\./g, "\\.")}/promo/extra \\(index\\): 4 manifests, \\d+ blobs to copy \\([\\d.]+ [kM]B\\), 0 already there`,
                ),
            );
            assert.ok(
                !authRequests.slice(before).some((r) => /^(PUT|POST|PATCH)/.test(r)),
                "preview wrote to the registry",
            );
            assert.strictEqual(await digestAt(AUTH, "promo/extra", "1.0"), undefined);
        } finally {
            stack.workspace.program = program();
        }
    });

    it("preview refuses a source never verified, and a digest its registry does not hold, each with the fix", async () => {
        const busybox = await new Registry(REG).getManifest("fixtures/busybox", "latest");
        stack.workspace.program = program(() => ({
            x: new ImagePromotion("unverified", {
                source: `${REG}/fixtures/busybox@${busybox!.digest}`,
                tags: [`${REG}/${BASE}/never:1.0`],
            }).digest,
        }));
        try {
            const never = await failure(() => stack.preview());
            assert.match(
                never,
                new RegExp(
                    `property source .* ${REG}/fixtures/busybox@${busybox!.digest} was never verified: it carries no verification record .* or set requireVerification: false to promote it anyway`,
                ),
            );
            const gone = `sha256:${crypto.createHash("sha256").update("not an image").digest("hex")}`;
            stack.workspace.program = program(() => ({
                x: new ImagePromotion("gone", {
                    source: `${REG}/${BASE}/src@${gone}`,
                    tags: [`${REG}/${BASE}/gone:1.0`],
                }).digest,
            }));
            const missing = await failure(() => stack.preview());
            assert.match(
                missing,
                new RegExp(
                    `property source .* preview: ${REG}/${BASE}/src@${gone} does not exist: it was deleted or garbage-collected, or the digest is mistyped`,
                ),
            );
            assert.strictEqual(await digestAt(REG, `${BASE}/never`, "1.0"), undefined);
        } finally {
            stack.workspace.program = program();
        }
    });

    it("refresh sees a tag moved by hand and a per-arch tag deleted; up puts both back; then nothing changes", async () => {
        const o = outputs;
        // Moved: the htpasswd registry's tag now names the arm64 image alone.
        const auth = new Registry(AUTH, { credentials: { username: USER, password: PASSWORD } });
        const arm = (await auth.getManifest("promo/app", o.platformDigests["linux/arm64"]))!;
        await auth.putManifest("promo/app", "1.0", arm.raw, arm.mediaType);
        // Deleted: the company registry's arm64 tag (its manifest removed, as a registry UI does).
        await new Registry(REG).deleteManifest(`${BASE}/company`, o.platformDigests["linux/arm64"]);
        const refreshed = await stack.refresh({ onOutput: () => {} });
        assert.strictEqual(
            refreshed.summary.resourceChanges?.update,
            2,
            JSON.stringify(refreshed.summary.resourceChanges),
        );
        const drift = (await stack.exportStack()).deployment.resources
            .filter((r: any) => r.outputs?.drift?.length)
            .map((r: any) => r.outputs.drift)
            .flat();
        assert.deepStrictEqual(
            drift.sort(),
            [
                `tag ${AUTH}/promo/app:1.0 moved to ${o.platformDigests["linux/arm64"]}`,
                `tag ${COMPANY}/${BASE}/company:1.0-arm64 is gone`,
            ].sort(),
        );
        assert.strictEqual((await changes()).update, 2);
        const up = await stack.up({ onOutput: () => {} });
        assert.strictEqual(up.summary.resourceChanges?.update, 2, JSON.stringify(up.summary.resourceChanges));
        assert.strictEqual(await digestAt(AUTH, "promo/app", "1.0"), o.srcDigest);
        assert.strictEqual(await digestAt(COMPANY, `${BASE}/company`, "1.0-arm64"), o.platformDigests["linux/arm64"]);
        const again = await stack.refresh({ onOutput: () => {} });
        assert.ok(
            !again.summary.resourceChanges?.update,
            `refresh still sees drift: ${JSON.stringify(again.summary.resourceChanges)}`,
        );
        assert.deepStrictEqual(Object.keys(await changes()), ["same"]);
    });

    it("destroy leaves the promoted images, except where deleteOnDestroy", async () => {
        const o = outputs;
        await stack.destroy({ onOutput: () => {} });
        assert.strictEqual(await digestAt(REG, `${BASE}/prod`, "1.0"), o.srcDigest, "destroy removed a promoted image");
        assert.strictEqual(
            await digestAt(AUTH, "promo/joined", "1.0"),
            o.joined.split("@")[1],
            "destroy removed the Index",
        );
        assert.strictEqual(await digestAt(AUTH, "promo/app", o.srcDigest), undefined, "deleteOnDestroy left the copy");
        assert.strictEqual(await digestAt(TOKEN, "promo/app", o.srcDigest), undefined, "deleteOnDestroy left the copy");
    });
});

describe("promotions: a layer larger than 2 GiB", function () {
    const running: { stop(): void }[] = [];
    let dir: string;
    let from: string, to: string;

    before(async () => {
        requireRealParts();
        dir = company.scratch("pm-e2e-promotion-big-");
        const [a, b] = await Promise.all([freePort(), freePort()]);
        from = `127.0.0.1:${a}`;
        to = `127.0.0.1:${b}`;
        running.push(
            await company.startRegistry(dir, from, { port: a }),
            await company.startRegistry(dir, to, { port: b }),
        );
    });

    after(() => {
        for (const r of running) r.stop();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("streams it from one registry to another with the copying process's memory flat", async () => {
        // The layer: 2 GiB + 1 MiB of zeros, generated as a stream straight into the source registry.
        const chunk = Buffer.alloc(1 << 20);
        const chunks = 2049;
        const hash = crypto.createHash("sha256");
        for (let i = 0; i < chunks; i++) hash.update(chunk);
        const layer = { digest: `sha256:${hash.digest("hex")}`, size: chunks * chunk.length };
        const zeros = () =>
            stream.Readable.from(
                (function* () {
                    for (let i = 0; i < chunks; i++) yield chunk;
                })(),
            );
        const r = new Registry(from);
        await r.putBlob("big/app", layer, async () => zeros());
        const config = Buffer.from(
            JSON.stringify({
                architecture: "amd64",
                os: "linux",
                rootfs: { type: "layers", diff_ids: [layer.digest] },
            }),
        );
        const configDesc = {
            digest: `sha256:${crypto.createHash("sha256").update(config).digest("hex")}`,
            size: config.length,
        };
        await r.putBlob("big/app", configDesc, async () => stream.Readable.from([config]));
        const manifest = Buffer.from(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configDesc },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
            }),
        );
        const digest = `sha256:${crypto.createHash("sha256").update(manifest).digest("hex")}`;
        await r.putManifest("big/app", "1.0", manifest, "application/vnd.oci.image.manifest.v1+json");

        const out = execFileSync(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                path.join(ROOT, "tests/support/copyOnce.ts"),
                `${from}/big/app@${digest}`,
                `${to}/big/app`,
            ],
            { cwd: ROOT, env: { ...process.env, ...ENV }, encoding: "utf8" },
        );
        const result = JSON.parse(out.trim().split("\n").pop()!);
        assert.deepStrictEqual(
            { ...result.stats },
            { manifests: 1, copied: 2, bytes: layer.size + config.length, mounted: 0, present: 0 },
        );
        assert.ok(
            result.maxRssKiB < 200 * 1024,
            `the copying process peaked at ${(result.maxRssKiB / 1024).toFixed(0)} MiB for a ${(layer.size / 2 ** 30).toFixed(2)} GiB layer`,
        );
        const target = new Registry(to);
        assert.ok(await target.hasBlob("big/app", layer.digest), "the layer is not at the target");
        assert.strictEqual((await target.getManifest("big/app", digest))?.digest, digest);
    });
});
