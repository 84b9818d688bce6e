// Where binfmt handlers live: this machine, or a builder host reached over SSH. Every
// operation is a POSIX shell script run through the exec seam, so local and remote hosts
// share one code path; payloads (handler lines, test programs) travel on stdin.
import * as fs from "fs";
import * as path from "path";

import * as exec from "./exec";
import * as tempDirs from "./tempDirs";

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
          /** An SSH agent's socket holding the key (SSH_AUTH_SOCK). Default: the environment's. */
          agentSocketPath?: string;
          /** Seconds to wait for each connection (ssh ConnectTimeout). Default 10. */
          connectTimeout?: number;
          /** Connection attempts before giving up (ssh ConnectionAttempts). Default 1. */
          connectionAttempts?: number;
      };

export interface Host {
    /** Runs a shell script on the host; resolves whatever the exit code. */
    sh(script: string, input?: string | Buffer): Promise<exec.RunResult>;
    describe(): string;
    /** This machine: reads of /proc and local files may skip the shell (core/binfmt.ts). */
    local?: boolean;
}

export function describeHost(spec: HostSpec): string {
    return spec.kind === "local" ? "localhost" : `${spec.user ?? "root"}@${spec.host}:${spec.port ?? 22}`;
}

function shellQuote(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

type SshSpec = Extract<HostSpec, { kind: "ssh" }>;

/**
 * The `ssh` argv and environment that run `script` on `spec`'s host. Pure: the key and the
 * pinned host key are files the caller writes (0600) at `files.key` / `files.knownHosts`.
 */
export function sshCommand(
    spec: SshSpec,
    script: string,
    files: { key: string; knownHosts: string },
): { args: string[]; env?: Record<string, string> } {
    const args = [
        "-o",
        "BatchMode=yes",
        "-o",
        `ConnectTimeout=${spec.connectTimeout ?? 10}`,
        "-o",
        `ConnectionAttempts=${spec.connectionAttempts ?? 1}`,
        "-p",
        String(spec.port ?? 22),
    ];
    if (spec.privateKey) args.push("-i", files.key, "-o", "IdentitiesOnly=yes");
    if (spec.hostKey) args.push("-o", `UserKnownHostsFile=${files.knownHosts}`, "-o", "StrictHostKeyChecking=yes");
    args.push(`${spec.user ?? "root"}@${spec.host}`, `sh -c ${shellQuote(script)}`);
    return { args, ...(spec.agentSocketPath ? { env: { SSH_AUTH_SOCK: spec.agentSocketPath } } : {}) };
}

export function connect(spec: HostSpec): Host {
    if (spec.kind === "local") {
        return {
            sh: (script, input) => exec.run("sh", ["-c", script], { input, allowFailure: true }),
            describe: () => "localhost",
            local: true,
        };
    }
    return {
        describe: () => describeHost(spec),
        async sh(script, input) {
            const dir = tempDirs.make("ssh-");
            try {
                const files = { key: path.join(dir, "id"), knownHosts: path.join(dir, "known_hosts") };
                if (spec.privateKey) {
                    fs.writeFileSync(
                        files.key,
                        spec.privateKey.endsWith("\n") ? spec.privateKey : `${spec.privateKey}\n`,
                        { mode: 0o600 },
                    );
                }
                if (spec.hostKey) {
                    const name = (spec.port ?? 22) === 22 ? spec.host : `[${spec.host}]:${spec.port}`;
                    fs.writeFileSync(files.knownHosts, `${name} ${spec.hostKey.trim()}\n`, { mode: 0o600 });
                }
                const { args, env } = sshCommand(spec, script, files);
                const r = await exec.run("ssh", args, { input, allowFailure: true, env });
                if (r.code === 255) {
                    throw new Error(
                        `cannot reach ${describeHost(spec)} over SSH: ${r.stderr.trim()}; check host, port, user, privateKey (or agentSocketPath) and hostKey`,
                    );
                }
                return r;
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}
