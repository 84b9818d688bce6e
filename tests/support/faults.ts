// Fault injection with real parts, for the reliability tests: a registry of our own that
// can be killed and started again on the same storage, a dockerd of our own that can be
// restarted, a proxy in front of a registry that counts requests (and can refuse some),
// and a wait for a process whose command line holds a marker (a RUN step in progress).
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (ok()) return;
    throw new Error(`${what} did not happen within ${ms / 1000}s`);
}

function answers(url: string): boolean {
    try {
        execFileSync("curl", ["-s", "-o", "/dev/null", "--max-time", "2", url], { stdio: "ignore" });
        return true;
    } catch { return false; }
}

/** Resolves once, in one sample of every process's argv (every 100 ms), each marker is on some argv. */
export async function whenProcess(markers: string | string[], ms = 120_000): Promise<void> {
    const wanted = Array.isArray(markers) ? markers : [markers];
    await until(`processes with ${wanted.join(" and ")} in their argv at once`, () => {
        const argvs = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map((pid) => {
            try { return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"); } catch { return ""; }
        });
        return wanted.every((m) => argvs.some((a) => a.includes(m)));
    }, ms);
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
    fs.writeFileSync(path.join(dir, "config.yml"), [
        "version: 0.1", "log: { level: info, accesslog: { disabled: true } }",
        `storage: { filesystem: { rootdirectory: ${dir}/data }, delete: { enabled: true } }`,
        `http: { addr: ${addr} }`, "",
    ].join("\n"));
    let proc: ChildProcess | undefined;
    let watcher: ((method: string, uri: string) => boolean) | undefined;
    const reg: OwnRegistry = {
        addr,
        async start() {
            if (answers(`http://${addr}/v2/`)) throw new Error(`something already answers on ${addr}`);
            proc = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
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
        onRequest(fn) { watcher = fn; },
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
    const [runtimes, defaultRuntime] = execFileSync("docker", ["info", "--format", "{{json .Runtimes}}|{{.DefaultRuntime}}"], { encoding: "utf8" }).trim().split("|");
    const extra = Object.fromEntries(Object.entries(JSON.parse(runtimes) as Record<string, { path: string }>)
        .filter(([n]) => !["runc", "io.containerd.runc.v2", "io.containerd.runtime.v1.linux"].includes(n)).map(([n, r]) => [n, { path: r.path }]));
    fs.writeFileSync(path.join(dir, "daemon.json"), JSON.stringify({ runtimes: extra, "default-runtime": defaultRuntime }));
    const host = `unix://${dir}/docker.sock`;
    const bridge = `rel-br${process.pid}`.slice(0, 15);
    execFileSync("sh", ["-c", `ip link del ${bridge} 2>/dev/null; ip link add ${bridge} type bridge && ip addr add 10.213.213.1/24 dev ${bridge} && ip link set ${bridge} up`]);
    const pidfile = path.join(dir, "dockerd.pid");
    const log = path.join(dir, "dockerd.log");
    const env = { ...process.env, DOCKER_HOST: host };
    const up = () => { try { execFileSync("docker", ["info", "--format", "{{.ID}}"], { env, stdio: "ignore" }); return true; } catch { return false; } };
    const start = async () => {
        const out = fs.openSync(log, "a");
        const p = spawn("dockerd", ["--config-file", path.join(dir, "daemon.json"), "--data-root", path.join(dir, "data"),
            "--exec-root", path.join(dir, "exec"), "--pidfile", pidfile, "-H", host,
            `--bridge=${bridge}`, "--iptables=false", "--ip6tables=false", "--ip-masq=false"], { stdio: ["ignore", out, out], detached: true });
        p.unref();
        await until(`dockerd on ${host} (log: ${log})`, up, 60_000);
    };
    const halt = async () => {
        const pid = Number(fs.readFileSync(pidfile, "utf8"));
        process.kill(pid, "SIGTERM");
        await until(`dockerd ${pid} to stop`, () => !fs.existsSync(`/proc/${pid}`), 60_000);
    };
    await start();
    execFileSync("sh", ["-c", `docker save ${buildkitImage} | DOCKER_HOST=${host} docker load -q`], { stdio: "ignore" });
    return {
        host,
        async restart() { await halt(); await start(); },
        async stop() {
            await halt().catch(() => {});
            const netns = path.join(dir, "exec", "netns", "default");
            try { execFileSync("umount", [netns], { stdio: "ignore" }); } catch { /* not mounted */ }
            try { execFileSync("ip", ["link", "del", bridge], { stdio: "ignore" }); } catch { /* already gone */ }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

export interface Proxy {
    addr: string;
    /** "METHOD /path" of every request seen. */
    requests: string[];
    close(): void;
}

/**
 * An HTTP proxy on 127.0.0.1:`port` in front of a registry. `refuse` may answer a request
 * itself (a status code) instead of passing it on: a registry that fails one call.
 */
export function startProxy(port: number, upstreamPort: number, refuse?: (method: string, url: string) => number | undefined): Promise<Proxy> {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        const status = refuse?.(req.method ?? "", req.url ?? "");
        if (status) {
            req.resume();
            res.writeHead(status, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ errors: [{ code: "UNKNOWN", message: "injected fault" }] }));
            return;
        }
        const up = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${upstreamPort}` } }, (ur) => {
            const headers = { ...ur.headers };
            if (headers.location) headers.location = String(headers.location).replace(`127.0.0.1:${upstreamPort}`, `127.0.0.1:${port}`);
            res.writeHead(ur.statusCode ?? 502, headers);
            ur.pipe(res);
        });
        up.on("error", (e) => { res.writeHead(502); res.end(String(e)); });
        req.pipe(up);
    });
    return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve({ addr: `127.0.0.1:${port}`, requests, close: () => server.close() })));
}
