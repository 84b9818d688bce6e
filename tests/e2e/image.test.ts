// MultiArchImage through the real engine, BuildKit and registry: the article's three
// Dockerfiles, a registry without manifest lists, verification before tags move, the
// rebuild decision and what preview --diff says, and secrets kept out of state and argv.
//
// One builder for the file (a BuildxBuilder with its BinfmtSetup, in a stack of its own) and
// every image names it (`builder: { name }`): one BuildKit and one cache for every case, and
// each case's stack is destroyed as the case ends. The images that go up together do so in one
// stack: one up, one no-op up, one destroy for all of them.
import * as pulumi from "@pulumi/pulumi";
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";

import { BinfmtSetup, BuildxBuilder, MultiArchImage, type MultiArchImageArgs } from "../../components";
import { argvContaining } from "../support/argv";
import { type AuthRegistry, startAuthRegistry } from "../support/authRegistry";
import { requireRealParts, ROOT, runImage } from "../support/env";
import { dispose, failure, inlineStack, stateTexts } from "../support/stack";

const REG = "127.0.0.1:5000";
const COMPANY = "127.0.0.1:5003"; // keeps no manifest lists (scripts/bootstrap; with fixtures/busybox-arm64)
const AUTH = "127.0.0.1:5002"; // a registry that requires a login
const BUILDKITD = `[registry."${REG}"]\n  http = true\n[registry."${COMPANY}"]\n  http = true\n[registry."${AUTH}"]\n  http = true\n`;
const ACCEPT_ALL = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
        http.get(url, { headers: { Accept: ACCEPT_ALL.join(", ") } }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c)).on("end", () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
            );
        }).on("error", reject);
    });
}
const tagDigest = async (registry: string, repo: string, tag: string) => {
    const r = await get(`http://${registry}/v2/${repo}/manifests/${tag}`);
    return r.status === 200 ? String(r.headers["docker-content-digest"]) : undefined;
};

/** A copy of ./app in a scratch dir, with `dockerfile` as its Dockerfile. */
function appCopy(name: string, dockerfile: string): string {
    const dir = path.join(ROOT, ".state", "e2e", "contexts", name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ["go.mod", "main.go", ".dockerignore"])
        fs.copyFileSync(path.join(ROOT, "app", f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, "Dockerfile"), dockerfile);
    return dir;
}

const GO = `${REG}/fixtures/golang:latest`;
// The article's Dockerfiles, on the local fixtures.
const ARTICLE_AMD64 = `FROM ${GO} AS build\nWORKDIR /src\nCOPY go.mod main.go ./\nRUN CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o hello .\nFROM ${REG}/fixtures/busybox:latest\nCOPY --from=build /src/hello /hello\nENTRYPOINT ["/hello"]\n`;
const ARTICLE_ARM64 = ARTICLE_AMD64.replace("GOARCH=amd64", "GOARCH=arm64").replace(
    `FROM ${GO} AS build`,
    `FROM --platform=$BUILDPLATFORM ${GO} AS build`,
);
const COMPANY_ARM64 = `FROM --platform=$BUILDPLATFORM ${COMPANY}/fixtures/golang:latest AS build\nWORKDIR /src\nCOPY go.mod main.go ./\nRUN CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o hello .\nFROM ${COMPANY}/fixtures/busybox-arm64:latest\nCOPY --from=build /src/hello /hello\nENTRYPOINT ["/hello"]\n`;

type ImageArgs = Omit<MultiArchImageArgs, "builder">;

/** A program of images, each on the file's builder: name -> args. Exports each one's outputs under its name. */
function images(builder: string, all: Record<string, ImageArgs>) {
    return async () => {
        const out: Record<string, unknown> = {};
        for (const [n, a] of Object.entries(all)) {
            const img = new MultiArchImage(n, { ...a, builder: { name: builder } });
            out[n] = {
                digest: img.digest,
                platformDigests: img.platformDigests,
                tags: img.tags,
                mode: img.manifestMode,
                verification: img.verification,
                reason: img.buildReason,
                ref: img.ref,
            };
        }
        return out;
    };
}

