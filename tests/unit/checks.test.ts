// BuildKit's Dockerfile checks on the program side (components/multiArchImage.ts): asked at
// preview, remembered per Dockerfile, and at an update (`up`'s second run, or `up
// --skip-preview`) asked only with strict. `docker` is a recording stand-in on PATH, so what
// the program would start is seen without a builder; Pulumi's mocks stand in for the engine.
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { MultiArchImage } from "../../components";

const mocks = (seen: Record<string, Record<string, unknown>>): pulumi.runtime.Mocks => ({
    newResource: (a) => {
        seen[a.type] = a.inputs as Record<string, unknown>;
        return { id: `${a.name}-id`, state: a.inputs as Record<string, unknown> };
    },
    call: () => ({}),
});

describe("BuildKit's Dockerfile checks, asked by the program", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-checks-"));
    const bin = path.join(dir, "bin"),
        log = path.join(dir, "docker.log"),
        ctx = path.join(dir, "ctx");
    // A builder name of this run only, so no finding of another run is remembered.
    const builder = `pm-checks-${process.pid}-${Date.now()}`;
    const path0 = process.env.PATH;
    const finding = JSON.stringify({
        warnings: [
            {
                ruleName: "FromAsCasing",
                description: "d",
                detail: "as and FROM keywords casing do not match",
                location: { ranges: [{ start: { line: 1 } }] },
            },
        ],
    });

    before(() => {
        fs.mkdirSync(bin);
        fs.mkdirSync(ctx);
        fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM scratch as base\nCOPY . /\n");
        // `buildx ls` lists the builder; `buildx build --call=check` prints one finding.
        fs.writeFileSync(
            path.join(bin, "docker"),
            `#!/bin/sh
echo "$*" >> '${log}'
case "$*" in
  *"buildx ls"*) echo '{"Name":"${builder}","Driver":"docker-container","Nodes":[]}' ;;
  *"--call check"*) echo '${finding}' ;;
esac
`,
            { mode: 0o755 },
        );
        process.env.PATH = `${bin}:${path0}`;
    });
    after(async () => {
        process.env.PATH = path0;
        fs.rmSync(dir, { recursive: true, force: true });
        // As the other unit files set them (an update, not a preview).
        await pulumi.runtime.setMocks(mocks({}), "pulumi-multiarch", "unit");
    });

    /** The Image's buildkitChecks input and the docker commands run, for a program run as a preview or an update. */
    async function programRun(preview: boolean, strict = false): Promise<{ checks: string[]; docker: string[] }> {
        fs.rmSync(log, { force: true });
        const seen: Record<string, Record<string, unknown>> = {};
        await pulumi.runtime.setMocks(mocks(seen), "pulumi-multiarch", "unit", preview);
        const img = new MultiArchImage(`img-${preview}-${strict}`, {
            context: ctx,
            platforms: ["linux/amd64", "linux/arm64"],
            tags: ["localhost:5000/x:1"],
            builder: { name: builder },
            strict,
        });
        // The image is registered once its inputs (the checks among them) are known.
        for (let i = 0; i < 200 && !seen["multiarch:index:Image"]; i++) await new Promise((r) => setTimeout(r, 50));
        void img;
        const docker = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
        return { checks: seen["multiarch:index:Image"].buildkitChecks as string[], docker };
    }

    it("an update asks nothing it has not asked at preview; strict asks before it builds", async function () {
        this.timeout(30_000);
        let r = await programRun(false);
        assert.deepStrictEqual(
            r,
            { checks: [], docker: [] },
            "an update without a preview before it: no docker at all",
        );
        r = await programRun(false, true);
        assert.strictEqual(
            r.docker.filter((c) => c.includes("--call check")).length,
            2,
            `strict: ${r.docker.join(" | ")}`,
        );
        assert.strictEqual(r.checks.length, 1);
        assert.match(r.checks[0], /Dockerfile:1: .*\[BuildKit FromAsCasing/);
    });

    it("a preview asks once per platform, then the same Dockerfile is remembered: no docker, the same findings", async function () {
        this.timeout(30_000);
        fs.appendFileSync(path.join(ctx, "Dockerfile"), "# another Dockerfile\n");
        let r = await programRun(true);
        assert.deepStrictEqual(
            r.docker.map((c) => c.split(" ").slice(0, 3).join(" ")).sort(),
            ["buildx build --builder", "buildx build --builder", "buildx ls --format"],
            r.docker.join(" | "),
        );
        const findings = r.checks;
        assert.strictEqual(findings.length, 1);
        r = await programRun(true);
        assert.deepStrictEqual(r, { checks: findings, docker: [] }, "the next preview: remembered");
        r = await programRun(false);
        assert.deepStrictEqual(r, { checks: findings, docker: [] }, "the update after it: remembered");
    });
});
