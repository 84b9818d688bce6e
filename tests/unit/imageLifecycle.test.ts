// The image's lifecycle (provider/resources/image.ts: create, update, read, diff) against
// in-process registries (tests/support/fakeRegistry.ts), with a fake buildx in the exec seam
// (tests/support/fakeBuildx.ts) that pushes real image content by digest: the manifest mode
// per registry, verification before any tag moves, the tags moved all or none over every
// registry, the outputs, and the diff rules on a state a create wrote. The tag move alone is
// proven in tagMoves.test.ts; what needs the real BuildKit, dockerd and engine is in tests/e2e.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { IMAGE_FIELDS, REBUILD_FIELDS } from "../../contract/imageFields";
import type { ImageInputs, ImageOutputs } from "../../contract/types";
import { replaceRunner } from "../../core/exec";
import { changedKeys, imageProvider } from "../../provider/resources/image";
import { FakeBuildx, type FakeBuildxOptions } from "../support/fakeBuildx";
import { type FakeOptions, FakeRegistry, seedImage, sha256 } from "../support/fakeRegistry";
import { imageInputs } from "../support/imageInputs";

const INDEX = "application/vnd.oci.image.index.v1+json";
const PLATFORMS = ["linux/amd64", "linux/arm64"];

/** An image's inputs as the component's check leaves them: two platforms, pushed to `tags`, verified. */
function inputsFor(tags: string[], over: Partial<ImageInputs> = {}): ImageInputs {
    return imageInputs({
        context: "/pm-unit-lifecycle/app", // the fake buildx reads no context
        dockerfileInline: "FROM scratch\nCOPY hello /hello\n",
        platforms: PLATFORMS,
        tags,
        builder: `pm-unit-lifecycle-${process.pid}`,
        buildArgs: { V: "1" },
        load: false,
        exports: [],
        contextDigest: `sha256:${"c".repeat(64)}`,
        contextFiles: { hello: "file" },
        ...over,
    });
}

// The lifecycle's answers, typed (the plugin's dispatch takes plain values).
const create = async (i: ImageInputs) => (await imageProvider.create(i)) as { id: string; outs: ImageOutputs };
const update = async (olds: ImageOutputs, news: ImageInputs) =>
    ((await imageProvider.update("id", olds, news)) as { outs: ImageOutputs }).outs;
const read = async (props: ImageOutputs) => ((await imageProvider.read("id", props)) as { props: ImageOutputs }).props;
const diff = async (olds: ImageOutputs, news: ImageInputs) =>
    ((await imageProvider.diff("id", olds, news)) as { changes: boolean }).changes;

/** The index's platform -> manifest digest, as stored under `tag` of `repo`. */
function indexAt(r: FakeRegistry, repo: string, tag: string): Record<string, string> {
    const body = JSON.parse(r.manifest(repo, tag)!.raw.toString("utf8")) as {
        manifests: { digest: string; platform: { os: string; architecture: string } }[];
    };
    return Object.fromEntries(body.manifests.map((m) => [`${m.platform.os}/${m.platform.architecture}`, m.digest]));
}

/**
 * `tag` of `repo` on an earlier build (another image), as a previous `up` left it: on its
 * index, or, for a per-arch tag, on its `platform` manifest.
 */
function previousBuild(r: FakeRegistry, repo: string, tag: string, platform?: string): string {
    const old = seedImage(r, repo, 64, `previous-${tag}`);
    const digest = platform ? old.platforms[platform] : old.digest;
    const stored = r.manifest(repo, digest)!;
    r.putManifestDirect(repo, tag, stored.mediaType, stored.raw);
    return digest;
}

const puts = (r: FakeRegistry) => r.requests().filter((l) => l.startsWith("PUT "));

