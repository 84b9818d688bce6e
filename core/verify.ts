// Proves each platform's image is what it claims before any tag moves: its config's
// os/architecture/variant, every ELF file in the layers the build added on top of the final
// stage's base, and the program the image runs (entrypoint/cmd, exec or shell form, resolved
// like the runtime does: absolute, relative to WorkingDir, through PATH, across symlinks and
// whiteouts) with its `#!` interpreter or dynamic loader. This is the article's pitfall
// (a binary or a last FROM of another architecture) caught at `up`, not at `docker run`.
//
// Layers stream through ./tar.ts: each is read at most once per verification (an index of
// what was seen so far is kept, never the bytes), base layers only as far as a lookup needs,
// so memory stays flat on a layer of any size. Blobs come from a {@link BlobSource}.
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

import * as elf from "./elf";
import * as platformlib from "./platform";
import { tarEntries, type TarEntry, type TarType } from "./tar";

/** Where manifests and blobs come from: a registry, or a local OCI layout. */
export interface BlobSource {
    /** An image manifest by digest: its parsed body. */
    manifest(digest: string): Promise<any>;
    /** A blob's bytes, streamed. */
    blob(digest: string): Promise<AsyncIterable<Buffer | Uint8Array>>;
}

export interface PlatformCheck {
    platform: string;
    /** os/architecture[/variant] from the image config */
    configPlatform: string;
    /** The program checked and the architecture its ELF header names, when it is ELF. */
    binary?: { path: string; architecture: string; interpreter?: string };
    /** How many ELF files the layers the build added hold (all checked). */
    addedElfs?: number;
    /** Bytes read from the blob source (compressed). */
    bytesRead?: number;
    /** What could not be checked, and why. */
    notes?: string[];
    problem?: string;
}

export function archOfMachine(machine: number): string {
    return (
        Object.entries(platformlib.ARCHITECTURES).find(([, a]) => a.elfMachine === machine)?.[0] ??
        `ELF machine ${machine}`
    );
}

/** What a file's first bytes say: an ELF machine (and dynamic loader) or a `#!` line. */
export interface Head {
    machine?: number;
    interpreter?: string;
    shebang?: string[];
}

