// Proves each platform's image is what it claims: its config's os/architecture/variant,
// and the ELF machine of its entrypoint (or cmd) binary, read from the pushed layers.
// This is the article's pitfall (the last FROM of another architecture) caught before any
// tag moves, instead of at `docker run` with "exec format error".
import path = require("path");
import zlib = require("zlib");
import tarStream = require("tar-stream");
import elf = require("./elf");
import platformlib = require("./platform");
import type { Registry } from "./registry";

export interface PlatformCheck {
    platform: string;
    /** os/architecture[/variant] from the image config */
    configPlatform: string;
    /** The binary checked and the architecture its ELF header names, when it is ELF. */
    binary?: { path: string; architecture: string };
    problem?: string;
}

function archOfMachine(machine: number): string {
    return Object.entries(platformlib.ARCHITECTURES).find(([, a]) => a.elfMachine === machine)?.[0] ?? `ELF machine ${machine}`;
}

/** The program an image runs: entrypoint[0], else cmd[0]; shell forms run the shell. */
export function programOf(config: any): string | undefined {
    const c = config?.config ?? {};
    const argv: string[] = [...(c.Entrypoint ?? []), ...(c.Entrypoint?.length ? [] : c.Cmd ?? [])];
    return argv[0];
}

/** Absolute path candidates for `program`, searching the image's PATH when it is relative. */
export function candidates(program: string, config: any): string[] {
    if (program.startsWith("/")) return [program];
    const env: string[] = config?.config?.Env ?? [];
    const pathVar = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    return pathVar.split(":").filter(Boolean).map((d) => path.posix.join(d, program));
}

/** Reads the first bytes of `file` from the image's layers (the top-most layer that has it), following symlinks. */
async function headOf(reg: Registry, repository: string, layers: any[], file: string, depth = 0): Promise<Buffer | undefined> {
    if (depth > 8) return undefined;
    const want = file.replace(/^\/+/, "");
    for (const layer of [...layers].reverse()) {
        const blob = await reg.getBlob(repository, layer.digest);
        const tar = /gzip/.test(layer.mediaType) ? zlib.gunzipSync(blob) : blob;
        const found = await new Promise<{ head?: Buffer; link?: string; whiteout?: boolean } | undefined>((resolve, reject) => {
            const ex = tarStream.extract();
            let result: { head?: Buffer; link?: string; whiteout?: boolean } | undefined;
            ex.on("entry", (h, stream, next) => {
                const name = h.name.replace(/^\.?\/+/, "");
                if (name === want && !result) {
                    if (h.type === "symlink" || h.type === "link") {
                        result = { link: h.linkname ?? "" };
                        stream.resume();
                    } else {
                        const chunks: Buffer[] = [];
                        let n = 0;
                        stream.on("data", (c: unknown) => { const b = c as Buffer; if (n < 64) { chunks.push(b); n += b.length; } });
                        stream.on("end", () => { result = { head: Buffer.concat(chunks).subarray(0, 64) }; });
                    }
                } else {
                    if (name === path.posix.join(path.posix.dirname(want), `.wh.${path.posix.basename(want)}`)) result = { whiteout: true };
                    stream.resume();
                }
                stream.on("end", next);
            });
            ex.on("finish", () => resolve(result));
            ex.on("error", reject);
            ex.end(tar);
        });
        if (!found) continue;
        if (found.whiteout) return undefined;
        if (found.link !== undefined) {
            const target = found.link.startsWith("/") ? found.link : path.posix.join(path.posix.dirname(file), found.link);
            return headOf(reg, repository, layers, target, depth + 1);
        }
        return found.head;
    }
    return undefined;
}

/** Checks one platform's manifest; `problem` says what is wrong and the likely cause. */
export async function checkPlatform(reg: Registry, repository: string, manifestDigest: string, platform: string): Promise<PlatformCheck> {
    const m = await reg.getManifest(repository, manifestDigest);
    if (!m) return { platform, configPlatform: "missing", problem: `manifest ${manifestDigest} is not in the registry` };
    const config = JSON.parse((await reg.getBlob(repository, m.body.config.digest)).toString("utf8"));
    const configPlatform = [config.os, config.architecture, config.variant].filter(Boolean).join("/");
    const want = platformlib.parsePlatform(platform);
    const got = (() => { try { return platformlib.normalizePlatform(configPlatform); } catch { return configPlatform; } })();
    const out: PlatformCheck = { platform, configPlatform };
    if (got !== platformlib.formatPlatform(want)) {
        out.problem = `${platform}: the image config says ${configPlatform}. Likely cause: the final stage's FROM pins another platform (FROM --platform=...) or names an image of one architecture; make the last FROM match the target`;
        return out;
    }
    const wantMachine = platformlib.ARCHITECTURES[want.architecture].elfMachine;
    // The program the image runs, then the base image's shell: a right binary on a base of
    // another architecture still fails at `docker run ... sh` (the article's last-FROM pitfall).
    const program = programOf(config);
    const checks: { files: string[]; cause: string }[] = [];
    if (program) checks.push({ files: candidates(program, config), cause: "a hard-coded GOARCH (or another compiler target) in the build stage; build with GOARCH=$TARGETARCH, or the final stage copies a binary of another architecture" });
    checks.push({ files: ["/bin/sh"], cause: "the final stage's FROM pins another platform (FROM --platform=...) or names an image of one architecture; make the last FROM match the target" });
    const seen = new Set<string>();
    for (const check of checks) {
        for (const file of check.files) {
            if (seen.has(file)) break;
            seen.add(file);
            const head = await headOf(reg, repository, m.body.layers ?? [], file);
            if (!head) continue;
            const machine = elf.elfMachine(head);
            if (machine === undefined) break; // a script: nothing to check
            const architecture = archOfMachine(machine);
            out.binary ??= { path: file, architecture };
            if (machine !== wantMachine) {
                out.binary = { path: file, architecture };
                out.problem = `${platform}: ${file} is an ${architecture} binary. Likely cause: ${check.cause}`;
                return out;
            }
            break;
        }
    }
    return out;
}