describe("the image lifecycle against in-process registries (a fake buildx in the exec seam)", () => {
    let registries: FakeRegistry[] = [];
    let restoreRunner: (() => void) | undefined;
    let logged: string[] = [];
    const consoleLog = console.log;
    const dockerConfig = process.env.DOCKER_CONFIG;

    before(() => {
        // No login of the user's docker config or credential helper reaches these registries.
        process.env.DOCKER_CONFIG = fs.mkdtempSync(path.join(os.tmpdir(), "pm-lifecycle-docker-"));
    });
    after(() => {
        fs.rmSync(process.env.DOCKER_CONFIG!, { recursive: true, force: true });
        if (dockerConfig === undefined) delete process.env.DOCKER_CONFIG;
        else process.env.DOCKER_CONFIG = dockerConfig;
    });
    beforeEach(() => {
        logged = [];
        console.log = (...a: unknown[]) => void logged.push(a.map(String).join(" "));
    });
    afterEach(async () => {
        console.log = consoleLog;
        restoreRunner?.();
        restoreRunner = undefined;
        for (const r of registries) await r.stop();
        registries = [];
    });

    const registry = async (opts: FakeOptions = {}) => {
        const r = await new FakeRegistry(opts).start();
        registries.push(r);
        return r;
    };
    /** The fake buildx over `regs`, in the exec seam until the test ends. */
    const buildx = (regs: FakeRegistry[], opts: FakeBuildxOptions = {}) => {
        const fake = new FakeBuildx(regs, opts);
        restoreRunner = replaceRunner(fake.runner);
        return fake;
    };

    it("index mode: one build by digest, every platform verified, then the tag moved to the index; the outputs say what was built", async () => {
        const r = await registry();
        const fake = buildx([r]);
        const tag = `${r.addr}/app:1`;
        const { id, outs } = await create(inputsFor([tag]));

        assert.strictEqual(id, `${r.addr}/app:linux/amd64,linux/arm64`);
        assert.strictEqual(fake.builds.length, 1);
        const argv = fake.builds[0].join(" ");
        assert.match(argv, /--platform linux\/amd64,linux\/arm64 /);
        assert.match(argv, new RegExp(`--output type=image,name=${r.addr}/app,push-by-digest=true`));
        assert.ok(!argv.includes("--tag") && !argv.includes(":1"), argv);
        // The registry's own contents: the tag on the index buildx pushed, which lists what the outputs say.
        assert.strictEqual(r.tagged("app", "1"), outs.digest);
        assert.deepStrictEqual(indexAt(r, "app", "1"), outs.platformDigests);
        assert.deepStrictEqual(Object.keys(outs.platformDigests).sort(), PLATFORMS);
        assert.strictEqual(outs.ref, `${r.addr}/app@${outs.digest}`);
        assert.deepStrictEqual(outs.pushedTags, [tag]);
        assert.strictEqual(outs.manifestMode, "index");
        assert.deepStrictEqual(outs.manifestModes, { [r.addr]: "index" });
        assert.deepStrictEqual(outs.buildReason, ["create"]);
        assert.match(outs.verification["linux/amd64"], /^ok: config linux\/amd64, \/hello is amd64/);
        assert.match(outs.verification["linux/arm64"], /^ok: config linux\/arm64, \/hello is arm64/);
        // The verification record went up with the index, naming it as its subject.
        const record = JSON.parse(r.manifest("app", outs.verificationRecord!)!.raw.toString("utf8")) as {
            subject: { digest: string };
        };
        assert.strictEqual(record.subject.digest, outs.digest);
        // Tags move only after verification: the one tag PUT follows the last blob verification read.
        const log = r.requests();
        const lastRead = log.map((l) => l.startsWith("GET /v2/app/blobs/")).lastIndexOf(true);
        const tagPuts = log.flatMap((l, i) => (l === "PUT /v2/app/manifests/1" ? [i] : []));
        assert.ok(lastRead >= 0, "verification read no blob");
        assert.deepStrictEqual(tagPuts.length, 1, log.join("\n"));
        assert.ok(tagPuts[0] > lastRead, `the tag moved before verification ended:\n${log.join("\n")}`);
        assert.ok(
            logged.some((l) =>
                new RegExp(`^built linux/amd64,linux/arm64 -> ${outs.digest} \\(index; 1 repository\\) in `).test(l),
            ),
            logged.join("\n"),
        );
    });

    it("per-arch tags on a registry that keeps no lists: one build per platform, <tag>-<arch> on each verified manifest, no index", async () => {
        const n = await registry({ noIndex: true });
        const fake = buildx([n]);
        const { outs } = await create(inputsFor([`${n.addr}/app:1`], { manifest: "per-arch-tags" }));

        assert.deepStrictEqual(
            fake.builds.map((a) => a[a.indexOf("--platform") + 1]),
            PLATFORMS,
        );
        assert.deepStrictEqual(outs.pushedTags, [`${n.addr}/app:1-amd64`, `${n.addr}/app:1-arm64`]);
        assert.strictEqual(n.tagged("app", "1-amd64"), outs.platformDigests["linux/amd64"]);
        assert.strictEqual(n.tagged("app", "1-arm64"), outs.platformDigests["linux/arm64"]);
        assert.strictEqual(n.tagged("app", "1"), undefined);
        assert.strictEqual(outs.digest, "");
        assert.strictEqual(outs.manifestMode, "per-arch-tags");
        assert.strictEqual(outs.verificationRecord, "", "no index to attach a record to");
        // Asked for per-arch tags, nothing probes: the only PUTs are the two tags.
        assert.deepStrictEqual(puts(n), ["PUT /v2/app/manifests/1-amd64", "PUT /v2/app/manifests/1-arm64"]);
    });

    it("per-arch tags: a platform's push the registry lost to the other platform's at the same moment is pushed again; a failed build is not", async () => {
        const race = fs.readFileSync(path.join(__dirname, "..", "fixtures", "buildx-push-blob-race.txt"), "utf8");
        const n = await registry({ noIndex: true });
        const fake = buildx([n], { failFirst: (p) => (p === "linux/arm64" ? race : undefined) });
        const { outs } = await create(inputsFor([`${n.addr}/app:1`], { manifest: "per-arch-tags" }));
        assert.deepStrictEqual(
            fake.builds.map((a) => a[a.indexOf("--platform") + 1]),
            [...PLATFORMS, "linux/arm64"],
        );
        assert.strictEqual(n.tagged("app", "1-arm64"), outs.platformDigests["linux/arm64"]);
        assert.ok(
            logged.some((l) =>
                l.startsWith("[linux/arm64] warning: the registry lost a layer that another platform's build"),
            ),
            logged.join("\n"),
        );

        const failing = buildx([n], {
            failFirst: (p) =>
                p === "linux/arm64" ? "ERROR: process did not complete successfully: exit code: 3" : undefined,
        });
        await assert.rejects(create(inputsFor([`${n.addr}/app:2`], { manifest: "per-arch-tags" })), /exit code: 3/);
        assert.strictEqual(
            failing.builds.filter((a) => a.includes("linux/arm64")).length,
            1,
            "a failed build ran again",
        );
        assert.strictEqual(n.tagged("app", "2-amd64"), undefined);
    });

    it("auto in one create: the registry that keeps lists gets an index, the one that keeps none per-arch tags, each probed once", async () => {
        const a = await registry(),
            n = await registry({ noIndex: true });
        const fake = buildx([a, n]);
        const { outs } = await create(inputsFor([`${a.addr}/app:1`, `${n.addr}/team/app:1`], { manifest: "auto" }));

        assert.deepStrictEqual(outs.manifestModes, { [a.addr]: "index", [n.addr]: "per-arch-tags" });
        assert.strictEqual(outs.manifestMode, "mixed");
        assert.deepStrictEqual(outs.pushedTags, [
            `${a.addr}/app:1`,
            `${n.addr}/team/app:1-amd64`,
            `${n.addr}/team/app:1-arm64`,
        ]);
        // One registry takes per-arch tags, so each platform is built on its own, into both repositories.
        assert.strictEqual(fake.builds.length, 2);
        for (const b of fake.builds)
            assert.ok(
                b.includes(
                    `type=image,"name=${a.addr}/app,${n.addr}/team/app",push-by-digest=true,name-canonical=true,push=true`,
                ),
                b.join(" "),
            );
        // The index was assembled over the verified manifests and tagged where lists are kept.
        assert.strictEqual(a.tagged("app", "1"), outs.digest);
        assert.deepStrictEqual(indexAt(a, "app", "1"), outs.platformDigests);
        assert.strictEqual(n.tagged("team/app", "1"), undefined);
        assert.strictEqual(n.tagged("team/app", "1-arm64"), outs.platformDigests["linux/arm64"]);
        // The probe: an empty index by digest, once per registry.
        const probe = sha256(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [] })));
        assert.deepStrictEqual(puts(a).filter((l) => l.endsWith(probe)).length, 1);
        assert.deepStrictEqual(puts(n).filter((l) => l.endsWith(probe)).length, 1);
        assert.ok(
            logged.some((l) => l.includes(`${n.addr}/team/app does not accept manifest lists`)),
            logged.join("\n"),
        );
    });

    it("a tag move one registry refuses: create fails naming it, and every registry's tags stay on the previous build", async () => {
        const a = await registry(),
            n = await registry({ noIndex: true });
        buildx([a, n]);
        const was = {
            a1: previousBuild(a, "app", "1"),
            amd64: previousBuild(n, "app", "1-amd64", "linux/amd64"),
            arm64: previousBuild(n, "app", "1-arm64", "linux/arm64"),
        };
        // Index in one registry, per-arch tags in the other; the last move (1-arm64) is refused.
        n.opts.fault = { match: /^PUT \/v2\/app\/manifests\/1-arm64$/, status: 400, times: 1 };
        await assert.rejects(
            create(inputsFor([`${a.addr}/app:1`, `${n.addr}/app:1`], { manifest: "auto" })),
            (e: Error) => {
                assert.match(e.message, new RegExp(`^moving tag ${n.addr}/app:1-arm64 failed \\(tag move: `));
                assert.match(
                    e.message,
                    new RegExp(`; put ${a.addr}/app:1, 1-amd64 back where they were, so no tag moved to this build`),
                );
                return true;
            },
        );
        assert.strictEqual(n.opts.fault.times, 0, "the refused move was never tried");
        assert.deepStrictEqual(
            { a1: a.tagged("app", "1"), amd64: n.tagged("app", "1-amd64"), arm64: n.tagged("app", "1-arm64") },
            was,
        );
        // Each tag that had moved went back with a second PUT.
        assert.deepStrictEqual(
            puts(a).filter((l) => l === "PUT /v2/app/manifests/1"),
            ["PUT /v2/app/manifests/1", "PUT /v2/app/manifests/1"],
        );
        assert.strictEqual(puts(n).filter((l) => l === "PUT /v2/app/manifests/1-amd64").length, 2);
    });

    it("a verification failure (an amd64 /hello in the arm64 image) moves no tag in any registry", async () => {
        const a = await registry(),
            b = await registry();
        buildx([a, b], { binaryArch: () => "amd64" });
        const was = [previousBuild(a, "app", "1"), previousBuild(b, "app", "1")];
        await assert.rejects(create(inputsFor([`${a.addr}/app:1`, `${b.addr}/app:1`])), (e: Error) => {
            assert.match(e.message, /^verification failed, no tag was moved: .*\/hello.* is an amd64/);
            assert.ok(!e.message.includes("linux/amd64:"), "the amd64 image was right");
            return true;
        });
        assert.deepStrictEqual([a.tagged("app", "1"), b.tagged("app", "1")], was);
        // Nothing was written after the build: no tag, no verification record.
        assert.deepStrictEqual([puts(a), puts(b)], [[], []]);
    });

    it("a registry with a login: one client for the whole create, challenged once, whatever the number of requests", async () => {
        const login = { username: "ci", password: "pw" };
        const r = await registry({ login });
        buildx([r]);
        await create(inputsFor([`${r.addr}/app:1`], { registryAuth: { address: r.addr, ...login } }));
        const answered = r.log.map((x) => x.status);
        assert.ok(answered.length > 10, `${answered.length} requests`);
        assert.strictEqual(answered.filter((s) => s === 401).length, 1, r.requests().join("\n"));
        assert.ok(r.tagged("app", "1"));
    });

    it("diff: each rebuild field changed alone is a change; inputs as built, or changed in what is no rebuild reason, are none", async () => {
        const r = await registry();
        buildx([r]);
        const inputs = inputsFor([`${r.addr}/app:1`]);
        const { outs } = await create(inputs);
        assert.strictEqual(await diff(outs, inputs), false);

        /** Another value of the same shape. */
        const another = (v: unknown): unknown =>
            typeof v === "boolean"
                ? !v
                : typeof v === "number"
                  ? v + 1
                  : typeof v === "string"
                    ? `${v}-2`
                    : Array.isArray(v)
                      ? [...(v as unknown[]), "x"]
                      : { ...(v as object), x: "1" };
        const changed = (k: keyof ImageInputs) => ({ ...inputs, [k]: another(inputs[k]) });
        const missed: string[] = [];
        // A local context's path is no reason (its content is: contextDigest); a Git context's commit is.
        for (const k of REBUILD_FIELDS.filter((f) => f !== "context")) {
            if (!(await diff(outs, changed(k)))) missed.push(k);
        }
        assert.deepStrictEqual(missed, [], "rebuild fields whose change diff does not see");
        assert.deepStrictEqual(changedKeys(outs, changed("buildArgs")), ["buildArgs"]);
        assert.deepStrictEqual(changedKeys(outs, changed("secretsRevision")), ["secrets"]);

        // The secrets' rules are image.test.ts's; a new build plan is written without a build (its own rule).
        const ruled = [
            "secrets",
            "secretFiles",
            "secretEnvs",
            "rebuildOnSecretChange",
            "ignoreSecretsInDiffCalculation",
            "buildPlan",
        ];
        const noReason = (Object.keys(IMAGE_FIELDS) as (keyof ImageInputs)[]).filter(
            (k) => !REBUILD_FIELDS.includes(k) && !ruled.includes(k),
        );
        const seen: string[] = [];
        for (const k of [...noReason, "context" as const]) if (await diff(outs, changed(k))) seen.push(k);
        assert.deepStrictEqual(seen, [], "fields that are no rebuild reason, seen as changes");
    });

    it("a tag moved out of band: read reports it, diff calls for an update, and update builds again and puts the tag back", async () => {
        const r = await registry();
        const fake = buildx([r]);
        const inputs = inputsFor([`${r.addr}/app:1`]);
        const { outs } = await create(inputs);
        assert.deepStrictEqual((await read(outs)).drift, []);

        const other = previousBuild(r, "app", "1");
        const props = await read(outs);
        assert.deepStrictEqual(props.drift, [`tag ${r.addr}/app:1 moved to ${other}`]);
        assert.strictEqual(await diff(props, inputs), true);
        const again = await update(props, inputs);
        assert.strictEqual(fake.builds.length, 2);
        assert.deepStrictEqual(again.buildReason, props.drift);
        assert.strictEqual(again.digest, outs.digest, "the same inputs build the same image");
        assert.strictEqual(r.tagged("app", "1"), outs.digest);
        assert.deepStrictEqual((await read(again)).drift, []);
        assert.strictEqual(await diff(again, inputs), false);
    });

    it("update for a changed build arg: builds again, and the tag moves to the new, verified index", async () => {
        const r = await registry();
        const fake = buildx([r]);
        const { outs } = await create(inputsFor([`${r.addr}/app:1`]));
        const news = inputsFor([`${r.addr}/app:1`], { buildArgs: { V: "2" } });
        assert.strictEqual(await diff(outs, news), true);
        const after = await update(outs, news);
        assert.ok(fake.builds[1].includes("V=2"));
        assert.deepStrictEqual(after.buildReason, ["buildArgs"]);
        assert.notStrictEqual(after.digest, outs.digest);
        assert.strictEqual(r.tagged("app", "1"), after.digest);
        assert.deepStrictEqual(indexAt(r, "app", "1"), after.platformDigests);
        assert.match(after.verification["linux/arm64"], /^ok: /);
        // The previous build stays in the registry by digest: others may use it.
        assert.ok(r.manifest("app", outs.digest));
    });
});
