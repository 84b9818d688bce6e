// The lifecycles of promotions (ImageCopy), Index (IndexManifest) and the image's verification
// record, called directly against in-process registries of the tests' own: what preview
// checks and says, what a no-op asks (nothing), what refresh sees, how an older image state
// gets its record. The same code runs in the plugin; e2e tests run it through the engine.
import * as assert from "assert";

import type { ImageCopyInputs, IndexManifestInputs } from "../../contract/types";
import { Registry } from "../../core/registry";
import { attachRecord, findRecords } from "../../core/verificationRecord";
import { imageProvider } from "../../provider/resources/image";
import { assembleIndex, indexProvider } from "../../provider/resources/indexManifest";
import { promotionProvider } from "../../provider/resources/promotion";
import { UNKNOWN } from "../../provider/wire";
import { FakeRegistry, seedImage, sha256 } from "../support/fakeRegistry";

/** Runs `fn` with console.log silenced (lifecycles print progress for the engine); returns what it printed too. */
async function quiet<T>(fn: () => Promise<T>): Promise<{ value: T; printed: string[] }> {
    const printed: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => {
        printed.push(a.map(String).join(" "));
    };
    try {
        return { value: await fn(), printed };
    } finally {
        console.log = log;
    }
}

const INDEX = "application/vnd.oci.image.index.v1+json";

/** A verified image: seeded, with the record MultiArchImage attaches. */
async function verifiedImage(reg: FakeRegistry, repo: string, result = (p: string) => `ok: config ${p}`) {
    const img = seedImage(reg, repo);
    await attachRecord(
        { client: new Registry(reg.addr), repository: repo },
        { mediaType: INDEX, digest: img.digest, size: reg.manifest(repo, img.digest)!.raw.length },
        {
            subject: img.digest,
            verifier: "test",
            platforms: Object.fromEntries(
                Object.entries(img.platforms).map(([p, d]) => [p, { manifest: d, result: result(p) }]),
            ),
        },
    );
    return img;
}

