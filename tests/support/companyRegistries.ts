// Registries as companies run them, for the registry-access tests: Debian's docker-registry
// behind HTTPS with a private CA (made here with openssl), htpasswd or token auth (a token
// server of our own signing JWTs for the scopes asked), or plain HTTP, under host names
// that are not loopback (an /etc/hosts alias, removed again by `restoreHosts`); a docker
// config directory of the test's own (buildx linked in), `docker login` into it, and a
// real credential helper (docker-credential-pass with a GPG key made here).
import { type ChildProcess, execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A scratch dir for one test file's registries, keys and configs. */
export function scratch(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Pki {
    caFile: string;
    certFile: string;
    keyFile: string;
    ca: string;
}

/** A private CA and a server certificate for `names` (host names or IPv4 addresses), as a company's PKI would issue. */
export function makePki(dir: string, names: string[]): Pki {
    const f = (n: string) => path.join(dir, n);
    const ssl = (args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
    ssl([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f("ca.key"),
        "-out",
        f("ca.crt"),
        "-days",
        "2",
        "-subj",
        "/CN=pulumi-multiarch test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    ssl([
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f("server.key"),
        "-out",
        f("server.csr"),
        "-subj",
        `/CN=${names[0]}`,
    ]);
    // An IP address is matched against IP SANs only (Go and Node alike).
    const san = names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`));
    fs.writeFileSync(f("server.ext"), `subjectAltName=${san.join(",")}\nextendedKeyUsage=serverAuth\n`);
    ssl([
        "x509",
        "-req",
        "-in",
        f("server.csr"),
        "-CA",
        f("ca.crt"),
        "-CAkey",
        f("ca.key"),
        "-CAcreateserial",
        "-out",
        f("server.crt"),
        "-days",
        "2",
        "-extfile",
        f("server.ext"),
    ]);
    return {
        caFile: f("ca.crt"),
        certFile: f("server.crt"),
        keyFile: f("server.key"),
        ca: fs.readFileSync(f("ca.crt"), "utf8"),
    };
}

/** A trust bundle: the system's CAs plus `pki`'s, for SSL_CERT_FILE (what buildx uses to fetch tokens). */
export function trustBundle(dir: string, pki: Pki): string {
    const file = path.join(dir, "trust-bundle.crt");
    fs.writeFileSync(file, fs.readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8") + "\n" + pki.ca);
    return file;
}

const HOSTS_MARK = "# pulumi-multiarch registry tests";

/** Points `names` at 127.0.0.1 in /etc/hosts, on one line marked as ours. */
export function aliasHosts(names: string[]): void {
    restoreHosts(names);
    fs.appendFileSync("/etc/hosts", `127.0.0.1 ${names.join(" ")} ${HOSTS_MARK}\n`);
}

/** Removes only our line again. */
export function restoreHosts(names: string[]): void {
    const text = fs.readFileSync("/etc/hosts", "utf8");
    const kept = text.split("\n").filter((l) => !(l.includes(HOSTS_MARK) && names.some((n) => l.includes(` ${n} `))));
    if (kept.length !== text.split("\n").length) fs.writeFileSync("/etc/hosts", kept.join("\n"));
}

export interface RegistrySpec {
    port: number;
    /** Serve HTTPS with this PKI's server certificate. */
    tls?: Pki;
    auth?: { htpasswd: { username: string; password: string } } | { token: TokenServer };
}

export interface RunningRegistry {
    addr: string;
    stop(): void;
}

/** Debian's docker-registry on 127.0.0.1:`port`, with deletes enabled, storage in `dir`. */
export async function startRegistry(dir: string, name: string, spec: RegistrySpec): Promise<RunningRegistry> {
    const root = path.join(dir, `registry-${spec.port}`);
    fs.mkdirSync(root, { recursive: true });
    const lines = [
        "version: 0.1",
        "log: { level: error, accesslog: { disabled: true } }",
        `storage: { filesystem: { rootdirectory: ${root}/data }, delete: { enabled: true } }`,
        `http: { addr: 127.0.0.1:${spec.port}${spec.tls ? `, tls: { certificate: ${spec.tls.certFile}, key: ${spec.tls.keyFile} }` : ""} }`,
    ];
    const auth = spec.auth;
    if (auth && "htpasswd" in auth) {
        // htpasswd reads the password from stdin (-i), so it is on no command line.
        const line = execFileSync("htpasswd", ["-niB", auth.htpasswd.username], {
            input: auth.htpasswd.password,
            encoding: "utf8",
        });
        fs.writeFileSync(path.join(root, "htpasswd"), line);
        lines.push(`auth: { htpasswd: { realm: pulumi-multiarch-tests, path: ${root}/htpasswd } }`);
    } else if (auth && "token" in auth) {
        lines.push(
            `auth: { token: { realm: "${auth.token.realm}", service: "${name}", issuer: "${TOKEN_ISSUER}", rootcertbundle: ${auth.token.certFile} } }`,
        );
    }
    fs.writeFileSync(path.join(root, "config.yml"), lines.join("\n") + "\n");
    const log = fs.openSync(path.join(root, "registry.log"), "a");
    const proc: ChildProcess = spawn("docker-registry", ["serve", path.join(root, "config.yml")], {
        stdio: ["ignore", log, log],
    });
    const url = `${spec.tls ? "https" : "http"}://${name}/v2/`;
    for (let i = 0; ; i++) {
        try {
            execFileSync("curl", ["-s", "-o", "/dev/null", ...(spec.tls ? ["--cacert", spec.tls.caFile] : []), url], {
                stdio: "ignore",
            });
            break;
        } catch {
            if (i > 100 || proc.exitCode !== null)
                throw new Error(`docker-registry did not answer on ${url}: see ${root}/registry.log`);
            await sleep(100);
        }
    }
    return {
        addr: name,
        stop: () => {
            proc.kill();
        },
    };
}

const TOKEN_ISSUER = "pulumi-multiarch-test-token-issuer";

export interface TokenServer {
    realm: string;
    /** The certificate of the JWT signing key (docker-registry's rootcertbundle). */
    certFile: string;
    /** Every token handed out: who asked (user or "anonymous") and the access granted. */
    issued: { who: string; scope: string[]; granted: string[] }[];
    close(): void;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/**
 * A token service like Docker Hub's or Harbor's (the docker token protocol): GET
 * ?service=&scope=repository:<name>:<actions> with Basic auth, or the OAuth2 password grant
 * (POST) that buildx tries first. `users` get every action
 * they ask for; anonymous callers get `pull` on repositories under `public/` and nothing
 * else; a wrong password is a 401. Tokens are RS256 JWTs with the signing cert in `x5c`.
 */
export async function startTokenServer(
    dir: string,
    host: string,
    port: number,
    pki: Pki,
    users: Record<string, string>,
): Promise<TokenServer> {
    const f = (n: string) => path.join(dir, n);
    execFileSync(
        "openssl",
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f("token.key"),
            "-out",
            f("token.crt"),
            "-days",
            "2",
            "-subj",
            "/CN=pulumi-multiarch test token signer",
        ],
        { stdio: "pipe" },
    );
    const key = fs.readFileSync(f("token.key"), "utf8");
    const der = new crypto.X509Certificate(fs.readFileSync(f("token.crt"))).raw;
    const issued: TokenServer["issued"] = [];
    const answer = (res: import("http").ServerResponse, who: string, service: string | null, scopes: string[]) => {
        const access = scopes.flatMap((s) => {
            const [type, name, actions] = [
                s.split(":")[0],
                s.split(":").slice(1, -1).join(":"),
                s.split(":").pop() ?? "",
            ];
            const allowed = actions
                .split(",")
                .filter((a) => who !== "anonymous" || (a === "pull" && name.startsWith("public/")));
            return type === "repository" && allowed.length ? [{ type, name, actions: allowed }] : [];
        });
        issued.push({ who, scope: scopes, granted: access.map((a) => `${a.name}:${a.actions.join(",")}`) });
        const now = Math.floor(Date.now() / 1000);
        const header = { typ: "JWT", alg: "RS256", x5c: [der.toString("base64")] };
        const claims = {
            iss: TOKEN_ISSUER,
            sub: who,
            aud: service,
            exp: now + 300,
            nbf: now - 10,
            iat: now,
            jti: crypto.randomUUID(),
            access,
        };
        const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
        const token = `${unsigned}.${b64url(crypto.sign("sha256", Buffer.from(unsigned), key))}`;
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
    };
    const refuse = (res: import("http").ServerResponse) => {
        res.writeHead(401, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ details: "incorrect username or password" }));
    };
    const known = (user: string, password: string) => users[user] !== undefined && users[user] === password;
    const server = https.createServer(
        { cert: fs.readFileSync(pki.certFile), key: fs.readFileSync(pki.keyFile) },
        (req, res) => {
            const url = new URL(req.url ?? "/", `https://${host}`);
            if (req.method === "POST") {
                // The OAuth2 password grant, which buildx (containerd) tries first when it has a login.
                let body = "";
                req.on("data", (c) => (body += c)).on("end", () => {
                    const form = new URLSearchParams(body);
                    if (form.get("grant_type") !== "password") {
                        res.writeHead(400);
                        res.end();
                        return;
                    }
                    if (!known(form.get("username") ?? "", form.get("password") ?? "")) {
                        refuse(res);
                        return;
                    }
                    answer(
                        res,
                        form.get("username")!,
                        form.get("service"),
                        (form.get("scope") ?? "").split(" ").filter(Boolean),
                    );
                });
                return;
            }
            const m = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ""));
            let who = "anonymous";
            if (m) {
                const [user, ...rest] = Buffer.from(m[1], "base64").toString("utf8").split(":");
                if (!known(user, rest.join(":"))) {
                    refuse(res);
                    return;
                }
                who = user;
            }
            answer(res, who, url.searchParams.get("service"), url.searchParams.getAll("scope"));
        },
    );
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    return { realm: `https://${host}:${port}/token`, certFile: f("token.crt"), issued, close: () => server.close() };
}

