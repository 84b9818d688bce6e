// A streaming tar reader: entries one at a time from any async source of bytes, so a layer
// of any size is read with flat memory and reading can stop as soon as the answer is known.
// Names are byte strings (one char per byte), as tar stores them: PAX and GNU long names
// included, never decoded as UTF-8 (which would lose bytes that are not UTF-8).

export type TarType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo" | "other";

export interface TarHeader {
    /** Byte string, without a leading "./" or "/". */
    name: string;
    type: TarType;
    /** Permission bits (0o7777). */
    mode: number;
    size: number;
    /** Byte string: a symlink's target or a hardlink's first name. */
    linkname: string;
    devmajor: number;
    devminor: number;
}

/** Pulls exact byte counts out of an async iterator of chunks. */
// Fields are set in constructors: provider code is serialized into the state, and the
// serializer keeps constructors but not class field initializers.
class ByteReader {
    private buf: Buffer;
    private done: boolean;

    constructor(private readonly it: AsyncIterator<Buffer | Uint8Array>) {
        this.buf = Buffer.alloc(0);
        this.done = false;
    }

    private async fill(n: number): Promise<void> {
        while (this.buf.length < n && !this.done) {
            const r = await this.it.next();
            if (r.done) {
                this.done = true;
                break;
            }
            this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : Buffer.from(r.value);
        }
    }

    /** Exactly n bytes, or fewer at the end of the stream. */
    async read(n: number): Promise<Buffer> {
        await this.fill(n);
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
    }

    /** Up to n bytes in the pieces they arrive in. */
    async *pieces(n: number): AsyncGenerator<Buffer> {
        while (n > 0) {
            if (this.buf.length === 0) {
                if (this.done) return;
                const r = await this.it.next();
                if (r.done) {
                    this.done = true;
                    return;
                }
                this.buf = Buffer.from(r.value);
            }
            const take = this.buf.subarray(0, Math.min(n, this.buf.length));
            this.buf = this.buf.subarray(take.length);
            n -= take.length;
            yield take;
        }
    }

    async skip(n: number): Promise<void> {
        for await (const _ of this.pieces(n)) {
            /* discard */
        }
    }
}

function str(b: Buffer, off: number, len: number): string {
    const s = b.subarray(off, off + len);
    const nul = s.indexOf(0);
    return (nul < 0 ? s : s.subarray(0, nul)).toString("latin1");
}

function num(b: Buffer, off: number, len: number): number {
    if (b[off] & 0x80) {
        // base-256, for sizes over 8 GiB
        let v = b[off] & 0x7f;
        for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
        return v;
    }
    const s = str(b, off, len).trim();
    return s ? parseInt(s, 8) : 0;
}

const TYPES: Record<string, TarType> = {
    "0": "file",
    "\0": "file",
    "7": "file",
    "1": "hardlink",
    "2": "symlink",
    "3": "char",
    "4": "block",
    "5": "dir",
    "6": "fifo",
};

/** PAX records "len key=value\n"; values stay byte strings. */
function pax(b: Buffer): Record<string, string> {
    const out: Record<string, string> = {};
    let i = 0;
    while (i < b.length) {
        const sp = b.indexOf(0x20, i);
        if (sp < 0) break;
        const len = parseInt(b.subarray(i, sp).toString("latin1"), 10);
        if (!len) break;
        const rec = b.subarray(sp + 1, i + len - 1).toString("latin1");
        const eq = rec.indexOf("=");
        if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
        i += len;
    }
    return out;
}

export function cleanName(name: string): string {
    return name.replace(/^(\.?\/)+/, "").replace(/\/+$/, "");
}

export interface TarEntry {
    header: TarHeader;
    /** The first `n` bytes of the body (fewer for a smaller file). */
    head(n: number): Promise<Buffer>;
    /** The rest of the body, in pieces. */
    body(): AsyncGenerator<Buffer>;
}

/**
 * Entries of a tar stream, in order. What an entry's body the caller did not read is
 * skipped when the next entry is asked for; stopping the loop stops reading the source.
 */
export async function* tarEntries(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<TarEntry> {
    const r = new ByteReader(source[Symbol.asyncIterator]());
    let ext: Record<string, string> = {};
    let longName: string | undefined, longLink: string | undefined;
    for (;;) {
        const block = await r.read(512);
        if (block.length < 512 || block.every((x) => x === 0)) return;
        const flag = String.fromCharCode(block[156]);
        const size = num(block, 124, 12);
        const padded = Math.ceil(size / 512) * 512;
        if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
            const data = await r.read(padded);
            if (flag === "x") ext = { ...ext, ...pax(data.subarray(0, size)) };
            else if (flag === "L") longName = str(data, 0, size);
            else if (flag === "K") longLink = str(data, 0, size);
            continue;
        }
        const magic = str(block, 257, 6);
        const prefix = magic.startsWith("ustar") ? str(block, 345, 155) : "";
        const raw = ext.path ?? longName ?? (prefix ? `${prefix}/${str(block, 0, 100)}` : str(block, 0, 100));
        const header: TarHeader = {
            name: cleanName(raw),
            type: TYPES[flag] ?? "other",
            mode: num(block, 100, 8) & 0o7777,
            size: ext.size !== undefined ? Number(ext.size) : size,
            linkname: ext.linkpath ?? longLink ?? str(block, 157, 100),
            devmajor: num(block, 329, 8),
            devminor: num(block, 337, 8),
        };
        ext = {};
        longName = longLink = undefined;
        const bodySize =
            header.type === "file" ? header.size : header.size > 0 && header.type !== "dir" ? header.size : 0;
        let left = bodySize;
        const entry: TarEntry = {
            header,
            head: async (n) => {
                const b = await r.read(Math.min(n, left));
                left -= b.length;
                return b;
            },
            body: async function* () {
                for await (const p of r.pieces(left)) {
                    left -= p.length;
                    yield p;
                }
            },
        };
        yield entry;
        await r.skip(left + (Math.ceil(bodySize / 512) * 512 - bodySize));
    }
}
