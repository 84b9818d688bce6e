// Where binfmt handlers live: this machine, or a builder host reached over SSH. Every
// operation is a POSIX shell script run through the exec seam, so local and remote hosts
// share one code path; payloads (handler lines, test programs) travel on stdin.
import fs = require("fs");
import os = require("os");
import path = require("path");
import exec = require("./exec");

/** A builder host. `local`: this machine. `ssh`: a remote host, as user@host:port. */
export type HostSpec =
    | { kind: "local" }
    | {
        kind: "ssh";
        host: string;
        port?: number;
        user?: string;
        /** PEM private key (a secret: written to a 0600 temp file, never to argv). */
        privateKey?: string;
        /** The host's public key line ("ssh-ed25519 AAAA..."); pins the host. Default: ~/.ssh/known_hosts. */
        hostKey?: string;
    };

export interface Host {
    /** Runs a shell script on the host; resolves whatever the exit code. */
    sh(script: string, input?: string | Buffer): Promise<exec.RunResult>;
    describe(): string;
}

export function describeHost(spec: HostSpec): string {
    return spec.kind === "local" ? "localhost" : `${spec.user ?? "root"}@${spec.host}:${spec.port ?? 22}`;
}

function shellQuote(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function connect(spec: HostSpec): Host {
    if (spec.kind === "local") {
        return {
            sh: (script, input) => exec.run("sh", ["-c", script], { input, allowFailure: true }),
            describe: () => "localhost",
        };
    }
    return {
        describe: () => describeHost(spec),
        async sh(script, input) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-multiarch-ssh-"));
            try {
                const args = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p", String(spec.port ?? 22)];
                if (spec.privateKey) {
                    const key = path.join(dir, "id");
                    fs.writeFileSync(key, spec.privateKey.endsWith("\n") ? spec.privateKey : `${spec.privateKey}\n`, { mode: 0o600 });
                    args.push("-i", key, "-o", "IdentitiesOnly=yes");
                }
                if (spec.hostKey) {
                    const known = path.join(dir, "known_hosts");
                    const name = (spec.port ?? 22) === 22 ? spec.host : `[${spec.host}]:${spec.port}`;
                    fs.writeFileSync(known, `${name} ${spec.hostKey.trim()}\n`, { mode: 0o600 });
                    args.push("-o", `UserKnownHostsFile=${known}`, "-o", "StrictHostKeyChecking=yes");
                }
                args.push(`${spec.user ?? "root"}@${spec.host}`, `sh -c ${shellQuote(script)}`);
                const r = await exec.run("ssh", args, { input, allowFailure: true });
                if (r.code === 255) {
                    throw new Error(`cannot reach ${describeHost(spec)} over SSH: ${r.stderr.trim()}; check host, port, user, privateKey and hostKey`);
                }
                return r;
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}
