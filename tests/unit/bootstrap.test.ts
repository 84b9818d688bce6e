// scripts/bootstrap's decisions on machines made of shims (tests/support/shimWorld.ts): it
// uses what works, installs only what is missing, simulates apt first and stops before a
// removal, and --plan changes nothing. The same --plan on this real machine: tests/e2e.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { ShimWorld } from "../support/shimWorld";
// Not ../support/env: it sets the e2e environment on import, which unit tests must not inherit.
const ROOT = path.join(__dirname, "..", "..");
import * as elf from "../../core/elf";

// Go and Node, which bootstrap asks for up front; everything else is per scenario.
const HOST = `
shim_go() { [ "$1 $2" = "env GOVERSION" ] && echo go1.26.8; }
shim_node() { :; }
`;
// apt-get whose simulation installs what it is asked for and removes nothing; openssh-server
// upgrades openssh-client, as on this machine.
// apt-get install makes each package's commands exist (shims that succeed), as bootstrap then checks.
const APT = `
shim_apt_get() {
  case "$1" in
    -s)
      local p; for p in "\${@:3}"; do echo "Inst $p (1.0 Debian:12/stable [amd64])"; done
      [[ " $* " != *" openssh-server "* ]] || echo "Inst openssh-client [1:9.2p1-2+deb12u6] (1:9.2p1-2+deb12u10 Debian:12/stable [amd64])" ;;
    install) apt_provides "$@" ;;
  esac
}
apt_provides() {
  local p c
  for p in "$@"; do
    case $p in
      docker-registry) c=docker-registry ;; openssh-server) c=sshd ;; openssh-client) c=ssh ;; shellcheck) c=shellcheck ;;
      apache2-utils) c=htpasswd ;; pass) c=pass ;; gnupg) c=gpg ;; iproute2) c=ip ;; python3-venv) c=python3 ;; openssl) c=openssl ;;
      curl) c=curl ;; jq) c=jq ;; *) continue ;;
    esac
    printf '#!/bin/bash\\nexit 0\\n' >"$SHIM_DIR/bin/$c"; chmod +x "$SHIM_DIR/bin/$c"
  done
}
`;
// A Docker CLI whose engine answers and runs privileged containers, with the BuildKit image
// present; buildx as $BUILDX says.
// The BuildKit image present, built by the current recipe (its label).
const RECIPE = /^BUILDKIT_IMAGE_RECIPE=(\d+)$/m.exec(fs.readFileSync(path.join(ROOT, "scripts/bootstrap"), "utf8"))![1];
const ENGINE = `
shim_docker() {
  case "$1" in
    info | run) return 0 ;;
    image) echo ${RECIPE} ;;
    version) echo 27.3.1 ;;
    context) echo default ;;
    buildx) buildx_shim "$@" ;;
    *) return 1 ;;
  esac
}
# As docker 28.2.2 answers without the plugin: exit 1, a word on stderr.
buildx_shim() {
  if [ -n "\${BUILDX:-}" ]; then echo "github.com/docker/buildx $BUILDX 0000000"; return 0; fi
  echo "docker: unknown command: docker buildx" >&2; echo "Run 'docker --help' for more information" >&2; return 1
}
shim_dpkg_query() { echo "dpkg-query: no packages found matching \${*: -1}" >&2; return 1; }
`;

const aptCalls = (calls: string[]) => calls.filter((c) => c.startsWith("apt-get "));

