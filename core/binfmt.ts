// binfmt_misc: the kernel's table of interpreters chosen by magic bytes. Pure parsers for
// /proc/sys/fs/binfmt_misc/<name> entries, the qemu-user-static package's definitions and
// the host facts that preflight checks judge; then the few shell scripts that read and
// write the table on a host (local or over SSH, see host.ts).
import * as fs from "fs";
import * as os from "os";

import type { Host } from "./host";
import { ARCHITECTURES, qemuName } from "./platform";

export const BINFMT_DIR = "/proc/sys/fs/binfmt_misc";
/** Where Debian's qemu-user-static keeps its handler definitions (binfmt-support format). */
export const DEBIAN_BINFMTS_DIR = "/usr/share/binfmts";

/** A registered handler, as the kernel reports it. */
export interface Handler {
    /** The kernel's `enabled` / `disabled` line. */
    enabled: boolean;
    /** The emulator the kernel runs, e.g. `/usr/libexec/qemu-binfmt/aarch64-binfmt-P`. */
    interpreter: string;
    /** Flag letters as the kernel prints them, e.g. "POCF". */
    flags: string;
    /** Where the magic bytes start in the file. */
    offset: number;
    /** Hex, as the kernel prints it. */
    magic: string;
    /** Hex mask applied before comparing the magic, as the kernel prints it. */
    mask: string;
}

/** Parses one /proc/sys/fs/binfmt_misc/<name> file. */
export function parseHandler(text: string): Handler {
    const h: Handler = { enabled: false, interpreter: "", flags: "", offset: 0, magic: "", mask: "" };
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (line === "enabled" || line === "disabled") h.enabled = line === "enabled";
        else if (line.startsWith("interpreter ")) h.interpreter = line.slice("interpreter ".length);
        else if (line.startsWith("flags:")) h.flags = line.slice("flags:".length).trim();
        else if (line.startsWith("offset ")) h.offset = Number(line.slice("offset ".length));
        else if (line.startsWith("magic ")) h.magic = line.slice("magic ".length);
        else if (line.startsWith("mask ")) h.mask = line.slice("mask ".length);
    }
    return h;
}

/** A handler definition to register, with magic and mask as hex strings. */
export interface HandlerDefinition {
    name: string;
    interpreter: string;
    offset: number;
    magic: string;
    mask: string;
    flags: string;
}

/** "\x7f\x45" -> "7f45" */
function escapedToHex(s: string): string {
    return s.replace(/\\x([0-9a-fA-F]{2})/g, "$1").toLowerCase();
}

/** Parses a Debian /usr/share/binfmts/qemu-<arch> definition (update-binfmts format). */
export function parseDebianDefinition(name: string, text: string): HandlerDefinition {
    const kv: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const m = /^(\S+)\s+(.*)$/.exec(line.trim());
        if (m) kv[m[1]] = m[2];
    }
    if (!kv.interpreter || !kv.magic) throw new Error(`${name}: not a binfmt definition (no interpreter or magic)`);
    let flags = "";
    if (kv.preserve === "yes") flags += "P";
    if (kv.credentials === "yes") flags += "C";
    if (kv.fix_binary === "yes") flags += "F";
    return {
        name,
        interpreter: kv.interpreter,
        offset: Number(kv.offset ?? 0),
        magic: escapedToHex(kv.magic),
        mask: escapedToHex(kv.mask ?? ""),
        flags,
    };
}

/** The line written to binfmt_misc/register: ":name:M:offset:magic:mask:interpreter:flags". */
export function registerLine(d: HandlerDefinition): string {
    const esc = (hex: string) => hex.replace(/(..)/g, "\\x$1");
    return `:${d.name}:M:${d.offset}:${esc(d.magic)}:${esc(d.mask)}:${d.interpreter}:${d.flags}`;
}

/** Flags as a canonical, comparable set ("FPC" and "PCF" are the same flags). */
export function sameFlags(a: string, b: string): boolean {
    return [...a].sort().join("") === [...b].sort().join("");
}

