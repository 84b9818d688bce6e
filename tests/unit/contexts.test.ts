// Contexts and Dockerfiles without the engine: Git URLs read as BuildKit reads them and
// `git ls-remote` output (captured from git http-backend) resolved by its rules; named-context
// locations classified and pinned; ignore files followed only inside their folder; the digest
// of named contexts and inline Dockerfiles; bad input refused with the property path; the argv.
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { createImageInputs, type MultiArchImageArgs } from "../../components/multiArchImage";
import { classify, nameProblem, ociLayoutDigest, parseOciLayout, pin } from "../../core/buildContexts";
import { buildArgs, checkArgs } from "../../core/buildx";
import { chooseIgnoreFile, fileInside, hashContext, hashSources } from "../../core/context";
import * as git from "../../core/git";
import { imageProvider } from "../../provider/resources/image";
import { UNKNOWN } from "../../provider/wire";
import { writeOciLayout } from "../support/ociLayout";

const FIXTURES = path.join(__dirname, "..", "fixtures");
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");

function tree(files: Record<string, string | { link: string }>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-contexts-"));
    for (const [f, c] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        if (typeof c === "string") fs.writeFileSync(path.join(dir, f), c);
        else fs.symlinkSync(c.link.replace("@DIR@", dir), path.join(dir, f));
    }
    return dir;
}

describe("Git contexts, as BuildKit reads them", () => {
    it("tells Git URLs from other locations, and reads the fragment and the query", () => {
        const cases: [string, Partial<git.GitContext> | undefined][] = [
            [
                "https://h.example/r.git#main:app/sub",
                { remote: "https://h.example/r.git", ref: "main", subdir: "app/sub" },
            ],
            ["http://127.0.0.1:8080/app.git", { remote: "http://127.0.0.1:8080/app.git" }],
            ["https://h.example/r.git?ref=v1&subdir=x", { ref: "v1", subdir: "x" }],
            ["https://h.example/r.git?tag=v1", { ref: "refs/tags/v1" }],
            ["https://h.example/r.git?branch=dev&checksum=abc123", { ref: "refs/heads/dev", checksum: "abc123" }],
            [
                "git@github.com:moby/buildkit.git#v0.34.2",
                { remote: "git@github.com:moby/buildkit.git", ref: "v0.34.2" },
            ],
            ["ssh://git@h.example/r.git#main", { remote: "ssh://git@h.example/r.git", ref: "main" }],
            ["git://h.example/r.git#:/sub/../dir", { subdir: "dir" }],
            ["https://h.example/archive.tar.gz", undefined],
            ["./app", undefined],
            ["app", undefined],
            ["docker-image://alpine", undefined],
        ];
        for (const [location, want] of cases) {
            const got = git.parseGitContext(location);
            if (want === undefined) assert.strictEqual(got, undefined, location);
            else
                for (const [k, v] of Object.entries(want))
                    assert.strictEqual((got as any)?.[k], v, `${location}: ${k}`);
        }
    });

    it("refuses the queries BuildKit refuses", () => {
        assert.throws(() => git.parseGitContext("https://h/r.git?nope=1"), /unexpected query "nope"/);
        assert.throws(() => git.parseGitContext("https://h/r.git?ref=a#b"), /ref conflicts: "b" vs "a"/);
        assert.throws(() => git.parseGitContext("https://h/r.git?tag=a&branch=b"), /conflicts/);
        assert.throws(() => git.parseGitContext("https://h/r.git?checksum=xyz"), /invalid checksum xyz/);
        assert.throws(() => git.parseGitContext("https://h/r.git?ref="), /query "ref" has no value/);
    });

    it("resolves refs in real `git ls-remote` output as BuildKit does: a branch before a tag, an annotated tag peeled", () => {
        const all = fixture("git-ls-remote.txt");
        const line = (ref: string) =>
            all
                .split("\n")
                .find((l) => l.endsWith(`\t${ref}`))!
                .split("\t")[0];
        assert.deepStrictEqual(git.parseLsRemote(all, "main"), {
            commit: line("refs/heads/main"),
            ref: "refs/heads/main",
        });
        assert.deepStrictEqual(git.parseLsRemote(all, "dup"), {
            commit: line("refs/heads/dup"),
            ref: "refs/heads/dup",
        });
        assert.deepStrictEqual(git.parseLsRemote(all, "refs/tags/dup"), {
            commit: line("refs/tags/dup"),
            ref: "refs/tags/dup",
        });
        assert.deepStrictEqual(git.parseLsRemote(fixture("git-ls-remote-annotated-tag.txt"), "v1"), {
            commit: line("refs/tags/v1^{}"),
            ref: "refs/tags/v1",
        });
        assert.strictEqual(git.parseLsRemote(all, "no-such"), undefined);
        assert.strictEqual(git.parseDefaultBranch(fixture("git-ls-remote-symref-head.txt")), "refs/heads/main");
    });

    it("pins a location to a commit with checksum=, keeping its ref, subdir and other queries", () => {
        const c = "a".repeat(40);
        assert.strictEqual(
            git.pinnedLocation(git.parseGitContext("https://h/r.git#main:app")!, c),
            `https://h/r.git?checksum=${c}#main:app`,
        );
        assert.strictEqual(
            git.pinnedLocation(git.parseGitContext("https://h/r.git?subdir=x&checksum=aa#dev")!, c),
            `https://h/r.git?subdir=x&checksum=${c}#dev`,
        );
        assert.strictEqual(
            git.pinnedLocation(git.parseGitContext("git@h:r.git#main")!, c),
            `git@h:r.git?checksum=${c}#main`,
        );
    });

    it("needs no lookup for a ref that is a commit, and refuses one that is not the checksum given", async () => {
        const c = "b".repeat(40);
        assert.strictEqual(await git.resolveCommit(git.parseGitContext(`http://127.0.0.1:1/x.git#${c}`)!), c);
        await assert.rejects(
            git.resolveCommit(git.parseGitContext(`http://127.0.0.1:1/x.git?checksum=cc#${c}`)!),
            /is not the checksum cc/,
        );
    });
});

