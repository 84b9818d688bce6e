// The provider plugin's contract and boundary, without the engine: the version both sides
// agree on, the schema kept in step with the TypeScript API, the wire format of secrets and
// unknowns as @pulumi/pulumi defines it, dispatch by type token, the 0.1 migration path, and
// the process boundary (program code never imports plugin code).
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

import { COMPONENT_TYPES, LEGACY_PROVIDER_KEY, RESOURCE_TYPES, VERSION } from "../../contract/tokens";
import type { Lifecycle } from "../../provider/lifecycle";
import { LIFECYCLES, multiarchProvider } from "../../provider/provider";
import * as wire from "../../provider/wire";
import { generateSchema } from "../../scripts/schema";

const ROOT = path.join(__dirname, "..", "..");
const schemaFile = path.join(ROOT, "contract/schema.json");
const committed = () => JSON.parse(fs.readFileSync(schemaFile, "utf8"));

describe("plugin contract", () => {
    it("the version the program asks for is package.json's, as the npm package declares its plugin", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        assert.strictEqual(VERSION, pkg.version);
        assert.deepStrictEqual(pkg.pulumi, { resource: true, name: "multiarch", version: pkg.version });
        assert.strictEqual(committed().version, VERSION);
    });

    it("schema.json is generated from the current TypeScript types (npm run schema)", function () {
        this.timeout(120000); // type-checks the components
        assert.deepStrictEqual(generateSchema(ROOT), committed(), "contract/schema.json is stale: run npm run schema");
    });

    it("every field of every component's Args is a schema input with the same doc; every resource and type has a description", () => {
        const schema = committed();
        const program = ts.createProgram([path.join(ROOT, "components/index.ts")], {
            strict: true,
            resolveJsonModule: true,
            esModuleInterop: true,
        });
        const checker = program.getTypeChecker();
        const entry = checker.getSymbolAtLocation(program.getSourceFile(path.join(ROOT, "components/index.ts"))!)!;
        const exported = new Map(
            checker
                .getExportsOfModule(entry)
                .map((s) => [s.name, s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s]),
        );
        for (const [name, type] of Object.entries(COMPONENT_TYPES)) {
            const args = exported.get(`${name}Args`)!;
            const props = schema.resources[type].inputProperties;
            const fields = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(args));
            assert.deepStrictEqual(
                Object.keys(props).sort(),
                fields.map((f) => f.name).sort(),
                `${name}Args vs the schema`,
            );
            for (const f of fields) {
                assert.strictEqual(
                    props[f.name].description,
                    ts.displayPartsToString(f.getDocumentationComment(checker)).trim(),
                    `${name}Args.${f.name}`,
                );
            }
        }
        for (const [token, spec] of Object.entries<any>({ ...schema.resources, ...schema.types })) {
            assert.ok(spec.description, `${token} has no description`);
            for (const [p, s] of Object.entries<any>({ ...spec.inputProperties, ...spec.properties }))
                assert.ok(s.description, `${token}.${p} has no description`);
        }
        assert.deepStrictEqual(
            Object.keys(schema.resources).sort(),
            [...Object.values(COMPONENT_TYPES), ...Object.values(RESOURCE_TYPES)].sort(),
        );
    });

    it("wire.ts speaks @pulumi/pulumi's encoding of secrets and unknowns", () => {
        assert.strictEqual(wire.SIG_KEY, rpc.specialSigKey);
        assert.strictEqual(wire.SECRET_SIG, rpc.specialSecretSig);
        assert.strictEqual(wire.UNKNOWN, rpc.unknownValue);
        const secret = { [rpc.specialSigKey]: rpc.specialSecretSig, value: "pw" };
        const props = { registryAuth: { username: "u", password: secret }, tags: ["a"], host: wire.UNKNOWN };
        assert.deepStrictEqual(wire.reveal(props), {
            registryAuth: { username: "u", password: "pw" },
            tags: ["a"],
            host: wire.UNKNOWN,
        });
        assert.deepStrictEqual(wire.secretKeys(props), ["registryAuth"]);
        const sealed = wire.seal({ registryAuth: { username: "u", password: "pw" }, tags: ["a"] }, [
            "registryAuth",
            "absent",
        ]);
        assert.ok(wire.isSecret(sealed.registryAuth));
        assert.deepStrictEqual(sealed.tags, ["a"]);
        assert.ok(!("absent" in sealed));
        assert.strictEqual(
            wire.typeOfUrn("urn:pulumi:dev::proj::multiarch:index:MultiArchImage$multiarch:index:Image::hello-image"),
            "multiarch:index:Image",
        );
    });
});