describe("scripts/bootstrap on a machine of shims", function () {
    let world: ShimWorld | undefined;
    afterEach(() => world?.remove());

    it("on a bare machine, --plan lists every install, build and start, and changes nothing", () => {
        world = new ShimWorld(HOST + APT, { nodeModules: false });
        const before = world.snapshot();
        const r = world.bootstrap("--plan");
        assert.strictEqual(r.status, 0, r.stderr);
        assert.deepStrictEqual(world.snapshot(), before);
        for (const c of r.calls)
            assert.match(
                c,
                /^(go env GOVERSION|node --version|apt-get -s install --no-install-recommends .*)$/,
                `--plan ran ${c}`,
            );
        const plan = r.stdout;
        for (const want of [
            /install +docker\.io .*openssh-server .*shellcheck apache2-utils pass gnupg iproute2 python3-venv openssl curl jq \(apt-get -s: 14 new packages, none removed; /,
            /; upgrades openssh-client 1:9\.2p1-2\+deb12u6 -> 1:9\.2p1-2\+deb12u10\) \[system, root\]/,
            /docker\.io also adds group docker; enables and starts docker\.service/,
            /install +node_modules \(npm ci/,
            /build +pulumi 3\.248\.0 into .*\/cache\/tools/,
            /build +docker-buildx 0\.38\.2/,
            /install +\S+\/home\/\.docker\/cli-plugins\/docker-buildx -> buildx 0\.38\.2 \(no docker buildx\) \[system\]/,
            /start +dockerd, the project's own: config \.state\/docker\/daemon\.json.* \[system, root\]/,
            /build +image pulumi-multiarch\/buildkit:v0\.34\.2 in the Docker engine/,
            /start +docker-registry on 127\.0\.0\.1:5000/,
            /push +fixtures\/busybox fixtures\/golang fixtures\/binfmt to 127\.0\.0\.1:5000/,
            /start +sshd on 127\.0\.0\.1:2222/,
            /That was the plan only \(--plan\): nothing was changed\./,
        ])
            assert.match(plan, want);
        assert.doesNotMatch(plan, /add-architecture|busybox-static \[/);
    });

    it("--stack dev plans only what the main job needs: no test sshd, user, registries or daemons", () => {
        world = new ShimWorld(HOST + APT, { nodeModules: false });
        const r = world.bootstrap("--stack", "dev", "--plan");
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /install +docker\.io docker-registry curl jq /);
        assert.match(r.stdout, /then pulumi up \(stack dev\) does this[^]*push +127\.0\.0\.1:5000\/hello:1\.0/);
        assert.doesNotMatch(r.stdout, /sshd|pm-nonroot|openssh|apache2-utils|5003|buildkitd for|fixtures\/binfmt/);
    });

    it("--stack prod needs stack dev's image: before dev was up it stops, naming `npm run up`; after, it plans a copy and no builder or emulator", () => {
        world = new ShimWorld(`${HOST}${APT}${ENGINE}shim_jq() { /usr/bin/jq "$@"; }\n`);
        const before = world.bootstrap("--stack", "prod", "--plan");
        assert.strictEqual(before.status, 1, before.stdout);
        assert.match(
            before.stdout,
            /BLOCKED +stack prod promotes what stack dev built and verified, and stack dev has not been up in this clone \(no ref output in \.state\/pulumi\/\.pulumi\/stacks\/pulumi-multiarch\/dev\.json\): run `npm run up` first, then `STACK=prod npm run up`/,
        );
        const state = path.join(world.root, ".state/pulumi/.pulumi/stacks/pulumi-multiarch");
        fs.mkdirSync(state, { recursive: true });
        const ref = `127.0.0.1:5000/hello@sha256:${"a".repeat(64)}`;
        fs.writeFileSync(
            path.join(state, "dev.json"),
            JSON.stringify({
                checkpoint: { latest: { resources: [{ type: "pulumi:pulumi:Stack", outputs: { ref } }] } },
            }),
        );
        const after = world.bootstrap("--stack", "prod", "--plan");
        assert.strictEqual(after.status, 0, after.stdout + after.stderr);
        assert.match(
            after.stdout,
            new RegExp(
                `uses +stack dev's verified image ${ref.replace(/[.]/g, "\\.")} \\(its ref output: stack prod copies it by digest and builds nothing\\)`,
            ),
        );
        assert.match(
            after.stdout,
            /then pulumi up \(stack prod\) does this[^]*copy +stack dev's image by digest to 127\.0\.0\.1:5003\/prod\/hello:1\.0/,
        );
        assert.doesNotMatch(after.stdout, /binfmt handler|buildx builder pulumi-multiarch-prod-builder/);
    });

    it("a BuildKit image of an older recipe (without git, for Git contexts) is built again", () => {
        world = new ShimWorld(
            HOST + APT + ENGINE.replace(`image) echo ${RECIPE} ;;`, "image) echo '<no value>' ;;") + "BUILDX=v0.38.2\n",
        );
        const plan = world.bootstrap("--plan");
        assert.match(
            plan.stdout,
            /build +image pulumi-multiarch\/buildkit:v0\.34\.2 in the Docker engine \(FROM scratch: buildkitd, buildctl, the host's runc and git, Debian's busybox-static\)/,
        );
        world = new ShimWorld(HOST + APT + ENGINE + "BUILDX=v0.38.2\n");
        assert.doesNotMatch(world.bootstrap("--plan").stdout, /build +image pulumi-multiarch\/buildkit/);
    });

    it("an engine that answers is used: no docker package is installed, though docker.io is absent", () => {
        world = new ShimWorld(HOST + APT + ENGINE + "BUILDX=v0.38.2\n");
        const plan = world.bootstrap("--plan");
        assert.strictEqual(plan.status, 0, plan.stderr);
        assert.match(plan.stdout, /uses +the Docker engine that answers \(27\.3\.1, context default\)/);
        const r = world.step("apt_packages");
        assert.strictEqual(r.status, 0, r.stderr);
        const apt = aptCalls(r.calls);
        assert.deepStrictEqual(
            apt.map((c) => c.split(" ").slice(0, 3).join(" ")),
            ["apt-get update -qq", "apt-get -s install", "apt-get install -y"],
            "update, simulate, install",
        );
        assert.match(
            apt[2],
            /--no-remove docker-registry openssh-server openssh-client shellcheck apache2-utils pass gnupg iproute2 python3-venv openssl curl jq$/,
        );
        const planned = /^ +install +(.*) \(apt-get -s:/m.exec(plan.stdout)![1].split(" ");
        const engine = ["docker.io", "docker-ce", "docker-ce-cli", "containerd", "containerd.io", "runc"];
        for (const c of [...apt, planned.join(" ")]) assert.ok(!c.split(" ").some((w) => engine.includes(w)), c);
    });

    it("an apt-get -s plan that removes a package stops the run before any change, naming the conflict", () => {
        world = new ShimWorld(
            HOST +
                `
shim_docker() { return 1; }   # a CLI whose engine does not answer, and no dockerd
shim_apt_get() {
  [ "$1" = -s ] || return 0
  echo "Remv docker-ce [5:27.3.1-1~debian.12~bookworm]"; echo "Remv containerd.io [1.7.22-1]"
  echo "Inst containerd (1.6.20~ds1-1+deb12u3 Debian:12/stable [amd64])"; echo "Inst docker.io (20.10.24 Debian:12/stable [amd64])"
}`,
        );
        const before = world.snapshot();
        const r = world.bootstrap();
        assert.notStrictEqual(r.status, 0);
        assert.match(
            r.stdout,
            /BLOCKED +installing docker\.io .* would remove docker-ce containerd\.io \(apt-get -s install/,
        );
        assert.match(r.stdout, /docker\.io: no Docker engine answers \(docker info\) and there is no dockerd to start/);
        assert.match(r.stderr, /1 problem\(s\) above \(BLOCKED\) must be fixed first; nothing was changed/);
        assert.deepStrictEqual(
            aptCalls(r.calls).filter((c) => !c.startsWith("apt-get -s ")),
            [],
            "only simulations",
        );
        assert.deepStrictEqual(world.snapshot(), before);
    });

    it("the run pass simulates again after apt-get update, and a removal found then stops it before installing", () => {
        world = new ShimWorld(
            HOST +
                ENGINE +
                `
shim_apt_get() {
  case "$1" in
    update) touch "$SHIM_DIR/updated" ;;
    -s) [ -e "$SHIM_DIR/updated" ] && echo "Remv qemu-user-binfmt [1:7.2]"; echo "Inst $4 (1.0 Debian:12/stable [amd64])" ;;
  esac
}`,
        );
        const r = world.step("apt_packages");
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /error: installing .* would remove qemu-user-binfmt/);
        assert.deepStrictEqual(
            aptCalls(r.calls).map((c) => c.split(" ")[1]),
            ["update", "-s"],
        );
    });

    it("privileged containers failing on an engine it did not start: stops, saying what to add to that daemon.json", () => {
        world = new ShimWorld(HOST + APT + ENGINE.replace("info | run)", "info)") + "BUILDX=v0.38.2\n");
        const r = world.bootstrap("--plan");
        assert.strictEqual(r.status, 1);
        assert.match(
            r.stdout,
            /privileged containers\n +BLOCKED +privileged containers fail on this Docker engine, which this project did not start/,
        );
        assert.match(
            r.stdout,
            /which this project did not start: add caps-runc \(\S+\/tools\/caps-runc-1\/caps-runc\) to its daemon\.json/,
        );
        assert.match(
            r.stdout,
            /"default-runtime": "caps-runc"\) and restart it; bootstrap does not edit a daemon\.json it does not own/,
        );
        assert.ok(
            !r.calls.some((c) =>
                /^docker (run (?!--rm --privileged --network none)|build|create|rm|stop|start)\b/.test(c),
            ),
            r.calls.join("\n"),
        );
    });

    it("npm ci's result is kept per lock file and Node.js major, and a new clone gets a copy of it instead of running npm ci", () => {
        const sdk = /^PULUMI_VERSION=(\S+)/m.exec(fs.readFileSync(path.join(ROOT, "scripts/versions.env"), "utf8"))![1];
        world = new ShimWorld(
            HOST +
                APT +
                `
shim_node() { case "$1" in --version) echo v20.20.2 ;; -p) echo ${sdk} ;; esac; }
shim_npm() { mkdir -p node_modules/@pulumi/pulumi node_modules/.bin; echo '{}' >node_modules/.package-lock.json; ln -s ../x/y node_modules/.bin/y; }
`,
            { nodeModules: false },
        );
        const first = world.step("npm_packages");
        assert.strictEqual(first.status, 0, first.stderr);
        assert.deepStrictEqual(
            first.calls.filter((c) => c.startsWith("npm")),
            ["npm ci --no-audit --no-fund --loglevel=error"],
        );
        const kept = fs.readdirSync(path.join(world.cache, "node_modules"));
        assert.strictEqual(kept.length, 1);
        assert.match(kept[0], /^[0-9a-f]{64}-node-v20$/);

        // A new clone: the copy, links as they were, and marked done for the next bootstrap.
        fs.rmSync(path.join(world.root, "node_modules"), { recursive: true });
        assert.match(
            world.bootstrap("--plan").stdout,
            /copy +node_modules from \S+\/node_modules\/[0-9a-f]{64}-node-v20 /,
        );
        const again = world.step("npm_packages");
        assert.strictEqual(again.status, 0, again.stderr);
        assert.deepStrictEqual(
            again.calls.filter((c) => c.startsWith("npm")),
            [],
            "no npm ci",
        );
        assert.strictEqual(fs.readlinkSync(path.join(world.root, "node_modules/.bin/y")), "../x/y");
        assert.ok(
            fs.statSync(path.join(world.root, "node_modules/.package-lock.json")).mtimeMs >
                fs.statSync(path.join(world.root, "package-lock.json")).mtimeMs,
        );
        assert.strictEqual(world.step("npm_packages").calls.length, 0, "done: nothing asked again");

        // Another lock file: npm ci again, and the old copy goes.
        fs.appendFileSync(path.join(world.root, "package-lock.json"), "\n");
        fs.rmSync(path.join(world.root, "node_modules"), { recursive: true });
        const changed = world.step("npm_packages");
        assert.strictEqual(changed.status, 0, changed.stderr);
        assert.ok(changed.calls.includes("npm ci --no-audit --no-fund --loglevel=error"));
        const now = fs.readdirSync(path.join(world.cache, "node_modules"));
        assert.strictEqual(now.length, 1);
        assert.notStrictEqual(now[0], kept[0]);
    });

    it("a buildx at or above the library's minimum is used as it is: nothing built or linked", () => {
        world = new ShimWorld(HOST + ENGINE + "BUILDX=v0.13.0\n");
        const r = world.step("buildx_plugin");
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stderr, /uses docker buildx 0\.13\.0: at least 0\.13\.0, so none is built or installed/);
        assert.ok(!r.calls.some((c) => c.startsWith("go ")), r.calls.join("\n"));
        assert.ok(!fs.existsSync(path.join(world.home, ".docker")));
        assert.doesNotMatch(world.bootstrap("--plan").stdout, /docker-buildx/);
    });

    it("an older buildx is replaced for this user by the pinned build, and kept aside", () => {
        world = new ShimWorld(
            HOST +
                ENGINE.replace(/buildx\) .*/, 'buildx) "$HOME/.docker/cli-plugins/docker-buildx" "${@:2}" ;;') +
                `
shim_go() {
  [ "$1" = build ] || { echo go1.26.8; return; }
  while [ "$1" != -o ]; do shift; done
  printf '#!/bin/bash\\necho github.com/docker/buildx v0.38.2 built\\n' >"$2"; chmod +x "$2"
}`,
        );
        const plugin = path.join(world.home, ".docker/cli-plugins/docker-buildx");
        const old = "#!/bin/bash\necho github.com/docker/buildx v0.12.1 old\n";
        fs.mkdirSync(path.dirname(plugin), { recursive: true });
        fs.writeFileSync(plugin, old, { mode: 0o755 });
        const r = world.step("buildx_plugin");
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(
            r.stderr,
            /docker buildx 0\.12\.1 \(\S+\) is older than 0\.13\.0; the old plugin is moved to \S+\/displaced\/docker-buildx-0\.12\.1-/,
        );
        assert.strictEqual(fs.readlinkSync(plugin), path.join(world.cache, "tools/docker-buildx-0.38.2/docker-buildx"));
        const kept = fs.readdirSync(path.join(world.cache, "displaced"));
        assert.strictEqual(kept.length, 1);
        assert.strictEqual(fs.readFileSync(path.join(world.cache, "displaced", kept[0]), "utf8"), old);
    });
});

