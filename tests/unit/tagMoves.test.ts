// The tag move, all or none across registries (plugin/resources/targets.ts moveTags), against
// in-process registries: a registry that refuses one tag leaves every other tag where it was,
// and the error says what was put back and what could not be.
import * as assert from "assert";

import { Registry } from "../../core/registry";
import { moveTags, type TagMove } from "../../provider/resources/tagMoves";
import { type Target } from "../../provider/resources/targets";
import { FakeRegistry, seedImage } from "../support/fakeRegistry";

const INDEX = "application/vnd.oci.image.index.v1+json";
const NO_RETRY = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };

describe("tag moves across registries: all or none", () => {
    let a: FakeRegistry, b: FakeRegistry;
    beforeEach(async () => {
        a = await new FakeRegistry().start();
        b = await new FakeRegistry().start();
    });
    afterEach(async () => {
        await a.stop();
        await b.stop();
    });

    const target = (r: FakeRegistry, repository: string): Target => ({
        registry: r.addr,
        repository,
        repo: `${r.addr}/${repository}`,
        tags: [],
        client: new Registry(r.addr, { retry: NO_RETRY }),
    });
    /** A new build in `repo` of `r`, and the move of `tag` to it. */
    function moveTo(r: FakeRegistry, repository: string, tag: string, salt: string): { move: TagMove; digest: string } {
        const img = seedImage(r, repository, 64, salt);
        return {
            move: {
                target: target(r, repository),
                tag,
                raw: r.manifest(repository, img.digest)!.raw,
                mediaType: INDEX,
            },
            digest: img.digest,
        };
    }
    /** `tag` already on an older build. */
    function tagged(r: FakeRegistry, repository: string, tag: string): string {
        const old = seedImage(r, repository, 64, `old-${tag}`);
        r.putManifestDirect(repository, tag, INDEX, r.manifest(repository, old.digest)!.raw);
        return old.digest;
    }

    it("moves every tag in every registry when all accept", async () => {
        const x = moveTo(a, "app", "1.0", "n"),
            y = moveTo(b, "app", "1.0", "n");
        await moveTags([x.move, y.move]);
        assert.strictEqual(a.tagged("app", "1.0"), x.digest);
        assert.strictEqual(b.tagged("app", "1.0"), y.digest);
    });

    it("a registry that refuses the last tag: the tags already moved elsewhere go back where they were", async () => {
        const oldA = tagged(a, "app", "1.0"),
            oldLatest = tagged(a, "app", "latest"),
            oldB = tagged(b, "app", "1.0");
        const x = moveTo(a, "app", "1.0", "n"),
            l = moveTo(a, "app", "latest", "n"),
            y = moveTo(b, "app", "1.0", "n");
        b.opts.fault = { match: /^PUT \/v2\/app\/manifests\/1\.0$/, status: 400, times: 1 };
        await assert.rejects(moveTags([x.move, l.move, y.move]), (e: Error) => {
            assert.match(e.message, new RegExp(`moving tag ${b.addr}/app:1.0 failed`));
            assert.match(
                e.message,
                new RegExp(
                    `put ${a.addr}/app:1.0, ${a.addr}/app:latest back where they were, so no tag moved to this build`,
                ),
            );
            return true;
        });
        assert.deepStrictEqual(
            [a.tagged("app", "1.0"), a.tagged("app", "latest"), b.tagged("app", "1.0")],
            [oldA, oldLatest, oldB],
        );
    });

    it("a tag that did not exist before cannot be untagged: the error says it is newer than the others", async () => {
        const oldB = tagged(b, "app", "1.0");
        const x = moveTo(a, "app", "1.0", "n"),
            y = moveTo(b, "app", "1.0", "n");
        b.opts.fault = { match: /^PUT \/v2\/app\/manifests\/1\.0$/, status: 503, times: 1 };
        await assert.rejects(moveTags([x.move, y.move]), (e: Error) => {
            assert.match(
                e.message,
                new RegExp(`NOT put back, so newer than the others: ${a.addr}/app:1.0 \\(it did not exist before`),
            );
            assert.match(e.message, /run `pulumi up` again to move them all/);
            return true;
        });
        assert.strictEqual(a.tagged("app", "1.0"), x.digest);
        assert.strictEqual(b.tagged("app", "1.0"), oldB);
    });
});
