// The machine's builder fleet (scripts/bootstrap: two buildkitd on tcp:// with mutual TLS, one
// per architecture) as tests reach it: its PKI, each daemon's own build history, certificates
// of a test's own (scripts/pki.sh), and TLS secrets set the way the README says.
import { type Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { CACHE, ENV, ROOT, sh } from "./env";

/** The fleet's CA, daemon and client certificates (scripts/bootstrap, fleet_start). */
export const FLEET_PKI = path.join(CACHE, "fleet");
export const FLEET_ENDPOINTS: Record<"amd64" | "arm64", string> = {
    amd64: "tcp://127.0.1.1:1234",
    arm64: "tcp://127.0.2.1:1234",
};
const BUILDCTL = path.join(ROOT, ".tools/test-bin/buildctl");

export interface TlsFiles {
    ca: string;
    cert: string;
    key: string;
}
export const MACHINE_TLS: TlsFiles = {
    ca: `${FLEET_PKI}/ca.pem`,
    cert: `${FLEET_PKI}/client.pem`,
    key: `${FLEET_PKI}/client-key.pem`,
};

/** buildctl talking to the daemon directly (not through buildx), with the machine's client certificate. */
function buildctl(arch: "amd64" | "arm64", ...args: string[]): string {
    return sh(BUILDCTL, [
        "--addr",
        FLEET_ENDPOINTS[arch],
        "--tlscacert",
        MACHINE_TLS.ca,
        "--tlscert",
        MACHINE_TLS.cert,
        "--tlskey",
        MACHINE_TLS.key,
        ...args,
    ]);
}

/** The daemon's own build records: what it built, for which platform. */
export function histories(arch: "amd64" | "arm64"): { Ref: string; FrontendAttrs: Record<string, string> }[] {
    return buildctl(arch, "debug", "histories", "--format", "{{json .}}")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).record)
        .filter((r: any) => r?.FrontendAttrs);
}

/** Fails (never skips) when the fleet is not there, saying how to start it. */
export function requireFleet(): void {
    for (const arch of ["amd64", "arm64"] as const) {
        try {
            buildctl(arch, "debug", "workers");
        } catch (e) {
            throw new Error(
                `the fleet's buildkitd (${arch}) does not answer on ${FLEET_ENDPOINTS[arch]} over mutual TLS: run \`bash scripts/bootstrap\` (${(e as Error).message.split("\n")[0]})`,
            );
        }
    }
}

/** `scripts/pki.sh <what> <dir> [ca dir] [name] [ip]`: a CA, or a certificate and key named `name` in `dir`. */
export function pki(what: "ca" | "client" | "expired", dir: string, caDir?: string, name?: string): TlsFiles {
    sh("bash", [path.join(ROOT, "scripts/pki.sh"), what, dir, ...(caDir ? [caDir, name!] : [])]);
    return what === "ca"
        ? { ca: `${dir}/ca.pem`, cert: "", key: "" }
        : { ca: `${caDir}/ca.pem`, cert: `${dir}/${name}.pem`, key: `${dir}/${name}-key.pem` };
}

/**
 * Sets the stack's TLS secrets as the README does: `pulumi config set --secret <key> < file`,
 * the PEM text on stdin, never on a command line.
 */
export function setTlsSecrets(stack: Stack, files: TlsFiles): void {
    // The secrets replace the folder the committed stack reads (builderTlsDir): one or the other.
    execFileSync("pulumi", ["config", "rm", "--stack", stack.name, "pulumi-multiarch:builderTlsDir"], {
        cwd: stack.workspace.workDir,
        env: { ...process.env, ...ENV },
        stdio: "pipe",
    });
    for (const [key, file] of [
        ["builderTlsCa", files.ca],
        ["builderTlsCert", files.cert],
        ["builderTlsKey", files.key],
    ]) {
        execFileSync("pulumi", ["config", "set", "--secret", "--stack", stack.name, `pulumi-multiarch:${key}`], {
            cwd: stack.workspace.workDir,
            env: { ...process.env, ...ENV },
            input: fs.readFileSync(file),
            stdio: ["pipe", "pipe", "pipe"],
        });
    }
}

/** A line of the PEM body: what a leak of the whole PEM text would contain. */
export function pemLine(file: string): string {
    return fs.readFileSync(file, "utf8").split("\n")[1];
}