describe("named contexts", () => {
    it("classifies locations as buildx does and refuses what it cannot build, with the fix", () => {
        assert.deepStrictEqual(classify("./shared"), { kind: "local" });
        assert.deepStrictEqual(classify("docker-image://127.0.0.1:5000/fixtures/busybox:latest"), {
            kind: "docker-image",
        });
        assert.deepStrictEqual(classify("oci-layout:///tmp/l:v1"), { kind: "oci-layout" });
        assert.deepStrictEqual(classify("https://h/r.git#main"), { kind: "git" });
        assert.match(
            classify("target:base").problem!,
            /target: links two targets of one `docker buildx bake` run.*docker-image:\/\/\$\{image\.ref\}/,
        );
        assert.match(
            classify("https://h/ctx.tar.gz").problem!,
            /not a Git repository \(an https URL must end in \.git\)/,
        );
        assert.match(classify("s3://bucket/x").problem!, /unknown scheme/);
        assert.match(classify("docker-image://Bad Ref").problem!, /is not an image reference/);
        assert.match(classify("https://h/r.git?bad=1").problem!, /unexpected query "bad"/);
    });

    it("accepts the names FROM and COPY --from take", () => {
        for (const ok of ["base", "alpine:3.20", "docker.io/library/alpine", "my-ctx", "a_b.c"])
            assert.strictEqual(nameProblem(ok), undefined, ok);
        for (const bad of ["Base", "with space", "a=b", ""])
            assert.match(nameProblem(bad)!, /is not a context name BuildKit accepts/, bad);
    });

    it("reads oci-layout:// as buildx's ocilayout.Parse, and its tag as buildx resolves it", () => {
        const d = `sha256:${"c".repeat(64)}`;
        assert.deepStrictEqual(parseOciLayout("oci-layout://./l"), { path: "./l", tag: "latest" });
        assert.deepStrictEqual(parseOciLayout("oci-layout://./l:v1"), { path: "./l", tag: "v1" });
        assert.deepStrictEqual(parseOciLayout(`oci-layout://./l@${d}`), { path: "./l", digest: d });
        assert.deepStrictEqual(parseOciLayout(`oci-layout://./l:v1@${d}`), { path: "./l", tag: "v1", digest: d });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-layout-"));
        const digest = writeOciLayout(dir, "v1", { "a.txt": "a\n" }, ["linux/amd64"]);
        assert.strictEqual(ociLayoutDigest(dir, "v1"), digest);
        assert.strictEqual(
            ociLayoutDigest(dir, "other"),
            digest,
            "the only image, whatever the tag (buildx's GetSingle)",
        );
        assert.throws(
            () => ociLayoutDigest(path.join(dir, "blobs"), "v1"),
            /index\.json cannot be read as an OCI layout's index/,
        );
    });

    it("pins without the network what needs none: a local folder, a pinned image, an OCI layout", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-layout-"));
        const digest = writeOciLayout(dir, "v1", { "a.txt": "a\n" }, ["linux/amd64"]);
        assert.strictEqual(await pin("./shared"), "./shared");
        const pinned = `docker-image://r.example/x:1@sha256:${"d".repeat(64)}`;
        assert.strictEqual(await pin(pinned), pinned);
        assert.strictEqual(await pin(`oci-layout://${dir}:v1`), `oci-layout://${dir}:v1@${digest}`);
    });

    it("the image's check pins the sources into its inputs and names each one it cannot resolve", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-layout-"));
        const digest = writeOciLayout(dir, "v1", { "a.txt": "a\n" }, ["linux/amd64"]);
        const commit = "e".repeat(40);
        const news: any = {
            context: `http://127.0.0.1:1/app.git#${commit}:sub`,
            tags: ["127.0.0.1:1/x:1"],
            push: false,
            builder: "b",
            platforms: ["linux/amd64"],
            namedContexts: { lay: `oci-layout://${dir}:v1`, later: UNKNOWN, bad: `oci-layout://${dir}/blobs` },
        };
        const r = await imageProvider.check({} as any, news);
        assert.strictEqual(r.inputs.contextCommit, commit);
        assert.deepStrictEqual(r.inputs.namedContexts, {
            lay: `oci-layout://${dir}:v1@${digest}`,
            later: UNKNOWN,
            bad: `oci-layout://${dir}/blobs`,
        });
        assert.deepStrictEqual(
            r.failures!.map((f) => f.property),
            ["namedContexts"],
        );
        assert.match(
            r.failures![0].reason,
            /^context\.named\.bad\.location: oci-layout:\/\/\S+ cannot be resolved at preview: \S+index\.json cannot be read/,
        );
    });
});

