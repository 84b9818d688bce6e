// BuildKit's .dockerignore semantics, as the differential test against the real BuildKit found
// them (tests/e2e/context-differential.test.ts): one row per class the old matcher got wrong.
import * as assert from "assert";

import { asSent, clean, PatternMatcher, readIgnoreFile, trimSpace } from "../../core/dockerignore";

/** Whether a top-level path (byte string) is excluded by these .dockerignore lines. */
const excluded = (text: string, p: string) => {
    const m = new PatternMatcher(asSent(readIgnoreFile(Buffer.from(text, "latin1"))));
    return m.matchesUsingParentResults(p, undefined).matched;
};

describe(".dockerignore as BuildKit reads it", () => {
    const rows: [string, string, string, boolean][] = [
        ["a+b is literal", "a+b\n", "ab", false],
        ["parentheses are literal", "Copy (1).txt\n", "Copy 1.txt", false],
        ["| is RE2 alternation in a glob pattern (patternmatcher leaves it unescaped)", "a|*\n", "zzz", true],
        ["| in a plain name is an exact match", "a|b\n", "abc", false],
        ["\\a is RE2's bell, not a", "\\a.txt\n", "a.txt", false],
        ["*.c++ is fine", "*.c++\n", "x.c++", true],
        ["a BOM on a later line is part of the pattern", "x\n\xef\xbb\xbfa.txt\n", "a.txt", false],
        ["a BOM on the first line is stripped", "\xef\xbb\xbfa.txt\n", "a.txt", true],
        ["leading spaces before # make a pattern", "  #x\n", "#x", true],
        ["# first is a comment", "#x\n", "#x", false],
        ["[[:digit:]] is a POSIX class", "f[[:digit:]]\n", "f1", true],
        ["? is one character, an emoji too", "?.txt\n", "\xf0\x9f\x98\x80.txt", true],
        ["CRLF", "a\r\n", "a", true],
        ["./ and leading /", "./a\n/b\n", "b", true],
    ];
    for (const [name, text, p, want] of rows) it(name, () => assert.strictEqual(excluded(text, p), want));

    it("walks like fsutil: a ! line on a parent folder does not re-include what an earlier line excluded below it", () => {
        const m = new PatternMatcher(["src/util", "!src"]);
        const src = m.matchesUsingParentResults("src", undefined);
        assert.strictEqual(src.matched, false);
        const util = m.matchesUsingParentResults("src/util", src.info);
        assert.strictEqual(util.matched, true);
        assert.strictEqual(m.canSkipExcludedDir("src/util"), true);
        const go = new PatternMatcher(["**/*.go", "!src/*"]);
        const x = go.matchesUsingParentResults("src/x", go.matchesUsingParentResults("src", undefined).info);
        assert.strictEqual(go.matchesUsingParentResults("src/x/b.go", x.info).matched, true);
    });

    it("refuses what BuildKit refuses, lazily where BuildKit is lazy", () => {
        assert.throws(() => new PatternMatcher(["src/[a-"]), /syntax error in pattern/);
        assert.throws(() => new PatternMatcher(["!"]), /illegal exclusion pattern/);
        const lazy = new PatternMatcher(["!\\y"]);
        assert.strictEqual(lazy.matchesUsingParentResults("a", undefined).matched, false); // never compiled
        assert.throws(
            () => new PatternMatcher(["*", "!\\y"]).matchesUsingParentResults("a", undefined),
            /invalid escape sequence: \\y/,
        );
        assert.throws(() => asSent(["a\tb"]), /control character/);
        assert.deepStrictEqual(asSent(["a\tb", "\xe9"]), ["a\tb", "\xef\xbf\xbd"]); // URL-encoded then; not UTF-8 -> U+FFFD
    });

    it("cleans and trims as Go does", () => {
        assert.strictEqual(clean("a/../../b/./c//"), "../b/c");
        assert.strictEqual(trimSpace("\xc2\xa0x\x0b"), "x");
        assert.strictEqual(trimSpace("\xef\xbb\xbfx"), "\xef\xbb\xbfx");
    });
});
