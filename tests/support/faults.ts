// Fault injection with real parts, for the reliability tests: a registry of our own that
// can be killed and started again on the same storage, a dockerd of our own that can be
// restarted, a proxy in front of a registry that counts requests (and can refuse or hold
// some), a wait for a process whose command line holds a marker (a RUN step in progress),
// `pulumi` run as a CI runner runs it (its own process group, to be killed whole), the
// process tree under it, and a sampler of every new process's argv and environment.
import { type ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";

import * as tempDirs from "../../core/tempDirs";
import { forward } from "./noIndexRegistry";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (ok()) return;
    throw new Error(`${what} did not happen within ${ms / 1000}s`);
}

function answers(url: string): boolean {
    try {
        execFileSync("curl", ["-s", "-o", "/dev/null", "--max-time", "2", url], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/** Resolves once, in one sample of every process's argv (every 100 ms), each marker is on some argv. */
export async function whenProcess(markers: string | string[], ms = 120_000): Promise<void> {
    const wanted = Array.isArray(markers) ? markers : [markers];
    await until(
        `processes with ${wanted.join(" and ")} in their argv at once`,
        () => {
            const argvs = fs
                .readdirSync("/proc")
                .filter((p) => /^\d+$/.test(p))
                .map((pid) => {
                    try {
                        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
                    } catch {
                        return "";
                    }
                });
            return wanted.every((m) => argvs.some((a) => a.includes(m)));
        },
        ms,
    );
}

export interface OwnRegistry {
    addr: string;
    /** Starts the registry (again) on the same storage. */
    start(): Promise<void>;
    /** SIGKILL: the registry dies at once, mid-request if need be. */
    kill(): void;
    /** Calls `fn` with each request line the registry logs (method and path) until it returns true. */
    onRequest(fn: (method: string, uri: string) => boolean): void;
    stop(): void;
}

/** Debian's docker-registry on 127.0.0.1:`port`, storage in a scratch dir kept across restarts. */
export async function startRegistry(port: number): Promise<OwnRegistry> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rel-registry-"));
    const addr = `127.0.0.1:${port}`;
    fs.writeFileSync(
        path.join(dir, "config.yml"),
        [
            "version: 0.1",
            "log: { level: info, accesslog: { disabled: true } }",
            `storage: { filesystem: { rootdirectory: ${dir}/data }, delete: { enabled: true } }`,
            `http: { addr: ${addr} }`,
            "",
        ].join("\n"),
    );
    let proc: ChildProcess | undefined;
    let watcher: ((method: string, uri: string) => boolean) | undefined;
    const reg: OwnRegistry = {
        addr,
        async start() {
            if (answers(`http://${addr}/v2/`)) throw new Error(`something already answers on ${addr}`);
            proc = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], {
                stdio: ["ignore", "pipe", "pipe"],
            });
            let pending = "";
            const feed = (chunk: Buffer) => {
                const lines = (pending + chunk.toString("utf8")).split("\n");
                pending = lines.pop() ?? "";
                for (const l of lines) {
                    const m = /http\.request\.method=(\w+) .*?http\.request\.uri="?([^"\s]+)/.exec(l);
                    if (m && watcher && watcher(m[1], m[2])) watcher = undefined;
                }
            };
            proc.stdout!.on("data", feed);
            proc.stderr!.on("data", feed);
            await until(`the registry on ${addr}`, () => answers(`http://${addr}/v2/`));
        },
        kill() {
            proc?.kill("SIGKILL");
            proc = undefined;
        },
        onRequest(fn) {
            watcher = fn;
        },
        stop() {
            reg.kill();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    await reg.start();
    return reg;
}

export interface OwnDockerd {
    /** DOCKER_HOST for this daemon. */
    host: string;
    restart(): Promise<void>;
    stop(): Promise<void>;
}

/**
 * A second dockerd of our own (the shared one is never touched): its own data and exec roots,
 * socket and bridge, no iptables, the shared daemon's runtime config (caps-runc where the
 * sandbox needs it), and the BuildKit image loaded into it. Never `--bridge=none`: a dockerd
 * started so deletes the host's docker0, which the shared daemon's containers need.
 */
