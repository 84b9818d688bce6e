// .dockerignore exactly as BuildKit reads and applies it: a port of the semantics of
// github.com/moby/patternmatcher v0.6.1 (ignorefile.ReadAll, New, Pattern.compile/match,
// MatchesUsingParentResults), which buildx's file sender (tonistiigi/fsutil) uses to choose
// what it sends. The generated regular expressions are RE2 syntax (Go's regexp), so the ones
// that use RE2-only syntax (character classes like [[:digit:]], escapes like \d) run on RE2
// itself (re2-wasm); the rest, which JavaScript reads the same way, run as RegExp.
//
// Paths and patterns are "byte strings": one char per byte (latin1), because Go compares
// bytes and a file name may be any byte sequence. Regular expressions see the bytes decoded
// as Go decodes them (each invalid byte is U+FFFD).
import { RE2 } from "re2-wasm";

/** Go's unicode.IsSpace. */
function isSpace(r: number): boolean {
    return (
        (r >= 0x09 && r <= 0x0d) ||
        r === 0x20 ||
        r === 0x85 ||
        r === 0xa0 ||
        r === 0x1680 ||
        (r >= 0x2000 && r <= 0x200a) ||
        r === 0x2028 ||
        r === 0x2029 ||
        r === 0x202f ||
        r === 0x205f ||
        r === 0x3000
    );
}

const RUNE_ERROR = 0xfffd;

