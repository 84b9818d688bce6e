// Contexts and Dockerfiles of MultiArchImage through the real engine, BuildKit, registry and a
// Git server on loopback: named contexts of every kind (a local folder with its own
// .dockerignore, docker-image:// by tag, oci-layout://, another image's ref in place of bake's
// target:), a Git context, an inline Dockerfile, a Dockerfile outside the context and a
// .dockerignore symlinked out of the context. One stack, one builder, tiny images FROM scratch
// or the local busybox fixture: one up, a no-op up, then the sources move (a tag, a commit, files)
// and preview --diff and the next up name exactly what moved; refresh, destroy, and bad remote
// sources refused at preview.
import * as pulumi from "@pulumi/pulumi";
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

import { MultiArchImage, type MultiArchImageArgs } from "../../components";
import { emulatingBuilder, httpRegistries } from "../support/builder";
import { builderGone, requireRealParts, ROOT } from "../support/env";
import { type GitServer, startGitServer } from "../support/gitServer";
import { writeOciLayout } from "../support/ociLayout";
import { copyIndex, imageFiles, manifest } from "../support/registry";
import { dispose, failure, inlineStack } from "../support/stack";

const REG = "127.0.0.1:5000";
const BUILDKITD = httpRegistries(REG);
const PLATFORMS = ["linux/amd64", "linux/arm64"];
const BASE = `e2e/contexts-base-${process.pid}`;
const D = path.join(ROOT, ".state", "e2e", "contexts-files");
const BUILDER = `pm-e2e-contexts-${process.pid}`;

function write(files: Record<string, string>): void {
    for (const [f, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(D, f)), { recursive: true });
        fs.writeFileSync(path.join(D, f), content);
    }
}

type Images = Record<string, Omit<MultiArchImageArgs, "builder" | "platforms" | "tags">>;

/** Every image of the stack, each exercising one feature; `on-other` builds on `inline`'s pushed ref. */
function images(gitUrl: string): Images {
    return {
        "named-local": { context: { location: `${D}/main`, named: { shared: { location: `${D}/shared` } } } },
        "named-image": {
            context: { location: `${D}/img`, named: { base: { location: `docker-image://${REG}/${BASE}:1` } } },
        },
        "named-layout": {
            context: { location: `${D}/img`, named: { lay: { location: `oci-layout://${D}/layout:v1` } } },
            dockerfile: `${D}/img/Dockerfile.layout`,
        },
        git: {
            context: {
                location: `${gitUrl}/app.git#main:app`,
                named: { tools: { location: `${gitUrl}/app.git#main:tools` } },
            },
        },
        inline: { context: `${D}/inl`, dockerfile: { inline: "FROM scratch\nCOPY hello.txt /\n" } },
        outside: { context: `${D}/out-ctx`, dockerfile: { location: `${D}/out-docker/Dockerfile` } },
        "ignore-link": { context: `${D}/link` },
    };
}

function program(gitUrl: string, override: Partial<Images> = {}) {
    return async () => {
        const builder = emulatingBuilder(BUILDER, BUILDKITD);
        const out: Record<string, pulumi.Output<unknown>> = {};
        const built: Record<string, MultiArchImage> = {};
        for (const [name, args] of Object.entries({ ...images(gitUrl), ...override })) {
            built[name] = new MultiArchImage(name, {
                ...args!,
                platforms: PLATFORMS,
                tags: [`${REG}/e2e/contexts-${name}:1.0`],
                builder,
            });
        }
        // bake's target: links two targets of one run; here one image builds on another's pushed ref.
        if (!Object.keys(override).length) {
            built["on-other"] = new MultiArchImage("on-other", {
                context: {
                    location: `${D}/img`,
                    named: { dep: { location: pulumi.interpolate`docker-image://${built.inline.ref}` } },
                },
                dockerfile: { inline: "FROM dep\nCOPY note.txt /note.txt\n" },
                platforms: PLATFORMS,
                tags: [`${REG}/e2e/contexts-on-other:1.0`],
                builder,
            });
        }
        for (const [name, img] of Object.entries(built)) {
            out[name] = pulumi
                .all([img.ref, img.platformDigests, img.verification, img.buildReason])
                .apply(([ref, platformDigests, verification, reason]) => ({
                    ref,
                    platformDigests,
                    verification,
                    reason,
                }));
        }
        return out;
    };
}

