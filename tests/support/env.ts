// What e2e tests share: the project root, the toolchain's environment (as scripts/env.sh
// sets it) and a check that the real parts are there, failing with the fix if not.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { buildxDir } from "../../core/registryHosts";
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
    // The dev-only passphrase of what `npm run up` makes (run by some tests in a copy of the
    // clone); the stacks the tests make use SECRETS_PROVIDER, whose AWS SDK wants a key pair
    // (any: kms-server checks none) and no instance metadata lookup.
    PULUMI_CONFIG_PASSPHRASE: "pulumi-multiarch-dev-only",
    AWS_ACCESS_KEY_ID: "pm-e2e-kms",
    AWS_SECRET_ACCESS_KEY: "pm-e2e-kms-not-a-secret",
    AWS_EC2_METADATA_DISABLED: "true",
    PULUMI_MULTIARCH_BUILDKIT_IMAGE: LOCAL_BUILDKIT_IMAGE,
};
Object.assign(process.env, ENV);

/** The tests' KMS (scripts/bootstrap KMS_ADDR). */
const KMS_ADDR = "127.0.0.1:5090";
/**
 * The secrets provider of the stacks the tests make: Pulumi's awskms, through the KMS API that
 * scripts/bootstrap serves on loopback (scripts/go/kms-server, one fixed test key). Opening a
 * passphrase stack costs every Pulumi command 0.19 s of CPU (PBKDF2, 1,000,000 rounds), a KMS
 * stack one loopback request; the tests run Pulumi about 900 times.
 */
export const SECRETS_PROVIDER = `awskms://alias/pm-e2e?region=us-east-1&endpoint=http://${KMS_ADDR}`;

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
        [
            "curl",
            [
                "-fsS",
                "-o",
                "/dev/null",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/x-amz-json-1.1",
                "-H",
                "X-Amz-Target: TrentService.DescribeKey",
                "-d",
                '{"KeyId":"alias/pm-e2e"}',
                `http://${KMS_ADDR}/`,
            ],
            `the tests' KMS (their stacks' secrets) on ${KMS_ADDR}`,
        ],
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

/**
 * The output of `docker run --rm --platform <platform> <ref> <cmd...>`; the image it pulled is
 * removed again (by that reference): the engine, which may be the user's own, kept every image
 * the tests ran (1,251 of them, 1.4 GB, on this machine). One a container still uses stays.
 */
export function runImage(platform: string, ref: string, ...cmd: string[]): string {
    try {
        return sh("docker", ["run", "--rm", "--platform", platform, ref, ...cmd]);
    } finally {
        try {
            execFileSync("docker", ["image", "rm", ref], { stdio: "ignore" });
        } catch {
            /* in use by another test's container, or gone */
        }
    }
}

/**
 * The buildx builders docker knows, as `docker buildx ls` lists them: those in buildx's store
 * (`instances/<name>`) and one per docker context. Read, not asked of `ls`, which dials every
 * builder's nodes (a `docker exec` into each running BuildKit container: about 0.4 s of CPU,
 * and the suite asks about 40 times).
 */
export function builderNames(): string[] {
    const dir = path.join(buildxDir(), "instances");
    const stored = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => !n.startsWith(".")) : [];
    const contexts = sh("docker", ["context", "ls", "--format", "{{.Name}}"]).split("\n").filter(Boolean);
    return [...stored, ...contexts];
}

/** True when docker knows no builder `name`. */
export const builderGone = (name: string): boolean => !builderNames().includes(name);
