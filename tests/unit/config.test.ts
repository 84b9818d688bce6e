// The main job's stack config: typed, defaulted, and refused with the key and the fix.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { readStackConfig } from "../../config";

const from = (o: Record<string, string>) => (k: string) => o[k];

describe("stack config", () => {
    it("reads Pulumi.dev.yaml's values", () => {
        const yaml = fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8");
        const get = (k: string) => {
            const m = new RegExp(`^  pulumi-multiarch:${k}: (.*)$`, "m").exec(yaml);
            return m ? m[1].replace(/^"(.*)"$/, "$1") : undefined;
        };
        const c = readStackConfig(get);
        assert.deepStrictEqual(c.platforms, ["linux/amd64", "linux/arm64"]);
        assert.strictEqual(c.manifest, "index");
        assert.strictEqual(c.registry, "127.0.0.1:5000");
        assert.strictEqual(c.tag, "1.0");
    });

    it("refuses bad values, naming every key and the command that fixes it", () => {
        assert.throws(() => readStackConfig(from({ platforms: "linux/arm64", manifest: "lists", binfmtMethod: "vm", registry: "http://x" })), (e: Error) => {
            const lines = e.message.split("\n").slice(1).map((l) => l.trim());
            assert.strictEqual(lines.length, 4);
            assert.match(lines[0], /^pulumi-multiarch:platforms must be a JSON list .*pulumi config set pulumi-multiarch:platforms/);
            assert.match(lines[1], /^pulumi-multiarch:manifest "lists" is not a manifest mode \(index, per-arch-tags, auto\)/);
            assert.match(lines[2], /^pulumi-multiarch:binfmtMethod "vm"/);
            assert.match(lines[3], /^pulumi-multiarch:registry "http:\/\/x" is not host\[:port\]/);
            return true;
        });
        assert.throws(() => readStackConfig(from({})), /pulumi-multiarch:platforms is missing/);
    });
});
