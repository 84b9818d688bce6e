// Checks of a remote BuildKit node (core/nodeProbe.ts), pure parts: what each real answer of
// the fleet's daemons means (tests/fixtures/tls-probe-answers.json, captured from them and
// from the registry), the TLS material on its own, and messages that name node, endpoint, fix.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import {
    materialProblems,
    outcome,
    type ProbeEvent,
    type ProblemKind,
    refusal,
    tcpAddress,
} from "../../core/nodeProbe";

const ROOT = path.join(__dirname, "..", "..");

describe("node probe: answers of real daemons", () => {
    const answers: Record<string, any> = JSON.parse(
        fs.readFileSync(path.join(ROOT, "tests/fixtures/tls-probe-answers.json"), "utf8"),
    );
    const event = (a: any): ProbeEvent =>
        a.data ? { data: Buffer.from(a.data, "hex") } : a.closed ? { closed: true } : a;
    const table: [string, boolean, string, string?][] = [
        ["accepted (mTLS, the machine's client certificate)", true, "ok"],
        ["node down (nothing listens)", true, "down", "connect ECONNREFUSED 127.0.3.1:1234"],
        ["wrong CA (cacert of another CA)", true, "untrusted", "unable to verify the first certificate"],
        [
            "unknown client certificate (signed by another CA)",
            true,
            "client-refused",
            "the node answered: tlsv1 alert unknown ca",
        ],
        ["expired client certificate", true, "client-expired", "the node answered: sslv3 alert certificate expired"],
        ["no client certificate", true, "client-refused", "the node answered: tlsv13 alert certificate required"],
        ["servername not in the daemon's certificate", true, "wrong-name"],
        ["TLS to a plain HTTP server", true, "not-tls", "wrong version number"],
        ["plain to the TLS daemon", false, "needs-tls"],
        ["plain to a plain HTTP server", false, "not-buildkit", `it answered "HTTP/1.1 301 Moved Permanently"`],
    ];
    it("every captured answer is in the table", () => {
        assert.deepStrictEqual(Object.keys(answers).sort(), table.map((t) => t[0]).sort());
    });
    for (const [scenario, withTls, kind, detail] of table) {
        it(`${scenario}: ${kind}`, () => {
            const r = outcome(event(answers[scenario]), withTls);
            assert.strictEqual(r.ok ? "ok" : r.kind, kind);
            if (detail && !r.ok) assert.strictEqual(r.detail, detail);
        });
    }
});

describe("node probe: endpoints", () => {
    it("reads tcp://host:port, IPv6 in brackets; nothing else", () => {
        assert.deepStrictEqual(tcpAddress("tcp://127.0.1.1:1234"), { host: "127.0.1.1", port: 1234 });
        assert.deepStrictEqual(tcpAddress("tcp://arm64-builder.example:1234/"), {
            host: "arm64-builder.example",
            port: 1234,
        });
        assert.deepStrictEqual(tcpAddress("tcp://[::1]:1234"), { host: "::1", port: 1234 });
        assert.strictEqual(tcpAddress("tcp://host"), undefined);
        assert.strictEqual(tcpAddress("unix:///run/buildkitd.sock"), undefined);
    });
});

describe("node probe: TLS material on its own (certificates made by scripts/pki.sh)", () => {
    let dir: string;
    const pem = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-unit-pki-"));
        const pki = (...a: string[]) =>
            execFileSync("bash", [path.join(ROOT, "scripts/pki.sh"), ...a], { stdio: "pipe" });
        pki("ca", dir);
        pki("client", dir, dir, "client");
        pki("client", dir, dir, "other");
        pki("expired", dir, dir, "old");
        pki("server", dir, dir, "server", "127.0.1.1");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("pki.sh writes keys 0600 and a server certificate for its address", () => {
        for (const k of ["ca-key.pem", "client-key.pem", "server-key.pem"])
            assert.strictEqual(fs.statSync(path.join(dir, k)).mode & 0o777, 0o600, k);
        const san = execFileSync(
            "openssl",
            ["x509", "-noout", "-ext", "subjectAltName", "-in", path.join(dir, "server.pem")],
            { encoding: "utf8" },
        );
        assert.match(san, /IP Address:127\.0\.1\.1/);
    });

    it("accepts a CA, a client certificate and its key", () => {
        assert.deepStrictEqual(
            materialProblems({ cacert: pem("ca.pem"), cert: pem("client.pem"), key: pem("client-key.pem") }),
            [],
        );
    });

    it("refuses a key that is not the certificate's, a certificate without its key, and text that is no PEM", () => {
        const details = (t: Parameters<typeof materialProblems>[0]) =>
            materialProblems(t).map((p) => `${p.kind}: ${p.detail}`);
        assert.deepStrictEqual(details({ cert: pem("client.pem"), key: pem("other-key.pem") }), [
            "material: key is not the private key of cert",
        ]);
        assert.deepStrictEqual(details({ cert: pem("client.pem") }), ["material: cert is set without key"]);
        assert.deepStrictEqual(details({ cacert: "ca", cert: "cert", key: "key" }), [
            "material: cacert is not a PEM certificate",
            "material: cert is not a PEM certificate",
            "material: key is not a PEM private key (or it is encrypted)",
        ]);
    });

    it("refuses an expired client certificate without connecting", () => {
        assert.deepStrictEqual(materialProblems({ cert: pem("old.pem"), key: pem("old-key.pem") }), [
            { kind: "client-expired", detail: "valid until 2020-01-02T00:00:00.000Z" },
        ]);
        const later = new Date(Date.now() + 3651 * 86400_000);
        assert.strictEqual(
            materialProblems({ cert: pem("client.pem"), key: pem("client-key.pem") }, later)[0].kind,
            "client-expired",
        );
    });
});

describe("node probe: refusals name the node, its endpoint and the fix", () => {
    const kinds: ProblemKind[] = [
        "material",
        "down",
        "untrusted",
        "wrong-name",
        "server-expired",
        "client-refused",
        "client-expired",
        "not-tls",
        "needs-tls",
        "not-buildkit",
    ];
    for (const kind of kinds) {
        it(kind, () => {
            const text = refusal({ name: "arm64", endpoint: "tcp://arm64-builder:1234" }, kind, "DETAIL", {
                endpoint: "nodes[0].endpoint",
                tls: "nodes[0].tls",
            });
            assert.match(text, /^node arm64 at tcp:\/\/arm64-builder:1234\b/);
            assert.match(text, /DETAIL/);
            assert.match(text, /: (set|start|issue|renew|use|reach|check)\b/, "a fix follows the colon");
        });
    }
});
