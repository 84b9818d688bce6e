// What e2e tests share: the project root, the toolchain's environment (as scripts/env.sh
// sets it) and a check that the real parts are there, failing with the fix if not.
import { execFileSync } from "child_process";
import * as path from "path";

import { LOCAL_BUILDKIT_IMAGE } from "../../core/versions";

export const ROOT = path.resolve(__dirname, "..", "..");
/** Where scripts/bootstrap keeps built tools and machine-wide test services. */
export { CACHE } from "./cache";

export const ENV: Record<string, string> = {
    // .tools/test-bin: what only the tests run (buildctl, buildkitd, docker-credential-pass, sdkgen).
    PATH: `${ROOT}/.tools/bin:${ROOT}/.tools/test-bin:${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${ROOT}/.state/pulumi`,
    PULUMI_HOME: `${ROOT}/.state/pulumi-home`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_CONFIG_PASSPHRASE: "pulumi-multiarch-dev-only",
    PULUMI_MULTIARCH_BUILDKIT_IMAGE: LOCAL_BUILDKIT_IMAGE,
};
Object.assign(process.env, ENV);

/** The tools are asked once per test process (they do not go away during a run); the services every time. */
let toolsChecked = false;

/** Fails (never skips) when a real part is missing, saying how to get it. */
export function requireRealParts(): void {
    const tools: [string, string[], string][] = [
        ["pulumi", ["version"], "the Pulumi CLI"],
        ["docker", ["buildx", "version"], "docker buildx"],
        ["docker-credential-pass", ["version"], "the credential helper docker-credential-pass"],
        ["pass", ["version"], "pass (the password store docker-credential-pass uses)"],
    ];
    const checks: [string, string[], string][] = [
        ...(toolsChecked ? [] : tools),
        ["docker", ["info", "--format", "{{.ServerVersion}}"], "a running Docker engine"],
        ["curl", ["-fsS", "http://127.0.0.1:5000/v2/"], "the registry on 127.0.0.1:5000"],
        ["curl", ["-fsS", "http://127.0.0.1:5003/v2/"], "the registry without manifest lists on 127.0.0.1:5003"],
    ];
    for (const [cmd, args, what] of checks) {
        try {
            execFileSync(cmd, args, { stdio: "pipe", env: process.env });
        } catch {
            throw new Error(
                `${what} is not available (\`${cmd} ${args.join(" ")}\` failed): run \`bash scripts/bootstrap\` (or \`npm run up\`) first`,
            );
        }
    }
    toolsChecked = true;
}

/** Runs a command and returns its stdout; room for large outputs (a shared BuildKit's history grows past 1 MiB). */
export function sh(cmd: string, args: string[]): string {
    return execFileSync(cmd, args, {
        encoding: "utf8",
        env: process.env,
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 256 * 1024 * 1024,
    });
}

/** The buildx builders docker knows (`docker buildx ls`). */
export function builderNames(): string[] {
    return sh("docker", ["buildx", "ls", "--format", "{{.Name}}"]).split("\n").filter(Boolean);
}

/** True when docker knows no builder `name`. */
export const builderGone = (name: string): boolean => !builderNames().includes(name);