/** A docker config dir of the test's own, with the buildx plugin linked in as bootstrap installed it. */
export function dockerConfigDir(dir: string, config: object = {}): string {
    const d = path.join(dir, "docker-config");
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(d, "config.json"), JSON.stringify(config));
    const plugins = path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"), "cli-plugins");
    if (!fs.existsSync(path.join(d, "cli-plugins"))) fs.symlinkSync(plugins, path.join(d, "cli-plugins"));
    return d;
}

/**
 * `docker login` as a user runs it (password on stdin), into `env`'s DOCKER_CONFIG. Async:
 * the token server answering dockerd lives in this process.
 */
export function dockerLogin(
    env: Record<string, string>,
    registry: string,
    username: string,
    password: string,
): Promise<void> {
    return run("docker", ["login", "--username", username, "--password-stdin", registry], env, password);
}

/** Runs a command without blocking this process (its servers keep answering); rejects with its output. */
export function run(cmd: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
        let out = "";
        p.stdout.on("data", (c) => (out += c));
        p.stderr.on("data", (c) => (out += c));
        p.on("error", reject);
        p.on("close", (code) =>
            code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} failed (${code}): ${out.trim()}`)),
        );
        p.stdin.end(input ?? "");
    });
}

export interface PassStore {
    env: Record<string, string>;
    stop(): void;
}

/**
 * A password store for docker-credential-pass (Debian's golang-docker-credential-helpers,
 * installed by scripts/bootstrap): a GPG key without passphrase, made for this run, so the
 * helper works headless.
 */
export function passStore(dir: string): PassStore {
    const env = { GNUPGHOME: path.join(dir, "gnupg"), PASSWORD_STORE_DIR: path.join(dir, "password-store") };
    fs.mkdirSync(env.GNUPGHOME, { mode: 0o700 });
    const e = { ...process.env, ...env };
    const id = "pulumi-multiarch-tests@example.invalid";
    execFileSync("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", id, "default", "default", "never"], {
        env: e,
        stdio: "pipe",
    });
    execFileSync("pass", ["init", id], { env: e, stdio: "pipe" });
    return {
        env,
        stop: () => {
            try {
                execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: e, stdio: "ignore" });
            } catch {
                /* none running */
            }
        },
    };
}
