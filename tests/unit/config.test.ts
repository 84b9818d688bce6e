// The main job's stack config: typed, defaulted, and refused with the key and the fix.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

import { readStackConfig } from "../../config";

const from = (o: Record<string, string>) => (k: string) => o[k];

describe("stack config", () => {
    /** A getter over a committed Pulumi.<stack>.yaml's `pulumi-multiarch:` keys (one line each). */
    const committed = (stack: string) => {
        const yaml = fs.readFileSync(path.join(__dirname, "..", "..", `Pulumi.${stack}.yaml`), "utf8");
        return (k: string) => {
            const m = new RegExp(`^  pulumi-multiarch:${k}: (.*)$`, "m").exec(yaml);
            return m ? m[1].replace(/^"(.*)"$|^'(.*)'$/, "$1$2") : undefined;
        };
    };

    it("reads Pulumi.dev.yaml: a manifest list from a docker-container builder", () => {
        const c = readStackConfig(committed("dev"));
        assert.deepStrictEqual(c.platforms, ["linux/amd64", "linux/arm64"]);
        assert.strictEqual(c.manifest, "index");
        assert.strictEqual(c.registry, "127.0.0.1:5000");
        assert.strictEqual(c.tag, "1.0");
        assert.strictEqual(c.context, "./app");
        assert.strictEqual(c.dockerfile, undefined);
        assert.strictEqual(c.builderDriver, "docker-container");
    });

    it("reads Pulumi.company.yaml: per-arch tags, its own Dockerfile, arm64 only", () => {
        const c = readStackConfig(committed("company"));
        assert.deepStrictEqual(c.platforms, ["linux/arm64"]);
        assert.strictEqual(c.manifest, "per-arch-tags");
        assert.strictEqual(c.registry, "127.0.0.1:5003");
        assert.strictEqual(c.dockerfile, "app/Dockerfile.company");
        assert.ok(fs.existsSync(path.join(__dirname, "..", "..", c.dockerfile)));
    });

    it("reads Pulumi.prod.yaml: a promotion of stack dev's image to the company registry, auto; a bad stack name is refused", () => {
        const get = committed("prod");
        const c = readStackConfig((k) => (k === "platforms" ? '["linux/amd64","linux/arm64"]' : get(k)));
        assert.strictEqual(c.promoteFrom, "dev");
        assert.strictEqual(c.registry, "127.0.0.1:5003");
        assert.strictEqual(c.repository, "prod/hello");
        assert.strictEqual(c.manifest, "auto");
        assert.throws(
            () => readStackConfig(from({ platforms: '["linux/amd64"]', promoteFrom: "org/dev" })),
            /pulumi-multiarch:promoteFrom "org\/dev" is not a stack name of this project: set it with `pulumi config set pulumi-multiarch:promoteFrom dev`/,
        );
    });

    it("reads Pulumi.multinode.yaml: a remote builder with one tcp:// node per architecture, TLS secrets not committed", () => {
        const c = readStackConfig(committed("multinode"));
        assert.strictEqual(c.builderDriver, "remote");
        assert.deepStrictEqual(
            c.builderNodes.map((n) => [n.endpoint, n.platforms]),
            [
                ["tcp://127.0.1.1:1234", ["linux/amd64"]],
                ["tcp://127.0.2.1:1234", ["linux/arm64"]],
            ],
        );
        assert.strictEqual(c.builderTls, false, "the client's material is per machine: not in the stack file");
        assert.strictEqual(
            readStackConfig(committed("multinode"), () => false, "/home/me").builderTlsDir,
            "/home/me/.cache/pulumi-multiarch/fleet",
            "read at each run from the machine's files, ~ the user's home",
        );
        const withTls = (k: string) =>
            k === "builderTlsDir"
                ? undefined
                : k.startsWith("builderTls")
                  ? "-----BEGIN ..."
                  : committed("multinode")(k);
        assert.strictEqual(readStackConfig(withTls, () => true).builderTls, true);
        const both = (k: string) =>
            k.startsWith("builderTls") && k !== "builderTlsDir" ? "-----BEGIN ..." : committed("multinode")(k);
        assert.throws(
            () => readStackConfig(both, () => true),
            /pulumi-multiarch:builderTlsDir and pulumi-multiarch:builderTlsCa both give the TLS: keep one/,
        );
    });

    it("refuses TLS keys that are not all set, set in clear, or without a tcp:// node, with the command that fixes each", () => {
        const nodes = `[{"endpoint":"tcp://x:1234","platforms":["linux/arm64"]}]`;
        const base = { platforms: `["linux/arm64"]`, builderDriver: "remote", builderNodes: nodes };
        const secret =
            (...keys: string[]) =>
            (k: string) =>
                keys.includes(k);
        assert.throws(
            () => readStackConfig(from({ ...base, builderTlsCa: "pem" }), secret("builderTlsCa")),
            (e: Error) => {
                const lines = e.message
                    .split("\n")
                    .slice(1)
                    .map((l) => l.trim());
                assert.deepStrictEqual(lines, [
                    "pulumi-multiarch:builderTlsCert is missing (mutual TLS needs all of builderTlsCa, builderTlsCert, builderTlsKey): set it with `pulumi config set --secret pulumi-multiarch:builderTlsCert < client.pem`",
                    "pulumi-multiarch:builderTlsKey is missing (mutual TLS needs all of builderTlsCa, builderTlsCert, builderTlsKey): set it with `pulumi config set --secret pulumi-multiarch:builderTlsKey < client-key.pem`",
                ]);
                return true;
            },
        );
        const all = { ...base, builderTlsCa: "pem", builderTlsCert: "pem", builderTlsKey: "pem" };
        assert.throws(
            () => readStackConfig(from(all), secret("builderTlsCa", "builderTlsCert")),
            /pulumi-multiarch:builderTlsKey is not a secret \(its text is in Pulumi.<stack>.yaml in clear\): set it again with `pulumi config set --secret pulumi-multiarch:builderTlsKey < client-key.pem`/,
        );
        assert.throws(
            () =>
                readStackConfig(
                    from({ ...all, builderNodes: `[{"endpoint":"unix:///run/b.sock","platforms":["linux/arm64"]}]` }),
                    () => true,
                ),
            /pulumi-multiarch:builderTlsCa: TLS applies to tcp:\/\/ nodes of builderDriver "remote", and there are none/,
        );
        assert.doesNotThrow(() => readStackConfig(from(all), () => true));
    });

    it("refuses bad values, naming every key and the command that fixes it", () => {
        assert.throws(
            () =>
                readStackConfig(
                    from({ platforms: "linux/arm64", manifest: "lists", binfmtMethod: "vm", registry: "http://x" }),
                ),
            (e: Error) => {
                const lines = e.message
                    .split("\n")
                    .slice(1)
                    .map((l) => l.trim());
                assert.strictEqual(lines.length, 4);
                assert.match(
                    lines[0],
                    /^pulumi-multiarch:platforms must be a JSON list .*pulumi config set pulumi-multiarch:platforms/,
                );
                assert.match(
                    lines[1],
                    /^pulumi-multiarch:manifest "lists" is not a manifest mode \(index, per-arch-tags, auto\)/,
                );
                assert.match(lines[2], /^pulumi-multiarch:binfmtMethod "vm"/);
                assert.match(lines[3], /^pulumi-multiarch:registry "http:\/\/x" is not host\[:port\]/);
                return true;
            },
        );
        assert.throws(() => readStackConfig(from({})), /pulumi-multiarch:platforms is missing/);
    });

    it("refuses a builder config that cannot work, with the fix", () => {
        const platforms = `["linux/arm64"]`;
        assert.throws(
            () => readStackConfig(from({ platforms, builderDriver: "remote" })),
            /pulumi-multiarch:builderNodes is required for builderDriver "remote": set it with `pulumi config set pulumi-multiarch:builderNodes '\[\{"endpoint"/,
        );
        assert.throws(
            () => readStackConfig(from({ platforms, builderDriver: "remote", builderNodes: "[]" })),
            /builderNodes is required/,
        );
        assert.throws(
            () =>
                readStackConfig(
                    from({ platforms, builderDriver: "remote", builderNodes: `[{"endpoint":"tcp://x:1234"}]` }),
                ),
            /pulumi-multiarch:builderNodes must be a JSON list of \{name\?, endpoint, platforms\}, got \[\{"endpoint":"tcp:\/\/x:1234"\}\]/,
        );
        assert.throws(
            () => readStackConfig(from({ platforms, builderNodes: "[]" })),
            /builderNodes needs builderDriver "remote"/,
        );
        assert.throws(
            () =>
                readStackConfig(
                    from({
                        platforms,
                        builderDriver: "remote",
                        builderNodes: `[{"name":"a","endpoint":"tcp://x:1234","platforms":[]}]`,
                    }),
                ),
            /builderNodes\[0\]\.name: the first node is the builder's own, named <builder>0 by buildx/,
        );
        assert.throws(
            () => readStackConfig(from({ platforms, builderDriver: "kubernetes" })),
            /pulumi-multiarch:builderDriver "kubernetes" is not a driver this program supports \(docker-container, remote\)/,
        );
    });
});
