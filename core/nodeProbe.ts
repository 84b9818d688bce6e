// Checks of a remote BuildKit node (buildx's "remote" driver) before a builder is made of it:
// its TLS material on its own (pure), then one connection to its tcp:// endpoint that speaks
// what buildx speaks (TLS with ALPN h2, then the HTTP/2 preface of gRPC) until the daemon
// sends its HTTP/2 settings, which it does only after accepting the client's certificate.
// Plain sockets rather than Node's http2 client: that one drops the daemon's TLS alert.
import * as crypto from "crypto";
import * as net from "net";
import * as tlsLib from "tls";

/** PEM text of a node's TLS: the CA that signed the daemon's certificate, the client's certificate and key. */
export interface NodeTls {
    /** The CA that signed the daemon's certificate (PEM). */
    cacert?: string;
    /** The client's certificate (PEM). */
    cert?: string;
    /** The client's private key (PEM, a secret). */
    key?: string;
}

export interface RemoteNode {
    name: string;
    endpoint: string;
    tls?: NodeTls;
    /** The name the daemon's certificate must carry (buildx's `servername` driver option); default: the endpoint's host. */
    servername?: string;
}

export type ProblemKind =
    | "material" // the PEM text itself is wrong: unparsable, a key that is not the certificate's, expired
    | "down" // nothing answers at the endpoint
    | "untrusted" // the daemon's certificate is not signed by tls.cacert
    | "wrong-name" // the daemon's certificate does not name the endpoint's host
    | "server-expired" // the daemon's certificate expired
    | "client-refused" // the daemon refused the client certificate (unknown CA, bad, missing)
    | "client-expired" // the daemon refused the client certificate as expired
    | "not-tls" // TLS configured, but the daemon speaks plain gRPC
    | "needs-tls" // no TLS configured, but the daemon expects it
    | "not-buildkit"; // it answered, but not as a gRPC server

export type ProbeResult = { ok: true } | { ok: false; kind: ProblemKind; detail: string };

export interface Problem {
    kind: ProblemKind;
    detail: string;
}

/** Problems of the TLS material alone, without the network. Pure. */
export function materialProblems(tls: NodeTls, now: Date = new Date()): Problem[] {
    const problems: Problem[] = [];
    const bad = (detail: string) => problems.push({ kind: "material", detail });
    if (!!tls.cert !== !!tls.key) bad(`${tls.cert ? "cert" : "key"} is set without ${tls.cert ? "key" : "cert"}`);
    let cert: crypto.X509Certificate | undefined;
    if (tls.cacert) {
        try {
            new crypto.X509Certificate(tls.cacert);
        } catch {
            bad("cacert is not a PEM certificate");
        }
    }
    if (tls.cert) {
        try {
            cert = new crypto.X509Certificate(tls.cert);
        } catch {
            bad("cert is not a PEM certificate");
        }
    }
    let key: crypto.KeyObject | undefined;
    if (tls.key) {
        try {
            key = crypto.createPrivateKey(tls.key);
        } catch {
            bad("key is not a PEM private key (or it is encrypted)");
        }
    }
    if (cert && key && !cert.checkPrivateKey(key)) bad("key is not the private key of cert");
    if (cert && new Date(cert.validTo) < now)
        problems.push({ kind: "client-expired", detail: `valid until ${new Date(cert.validTo).toISOString()}` });
    if (cert && new Date(cert.validFrom) > now)
        bad(`cert is not valid before ${new Date(cert.validFrom).toISOString()}`);
    return problems;
}

/** `tcp://host:port` -> host and port; undefined for other schemes. Pure. */
export function tcpAddress(endpoint: string): { host: string; port: number } | undefined {
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(endpoint);
    return m ? { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) } : undefined;
}

