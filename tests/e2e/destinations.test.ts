// Where images go, through the real engine, buildx/BuildKit, dockerd and Debian's registries,
// in ONE stack whose images each exercise one feature, so one up, a no-op up, refresh and
// destroy cover them all:
//   multi     tags in four repositories of four registries (the registry on 5000, the
//             company registry on 5003 that keeps no manifest lists, a token-auth registry
//             of this file logged into through `registries`, and a proxy that can refuse a
//             tag move), manifest "auto" decided per registry;
//   frombase  a private base image and a registry cache in the token registry, reached with
//             the `registries` login only;
//   load      one arm64 platform loaded into dockerd 20.10 (no containerd store) and tagged
//             there after verification, plus a docker tarball;
//   exports   two platforms written as an OCI tarball, an OCI layout, a local folder and a
//             tar, not pushed (refresh notices a deleted export, the next up writes it again);
//   byname    a builder made by hand (`docker buildx create`, remote, the machine's amd64
//             node), named by `builder: { name }`: checked at preview, never removed.
import * as pulumi from "@pulumi/pulumi";
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";

import { MultiArchImage, type MultiArchImageArgs } from "../../components";
import { emulatingBuilder, httpRegistries } from "../support/builder";
import * as company from "../support/companyRegistries";
import { builderNames, requireRealParts, sh } from "../support/env";
import { type Proxy, startProxy } from "../support/faults";
import { FLEET_ENDPOINTS, MACHINE_TLS, requireFleet } from "../support/fleet";
import { ACCEPT } from "../support/registry";
import { dispose, failure, inlineStack, stateTexts } from "../support/stack";

const REG = "127.0.0.1:5000";
const COMPANY = "127.0.0.1:5003"; // keeps no manifest lists (scripts/bootstrap)
const TOKEN = "127.0.0.1:5141"; // plain HTTP (loopback), token auth: this file's
const AUTH_PORT = 5143; // its token service, HTTPS with a private CA
const PROXY = "127.0.0.1:5142"; // in front of 5000; refuses one tag move on demand
const USER = "ci";
const PASSWORD = `pm20-${process.pid}-${Date.now()}`;
const BUILDER = `pm-e2e-dest-${process.pid}`;
const BYNAME = `pm-e2e-dest-byname-${process.pid}`;
const BASE = `${REG}/fixtures/busybox:latest`;
const NS = `pm-e2e-dest-${process.pid}`; // repositories of this run
const quiet = { onOutput: () => {} };
/** The builder made by hand, as a user (or setup-buildx-action) makes one: the machine's amd64 node. */
const createByName = () =>
    sh("docker", [
        "buildx",
        "create",
        "--name",
        BYNAME,
        "--driver",
        "remote",
        "--driver-opt",
        `cacert=${MACHINE_TLS.ca},cert=${MACHINE_TLS.cert},key=${MACHINE_TLS.key}`,
        FLEET_ENDPOINTS.amd64,
    ]);

