// `scripts/bootstrap --plan` on this real machine changes nothing: packages, dpkg's
// architectures, users, daemon configuration, binfmt_misc, the engine's images and builders,
// the services bootstrap starts, this clone's tools and state, the cache and ~/.docker are the
// same before and after; as this user (a warm machine: nothing to change), for stack dev, and
// as a new user with an empty HOME and cache (where it plans builds, a buildx plugin and the
// test sshd). Its decisions on machines made of shims: tests/unit/bootstrap.test.ts.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { type AuthRegistry, startAuthRegistry } from "../support/authRegistry";
import { CACHE, requireRealParts, ROOT } from "../support/env";
import { systemPath, UserMachine } from "../support/userMachine";

const hash = (f: string) =>
    fs.existsSync(f) ? crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex") : "absent";
const out = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" }).stdout.trim();

/** Every file and link under `dir`: path, size, mtime, link target. Services' logs grow by themselves. */
function tree(dir: string): string[] {
    if (!fs.existsSync(dir)) return [`${dir} absent`];
    const rows: string[] = [];
    const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            const st = fs.lstatSync(p);
            if (e.name.endsWith(".log")) continue;
            rows.push(`${p} ${st.size} ${st.mtimeMs}${e.isSymbolicLink() ? ` -> ${fs.readlinkSync(p)}` : ""}`);
            if (e.isDirectory()) walk(p);
        }
    };
    walk(dir);
    return rows.sort();
}

/** What bootstrap could change on this machine, as it is now. */
function machine(): Record<string, unknown> {
    const home = os.homedir();
    return {
        files: [
            "/etc/passwd",
            "/etc/shadow",
            "/etc/group",
            "/var/lib/dpkg/status",
            "/etc/docker/daemon.json",
            path.join(ROOT, ".state/docker/daemon.json"),
            "/var/lib/pulumi-multiarch-sshd/authorized_keys",
            ...["amd64", "arm64"].flatMap((a) => [
                `/var/lib/pulumi-multiarch/fleet/buildkitd-${a}.toml`,
                `/var/lib/pulumi-multiarch/fleet/buildkitd-${a}.pid`,
            ]),
        ].map((f) => `${f} ${hash(f)}`),
        foreignArchitectures: out("dpkg", ["--print-foreign-architectures"]),
        binfmtMounted: fs.existsSync("/proc/sys/fs/binfmt_misc/register"),
        trees: [
            path.join(ROOT, ".tools"),
            path.join(home, ".docker/cli-plugins"),
            path.join(CACHE, "tools"),
            path.join(CACHE, "apt"),
            path.join(CACHE, "sshd"),
            path.join(CACHE, "displaced"),
            path.join(CACHE, "fleet"),
        ].map(tree),
        images: out("docker", ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "pulumi-multiarch/*"]),
        bootstrapBuilder: out("docker", ["buildx", "ls", "--format", "{{.Name}}"])
            .split("\n")
            .filter((n) => n === "pulumi-multiarch-bootstrap"),
        // Bootstrap's own services only: a test beside this one may start and stop a dockerd of its own.
        services: [
            "dockerd --config-file .*/\\.state/docker/daemon\\.json",
            "docker-registry serve .*/.state/registry/config.yml",
            "sshd -f .*/sshd/sshd_config",
            "buildkitd --addr tcp://127\\.0\\.[12]\\.1:1234",
            "noIndexRegistry.ts",
        ].map((p) => `${p}: ${out("pgrep", ["-f", p])}`),
    };
}

