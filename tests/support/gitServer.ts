// A real Git server on loopback for tests: Debian git's `git http-backend` (smart HTTP, the
// protocol of https:// Git contexts) run as a CGI program behind a small Node HTTP server on
// a free port, serving the bare repositories of a temporary folder. Started and stopped by
// the test that needs it; BuildKit reaches it from a builder on the host network.
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { type AddressInfo } from "net";
import * as os from "os";
import * as path from "path";

const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";

export interface GitServer {
    /** `http://127.0.0.1:<port>` */
    url: string;
    /** Creates bare repository `<name>.git`; returns its URL. */
    createRepo(name: string): string;
    /** Commits `files` (path -> content; null removes) to `branch` of the repository; returns the commit. */
    commit(name: string, files: Record<string, string | null>, branch?: string, message?: string): string;
    /** Adds an annotated tag at the tip of `branch`. */
    tag(name: string, tag: string, branch?: string): void;
    /** How many requests the server answered (fetches of BuildKit and of the preview). */
    requests(): number;
    stop(): Promise<void>;
}

const git = (args: string[], cwd?: string): string =>
    execFileSync("git", args, {
        cwd,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: {
            ...process.env,
            GIT_AUTHOR_NAME: "t",
            GIT_AUTHOR_EMAIL: "t@example.com",
            GIT_COMMITTER_NAME: "t",
            GIT_COMMITTER_EMAIL: "t@example.com",
            GIT_CONFIG_NOSYSTEM: "1",
            HOME: os.tmpdir(),
        },
    }).trim();

export async function startGitServer(): Promise<GitServer> {
    if (!fs.existsSync(HTTP_BACKEND))
        throw new Error(`${HTTP_BACKEND} is missing: install Debian's git package (apt-get install git)`);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "pm-git-"));
    const repos = path.join(root, "repos");
    fs.mkdirSync(repos);
    let count = 0;
    // CGI: the request's method, path and headers in the environment, its body on stdin; the
    // answer is headers (with an optional Status:) then the body, on stdout.
    const server = http.createServer((req, res) => {
        count++;
        const url = new URL(req.url ?? "/", "http://x");
        const child = spawn(HTTP_BACKEND, [], {
            env: {
                PATH: process.env.PATH ?? "/usr/bin:/bin",
                GIT_PROJECT_ROOT: repos,
                GIT_HTTP_EXPORT_ALL: "1",
                REQUEST_METHOD: req.method ?? "GET",
                PATH_INFO: decodeURIComponent(url.pathname),
                QUERY_STRING: url.search.slice(1),
                CONTENT_TYPE: req.headers["content-type"] ?? "",
                REMOTE_ADDR: "127.0.0.1",
                REMOTE_USER: "test",
                ...(req.headers["content-encoding"]
                    ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) }
                    : {}),
                ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
            },
            stdio: ["pipe", "pipe", "pipe"],
        });
        req.pipe(child.stdin);
        let head = Buffer.alloc(0),
            started = false;
        child.stdout.on("data", (chunk: Buffer) => {
            if (started) {
                res.write(chunk);
                return;
            }
            head = Buffer.concat([head, chunk]);
            const end = head.indexOf("\r\n\r\n");
            if (end < 0) return;
            started = true;
            let status = 200;
            for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
                const [k, ...v] = line.split(":");
                if (k.toLowerCase() === "status") status = parseInt(v.join(":").trim(), 10);
                else res.setHeader(k, v.join(":").trim());
            }
            res.writeHead(status);
            res.write(head.subarray(end + 4));
        });
        child.stderr.resume();
        child.on("close", () => {
            if (!started) res.writeHead(500);
            res.end();
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const work = (name: string) => path.join(root, "work", name);
    return {
        url,
        createRepo(name) {
            git(["init", "--bare", "--quiet", "--initial-branch=main", path.join(repos, `${name}.git`)]);
            fs.mkdirSync(work(name), { recursive: true });
            git(["clone", "--quiet", path.join(repos, `${name}.git`), work(name)]);
            return `${url}/${name}.git`;
        },
        commit(name, files, branch = "main", message = "change") {
            const w = work(name);
            if (git(["symbolic-ref", "--short", "HEAD"], w) !== branch) git(["checkout", "--quiet", "-B", branch], w);
            for (const [f, content] of Object.entries(files)) {
                const p = path.join(w, f);
                if (content === null) {
                    fs.rmSync(p, { force: true });
                    continue;
                }
                fs.mkdirSync(path.dirname(p), { recursive: true });
                fs.writeFileSync(p, content);
            }
            git(["add", "--all"], w);
            git(["commit", "--quiet", "--allow-empty", "-m", message], w);
            git(["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`], w);
            return git(["rev-parse", "HEAD"], w);
        },
        tag(name, tag, branch = "main") {
            const w = work(name);
            git(["tag", "-a", "-f", "-m", tag, tag, `origin/${branch}`], w);
            git(["push", "--quiet", "--force", "origin", `refs/tags/${tag}`], w);
        },
        requests: () => count,
        async stop() {
            await new Promise<void>((r) => server.close(() => r()));
            server.closeAllConnections();
            fs.rmSync(root, { recursive: true, force: true });
        },
    };
}
