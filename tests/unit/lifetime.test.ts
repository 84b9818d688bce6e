// The plugin lives as long as its engine (provider/lifetime.ts), on real processes:
// a process running the plugin's lifetime code with a child (sleep) and a temp folder exits,
// child stopped and folder removed, when its engine's gRPC server goes away, when its stdout
// is closed (EPIPE: once, no error loop), and on SIGTERM. The engine is a gRPC server of the
// test's own (grpc-js with no services: a health check answers UNIMPLEMENTED, which counts as
// alive, as in Pulumi's Go providers).
import * as grpc from "@grpc/grpc-js";
import * as assert from "assert";
import { type ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");

/** A process with the plugin's lifetime, one child and one temp folder; prints "<child pid> <folder>" once ready. */
function start(
    engine: string | undefined,
    chatty = false,
): {
    proc: ChildProcess;
    ready: Promise<{ child: number; dir: string }>;
    exited: Promise<number>;
    stderr: () => string;
} {
    const script = `
        // As @pulumi/pulumi's provider main does: an uncaught error is logged (to stderr, with no engine).
        process.on("uncaughtException", (e) => console.error("error: [runtime] " + e));
        const exec = require(${JSON.stringify(path.join(ROOT, "core/exec"))});
        const tempDirs = require(${JSON.stringify(path.join(ROOT, "core/tempDirs"))});
        require(${JSON.stringify(path.join(ROOT, "provider/lifetime"))}).liveWithEngine(process.env.ENGINE || undefined, 200);
        const dir = tempDirs.make("build-");
        require("fs").writeFileSync(dir + "/config.json", "{}", { mode: 0o600 });
        exec.run("sleep", ["33"]).catch(() => {});
        setTimeout(() => {
            process.stdout.write(exec.liveChildren()[0] + " " + dir + "\\n");
            if (${chatty}) setInterval(() => console.log("progress line"), 20);
        }, 200);`;
    const proc = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
        cwd: ROOT,
        env: { ...process.env, ENGINE: engine ?? "" },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    proc.stderr.on("data", (c) => (err += c));
    const exited = new Promise<number>((resolve) => proc.on("exit", (code) => resolve(code ?? -1)));
    const ready = new Promise<{ child: number; dir: string }>((resolve, reject) => {
        proc.stdout.once("data", (c: Buffer) => {
            const [child, dir] = c.toString().trim().split(" ");
            resolve({ child: Number(child), dir });
        });
        void exited.then(() => reject(new Error(`exited before it was ready: ${err}`)));
    });
    return { proc, ready, exited, stderr: () => err };
}

const alive = (pid: number) =>
    fs.existsSync(`/proc/${pid}`) && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
        return await Promise.race([
            p,
            new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms);
            }),
        ]);
    } finally {
        clearTimeout(timer);
    }
}

describe("plugin lifetime: exits with its engine, stopping its children and removing its temp folder", function () {
    this.timeout(60_000);

    it("the engine's address stops answering", async () => {
        const engine = new grpc.Server();
        const port = await new Promise<number>((resolve, reject) =>
            engine.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
                e ? reject(e) : resolve(p),
            ),
        );
        const p = start(`127.0.0.1:${port}`);
        try {
            const { child, dir } = await p.ready;
            await new Promise((r) => setTimeout(r, 1000));
            assert.ok(alive(p.proc.pid!), "it exited while its engine answered");
            engine.forceShutdown();
            await within(5000, "exit after the engine went away", p.exited);
            assert.ok(!alive(child), "its child outlived it");
            assert.ok(!fs.existsSync(path.dirname(dir)), "its temp folder is left");
        } finally {
            p.proc.kill("SIGKILL");
            engine.forceShutdown();
        }
    });

    it("its stdout is closed while it writes: it exits at once, without an error loop", async () => {
        const p = start(undefined, true);
        try {
            const { child, dir } = await p.ready;
            p.proc.stdout!.destroy();
            await within(3000, "exit after EPIPE", p.exited);
            assert.ok(
                p.stderr().length < 2000,
                `it wrote ${p.stderr().length} bytes of errors: ${p.stderr().slice(0, 300)}`,
            );
            assert.ok(!alive(child), "its child outlived it");
            assert.ok(!fs.existsSync(path.dirname(dir)), "its temp folder is left");
        } finally {
            p.proc.kill("SIGKILL");
        }
    });

    it("SIGTERM (and SIGINT, SIGHUP, as the engine closes it)", async () => {
        const p = start(undefined);
        try {
            const { child, dir } = await p.ready;
            p.proc.kill("SIGTERM");
            assert.strictEqual(await within(3000, "exit after SIGTERM", p.exited), 0);
            assert.ok(!alive(child), "its child outlived it");
            assert.ok(!fs.existsSync(path.dirname(dir)), "its temp folder is left");
        } finally {
            p.proc.kill("SIGKILL");
        }
    });
});
