// MultiArchImage's pure parts: the buildx argv (secrets only in env), per-arch tags, build secrets kept out of outputs.
import * as assert from "assert";

import { buildArgs } from "../../core/buildx";
import { imageProvider } from "../../provider/resources/image";
import { perArchTag } from "../../provider/resources/targets";
import { imageInputs } from "../support/imageInputs";

describe("image build argv", () => {
    const base = {
        builder: "b",
        context: "./app",
        dockerfile: "app/Dockerfile",
        platforms: ["linux/amd64", "linux/arm64"],
        buildArgs: { V: "1" },
    };

    it("pushes by digest only: no tag on the command line", () => {
        const { args } = buildArgs({ ...base, pushRepositories: ["127.0.0.1:5000/hello"] }, "/tmp/m.json");
        assert.ok(
            args.includes("type=image,name=127.0.0.1:5000/hello,push-by-digest=true,name-canonical=true,push=true"),
        );
        // Several repositories: one name= field, quoted as buildx's CSV parser reads it.
        const two = buildArgs(
            { ...base, pushRepositories: ["127.0.0.1:5000/hello", "127.0.0.1:5003/team/hello"] },
            "/m",
        ).args;
        assert.ok(
            two.includes(
                `type=image,"name=127.0.0.1:5000/hello,127.0.0.1:5003/team/hello",push-by-digest=true,name-canonical=true,push=true`,
            ),
        );
        assert.ok(!args.includes("--tag") && !args.includes("--push"));
        assert.deepStrictEqual(args.slice(0, 14), [
            "buildx",
            "build",
            "--builder",
            "b",
            "--platform",
            "linux/amd64,linux/arm64",
            "--file",
            "app/Dockerfile",
            "--metadata-file",
            "/tmp/m.json",
            "--progress",
            "plain",
            "--provenance=false",
            "--build-arg",
        ]);
    });

    it("passes build secrets through the environment, never argv", () => {
        const { args, env } = buildArgs({ ...base, secrets: { npm: "TOKEN-VALUE", aws: "KEY-VALUE" } }, "/tmp/m.json");
        assert.ok(!args.join(" ").includes("VALUE"));
        assert.deepStrictEqual(
            args.filter((a) => a.startsWith("id=")),
            ["id=aws,env=MULTIARCH_BUILD_SECRET_0", "id=npm,env=MULTIARCH_BUILD_SECRET_1"],
        );
        assert.deepStrictEqual(env, { MULTIARCH_BUILD_SECRET_0: "KEY-VALUE", MULTIARCH_BUILD_SECRET_1: "TOKEN-VALUE" });
    });

    it("maps the switches", () => {
        const { args } = buildArgs(
            {
                ...base,
                noCache: true,
                pull: true,
                sbom: true,
                provenance: true,
                target: "build",
                cacheFrom: ["type=registry,ref=r/c:amd64"],
                cacheTo: ["type=registry,ref=r/c:amd64,mode=max"],
                ssh: ["default"],
                labels: { a: "1" },
                annotations: { "org.opencontainers.image.source": "x" },
            },
            "/m",
        );
        for (const want of [
            ["--no-cache"],
            ["--pull"],
            ["--sbom=true"],
            ["--provenance=true"],
            ["--target", "build"],
            ["--ssh", "default"],
            ["--cache-from", "type=registry,ref=r/c:amd64"],
            ["--cache-to", "type=registry,ref=r/c:amd64,mode=max"],
            ["--label", "a=1"],
            ["--annotation", "org.opencontainers.image.source=x"],
        ]) {
            const i = args.indexOf(want[0]);
            assert.ok(i >= 0 && (want.length === 1 || args[i + 1] === want[1]), `missing ${want.join(" ")}`);
        }
    });
});

