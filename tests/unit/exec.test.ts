// The exec seam on real processes: an aborted call stops its child and settles only once the
// child has exited (a build that failed on one platform stops the others this way); a child's
// environment holds none of Pulumi's variables; stopAll stops every live child.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { childEnv, run } from "../../core/exec";

const ROOT = path.join(__dirname, "..", "..");

describe("exec seam", () => {
    it("an aborted run stops the child and rejects after it exited", async () => {
        const stop = new AbortController();
        const t0 = Date.now();
        let pid = 0; // the shell's pid, which exec hands to sleep
        const pending = run("sh", ["-c", "echo $$; exec sleep 30"], {
            signal: stop.signal,
            onLine: (l) => {
                pid = Number(l);
                stop.abort();
            },
        });
        await assert.rejects(pending, /failed with exit code/);
        assert.ok(Date.now() - t0 < 10_000, "the child was not stopped");
        assert.ok(pid > 0, "the child did not print its pid");
        // Only this child: other suites on the machine may run a sleep 30 of their own.
        assert.ok(!fs.existsSync(`/proc/${pid}`), `sleep 30 (pid ${pid}) outlived the aborted run`);
    });

    it("a run that is not aborted is untouched by the signal", async () => {
        const r = await run("sh", ["-c", "echo ok"], { signal: new AbortController().signal });
        assert.strictEqual(r.stdout.trim(), "ok");
    });
});

describe("exec seam: what a child gets", () => {
    it("no Pulumi variable (the stack's config, the engine's token, the passphrase), what docker needs, and its own secrets", async () => {
        const before = { ...process.env };
        Object.assign(process.env, {
            PULUMI_CONFIG: '{"proj:key":"config-secret"}',
            PULUMI_CONFIG_SECRET_KEYS: '["proj:key"]',
            PULUMI_ACCESS_TOKEN: "pul-token",
            PULUMI_CONFIG_PASSPHRASE: "passphrase",
            DOCKER_CONFIG: "/d",
            HTTPS_PROXY: "http://p:3128",
        });
        try {
            const env = (await run("sh", ["-c", "env"], { env: { OWN_SECRET: "mine" } })).stdout;
            assert.deepStrictEqual(
                env.split("\n").filter((l) => /^PULUMI_/i.test(l)),
                [],
            );
            assert.ok(!/config-secret|pul-token|passphrase/.test(env), "a Pulumi secret reached the child");
            for (const kept of [
                `PATH=${process.env.PATH}`,
                `HOME=${process.env.HOME}`,
                "DOCKER_CONFIG=/d",
                "HTTPS_PROXY=http://p:3128",
                "OWN_SECRET=mine",
            ]) {
                assert.ok(env.split("\n").includes(kept), `${kept} is missing`);
            }
        } finally {
            for (const k of Object.keys(process.env)) if (!(k in before)) delete process.env[k];
        }
    });

    it("childEnv keeps docker's, buildx's, proxies', locale and SSH variables and drops PULUMI_*", () => {
        const env = childEnv(
            { OWN: "1" },
            {
                PATH: "/bin",
                HOME: "/h",
                DOCKER_HOST: "unix:///s",
                BUILDX_CONFIG: "/b",
                BUILDKIT_PROGRESS: "plain",
                no_proxy: "localhost",
                LANG: "C.UTF-8",
                SSH_AUTH_SOCK: "/a",
                TMPDIR: "/t",
                PULUMI_NODEJS_MONITOR: "127.0.0.1:1",
                pulumi_home: "/p",
            },
        );
        assert.deepStrictEqual(Object.keys(env).sort(), [
            "BUILDKIT_PROGRESS",
            "BUILDX_CONFIG",
            "DOCKER_HOST",
            "HOME",
            "LANG",
            "OWN",
            "PATH",
            "SSH_AUTH_SOCK",
            "TMPDIR",
            "no_proxy",
        ]);
    });
});

describe("exec seam: stopping every live child", () => {
    // stopAll refuses every later run in its process, so it runs in a process of its own.
    it("stops every live child, reports them stopped, and refuses new ones", function () {
        this.timeout(60_000);
        const script = `
            const exec = require(${JSON.stringify(path.join(ROOT, "core/exec"))});
            const a = exec.run("sleep", ["31"]).catch((e) => e.message);
            const b = exec.run("sh", ["-c", "trap '' TERM; exec sleep 32"]).catch((e) => e.message); // ignores SIGTERM
            setTimeout(async () => {
                const pids = exec.liveChildren();
                const t0 = Date.now();
                await exec.stopAll("the update was cancelled", 500);
                const later = await exec.run("true", []).catch((e) => e.message);
                console.log(JSON.stringify({ pids, left: exec.liveChildren(), ms: Date.now() - t0, a: await a, b: await b, later, reason: exec.stopReason() }));
            }, 300);`;
        const out = JSON.parse(
            execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
                cwd: ROOT,
                encoding: "utf8",
            }),
        );
        assert.strictEqual(out.pids.length, 2);
        assert.deepStrictEqual(out.left, []);
        assert.ok(out.ms < 10_000, `stopping took ${out.ms} ms`);
        assert.strictEqual(out.a, "`sleep 31` was stopped: the update was cancelled");
        assert.strictEqual(
            out.b,
            "`sh` was stopped: the update was cancelled",
            "a child that ignores SIGTERM is killed",
        );
        assert.strictEqual(out.later, "`true` was not started: the update was cancelled");
        assert.strictEqual(out.reason, "the update was cancelled");
        for (const pid of out.pids)
            assert.ok(
                !fs.existsSync(`/proc/${pid}`) || /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")),
                `${pid} still runs`,
            );
    });
});
