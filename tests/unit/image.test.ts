// MultiArchImage's pure parts: the buildx argv (secrets only in env), per-arch tags.
import * as assert from "assert";
import { buildArgs } from "../../components/core/buildx";
import { perArchTag } from "../../components/plugin/resources/image";

describe("image build argv", () => {
    const base = { builder: "b", context: "./app", dockerfile: "app/Dockerfile", platforms: ["linux/amd64", "linux/arm64"], buildArgs: { V: "1" } };

    it("pushes by digest only: no tag on the command line", () => {
        const { args } = buildArgs({ ...base, pushRepositories: ["127.0.0.1:5000/hello"] }, "/tmp/m.json");
        assert.ok(args.includes("type=image,name=127.0.0.1:5000/hello,push-by-digest=true,name-canonical=true,push=true"));
        // Several repositories: one name= field, quoted as buildx's CSV parser reads it.
        const two = buildArgs({ ...base, pushRepositories: ["127.0.0.1:5000/hello", "127.0.0.1:5003/team/hello"] }, "/m").args;
        assert.ok(two.includes(`type=image,"name=127.0.0.1:5000/hello,127.0.0.1:5003/team/hello",push-by-digest=true,name-canonical=true,push=true`));
        assert.ok(!args.includes("--tag") && !args.includes("--push"));
        assert.deepStrictEqual(args.slice(0, 14), ["buildx", "build", "--builder", "b", "--platform", "linux/amd64,linux/arm64", "--file", "app/Dockerfile", "--metadata-file", "/tmp/m.json", "--progress", "plain", "--provenance=false", "--build-arg"]);
    });

    it("passes build secrets through the environment, never argv", () => {
        const { args, env } = buildArgs({ ...base, secrets: { npm: "TOKEN-VALUE", aws: "KEY-VALUE" } }, "/tmp/m.json");
        assert.ok(!args.join(" ").includes("VALUE"));
        assert.deepStrictEqual(args.filter((a) => a.startsWith("id=")), ["id=aws,env=PULUMI_MULTIARCH_SECRET_0", "id=npm,env=PULUMI_MULTIARCH_SECRET_1"]);
        assert.deepStrictEqual(env, { PULUMI_MULTIARCH_SECRET_0: "KEY-VALUE", PULUMI_MULTIARCH_SECRET_1: "TOKEN-VALUE" });
    });

    it("maps the switches", () => {
        const { args } = buildArgs({ ...base, noCache: true, pull: true, sbom: true, provenance: true, target: "build",
            cacheFrom: ["type=registry,ref=r/c:amd64"], cacheTo: ["type=registry,ref=r/c:amd64,mode=max"], ssh: ["default"],
            labels: { a: "1" }, annotations: { "org.opencontainers.image.source": "x" } }, "/m");
        for (const want of [["--no-cache"], ["--pull"], ["--sbom=true"], ["--provenance=true"], ["--target", "build"], ["--ssh", "default"],
            ["--cache-from", "type=registry,ref=r/c:amd64"], ["--cache-to", "type=registry,ref=r/c:amd64,mode=max"], ["--label", "a=1"],
            ["--annotation", "org.opencontainers.image.source=x"]]) {
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
