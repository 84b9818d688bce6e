// Generates the package schema (contract/schema.json) from the TypeScript
// sources, so the types users see in TypeScript and the schema other languages see cannot
// drift: components from their Args interfaces and public outputs, custom resources from
// the lifecycles' Inputs/Outputs interfaces; descriptions from JSDoc, defaults from the
// "Default `x`" the JSDoc states. `npm run schema` rewrites the file; a unit test checks it.
// Build-time only: it loads the TypeScript compiler, and nothing at run time imports it.
import * as path from "path";
import * as ts from "typescript";

import { COMPONENT_TYPES, PACKAGE, type RESOURCE_TYPES, SECRET_OUTPUTS, VERSION } from "../contract/tokens";

type Spec = Record<string, any>;

/** Where each schema resource comes from: the Args (or Inputs) and the outputs. */
const COMPONENTS: Record<keyof typeof COMPONENT_TYPES, { args: string; file: string }> = {
    BinfmtSetup: { args: "BinfmtSetupArgs", file: "components/binfmtSetup.ts" },
    BuildxBuilder: { args: "BuildxBuilderArgs", file: "components/buildxBuilder.ts" },
    MultiArchImage: { args: "MultiArchImageArgs", file: "components/multiArchImage.ts" },
    ImagePromotion: { args: "ImagePromotionArgs", file: "components/imagePromotion.ts" },
    Index: { args: "IndexArgs", file: "components/imageIndex.ts" },
};
const RESOURCES: Record<
    keyof typeof RESOURCE_TYPES,
    { inputs: string; outputs: string; file: string; description: string }
> = {
    BinfmtHandlers: {
        inputs: "BinfmtInputs",
        outputs: "BinfmtOutputs",
        file: "contract/types.ts",
        description:
            "The QEMU binfmt_misc handlers of one builder host, as the kernel reports them. Used by BinfmtSetup.",
    },
    Builder: {
        inputs: "BuilderInputs",
        outputs: "BuilderOutputs",
        file: "contract/types.ts",
        description: "One docker buildx builder with its nodes, created and bootstrapped. Used by BuildxBuilder.",
    },
    Image: {
        inputs: "ImageInputs",
        outputs: "ImageOutputs",
        file: "contract/types.ts",
        description: "One multi-platform image: built, verified, pushed by digest, tags moved. Used by MultiArchImage.",
    },
    ImageCopy: {
        inputs: "ImageCopyInputs",
        outputs: "ImageCopyOutputs",
        file: "contract/types.ts",
        description:
            "One image copied by digest to tags in other repositories and registries, its verification record checked and carried along. Used by ImagePromotion.",
    },
    IndexManifest: {
        inputs: "IndexManifestInputs",
        outputs: "IndexManifestOutputs",
        file: "contract/types.ts",
        description:
            "An index over images pushed elsewhere, one per platform, each checked against its config and verified, then tagged. Used by Index.",
    },
};
/** Secret inputs of the components (Pulumi secrets in every language). */
const SECRET_INPUTS: Record<string, string[]> = {
    SshHostArgs: ["privateKey"],
    TlsArgs: ["key"],
    RegistryArgs: ["password"],
    RegistryLoginArgs: ["password"],
    MultiArchImageArgs: ["secrets"],
    CacheFromS3Args: ["secretAccessKey", "sessionToken"],
    CacheToS3Args: ["secretAccessKey", "sessionToken"],
    CacheFromGitHubActionsArgs: ["token"],
    CacheToGitHubActionsArgs: ["token"],
    CacheFromAzureBlobArgs: ["secretAccessKey"],
    CacheToAzureBlobArgs: ["secretAccessKey"],
};

const token = (name: string) => `${PACKAGE}:index:${name}`;

