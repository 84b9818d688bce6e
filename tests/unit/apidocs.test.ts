// The public API's documentation: every field of every exported Args interface has JSDoc,
// every optional one states its default, and docs/api (typedoc) is generated from the
// current comments.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.join(__dirname, "..", "..");

/** Exported interfaces of the public entry point, with each property's JSDoc text. */
function publicInterfaces(): Map<string, { name: string; optional: boolean; doc: string }[]> {
    const program = ts.createProgram([path.join(ROOT, "components/index.ts")], { strict: true });
    const checker = program.getTypeChecker();
    const entry = checker.getSymbolAtLocation(program.getSourceFile(path.join(ROOT, "components/index.ts"))!)!;
    const out = new Map<string, { name: string; optional: boolean; doc: string }[]>();
    for (let sym of checker.getExportsOfModule(entry)) {
        if (sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
        const decl = sym.declarations?.[0];
        if (!decl || !ts.isInterfaceDeclaration(decl)) continue;
        out.set(
            sym.name,
            decl.members.filter(ts.isPropertySignature).map((m) => ({
                name: m.name.getText(),
                optional: !!m.questionToken,
                doc: ts.displayPartsToString(checker.getSymbolAtLocation(m.name)!.getDocumentationComment(checker)),
            })),
        );
    }
    return out;
}

describe("API documentation", () => {
    it("every Args field has JSDoc, and every optional one its default", function () {
        this.timeout(60000); // type-checks the entry point
        const args = [...publicInterfaces()].filter(([name]) => name.endsWith("Args"));
        assert.ok(args.length >= 8, `found only ${args.map(([n]) => n)}`);
        const missing: string[] = [];
        for (const [iface, props] of args) {
            for (const p of props) {
                if (!p.doc.trim()) missing.push(`${iface}.${p.name}: no JSDoc`);
                else if (p.optional && !/\bdefault\b/i.test(p.doc))
                    missing.push(`${iface}.${p.name}: JSDoc names no default`);
            }
        }
        assert.deepStrictEqual(missing, []);
    });

    it("docs/api is generated from the current comments (run `npm run docs`)", function () {
        this.timeout(60000);
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "pm-apidocs-"));
        try {
            execFileSync(path.join(ROOT, "node_modules/.bin/typedoc"), ["--out", out, "--logLevel", "Error"], {
                cwd: ROOT,
                stdio: "pipe",
            });
            const list = (dir: string): string[] =>
                fs
                    .readdirSync(dir, { recursive: true, encoding: "utf8" })
                    .filter((f) => f.endsWith(".md"))
                    .sort();
            assert.deepStrictEqual(list(out), list(path.join(ROOT, "docs/api")));
            for (const f of list(out)) {
                assert.strictEqual(
                    fs.readFileSync(path.join(ROOT, "docs/api", f), "utf8"),
                    fs.readFileSync(path.join(out, f), "utf8"),
                    `docs/api/${f} is stale: run npm run docs`,
                );
            }
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });
});