interface Built {
    ref: string;
    platformDigests: Record<string, string>;
    verification: Record<string, string>;
    reason: string[];
}

/** The Image resources' inputs in the state, by image name. */
async function imageState(s: Stack): Promise<Record<string, any>> {
    const resources = (await s.exportStack()).deployment.resources.filter(
        (r: any) => r.type === "multiarch:index:Image",
    );
    return Object.fromEntries(
        resources.map((r: any) => [
            String(r.urn)
                .split("::")
                .pop()!
                .replace(/-image$/, ""),
            r.inputs,
        ]),
    );
}

const filesOf = (name: string, b: Built) => imageFiles(REG, `e2e/contexts-${name}`, b.platformDigests["linux/arm64"]);

describe("MultiArchImage contexts and Dockerfiles (named contexts, Git, inline, outside, symlinked .dockerignore)", function () {
    this.timeout(6 * 60_000);
    let git: GitServer;
    let s: Stack;
    let first: Record<string, Built>;
    let commit1: string;
    let base1: string;
    const output: string[] = [];

    before(async () => {
        requireRealParts();
        fs.rmSync(D, { recursive: true, force: true });
        write({
            "main/Dockerfile": "FROM scratch\nCOPY main.txt /\nCOPY --from=shared . /shared/\n",
            "main/main.txt": "main\n",
            "shared/keep.txt": "keep\n",
            "shared/drop.txt": "drop\n",
            "shared/.dockerignore": "drop.txt\n",
            "img/Dockerfile": "FROM base\nCOPY note.txt /note.txt\n",
            "img/note.txt": "note\n",
            "img/Dockerfile.layout": "FROM scratch\nCOPY --from=lay /from-layout.txt /\n",
            "inl/hello.txt": "hello\n",
            "out-ctx/a.txt": "a\n",
            "out-ctx/secret.txt": "secret\n",
            "out-docker/Dockerfile": "FROM scratch\nCOPY . /\n",
            "out-docker/Dockerfile.dockerignore": "secret.txt\n",
            "link/Dockerfile": "FROM scratch\nCOPY . /\n",
            "link/a.txt": "a\n",
            "link/big.txt": "big\n",
            "shared.dockerignore": "big.txt\n",
        });
        // Monorepos share ignore files this way; BuildKit does not follow it out of the context.
        fs.symlinkSync("../shared.dockerignore", path.join(D, "link/.dockerignore"));
        writeOciLayout(path.join(D, "layout"), "v1", { "from-layout.txt": "layout 1\n" }, PLATFORMS);
        base1 = await copyIndex(REG, "fixtures/busybox", "latest", BASE, "1");
        git = await startGitServer();
        git.createRepo("app");
        commit1 = git.commit("app", {
            "app/Dockerfile": "FROM scratch\nCOPY hello.txt /\nCOPY --from=tools tool.txt /\n",
            "app/hello.txt": "from git 1\n",
            "tools/tool.txt": "a named Git context\n",
            README: "not in the context\n",
        });
        s = await inlineStack("e2e-contexts", program(git.url));
    });
    after(async () => {
        await dispose(s);
        await git?.stop();
        fs.rmSync(D, { recursive: true, force: true });
    });

    it("up builds each image from its sources, as BuildKit sends them, verified for both platforms", async () => {
        first = (await s.up({ onOutput: (l) => output.push(l) })).outputs as any;
        first = Object.fromEntries(Object.entries(first).map(([k, v]: [string, any]) => [k, v.value]));
        for (const [name, b] of Object.entries(first)) {
            for (const p of PLATFORMS)
                assert.match(b.verification[p], /^ok: config /, `${name} ${p}: ${b.verification[p]}`);
        }
        assert.deepStrictEqual(await filesOf("named-local", first["named-local"]), [
            "main.txt",
            "shared/",
            "shared/.dockerignore",
            "shared/keep.txt",
        ]);
        assert.deepStrictEqual(await filesOf("named-layout", first["named-layout"]), ["from-layout.txt"]);
        assert.deepStrictEqual(await filesOf("git", first.git), ["hello.txt", "tool.txt"]);
        assert.deepStrictEqual(await filesOf("inline", first.inline), ["hello.txt"]);
        assert.deepStrictEqual(
            await filesOf("outside", first.outside),
            ["a.txt"],
            "Dockerfile.dockerignore beside the outside Dockerfile applies",
        );
        assert.deepStrictEqual(
            await filesOf("ignore-link", first["ignore-link"]),
            [".dockerignore", "Dockerfile", "a.txt", "big.txt"],
            "BuildKit does not follow a .dockerignore symlinked out of the context: every file is sent",
        );
        const onBusybox = await filesOf("named-image", first["named-image"]);
        assert.ok(
            onBusybox.includes("bin/busybox") && onBusybox.includes("note.txt"),
            "FROM base is the docker-image context (busybox)",
        );
        const onOther = await filesOf("on-other", first["on-other"]);
        assert.deepStrictEqual(onOther, ["hello.txt", "note.txt"], "FROM dep is the inline image's pushed ref");
        assert.match(
            output.join(""),
            /link\/\.dockerignore is a symlink to \S+shared\.dockerignore, outside \S+link: BuildKit receives only what is inside that folder, so it does not use this ignore file \(it sends every file\)/,
        );

        const state = await imageState(s);
        assert.strictEqual(
            state["named-image"].namedContexts.base,
            `docker-image://${REG}/${BASE}:1@${base1}`,
            "the tag is pinned at preview",
        );
        assert.match(state["named-layout"].namedContexts.lay, /^oci-layout:\/\/.*\/layout:v1@sha256:[0-9a-f]{64}$/);
        assert.strictEqual(state.git.contextCommit, commit1);
        assert.strictEqual(state.git.namedContexts.tools, `${git.url}/app.git?checksum=${commit1}#main:tools`);
        assert.deepStrictEqual(Object.keys(state["named-local"].namedContextFiles.shared).sort(), [
            ".dockerignore",
            "keep.txt",
        ]);
        assert.ok("big.txt" in state["ignore-link"].contextFiles);
        assert.ok(!("secret.txt" in state.outside.contextFiles));
        assert.strictEqual(state.inline.dockerfileInline, "FROM scratch\nCOPY hello.txt /\n");
    });

    it("a second up changes nothing (the Git ref, the tag and the layout resolve to the same pins)", async () => {
        const res = await s.up({ onOutput: () => {} });
        assert.deepStrictEqual(Object.keys(res.summary.resourceChanges ?? {}), ["same"]);
    });

    it("preview --diff names what moved (a tag, a commit, a layout, files sent); ignored files move nothing; up rebuilds exactly those", async () => {
        const base2 = await copyIndex(REG, "fixtures/busybox", "latest", BASE, "1", { "e2e.moved": "yes" }); // republished upstream
        const commit2 = git.commit("app", { "app/hello.txt": "from git 2\n" });
        writeOciLayout(path.join(D, "layout"), "v1", { "from-layout.txt": "layout 2\n" }, PLATFORMS);
        write({
            "shared/keep.txt": "keep 2\n",
            "shared/drop.txt": "drop 2\n", // sent / ignored by shared/.dockerignore
            "link/big.txt": "big 2\n",
            "shared.dockerignore": "big.txt\na.txt\n", // sent / an ignore file BuildKit never reads
            "out-ctx/secret.txt": "secret 2\n", // ignored by Dockerfile.dockerignore
        });
        const preview = await s.preview({ diff: true });
        const text = preview.stdout;
        assert.match(
            text,
            new RegExp(
                `~ base\\s*: "docker-image://${REG}/${BASE}:1@${base1}" => "docker-image://${REG}/${BASE}:1@${base2}"`,
            ),
        );
        assert.match(text, new RegExp(`~ contextCommit\\s*: "${commit1}" => "${commit2}"`));
        assert.match(
            text,
            /~ lay\s*: "oci-layout:\/\/\S+:v1@sha256:[0-9a-f]+" => "oci-layout:\/\/\S+:v1@sha256:[0-9a-f]+"/,
        );
        assert.match(text, /~ keep\.txt\s*: "sha256:[0-9a-f]+ 0644" => "sha256:[0-9a-f]+ 0644"/);
        assert.match(text, /~ big\.txt\s*: "sha256:[0-9a-f]+ 0644" => "sha256:[0-9a-f]+ 0644"/);
        assert.doesNotMatch(text, /drop\.txt|secret\.txt/);
        assert.strictEqual(preview.changeSummary.update, 5, text);

        const second = Object.fromEntries(
            Object.entries((await s.up({ onOutput: () => {} })).outputs).map(([k, v]) => [k, v.value as Built]),
        );
        const reasons = Object.fromEntries(Object.entries(second).map(([k, v]) => [k, v.reason]));
        assert.deepStrictEqual(reasons, {
            "named-local": ["contextDigest"],
            "named-image": ["namedContexts.base"],
            "named-layout": ["namedContexts.lay"],
            git: ["contextCommit", "namedContexts.tools"],
            "ignore-link": ["contextDigest"],
            inline: ["create"],
            outside: ["create"],
            "on-other": ["create"],
        });
        assert.deepStrictEqual(await filesOf("git", second.git), ["hello.txt", "tool.txt"]);
        assert.notStrictEqual(second.git.ref, first.git.ref);
    });

    it("refresh finds the images as they are; destroy removes the builder", async () => {
        const refreshed = await s.refresh({ onOutput: () => {} });
        assert.deepStrictEqual(Object.keys(refreshed.summary.resourceChanges ?? {}), ["same"]);
        const again = await s.preview({});
        assert.deepStrictEqual(Object.keys(again.changeSummary), ["same"]);
        await s.destroy({ onOutput: () => {} });
        assert.ok(builderGone(BUILDER));
        assert.strictEqual((await manifest(REG, "e2e/contexts-git", "1.0")).status, 200, "pushed images are kept");
    });

    it("remote sources that resolve to nothing fail the preview, naming the property: a Git ref, an image tag, a folder that is no OCI layout", async () => {
        // One image with all three: its check reports every problem at once (a preview stops at the first resource that fails).
        s.workspace.program = program(git.url, {
            git: {
                context: {
                    location: `${git.url}/app.git#no-such-branch:app`,
                    named: {
                        base: { location: `docker-image://${REG}/${BASE}:no-such-tag` },
                        lay: { location: `oci-layout://${D}/img` },
                    },
                },
            },
        });
        const text = await failure(() => s.preview({}));
        const problem = (property: string) => `property ${property} value [^\\n]*? has a problem: `;
        assert.match(
            text,
            new RegExp(
                `${problem("context")}the Git context cannot be resolved at preview: git ls-remote http://127\\.0\\.0\\.1:\\d+/app\\.git: the repository has no branch or tag "no-such-branch"`,
            ),
        );
        assert.match(
            text,
            new RegExp(
                `${problem("namedContexts")}context\\.named\\.base\\.location: docker-image://${REG}/${BASE}:no-such-tag cannot be resolved at preview: ${REG}/${BASE}:no-such-tag is not in its registry`,
            ),
        );
        assert.match(
            text,
            new RegExp(
                `${problem("namedContexts")}context\\.named\\.lay\\.location: oci-layout://\\S+ cannot be resolved at preview: \\S+img/index\\.json cannot be read as an OCI layout's index`,
            ),
        );
    });
});