export async function startDockerd(buildkitImage: string): Promise<OwnDockerd> {
    const dir = fs.mkdtempSync(path.join("/tmp", "rel-dockerd-"));
    // The shared daemon's extra runtimes and default runtime, as it reports them.
    const [runtimes, defaultRuntime] = execFileSync(
        "docker",
        ["info", "--format", "{{json .Runtimes}}|{{.DefaultRuntime}}"],
        { encoding: "utf8" },
    )
        .trim()
        .split("|");
    const extra = Object.fromEntries(
        Object.entries(JSON.parse(runtimes) as Record<string, { path: string }>)
            .filter(([n]) => !["runc", "io.containerd.runc.v2", "io.containerd.runtime.v1.linux"].includes(n))
            .map(([n, r]) => [n, { path: r.path }]),
    );
    fs.writeFileSync(
        path.join(dir, "daemon.json"),
        JSON.stringify({ runtimes: extra, "default-runtime": defaultRuntime }),
    );
    const host = `unix://${dir}/docker.sock`;
    const bridge = `rel-br${process.pid}`.slice(0, 15);
    execFileSync("sh", [
        "-c",
        `ip link del ${bridge} 2>/dev/null; ip link add ${bridge} type bridge && ip addr add 10.213.213.1/24 dev ${bridge} && ip link set ${bridge} up`,
    ]);
    const pidfile = path.join(dir, "dockerd.pid");
    const log = path.join(dir, "dockerd.log");
    const env = { ...process.env, DOCKER_HOST: host };
    const up = () => {
        try {
            execFileSync("docker", ["info", "--format", "{{.ID}}"], { env, stdio: "ignore" });
            return true;
        } catch {
            return false;
        }
    };
    const start = async () => {
        const out = fs.openSync(log, "a");
        const p = spawn(
            "dockerd",
            [
                "--config-file",
                path.join(dir, "daemon.json"),
                "--data-root",
                path.join(dir, "data"),
                "--exec-root",
                path.join(dir, "exec"),
                "--pidfile",
                pidfile,
                "-H",
                host,
                `--bridge=${bridge}`,
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
            ],
            { stdio: ["ignore", out, out], detached: true },
        );
        p.unref();
        await until(`dockerd on ${host} (log: ${log})`, up, 60_000);
    };
    const halt = async () => {
        const pid = Number(fs.readFileSync(pidfile, "utf8"));
        process.kill(pid, "SIGTERM");
        await until(`dockerd ${pid} to stop`, () => !fs.existsSync(`/proc/${pid}`), 60_000);
    };
    await start();
    execFileSync("sh", ["-c", `docker save ${buildkitImage} | DOCKER_HOST=${host} docker load -q`], {
        stdio: "ignore",
    });
    return {
        host,
        async restart() {
            await halt();
            await start();
        },
        async stop() {
            await halt().catch(() => {});
            // What dockerd leaves mounted: its network namespace's file, and, where / is not a
            // shared mount (a container, `unshare --propagation private`), its data root,
            // which it bind-mounts on itself to make it shared and leaves so.
            for (const m of mountsUnder(dir)) execFileSync("umount", [m]);
            try {
                execFileSync("ip", ["link", "del", bridge], { stdio: "ignore" });
            } catch {
                /* already gone */
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** The mount points at or under `dir`, as this process sees them, deepest first. */
function mountsUnder(dir: string): string[] {
    return fs
        .readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .map((line) => line.split(" ")[4] ?? "")
        .map((m) => m.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
        .filter((m) => m === dir || m.startsWith(`${dir}/`))
        .sort((a, b) => b.length - a.length);
}

export interface Proxy {
    addr: string;
    /** "METHOD /path" of every request seen. */
    requests: string[];
    /**
     * The next request that `match`es is held: never passed on nor answered, until its client
     * goes away. Resolves once one is held (the moment to strike).
     */
    hold(match: (method: string, url: string) => boolean): Promise<void>;
    close(): void;
}

/**
 * An HTTP proxy on 127.0.0.1:`port` in front of a registry. `refuse` may answer a request
 * itself (a status code) instead of passing it on: a registry that fails one call.
 */
export function startProxy(
    port: number,
    upstreamPort: number,
    refuse?: (method: string, url: string) => number | undefined,
): Promise<Proxy> {
    const requests: string[] = [];
    let holding: { match: (method: string, url: string) => boolean; held: () => void } | undefined;
    const held = new Set<http.ServerResponse>();
    const server = http.createServer((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        if (holding?.match(req.method ?? "", req.url ?? "")) {
            const h = holding;
            holding = undefined;
            held.add(res);
            res.on("close", () => held.delete(res));
            h.held();
            return;
        }
        const status = refuse?.(req.method ?? "", req.url ?? "");
        if (status) {
            req.resume();
            res.writeHead(status, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ errors: [{ code: "UNKNOWN", message: "injected fault" }] }));
            return;
        }
        forward(req, res, { host: "127.0.0.1", port: upstreamPort }, port);
    });
    return new Promise((resolve) =>
        server.listen(port, "127.0.0.1", () =>
            resolve({
                addr: `127.0.0.1:${port}`,
                requests,
                hold: (match) =>
                    new Promise<void>((held) => {
                        holding = { match, held };
                    }),
                close: () => {
                    for (const res of held) res.destroy();
                    server.close();
                },
            }),
        ),
    );
}

export interface Proc {
    pid: number;
    ppid: number;
    argv: string;
}

/** Every process now, with its parent and argv (spaces for NULs). */
export function processes(): Proc[] {
    const out: Proc[] = [];
    for (const p of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(p)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (fields[0] === "Z") continue; // exited, not yet reaped
            out.push({
                pid: Number(p),
                ppid: Number(fields[1]),
                argv: fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ").trim(),
            });
        } catch {
            /* gone */
        }
    }
    return out;
}

/** `root` and every process under it. */
export function processTree(root: number): Proc[] {
    const all = processes();
    const tree = all.filter((p) => p.pid === root);
    for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i].pid));
    return tree;
}

