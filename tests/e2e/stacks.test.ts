// The committed stacks other than dev and multinode (slice.test.ts and fleet.test.ts prove
// those): company goes up through the README's own command (`npm run up`, in a copy of this
// clone, which it must leave as it was), is verified (platforms, architecture, what the
// registry holds) and is destroyed cleanly; a bad config value is refused at preview.
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { builderGone, CACHE, requireRealParts, runImage } from "../support/env";
import { imageConfig, manifest } from "../support/registry";
import { committedStack, disposeCommitted, failure } from "../support/stack";
import { UserMachine } from "../support/userMachine";

const tag = `e2e-${Date.now()}`;
const run = (platform: string, ref: string) => runImage(platform, ref);

describe("stack company (Pulumi.company.yaml), a registry without manifest lists, through `npm run up` in a copy of this clone", function () {
    const REG = "127.0.0.1:5003";
    const STACK = "e2e-npm-company";
    let m: UserMachine;
    let copy: string;
    // The README's command as a user runs it: their HOME (buildx, the fleet's PKI), their shell's PATH.
    const inCopy = (script: string) => m.bash(script, { HOME: os.homedir(), PULUMI_MULTIARCH_CACHE: CACHE }, copy);
    const pulumiJson = (args: string) => JSON.parse(inCopy(`source scripts/env.sh && pulumi ${args} --json`).stdout);

    before(() => {
        requireRealParts();
        m = new UserMachine();
        copy = m.copyOfClone();
        // The committed stack under a name and repository of the test's own, committed in the copy.
        const yaml = fs
            .readFileSync(path.join(copy, "Pulumi.company.yaml"), "utf8")
            .replace(/^( {2}pulumi-multiarch:repository:).*$/m, "$1 e2e/company")
            .replace(/^( {2}pulumi-multiarch:tag:).*$/m, `$1 "${tag}"`);
        fs.writeFileSync(path.join(copy, `Pulumi.${STACK}.yaml`), yaml);
        const git = (...args: string[]) =>
            execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: copy, stdio: "pipe" });
        git("add", "-f", `Pulumi.${STACK}.yaml`); // Pulumi.e2e-*.yaml is git-ignored in this repository
        git("commit", "-qm", "the test's stack");
    });
    after(() => {
        if (copy)
            inCopy(`source scripts/env.sh && pulumi destroy --yes --stack ${STACK} && pulumi stack rm --yes ${STACK}`);
        m?.remove();
    });

    it("goes up: one per-architecture tag, an arm64 image from the explicit arm64 base; the clone's tracked files are as they were", async () => {
        const r = inCopy(`STACK=${STACK} npm run up`);
        assert.strictEqual(r.status, 0, `${r.stdout}\n${r.stderr}`);
        assert.strictEqual(
            execFileSync("git", ["status", "--porcelain"], { cwd: copy, encoding: "utf8" }),
            "",
            "npm run up changed tracked files",
        );
        const o = pulumiJson(`stack output --stack ${STACK}`);
        assert.deepStrictEqual(o.tags, [`${REG}/e2e/company:${tag}-arm64`]);
        assert.deepStrictEqual(Object.keys(o.platformDigests), ["linux/arm64"]);
        const mf = await manifest(REG, "e2e/company", `${tag}-arm64`);
        assert.strictEqual(mf.status, 200);
        assert.strictEqual(mf.mediaType, "application/vnd.oci.image.manifest.v1+json", "a single image, not a list");
        assert.strictEqual((await imageConfig(REG, "e2e/company", mf)).architecture, "arm64");
        assert.strictEqual(
            (await manifest(REG, "e2e/company", tag)).status,
            404,
            "no plain tag: the registry keeps no lists",
        );
        const out = run("linux/arm64", `${REG}/e2e/company:${tag}-arm64`);
        assert.match(out, /^Hello from linux\/arm64$/m);
        assert.match(out, /^machine: aarch64$/m);
    });

    it("a second `npm run up` changes nothing", () => {
        const r = inCopy(`STACK=${STACK} npm run up`);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /^ {4}7 unchanged$/m);
    });

    it("destroys cleanly: the builder is gone", () => {
        const name = pulumiJson(`stack output --stack ${STACK}`).builderName;
        const r = inCopy(`source scripts/env.sh && pulumi destroy --yes --stack ${STACK}`);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.ok(builderGone(name), `builder ${name} is still listed`);
    });
});

describe("a stack with a bad config value", function () {
    let stack: Stack;
    before(async () => {
        requireRealParts();
        stack = await committedStack("dev", {
            repository: "e2e/badconfig",
            platforms: "linux/arm64",
            manifest: "lists",
        });
    });
    after(() => disposeCommitted(stack));

    it("fails at preview naming each key and the command that fixes it; nothing is created", async () => {
        const text = await failure(() => stack.preview({ onOutput: () => {} }));
        assert.match(
            text,
            /pulumi-multiarch:platforms must be a JSON list of platforms, got linux\/arm64: set it with `pulumi config set pulumi-multiarch:platforms '\["linux\/amd64","linux\/arm64"\]'`/,
        );
        assert.match(text, /pulumi-multiarch:manifest "lists" is not a manifest mode \(index, per-arch-tags, auto\)/);
        const state = JSON.parse(JSON.stringify((await stack.exportStack()).deployment));
        assert.deepStrictEqual(state.resources ?? [], []);
    });
});
