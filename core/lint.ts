// Dockerfile checks for multi-platform builds that BuildKit's own checks (`--call=check`,
// run by MultiArchImage at preview) lack, on the syntax tree of a well-kept parser
// (dockerfile-ast). Each finding says what is wrong for which target and how to fix it.
// The final stage pinned to a constant platform is BuildKit's FromPlatformFlagConstDisallowed
// too: the finding names that rule, and stands in for it where BuildKit cannot be asked (a
// new stack's first preview, before the image's builder exists).
import { DockerfileParser } from "dockerfile-ast";

import { normalizePlatform, parsePlatform } from "./platform";

export interface Finding {
    rule: "final-stage-platform" | "arch-specific-image" | "hardcoded-goarch";
    line: number;
    message: string;
    /** BuildKit's rule for the same finding, when BuildKit has one: BuildKit's finding is then given instead, where it can be asked. */
    buildkitRule?: "FromPlatformFlagConstDisallowed";
    /** What the finding means for this build, said beside BuildKit's text (which does not say it). */
    meaning?: string;
}

/** What a final stage pinned to `pinned` means for the other targets. */
export function finalStageMeaning(pinned: string, others: string[]): string {
    return (
        `every other target (${others.join(", ")}) gets ${pinned}'s base and fails at docker run with "exec format error" ` +
        "(the last FROM must match the target); drop --platform from the last FROM"
    );
}

const TARGET_PLATFORM = /^\$\{?TARGETPLATFORM\}?$/;
const ARCH_IN_NAME =
    /(^|[/_:-])(amd64|x86_64|arm64v8|arm64|aarch64|arm32v7|armv7|armhf|ppc64le|s390x|riscv64|i386)([/_:.-]|$)/;

/** Findings for building `dockerfile` for `platforms` (normalized "os/arch[/variant]"). */
export function lintDockerfile(dockerfile: string, platforms: string[]): Finding[] {
    const df = DockerfileParser.parse(dockerfile);
    const froms = df.getFROMs();
    const findings: Finding[] = [];
    if (froms.length === 0) return findings;
    const archs = [...new Set(platforms.map((p) => parsePlatform(p).architecture))];
    const last = froms[froms.length - 1];
    const lineOf = (r: { start: { line: number } }) => r.start.line + 1;

    // A variable other than TARGETPLATFORM (e.g. $BUILDPLATFORM) BuildKit accepts, and every
    // target gets the build platform's base; a constant is BuildKit's FromPlatformFlagConstDisallowed.
    const pinned = last.getPlatformFlag()?.getValue();
    if (pinned && pinned.includes("$") && !TARGET_PLATFORM.test(pinned)) {
        findings.push({
            rule: "final-stage-platform",
            line: lineOf(last.getRange()),
            message: `the final stage pins --platform=${pinned}: every target (${platforms.join(", ")}) gets that base, and the image fails at docker run with "exec format error" (the last FROM must match the target); drop --platform from the last FROM`,
        });
    } else if (pinned && !pinned.includes("$")) {
        let constant: string | undefined;
        try {
            constant = normalizePlatform(pinned);
        } catch {
            /* not a platform: BuildKit says so */
        }
        const others = platforms.filter((p) => p !== constant);
        if (constant && others.length) {
            const meaning = finalStageMeaning(constant, others);
            findings.push({
                rule: "final-stage-platform",
                line: lineOf(last.getRange()),
                buildkitRule: "FromPlatformFlagConstDisallowed",
                meaning,
                message: `the final stage pins --platform=${constant}: ${meaning}`,
            });
        }
    }
    const name = last.getImage() ?? "";
    const hint = ARCH_IN_NAME.exec(name)?.[2];
    if (hint && (archs.length > 1 || !sameArch(hint, archs[0]))) {
        findings.push({
            rule: "arch-specific-image",
            line: lineOf(last.getRange()),
            message: `the final stage's base ${name} looks ${hint}-only, but the targets are ${platforms.join(", ")}: use a multi-platform base, or one build per architecture with the matching base (the article's company-registry case)`,
        });
    }

    for (const ins of df.getInstructions()) {
        if (ins.getKeyword() !== "RUN") continue;
        const text = ins.getArgumentsContent() ?? "";
        const line = lineOf(ins.getRange());
        for (const m of text.matchAll(/\bGOARCH=([A-Za-z0-9_${}]+)/g)) {
            const v = m[1];
            if (v.startsWith("$")) continue;
            const wrong = archs.filter((a) => !sameArch(v, a));
            if (wrong.length)
                findings.push({
                    rule: "hardcoded-goarch",
                    line,
                    message: `RUN sets GOARCH=${v}, but the targets include ${wrong.map((a) => `linux/${a}`).join(", ")}: those images would hold a ${v} binary; use GOARCH=$TARGETARCH (with ARG TARGETARCH)`,
                });
        }
        for (const m of text.matchAll(/\bGOOS=([A-Za-z0-9_${}]+)/g)) {
            if (!m[1].startsWith("$") && m[1] !== "linux")
                findings.push({
                    rule: "hardcoded-goarch",
                    line,
                    message: `RUN sets GOOS=${m[1]}, but the targets are linux: use GOOS=$TARGETOS`,
                });
        }
    }
    return findings;
}

function sameArch(hint: string, arch: string): boolean {
    const alias: Record<string, string> = {
        x86_64: "amd64",
        aarch64: "arm64",
        arm64v8: "arm64",
        arm32v7: "arm",
        armv7: "arm",
        armhf: "arm",
        i386: "386",
    };
    return (alias[hint] ?? hint) === arch;
}