/** The kind of a connection error, from Node's error codes (OpenSSL's for TLS alerts). Pure. */
export function classify(code: string | undefined, withTls: boolean): ProblemKind {
    const c = code ?? "";
    if (/^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EADDRNOTAVAIL)$/.test(c)) return "down";
    if (c === "ERR_TLS_CERT_ALTNAME_INVALID") return "wrong-name";
    if (c === "CERT_HAS_EXPIRED") return "server-expired";
    const untrusted =
        /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)$/;
    if (untrusted.test(c) || c === "CERT_SIGNATURE_FAILURE" || c === "CERT_UNTRUSTED") return "untrusted";
    // The daemon's alerts about the client's certificate (Go's TLS server sends these three after verifying it).
    if (/ALERT_CERTIFICATE_EXPIRED/.test(c)) return "client-expired";
    if (
        /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/.test(
            c,
        )
    )
        return "client-refused";
    if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE/.test(c))
        return withTls ? "not-tls" : "not-buildkit";
    if (!withTls && c === "ECONNRESET") return "needs-tls";
    return "not-buildkit";
}

/** OpenSSL's "<id>:error:<code>:SSL routines:<function>:<reason>:<file>:<line>:..." -> "<reason>". Pure. */
export function errorText(message: string): string {
    const m = /SSL routines:[^:]*:([^:]+):/.exec(message);
    return (m ? m[1] : message.split("\n")[0]).trim();
}

/**
 * The client's HTTP/2 preface and an empty SETTINGS frame: how every gRPC client begins.
 */
function h2Preface(): Buffer {
    return Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
}

/** What ended a probe's connection: the daemon's first bytes, a socket error, or a close. */
export type ProbeEvent = { data: Buffer } | { code?: string; message: string } | { closed: true };

/** The probe's result from what ended its connection. Pure. */
export function outcome(e: ProbeEvent, withTls: boolean): ProbeResult {
    if ("data" in e) return classifyAnswer(e.data, withTls);
    if ("message" in e) {
        const kind = classify(e.code, withTls);
        // A TLS alert is the daemon's own word: say so.
        return {
            ok: false,
            kind,
            detail: `${/^ERR_SSL_.*ALERT/.test(e.code ?? "") ? "the node answered: " : ""}${errorText(e.message)}`,
        };
    }
    return {
        ok: false,
        kind: withTls ? "not-buildkit" : "needs-tls",
        detail: "it closed the connection without answering",
    };
}

/** What the daemon's first bytes say: a gRPC server begins with an HTTP/2 SETTINGS frame. Pure. */
export function classifyAnswer(first: Buffer, withTls: boolean): ProbeResult {
    if (first.length >= 9 && first[3] === 0x04) return { ok: true };
    // A TLS record (alert or handshake) in answer to plain bytes.
    if (!withTls && (first[0] === 0x15 || first[0] === 0x16))
        return { ok: false, kind: "needs-tls", detail: "it answered with TLS" };
    const text = first
        .toString("latin1")
        .split(/\r?\n/)[0]
        .replace(/[^\x20-\x7e]/g, "?")
        .slice(0, 60);
    return { ok: false, kind: "not-buildkit", detail: `it answered "${text}"` };
}

/**
 * Connects to a tcp:// node once, as buildx would, and reports the first problem. Resolves,
 * never rejects (a yes/no probe). Not for unix:// endpoints (check those exist instead).
 */
export function probe(node: RemoteNode, timeoutMs = 5000): Promise<ProbeResult> {
    const addr = tcpAddress(node.endpoint);
    if (!addr) return Promise.resolve({ ok: false, kind: "down", detail: `${node.endpoint} is not tcp://host:port` });
    const tls = node.tls && (node.tls.cacert || node.tls.cert || node.tls.key) ? node.tls : undefined;
    return new Promise((resolve) => {
        const socket = tls
            ? tlsLib.connect({
                  host: addr.host,
                  port: addr.port,
                  ca: tls.cacert,
                  cert: tls.cert,
                  key: tls.key,
                  ALPNProtocols: ["h2"],
                  // Without one, Node checks the host (a name, or an IP against the IP SANs), as buildx does.
                  ...(node.servername ? { servername: node.servername } : {}),
              })
            : net.connect({ host: addr.host, port: addr.port });
        let settled = false;
        let timer: NodeJS.Timeout | undefined = undefined;
        const done = (r: ProbeResult) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            socket.destroy();
            resolve(r);
        };
        timer = setTimeout(
            () => done({ ok: false, kind: "down", detail: `no answer within ${timeoutMs / 1000} s` }),
            timeoutMs,
        );
        // With TLS 1.3 the daemon judges the client's certificate after the client's side of the
        // handshake is done: its refusal arrives as an alert, its acceptance as HTTP/2 settings.
        socket.once(tls ? "secureConnect" : "connect", () => socket.write(h2Preface()));
        socket.once("data", (data: Buffer) => done(outcome({ data }, !!tls)));
        socket.on("error", (e: NodeJS.ErrnoException) => done(outcome({ code: e.code, message: e.message }, !!tls)));
        socket.on("close", () => done(outcome({ closed: true }, !!tls)));
    });
}

