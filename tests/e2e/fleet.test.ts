// Stack multinode (Pulumi.multinode.yaml) through the main program: a builder fleet of two
// BuildKit daemons reached on tcp:// with mutual TLS, as teams reach native arm64 machines
// (scripts/bootstrap starts them; the arm64 one runs through QEMU here). Its whole life: the
// refusals at preview, the first up, a no-op up, a rotated client certificate, destroy; each
// daemon's own build history says which node built which platform. Faults use certificates
// and addresses of the test's own, never the machine's daemons.
import * as pulumi from "@pulumi/pulumi";
import { type Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { BuildxBuilder } from "../../components";
import type { BuilderInputs } from "../../contract/types";
import { probe, type ProbeResult } from "../../core/nodeProbe";
import { builderProvider } from "../../provider/resources/builder";
import { argvContaining } from "../support/argv";
import { builderGone, requireRealParts, runImage } from "../support/env";
import {
    FLEET_ENDPOINTS,
    FLEET_PKI,
    histories,
    MACHINE_TLS,
    pemLine,
    pki,
    requireFleet,
    setTlsSecrets,
    type TlsFiles,
} from "../support/fleet";
import { manifest } from "../support/registry";
import { committedStack, dispose, disposeCommitted, failure, inlineStack, stateTexts } from "../support/stack";

const REG = "127.0.0.1:5000";
const REPO = "e2e/fleet";
/** An address of the test's own where nothing listens: a node that is down. */
const DOWN = "tcp://127.0.3.1:1234";
const tlsRoot = () =>
    path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"), "buildx", "pulumi-multiarch-tls");
const read = (f: string) => fs.readFileSync(f, "utf8");
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Certificates of the test's own: another CA, a client it signed, and expired and rotated clients of the machine's CA. */
function testPki(dir: string) {
    const other = pki("ca", path.join(dir, "other"));
    return {
        wrongCa: { ...MACHINE_TLS, ca: other.ca },
        unknownClient: { ...pki("client", dir, path.join(dir, "other"), "stranger"), ca: MACHINE_TLS.ca },
        expiredClient: pki("expired", dir, FLEET_PKI, "expired"),
        rotated: pki("client", dir, FLEET_PKI, "rotated"),
    };
}

describe("the node probe against the fleet's real daemons (as buildx connects: TLS, ALPN h2, the HTTP/2 preface)", function () {
    let dir: string;
    let certs: ReturnType<typeof testPki>;
    before(() => {
        requireFleet();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-fleet-probe-"));
        certs = testPki(dir);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const tls = (f: TlsFiles) => ({ cacert: read(f.ca), cert: read(f.cert), key: read(f.key) });
    const kind = (r: ProbeResult) => (r.ok ? "ok" : r.kind);

    it("tells each answer apart: accepted, down, wrong CA, unknown, expired or missing client certificate, wrong name, TLS or not", async () => {
        const cases: [string, Parameters<typeof probe>[0], string][] = [
            ["the machine's client", { name: "n", endpoint: FLEET_ENDPOINTS.arm64, tls: tls(MACHINE_TLS) }, "ok"],
            ["nothing listens", { name: "n", endpoint: DOWN, tls: tls(MACHINE_TLS) }, "down"],
            ["another CA", { name: "n", endpoint: FLEET_ENDPOINTS.amd64, tls: tls(certs.wrongCa) }, "untrusted"],
            [
                "a client of another CA",
                { name: "n", endpoint: FLEET_ENDPOINTS.amd64, tls: tls(certs.unknownClient) },
                "client-refused",
            ],
            [
                "an expired client",
                { name: "n", endpoint: FLEET_ENDPOINTS.amd64, tls: tls(certs.expiredClient) },
                "client-expired",
            ],
            [
                "no client certificate",
                { name: "n", endpoint: FLEET_ENDPOINTS.amd64, tls: { cacert: read(MACHINE_TLS.ca) } },
                "client-refused",
            ],
            [
                "a servername the certificate lacks",
                { name: "n", endpoint: FLEET_ENDPOINTS.amd64, tls: tls(MACHINE_TLS), servername: "localhost" },
                "wrong-name",
            ],
            ["no TLS", { name: "n", endpoint: FLEET_ENDPOINTS.amd64 }, "needs-tls"],
            ["TLS to a plain HTTP server", { name: "n", endpoint: `tcp://${REG}`, tls: tls(MACHINE_TLS) }, "not-tls"],
        ];
        const got = await Promise.all(cases.map(async ([what, node]) => [what, kind(await probe(node))]));
        assert.deepStrictEqual(
            got,
            cases.map(([what, , want]) => [what, want]),
        );
    });
});

describe("BuildxBuilder over the fleet's daemons: one preview refuses each node it cannot use", function () {
    let dir: string;
    let stack: Stack;
    const name = `pm-e2e-fleet-refusals-${process.pid}`;
    before(async () => {
        requireRealParts();
        requireFleet();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-fleet-refuse-"));
        const certs = testPki(dir);
        const tls = (f: TlsFiles) => ({
            cacert: pulumi.secret(read(f.ca)),
            cert: pulumi.secret(read(f.cert)),
            key: pulumi.secret(read(f.key)),
        });
        // The engine stops a preview at the first resource it refuses: one builder, one fault per node.
        stack = await inlineStack("e2e-fleet-refusals", async () => {
            new BuildxBuilder("fleet", {
                name,
                driver: "remote",
                endpoint: FLEET_ENDPOINTS.amd64,
                platforms: ["linux/amd64"],
                tls: tls(certs.unknownClient),
                nodes: [
                    {
                        name: "arm64",
                        endpoint: FLEET_ENDPOINTS.arm64,
                        platforms: ["linux/arm64"],
                        tls: tls(certs.expiredClient),
                    },
                    { name: "spare", endpoint: DOWN, platforms: ["linux/arm64"], tls: tls(MACHINE_TLS) },
                ],
            });
        });
    });
    after(async () => {
        await dispose(stack);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("a client certificate of another CA, an expired one, a node that is down: each node, its endpoint, the fix; nothing created", async () => {
        const text = await failure(() => stack.preview({ onOutput: () => {} }));
        assert.match(
            text,
            new RegExp(
                `node ${name}0 at ${esc(FLEET_ENDPOINTS.amd64)} refused the client certificate in tls\\.cert ` +
                    "\\(the node answered: tlsv1 alert unknown ca\\): use a client certificate signed by the CA the daemon trusts \\(its --tlscacert\\), " +
                    "and set tls\\.cert and tls\\.key",
            ),
        );
        assert.match(
            text,
            new RegExp(
                `node arm64 at ${esc(FLEET_ENDPOINTS.arm64)}: the client certificate in nodes\\[0\\]\\.tls\\.cert has expired ` +
                    "\\(valid until 2020-01-02T00:00:00\\.000Z\\): issue a new one from the daemon's CA and set nodes\\[0\\]\\.tls\\.cert and nodes\\[0\\]\\.tls\\.key",
            ),
        );
        assert.match(
            text,
            new RegExp(
                `node spare at ${esc(DOWN)} does not answer \\(connect ECONNREFUSED 127\\.0\\.3\\.1:1234\\): start BuildKit there ` +
                    "\\(`buildkitd --addr tcp://0\\.0\\.0\\.0:1234 --tlscacert ca\\.pem --tlscert server\\.pem --tlskey server-key\\.pem`\\), " +
                    "fix nodes\\[1\\]\\.endpoint, or remove the node",
            ),
        );
        assert.deepStrictEqual((await stack.exportStack()).deployment.resources ?? [], []);
        assert.ok(builderGone(name), `builder ${name} exists`);
    });
});

describe("stack multinode (Pulumi.multinode.yaml): a builder fleet over mutual TLS", function () {
    const tag = `e2e-${Date.now()}`;
    let stack: Stack;
    let dir: string;
    let certs: ReturnType<typeof testPki>;
    let builder: string;
    const seen: Record<string, string[]> = {};
    // This file's builds only: the fleet is the machine's, and other files (plan.test.ts) build on it meanwhile.
    const ours = (r: any) => JSON.stringify(r.Exporters ?? []).includes(`${REG}/${REPO}`);
    const newRecords = (arch: "amd64" | "arm64") =>
        histories(arch).filter((r) => ours(r) && !seen[arch].includes(r.Ref));
    const quiet = { onOutput: () => {} };

    before(async () => {
        requireRealParts();
        requireFleet();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-fleet-"));
        certs = testPki(dir);
        for (const arch of ["amd64", "arm64"] as const) seen[arch] = histories(arch).map((r) => r.Ref);
        // As committed, but the folder this machine's fleet PKI is in (PULUMI_MULTIARCH_CACHE may move it).
        stack = await committedStack("multinode", { repository: REPO, tag, builderTlsDir: FLEET_PKI });
        builder = `pulumi-multiarch-${stack.name}-builder`;
    });
    after(async () => {
        await disposeCommitted(stack);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("refuses a CA that did not sign the daemons' certificates at preview: each node, its endpoint, the fix", async () => {
        setTlsSecrets(stack, certs.wrongCa);
        const text = await failure(() => stack.preview(quiet));
        for (const [node, endpoint, prop] of [
            [`${builder}0`, FLEET_ENDPOINTS.amd64, "tls"],
            ["arm64", FLEET_ENDPOINTS.arm64, "nodes[0].tls"],
        ]) {
            assert.match(
                text,
                new RegExp(
                    `node ${esc(node)} at ${esc(endpoint)} presents a certificate that ${esc(prop)}\\.cacert did not sign ` +
                        `\\(unable to verify the first certificate\\): set ${esc(prop)}\\.cacert to the CA that signed the daemon's --tlscert`,
                ),
            );
        }
    });

    it("an up refused the same way creates no builder and writes no TLS file", async () => {
        const text = await failure(() => stack.up(quiet));
        assert.match(text, /presents a certificate that tls\.cacert did not sign/);
        const ours = ((await stack.exportStack()).deployment.resources ?? []).filter((r: any) =>
            /^pulumi-nodejs:dynamic\/multiarch:(Builder|Image)$/.test(r.type),
        );
        assert.deepStrictEqual(
            ours.map((r: any) => r.urn),
            [],
        );
        assert.ok(builderGone(builder), `builder ${builder} exists`);
        assert.ok(!fs.existsSync(path.join(tlsRoot(), builder)), "TLS files were written");
    });

    it("first up over mutual TLS, the material read from builderTlsDir as committed: an index of amd64 + arm64, the arm64 image runs as aarch64; the key reaches no argv, output or state", async () => {
        await stack.removeAllConfig([
            "pulumi-multiarch:builderTlsCa",
            "pulumi-multiarch:builderTlsCert",
            "pulumi-multiarch:builderTlsKey",
        ]);
        await stack.setConfig("pulumi-multiarch:builderTlsDir", { value: FLEET_PKI });
        const out: string[] = [];
        const { result, seen: argv } = await argvContaining(pemLine(MACHINE_TLS.key), () =>
            stack.up({ onOutput: (l) => out.push(l) }),
        );
        const o = result.outputs;
        assert.deepStrictEqual(argv, [], "the client key was on a command line");
        // buildx lists a node's declared platforms first, then what its daemon reports.
        assert.deepStrictEqual(
            o.builderNodes.value.map((n: any) => [n.name, n.endpoint, n.status, n.platforms[0]]),
            [
                [`${builder}0`, FLEET_ENDPOINTS.amd64, "running", "linux/amd64"],
                ["arm64", FLEET_ENDPOINTS.arm64, "running", "linux/arm64"],
            ],
        );
        const index = await manifest(REG, REPO, tag);
        assert.strictEqual(index.digest, o.digest.value);
        assert.deepStrictEqual(
            index.body.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`).sort(),
            ["linux/amd64", "linux/arm64"],
        );
        assert.match(runImage("linux/arm64", o.ref.value), /^machine: aarch64$/m);
        assert.match(
            runImage("linux/amd64", `${REG}/${REPO}@${o.platformDigests.value["linux/amd64"]}`),
            /^machine: x86_64$/m,
        );

        const { exported, onDisk } = stateTexts(stack, "pulumi-multiarch");
        for (const file of [MACHINE_TLS.key, MACHINE_TLS.cert]) {
            const line = pemLine(file);
            assert.ok(!out.join("").includes(line), `${path.basename(file)} is in the output`);
            assert.ok(
                !exported.includes(line) && !onDisk.includes(line),
                `${path.basename(file)} is in the state in clear`,
            );
        }
        // buildx reads the material from files that live as long as the builder: 0600 in 0700 folders.
        for (const node of [`${builder}0`, "arm64"]) {
            const d = path.join(tlsRoot(), builder, node);
            assert.strictEqual(fs.statSync(d).mode & 0o777, 0o700);
            for (const f of ["cacert.pem", "cert.pem", "key.pem"])
                assert.strictEqual(fs.statSync(path.join(d, f)).mode & 0o777, 0o600, `${node}/${f}`);
            assert.strictEqual(read(path.join(d, "key.pem")).trim(), read(MACHINE_TLS.key).trim());
        }
    });

    it("each daemon built only its own platform (its own build history)", () => {
        for (const arch of ["amd64", "arm64"] as const) {
            const fresh = newRecords(arch);
            assert.ok(fresh.length >= 1, `daemon ${arch} built nothing`);
            assert.deepStrictEqual([...new Set(fresh.map((r) => r.FrontendAttrs.platform))], [`linux/${arch}`]);
        }
    });

    it("a second up changes nothing", async () => {
        assert.deepStrictEqual((await stack.up(quiet)).summary.resourceChanges, { same: 7 });
    });

    it("a rotated client certificate replaces the builder and rebuilds nothing; the new key reaches no argv", async () => {
        const before = await stack.outputs();
        for (const arch of ["amd64", "arm64"] as const) seen[arch] = histories(arch).map((r) => r.Ref);
        setTlsSecrets(stack, certs.rotated);
        const { result, seen: argv } = await argvContaining(pemLine(certs.rotated.key), () => stack.up(quiet));
        assert.deepStrictEqual(argv, [], "the new client key was on a command line");
        assert.deepStrictEqual(result.summary.resourceChanges, { replace: 1, same: 6 });
        assert.strictEqual(result.outputs.digest.value, before.digest.value);
        for (const arch of ["amd64", "arm64"] as const)
            assert.deepStrictEqual(newRecords(arch), [], `daemon ${arch} built something`);
        for (const node of [`${builder}0`, "arm64"]) {
            assert.strictEqual(
                read(path.join(tlsRoot(), builder, node, "cert.pem")).trim(),
                read(certs.rotated.cert).trim(),
            );
        }
        assert.deepStrictEqual(
            result.outputs.builderNodes.value.map((n: any) => n.status),
            ["running", "running"],
        );
    });

    it("destroy removes the builder and its TLS files; the daemons (not the stack's) still run", async () => {
        await stack.destroy(quiet);
        assert.ok(builderGone(builder), `builder ${builder} is still listed`);
        assert.ok(!fs.existsSync(path.join(tlsRoot(), builder)), "the TLS files are still there");
        requireFleet();
    });
});

describe("a node that goes down between preview and up: refused at create, nothing left", function () {
    const name = `pm-e2e-fleet-down-${process.pid}`;
    after(async () => {
        await builderProvider.delete(name, { name, keepState: false, managed: true } as any);
    });

    it("buildx cannot boot the builder; the error names the node, its endpoint and the fix, and the builder and TLS files are gone", async () => {
        requireFleet();
        const inputs: BuilderInputs = {
            name,
            driver: "remote",
            bootstrap: true,
            keepState: false,
            emulated: [],
            nodes: [{ name: `${name}0`, endpoint: DOWN, platforms: ["linux/arm64"], driverOpts: {} }],
            tls: {
                [`${name}0`]: {
                    cacert: read(MACHINE_TLS.ca),
                    cert: read(MACHINE_TLS.cert),
                    key: read(MACHINE_TLS.key),
                },
            },
        };
        // The engine would call check first (and refuse); create alone is what runs when the node dies in between.
        const text = await builderProvider.create(inputs).then(
            () => "created",
            (e: Error) => e.message,
        );
        assert.match(
            text,
            new RegExp(
                `node ${name}0 at tcp://127\\.0\\.3\\.1:1234 does not answer \\(connect ECONNREFUSED 127\\.0\\.3\\.1:1234\\): start BuildKit there`,
            ),
        );
        assert.ok(builderGone(name), `builder ${name} was left behind`);
        assert.ok(!fs.existsSync(path.join(tlsRoot(), name)), "TLS files were left behind");
    });
});