describe("ImageCopy lifecycle: preview, no-op, refresh", () => {
    let src: FakeRegistry, dst: FakeRegistry, company: FakeRegistry;
    before(async () => {
        src = await new FakeRegistry().start();
        dst = await new FakeRegistry().start();
        company = await new FakeRegistry({ noIndex: true }).start();
    });
    after(async () => {
        for (const r of [src, dst, company]) await r.stop();
    });

    const inputs = (source: string, tags: string[], over: Partial<ImageCopyInputs> = {}): ImageCopyInputs => ({
        source,
        tags,
        manifest: "index",
        requireVerification: true,
        deleteOnDestroy: false,
        ...over,
    });

    it("preview: says what each target would get; an unchanged promotion asks no registry anything", async () => {
        const img = await verifiedImage(src, "dev/app");
        const news = inputs(`${src.addr}/dev/app@${img.digest}`, [
            `${dst.addr}/prod/app:1.0`,
            `${src.addr}/prod/app:1.0`,
        ]);
        const { value: checked, printed } = await quiet(() => promotionProvider.check({}, news));
        assert.deepStrictEqual(checked.failures, []);
        // 2 platform images, 2 attestation manifests, the index, the record; 8 blobs (the record's empty config is an attestation's too).
        assert.deepStrictEqual(checked.inputs.plan, [
            `${dst.addr}/prod/app (index): 6 manifests, 8 blobs to copy (927 B), 0 already there`,
            `${src.addr}/prod/app (index): 6 manifests, 0 blobs to copy (0 B), 8 to mount from ${src.addr}, 0 already there`,
        ]);
        assert.deepStrictEqual(
            printed,
            checked.inputs.plan.map((l: string) => `will copy ${l}`),
        );
        assert.ok(!dst.requests().some((r) => /^(PUT|POST|PATCH)/.test(r)), "preview wrote");
        const before = [src.log.length, dst.log.length];
        const again = await quiet(() => promotionProvider.check(checked.inputs, news));
        assert.deepStrictEqual(again.value.inputs.plan, checked.inputs.plan);
        assert.deepStrictEqual(
            [src.requests(before[0]), dst.requests(before[1])],
            [[], []],
            "an unchanged promotion asked a registry",
        );
    });

    it("preview refuses a source never verified, one whose record does not cover it, and a digest that is gone; it says so with the fix", async () => {
        const plain = seedImage(src, "dev/plain");
        let r = await quiet(() =>
            promotionProvider.check({}, inputs(`${src.addr}/dev/plain@${plain.digest}`, [`${dst.addr}/x:1`])),
        );
        assert.strictEqual(r.value.failures![0].property, "source");
        assert.match(
            r.value.failures![0].reason,
            /was never verified: it carries no verification record .*or set requireVerification: false to promote it anyway/,
        );
        r = await quiet(() =>
            promotionProvider.check(
                {},
                inputs(`${src.addr}/dev/plain@${plain.digest}`, [`${dst.addr}/x:1`], { requireVerification: false }),
            ),
        );
        assert.deepStrictEqual(r.value.failures, []);

        const failed = await verifiedImage(src, "dev/failed", (p) =>
            p === "linux/arm64" ? "FAILED: linux/arm64: /app is an amd64 binary" : `ok: config ${p}`,
        );
        r = await quiet(() =>
            promotionProvider.check({}, inputs(`${src.addr}/dev/failed@${failed.digest}`, [`${dst.addr}/x:1`])),
        );
        assert.match(
            r.value.failures![0].reason,
            /its verification record does not cover it \(linux\/arm64: verification found a problem \(FAILED: linux\/arm64: \/app is an amd64 binary\)\)/,
        );

        const gone = sha256(Buffer.from("gone"));
        r = await quiet(() => promotionProvider.check({}, inputs(`${src.addr}/dev/app@${gone}`, [`${dst.addr}/x:1`])));
        assert.deepStrictEqual(r.value.failures, [
            {
                property: "source",
                reason: `preview: ${src.addr}/dev/app@${gone} does not exist: it was deleted or garbage-collected, or the digest is mistyped; give the digest of an image the registry holds (e.g. a stack's current \`ref\` output)`,
            },
        ]);
    });

    it("preview: a source not known yet (built in the same run) is left to up; a target that does not answer is a failure on tags", async () => {
        const unknown = await quiet(() => promotionProvider.check({}, inputs(UNKNOWN, [`${dst.addr}/x:1`])));
        assert.deepStrictEqual(unknown.value.failures ?? [], []);
        const img = await verifiedImage(src, "dev/down");
        const down = await quiet(() =>
            promotionProvider.check({}, inputs(`${src.addr}/dev/down@${img.digest}`, ["127.0.0.1:9/x:1"])),
        );
        assert.strictEqual(down.value.failures![0].property, "tags");
        assert.match(down.value.failures![0].reason, /^preview: 127\.0\.0\.1:9\/x: .*ECONNREFUSED/);
    });

    it("up: per-arch tags where the registry refuses indexes (auto), the record left behind there; refresh sees a tag gone, diff asks for the repair", async () => {
        const img = await verifiedImage(src, "dev/company");
        const news = inputs(
            `${src.addr}/dev/company@${img.digest}`,
            [`${company.addr}/hello:1.0`, `${dst.addr}/hello:1.0`],
            { manifest: "auto" },
        );
        const { value: created } = await quiet(() => promotionProvider.create(news));
        const o = created.outs;
        assert.deepStrictEqual(o.manifestModes, { [company.addr]: "per-arch-tags", [dst.addr]: "index" });
        assert.deepStrictEqual(o.pushedTags, [
            `${company.addr}/hello:1.0-amd64`,
            `${company.addr}/hello:1.0-arm64`,
            `${dst.addr}/hello:1.0`,
        ]);
        assert.strictEqual(company.tagged("hello", "1.0-arm64"), img.platforms["linux/arm64"]);
        assert.strictEqual(dst.tagged("hello", "1.0"), img.digest);
        assert.notStrictEqual(o.verificationRecord, "");
        assert.deepStrictEqual(
            (await findRecords({ client: new Registry(dst.addr), repository: "hello" }, img.digest)).map(
                (f) => f.digest,
            ),
            [o.verificationRecord],
        );
        assert.deepStrictEqual((await promotionProvider.diff("id", o, news)).changes, false);

        company.tags.get("hello")!.delete("1.0-arm64");
        const { value: read } = await quiet(() => promotionProvider.read("id", o));
        assert.deepStrictEqual(read.props.drift, [`tag ${company.addr}/hello:1.0-arm64 is gone`]);
        assert.strictEqual((await promotionProvider.diff("id", read.props, news)).changes, true);
        const fromCompany = company.log.length;
        const { value: updated } = await quiet(() => promotionProvider.update("id", read.props, news));
        assert.strictEqual(company.tagged("hello", "1.0-arm64"), img.platforms["linux/arm64"]);
        assert.deepStrictEqual(updated.outs.manifestModes, o.manifestModes);
        assert.ok(
            !company
                .requests(fromCompany)
                .some(
                    (r) =>
                        r.startsWith("PUT /v2/hello/manifests/") &&
                        r.includes(
                            sha256(
                                Buffer.from(
                                    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
                                ),
                            ),
                        ),
                ),
            "auto probed again",
        );
        assert.deepStrictEqual(
            updated.outs.copied,
            { manifests: 0, copied: 0, bytes: 0, mounted: 0, present: 12 },
            "the repair copied more than the tag",
        );
    });
});