describe("plugin provider: dispatch and the 0.1 migration", () => {
    const urn = "urn:pulumi:dev::proj::multiarch:index:MultiArchImage$multiarch:index:Image::hello-image";
    const calls: string[] = [];
    let original: Lifecycle;
    // A stand-in for the image lifecycle: the adapter around it is what is tested here.
    const recorder: Lifecycle = {
        check: async (_o, n) => {
            calls.push("check");
            return { inputs: n };
        },
        diff: async (_id, o, n) => {
            calls.push(`diff ${JSON.stringify(o)}`);
            return { changes: o.tags?.[0] !== n.tags?.[0] };
        },
        create: async (i) => {
            calls.push("create");
            return { id: "img", outs: { ...i, digest: "sha256:1" } };
        },
        read: async (id, p) => ({ id, props: p }),
        update: async (_id, _o, n) => {
            calls.push("update");
            return { outs: { ...n, digest: "sha256:2" } };
        },
        delete: async () => {
            calls.push("delete");
        },
    };
    const provider = multiarchProvider({ schema: "{}" });
    beforeEach(() => {
        calls.length = 0;
        original = LIFECYCLES[RESOURCE_TYPES.Image];
        LIFECYCLES[RESOURCE_TYPES.Image] = recorder;
    });
    afterEach(() => {
        LIFECYCLES[RESOURCE_TYPES.Image] = original;
    });

    it("an unknown type token is refused with the types it serves", async () => {
        await assert.rejects(
            provider.create!("urn:pulumi:dev::proj::multiarch:index:Nope::x", {}),
            /has no resource type multiarch:index:Nope/,
        );
        await assert.rejects(
            provider.construct!("x", "multiarch:index:Nope", {}, {}),
            /use one of multiarch:index:BinfmtSetup/,
        );
    });

    it("secrets reach the lifecycle plain and leave sealed: declared secret outputs and inputs given as secrets", async () => {
        const secret = { [wire.SIG_KEY]: wire.SECRET_SIG, value: "pw" };
        const r = await provider.create!(urn, {
            tags: ["t"],
            registryAuth: { username: "u", password: secret },
            labels: { a: secret },
        });
        assert.ok(wire.isSecret(r.outs.registryAuth));
        assert.ok(wire.isSecret(r.outs.labels), "an input given as a secret stays one");
        assert.deepStrictEqual(wire.reveal(r.outs).registryAuth, { username: "u", password: "pw" });
        assert.strictEqual(r.outs.digest, "sha256:1");
    });

    it("0.1 state (serialized provider code): diff asks for an update that builds nothing and drops the code", async () => {
        const olds = { tags: ["t"], digest: "sha256:1", [LEGACY_PROVIDER_KEY]: "exports.handler = ..." };
        const news = { tags: ["t"] };
        assert.strictEqual((await provider.diff!("img", urn, olds, news)).changes, true);
        assert.doesNotMatch(calls.join(), /__provider/, "the lifecycle never sees the serialized code");
        calls.length = 0;
        const u = await provider.update!("img", urn, olds, news);
        assert.ok(!calls.includes("update"), "nothing rebuilt");
        assert.ok(!(LEGACY_PROVIDER_KEY in u.outs));
        assert.strictEqual(u.outs.digest, "sha256:1");
    });

    it("0.1 state with a real change still updates through the lifecycle", async () => {
        const u = await provider.update!("img", urn, { tags: ["t"], [LEGACY_PROVIDER_KEY]: "code" }, { tags: ["t2"] });
        assert.ok(calls.includes("update"));
        assert.strictEqual(u.outs.digest, "sha256:2");
    });
});

describe("process boundary", () => {
    /** Relative imports of every .ts file of the four folders, resolved to repository paths. */
    function imports(): [string, string][] {
        const out: [string, string][] = [];
        const walk = (dir: string) => {
            for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
                const rel = `${dir}/${e.name}`;
                if (e.isDirectory()) walk(rel);
                else if (rel.endsWith(".ts")) {
                    const sf = ts.createSourceFile(
                        rel,
                        fs.readFileSync(path.join(ROOT, rel), "utf8"),
                        ts.ScriptTarget.ES2022,
                    );
                    const specs: string[] = [];
                    const visit = (n: ts.Node) => {
                        if (
                            (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) &&
                            n.moduleSpecifier &&
                            ts.isStringLiteral(n.moduleSpecifier)
                        )
                            specs.push(n.moduleSpecifier.text);
                        if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference))
                            specs.push((n.moduleReference.expression as ts.StringLiteral).text);
                        if (
                            ts.isCallExpression(n) &&
                            n.expression.getText(sf) === "require" &&
                            ts.isStringLiteral(n.arguments[0])
                        )
                            specs.push(n.arguments[0].text);
                        if (
                            ts.isImportTypeNode(n) &&
                            ts.isLiteralTypeNode(n.argument) &&
                            ts.isStringLiteral(n.argument.literal)
                        )
                            specs.push(n.argument.literal.text);
                        ts.forEachChild(n, visit);
                    };
                    visit(sf);
                    for (const s of specs)
                        out.push([rel, s.startsWith(".") ? path.posix.normalize(path.posix.join(dir, s)) : s]);
                }
            }
        };
        for (const dir of ["components", "contract", "core", "provider"]) walk(dir);
        return out;
    }

    it("program-side code never imports the plugin; the contract imports neither side (core's types only); core never imports the engine", () => {
        const bad = imports().filter(([file, target]) => {
            if (file.startsWith("provider/")) return false;
            if (target.startsWith("provider/")) return true; // program, contract or core importing the plugin
            // The contract: type tokens, the resources' inputs and outputs (whose fields use core's domain types), the schema.
            if (file.startsWith("contract/")) return target.startsWith("components/") || target.startsWith("@pulumi/");
            if (file.startsWith("core/"))
                return (
                    target.startsWith("@pulumi/") || target.startsWith("components/") || target.startsWith("contract/")
                );
            return false;
        });
        assert.deepStrictEqual(bad, []);
        assert.ok(
            imports().some(([f, t]) => f.startsWith("provider/") && t.startsWith("core/")),
            "the plugin uses core",
        );
        assert.ok(
            imports().some(([f, t]) => f.startsWith("components/") && t.startsWith("contract/")),
            "the program side uses the contract",
        );
    });
});
