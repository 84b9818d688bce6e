// Dockerfile lint on the article's Dockerfiles and the cross-compiling app.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

import { lintDockerfile } from "../../core/lint";

const df = (name: string) => fs.readFileSync(path.join(__dirname, "..", "fixtures", "dockerfiles", name), "utf8");
const rules = (text: string, platforms: string[]) => lintDockerfile(text, platforms).map((f) => `${f.line}:${f.rule}`);

describe("Dockerfile lint", () => {
    it("the app's cross-compiling Dockerfile is clean for amd64+arm64", () => {
        assert.deepStrictEqual(
            rules(fs.readFileSync(path.join(__dirname, "..", "..", "app", "Dockerfile"), "utf8"), [
                "linux/amd64",
                "linux/arm64",
            ]),
            [],
        );
    });

    it("article, GOARCH=amd64: fine for amd64, wrong for arm64", () => {
        assert.deepStrictEqual(rules(df("article-amd64.Dockerfile"), ["linux/amd64"]), []);
        const f = lintDockerfile(df("article-amd64.Dockerfile"), ["linux/amd64", "linux/arm64"]);
        assert.deepStrictEqual(
            f.map((x) => `${x.line}:${x.rule}`),
            ["5:hardcoded-goarch"],
        );
        assert.match(f[0].message, /GOARCH=amd64, but the targets include linux\/arm64: .*use GOARCH=\$TARGETARCH/);
    });

    it("article, company registry: the arm64-only final base is right for arm64 alone, flagged for amd64", () => {
        assert.deepStrictEqual(rules(df("article-company.Dockerfile"), ["linux/arm64"]), []);
        assert.deepStrictEqual(rules(df("article-company.Dockerfile"), ["linux/amd64"]), [
            "7:arch-specific-image",
            "5:hardcoded-goarch",
        ]);
    });

    it("a final stage pinned to a constant: the article's pitfall, said as what it means, standing in for BuildKit's rule", () => {
        const [f] = lintDockerfile(df("pinned-final.Dockerfile"), ["linux/amd64", "linux/arm64"]);
        assert.deepStrictEqual(
            [f.line, f.rule, f.buildkitRule],
            [4, "final-stage-platform", "FromPlatformFlagConstDisallowed"],
        );
        assert.strictEqual(
            f.message,
            "the final stage pins --platform=linux/amd64: every other target (linux/arm64) gets linux/amd64's base and fails at docker run " +
                'with "exec format error" (the last FROM must match the target); drop --platform from the last FROM',
        );
        // Pinned to the one target platform: nothing goes wrong (BuildKit still objects to the constant).
        assert.deepStrictEqual(lintDockerfile(df("pinned-final.Dockerfile"), ["linux/amd64"]), []);
    });

    it("a final stage pinned to the build platform: the article's pitfall (BuildKit accepts a variable)", () => {
        const f = lintDockerfile(
            df("pinned-final.Dockerfile").replace("--platform=linux/amd64", "--platform=$BUILDPLATFORM"),
            ["linux/amd64", "linux/arm64"],
        );
        assert.deepStrictEqual(
            f.map((x) => `${x.line}:${x.rule}`),
            ["4:final-stage-platform"],
        );
        assert.match(f[0].message, /pins --platform=\$BUILDPLATFORM.*exec format error/);
    });
});