describe("where images go: several registries, registries logins, load, exports, a builder by name", function () {
    let dir: string;
    let out: string;
    let stack: Stack;
    let proxy: Proxy;
    let refuseProxyTag = false;
    let pki: company.Pki;
    let token: company.TokenServer;
    const running: { stop(): void }[] = [];
    let env: Record<string, string>;
    let first: Record<string, any>;
    /** Inputs the tests change between runs. */
    const v = {
        multiMsg: "v1",
        loadPlatforms: ["linux/arm64"],
        byNamePlatforms: ["linux/amd64"],
        loadAddsHostBinary: false,
    };

    const login = () => [{ address: TOKEN, username: USER, password: pulumi.secret(PASSWORD) }];
    const ctx = (name: string, dockerfile: string, msg: string) => {
        const d = path.join(dir, name);
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, "Dockerfile"), dockerfile);
        fs.writeFileSync(path.join(d, "msg.txt"), `${msg}\n`);
        return d;
    };

    function program() {
        return async () => {
            const builder = emulatingBuilder(BUILDER, httpRegistries(REG, COMPANY, TOKEN, PROXY));
            const image = (
                name: string,
                a: Omit<MultiArchImageArgs, "builder"> & { builder?: MultiArchImageArgs["builder"] },
                opts?: pulumi.ComponentResourceOptions,
            ) => new MultiArchImage(name, { builder, deleteOnDestroy: true, ...a }, opts);
            const multi = image("multi", {
                context: ctx("multi", `FROM ${BASE}\nCOPY msg.txt /msg.txt\n`, v.multiMsg),
                platforms: ["linux/amd64", "linux/arm64"],
                manifest: "auto",
                tags: [
                    `${REG}/${NS}/multi:1`,
                    `${COMPANY}/${NS}/company:1`,
                    `${TOKEN}/${NS}/multi:1`,
                    `${PROXY}/${NS}/via-proxy:1`,
                ],
                registries: login(),
                // Built platform by platform (the company registry takes no list): the export is one more invocation.
                exports: [{ oci: { dest: path.join(out, "multi.oci.tar") } }],
            });
            const frombase = image(
                "frombase",
                {
                    context: ctx(
                        "frombase",
                        `FROM ${TOKEN}/${NS}/multi:1\nCOPY msg.txt /from-base.txt\n`,
                        "on a private base",
                    ),
                    platforms: ["linux/amd64"],
                    tags: [`${REG}/${NS}/frombase:1`],
                    registries: login(),
                    cacheTo: [`type=registry,ref=${TOKEN}/${NS}/cache:frombase,mode=max`],
                },
                { dependsOn: [multi] },
            );
            const loadContext = ctx(
                "load",
                `FROM scratch\nCOPY msg.txt /msg.txt\n${v.loadAddsHostBinary ? "COPY true /bin/true\n" : ""}`,
                "loaded",
            );
            if (v.loadAddsHostBinary) fs.copyFileSync("/bin/true", path.join(loadContext, "true"));
            else fs.rmSync(path.join(loadContext, "true"), { force: true });
            const load = image("load", {
                context: loadContext,
                platforms: v.loadPlatforms,
                tags: [`${REG}/${NS}/load:1`],
                // (A docker tarball holds one platform: the program refuses it for two, before the engine's check.)
                load: true,
                exports: v.loadPlatforms.length > 1 ? [] : [{ docker: { dest: path.join(out, "load.docker.tar") } }],
            });
            const exports = image("exports", {
                context: ctx("exports", "FROM scratch\nCOPY msg.txt /msg.txt\n", "exported"),
                platforms: ["linux/amd64", "linux/arm64"],
                tags: [],
                push: false,
                exports: [
                    { oci: { dest: path.join(out, "image.oci.tar") } },
                    { oci: { dest: path.join(out, "layout"), tar: false } },
                    { raw: `type=local,dest=${path.join(out, "fs")}` },
                    { tar: { dest: path.join(out, "fs.tar") } },
                    { cacheonly: {} },
                ],
                deleteOnDestroy: false,
            });
            const byname = image("byname", {
                context: ctx("byname", "FROM scratch\nCOPY msg.txt /msg.txt\n", "by name"),
                platforms: v.byNamePlatforms,
                tags: [`${REG}/${NS}/byname:1`],
                builder: { name: BYNAME },
            });
            const o = (i: MultiArchImage) => ({
                digest: i.digest,
                platformDigests: i.platformDigests,
                tags: i.tags,
                mode: i.manifestMode,
                modes: i.manifestModes,
                verification: i.verification,
                loaded: i.loadedImage,
                exported: i.exported,
                reason: i.buildReason,
            });
            return { multi: o(multi), frombase: o(frombase), load: o(load), exports: o(exports), byname: o(byname) };
        };
    }

    /** A manifest's digest as an independent client reads it: plain HTTP, with our own token exchange for the token registry. */
    async function digestOf(registry: string, repo: string, ref: string): Promise<string | undefined> {
        const get = (url: string, headers: Record<string, string>) =>
            new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
                (url.startsWith("https:") ? https : http)
                    .get(url, { headers, ca: [pki.ca] }, (res) => {
                        let body = "";
                        res.on("data", (c) => (body += c)).on("end", () =>
                            resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
                        );
                    })
                    .on("error", reject);
            });
        let auth: Record<string, string> = {};
        if (registry === TOKEN) {
            const t = await get(`${token.realm}?service=${TOKEN}&scope=repository:${repo}:pull`, {
                Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`,
            });
            auth = { Authorization: `Bearer ${JSON.parse(t.body).token}` };
        }
        const res = await get(`http://${registry}/v2/${repo}/manifests/${ref}`, { Accept: ACCEPT, ...auth });
        if (res.status === 404) return undefined;
        assert.strictEqual(res.status, 200, `GET ${registry}/${repo}:${ref}: ${res.status} ${res.body}`);
        return String(res.headers["docker-content-digest"]);
    }

    /** Where each tag of image multi points: 5000, the token registry, the proxy (index) and 5003 (per-arch). */
    const multiTags = async () => ({
        reg: await digestOf(REG, `${NS}/multi`, "1"),
        token: await digestOf(TOKEN, `${NS}/multi`, "1"),
        proxy: await digestOf(PROXY, `${NS}/via-proxy`, "1"),
        amd64: await digestOf(COMPANY, `${NS}/company`, "1-amd64"),
        arm64: await digestOf(COMPANY, `${NS}/company`, "1-arm64"),
    });
    const sha256 = (file: string) =>
        `sha256:${crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex")}`;
    const outputs = (r: { outputs: Record<string, { value: any }> }) =>
        Object.fromEntries(Object.entries(r.outputs).map(([k, x]) => [k, x.value]));
    const SAME = 15; // stack, 2 + 2 for qemu and the builder, 2 per image

    before(async function () {
        this.timeout(15 * 60_000);
        requireRealParts();
        requireFleet();
        dir = company.scratch("pm-e2e-dest-");
        out = path.join(dir, "out");
        fs.mkdirSync(out);
        pki = company.makePki(dir, ["127.0.0.1"]);
        token = await company.startTokenServer(dir, "127.0.0.1", AUTH_PORT, pki, { [USER]: PASSWORD });
        running.push({ stop: () => token.close() });
        running.push(await company.startRegistry(dir, TOKEN, { port: Number(TOKEN.split(":")[1]), auth: { token } }));
        proxy = await startProxy(Number(PROXY.split(":")[1]), 5000, (method, url) =>
            refuseProxyTag && method === "PUT" && url === `/v2/${NS}/via-proxy/manifests/1` ? 500 : undefined,
        );
        running.push({ stop: () => proxy.close() });
        // buildx fetches bearer tokens on the client, trusting the system store: the CA goes there.
        env = { SSL_CERT_FILE: company.trustBundle(dir, pki) };
        Object.assign(process.env, env);
        createByName();
        stack = await inlineStack("e2e-destinations", program() as any, { env });
        first = outputs(await stack.up(quiet));
    });

    after(async function () {
        this.timeout(5 * 60_000);
        await dispose(stack);
        try {
            sh("docker", ["buildx", "rm", BYNAME]);
        } catch {
            /* gone */
        }
        for (const r of running) r.stop();
        for (const k of Object.keys(env ?? {})) delete process.env[k];
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("multi: one build in four registries, each verified; auto keeps lists where the registry does and per-arch tags on the company registry", async () => {
        const m = first.multi;
        assert.deepStrictEqual(m.modes, {
            [REG]: "index",
            [COMPANY]: "per-arch-tags",
            [TOKEN]: "index",
            [PROXY]: "index",
        });
        assert.strictEqual(m.mode, "mixed");
        assert.deepStrictEqual(m.tags, [
            `${REG}/${NS}/multi:1`,
            `${COMPANY}/${NS}/company:1-amd64`,
            `${COMPANY}/${NS}/company:1-arm64`,
            `${TOKEN}/${NS}/multi:1`,
            `${PROXY}/${NS}/via-proxy:1`,
        ]);
        assert.deepStrictEqual(await multiTags(), {
            reg: m.digest,
            token: m.digest,
            proxy: m.digest,
            amd64: m.platformDigests["linux/amd64"],
            arm64: m.platformDigests["linux/arm64"],
        });
        for (const p of ["linux/amd64", "linux/arm64"])
            assert.match(
                m.verification[p],
                new RegExp(`^ok: config ${p}, /bin/sh \\(-> /bin/busybox\\) is ${p.split("/")[1]}`),
            );
        // The OCI export of the same build holds both platforms' manifests, as pushed.
        const tarball = path.join(out, "multi.oci.tar");
        assert.strictEqual(m.exported[0].contentDigest, sha256(tarball));
        assert.strictEqual(
            JSON.parse(sh("tar", ["xOf", tarball, "index.json"])).manifests[0].digest,
            m.exported[0].digest,
        );
        const index = JSON.parse(sh("tar", ["xOf", tarball, `blobs/sha256/${m.exported[0].digest.slice(7)}`]));
        assert.deepStrictEqual(
            Object.fromEntries(
                index.manifests.map((e: any) => [`${e.platform.os}/${e.platform.architecture}`, e.digest]),
            ),
            m.platformDigests,
        );
    });

    it("frombase: a private base image and a cache in the token registry, reached with the registries login alone", async () => {
        assert.match(
            first.frombase.verification["linux/amd64"],
            /^ok: config linux\/amd64, \/bin\/sh \(-> \/bin\/busybox\) is amd64, 0 ELF files added by the build$/,
        );
        assert.strictEqual(await digestOf(REG, `${NS}/frombase`, "1"), first.frombase.digest);
        assert.ok(await digestOf(TOKEN, `${NS}/cache`, "frombase"), "no registry cache in the token registry");
        const grants = token.issued.filter((t) => t.who === USER).flatMap((t) => t.granted);
        assert.ok(grants.includes(`${NS}/multi:pull`), `no pull token for the base image: ${grants.join(" ")}`);
        assert.ok(
            !token.issued.some((t) => t.who === "anonymous" && t.granted.length),
            "an anonymous token was granted access",
        );
    });

    it("load: an arm64 image in dockerd 20.10, tagged there, and a docker tarball", async () => {
        const l = first.load;
        const [id, arch] = sh("docker", [
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{.Architecture}}",
            `${REG}/${NS}/load:1`,
        ])
            .trim()
            .split(" ");
        assert.strictEqual(id, l.loaded);
        assert.strictEqual(arch, "arm64");
        assert.match(l.verification["linux/arm64"], /^ok: config linux\/arm64/);
        const tarball = path.join(out, "load.docker.tar");
        assert.deepStrictEqual(l.exported, [
            { type: "docker", dest: tarball, digest: l.exported[0].digest, contentDigest: sha256(tarball) },
        ]);
        assert.match(l.exported[0].digest, /^sha256:[0-9a-f]{64}$/);
    });

    it("exports: an OCI tarball and layout of both platforms, a local folder and a tar; nothing pushed", async () => {
        const e = first.exports;
        assert.deepStrictEqual(e.tags, []);
        assert.strictEqual(e.digest, "");
        assert.deepStrictEqual(
            e.exported.map((x: any) => [x.type, x.dest]),
            [
                ["oci", path.join(out, "image.oci.tar")],
                ["oci", path.join(out, "layout")],
                ["local", path.join(out, "fs")],
                ["tar", path.join(out, "fs.tar")],
                ["cacheonly", undefined],
            ],
        );
        assert.strictEqual(e.exported[0].contentDigest, sha256(path.join(out, "image.oci.tar")));
        // Both OCI exports hold the same two-platform index, named in their index.json.
        const layoutIndex = JSON.parse(fs.readFileSync(path.join(out, "layout", "index.json"), "utf8"));
        assert.strictEqual(e.exported[1].digest, layoutIndex.manifests[0].digest);
        const index = JSON.parse(
            fs.readFileSync(path.join(out, "layout", "blobs", ...e.exported[1].digest.split(":")), "utf8"),
        );
        assert.deepStrictEqual(index.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`).sort(), [
            "linux/amd64",
            "linux/arm64",
        ]);
        assert.strictEqual(e.exported[0].digest, e.exported[1].digest);
        for (const p of ["linux_amd64", "linux_arm64"])
            assert.strictEqual(fs.readFileSync(path.join(out, "fs", p, "msg.txt"), "utf8"), "exported\n");
        assert.match(sh("tar", ["tf", path.join(out, "fs.tar")]), /linux_arm64\/msg\.txt/);
    });

    it("byname: built by a builder made by hand, pushed and verified", async () => {
        assert.strictEqual(await digestOf(REG, `${NS}/byname`, "1"), first.byname.digest);
        assert.match(first.byname.verification["linux/amd64"], /^ok: config linux\/amd64/);
    });

    it("a second up changes nothing; refresh sees no drift; the registries password is nowhere in clear in the state", async () => {
        assert.deepStrictEqual((await stack.up(quiet)).summary.resourceChanges, { same: SAME });
        const state = stateTexts(stack);
        assert.ok(
            !state.exported.includes(PASSWORD) && !state.onDisk.includes(PASSWORD),
            "the registries password is in the state in clear",
        );
        const refreshed = await stack.refresh(quiet);
        assert.ok(
            !refreshed.summary.resourceChanges?.update,
            `refresh saw drift: ${JSON.stringify(refreshed.summary.resourceChanges)}`,
        );
        assert.deepStrictEqual((await stack.preview()).changeSummary, { same: SAME });
    });

    it("refresh notices a deleted export; the next up writes it again", async () => {
        const file = path.join(out, "image.oci.tar");
        fs.rmSync(file);
        const refreshed = await stack.refresh(quiet);
        assert.strictEqual(
            refreshed.summary.resourceChanges?.update,
            1,
            JSON.stringify(refreshed.summary.resourceChanges),
        );
        const again = await stack.up(quiet);
        assert.deepStrictEqual(again.summary.resourceChanges, { update: 1, same: SAME - 1 });
        assert.deepStrictEqual(again.outputs.exports.value.reason, [`exports[0] (oci): ${file} was deleted`]);
        assert.ok(fs.existsSync(file), "up did not write the export again");
        assert.deepStrictEqual((await stack.up(quiet)).summary.resourceChanges, { same: SAME });
    });

    it("a tag move refused by one registry leaves every registry's tags where they were, names it, and the next up moves them all", async () => {
        const before = await multiTags();
        v.multiMsg = "v2";
        stack.workspace.program = program() as any;
        refuseProxyTag = true;
        let refused: string;
        try {
            refused = await failure(() => stack.up(quiet));
        } finally {
            refuseProxyTag = false;
        }
        assert.match(
            refused,
            new RegExp(
                `moving tag ${PROXY.replace(/\./g, "\\.")}/${NS}/via-proxy:1 failed \\(.*500.*\\); put ` +
                    `${REG.replace(/\./g, "\\.")}/${NS}/multi:1, ${COMPANY.replace(/\./g, "\\.")}/${NS}/company:1-amd64, .*/company:1-arm64, .*${TOKEN.replace(/\./g, "\\.")}/${NS}/multi:1 ` +
                    "back where they were, so no tag moved to this build; run `pulumi up` again",
            ),
        );
        assert.deepStrictEqual(await multiTags(), before, "a registry's tag moved although another refused");
        const next = outputs(await stack.up(quiet));
        assert.notStrictEqual(next.multi.digest, first.multi.digest);
        assert.deepStrictEqual(await multiTags(), {
            reg: next.multi.digest,
            token: next.multi.digest,
            proxy: next.multi.digest,
            amd64: next.multi.platformDigests["linux/amd64"],
            arm64: next.multi.platformDigests["linux/arm64"],
        });
    });

    it("load: an image that fails verification gets no tag, neither in the registry nor in the engine", async () => {
        const tag = `${REG}/${NS}/load:1`;
        v.loadAddsHostBinary = true; // an x86-64 /bin/true in the arm64 image
        stack.workspace.program = program() as any;
        const lines: string[] = [];
        try {
            assert.match(
                await failure(() => stack.up({ onOutput: (l) => lines.push(l) })),
                /verification failed, no tag was moved: linux\/arm64: \/bin\/true, added by the build, is a dynamically linked amd64 ELF file/,
            );
        } finally {
            v.loadAddsHostBinary = false;
            stack.workspace.program = program() as any;
        }
        assert.strictEqual(
            sh("docker", ["image", "inspect", "--format", "{{.Id}}", tag]).trim(),
            first.load.loaded,
            "the engine's tag moved to an unverified image",
        );
        assert.strictEqual(
            await digestOf(REG, `${NS}/load`, "1"),
            first.load.digest,
            "the registry's tag moved to an unverified image",
        );
        // The engine's copy of the refused build (its ID: the config digest BuildKit printed) is removed again.
        const ids = [
            ...new Set([...lines.join("").matchAll(/exporting config (sha256:[0-9a-f]{64})/g)].map((m) => m[1])),
        ];
        assert.strictEqual(ids.length, 1, `not one config digest in the build's output: ${ids}`);
        assert.throws(
            () => sh("docker", ["image", "inspect", ids[0]]),
            /No such image/i,
            "the unverified image stayed in the engine",
        );
        assert.deepStrictEqual((await stack.preview()).changeSummary, { same: SAME });
    });

    it("bad input the real engine and builder refuse at preview: a load of two platforms into dockerd 20.10, a platform the named builder cannot build, a builder that is gone", async () => {
        try {
            v.loadPlatforms = ["linux/amd64", "linux/arm64"];
            stack.workspace.program = program() as any;
            assert.match(
                await failure(() => stack.preview()),
                /property load .*has a problem: the docker engine \(20\.10[^,]*, storage driver overlay2, no containerd image store\) holds one platform per image, and linux\/amd64, linux\/arm64 were asked/,
            );
            v.loadPlatforms = ["linux/arm64"];
            // A platform the named builder does not report now (the host's emulators change as other tests run).
            const reported = sh("docker", ["buildx", "ls", "--format", "json"])
                .split("\n")
                .filter(Boolean)
                .map((l) => JSON.parse(l))
                .find((b) => b.Name === BYNAME)
                .Nodes.flatMap((n: any) => n.Platforms ?? []);
            const missing = ["linux/ppc64le", "linux/s390x", "linux/386", "linux/riscv64"].find(
                (p) => !reported.includes(p),
            )!;
            v.byNamePlatforms = [missing];
            stack.workspace.program = program() as any;
            assert.match(
                await failure(() => stack.preview()),
                new RegExp(
                    `property platforms .*has a problem: builder ${BYNAME} cannot build ${missing}: its nodes build linux/amd64, linux/arm64[^;]*; register an emulator`,
                ),
            );
            v.byNamePlatforms = ["linux/amd64"];
            stack.workspace.program = program() as any;
            sh("docker", ["buildx", "rm", BYNAME]);
            assert.match(
                await failure(() => stack.preview()),
                new RegExp(
                    `property builder .*has a problem: no buildx builder named "${BYNAME}" \\(\`docker buildx ls\`\\): create it`,
                ),
            );
        } finally {
            v.loadPlatforms = ["linux/arm64"];
            v.byNamePlatforms = ["linux/amd64"];
            stack.workspace.program = program() as any;
            if (!builderNames().includes(BYNAME)) {
                createByName();
            }
        }
        assert.deepStrictEqual((await stack.preview()).changeSummary, { same: SAME });
    });

    it("destroy removes what deleteOnDestroy covers (pushes, the loaded image, the docker tarball), keeps the exports without it, and never the named builder", async () => {
        const m = (await stack.outputs()).multi.value;
        await stack.destroy(quiet);
        assert.ok(builderNames().includes(BYNAME), "destroy removed a builder the stack only named");
        assert.ok(!builderNames().includes(BUILDER), "destroy left the stack's own builder");
        for (const [r, repo] of [
            [REG, "multi"],
            [TOKEN, "multi"],
            [COMPANY, "company"],
        ]) {
            assert.strictEqual(
                await digestOf(r, `${NS}/${repo}`, m.platformDigests["linux/amd64"]),
                undefined,
                `${r}/${repo} kept the image`,
            );
        }
        assert.throws(() => sh("docker", ["image", "inspect", `${REG}/${NS}/load:1`]), /No such image/i);
        assert.ok(!fs.existsSync(path.join(out, "load.docker.tar")), "the docker tarball (deleteOnDestroy) stayed");
        for (const f of ["image.oci.tar", "layout", "fs", "fs.tar"])
            assert.ok(fs.existsSync(path.join(out, f)), `${f} (no deleteOnDestroy) was removed`);
    });
});