/** Parses the output of DUMP_HANDLERS: "### <name>" then the entry, for each handler. */
export function parseHandlerDump(text: string): Record<string, Handler> {
    const out: Record<string, Handler> = {};
    for (const section of text.split(/^### /m).slice(1)) {
        const nl = section.indexOf("\n");
        const name = section.slice(0, nl < 0 ? undefined : nl).trim();
        if (name) out[name] = parseHandler(nl < 0 ? "" : section.slice(nl + 1));
    }
    return out;
}

export const DUMP_HANDLERS = `cd ${BINFMT_DIR} 2>/dev/null || exit 0
for f in qemu-*; do [ -f "$f" ] && { echo "### $f"; cat "$f"; }; done; true`;

/** What preflight checks need to know about a host, gathered in one round trip. */
export interface HostFacts {
    uid: number;
    kernel: string;
    /** `uname -m` */
    machine: string;
    mounted: boolean;
    /** docker answers (checked only for method "container") */
    docker: boolean;
    /** definition name -> file text, for those present in the definitions dir */
    definitions: Record<string, string>;
    /** interpreter paths that exist on the host */
    interpreters: string[];
}

export function factsScript(definitionsDir: string, names: string[], checkDocker = false): string {
    return [
        `echo "uid=$(id -u)"`,
        `echo "kernel=$(uname -r)"`,
        `echo "machine=$(uname -m)"`,
        `[ -e ${BINFMT_DIR}/register ] && echo mounted=1 || echo mounted=0`,
        checkDocker ? `docker info >/dev/null 2>&1 && echo docker=1 || echo docker=0` : "echo docker=0",
        ...names.map(
            (n) =>
                `if [ -f '${definitionsDir}/${n}' ]; then echo '### ${n}'; cat '${definitionsDir}/${n}'; i=$(sed -n 's/^interpreter //p' '${definitionsDir}/${n}'); [ -e "$i" ] && echo "### interpreter-exists $i"; fi`,
        ),
        "true",
    ].join("\n");
}

export function parseFacts(text: string): HostFacts {
    const [head, ...sections] = text.split(/^### /m);
    const kv: Record<string, string> = {};
    for (const l of head.split("\n")) {
        const m = /^(\w+)=(.*)$/.exec(l.trim());
        if (m) kv[m[1]] = m[2];
    }
    const definitions: Record<string, string> = {};
    const interpreters: string[] = [];
    for (const s of sections) {
        const nl = s.indexOf("\n");
        const title = (nl < 0 ? s : s.slice(0, nl)).trim();
        if (title.startsWith("interpreter-exists ")) interpreters.push(title.slice("interpreter-exists ".length));
        else definitions[title] = nl < 0 ? "" : s.slice(nl + 1);
    }
    return {
        uid: Number(kv.uid ?? -1),
        kernel: kv.kernel ?? "",
        machine: kv.machine ?? "",
        mounted: kv.mounted === "1",
        docker: kv.docker === "1",
        definitions,
        interpreters,
    };
}

/** Platforms a machine (`uname -m`) runs without emulation. */
export function nativePlatforms(machine: string): string[] {
    switch (machine) {
        case "x86_64":
            return ["linux/amd64", "linux/386"];
        case "aarch64":
            return ["linux/arm64"];
        case "armv7l":
            return ["linux/arm/v7", "linux/arm/v6"];
        default: {
            const arch = Object.entries(ARCHITECTURES).find(([, a]) => a.uname === machine || a.qemu === machine);
            return arch ? [`linux/${arch[0]}`] : [];
        }
    }
}

/** binfmt handler name for a platform: qemu-aarch64, qemu-arm, ... */
export function handlerName(platform: string): string {
    return `qemu-${qemuName(platform)}`;
}

/** True when "a.b" is at least "major.minor". */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
    const m = /^(\d+)\.(\d+)/.exec(release);
    if (!m) return true; // unknown format: let the kernel decide
    const [maj, min] = [Number(m[1]), Number(m[2])];
    return maj > major || (maj === major && min >= minor);
}

export interface PreflightInput {
    platforms: string[];
    flags: string;
    method: "host" | "container";
    image?: string;
    allowUnpinnedImage?: boolean;
    definitionsDir: string;
}

/**
 * Every reason this host cannot get the requested handlers, each with its fix. `serving`:
 * handlers already registered that serve as they are (enabled, with the flags), e.g. from
 * tonistiigi/binfmt on a machine without qemu-user-static; they need no definition.
 */
export function preflight(
    facts: HostFacts,
    input: PreflightInput,
    where: string,
    serving: string[] = [],
): { property: string; reason: string }[] {
    const errors: { property: string; reason: string }[] = [];
    if (!facts.mounted) {
        errors.push({
            property: "host",
            reason: `binfmt_misc is not mounted on ${where}: run \`mount -t binfmt_misc binfmt_misc ${BINFMT_DIR}\` as root there (scripts/bootstrap does it locally)`,
        });
    }
    if (input.flags.includes("F") && !kernelAtLeast(facts.kernel, 4, 8)) {
        errors.push({
            property: "flags",
            reason: `flag F needs Linux 4.8 or newer, ${where} runs ${facts.kernel}: upgrade the kernel (the article's advice for old CentOS hosts) or drop F from flags`,
        });
    }
    if (facts.uid !== 0) {
        errors.push({
            property: "method",
            reason: `registering handlers writes ${BINFMT_DIR}/register and needs root, but ${where} runs this as uid ${facts.uid}: connect as root`,
        });
    }
    if (input.method === "container") {
        if (!facts.docker)
            errors.push({
                property: "method",
                reason: `method "container" runs an emulator-install image, but docker is not installed or its engine does not answer on ${where}: install and start docker there, or use method "host"`,
            });
        if (!input.image)
            errors.push({
                property: "image",
                reason: `method "container" needs an emulator-install image, e.g. "registry/binfmt@sha256:..."`,
            });
        else if (!/@sha256:[a-f0-9]{64}$/.test(input.image) && !input.allowUnpinnedImage) {
            errors.push({
                property: "image",
                reason: `"${input.image}" is not pinned by digest; a privileged image must not change under you: write it as name@sha256:<digest>, or set allowUnpinnedImage: true to accept that risk`,
            });
        }
    } else {
        const native = nativePlatforms(facts.machine);
        for (const p of input.platforms.filter((x) => !native.includes(x) && !serving.includes(handlerName(x)))) {
            const name = handlerName(p);
            const text = facts.definitions[name];
            if (text === undefined) {
                errors.push({
                    property: "platforms",
                    reason: `no QEMU definition for ${p} at ${input.definitionsDir}/${name} on ${where}: install qemu-user-static there (apt-get install qemu-user-static)`,
                });
                continue;
            }
            const interp = /^interpreter\s+(\S+)/m.exec(text)?.[1] ?? "";
            if (!facts.interpreters.includes(interp)) {
                errors.push({
                    property: "platforms",
                    reason: `interpreter ${interp} for ${p} is missing on ${where}: reinstall qemu-user-static (apt-get install --reinstall qemu-user-static)`,
                });
            }
        }
    }
    return errors;
}

// --- operations on a host ---------------------------------------------------------------

export async function gatherFacts(
    host: Host,
    definitionsDir: string,
    platforms: string[],
    checkDocker = false,
): Promise<HostFacts> {
    const names = [...new Set(platforms.map(handlerName))];
    // This machine without docker's answer: read in this process, as the script would print it.
    if (host.local && !checkDocker) return parseFacts(localFacts(definitionsDir, names));
    const r = await host.sh(factsScript(definitionsDir, names, checkDocker));
    return parseFacts(r.stdout);
}

/** What {@link factsScript} prints on this machine (without docker's answer), read without a shell. */
export function localFacts(definitionsDir: string, names: string[]): string {
    const isFile = (f: string) => {
        try {
            return fs.statSync(f).isFile();
        } catch {
            return false;
        }
    };
    const lines = [
        `uid=${process.getuid?.() ?? -1}`,
        `kernel=${os.release()}`,
        `machine=${os.machine()}`,
        `mounted=${fs.existsSync(`${BINFMT_DIR}/register`) ? 1 : 0}`,
        "docker=0",
    ];
    let out = lines.map((l) => `${l}\n`).join("");
    for (const n of names) {
        const file = `${definitionsDir}/${n}`;
        if (!isFile(file)) continue;
        let text: string;
        try {
            text = fs.readFileSync(file, "utf8");
        } catch {
            continue;
        }
        out += `### ${n}\n${text}`;
        const interp = text
            .split("\n")
            .filter((l) => l.startsWith("interpreter "))
            .map((l) => l.slice("interpreter ".length))
            .join("\n");
        if (fs.existsSync(interp)) out += `### interpreter-exists ${interp}\n`;
    }
    return out;
}

/** What DUMP_HANDLERS prints on this machine, read without a shell. */
export function localHandlerDump(): string {
    let names: string[];
    try {
        names = fs
            .readdirSync(BINFMT_DIR)
            .filter((n) => n.startsWith("qemu-"))
            .sort();
    } catch {
        return "";
    }
    let out = "";
    for (const n of names) {
        try {
            const f = `${BINFMT_DIR}/${n}`;
            if (fs.statSync(f).isFile()) out += `### ${n}\n${fs.readFileSync(f, "utf8")}`;
        } catch {
            /* removed meanwhile */
        }
    }
    return out;
}

/** Every qemu-* handler on the host, parsed. */
export async function readHandlers(host: Host): Promise<Record<string, Handler>> {
    if (host.local) return parseHandlerDump(localHandlerDump());
    const r = await host.sh(DUMP_HANDLERS);
    if (r.code !== 0) throw new Error(`reading ${BINFMT_DIR} on ${host.describe()} failed: ${r.stderr.trim()}`);
    return parseHandlerDump(r.stdout);
}

/** Runs `script` on the host; a failure names what it was doing and where. */
export async function must(host: Host, what: string, script: string, input?: string | Buffer): Promise<void> {
    const r = await host.sh(script, input);
    if (r.code !== 0) throw new Error(`${what} on ${host.describe()} failed: ${(r.stderr || r.stdout).trim()}`);
}

export async function register(host: Host, d: HandlerDefinition): Promise<void> {
    await must(host, `registering ${d.name}`, `cat > ${BINFMT_DIR}/register`, registerLine(d));
}

/** Writing -1 to a handler removes it (what a reboot does to every handler). */
export async function unregister(host: Host, name: string): Promise<void> {
    if (!/^[\w.-]+$/.test(name)) throw new Error(`bad handler name ${name}`);
    await must(host, `removing ${name}`, `[ ! -e ${BINFMT_DIR}/${name} ] || echo -1 > ${BINFMT_DIR}/${name}`);
}

/** Runs `program` on the host (sent on stdin); resolves its exit code. */
export async function runProgram(host: Host, program: Buffer): Promise<number> {
    const r = await host.sh(
        `f=$(mktemp) && cat > "$f" && chmod 700 "$f" && { "$f"; echo "exit=$?"; rm -f "$f"; }`,
        program,
    );
    const m = /exit=(\d+)/.exec(r.stdout);
    return m ? Number(m[1]) : -1;
}
