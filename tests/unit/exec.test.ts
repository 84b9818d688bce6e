// The exec seam on real processes: an aborted call stops its child and settles only once the
// child has exited (a build that failed on one platform stops the others this way).
import * as assert from "assert";
import * as fs from "fs";
import { run } from "../../components/core/exec";

describe("exec seam", () => {
    it("an aborted run stops the child and rejects after it exited", async () => {
        const stop = new AbortController();
        const t0 = Date.now();
        const pending = run("sh", ["-c", "echo $$; exec sleep 30"], { signal: stop.signal, onLine: () => stop.abort() });
        await assert.rejects(pending, /failed with exit code/);
        assert.ok(Date.now() - t0 < 10_000, "the child was not stopped");
        const sleeping = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
            try { return fs.readFileSync(`/proc/${p}/cmdline`, "utf8") === "sleep\u000030\u0000"; } catch { return false; }
        });
        assert.ok(!sleeping, "sleep 30 outlived the aborted run");
    });

    it("a run that is not aborted is untouched by the signal", async () => {
        const r = await run("sh", ["-c", "echo ok"], { signal: new AbortController().signal });
        assert.strictEqual(r.stdout.trim(), "ok");
    });
});
