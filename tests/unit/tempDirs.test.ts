// Temp folders with secrets in them outlive no process for long: each process keeps its
// folders under <tmpdir>/pulumi-multiarch-<uid>/<pid>-<start>/, and the next process that makes
// one removes those of processes that no longer run. Real processes and a real temp dir.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import * as tempDirs from "../../core/tempDirs";

describe("temp folders", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tempdirs-test-"));
    const saved = process.env.TMPDIR;
    before(() => {
        process.env.TMPDIR = tmp;
    });
    after(() => {
        tempDirs.removeOwn();
        if (saved === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = saved;
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("a folder is 0700, in this process's own folder named by pid and start time", () => {
        const dir = tempDirs.make("build-");
        assert.strictEqual(path.dirname(path.dirname(dir)), path.join(tmp, `pulumi-multiarch-${process.getuid!()}`));
        assert.match(path.basename(path.dirname(dir)), new RegExp(`^${process.pid}-\\d+$`));
        assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700);
        assert.strictEqual(fs.statSync(tempDirs.root()).mode & 0o777, 0o700);
    });

    it("the folders of processes that no longer run are removed; a live one's, a reused pid's owner and caches are kept", () => {
        const root = tempDirs.root();
        const dead = spawnSync("true").pid; // has exited
        const mine = tempDirs.ownerName(process.pid);
        const reused = `${process.pid}-1`; // this pid, but a process that started at another time
        for (const n of [`${dead}-123`, String(dead), reused, "checks"])
            fs.mkdirSync(path.join(root, n, "docker"), { recursive: true });
        fs.writeFileSync(path.join(root, `${dead}-123`, "docker", "config.json"), '{"auths":{}}', { mode: 0o600 });
        const removed = tempDirs.sweep().sort();
        assert.deepStrictEqual(removed, [String(dead), `${dead}-123`, reused].sort());
        assert.deepStrictEqual(fs.readdirSync(root).sort(), ["checks", mine].sort());
    });

    it("refuses a root folder that is a symlink or open to others (the temp dir is shared)", () => {
        const root = tempDirs.root();
        tempDirs.removeOwn();
        fs.rmSync(root, { recursive: true, force: true });
        fs.mkdirSync(path.join(tmp, "elsewhere"));
        fs.symlinkSync(path.join(tmp, "elsewhere"), root);
        assert.throws(() => tempDirs.make("x-"), /is not a private folder of this user .*: remove it/);
        fs.rmSync(root);
        fs.mkdirSync(root, { mode: 0o755 });
        fs.chmodSync(root, 0o755);
        assert.throws(() => tempDirs.make("x-"), /is not a private folder of this user/);
        fs.rmSync(root, { recursive: true });
    });
});
