// The copy logic of promotions and Index (core/copy.ts, verificationRecord.ts)
// against in-process registries of the tests' own (tests/support/fakeRegistry.ts): what is
// read, what the plan says, what is mounted, streamed or skipped, in which order manifests
// land, referrers and verification records, and the errors a user gets.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import * as stream from "stream";

import * as copy from "../../core/copy";
import { Registry } from "../../core/registry";
import * as record from "../../core/verificationRecord";
import { FakeRegistry, seedImage, sha256 } from "../support/fakeRegistry";

const endpoint = (
    reg: FakeRegistry,
    repository: string,
    credentials?: { username: string; password: string },
): copy.Endpoint => ({
    client: new Registry(reg.addr, {
        retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
        ...(credentials ? { credentials } : {}),
    }),
    repository,
});

/** Reads the source, plans against the target, runs the plan: what a promotion's create does per target. */
async function promote(
    from: copy.Endpoint,
    digest: string,
    to: copy.Endpoint,
    mode: copy.Mode = "index",
): Promise<{ plan: copy.CopyPlan; stats: copy.CopyStats; source: copy.SourceImage }> {
    const source = await copy.readSource(from, digest, { referrers: true });
    const plan = copy.planCopy(
        source,
        { registry: to.client.registry, repository: to.repository },
        mode,
        await copy.probeTarget(source, to, mode),
    );
    const stats = await copy.runCopy(source, from, to, plan);
    return { plan, stats, source };
}