describe("scripts/bootstrap names every failure", function () {
    let world: ShimWorld | undefined;
    afterEach(() => world?.remove());

    it("a docker CLI without the buildx plugin (docker 28 exits 1): the pinned buildx is built and linked, in the plan and the run", () => {
        world = new ShimWorld(
            HOST +
                ENGINE.replace(
                    /buildx\) .*/,
                    'buildx) if [ -x "$HOME/.docker/cli-plugins/docker-buildx" ]; then "$HOME/.docker/cli-plugins/docker-buildx" "${@:2}"; else buildx_shim "$@"; fi ;;',
                ) +
                `
shim_go() {
  [ "$1" = build ] || { echo go1.26.8; return; }
  while [ "$1" != -o ]; do shift; done
  printf '#!/bin/bash\\necho github.com/docker/buildx v0.38.2 built\\n' >"$2"; chmod +x "$2"
}`,
        );
        const plan = world.bootstrap("--plan");
        assert.strictEqual(plan.status, 0, plan.stderr);
        assert.match(
            plan.stdout,
            /docker buildx\n +build +docker-buildx 0\.38\.2 .*\n +install +\S+\/docker-buildx -> buildx 0\.38\.2 \(no docker buildx\) \[system\]/,
        );
        const r = world.step("buildx_plugin");
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(
            fs.readlinkSync(path.join(world.home, ".docker/cli-plugins/docker-buildx")),
            path.join(world.cache, "tools/docker-buildx-0.38.2/docker-buildx"),
        );
    });

    it("a failing command in a step stops it with the step, file, line, command and the fix; a caller adds 'from' lines", () => {
        world = new ShimWorld(HOST);
        const r = world.step(`probe() { local v; v=$(false | cat); echo "went on with '$v'"; }
PLAN=0; fix "start the thing"; step "a probe" probe; echo "after the step"`);
        assert.strictEqual(r.status, 1);
        assert.doesNotMatch(r.stdout, /went on|after the step/);
        assert.match(
            r.stderr,
            /^error: a probe: `cat` \(the end of a pipeline whose exit statuses are 1 0\) failed with exit status 1 \(\S+:\d+, in probe\)$/m,
        );
        assert.match(r.stderr, /^ {2}from \S+:\d+ \(probe\), `v=\$\(false \| cat\)`$/m);
        assert.match(r.stderr, /^ {2}fix: run again as bash -x/m, "step clears the previous step's fix");
    });

    it("the plan pass stops at a probe that fails, naming it, instead of planning past it", () => {
        world = new ShimWorld(HOST);
        const r = world.step(`probe() { local out; out=$(bash -c 'echo broken >&2; exit 3'); uses "it: $out"; }
PLAN=1; step "a probe" probe; echo "planned past it"`);
        assert.strictEqual(r.status, 3);
        assert.doesNotMatch(r.stdout, /planned past it|uses/);
        assert.match(
            r.stderr,
            /broken\nerror: a probe: `bash -c 'echo broken >&2; exit 3'` failed with exit status 3 \(\S+:\d+, in probe\)/,
        );
    });

    it("a command substitution that fails inside reports there first, then where its output was used", () => {
        world = new ShimWorld(HOST);
        const r = world.step(`inner() { fix "do the inner fix"; cat /nonexistent; echo never; }
outer() { local x; x=$(inner); echo "outer got $x"; }
PLAN=0; STEP_NAME=s; outer`);
        assert.strictEqual(r.status, 1);
        assert.match(
            r.stderr,
            /error: s: `cat \/nonexistent` failed with exit status 1 \(\S+:\d+, in inner\)\n {2}fix: do the inner fix\n {2}from \S+:\d+ \(outer\), `x=\$\(inner\)`/,
        );
        assert.strictEqual(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
    });

    it("a static runc has no libraries to copy (ldd says 'not a dynamic executable' and exits 1)", () => {
        const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "pm-static-"));
        try {
            const prog = path.join(dir, "runc");
            fs.writeFileSync(prog, elf.exitProgram("amd64"), { mode: 0o755 });
            const r = require("child_process").spawnSync(
                "bash",
                ["-c", `source scripts/bootstrap && libraries_of ${prog} && echo "none: ok"`],
                { cwd: ROOT, encoding: "utf8" },
            );
            assert.strictEqual(r.status, 0, r.stderr);
            assert.strictEqual(r.stdout, "none: ok\n");
            const dynamic = require("child_process").spawnSync(
                "bash",
                ["-c", "source scripts/bootstrap && libraries_of /bin/ls"],
                { cwd: ROOT, encoding: "utf8" },
            );
            assert.match(dynamic.stdout, /^\/lib.*libc\.so\.6$/m);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("scripts/test's parts", () => {
    it("a part that fails is counted where the caller writes `part ... || ...`: its status, named as failed", () => {
        const r = spawnSync(
            "bash",
            [
                "-c",
                `source scripts/lib.sh; part "a check" bash -c "exit 3" || echo "counted $?"; part "a fine one" true && echo "fine"`,
            ],
            { cwd: ROOT, encoding: "utf8" },
        );
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /^counted 3\nfine$/m);
        assert.match(r.stdout + r.stderr, /a check: failed \(exit 3\)/);
    });
});

describe("scripts/bootstrap's plan", function () {
    let world: ShimWorld | undefined;
    afterEach(() => world?.remove());

    it("never runs a step that does not list its changes in the plan pass, and runs it in the real run", () => {
        world = new ShimWorld(HOST);
        const r = world.step(`mark() { echo "it uses and changes"; touch "$SHIM_DIR/made"; }
PLAN=1; step "a step of someone else" mark; echo "planned=$PLANNED"; [ ! -e "$SHIM_DIR/made" ] && echo "plan: untouched"
PLAN=0; step "a step of someone else" mark; [ -e "$SHIM_DIR/made" ] && echo "run: made"`);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(
            r.stdout,
            /a step of someone else\n +run +this step in the real run: it does not list what it changes/,
        );
        assert.match(r.stdout, /planned=1\nplan: untouched\n/);
        assert.match(r.stdout, /run: made/);
    });
});

describe("scripts/binfmt-proofs.txt", () => {
    it("holds core/elf.ts's proof programs, which bootstrap runs to tell a working QEMU handler", () => {
        const text = fs.readFileSync(path.join(ROOT, "scripts/binfmt-proofs.txt"), "utf8");
        const programs = Object.fromEntries(
            text
                .split("\n")
                .filter((l) => l && !l.startsWith("#"))
                .map((l) => l.split(" ")),
        );
        const archs = ["amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"].filter(elf.canProve);
        assert.deepStrictEqual(Object.keys(programs).sort(), archs.sort());
        for (const a of archs)
            assert.strictEqual(
                programs[a],
                elf.exitProgram(a).toString("base64"),
                `${a}: regenerate the line from elf.exitProgram`,
            );
    });
});