/** Property paths of a node's arguments, for messages: e.g. `nodes[0].endpoint`, `nodes[0].tls`. */
export interface NodeProps {
    endpoint: string;
    tls: string;
}

/** Why node `node` cannot be used, naming it, its endpoint and the fix. Pure. */
export function refusal(node: RemoteNode, kind: ProblemKind, detail: string, props: NodeProps): string {
    const t = props.tls;
    const port = tcpAddress(node.endpoint)?.port ?? 1234;
    const daemon = `buildkitd --addr tcp://0.0.0.0:${port} --tlscacert ca.pem --tlscert server.pem --tlskey server-key.pem`;
    const newClient = `set ${t}.cert and ${t}.key`;
    const [what, fix] = ((): [string, string] => {
        switch (kind) {
            case "material":
                return [
                    `: ${t}.${detail}`,
                    `set ${t} to the PEM text of the CA certificate, the client certificate and its unencrypted key`,
                ];
            case "down":
                return [
                    ` does not answer (${detail})`,
                    `start BuildKit there (\`${daemon}\`), fix ${props.endpoint}, or remove the node`,
                ];
            case "untrusted":
                return [
                    ` presents a certificate that ${t}.cacert did not sign (${detail})`,
                    `set ${t}.cacert to the CA that signed the daemon's --tlscert`,
                ];
            case "wrong-name":
                return [
                    ` presents a certificate for another name (${detail})`,
                    "reach the node by a name or address its certificate carries, or reissue the daemon's --tlscert with that subjectAltName",
                ];
            case "server-expired":
                return [
                    ` presents an expired certificate (${detail})`,
                    "renew the daemon's --tlscert and restart buildkitd there",
                ];
            case "client-refused":
                return [
                    ` refused the client certificate in ${t}.cert (${detail})`,
                    `use a client certificate signed by the CA the daemon trusts (its --tlscacert), and ${newClient}`,
                ];
            case "client-expired":
                return [
                    `: the client certificate in ${t}.cert has expired (${detail})`,
                    `issue a new one from the daemon's CA and ${newClient} (that replaces the builder; nothing is rebuilt)`,
                ];
            case "not-tls":
                return [
                    ` speaks plain gRPC but ${t} is set (${detail})`,
                    `start buildkitd there with --tlscacert, --tlscert and --tlskey, or remove ${t}`,
                ];
            case "needs-tls":
                return [` expects TLS (${detail})`, `set ${t} (cacert, cert and key) for this node`];
            case "not-buildkit":
                return [` answered, but not as BuildKit (${detail})`, "check the endpoint's host and port"];
        }
    })();
    return `node ${node.name} at ${node.endpoint}${what}: ${fix}`;
}

/** Checks a node's TLS material, then probes it; undefined when usable, else the refusal. */
export async function checkNode(
    node: RemoteNode,
    props: NodeProps,
    now = new Date(),
    timeoutMs = 5000,
): Promise<string | undefined> {
    const problems = materialProblems(node.tls ?? {}, now);
    if (problems.length) return problems.map((p) => refusal(node, p.kind, p.detail, props)).join("; ");
    const r = await probe(node, timeoutMs);
    return r.ok ? undefined : refusal(node, r.kind, r.detail, props);
}