describe("copy: reading a source image", () => {
    let src: FakeRegistry;
    before(async () => {
        src = await new FakeRegistry().start();
    });
    after(() => src.stop());

    it("reads the index, each platform's image, the attestation manifests and their blobs, the root last", async () => {
        const img = seedImage(src, "app");
        const s = await copy.readSource(endpoint(src, "app"), img.digest, { referrers: true });
        assert.deepStrictEqual(s.platforms, img.platforms);
        assert.deepStrictEqual(
            s.manifests.map((m) => m.role),
            ["image", "attestation", "image", "attestation", "index"],
        );
        assert.strictEqual(s.manifests[s.manifests.length - 1].digest, img.digest);
        assert.deepStrictEqual(new Set(s.manifests.flatMap((m) => m.blobs.map((b) => b.digest))), new Set(img.blobs));
    });

    it("takes a single manifest's platform from its config", async () => {
        const img = seedImage(src, "single");
        const s = await copy.readSource(endpoint(src, "single"), img.platforms["linux/arm64"], { referrers: false });
        assert.deepStrictEqual(s.platforms, { "linux/arm64": img.platforms["linux/arm64"] });
        assert.strictEqual(s.root.role, "image");
    });

    it("a digest the registry does not hold says so, with the fix", async () => {
        const missing = sha256(Buffer.from("gone"));
        await assert.rejects(
            copy.readSource(endpoint(src, "app"), missing, { referrers: true }),
            (e: Error) =>
                e.message.includes(`${src.addr}/app@${missing} does not exist`) &&
                /give the digest of an image the registry holds/.test(e.message),
        );
    });

    it("an index naming a manifest the registry lost is an incomplete image", async () => {
        const img = seedImage(src, "lost");
        src.manifests.get("lost")!.delete(img.platforms["linux/amd64"]);
        await assert.rejects(
            copy.readSource(endpoint(src, "lost"), img.digest, { referrers: false }),
            /no longer holds: the image is incomplete/,
        );
    });

    it("finds referrers through the fallback tag where the registry has no referrers API", async () => {
        const img = seedImage(src, "signed");
        const sig = { digest: sha256(Buffer.from("sig")), size: 3 };
        src.putBlobDirect("signed", Buffer.from("sig"));
        const artifact = {
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            artifactType: "application/vnd.dev.cosign.simplesigning.v1+json",
            config: {
                mediaType: "application/vnd.oci.empty.v1+json",
                ...src.putBlobDirect("signed", Buffer.from("{}")),
            },
            layers: [{ mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", ...sig }],
            subject: {
                mediaType: "application/vnd.oci.image.index.v1+json",
                digest: img.digest,
                size: src.manifest("signed", img.digest)!.raw.length,
            },
        };
        const d = src.putManifestDirect("signed", "sha256:", artifact.mediaType, artifact);
        const raw = src.manifest("signed", d)!.raw;
        src.putManifestDirect("signed", img.digest.replace(":", "-"), "application/vnd.oci.image.index.v1+json", {
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: [
                { mediaType: artifact.mediaType, digest: d, size: raw.length, artifactType: artifact.artifactType },
            ],
        });
        const s = await copy.readSource(endpoint(src, "signed"), img.digest, { referrers: true });
        const referrer = s.manifests.find((m) => m.role === "referrer")!;
        assert.strictEqual(referrer.digest, d);
        assert.strictEqual(referrer.subject, img.digest);
        assert.strictEqual(s.manifests.indexOf(referrer), s.manifests.length - 1, "referrers come after the image");
    });
});

describe("copy: plans", () => {
    const image = (): copy.SourceImage => {
        const m = (digest: string, role: copy.Role, blobs: string[], platform?: string): copy.SourceManifest => ({
            digest,
            role,
            blobs: blobs.map((b) => ({ mediaType: "x", digest: b, size: 100 })),
            mediaType: "x",
            raw: Buffer.from(""),
            body: {},
            ...(platform ? { platform } : {}),
        });
        const manifests = [
            m("m1", "image", ["c1", "l1", "base"], "linux/amd64"),
            m("a1", "attestation", ["e", "s1"]),
            m("m2", "image", ["c2", "l2", "base"], "linux/arm64"),
            m("idx", "index", []),
            { ...m("r1", "referrer", ["e", "sig"]), subject: "idx" },
        ];
        return {
            registry: "reg:5000",
            repository: "dev/app",
            digest: "idx",
            root: manifests[3],
            manifests,
            platforms: { "linux/amd64": "m1", "linux/arm64": "m2" },
        };
    };
    const none = { blobs: new Set<string>(), manifests: new Set<string>() };

    it("in the same registry, every blob the target lacks is mounted", () => {
        const plan = copy.planCopy(image(), { registry: "reg:5000", repository: "prod/app" }, "index", none);
        assert.deepStrictEqual(
            plan.blobs.map((b) => b.action),
            Array(plan.blobs.length).fill("mount"),
        );
        assert.deepStrictEqual(
            plan.manifests.map((m) => m.digest),
            ["m1", "a1", "m2", "idx", "r1"],
        );
    });

    it("in another registry, blobs are copied except those the target has; a shared blob counts once", () => {
        const plan = copy.planCopy(image(), { registry: "other:5000", repository: "app" }, "index", {
            blobs: new Set(["base", "e"]),
            manifests: new Set(["m1"]),
        });
        const by = (a: string) =>
            plan.blobs
                .filter((b) => b.action === a)
                .map((b) => b.digest)
                .sort();
        assert.deepStrictEqual(by("present"), ["base", "e"]);
        assert.deepStrictEqual(by("copy"), ["c1", "c2", "l1", "l2", "s1", "sig"]);
        assert.deepStrictEqual(copy.planStats(plan), { manifests: 4, copied: 6, bytes: 600, mounted: 0, present: 2 });
        assert.strictEqual(
            copy.describe(plan),
            "other:5000/app (index): 4 manifests, 6 blobs to copy (600 B), 2 already there",
        );
    });

    it("per-arch tags take only the platform images and say what stays behind", () => {
        const plan = copy.planCopy(image(), { registry: "company:5003", repository: "hello" }, "per-arch-tags", none);
        assert.deepStrictEqual(
            plan.manifests.map((m) => m.digest),
            ["m1", "m2"],
        );
        assert.deepStrictEqual(plan.blobs.map((b) => b.digest).sort(), ["base", "c1", "c2", "l1", "l2"]);
        assert.deepStrictEqual(plan.dropped, [
            "1 attestation manifest (company:5003 keeps no index to hold them)",
            "1 referrer (signatures, SBOMs, verification records: company:5003 keeps no index to list them)",
        ]);
    });
});

describe("copy: runs against registries", () => {
    let a: FakeRegistry, b: FakeRegistry, api: FakeRegistry, company: FakeRegistry;
    before(async () => {
        a = await new FakeRegistry().start();
        b = await new FakeRegistry({ login: { username: "ci", password: "pw" } }).start();
        api = await new FakeRegistry({ referrersApi: true }).start();
        company = await new FakeRegistry({ noIndex: true }).start();
    });
    after(async () => {
        for (const r of [a, b, api, company]) await r.stop();
    });

    it("within one registry: mounts every blob (no blob is read), puts the manifests leaves first, the digest unchanged", async () => {
        const img = seedImage(a, "dev/mount");
        const from = a.log.length;
        const { stats } = await promote(endpoint(a, "dev/mount"), img.digest, endpoint(a, "prod/mount"));
        assert.deepStrictEqual(stats, { manifests: 5, copied: 0, bytes: 0, mounted: img.blobs.length, present: 0 });
        const reqs = a.requests(from);
        assert.ok(!reqs.some((r) => /^GET .*\/blobs\/sha256/.test(r)), `a blob was read: ${reqs.join("\n")}`);
        assert.strictEqual(
            reqs.filter((r) => r.startsWith("POST /v2/prod/mount/blobs/uploads/?mount=")).length,
            img.blobs.length,
        );
        const puts = reqs.filter((r) => r.startsWith("PUT /v2/prod/mount/manifests/")).map((r) => r.split("/").pop());
        assert.strictEqual(puts[puts.length - 1], img.digest, "the index goes last");
        assert.ok(a.manifest("prod/mount", img.digest));
    });

    it("to another registry with a login: streams each blob once through an upload, then a second run copies nothing", async () => {
        const img = seedImage(a, "dev/cross", 300_000);
        const to = endpoint(b, "app", { username: "ci", password: "pw" });
        const { stats } = await promote(endpoint(a, "dev/cross"), img.digest, to);
        assert.strictEqual(stats.copied, img.blobs.length);
        assert.strictEqual(stats.mounted, 0);
        assert.ok(stats.bytes > 600_000);
        for (const d of img.blobs) assert.ok(b.hasBlob("app", d), `${d} missing at the target`);
        assert.strictEqual(sha256(b.manifest("app", img.digest)!.raw), img.digest);
        const fromA = a.log.length,
            fromB = b.log.length;
        const again = await promote(endpoint(a, "dev/cross"), img.digest, to);
        assert.deepStrictEqual(again.stats, {
            manifests: 0,
            copied: 0,
            bytes: 0,
            mounted: 0,
            present: img.blobs.length,
        });
        assert.ok(!a.requests(fromA).some((r) => /^GET .*\/blobs\//.test(r)), "a second run opened a blob");
        assert.ok(
            !b.requests(fromB).some((r) => /^(POST|PATCH|PUT) /.test(r)),
            `a second run wrote: ${b.requests(fromB).join("\n")}`,
        );
    });

    it("a registry that declines the mount gets the bytes streamed instead", async () => {
        const noMount = await new FakeRegistry({ mounts: false }).start();
        try {
            const img = seedImage(noMount, "dev/app");
            const { stats } = await promote(endpoint(noMount, "dev/app"), img.digest, endpoint(noMount, "prod/app"));
            assert.strictEqual(stats.mounted, 0);
            assert.strictEqual(stats.copied, img.blobs.length);
        } finally {
            await noMount.stop();
        }
    });

    it("per-arch tags into a registry without indexes: the platform images only", async () => {
        const img = seedImage(a, "dev/company");
        const { stats, plan } = await promote(
            endpoint(a, "dev/company"),
            img.digest,
            endpoint(company, "hello"),
            "per-arch-tags",
        );
        assert.strictEqual(stats.manifests, 2);
        for (const d of Object.values(img.platforms)) assert.ok(company.manifest("hello", d));
        assert.ok(!company.manifest("hello", img.digest));
        assert.match(plan.dropped[0], /2 attestation manifests/);
    });

    it("referrers: listed in the target's fallback tag where it has no referrers API, by the API where it has one", async () => {
        const img = seedImage(a, "dev/rec");
        const rec: record.VerificationRecord = {
            subject: img.digest,
            verifier: "pulumi-multiarch test",
            platforms: Object.fromEntries(
                Object.entries(img.platforms).map(([p, d]) => [p, { manifest: d, result: `ok: config ${p}` }]),
            ),
        };
        const size = a.manifest("dev/rec", img.digest)!.raw.length;
        const recDigest = await record.attachRecord(
            endpoint(a, "dev/rec"),
            { mediaType: "application/vnd.oci.image.index.v1+json", digest: img.digest, size },
            rec,
        );
        assert.strictEqual(
            JSON.parse(a.manifest("dev/rec", img.digest.replace(":", "-"))!.raw.toString()).manifests[0].digest,
            recDigest,
        );

        const other = await new FakeRegistry().start();
        try {
            await promote(endpoint(a, "dev/rec"), img.digest, endpoint(other, "prod/rec"));
            const fallback = other.manifest("prod/rec", img.digest.replace(":", "-"));
            assert.ok(fallback, "no fallback tag at the target");
            assert.deepStrictEqual(
                JSON.parse(fallback.raw.toString()).manifests.map((m: any) => m.digest),
                [recDigest],
            );
            const found = await record.findRecords(endpoint(other, "prod/rec"), img.digest);
            assert.deepStrictEqual(
                found.map((f) => f.record),
                [rec],
            );
        } finally {
            await other.stop();
        }

        await promote(endpoint(a, "dev/rec"), img.digest, endpoint(api, "prod/rec"));
        assert.ok(
            !api.manifest("prod/rec", img.digest.replace(":", "-")),
            "a registry with the referrers API got a fallback tag",
        );
        assert.deepStrictEqual(
            (await record.findRecords(endpoint(api, "prod/rec"), img.digest)).map((f) => f.digest),
            [recDigest],
        );

        // deleteOnDestroy: the record goes, and its fallback tag with it when it lists nothing else.
        await record.detachRecord(endpoint(a, "dev/rec"), img.digest, recDigest);
        assert.ok(!a.manifest("dev/rec", recDigest) && !a.manifest("dev/rec", img.digest.replace(":", "-")));
        assert.deepStrictEqual(await record.findRecords(endpoint(a, "dev/rec"), img.digest), []);
    });

    it("a transient 503 on an upload is tried again; a persistent one names the blob and both ends", async () => {
        const img = seedImage(a, "dev/fault");
        const flaky = await new FakeRegistry({ fault: { match: /^PATCH /, status: 503, times: 1 } }).start();
        const down = await new FakeRegistry({ fault: { match: /^PATCH /, status: 503, times: 1000 } }).start();
        try {
            const ok = await promote(endpoint(a, "dev/fault"), img.digest, endpoint(flaky, "app"));
            assert.strictEqual(ok.stats.copied, img.blobs.length);
            await assert.rejects(promote(endpoint(a, "dev/fault"), img.digest, endpoint(down, "app")), (e: Error) =>
                new RegExp(
                    `copying blob sha256:\\w+ \\(\\d+ B\\) from ${a.addr}/dev/fault to ${down.addr}/app: .*503`,
                ).test(e.message),
            );
            assert.ok(!down.manifest("app", img.digest), "the index landed although blobs did not");
        } finally {
            await flaky.stop();
            await down.stop();
        }
    });

    it("bytes that do not match their digest are refused by the target, and the copy fails", async () => {
        const img = seedImage(a, "dev/corrupt");
        const layer = img.blobs.find((d) => a.blobs.get(d)!.length === 64)!;
        a.blobs.set(layer, Buffer.alloc(64, "x"));
        const other = await new FakeRegistry().start();
        try {
            await assert.rejects(
                promote(endpoint(a, "dev/corrupt"), img.digest, endpoint(other, "app")),
                /DIGEST_INVALID/,
            );
        } finally {
            await other.stop();
        }
    });

    it("putBlob streams: the body is a stream read as the upload goes, not a buffer", async () => {
        const other = await new FakeRegistry().start();
        try {
            const data = Buffer.alloc(3 << 20, 7);
            let reads = 0;
            const src = new stream.Readable({
                highWaterMark: 64 << 10,
                read() {
                    const at = reads++ * (64 << 10);
                    this.push(at < data.length ? data.subarray(at, at + (64 << 10)) : null);
                },
            });
            const how = await endpoint(other, "s").client.putBlob(
                "s",
                { digest: sha256(data), size: data.length },
                async () => src,
            );
            assert.strictEqual(how, "uploaded");
            assert.ok(reads > 40, `the source was read in ${reads} chunks`);
            assert.ok(other.hasBlob("s", sha256(data)));
        } finally {
            await other.stop();
        }
    });
});

describe("verification records", () => {
    const platforms = { "linux/amd64": "sha256:a", "linux/arm64": "sha256:b" };
    const rec = (over: Partial<record.VerificationRecord["platforms"][string]> = {}): record.VerificationRecord => ({
        subject: "sha256:i",
        verifier: "pulumi-multiarch test",
        platforms: {
            "linux/amd64": { manifest: "sha256:a", result: "ok: config linux/amd64" },
            "linux/arm64": { manifest: "sha256:b", result: "ok: config linux/arm64", ...over },
        },
    });

    it("covers an image only when every platform was verified ok on exactly its manifests", () => {
        assert.strictEqual(record.recordProblem(rec(), "sha256:i", platforms), undefined);
        assert.strictEqual(
            record.recordProblem(rec(), "sha256:j", platforms),
            "the record is for sha256:i, not sha256:j",
        );
        assert.match(
            record.recordProblem(rec({ manifest: "sha256:c" }), "sha256:i", platforms)!,
            /linux\/arm64: the record verified sha256:c, but the image holds sha256:b/,
        );
        assert.match(
            record.recordProblem(rec({ result: "FAILED: linux/arm64: ..." }), "sha256:i", platforms)!,
            /verification found a problem/,
        );
        assert.match(
            record.recordProblem(rec(), "sha256:i", { ...platforms, "linux/riscv64": "sha256:r" })!,
            /linux\/riscv64 was not verified/,
        );
    });

    it("the same record is the same artifact (attaching twice adds nothing)", () => {
        const subject = { mediaType: "application/vnd.oci.image.index.v1+json", digest: "sha256:i", size: 10 };
        assert.strictEqual(record.recordArtifact(rec(), subject).digest, record.recordArtifact(rec(), subject).digest);
        assert.throws(() => record.parseRecord('{"subject":"x"}'), /not a verification record/);
    });
});

describe("copy: a cancelled run", () => {
    // A cancel (exec.stopAll) holds for the rest of its process, so this runs in a process of its own.
    it("starts no blob and puts no manifest once the run is cancelled; a promotion then moves no tag", function () {
        this.timeout(60_000);
        const root = path.join(__dirname, "..", "..");
        const script = `
            const exec = require(${JSON.stringify(path.join(root, "core/exec"))});
            const { FakeRegistry, seedImage } = require(${JSON.stringify(path.join(root, "tests/support/fakeRegistry"))});
            const { promotionProvider } = require(${JSON.stringify(path.join(root, "provider/resources/promotion"))});
            (async () => {
                const a = await new FakeRegistry().start(), b = await new FakeRegistry().start();
                const img = seedImage(a, "dev/app");
                await exec.stopAll("the update was cancelled (Ctrl-C): no tag was moved; run \`pulumi up\` again");
                console.log = () => {};
                const err = await promotionProvider.create({ source: a.addr + "/dev/app@" + img.digest, tags: [b.addr + "/prod/app:1.0"], manifest: "index",
                    requireVerification: false, deleteOnDestroy: false }).then(() => "created", (e) => e.message);
                process.stdout.write(JSON.stringify({ err, writes: b.requests().filter((r) => /^(PUT|POST|PATCH)/.test(r)) }));
                await a.stop(); await b.stop();
            })();`;
        const out = JSON.parse(
            execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
                cwd: root,
                encoding: "utf8",
            }),
        );
        assert.match(out.err, /the update was cancelled \(Ctrl-C\): no tag was moved/);
        assert.deepStrictEqual(out.writes, []);
    });
});