function plan(args: string[], env: NodeJS.ProcessEnv = {}): string {
    return execFileSync("bash", [path.join(ROOT, "scripts/bootstrap"), "--plan", ...args], {
        encoding: "utf8",
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
}

describe("scripts/bootstrap --plan on this machine", function () {
    before(() => requireRealParts());

    it("changes nothing: as this user, for stack dev, and as a new user with an empty HOME and cache", () => {
        const before = machine();
        assert.match(plan([]), /Nothing to change: this machine has what npm test needs\./);
        assert.match(
            plan(["--stack", "dev"]),
            /Nothing to change: this machine has what pulumi up of stack dev needs\./,
        );
        const fresh = fs.mkdtempSync(path.join(os.tmpdir(), "pm-plan-"));
        try {
            const home = path.join(fresh, "home"),
                cache = path.join(fresh, "cache");
            fs.mkdirSync(home);
            fs.mkdirSync(cache);
            const text = plan([], { HOME: home, PULUMI_MULTIARCH_CACHE: cache });
            for (const want of [
                /build +pulumi 3\.248\.0 into/,
                /build +docker-buildx 0\.38\.2/,
                /install +\S+\/home\/\.docker\/cli-plugins\/docker-buildx -> buildx 0\.38\.2 \(no docker buildx\) \[system\]/,
                /start +sshd on 127\.0\.0\.1:2222/,
                /That was the plan only \(--plan\): nothing was changed\./,
            ])
                assert.match(text, want);
            assert.deepStrictEqual([tree(home), tree(cache)], [[], []], "the new user's HOME and cache stay empty");
        } finally {
            fs.rmSync(fresh, { recursive: true, force: true });
        }
        assert.deepStrictEqual(machine(), before);
    });
});

describe("scripts/bootstrap for real, in the states a user's machine is in", function () {
    let m: UserMachine;
    before(() => {
        requireRealParts();
        m = new UserMachine();
    });
    after(() => m.remove());
    const plugin = () => path.join(m.home, ".docker/cli-plugins/docker-buildx");

    it("a new user: empty HOME, a docker CLI without buildx, an engine not this clone's, no Go module cache: completes, buildx linked", () => {
        const modcache = path.join(m.dir, "gomodcache");
        fs.mkdirSync(modcache);
        const r = m.bash("bash scripts/bootstrap --stack dev", { GOMODCACHE: modcache });
        assert.strictEqual(r.status, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(
            r.stdout,
            /docker buildx\n +install +\S+\/home\/\.docker\/cli-plugins\/docker-buildx -> buildx 0\.38\.2 \(no docker buildx\) \[system\]/,
        );
        assert.match(
            r.stdout,
            /dockerd\n +uses +the Docker engine that answers/,
            "an engine that answers is used, though this clone did not start it",
        );
        assert.strictEqual(fs.readlinkSync(plugin()), path.join(m.cache, "tools/docker-buildx-0.38.2/docker-buildx"));
        assert.match(m.bash("docker buildx version").stdout, /^github\.com\/docker\/buildx v0\.38\.2 /);
        assert.doesNotMatch(r.stderr, /go: downloading/, "the tools cache had every tool: nothing to fetch");
        assert.deepStrictEqual(fs.readdirSync(modcache), []);
        assert.ok(!fs.existsSync(path.join(m.home, ".docker/config.json")), "bootstrap wrote the user's docker config");
    });

    it("an older buildx in the user's cli-plugins: kept aside in the cache, the pinned one linked in its place", () => {
        fs.rmSync(plugin());
        const old =
            '#!/bin/sh\n[ "$1" = docker-cli-plugin-metadata ] && exec echo \'{"SchemaVersion":"0.1.0","Vendor":"Docker Inc.","Version":"v0.12.1"}\'\necho \'github.com/docker/buildx v0.12.1 0000000\'\n';
        fs.writeFileSync(plugin(), old, { mode: 0o755 });
        assert.match(m.bash("docker buildx version").stdout, /v0\.12\.1/, "the shim is what docker runs");
        const r = m.bash("bash scripts/bootstrap --stack dev");
        assert.strictEqual(r.status, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(
            r.stdout,
            /docker buildx 0\.12\.1 \(\S+\) is older than 0\.13\.0; the old plugin is moved to \S+\/cache\/displaced\/docker-buildx-0\.12\.1-\d+/,
        );
        const kept = fs.readdirSync(path.join(m.cache, "displaced"));
        assert.strictEqual(fs.readFileSync(path.join(m.cache, "displaced", kept[0]), "utf8"), old);
        assert.match(m.bash("docker buildx version").stdout, /v0\.38\.2/);
    });

    it("no docker CLI on PATH: stops naming what is still missing and the fix, after apt-get finds docker.io installed", () => {
        const bin = m.pathWithout(["docker"], systemPath());
        const r = m.bash("bash scripts/bootstrap --stack dev", { PATH: bin });
        assert.notStrictEqual(r.status, 0, r.stdout);
        assert.match(r.stdout, /docker\.io: no docker CLI on PATH/);
        assert.match(
            r.stderr,
            /^error: after apt-get install docker\.io\S* .*still missing: docker\.io: no docker CLI on PATH;.* add the folders that hold their commands to PATH/m,
        );
        assert.doesNotMatch(r.stdout, /==> docker buildx/, "it stopped at the step that failed");
    });
});

describe("the user's tools stay the user's", function () {
    let m: UserMachine;
    let registry: AuthRegistry;
    before(async () => {
        requireRealParts();
        m = new UserMachine();
        registry = await startAuthRegistry(5021);
    });
    after(() => {
        registry?.stop();
        m?.remove();
    });

    it("scripts/env.sh and npm run up put pulumi on PATH and nothing the tests use", () => {
        const r = m.bash(
            'source scripts/env.sh; for c in pulumi docker-credential-pass buildctl buildkitd sdkgen; do command -v $c || echo "no $c"; done',
            {},
            ROOT,
        );
        assert.strictEqual(
            r.stdout,
            `${ROOT}/.tools/bin/pulumi\nno docker-credential-pass\nno buildctl\nno buildkitd\nno sdkgen\n`,
            r.stderr,
        );
        // scripts/up (npm run up) runs with scripts/lib.sh's PATH: .tools/bin first.
        assert.deepStrictEqual(fs.readdirSync(path.join(ROOT, ".tools/bin")), ["pulumi"]);
    });

    it("docker login, docker buildx and pulumi behave in a user's shell after env.sh as without it", () => {
        const session = (withEnv: boolean) => {
            const home = fs.mkdtempSync(path.join(m.dir, "login-"));
            // This user's buildx, as bootstrap links it.
            fs.mkdirSync(path.join(home, ".docker/cli-plugins"), { recursive: true });
            fs.symlinkSync(
                path.join(CACHE, "tools/docker-buildx-0.38.2/docker-buildx"),
                path.join(home, ".docker/cli-plugins/docker-buildx"),
            );
            const r = m.bash(
                `${withEnv ? "source scripts/env.sh; " : ""}docker login -u "$U" --password-stdin "$R" <<<"$P" && docker buildx version`,
                { HOME: home, U: registry.username, P: registry.password, R: registry.addr },
                ROOT,
            );
            const config = JSON.parse(fs.readFileSync(path.join(home, ".docker/config.json"), "utf8"));
            return { status: r.status, out: r.stdout, err: r.stderr.replace(/\/tmp\/\S+/g, "<home>"), config };
        };
        const plain = session(false),
            withEnv = session(true);
        assert.strictEqual(plain.status, 0, plain.err);
        assert.deepStrictEqual(withEnv, plain);
        assert.match(withEnv.out, /^Login Succeeded$/m);
        assert.deepStrictEqual(Object.keys(withEnv.config), ["auths"], "no credsStore chosen for the user");
        assert.ok(withEnv.config.auths[registry.addr].auth, "the login is in the user's config");
        assert.match(m.bash("source scripts/env.sh; pulumi version", {}, ROOT).stdout, /^v3\.248\.0$/m);
    });
});
