// scripts/versions.env is the one place a version is bumped: the generated module is current,
// and what must name a version elsewhere (stack files users edit, the schema's docs) names it.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { DEFAULT_BUILDKIT_IMAGE } from "../../components/buildxBuilder";
import { LOCAL_BUILDKIT_IMAGE, PULUMI_VERSION } from "../../core/versions";
import { parse, render, SOURCE, TARGET } from "../../scripts/versions";

const ROOT = path.resolve(__dirname, "..", "..");
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), "utf8");

describe("versions, from scripts/versions.env", () => {
    it("core/versions.ts is what `npm run versions` writes", () => {
        assert.strictEqual(
            fs.readFileSync(TARGET, "utf8"),
            render(parse(fs.readFileSync(SOURCE, "utf8"))),
            "run `npm run versions`",
        );
    });

    it("refuses a line bash would expand or a reader would misread", () => {
        assert.deepStrictEqual(parse("# c\n\nA=1.2.3\n"), { A: "1.2.3" });
        for (const bad of ['A="1"', "A=$B", "a=1", "A = 1"]) assert.throws(() => parse(bad), /is not NAME=value/, bad);
    });

    it("the stack files, the schema's docs and @pulumi/pulumi name the pinned versions", () => {
        for (const f of fs.readdirSync(ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) {
            for (const m of read(f).matchAll(/buildkitImage: (\S+)/g))
                assert.strictEqual(m[1], LOCAL_BUILDKIT_IMAGE, `${f}: set buildkitImage to ${LOCAL_BUILDKIT_IMAGE}`);
        }
        assert.ok(
            read("contract/schema.json").includes(DEFAULT_BUILDKIT_IMAGE),
            `the BuildxBuilder image's JSDoc should name ${DEFAULT_BUILDKIT_IMAGE}; then npm run schema`,
        );
        assert.strictEqual(
            JSON.parse(read("package.json")).dependencies["@pulumi/pulumi"],
            PULUMI_VERSION,
            "@pulumi/pulumi must match PULUMI_VERSION",
        );
    });
});

describe("the tools cache's folder", () => {
    it("is the same in scripts/lib.sh and tests/support/cache.ts, for each way a user sets it", () => {
        const cases: Record<string, string>[] = [
            { HOME: "/h" },
            { HOME: "/h", XDG_CACHE_HOME: "/x" },
            { HOME: "/h", XDG_CACHE_HOME: "/x", PULUMI_MULTIARCH_CACHE: "/c" },
        ];
        for (const env of cases) {
            const bash = execFileSync("bash", ["-c", 'source scripts/lib.sh && printf %s "$CACHE"'], {
                cwd: ROOT,
                env: { PATH: process.env.PATH!, ...env },
            }).toString();
            const ts = execFileSync(
                process.execPath,
                [
                    "-r",
                    "ts-node/register/transpile-only",
                    "-e",
                    'process.stdout.write(require("./tests/support/cache").CACHE)',
                ],
                { cwd: ROOT, env: { PATH: process.env.PATH!, ...env } },
            ).toString();
            assert.strictEqual(ts, bash, JSON.stringify(env));
        }
    });
});