/** Reads an ELF header and its PT_INTERP, or a `#!` line, from the first bytes of a file. */
export function parseHead(b: Buffer): Head | undefined {
    const machine = elf.elfMachine(b);
    if (machine !== undefined) {
        const wide = b[4] === 2,
            little = b[5] === 1;
        const u16 = (o: number) => (little ? b.readUInt16LE(o) : b.readUInt16BE(o));
        const u32 = (o: number) => (little ? b.readUInt32LE(o) : b.readUInt32BE(o));
        const addr = (o: number) => (wide ? Number(little ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(o));
        let interpreter: string | undefined;
        try {
            const phoff = addr(wide ? 32 : 28),
                phentsize = u16(wide ? 54 : 42),
                phnum = u16(wide ? 56 : 44);
            for (let i = 0; i < phnum; i++) {
                const ph = phoff + i * phentsize;
                if (u32(ph) !== 3) continue; // PT_INTERP
                const off = addr(ph + (wide ? 8 : 4)),
                    size = addr(ph + (wide ? 32 : 16));
                if (off + size <= b.length)
                    interpreter = b
                        .subarray(off, off + size)
                        .toString("latin1")
                        .replace(/\0+$/, "");
                else interpreter = "(beyond the bytes read)";
            }
        } catch {
            /* headers past the bytes read: machine only */
        }
        return { machine, ...(interpreter ? { interpreter } : {}) };
    }
    if (b[0] === 0x23 && b[1] === 0x21) {
        const line = b
            .subarray(2, Math.max(2, b.indexOf(0x0a) < 0 ? b.length : b.indexOf(0x0a)))
            .toString("latin1")
            .trim();
        return { shebang: line.split(/[ \t]+/).filter(Boolean) };
    }
    return undefined;
}

const HEAD_BYTES = 4096;

interface IndexedEntry {
    type: TarType;
    linkname: string;
    head?: Head;
}

/** Opens a layer blob as a tar stream (gzip and zstd are the compressions BuildKit writes; zstd needs Node's own). */
async function* layerTar(source: BlobSource, layer: any, counter: { bytes: number }): AsyncGenerator<Buffer> {
    const blob = await source.blob(layer.digest);
    const counted = (async function* () {
        for await (const c of blob) {
            counter.bytes += c.length;
            yield Buffer.from(c);
        }
    })();
    const mt: string = layer.mediaType ?? "";
    if (/zstd/.test(mt)) {
        const z = (zlib as any).createZstdDecompress;
        if (!z)
            throw new Error(
                `layer ${layer.digest} is zstd-compressed, which this Node.js cannot read: use Node 22.15+, or gzip layers`,
            );
        yield* pipe(counted, z());
    } else if (/gzip/.test(mt)) {
        yield* pipe(counted, zlib.createGunzip());
    } else {
        yield* counted;
    }
}

/** Feeds an async source through a transform, with backpressure; stops both when the consumer stops. */
async function* pipe(
    src: AsyncIterable<Buffer>,
    t: NodeJS.ReadWriteStream & { destroy(): void },
): AsyncGenerator<Buffer> {
    let failed: Error | undefined;
    const feeding = (async () => {
        try {
            for await (const c of src) {
                if (!t.write(c)) await new Promise((r) => t.once("drain", r));
            }
            t.end();
        } catch (e) {
            failed = e as Error;
            t.destroy();
        }
    })();
    try {
        for await (const c of t as AsyncIterable<Buffer>) yield c;
        await feeding;
        if (failed) throw failed;
    } finally {
        t.destroy();
    }
}

/**
 * One layer, read lazily and at most once: entries are indexed as they stream past (type,
 * link target, and for files what their first bytes say), so later lookups of names already
 * passed need no second read.
 */
export class LayerIndex {
    readonly entries: Map<string, IndexedEntry>;
    /** Folders whose lower-layer contents this layer hides (`.wh..wh..opq`). */
    readonly opaque: Set<string>;
    /** Folders this layer holds only through entries below them. */
    private readonly implicitDirs: Set<string>;
    complete: boolean;
    private iter?: AsyncGenerator<TarEntry>;
    private lock: Promise<unknown>;

    // Fields are set here, not by initializers: the provider serializer keeps only constructors.
    constructor(private readonly open: () => AsyncIterable<Buffer>) {
        this.entries = new Map();
        this.opaque = new Set();
        this.implicitDirs = new Set();
        this.complete = false;
        this.lock = Promise.resolve();
    }

    private async step(onEntry?: (name: string, e: IndexedEntry) => void): Promise<string | undefined> {
        this.iter ??= tarEntries(this.open());
        const r = await this.iter.next();
        if (r.done) {
            this.complete = true;
            return undefined;
        }
        const h = r.value.header;
        const base = path.posix.basename(h.name),
            dir = path.posix.dirname(h.name);
        for (let d = dir; d !== "." && !this.implicitDirs.has(d); d = path.posix.dirname(d)) this.implicitDirs.add(d);
        if (base === ".wh..wh..opq") {
            this.opaque.add(dir === "." ? "" : dir);
            return h.name;
        }
        const e: IndexedEntry = { type: h.type, linkname: h.linkname };
        if (h.type === "file" && h.size > 0) e.head = parseHead(await r.value.head(HEAD_BYTES));
        this.entries.set(h.name, e);
        onEntry?.(h.name, e);
        return h.name;
    }

    private locked<T>(fn: () => Promise<T>): Promise<T> {
        const next = this.lock.then(fn, fn);
        this.lock = next.catch(() => undefined);
        return next;
    }

    /** Reads on until `name` (or its whiteout) is seen or the layer ends. */
    find(name: string): Promise<IndexedEntry | "whiteout" | undefined> {
        const wh = path.posix.join(path.posix.dirname(name), `.wh.${path.posix.basename(name)}`);
        return this.locked(async () => {
            for (;;) {
                if (this.entries.has(name)) return this.entries.get(name);
                if (this.entries.has(wh)) return "whiteout";
                if (this.implicitDirs.has(name)) return { type: "dir", linkname: "" };
                if (this.complete) return undefined;
                await this.step();
            }
        });
    }

    /** Reads the whole layer, calling `onEntry` for every entry not seen before. */
    readAll(onEntry: (name: string, e: IndexedEntry) => void): Promise<void> {
        return this.locked(async () => {
            for (const [n, e] of this.entries) onEntry(n, e);
            while (!this.complete) await this.step(onEntry);
        });
    }

    close(): void {
        void this.iter?.return(undefined);
    }
}

/** Shares layer indexes by digest across the platforms of one verification. */
export class Verifier {
    private readonly layers: Map<string, LayerIndex>;
    readonly counter: { bytes: number };

    constructor(private readonly source: BlobSource) {
        this.layers = new Map();
        this.counter = { bytes: 0 };
    }

    layer(desc: any): LayerIndex {
        let l = this.layers.get(desc.digest);
        if (!l) {
            l = new LayerIndex(() => layerTar(this.source, desc, this.counter));
            this.layers.set(desc.digest, l);
        }
        return l;
    }

    close(): void {
        for (const l of this.layers.values()) l.close();
    }

    async config(manifest: any): Promise<any> {
        const chunks: Buffer[] = [];
        for await (const c of await this.source.blob(manifest.config.digest)) chunks.push(Buffer.from(c));
        return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    }

    /**
     * Checks one platform's manifest. `baseLayers`: how many of its layers come from the final
     * stage's base image (undefined: unknown, so every layer counts as added).
     */
    async check(manifestDigest: string, platform: string, baseLayers?: number): Promise<PlatformCheck> {
        const before = this.counter.bytes;
        const m = await this.source.manifest(manifestDigest);
        const config = await this.config(m);
        const out = await this.checkImage(m, config, platform, baseLayers);
        out.bytesRead = this.counter.bytes - before;
        return out;
    }

    private async checkImage(m: any, config: any, platform: string, baseLayers?: number): Promise<PlatformCheck> {
        const configPlatform = [config.os, config.architecture, config.variant].filter(Boolean).join("/");
        const want = platformlib.parsePlatform(platform);
        const got = (() => {
            try {
                return platformlib.normalizePlatform(configPlatform);
            } catch {
                return configPlatform;
            }
        })();
        const out: PlatformCheck = { platform, configPlatform };
        if (got !== platformlib.formatPlatform(want)) {
            out.problem = `${platform}: the image config says ${configPlatform}. Likely cause: the final stage's FROM pins another platform (FROM --platform=...) or names an image of one architecture; make the last FROM match the target`;
            return out;
        }
        const wantMachine = platformlib.ARCHITECTURES[want.architecture].elfMachine;
        const layers: LayerIndex[] = (m.layers ?? []).map((d: any) => this.layer(d));
        const notes: string[] = [];
        const base = baseLayers === undefined ? 0 : Math.min(baseLayers, layers.length);
        if (baseLayers === undefined)
            notes.push("the final stage's base could not be resolved: every layer was checked as added");

        // 1. Every ELF file the build added.
        let addedElfs = 0;
        let offender: { name: string; machine: number; interpreter?: string } | undefined;
        for (const l of layers.slice(base)) {
            await l.readAll((name, e) => {
                if (e.head?.machine === undefined) return;
                addedElfs++;
                if (e.head.machine !== wantMachine && !offender)
                    offender = { name, machine: e.head.machine, interpreter: e.head.interpreter };
            });
        }
        out.addedElfs = addedElfs;
        if (offender) {
            const architecture = archOfMachine(offender.machine);
            const kind = offender.interpreter
                ? `dynamically linked ${architecture} ELF file (loader ${offender.interpreter})`
                : `${architecture} ELF file`;
            out.problem =
                `${platform}: /${offender.name}, added by the build, is a${/^[aeiou]/.test(kind) ? "n" : ""} ${kind}. Likely cause: a hard-coded GOARCH ` +
                `(or another compiler target) in a build stage, or a COPY --from a stage or image of another platform; build with GOARCH=$TARGETARCH ` +
                `(ARG TARGETARCH) and copy from stages of the target platform`;
            out.binary = { path: `/${offender.name}`, architecture };
            return out;
        }

        // 2. The program the image runs, and what runs it.
        const lookup = new Lookup(layers);
        for (const target of programTargets(config)) {
            const found = await lookup.resolve(target.path, target.candidates);
            if (!found) {
                if (target.required) {
                    out.problem = `${platform}: the image runs ${target.path}, which is not in the image (looked in ${target.candidates.join(", ")}): fix ENTRYPOINT/CMD or WORKDIR`;
                    return out;
                }
                continue;
            }
            const problem = await this.checkProgram(lookup, found, wantMachine, platform, out, target.base, 0);
            if (problem) {
                out.problem = problem;
                return out;
            }
        }
        if (notes.length) out.notes = notes;
        return out;
    }

    /** Checks a resolved file: its ELF machine, its loader, or its `#!` interpreter. */
    private async checkProgram(
        lookup: Lookup,
        file: { path: string; entry: IndexedEntry },
        wantMachine: number,
        platform: string,
        out: PlatformCheck,
        cause: string,
        depth: number,
    ): Promise<string | undefined> {
        const head = file.entry.head;
        if (!head || depth > 4) return undefined;
        if (head.machine !== undefined) {
            const architecture = archOfMachine(head.machine);
            if (!out.binary)
                out.binary = {
                    path: file.path,
                    architecture,
                    ...(head.interpreter ? { interpreter: head.interpreter } : {}),
                };
            if (head.machine !== wantMachine) {
                out.binary = { path: file.path, architecture };
                return `${platform}: ${file.path} is an ${architecture} binary. Likely cause: ${cause}`;
            }
            if (head.interpreter && head.interpreter.startsWith("/")) {
                const loader = await lookup.resolve(head.interpreter, [head.interpreter]);
                if (!loader)
                    return `${platform}: ${file.path} is dynamically linked, but its loader ${head.interpreter} is not in the image: link it statically (CGO_ENABLED=0) or use a base that has the loader`;
                return this.checkProgram(
                    lookup,
                    loader,
                    wantMachine,
                    platform,
                    out,
                    `the loader of ${file.path} comes from a base of another architecture; ${BASE_CAUSE}`,
                    depth + 1,
                );
            }
            return undefined;
        }
        if (head.shebang?.length) {
            const [interp, ...args] = head.shebang;
            const found = await lookup.resolve(interp, [interp]);
            if (!found)
                return `${platform}: ${file.path} starts with #!${interp}, which is not in the image: install it in the final stage`;
            const problem = await this.checkProgram(
                lookup,
                found,
                wantMachine,
                platform,
                out,
                `the interpreter of ${file.path} comes from a base of another architecture; ${BASE_CAUSE}`,
                depth + 1,
            );
            if (problem || path.posix.basename(interp) !== "env" || !args[0]) return problem;
            // #!/usr/bin/env python3: the program env runs, through PATH.
            const prog = await lookup.resolve(args[0], pathCandidates(args[0], "/", DEFAULT_PATH));
            return prog
                ? this.checkProgram(lookup, prog, wantMachine, platform, out, BASE_CAUSE, depth + 1)
                : undefined;
        }
        return undefined;
    }
}

const BASE_CAUSE =
    "the final stage's FROM pins another platform (FROM --platform=...) or names an image of one architecture; make the last FROM match the target";
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Absolute candidates for running `program` from `workdir` with `PATH`, as the runtime resolves it. */
export function pathCandidates(program: string, workdir: string, pathVar: string): string[] {
    if (program.startsWith("/")) return [program];
    if (program.includes("/")) return [path.posix.join(workdir || "/", program)];
    return pathVar
        .split(":")
        .filter(Boolean)
        .map((d) => path.posix.join(d.startsWith("/") ? d : path.posix.join(workdir || "/", d), program));
}

// An array, not a Set: provider code is serialized into the state, and a captured Set is not.
const SHELL_BUILTINS = [
    ":",
    ".",
    "[",
    "cd",
    "echo",
    "eval",
    "exit",
    "export",
    "false",
    "printf",
    "read",
    "return",
    "set",
    "shift",
    "source",
    "test",
    "trap",
    "true",
    "ulimit",
    "umask",
    "unset",
    "wait",
];

/** The first word a shell runs of a command string (after assignments and `exec`), or undefined. */
export function shellCommandWord(cmd: string): string | undefined {
    const words = cmd
        .trim()
        .split(/[\s;&|()<>]+/)
        .filter(Boolean);
    for (const w of words) {
        if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) || w === "exec") continue;
        if (/[$`*?[]/.test(w)) return undefined; // expanded by the shell: not knowable here
        const word = w.replace(/^["']|["']$/g, "");
        return SHELL_BUILTINS.includes(word) ? undefined : word;
    }
    return undefined;
}

interface Target {
    path: string;
    candidates: string[];
    required: boolean;
    base: string;
}

/** What the image runs: argv[0] of ENTRYPOINT + CMD, and for a shell form also the command's first word. */
export function programTargets(config: any): Target[] {
    const c = config?.config ?? {};
    const argv: string[] = [...(c.Entrypoint ?? []), ...(c.Entrypoint?.length ? [] : (c.Cmd ?? []))];
    if (!argv.length) return [{ path: "/bin/sh", candidates: ["/bin/sh"], required: false, base: BASE_CAUSE }];
    const env: string[] = c.Env ?? [];
    const pathVar = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
    const workdir = c.WorkingDir || "/";
    const cause =
        "a hard-coded GOARCH (or another compiler target) in the build stage; build with GOARCH=$TARGETARCH, or the final stage copies a binary of another architecture";
    const out: Target[] = [
        {
            path: argv[0],
            candidates: pathCandidates(argv[0], workdir, pathVar),
            required: true,
            base: argv.length > 2 && /(^|\/)(ba|da|a)?sh$/.test(argv[0]) ? BASE_CAUSE : cause,
        },
    ];
    // Shell form: ["/bin/sh", "-c", "<command>"] (also what `CMD cmd args` becomes).
    if (/(^|\/)(ba|da|a)?sh$/.test(argv[0]) && argv[1] === "-c" && argv[2]) {
        const word = shellCommandWord(argv[2]);
        if (word)
            out.push({ path: word, candidates: pathCandidates(word, workdir, pathVar), required: false, base: cause });
    }
    // The base's shell: a right program on a base of another architecture still fails at
    // `docker run ... sh` and in every RUN of images built on it (the article's last FROM).
    out.push({ path: "/bin/sh", candidates: ["/bin/sh"], required: false, base: BASE_CAUSE });
    return out;
}

/** Path lookups in the merged view of the layers (top-most wins), following symlinks. */
class Lookup {
    constructor(private readonly layers: LayerIndex[]) {}

    /** The entry at an absolute, symlink-free path in the merged view. */
    private async entryAt(rel: string): Promise<IndexedEntry | undefined> {
        for (let i = this.layers.length - 1; i >= 0; i--) {
            const l = this.layers[i];
            const e = await l.find(rel);
            if (e === "whiteout") return undefined;
            if (e) return e;
            // Not in this layer (read to its end): a whited-out or opaque parent here hides lower layers.
            const parts = rel.split("/");
            for (let k = 0; k < parts.length; k++) {
                const dir = parts.slice(0, k).join("/");
                if (l.opaque.has(dir)) return undefined;
                if (k > 0 && l.entries.has(path.posix.join(path.posix.dirname(dir), `.wh.${path.posix.basename(dir)}`)))
                    return undefined;
            }
        }
        return undefined;
    }

    /** Resolves `file` (absolute) component by component; undefined when it does not exist. */
    async resolveOne(file: string, hops = 0): Promise<{ path: string; entry: IndexedEntry } | undefined> {
        const parts = path.posix.normalize(file).split("/").filter(Boolean);
        let cur = "";
        for (let i = 0; i < parts.length; i++) {
            const next = cur ? `${cur}/${parts[i]}` : parts[i];
            if (parts[i] === "..") {
                cur = path.posix.dirname(cur) === "." ? "" : path.posix.dirname(cur);
                continue;
            }
            const e = await this.entryAt(next);
            if (!e) {
                if (i === parts.length - 1) return undefined;
                cur = next; // a folder a layer holds only implicitly (no entry of its own)
                continue;
            }
            if (e.type === "symlink") {
                if (hops > 16) return undefined;
                const target = e.linkname.startsWith("/") ? e.linkname : `/${cur ? `${cur}/` : ""}${e.linkname}`;
                return this.resolveOne([target, ...parts.slice(i + 1)].join("/"), hops + 1);
            }
            if (e.type === "hardlink") {
                const target = await this.entryAt(e.linkname.replace(/^\/+/, ""));
                if (!target) return undefined;
                if (i === parts.length - 1) return { path: `/${next}`, entry: target };
            }
            if (i === parts.length - 1) return { path: `/${next}`, entry: e };
            if (e.type !== "dir") return undefined;
            cur = next;
        }
        return undefined;
    }

    /** The first of `candidates` that exists. */
    async resolve(_program: string, candidates: string[]): Promise<{ path: string; entry: IndexedEntry } | undefined> {
        for (const c of candidates) {
            const r = await this.resolveOne(c);
            if (r && r.entry.type !== "dir") return r.path === c ? r : { ...r, path: `${c} (-> ${r.path})` };
        }
        return undefined;
    }
}

/** One line for the `verification` output. */
export function describe(c: PlatformCheck): string {
    if (c.problem) return `FAILED: ${c.problem}`;
    const bin = c.binary
        ? `, ${c.binary.path} is ${c.binary.architecture}${c.binary.interpreter ? ` (dynamic, loader ${c.binary.interpreter})` : ""}`
        : "";
    const added =
        c.addedElfs !== undefined ? `, ${c.addedElfs} ELF file${c.addedElfs === 1 ? "" : "s"} added by the build` : "";
    return `ok: config ${c.configPlatform}${bin}${added}${c.notes?.length ? ` (${c.notes.join("; ")})` : ""}`;
}

/** Blobs of a local OCI image layout (what `--output type=oci,tar=false` writes). */
export function ociLayoutSource(dir: string): BlobSource {
    const file = (digest: string) => path.join(dir, "blobs", ...digest.split(":"));
    return {
        manifest: async (digest) => JSON.parse(fs.readFileSync(file(digest), "utf8")),
        blob: async (digest) => fs.createReadStream(file(digest), { highWaterMark: 1 << 20 }),
    };
}