describe("ignore files and the digest of named contexts and inline Dockerfiles", () => {
    it("follows an ignore file's symlink only inside its folder, as BuildKit receives it", () => {
        const d = tree({
            "ctx/a": "x",
            "ctx/conf/ign": "a\n",
            "ctx/sub/x": "",
            "outside.ign": "a\n",
            "ctx/lnk": { link: "conf" },
        });
        const ctx = path.join(d, "ctx");
        assert.strictEqual(fileInside(ctx, "conf/ign"), path.join(ctx, "conf/ign"));
        assert.strictEqual(fileInside(ctx, "lnk/ign"), path.join(ctx, "conf/ign"));
        assert.strictEqual(fileInside(ctx, "conf"), undefined, "a folder is no ignore file");
        fs.symlinkSync("../outside.ign", path.join(ctx, ".dockerignore"));
        assert.strictEqual(fileInside(ctx, ".dockerignore"), undefined, "../ stops at the folder");
        fs.rmSync(path.join(ctx, ".dockerignore"));
        fs.symlinkSync("/conf/ign", path.join(ctx, ".dockerignore"));
        assert.strictEqual(fileInside(ctx, ".dockerignore"), path.join(ctx, "conf/ign"), "/ is the folder");
        fs.rmSync(path.join(ctx, ".dockerignore"));
        fs.symlinkSync(".dockerignore", path.join(ctx, ".dockerignore"));
        assert.strictEqual(fileInside(ctx, ".dockerignore"), undefined, "a loop");
    });

    it("a .dockerignore symlinked out of the context is not applied, and says so with the fix", () => {
        const d = tree({
            "ctx/a": "x",
            "ctx/b": "y",
            "shared.ign": "b\n",
            "ctx/.dockerignore": { link: "../shared.ign" },
        });
        const digest = hashContext(path.join(d, "ctx"));
        assert.ok("b" in digest.files, "every file is sent, as BuildKit sends it");
        assert.strictEqual(digest.ignoreFile, undefined);
        assert.deepStrictEqual(digest.unusedIgnoreFiles, [
            `${d}/ctx/.dockerignore is a symlink to ${fs.realpathSync(d)}/shared.ign, outside ${d}/ctx: BuildKit receives only what is inside that folder, ` +
                "so it does not use this ignore file (it sends every file); copy the file into the folder, or hard-link it, to have it applied",
        ]);
        // A Dockerfile.dockerignore symlinked to the context's own .dockerignore: the same file applies either way, no warning.
        const e = tree({
            "ctx/a": "x",
            "ctx/b": "y",
            "ctx/.dockerignore": "b\n",
            "ctx/docker/Dockerfile": "FROM scratch\n",
            "ctx/docker/Dockerfile.dockerignore": { link: "../.dockerignore" },
        });
        const c = chooseIgnoreFile(path.join(e, "ctx"), path.join(e, "ctx/docker/Dockerfile"));
        assert.deepStrictEqual([c.name, c.unused], [path.join(e, "ctx/.dockerignore"), []]);
    });

    it("keeps the digest of a context and its Dockerfile as 0.2 computed it (stacks do not rebuild on upgrade)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-stable-"));
        const w = (f: string, c: string, m = 0o644) => {
            fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
            fs.writeFileSync(path.join(dir, f), c);
            fs.chmodSync(path.join(dir, f), m);
        };
        w("Dockerfile", "FROM scratch\nCOPY . /\n");
        w("main.go", "package main\n");
        w("run.sh", "#!/bin/sh\n", 0o755);
        w("build/out", "x\n");
        w(".dockerignore", "build\n");
        fs.symlinkSync("main.go", path.join(dir, "link"));
        fs.chmodSync(path.join(dir, "build"), 0o755);
        // Computed by 0.2.0's hashContext (main at deb94c5) on this very tree.
        assert.strictEqual(
            hashContext(dir, path.join(dir, "Dockerfile")).digest,
            "sha256:8219737a29f968123f9d4f5043e5fa0a360d2de0e7f82a8edd9f11ff9b0f2f43",
        );
        assert.strictEqual(
            hashSources({ context: dir, dockerfile: { inline: "FROM scratch\nCOPY . /\n" } }).digest,
            hashSources({ context: dir, dockerfile: path.join(dir, "Dockerfile") }).digest,
            "the same text inline or in a file is the same build",
        );
    });

    it("hashes each local named context with its own .dockerignore only, into the one digest", () => {
        const d = tree({
            "main/Dockerfile": "FROM scratch\n",
            "main/Dockerfile.dockerignore": "keep.txt\n",
            "shared/keep.txt": "k",
            "shared/drop.txt": "d",
            "shared/.dockerignore": "drop.txt\n",
        });
        const sources = {
            context: path.join(d, "main"),
            dockerfile: path.join(d, "main/Dockerfile"),
            named: { shared: path.join(d, "shared") },
        };
        const s = hashSources(sources);
        assert.deepStrictEqual(
            Object.keys(s.named!.shared).sort(),
            [".dockerignore", "keep.txt"],
            "the Dockerfile's ignore file is not the named context's",
        );
        const before = s.digest;
        fs.writeFileSync(path.join(d, "shared/drop.txt"), "changed");
        assert.strictEqual(hashSources(sources).digest, before);
        fs.writeFileSync(path.join(d, "shared/keep.txt"), "changed");
        assert.notStrictEqual(hashSources(sources).digest, before);
        assert.deepStrictEqual(hashSources({ dockerfile: { inline: "FROM scratch\n" } }).files, {
            "<Dockerfile>": `sha256:${require("crypto").createHash("sha256").update("FROM scratch\n").digest("hex")}`,
        });
    });
});

