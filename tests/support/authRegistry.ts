// A second real registry (Debian's docker-registry) that requires a login: htpasswd (bcrypt)
// basic auth on 127.0.0.1:5002, storage in a scratch dir. For the credentials tests.
import { type ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface AuthRegistry {
    addr: string;
    username: string;
    password: string;
    stop(): void;
}

export async function startAuthRegistry(port = 5002): Promise<AuthRegistry> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-registry-"));
    const username = "ci";
    const password = `pw-${process.pid}-${Date.now()}`;
    // htpasswd reads the password from stdin (-i), so it is on no command line.
    const line = execFileSync("htpasswd", ["-niB", username], { input: password, encoding: "utf8" });
    fs.writeFileSync(path.join(dir, "htpasswd"), line);
    fs.writeFileSync(
        path.join(dir, "config.yml"),
        [
            "version: 0.1",
            "log: { level: error }",
            `storage: { filesystem: { rootdirectory: ${dir}/data }, delete: { enabled: true } }`,
            `http: { addr: 127.0.0.1:${port} }`,
            `auth: { htpasswd: { realm: pulumi-multiarch-tests, path: ${dir}/htpasswd } }`,
            "",
        ].join("\n"),
    );
    const proc: ChildProcess = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], { stdio: "ignore" });
    const addr = `127.0.0.1:${port}`;
    for (let i = 0; i < 50; i++) {
        try {
            execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${addr}/v2/`], {
                encoding: "utf8",
            });
            break;
        } catch {
            await new Promise((r) => setTimeout(r, 100));
        }
    }
    return {
        addr,
        username,
        password,
        stop: () => {
            proc.kill();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
