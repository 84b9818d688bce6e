// binfmt_misc: the kernel's table of interpreters chosen by magic bytes. Pure parsers for
// /proc/sys/fs/binfmt_misc/<name> entries and for the qemu-user-static package's
// definitions, plus the few writes that register and remove handlers.
import * as fs from "fs";
import * as path from "path";

export const BINFMT_DIR = "/proc/sys/fs/binfmt_misc";
/** Where Debian's qemu-user-static keeps its handler definitions (binfmt-support format). */
export const DEBIAN_BINFMTS_DIR = "/usr/share/binfmts";

/** A registered handler, as the kernel reports it. */
export interface Handler {
    enabled: boolean;
    interpreter: string;
    /** Flag letters as the kernel prints them, e.g. "POCF". */
    flags: string;
    offset: number;
    /** Hex, as the kernel prints it. */
    magic: string;
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

export function isMounted(dir = BINFMT_DIR): boolean {
    return fs.existsSync(path.join(dir, "register"));
}

/** Every handler whose name starts with "qemu-", parsed. */
export function readQemuHandlers(dir = BINFMT_DIR): Record<string, Handler> {
    const out: Record<string, Handler> = {};
    if (!isMounted(dir)) return out;
    for (const name of fs.readdirSync(dir).sort()) {
        if (!name.startsWith("qemu-")) continue;
        try {
            out[name] = parseHandler(fs.readFileSync(path.join(dir, name), "utf8"));
        } catch {
            // removed between readdir and read
        }
    }
    return out;
}

export function register(d: HandlerDefinition, dir = BINFMT_DIR): void {
    fs.writeFileSync(path.join(dir, "register"), registerLine(d));
}

/** Writing -1 to a handler removes it (what a reboot does to every handler). */
export function unregister(name: string, dir = BINFMT_DIR): void {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) fs.writeFileSync(file, "-1");
}

export function setEnabled(name: string, enabled: boolean, dir = BINFMT_DIR): void {
    fs.writeFileSync(path.join(dir, name), enabled ? "1" : "0");
}