/** Go's utf8.DecodeRune on the byte string `s` at `i`: [rune, width]. */
export function decodeRune(s: string, i: number): [number, number] {
    const b0 = s.charCodeAt(i);
    if (b0 < 0x80) return [b0, 1];
    const cont = (k: number, lo = 0x80, hi = 0xbf) => {
        const b = s.charCodeAt(i + k);
        return b >= lo && b <= hi ? b : -1;
    };
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        const b1 = cont(1);
        return b1 < 0 ? [RUNE_ERROR, 1] : [((b0 & 0x1f) << 6) | (b1 & 0x3f), 2];
    }
    if (b0 >= 0xe0 && b0 <= 0xef) {
        const b1 = cont(1, b0 === 0xe0 ? 0xa0 : 0x80, b0 === 0xed ? 0x9f : 0xbf),
            b2 = cont(2);
        return b1 < 0 || b2 < 0 ? [RUNE_ERROR, 1] : [((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f), 3];
    }
    if (b0 >= 0xf0 && b0 <= 0xf4) {
        const b1 = cont(1, b0 === 0xf0 ? 0x90 : 0x80, b0 === 0xf4 ? 0x8f : 0xbf),
            b2 = cont(2),
            b3 = cont(3);
        return b1 < 0 || b2 < 0 || b3 < 0
            ? [RUNE_ERROR, 1]
            : [((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f), 4];
    }
    return [RUNE_ERROR, 1];
}

/** The byte string as the code points Go's regexp sees. */
export function runes(s: string): string {
    let out = "";
    for (let i = 0; i < s.length;) {
        const [r, n] = decodeRune(s, i);
        out += String.fromCodePoint(r);
        i += n;
    }
    return out;
}

/** Go's strings.TrimSpace on a byte string. */
export function trimSpace(s: string): string {
    let lo = 0;
    while (lo < s.length) {
        const [r, n] = decodeRune(s, lo);
        if (!isSpace(r)) break;
        lo += n;
    }
    let hi = s.length;
    while (hi > lo) {
        // utf8.DecodeLastRune: the rune must end exactly at hi.
        let start = hi - 1;
        while (start > lo && start > hi - 4 && (s.charCodeAt(start) & 0xc0) === 0x80) start--;
        const [r, n] = decodeRune(s, start);
        const width = start + n === hi ? n : 1;
        if (!isSpace(start + n === hi ? r : RUNE_ERROR)) break;
        hi -= width;
    }
    return s.slice(lo, hi);
}

/** Go's path.Clean. */
export function clean(p: string): string {
    if (p === "") return ".";
    const rooted = p[0] === "/";
    const n = p.length;
    let out = rooted ? "/" : "";
    let r = rooted ? 1 : 0,
        dotdot = rooted ? 1 : 0;
    while (r < n) {
        if (p[r] === "/") r++;
        else if (p[r] === "." && (r + 1 === n || p[r + 1] === "/")) r++;
        else if (p[r] === "." && p[r + 1] === "." && (r + 2 === n || p[r + 2] === "/")) {
            r += 2;
            if (out.length > dotdot) {
                let w = out.length - 1;
                while (w > dotdot && out[w] !== "/") w--;
                out = out.slice(0, w);
            } else if (!rooted) {
                out += out.length > 0 ? "/.." : "..";
                dotdot = out.length;
            }
        } else {
            if ((rooted && out.length !== 1) || (!rooted && out.length !== 0)) out += "/";
            for (; r < n && p[r] !== "/"; r++) out += p[r];
        }
    }
    return out === "" ? "." : out;
}

/** An ignore file that BuildKit refuses: the build would fail, so the digest does too. */
export class IgnoreFileError extends Error {}

/** ignorefile.ReadAll: the patterns of an ignore file's bytes. */
export function readIgnoreFile(bytes: Buffer, name = ".dockerignore"): string[] {
    const text = bytes.toString("latin1");
    const out: string[] = [];
    let start = 0;
    for (let line = 0; start < text.length; line++) {
        const nl = text.indexOf("\n", start);
        let raw = nl < 0 ? text.slice(start) : text.slice(start, nl);
        // bufio.Scanner's 64 KiB token limit: BuildKit fails with "token too long".
        if (raw.length > (nl < 0 ? 65536 : 65535)) {
            throw new IgnoreFileError(
                `${name}:${line + 1}: the line is longer than 64 KiB, which BuildKit refuses ("bufio.Scanner: token too long"): shorten it`,
            );
        }
        start = nl < 0 ? text.length : nl + 1;
        if (raw.endsWith("\r")) raw = raw.slice(0, -1);
        if (line === 0 && raw.startsWith("\xef\xbb\xbf")) raw = raw.slice(3);
        if (raw.startsWith("#")) continue; // a comment only when # is the very first byte
        let pattern = trimSpace(raw);
        if (pattern === "") continue;
        const invert = pattern[0] === "!";
        if (invert) pattern = trimSpace(pattern.slice(1));
        if (pattern.length > 0) {
            pattern = clean(pattern);
            if (pattern.length > 1 && pattern[0] === "/") pattern = pattern.slice(1);
        }
        out.push(invert ? `!${pattern}` : pattern);
    }
    return out;
}

/**
 * The patterns as BuildKit's sender receives them: the Dockerfile frontend puts them in the
 * build definition as JSON, which turns each byte that is not UTF-8 into U+FFFD; then they
 * travel as gRPC metadata, URL-encoded only when one of them has a non-ASCII character, so a
 * control character in an all-ASCII set makes BuildKit fail.
 */
export function asSent(patterns: string[], name = ".dockerignore"): string[] {
    const sent = patterns.map((p) => Buffer.from(runes(p), "utf8").toString("latin1"));
    if (!sent.some((p) => /[\x80-\xff]/.test(p))) {
        const bad = sent.find((p) => /[\x00-\x1f\x7f]/.test(p));
        if (bad !== undefined) {
            throw new IgnoreFileError(
                `${name}: the pattern ${JSON.stringify(bad)} holds a control character, which BuildKit cannot send ` +
                    `("header key \"exclude-patterns\" contains value with non-printable ASCII characters"): remove it, or match it with ?`,
            );
        }
    }
    return sent;
}

/**
 * Go's filepath.Match, used by patternmatcher only for its syntax check (`Match(p, ".")`):
 * like Go, it reports a bad pattern only where matching "." reaches it.
 */
export function globMatch(pattern: string, name: string): boolean {
    outer: while (pattern.length > 0) {
        let star = false;
        while (pattern.length > 0 && pattern[0] === "*") {
            pattern = pattern.slice(1);
            star = true;
        }
        let inrange = false,
            i = 0;
        for (; i < pattern.length; i++) {
            const c = pattern[i];
            if (c === "\\") {
                if (i + 1 < pattern.length) i++;
            } else if (c === "[") inrange = true;
            else if (c === "]") inrange = false;
            else if (c === "*" && !inrange) break;
        }
        const chunk = pattern.slice(0, i);
        pattern = pattern.slice(i);
        if (star && chunk === "") return !name.includes("/");
        const t = matchChunk(chunk, name);
        if (t !== undefined && (t.length === 0 || pattern.length > 0)) {
            name = t;
            continue;
        }
        if (star) {
            for (let j = 0; j < name.length && name[j] !== "/"; j++) {
                const t2 = matchChunk(chunk, name.slice(j + 1));
                if (t2 !== undefined) {
                    if (pattern.length === 0 && t2.length > 0) continue;
                    name = t2;
                    continue outer;
                }
            }
        }
        return false;
    }
    return name.length === 0;
}

const BAD_PATTERN = "syntax error in pattern";

function matchChunk(chunk: string, s: string): string | undefined {
    let failed = false;
    while (chunk.length > 0) {
        failed = failed || s.length === 0;
        const c = chunk[0];
        if (c === "[") {
            let r = -1;
            if (!failed) {
                const [rr, n] = decodeRune(s, 0);
                r = rr;
                s = s.slice(n);
            }
            chunk = chunk.slice(1);
            let negated = false;
            if (chunk.length > 0 && chunk[0] === "^") {
                negated = true;
                chunk = chunk.slice(1);
            }
            let match = false,
                nrange = 0;
            for (;;) {
                if (chunk.length > 0 && chunk[0] === "]" && nrange > 0) {
                    chunk = chunk.slice(1);
                    break;
                }
                let lo: number, hi: number;
                [lo, chunk] = getEsc(chunk);
                hi = lo;
                if (chunk[0] === "-") [hi, chunk] = getEsc(chunk.slice(1));
                match = match || (lo <= r && r <= hi);
                nrange++;
            }
            failed = failed || match === negated;
        } else if (c === "?") {
            if (!failed) {
                failed = s[0] === "/";
                s = s.slice(decodeRune(s, 0)[1]);
            }
            chunk = chunk.slice(1);
        } else {
            if (c === "\\") {
                chunk = chunk.slice(1);
                if (chunk.length === 0) throw new IgnoreFileError(BAD_PATTERN);
            }
            if (!failed) {
                failed = chunk[0] !== s[0];
                s = s.slice(1);
            }
            chunk = chunk.slice(1);
        }
    }
    return failed ? undefined : s;
}

function getEsc(chunk: string): [number, string] {
    if (chunk.length === 0 || chunk[0] === "-" || chunk[0] === "]") throw new IgnoreFileError(BAD_PATTERN);
    if (chunk[0] === "\\") {
        chunk = chunk.slice(1);
        if (chunk.length === 0) throw new IgnoreFileError(BAD_PATTERN);
    }
    const [r, n] = decodeRune(chunk, 0);
    if (r === RUNE_ERROR && n === 1) throw new IgnoreFileError(BAD_PATTERN);
    const rest = chunk.slice(n);
    if (rest.length === 0) throw new IgnoreFileError(BAD_PATTERN);
    return [r, rest];
}

type MatchType = "exact" | "prefix" | "suffix" | "regexp";
// patternmatcher means to escape . + ( ) | { } $, but its bitmap holds one byte per row, so
// the bits of | { } (code points 64 and up) are lost: they reach RE2 unescaped, where | is
// alternation (`a|*` matches everything) and {n} a repetition.
const SHOULD_ESCAPE = new Set([...("." + "+()$")]);
const RAW_RE2 = new Set([..."|{}"]);

/** One pattern of a {@link PatternMatcher}; compiled on first use, as Go does. */
export class Pattern {
    private matchType?: MatchType;
    private test?: (path: string) => boolean;
    private compileError?: Error;
    readonly dirs: string[];

    constructor(
        readonly cleaned: string,
        readonly exclusion: boolean,
    ) {
        this.dirs = cleaned.split("/");
    }

    /** Pattern.match: throws (as BuildKit fails the build) when the pattern cannot compile. */
    match(path: string): boolean {
        if (!this.matchType && !this.compileError) this.compile();
        if (this.compileError) throw this.compileError;
        switch (this.matchType) {
            case "exact":
                return path === this.cleaned;
            case "prefix":
                return path.startsWith(this.cleaned.slice(0, -2));
            case "suffix": {
                const suffix = this.cleaned.slice(2);
                if (path.endsWith(suffix)) return true;
                return suffix[0] === "/" && path === suffix.slice(1);
            }
            default:
                return this.test!(path);
        }
    }

    private compile(): void {
        // text/scanner reads runes and skips one leading BOM; `i` counts runes read.
        const rs = [...runes(this.cleaned)];
        let k = rs[0] === "\ufeff" ? 1 : 0;
        const peek = () => (k < rs.length ? rs[k] : undefined);
        const next = () => rs[k++];
        // Go's regexp source, and the same expression for JavaScript where `.` must not
        // match \r, \u2028 or \u2029 either (Go's `.` excludes only \n).
        let re2 = "^",
            js = "^";
        const add = (go: string, javascript = go) => {
            re2 += go;
            js += javascript;
        };
        let type: MatchType = "exact";
        let re2Only = false; // syntax that JavaScript would read differently
        for (let i = 0; peek() !== undefined; i++) {
            const ch = next();
            if (ch === "*") {
                if (peek() === "*") {
                    next();
                    if (peek() === "/") next();
                    if (peek() === undefined) {
                        if (type === "exact") type = "prefix";
                        else {
                            add(".*", "[^\\n]*");
                            type = "regexp";
                        }
                    } else {
                        add("(.*/)?", "(?:[^\\n]*/)?");
                        type = "regexp";
                    }
                    if (i === 0) type = "suffix";
                } else {
                    add("[^/]*");
                    type = "regexp";
                }
            } else if (ch === "?") {
                add("[^/]");
                type = "regexp";
            } else if (SHOULD_ESCAPE.has(ch)) {
                add(`\\${ch}`);
            } else if (ch === "\\") {
                // An escape of any character: RE2 reads \d, \pL, \x41... as RE2 does.
                if (peek() !== undefined) {
                    add(`\\${next()}`);
                    type = "regexp";
                } else {
                    add("\\"); // Go appends a lone backslash here
                }
                re2Only = true;
            } else if (ch === "[" || ch === "]") {
                add(ch);
                type = "regexp";
                re2Only = true;
            } else if (RAW_RE2.has(ch)) {
                add(ch);
                re2Only = true;
            } else {
                add(ch);
            }
        }
        this.matchType = type;
        if (type !== "regexp") return;
        if (re2Only) {
            try {
                // \C (any byte) is the one escape RE2 has and Go's regexp refuses.
                if (/(^|[^\\])(\\\\)*\\C/.test(re2)) throw new Error(`invalid escape sequence: \\C`);
                const re = new RE2(`${re2}$`, "u");
                this.test = (p) => re.test(runes(p));
            } catch (e) {
                this.compileError = new IgnoreFileError(
                    `${BAD_PATTERN} (${(e as Error).message.replace(/^Invalid regular expression: /, "")})`,
                );
            }
        } else {
            // Only literals, escaped punctuation, ^, [^/] and [^\n]: identical in JavaScript.
            const re = new RegExp(`${js}$`, "u");
            this.test = (p) => re.test(runes(p));
        }
    }
}

/** patternmatcher.PatternMatcher: ordered patterns, `!` lines re-include. */
export class PatternMatcher {
    readonly patterns: Pattern[] = [];
    readonly exclusions: boolean = false;

    constructor(lines: string[]) {
        for (let p of lines) {
            p = trimSpace(p);
            if (p === "") continue;
            p = clean(p);
            let exclusion = false;
            if (p[0] === "!") {
                if (p.length === 1) throw new IgnoreFileError(`illegal exclusion pattern: "!"`);
                exclusion = true;
                p = p.slice(1);
                this.exclusions = true;
            }
            globMatch(p, "."); // throws on bad syntax, as New does
            this.patterns.push(new Pattern(p, exclusion));
        }
    }

    /**
     * MatchesUsingParentResults: whether `path` is excluded, given what each pattern said of
     * its parent directory (undefined for a top-level entry). Returns the per-pattern results
     * for this path's children.
     */
    matchesUsingParentResults(path: string, parent: boolean[] | undefined): { matched: boolean; info: boolean[] } {
        let matched = false;
        const info = new Array<boolean>(this.patterns.length).fill(false);
        this.patterns.forEach((pattern, i) => {
            let match = parent ? parent[i] : false;
            if (!match) {
                if (pattern.exclusion !== matched) return;
                match = pattern.match(path);
                if (!match && !parent) {
                    const slash = path.lastIndexOf("/");
                    if (slash > 0) {
                        const dirs = path.slice(0, slash).split("/");
                        for (let j = 0; j < dirs.length && !match; j++)
                            match = pattern.match(dirs.slice(0, j + 1).join("/"));
                    }
                }
            }
            info[i] = match;
            if (match) matched = !pattern.exclusion;
        });
        return { matched, info };
    }

    /**
     * MatchesOrParentMatches: what fsutil's Open asks before it sends a file's bytes. It can
     * disagree with the walk (a BuildKit bug: the file is then sent empty).
     */
    matchesOrParentMatches(path: string): boolean {
        let matched = false;
        const slash = path.lastIndexOf("/");
        const dirs = slash > 0 ? path.slice(0, slash).split("/") : [];
        for (const pattern of this.patterns) {
            if (pattern.exclusion !== matched) continue;
            let match = pattern.match(path);
            for (let j = 0; j < dirs.length && !match; j++) match = pattern.match(dirs.slice(0, j + 1).join("/"));
            if (match) matched = !pattern.exclusion;
        }
        return matched;
    }

    /**
     * fsutil's shortcut: an excluded directory is not walked when no `!` pattern could
     * re-include something below it. Only taken when every `!` pattern is a plain prefix.
     */
    canSkipExcludedDir(dir: string): boolean {
        if (!this.exclusions) return true;
        const plain = this.patterns.every((p) => !p.exclusion || !/[*[\]?^\\]/.test(withoutTrailingGlob(p.cleaned)));
        if (!plain) return false;
        const dirSlash = `${dir}/`;
        return !this.patterns.some((p) => p.exclusion && `${withoutTrailingGlob(p.cleaned)}/`.startsWith(dirSlash));
    }
}

function withoutTrailingGlob(p: string): string {
    if (p.endsWith("/**")) p = p.slice(0, -3);
    if (p.endsWith("/*")) p = p.slice(0, -2);
    return p;
}