/** Pulumi's Node.js language host: Pulumi's own process, which waits for its 5-minute health check before it exits. */
export const isLanguageHost = (p: Proc) => /pulumi-language-nodejs /.test(p.argv);

/**
 * Seconds until none of `pids` runs and no process has `marker` on its argv (a RUN step of the
 * build); fails after `ms` naming what still runs.
 */
export async function secondsUntilGone(pids: number[], marker: string, ms = 5000): Promise<number> {
    const t0 = Date.now();
    let left: Proc[] = [];
    for (const end = t0 + ms; Date.now() < end; await sleep(50)) {
        left = processes().filter((p) => pids.includes(p.pid) || p.argv.includes(marker));
        if (!left.length) return (Date.now() - t0) / 1000;
    }
    throw new Error(
        `still running ${ms / 1000}s later: ${left.map((p) => `${p.pid} ${p.argv.slice(0, 160)}`).join(" | ")}`,
    );
}

/** The temp folders (core/tempDirs) of these processes that are still there. */
export function tempFoldersOf(pids: number[]): string[] {
    const root = tempDirs.root();
    return fs
        .readdirSync(root)
        .filter((n) => pids.includes(Number(n.split("-")[0])))
        .map((n) => path.join(root, n));
}

export interface Cli {
    /** The CLI's pid, which is also its process group's id. */
    pid: number;
    /** What it printed so far (stdout and stderr). */
    output(): string;
    exited: Promise<{ code: number | null; signal: string | null; output: string }>;
}

/** `pulumi <args>` in its own process group, as a CI runner starts a job's command. */
export function pulumiCli(args: string[], cwd: string, env: Record<string, string>): Cli {
    const proc = spawn("pulumi", args, {
        cwd,
        env: { ...process.env, ...env },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    proc.stdout.on("data", (c) => (output += c));
    proc.stderr.on("data", (c) => (output += c));
    const exited = new Promise<{ code: number | null; signal: string | null; output: string }>((resolve) =>
        proc.on("close", (code, signal) => resolve({ code, signal, output })),
    );
    return { pid: proc.pid!, output: () => output, exited };
}

/** One sighting of a process by the sampler (tests/support/envSampler.js): secret values replaced by their names. */
export interface Sighting {
    pid: number;
    ppid: number;
    argv: string;
    pulumiVars: string[];
    envHas: string[];
    argvHas: string[];
}

/** Samples every new process's argv and environment while `fn` runs, looking for `needles` (name -> secret value). */
export async function sampleProcesses<T>(
    needles: Record<string, string>,
    fn: () => Promise<T>,
): Promise<{ result: T; sightings: Sighting[] }> {
    const sampler = spawn(process.execPath, [path.join(__dirname, "envSampler.js")], {
        env: { NEEDLES: JSON.stringify(needles) },
        stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    sampler.stdout.on("data", (c) => (out += c));
    await until("the process sampler", () => out.startsWith("sampling\n"), 10_000);
    try {
        return { result: await fn(), sightings: await stopSampler() };
    } catch (e) {
        await stopSampler();
        throw e;
    }
    function stopSampler(): Promise<Sighting[]> {
        return new Promise((resolve) => {
            sampler.on("close", () =>
                resolve(
                    out
                        .split("\n")
                        .slice(1)
                        .filter(Boolean)
                        .map((l) => JSON.parse(l)),
                ),
            );
            sampler.kill("SIGTERM");
        });
    }
}