describe("per-arch tags", () => {
    it("suffixes the architecture and variant", () => {
        assert.strictEqual(perArchTag("r/h:1.0", "linux/amd64"), "r/h:1.0-amd64");
        assert.strictEqual(perArchTag("r/h:1.0", "linux/arm64"), "r/h:1.0-arm64");
        assert.strictEqual(perArchTag("r/h:1.0", "linux/arm/v7"), "r/h:1.0-armv7");
    });
});

describe("build secrets: compared at check, never an output", () => {
    const inputs = (secrets: Record<string, string>, rebuildOnSecretChange = true): any =>
        imageInputs({
            dockerfile: "app/Dockerfile",
            push: false,
            secrets,
            ...(rebuildOnSecretChange ? { rebuildOnSecretChange } : {}),
        });
    /** What the state's outputs hold after a build of `checked`: no secret values. */
    const outputsOf = (checked: any) => {
        const { secrets: _values, ...kept } = checked;
        return {
            ...kept,
            digest: "sha256:1",
            platformDigests: {},
            ref: "",
            pushedTags: [],
            manifestMode: "index",
            buildReason: ["create"],
            verification: {},
        };
    };
    const check = async (olds: any, news: any) => (await imageProvider.check(olds, news)).inputs;

    it("check counts the changes of the secrets' values (with rebuildOnSecretChange) and of their ids; diff rebuilds on one, whatever the order of the ids", async () => {
        const first = await check({}, inputs({ npm: "1", aws: "2" }));
        assert.strictEqual(first.secretsRevision, 0);
        const outs = outputsOf(first);
        const same = await check(first, inputs({ aws: "2", npm: "1" }));
        assert.strictEqual(same.secretsRevision, 0);
        assert.deepStrictEqual(await imageProvider.diff("i", outs, same), {
            changes: false,
            replaces: [],
            deleteBeforeReplace: false,
        });
        const changed = await check(first, inputs({ npm: "1", aws: "3" }));
        assert.strictEqual(changed.secretsRevision, 1);
        assert.strictEqual((await imageProvider.diff("i", outs, changed)).changes, true);
        assert.strictEqual(
            (await check({ ...first, secretsRevision: 4 }, inputs({ npm: "1" }))).secretsRevision,
            5,
            "an id removed is a change",
        );
        // Without the switch a rotated value is no change; an id removed still is.
        assert.strictEqual((await check(first, inputs({ npm: "1", aws: "3" }, false))).secretsRevision, 0);
        assert.strictEqual((await check(first, inputs({ npm: "1" }, false))).secretsRevision, 1);
    });

    it("outputs written before held the values: compared as they are, then rewritten without them by an update that builds nothing", async () => {
        const legacyInputs = inputs({ npm: "1" });
        const legacyOutputs = { ...outputsOf(legacyInputs), secrets: { npm: "1" } };
        delete legacyOutputs.secretsRevision;
        const news = await check(legacyInputs, inputs({ npm: "1" }));
        assert.strictEqual(
            (await imageProvider.diff("i", legacyOutputs, news)).changes,
            true,
            "the values would stay in the outputs",
        );
        // An update that built would run docker for builder "b", which does not exist: it would fail.
        const { outs } = await imageProvider.update("i", legacyOutputs, news);
        assert.ok(!("secrets" in outs), "the values are still in the outputs");
        assert.strictEqual(outs.digest, "sha256:1");
        assert.strictEqual(outs.secretsRevision, 0);
        const changed = await check(legacyInputs, inputs({ npm: "2" }));
        assert.deepStrictEqual(changed.secretsRevision, 1);
        assert.strictEqual((await imageProvider.diff("i", legacyOutputs, changed)).changes, true);
        const noSecrets = { ...outputsOf(inputs({})), secrets: {} };
        delete noSecrets.secretsRevision;
        assert.strictEqual(
            (await imageProvider.diff("i", noSecrets, await check(inputs({}), inputs({})))).changes,
            false,
            "no value to remove: no update",
        );
    });
});