describe("MultiArchImage", function () {
    const BUILDER = `pm-e2e-img-${process.pid}`;
    let builderStack: Stack | undefined;
    let current: Stack | undefined;
    before(async function () {
        requireRealParts();
        builderStack = await inlineStack("e2e-image-builder", async () => {
            const qemu = new BinfmtSetup("qemu", { platforms: ["linux/arm64"] });
            const b = new BuildxBuilder("b", {
                name: BUILDER,
                binfmt: qemu,
                driverOpts: { network: "host" },
                buildkitdConfig: BUILDKITD,
            });
            return { name: b.name };
        });
        await builderStack.up({ onOutput: () => {} });
    });
    after(async () => {
        await dispose(builderStack);
    });
    // Each case's stack goes as the case ends: no BuildKit or state of a case outlives it.
    afterEach(async () => {
        await dispose(current);
        current = undefined;
    });
    async function stack(name: string, all: Record<string, ImageArgs>): Promise<Stack> {
        current = await inlineStack(name, images(BUILDER, all) as any);
        return current;
    }

    describe("the article's images, a registry without lists, auto, a registry cache, deleteOnDestroy, a build secret, a login: one stack", function () {
        const secret = `s3cr3t-${Date.now()}`;
        let auth: AuthRegistry;
        let s: Stack;
        let o: Record<string, any>;
        const out: string[] = [];
        let argv: string[];
        before(async () => {
            auth = await startAuthRegistry(5002);
            // The RUN step proves the secret arrived by its length: the value itself must appear nowhere.
            const secretCtx = appCopy(
                "secret",
                `FROM ${REG}/fixtures/busybox:latest\nRUN --mount=type=secret,id=token sh -c 'test $(wc -c < /run/secrets/token) -eq ${secret.length} && sleep 3 && echo token-ok > /ok'\n`,
            );
            s = await inlineStack(
                "e2e-image-many",
                images(BUILDER, {
                    amd64: {
                        context: appCopy("amd64", ARTICLE_AMD64),
                        platforms: ["linux/amd64"],
                        tags: [`${REG}/e2e/article:amd64`],
                    },
                    arm64: {
                        context: appCopy("arm64", ARTICLE_ARM64),
                        platforms: ["linux/arm64"],
                        tags: [`${REG}/e2e/article:arm64`],
                    },
                    company: {
                        context: appCopy("company", COMPANY_ARM64),
                        platforms: ["linux/arm64"],
                        tags: [`${COMPANY}/e2e/company:1.0`],
                        manifest: "per-arch-tags",
                    },
                    auto: {
                        context: path.join(ROOT, "app"),
                        platforms: ["linux/amd64", "linux/arm64"],
                        tags: [`${COMPANY}/e2e/auto:1.0`],
                        manifest: "auto",
                    },
                    cached: {
                        context: path.join(ROOT, "app"),
                        platforms: ["linux/amd64", "linux/arm64"],
                        tags: [`${REG}/e2e/cached:1.0`],
                        cacheRepository: `${REG}/e2e/cached-cache`,
                    },
                    deleted: {
                        context: path.join(ROOT, "app"),
                        platforms: ["linux/amd64"],
                        tags: [`${REG}/e2e/deleted:1.0`],
                        deleteOnDestroy: true,
                    },
                    secret: {
                        context: secretCtx,
                        platforms: ["linux/amd64"],
                        tags: [`${REG}/e2e/secret:1.0`],
                        secrets: { token: pulumi.secret(secret) },
                    },
                    private: {
                        context: path.join(ROOT, "app"),
                        platforms: ["linux/amd64", "linux/arm64"],
                        tags: [`${AUTH}/e2e/private:1.0`],
                        registry: { username: auth.username, password: pulumi.secret(auth.password) },
                    },
                }) as any,
            );
            const { result, seen } = await argvContaining([secret, auth.password], () =>
                s.up({ onOutput: (l) => out.push(l) }),
            );
            o = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.value]));
            argv = seen;
        });
        after(async () => {
            await dispose(s);
            auth?.stop();
        });

        it("article, x86 on x86: GOARCH=amd64, linux/amd64 only", () => {
            assert.match(
                o.amd64.verification["linux/amd64"],
                /^ok: config linux\/amd64, \/hello is amd64, 1 ELF file added by the build$/,
            );
            assert.strictEqual(
                runImage("linux/amd64", `${REG}/e2e/article@${o.amd64.platformDigests["linux/amd64"]}`).split("\n")[0],
                "Hello from linux/amd64",
            );
        });

        it("article, arm64 on x86 by GOARCH=arm64: verified arm64 and runs as aarch64", () => {
            assert.match(o.arm64.verification["linux/arm64"], /\/hello is arm64, 1 ELF file added by the build$/);
            assert.match(runImage("linux/arm64", o.arm64.ref), /machine: aarch64/);
        });

        it("article, company registry without manifest lists: explicit arm64 final base, per-arch tags", async () => {
            assert.deepStrictEqual(o.company.tags, [`${COMPANY}/e2e/company:1.0-arm64`]);
            assert.ok(await tagDigest(COMPANY, "e2e/company", "1.0-arm64"));
            assert.strictEqual(await tagDigest(REG, "e2e/company", "1.0"), undefined, "no plain tag without a list");
        });

        it("auto: the registry refuses manifest lists, so per-arch tags with a warning", async () => {
            assert.strictEqual(o.auto.mode, "per-arch-tags");
            assert.match(
                out.join(""),
                /e2e\/auto does not accept manifest lists \/ OCI indexes: pushing one tag per architecture/,
            );
            assert.deepStrictEqual(o.auto.tags, [`${COMPANY}/e2e/auto:1.0-amd64`, `${COMPANY}/e2e/auto:1.0-arm64`]);
            for (const arch of ["amd64", "arm64"]) {
                const m = JSON.parse((await get(`http://${REG}/v2/e2e/auto/manifests/1.0-${arch}`)).body);
                const cfg = JSON.parse((await get(`http://${REG}/v2/e2e/auto/blobs/${m.config.digest}`)).body);
                assert.strictEqual(cfg.architecture, arch);
            }
        });

        it("cacheRepository: a registry cache per platform; the index is assembled from per-platform builds", async () => {
            for (const arch of ["amd64", "arm64"])
                assert.ok(await tagDigest(REG, "e2e/cached-cache", arch), `no cache for ${arch}`);
            const index = JSON.parse((await get(`http://${REG}/v2/e2e/cached/manifests/1.0`)).body);
            assert.deepStrictEqual(index.manifests.map((m: any) => m.platform.architecture).sort(), ["amd64", "arm64"]);
            assert.strictEqual(await tagDigest(REG, "e2e/cached", "1.0"), o.cached.digest);
        });

        it("build secrets reach RUN but not the state or any process's argv", () => {
            assert.deepStrictEqual(
                argv.filter((a) => a.includes(secret)),
                [],
                "the secret was on a command line",
            );
            assert.ok(!out.join("").includes(secret), "the secret was in the output");
            const { exported, onDisk } = stateTexts(s);
            assert.ok(!exported.includes(secret) && !onDisk.includes(secret), "the secret is in the state");
        });

        it("pushes and verifies with a login; the password stays out of state, argv and output", async () => {
            assert.match(o.private.verification["linux/arm64"], /is arm64, 1 ELF file added by the build$/);
            assert.deepStrictEqual(
                argv.filter((a) => a.includes(auth.password)),
                [],
                "the registry password was on a command line",
            );
            assert.ok(!out.join("").includes(auth.password));
            const { exported, onDisk } = stateTexts(s);
            assert.ok(
                !exported.includes(auth.password) && !onDisk.includes(auth.password),
                "the registry password is in the state",
            );
            const anonymous = await get(`http://${AUTH}/v2/e2e/private/manifests/1.0`);
            assert.strictEqual(anonymous.status, 401, "the test registry must require a login");
        });

        it("a second up changes nothing: auto probes once", async () => {
            const again = await s.up({ onOutput: () => {} });
            assert.deepStrictEqual(again.summary.resourceChanges, { same: 1 + 2 * 8 });
        });

        it("deleteOnDestroy removes what it pushed; the default keeps it", async () => {
            assert.ok(await tagDigest(REG, "e2e/deleted", o.deleted.digest));
            await s.destroy({ onOutput: () => {} });
            assert.strictEqual(await tagDigest(REG, "e2e/deleted", o.deleted.digest), undefined);
            assert.ok(await tagDigest(REG, "e2e/article", "amd64"), "an image without deleteOnDestroy must stay");
        });
    });

    it("a final stage of the wrong architecture is caught before the tag moves", async () => {
        const tag = `${REG}/e2e/wrong:1.0`;
        const s = await stack("e2e-image-wrongarch", {
            img: { context: path.join(ROOT, "app"), platforms: ["linux/amd64", "linux/arm64"], tags: [tag] },
        });
        await s.up({ onOutput: () => {} });
        const good = await tagDigest(REG, "e2e/wrong", "1.0");
        assert.ok(good);
        // The article's pitfall: the last FROM pinned to amd64 while building for arm64.
        const bad = fs
            .readFileSync(path.join(ROOT, "app", "Dockerfile"), "utf8")
            .replace(
                `FROM ${REG}/fixtures/busybox:latest`,
                `FROM --platform=linux/amd64 ${REG}/fixtures/busybox:latest`,
            );
        s.workspace.program = images(BUILDER, {
            img: { context: appCopy("wrong", bad), platforms: ["linux/amd64", "linux/arm64"], tags: [tag] },
        }) as any;
        const text = await failure(() => s.up({ onOutput: () => {} }));
        assert.match(text, /verification failed, no tag was moved:/);
        assert.match(
            text,
            /linux\/arm64: \/bin\/sh \(-> \/bin\/busybox\) is an amd64 binary\. Likely cause: the final stage.s FROM pins another platform/,
        );
        assert.strictEqual(await tagDigest(REG, "e2e/wrong", "1.0"), good, "the tag moved to a bad image");
    });

    it("verification reads what the build added and what the image runs: each wrong image fails before its tag moves", async () => {
        // The article's Dockerfile as written (WORKDIR /app, CMD ["./hello"], GOARCH=amd64), a
        // hard-coded GOARCH with the binary at /hello, a shell form and a #! script on a base of
        // another architecture, a foreign ELF in a folder never run, a foreign dynamic ELF (this
        // host's /bin/ls) and an honest multi-arch image.
        const busybox = `${REG}/fixtures/busybox:latest`;
        const build = `FROM --platform=$BUILDPLATFORM ${GO} AS builder\nWORKDIR /app\nCOPY go.mod main.go ./\nARG TARGETARCH\n`;
        const article = `${build}RUN CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o hello .\nFROM ${busybox}\nWORKDIR /app\nCOPY --from=builder /app/hello .\nCMD ["./hello"]\n`;
        const honest = `${build}RUN CGO_ENABLED=0 GOOS=linux GOARCH=$TARGETARCH go build -o hello .\nFROM ${busybox}\nWORKDIR /app\nCOPY --from=builder /app/hello .\nCMD ["./hello"]\n`;
        const cases: Record<string, { dockerfile: string; platforms: string[]; error?: RegExp }> = {
            article: {
                dockerfile: article,
                platforms: ["linux/arm64"],
                error: /linux\/arm64: \/app\/hello, added by the build, is an amd64 ELF file\. Likely cause: a hard-coded GOARCH/,
            },
            goarch: {
                dockerfile: ARTICLE_AMD64.replace(
                    `FROM ${GO} AS build`,
                    `FROM --platform=$BUILDPLATFORM ${GO} AS build`,
                ),
                platforms: ["linux/arm64"],
                error: /linux\/arm64: \/hello, added by the build, is an amd64 ELF file\. Likely cause: a hard-coded GOARCH/,
            },
            shell: {
                dockerfile: `FROM --platform=linux/amd64 ${busybox}\nCMD echo hello\n`,
                platforms: ["linux/arm64"],
                error: /linux\/arm64: \/bin\/sh \(-> \/bin\/busybox\) is an amd64 binary\. Likely cause: the final stage's FROM/,
            },
            script: {
                dockerfile: `FROM --platform=linux/amd64 ${busybox}\nCOPY run.sh /run.sh\nENTRYPOINT ["/run.sh"]\n`,
                platforms: ["linux/arm64"],
                error: /linux\/arm64: \/bin\/sh \(-> \/bin\/busybox\) is an amd64 binary\. Likely cause: the interpreter of \/run\.sh comes from a base of another architecture/,
            },
            stray: {
                dockerfile: `${honest}COPY --from=builder /usr/local/go/bin/gofmt /opt/tools/gofmt\n`,
                platforms: ["linux/arm64"],
                error: /linux\/arm64: \/opt\/tools\/gofmt, added by the build, is an amd64 ELF file/,
            },
            dynamic: {
                dockerfile: `FROM ${busybox}\nCOPY ls /bin/ls-host\nENTRYPOINT ["/bin/ls-host"]\n`,
                platforms: ["linux/arm64"],
                error: /linux\/arm64: \/bin\/ls-host, added by the build, is a dynamically linked amd64 ELF file \(loader \/lib.*ld-linux-x86-64\.so\.2\)/,
            },
            honest: { dockerfile: honest, platforms: ["linux/amd64", "linux/arm64"] },
        };
        const all = Object.fromEntries(
            Object.entries(cases).map(([n, c]) => {
                const dir = appCopy(`verify-${n}`, c.dockerfile);
                fs.writeFileSync(path.join(dir, "run.sh"), "#!/bin/sh\necho hello\n", { mode: 0o755 });
                fs.copyFileSync("/bin/ls", path.join(dir, "ls"));
                return [n, { context: dir, platforms: c.platforms, tags: [`${REG}/e2e/verify-${n}:1.0`] }];
            }),
        );
        const s = await stack("e2e-image-verify", all);
        const text = await failure(() => s.up({ onOutput: () => {}, continueOnError: true }));
        for (const [n, c] of Object.entries(cases)) {
            if (!c.error) continue;
            assert.match(
                text,
                c.error,
                `${n}: ${text
                    .split("\n")
                    .filter((l) => /verification failed|error:/.test(l))
                    .join("\n")}`,
            );
            assert.strictEqual(await tagDigest(REG, `e2e/verify-${n}`, "1.0"), undefined, `${n}: the tag moved`);
        }
        // Tags move only after verification passed: the honest image's did.
        assert.ok(await tagDigest(REG, "e2e/verify-honest", "1.0"), "the honest image was not tagged");
    });

    it("BuildKit's own checks at preview: a wrong-platform final base warns with rule and line before any build; strict makes it an error", async () => {
        const ctx = appCopy("checks", fs.readFileSync(path.join(ROOT, "app", "Dockerfile"), "utf8"));
        const img = (strict: boolean): Record<string, ImageArgs> => ({
            img: { context: ctx, platforms: ["linux/amd64", "linux/arm64"], tags: [`${REG}/e2e/checks:1.0`], strict },
        });
        const s = await stack("e2e-image-checks", img(false));
        await s.up({ onOutput: () => {} });
        const before = await tagDigest(REG, "e2e/checks", "1.0");
        const lines = fs.readFileSync(path.join(ctx, "Dockerfile"), "utf8").split("\n");
        const at = lines.findIndex((l) => l.startsWith(`FROM ${REG}/fixtures/busybox`));
        lines[at] = lines[at].replace("FROM ", "FROM --platform=linux/amd64 ");
        fs.writeFileSync(path.join(ctx, "Dockerfile"), lines.join("\n"));
        // The default display ends with the diagnostics (the --diff display leaves them out).
        const preview = await s.preview({});
        // BuildKit's text, and what it means for this build (the final stage: issue 23).
        const finding = new RegExp(
            `Dockerfile:${at + 1}: FROM --platform flag should not use constant value \\\\?"linux/amd64\\\\?": this is the final stage, ` +
                'so every other target \\(linux/arm64\\) gets linux/amd64\'s base and fails at docker run with \\\\?"exec format error\\\\?".* \\[BuildKit FromPlatformFlagConstDisallowed',
        );
        assert.match(preview.stdout, new RegExp(`warning: .*${finding.source}`));
        s.workspace.program = images(BUILDER, img(true)) as any;
        const text = await failure(() => s.preview({}));
        assert.match(text, finding);
        assert.match(text, /strict: BuildKit's Dockerfile checks fail the preview/);
        assert.strictEqual(await tagDigest(REG, "e2e/checks", "1.0"), before, "a preview moved the tag");
    });

    it("one changed source file: preview --diff names it, up rebuilds only the image", async () => {
        const ctx = appCopy("change", fs.readFileSync(path.join(ROOT, "app", "Dockerfile"), "utf8"));
        const s = await stack("e2e-image-change", {
            img: { context: ctx, platforms: ["linux/amd64", "linux/arm64"], tags: [`${REG}/e2e/change:1.0`] },
        });
        const first = (await s.up({ onOutput: () => {} })).outputs.img.value;
        fs.appendFileSync(path.join(ctx, "main.go"), "\n// a one-line change\n");
        const preview = await s.preview({ diff: true });
        assert.deepStrictEqual(
            { update: preview.changeSummary.update, same: preview.changeSummary.same },
            { update: 1, same: 2 },
        );
        assert.match(preview.stdout, /~ main\.go\s*: "sha256:[0-9a-f]+ 0644" => "sha256:[0-9a-f]+ 0644"/);
        assert.doesNotMatch(preview.stdout, /go\.mod\s*:.*=>/);
        const second = (await s.up({ onOutput: () => {} })).outputs.img.value;
        assert.deepStrictEqual(second.reason, ["contextDigest"]);
        assert.notStrictEqual(second.digest, first.digest);
    });
});