describe("IndexManifest lifecycle: children checked at preview", () => {
    let reg: FakeRegistry;
    before(async () => {
        reg = await new FakeRegistry().start();
    });
    after(() => reg.stop());

    const inputs = (sources: string[], over: Partial<IndexManifestInputs> = {}): IndexManifestInputs => ({
        tag: `${reg.addr}/joined:1.0`,
        sources,
        push: true,
        manifest: "index",
        verify: true,
        deleteOnDestroy: false,
        ...over,
    });

    it("refuses a platform given twice and a child whose config says another platform, each on its source", async () => {
        const a = seedImage(reg, "a"),
            b = seedImage(reg, "b", 64, "other");
        let r = await quiet(() =>
            indexProvider.check(
                {},
                inputs([`${reg.addr}/a@${a.platforms["linux/amd64"]}`, `${reg.addr}/b@${b.digest}`]),
            ),
        );
        assert.deepStrictEqual(r.value.failures, [
            {
                property: "sources",
                reason: "preview: sources[0] and sources[1] both hold linux/amd64: give one image per platform",
            },
        ]);
        // An index entry that claims arm64 for the amd64 image.
        const wrong = reg.putManifestDirect("a", "sha256:", INDEX, {
            schemaVersion: 2,
            mediaType: INDEX,
            manifests: [
                {
                    mediaType: "application/vnd.oci.image.manifest.v1+json",
                    digest: a.platforms["linux/amd64"],
                    size: reg.manifest("a", a.platforms["linux/amd64"])!.raw.length,
                    platform: { os: "linux", architecture: "arm64" },
                },
            ],
        });
        r = await quiet(() => indexProvider.check({}, inputs([`${reg.addr}/a@${wrong}`])));
        assert.deepStrictEqual(r.value.failures, [
            {
                property: "sources[0]",
                reason: `${a.platforms["linux/amd64"]} is listed as linux/arm64, but its image config says linux/amd64: give the image built for linux/arm64`,
            },
        ]);
        r = await quiet(() =>
            indexProvider.check(
                {},
                inputs([`${reg.addr}/a@${a.platforms["linux/amd64"]}`, `${reg.addr}/b@${b.platforms["linux/arm64"]}`]),
            ),
        );
        assert.deepStrictEqual(r.value.failures, []);
        assert.strictEqual(r.value.inputs.plan.length, 2);
    });

    it("assembles an OCI index in the order of the sources, with the attestations a source index held for them", async () => {
        const a = seedImage(reg, "att");
        const source = (digest: string) =>
            ({
                root: { role: "index", body: JSON.parse(reg.manifest("att", a.digest)!.raw.toString()) },
                digest,
            }) as any;
        const child = (p: string) =>
            ({
                source: 0,
                platform: p,
                manifest: {
                    digest: a.platforms[p],
                    mediaType: "application/vnd.oci.image.manifest.v1+json",
                    raw: reg.manifest("att", a.platforms[p])!.raw,
                },
                image: source(a.digest),
            }) as any;
        const shared = source(a.digest);
        const index = assembleIndex([
            { ...child("linux/arm64"), image: shared },
            { ...child("linux/amd64"), image: shared },
        ]);
        const body = JSON.parse(index.raw.toString());
        assert.strictEqual(body.mediaType, INDEX);
        assert.deepStrictEqual(
            body.manifests.slice(0, 2).map((m: any) => m.platform.architecture),
            ["arm64", "amd64"],
        );
        assert.strictEqual(
            body.manifests.filter((m: any) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest")
                .length,
            2,
        );
        assert.strictEqual(index.digest, sha256(index.raw));
    });
});

describe("Image lifecycle: the verification record of an older state", () => {
    let reg: FakeRegistry;
    before(async () => {
        reg = await new FakeRegistry().start();
    });
    after(() => reg.stop());

    it("an image verified before records gets one on the next up, and nothing is built", async () => {
        const img = seedImage(reg, "hello");
        reg.putManifestDirect("hello", "1.0", INDEX, reg.manifest("hello", img.digest)!.raw);
        const olds: any = {
            tags: [`${reg.addr}/hello:1.0`],
            push: true,
            verify: true,
            manifest: "index",
            manifestMode: "index",
            builder: "pm-unit-none",
            digest: img.digest,
            ref: `${reg.addr}/hello@${img.digest}`,
            platformDigests: img.platforms,
            platforms: Object.keys(img.platforms),
            verification: Object.fromEntries(Object.keys(img.platforms).map((p) => [p, `ok: config ${p}`])),
        };
        const news = { ...olds };
        for (const k of ["digest", "ref", "platformDigests", "verification", "manifestMode"]) delete news[k];
        assert.strictEqual((await imageProvider.diff("id", olds, news)).changes, true);
        const { value } = await quiet(() => imageProvider.update("id", olds, news));
        const found = await findRecords({ client: new Registry(reg.addr), repository: "hello" }, img.digest);
        assert.deepStrictEqual(
            found.map((f) => f.digest),
            [value.outs.verificationRecord],
        );
        assert.strictEqual(value.outs.digest, img.digest);
        assert.strictEqual(
            (await imageProvider.diff("id", value.outs, news)).changes,
            false,
            "the next up still wants a record",
        );
    });
});