export function generateSchema(root: string): Spec {
    const files = [...Object.values(COMPONENTS).map((c) => c.file), ...Object.values(RESOURCES).map((r) => r.file)].map(
        (f) => path.join(root, f),
    );
    const program = ts.createProgram(files, { strict: true, resolveJsonModule: true, esModuleInterop: true });
    const checker = program.getTypeChecker();
    const types: Record<string, Spec> = {};
    const problems: string[] = [];

    const doc = (sym: ts.Symbol) => ts.displayPartsToString(sym.getDocumentationComment(checker)).trim();

    function declOf(file: string, name: string): ts.InterfaceDeclaration | ts.ClassDeclaration {
        const sf = program.getSourceFile(path.join(root, file));
        const d = sf?.statements.find(
            (s): s is ts.InterfaceDeclaration | ts.ClassDeclaration =>
                (ts.isInterfaceDeclaration(s) || ts.isClassDeclaration(s)) && s.name?.text === name,
        );
        if (!d) throw new Error(`${file} declares no ${name}`);
        return d;
    }

    /** The members of T that a plain value can have: no Input/Output/Promise wrappers, undefined or null. */
    function plainMembers(t: ts.Type): ts.Type[] {
        const name = checker.typeToString(t);
        if (/^(Output|OutputInstance|Promise)</.test(name)) {
            // Output<T> is an alias (an intersection), Promise<T> and OutputInstance<T> references.
            const arg = t.aliasSymbol ? t.aliasTypeArguments?.[0] : checker.getTypeArguments(t as ts.TypeReference)[0];
            return arg ? plainMembers(arg) : [];
        }
        if (t.isUnion()) {
            const wrapped = t.types.some((x) => /^(Output|OutputInstance|Promise)</.test(checker.typeToString(x)));
            const parts = t.types.filter((x) => !(x.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
            // Input<T> = T | Promise<T> | OutputInstance<T>: the plain members are T's.
            return wrapped
                ? parts
                      .filter((x) => !/^(Output|OutputInstance|Promise)</.test(checker.typeToString(x)))
                      .flatMap(plainMembers)
                : parts;
        }
        return [t];
    }

    /** A class or interface with a name of its own (not an inline type literal). */
    function named(t: ts.Type): boolean {
        const sym = t.aliasSymbol ?? t.getSymbol();
        return !!sym && !!(sym.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) && sym.getName() !== "__type";
    }

    function typeSpec(t0: ts.Type, where: string): Spec {
        const members = plainMembers(t0);
        const all = (flags: ts.TypeFlags) => members.length > 0 && members.every((x) => x.flags & flags);
        if (all(ts.TypeFlags.String | ts.TypeFlags.StringLiteral)) return { type: "string" };
        if (all(ts.TypeFlags.Number | ts.TypeFlags.NumberLiteral)) return { type: "number" };
        if (all(ts.TypeFlags.Boolean | ts.TypeFlags.BooleanLiteral)) return { type: "boolean" };
        // Primitives of several kinds (`provenance: boolean | string`, `shmSize: string | number`).
        const primitive = (x: ts.Type) =>
            x.flags & (ts.TypeFlags.String | ts.TypeFlags.StringLiteral)
                ? "string"
                : x.flags & (ts.TypeFlags.Number | ts.TypeFlags.NumberLiteral)
                  ? "number"
                  : x.flags & (ts.TypeFlags.Boolean | ts.TypeFlags.BooleanLiteral)
                    ? "boolean"
                    : undefined;
        if (members.length > 1 && members.every(primitive)) {
            return { oneOf: [...new Set(members.map(primitive))].sort().map((type) => ({ type })) };
        }
        // A string or one object shape (`context: string | BuildContextArgs`): a union, as docker-build's inputs read.
        const strings = members.filter((x) => x.flags & (ts.TypeFlags.String | ts.TypeFlags.StringLiteral));
        const objects = members.filter((x) => !(x.flags & (ts.TypeFlags.String | ts.TypeFlags.StringLiteral)));
        if (strings.length && objects.length === 1 && objects[0].getSymbol()?.flags! & ts.SymbolFlags.Interface) {
            return { oneOf: [{ type: "string" }, typeSpec(objects[0], where)] };
        }
        if (members.length > 1 && members.every(named)) {
            // A component or a named shape (builder: a BuildxBuilder or a builder by name).
            return { oneOf: members.map((m, i) => typeSpec(m, `${where}|${i}`)) };
        }
        if (members.length !== 1) return { $ref: "pulumi.json#/Any" }; // a union of unnamed object shapes (e.g. a host spec)
        const t = members[0];
        if (t.flags & (ts.TypeFlags.NonPrimitive | ts.TypeFlags.Any | ts.TypeFlags.Unknown))
            return { $ref: "pulumi.json#/Any" };
        if (checker.isArrayType(t))
            return { type: "array", items: typeSpec(checker.getTypeArguments(t as ts.TypeReference)[0], `${where}[]`) };
        const index = checker.getIndexInfoOfType(t, ts.IndexKind.String);
        if (index && t.getProperties().length === 0)
            return { type: "object", additionalProperties: typeSpec(index.type, `${where}{}`) };
        const sym = t.aliasSymbol ?? t.getSymbol();
        const name = sym?.getName() ?? "";
        if (sym && sym.flags & ts.SymbolFlags.Class) {
            const component = Object.keys(COMPONENT_TYPES).find((c) => c === name);
            if (!component) problems.push(`${where}: class ${name} is not a component of this package`);
            return { $ref: `#/resources/${token(name)}` };
        }
        if (sym && sym.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeLiteral) && name !== "__type") {
            const typeName = name.replace(/Args$/, "");
            if (!types[token(typeName)]) {
                types[token(typeName)] = {}; // placeholder against cycles
                const decl = sym.declarations?.[0];
                types[token(typeName)] = {
                    type: "object",
                    ...(decl && doc(sym) ? { description: doc(sym) } : {}),
                    ...objectSpec(t, typeName, SECRET_INPUTS[name] ?? []),
                };
            }
            return { $ref: `#/types/${token(typeName)}` };
        }
        problems.push(`${where}: cannot express ${checker.typeToString(t)} in the schema`);
        return { $ref: "pulumi.json#/Any" };
    }

    /** Properties and required names of an object type, each with its JSDoc and default. */
    function objectSpec(t: ts.Type, where: string, secrets: readonly string[], only?: (p: ts.Symbol) => boolean) {
        const properties: Record<string, Spec> = {};
        const required: string[] = [];
        for (const p of checker.getPropertiesOfType(t)) {
            if (only && !only(p)) continue;
            const decl = p.valueDeclaration ?? p.declarations?.[0];
            if (!decl) continue;
            const description = doc(p);
            if (!description) problems.push(`${where}.${p.name}: no JSDoc`);
            const spec: Spec = {
                ...typeSpec(checker.getTypeOfSymbolAtLocation(p, decl), `${where}.${p.name}`),
                ...(description ? { description } : {}),
            };
            const def = /\bDefault `([^`]*)`/.exec(description)?.[1];
            if (def !== undefined && ["string", "number", "boolean"].includes(spec.type)) {
                try {
                    spec.default = JSON.parse(def);
                } catch {
                    /* not a literal (e.g. `<context>/Dockerfile`) */
                }
            }
            if (secrets.includes(p.name)) spec.secret = true;
            properties[p.name] = spec;
            if (!(p.flags & ts.SymbolFlags.Optional)) required.push(p.name);
        }
        // An object without properties has none in the schema the engine serves back (it drops `{}`).
        return { ...(Object.keys(properties).length ? { properties } : {}), ...(required.length ? { required } : {}) };
    }

    const resources: Record<string, Spec> = {};
    for (const [name, c] of Object.entries(COMPONENTS)) {
        const args = declOf(c.file, c.args);
        const cls = declOf(c.file, name) as ts.ClassDeclaration;
        const clsSym = checker.getSymbolAtLocation(cls.name!)!;
        const inputs = objectSpec(checker.getTypeAtLocation(args), c.args, SECRET_INPUTS[c.args] ?? []);
        // Outputs: the class's public Output fields.
        const outputs = objectSpec(checker.getTypeAtLocation(cls), name, [], (p) => {
            const d = p.valueDeclaration;
            return (
                !!d &&
                ts.isPropertyDeclaration(d) &&
                d.parent === cls &&
                !(ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) &&
                /^Output</.test(checker.typeToString(checker.getTypeOfSymbolAtLocation(p, d)))
            );
        });
        resources[token(name)] = {
            isComponent: true,
            description: doc(clsSym),
            inputProperties: inputs.properties,
            ...(inputs.required ? { requiredInputs: inputs.required } : {}),
            properties: outputs.properties,
            required: Object.keys(outputs.properties ?? {}),
        };
    }
    for (const [name, r] of Object.entries(RESOURCES)) {
        const type = token(name) as keyof typeof SECRET_OUTPUTS;
        const inputs = objectSpec(checker.getTypeAtLocation(declOf(r.file, r.inputs)), r.inputs, SECRET_OUTPUTS[type]);
        const outputs = objectSpec(
            checker.getTypeAtLocation(declOf(r.file, r.outputs)),
            r.outputs,
            SECRET_OUTPUTS[type],
        );
        resources[type] = {
            description: r.description,
            inputProperties: inputs.properties,
            ...(inputs.required ? { requiredInputs: inputs.required } : {}),
            properties: outputs.properties,
            ...(outputs.required ? { required: outputs.required } : {}),
        };
    }
    if (problems.length) throw new Error(`the schema cannot be generated:\n  ${problems.join("\n  ")}`);
    const sorted = (o: Record<string, Spec>) =>
        Object.fromEntries(
            Object.keys(o)
                .sort()
                .map((k) => [k, o[k]]),
        );
    return {
        name: PACKAGE,
        displayName: "pulumi-multiarch",
        version: VERSION,
        description:
            "Multi-architecture container builds as infrastructure: QEMU emulators (binfmt_misc), buildx builders and multi-platform images.",
        keywords: ["pulumi", "docker", "buildx", "multi-arch", "qemu", "category/utility", "kind/component"],
        license: "Apache-2.0",
        publisher: "pulumi-multiarch",
        language: {
            nodejs: { packageName: "pulumi-multiarch", dependencies: { "@pulumi/pulumi": "3.248.0" } },
            python: {
                packageName: "pulumi_multiarch",
                respectSchemaVersion: true,
                requires: { pulumi: ">=3.0.0,<4.0.0" },
            },
        },
        config: {},
        resources: sorted(resources),
        types: sorted(types),
    };
}

if (require.main === module) {
    const root = path.resolve(__dirname, "..");
    const out = path.join(root, "contract/schema.json");
    require("fs").writeFileSync(out, `${JSON.stringify(generateSchema(root), null, 2)}\n`);
    console.log(`wrote ${path.relative(root, out)}`);
}