describe("MultiArchImage's context and dockerfile args", () => {
    const builder = {} as any; // createImageInputs reads every arg but the builder
    const base = { platforms: ["linux/amd64"], tags: ["r.example/x:1"], builder };
    const pathsOf = (e: any) => (e as pulumi.InputPropertiesError).errors.map((x) => `${x.propertyPath}: ${x.reason}`);
    const refused = (args: Partial<MultiArchImageArgs>): string[] => {
        try {
            createImageInputs({ ...base, ...args } as MultiArchImageArgs);
        } catch (e) {
            assert.ok(pulumi.InputPropertiesError.isInstance(e), String(e));
            return pathsOf(e);
        }
        throw new Error("expected a refusal");
    };
    const d = tree({ "app/Dockerfile": "FROM scratch\n", "app/a.txt": "a", "shared/s.txt": "s" });
    const app = path.join(d, "app");

    it("refuses each bad field at preview with its property path and the fix", () => {
        assert.deepStrictEqual(refused({ context: app, platforms: [] }), [
            'platforms: give at least one platform, e.g. ["linux/amd64", "linux/arm64"]',
        ]);
        assert.deepStrictEqual(refused({ context: { location: "" } }), [
            'context.location: give the build context: a folder relative to the program (e.g. "./app") or a Git URL (https://host/repo.git#main)',
        ]);
        assert.match(
            refused({ context: { location: path.join(d, "nope") } })[0],
            /^context\.location: ".*nope" is not a directory/,
        );
        assert.match(
            refused({ context: "docker-image://alpine" })[0],
            /^context: "docker-image:\/\/alpine": the build context is a folder or a Git URL; docker-image:\/\/ and oci-layout:\/\/ are for named contexts/,
        );
        assert.match(refused({ context: "https://h.example/ctx.tar.gz" })[0], /^context: .*not a Git repository/);
        assert.match(
            refused({ context: "https://h.example/r.git?nope=1" })[0],
            /^context: .*unexpected query "nope".*fix the Git URL/,
        );
        assert.deepStrictEqual(
            refused({ context: app, dockerfile: { location: path.join(app, "Dockerfile"), inline: "FROM scratch\n" } }),
            ["dockerfile: give dockerfile.location or dockerfile.inline, not both"],
        );
        assert.deepStrictEqual(refused({ context: app, dockerfile: { inline: " \n" } }), [
            "dockerfile.inline: the inline Dockerfile is empty: give its text, or a location",
        ]);
        assert.match(
            refused({ context: app, dockerfile: { location: path.join(d, "nope/Dockerfile") } })[0],
            /^dockerfile\.location: ".*nope\/Dockerfile" does not exist/,
        );
        assert.match(
            refused({ context: app, dockerfile: "https://h.example/Dockerfile" })[0],
            /^dockerfile: "https:\/\/h\.example\/Dockerfile": a Dockerfile by URL is not supported .*dockerfile\.inline/,
        );
        const named = (n: Record<string, string>) =>
            refused({
                context: {
                    location: app,
                    named: Object.fromEntries(Object.entries(n).map(([k, v]) => [k, { location: v }])),
                },
            });
        assert.match(named({ Bad: "./x" })[0], /^context\.named\.Bad: "Bad" is not a context name BuildKit accepts/);
        assert.match(
            named({ s: path.join(d, "nope") })[0],
            /^context\.named\.s\.location: ".*nope" is not a directory/,
        );
        assert.match(named({ s: "" })[0], /^context\.named\.s\.location: give the context's location/);
        assert.match(
            named({ s: "target:build" })[0],
            /^context\.named\.s\.location: "target:build": buildx's target: links two targets/,
        );
        assert.match(
            named({ s: "oci-layout://" + path.join(d, "nope") })[0],
            /^context\.named\.s\.location: ".*" names no folder/,
        );
        assert.match(
            named({ s: "https://h.example/ctx.tar.gz" })[0],
            /^context\.named\.s\.location: .*remote tarballs and files are not supported/,
        );
    });

    it("takes docker-build's shapes and today's strings alike", async () => {
        const value = (i: pulumi.Inputs, k: string) => new Promise((r) => (i[k] as pulumi.Output<unknown>).apply(r));
        const strings = createImageInputs({ ...base, context: app, dockerfile: path.join(app, "Dockerfile") });
        const objects = createImageInputs({
            ...base,
            context: { location: app },
            dockerfile: { location: path.join(app, "Dockerfile") },
        });
        assert.strictEqual(await value(strings, "contextDigest"), await value(objects, "contextDigest"));
        assert.strictEqual(
            await value(objects, "namedContexts"),
            undefined,
            "no named contexts: no new input, so 0.2 stacks see no change",
        );
        const named = createImageInputs({
            ...base,
            context: {
                location: app,
                named: {
                    z: { location: "docker-image://r.example/b:1" },
                    shared: { location: path.join(d, "shared") },
                },
            },
            dockerfile: { inline: "FROM z\n" },
        });
        assert.deepStrictEqual(
            Object.keys((await value(named, "namedContexts")) as object),
            ["shared", "z"],
            "sorted: the same contexts in another order are no change",
        );
        assert.deepStrictEqual(Object.keys(((await value(named, "namedContextFiles")) as any).shared), ["s.txt"]);
        assert.strictEqual(await value(named, "dockerfileInline"), "FROM z\n");
        assert.strictEqual(await value(named, "dockerfile"), undefined);
        const fromGit = createImageInputs({ ...base, context: "https://h.example/r.git#main:app" });
        assert.strictEqual(
            await value(fromGit, "dockerfile"),
            undefined,
            "the repository's Dockerfile: nothing local to read",
        );
        assert.deepStrictEqual(await value(fromGit, "contextFiles"), {});
    });

    it("hands buildx the Dockerfile's text on stdin and each named context, sorted", () => {
        const o = {
            builder: "b",
            context: "https://h/r.git?checksum=aa#main",
            platforms: ["linux/amd64"],
            buildArgs: {},
            dockerfileInline: "FROM scratch\n",
            namedContexts: { z: "./z", a: "docker-image://r/x:1@sha256:ab" },
        };
        const { args } = buildArgs(o, "/m");
        assert.deepStrictEqual(args.slice(4, 10), [
            "--platform",
            "linux/amd64",
            "--file",
            "-",
            "--build-context",
            "a=docker-image://r/x:1@sha256:ab",
        ]);
        assert.ok(args.includes("z=./z") && args[args.length - 1] === "https://h/r.git?checksum=aa#main");
        const { args: repoDockerfile } = buildArgs(
            { ...o, dockerfileInline: undefined, namedContexts: undefined },
            "/m",
        );
        assert.ok(!repoDockerfile.includes("--file"), "a Git context's own Dockerfile: no --file");
        assert.deepStrictEqual(
            checkArgs({
                builder: "b",
                context: ".",
                platform: "linux/amd64",
                buildArgs: {},
                dockerfileInline: "FROM x\n",
                namedContexts: { x: "./x" },
            }).slice(6),
            ["--platform", "linux/amd64", "--file", "-", "--build-context", "x=./x", "."],
        );
    });
});
