// `scripts/bootstrap --plan` on this real machine changes nothing: packages, dpkg's
// architectures, users, daemon configuration, binfmt_misc, the engine's images and builders,
// the services bootstrap starts, this clone's tools and state, the cache and ~/.docker are the
// same before and after; as this user (a warm machine: nothing to change), for stack dev, and
// as a new user with an empty HOME and cache (where it plans builds, a buildx plugin and the
// test sshd). Its decisions on machines made of shims: tests/unit/bootstrap.test.ts.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync, spawnSync } from "child_process";
import { CACHE, ROOT, requireRealParts } from "../support/env";

const hash = (f: string) => (fs.existsSync(f) ? crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex") : "absent");
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
        files: ["/etc/passwd", "/etc/shadow", "/etc/group", "/var/lib/dpkg/status", "/etc/docker/daemon.json",
            path.join(ROOT, ".state/docker/daemon.json"), "/var/lib/pulumi-multiarch-sshd/authorized_keys",
            ...["amd64", "arm64"].flatMap((a) => [`/var/lib/pulumi-multiarch/fleet/buildkitd-${a}.toml`, `/var/lib/pulumi-multiarch/fleet/buildkitd-${a}.pid`]),
        ].map((f) => `${f} ${hash(f)}`),
        foreignArchitectures: out("dpkg", ["--print-foreign-architectures"]),
        binfmtMounted: fs.existsSync("/proc/sys/fs/binfmt_misc/register"),
        trees: [path.join(ROOT, ".tools"), path.join(home, ".docker/cli-plugins"), path.join(CACHE, "tools"),
            path.join(CACHE, "apt"), path.join(CACHE, "sshd"), path.join(CACHE, "displaced"), path.join(CACHE, "fleet")].map(tree),
        images: out("docker", ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "pulumi-multiarch/*"]),
        bootstrapBuilder: out("docker", ["buildx", "ls", "--format", "{{.Name}}"]).split("\n").filter((n) => n === "pulumi-multiarch-bootstrap"),
        services: ["dockerd --config-file", "docker-registry serve .*/.state/registry/config.yml", "sshd -f .*/sshd/sshd_config",
            "buildkitd --addr tcp://127\\.0\\.[12]\\.1:1234", "noIndexRegistry.ts"].map((p) => `${p}: ${out("pgrep", ["-f", p])}`),
    };
}

function plan(args: string[], env: NodeJS.ProcessEnv = {}): string {
    return execFileSync("bash", [path.join(ROOT, "scripts/bootstrap"), "--plan", ...args],
        { encoding: "utf8", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

describe("scripts/bootstrap --plan on this machine", function () {
    before(() => requireRealParts());

    it("changes nothing: as this user, for stack dev, and as a new user with an empty HOME and cache", () => {
        const before = machine();
        assert.match(plan([]), /Nothing to change: this machine has what npm test needs\./);
        assert.match(plan(["--stack", "dev"]), /Nothing to change: this machine has what pulumi up of stack dev needs\./);
        const fresh = fs.mkdtempSync(path.join(os.tmpdir(), "pm-plan-"));
        try {
            const home = path.join(fresh, "home"), cache = path.join(fresh, "cache");
            fs.mkdirSync(home);
            fs.mkdirSync(cache);
            const text = plan([], { HOME: home, PULUMI_MULTIARCH_CACHE: cache });
            for (const want of [/build +pulumi 3\.248\.0 into/, /build +docker-buildx 0\.38\.2/,
                /install +\S+\/home\/\.docker\/cli-plugins\/docker-buildx -> buildx 0\.38\.2 \(no docker buildx\) \[system\]/,
                /start +sshd on 127\.0\.0\.1:2222/, /That was the plan only \(--plan\): nothing was changed\./]) assert.match(text, want);
            assert.deepStrictEqual([tree(home), tree(cache)], [[], []], "the new user's HOME and cache stay empty");
        } finally {
            fs.rmSync(fresh, { recursive: true, force: true });
        }
        assert.deepStrictEqual(machine(), before);
    });
});
