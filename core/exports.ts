// Outputs of a build besides the push: the `--output` value of each export (oci and docker
// tarballs or layouts, local folders, tar, cacheonly) and, once written, what it holds: the
// image digest inside an OCI/docker export and a content digest of the file or folder, which
// refresh computes again to notice an export deleted or changed out of band. Pure but for
// the reads of what the export wrote.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

import { tarEntries } from "./tar";

/** A buildx exporter the library writes to disk or to the engine (pushes go through `tags`). */
export type ExportType = "oci" | "docker" | "local" | "tar" | "cacheonly";

/** One `exports` entry, normalized: what `--output` gets besides the push. */
export interface ExportSpec {
    /** The exporter. */
    type: ExportType;
    /** Where it writes, as the program gave it (relative to the program). */
    dest?: string;
    /** oci and docker: one tarball (true) or an OCI layout folder (false). */
    tar?: boolean;
    /** oci and docker: image names recorded in the export (`name=`). */
    names?: string[];
    /** oci and docker: OCI media types (`oci-mediatypes=`). */
    ociMediaTypes?: boolean;
    /** oci and docker: layer compression (`compression=`: gzip, estargz, zstd, uncompressed). */
    compression?: string;
    /** oci and docker: compression level, 0-22 (`compression-level=`). */
    compressionLevel?: number;
    /** oci and docker: recompress layers already compressed otherwise (`force-compression=`). */
    forceCompression?: boolean;
    /** oci and docker: annotations of the exported image (`annotation.<key>=`). */
    annotations?: Record<string, string>;
}

/** What an export wrote, recorded after the build and read again by refresh. */
export interface ExportResult {
    /** The exporter. */
    type: ExportType;
    /** The file or folder written, as the program gave it. */
    dest?: string;
    /** oci and docker: the digest of the image inside (its index, or its one manifest). */
    digest?: string;
    /** sha256 of the tarball, or of the folder's paths, modes and contents: what refresh compares. */
    contentDigest?: string;
}

/** One CSV field as buildx parses `--output` (encoding/csv): quoted when it holds a comma or a quote. */
export function csvField(field: string): string {
    return /[",\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** The `--output` value of an export. Pure. */
export function outputArg(e: ExportSpec): string {
    const fields = [`type=${e.type}`];
    if (e.dest !== undefined) fields.push(`dest=${e.dest}`);
    if (e.type === "oci" || e.type === "docker") {
        if (e.tar === false) fields.push("tar=false");
        if (e.names?.length) fields.push(`name=${e.names.join(",")}`);
        if (e.ociMediaTypes !== undefined) fields.push(`oci-mediatypes=${e.ociMediaTypes}`);
        if (e.compression) fields.push(`compression=${e.compression}`);
        if (e.compressionLevel !== undefined) fields.push(`compression-level=${e.compressionLevel}`);
        if (e.forceCompression !== undefined) fields.push(`force-compression=${e.forceCompression}`);
        for (const [k, v] of Object.entries(e.annotations ?? {}).sort()) fields.push(`annotation.${k}=${v}`);
    }
    return fields.map(csvField).join(",");
}

/** Splits a CSV line as buildx does (encoding/csv: quotes, doubled quotes). */
export function csvFields(line: string): string[] {
    const out: string[] = [];
    let cur = "",
        quoted = false,
        i = 0;
    for (; i < line.length; i++) {
        const c = line[i];
        if (quoted) {
            if (c === '"' && line[i + 1] === '"') {
                cur += '"';
                i++;
            } else if (c === '"') quoted = false;
            else cur += c;
        } else if (c === '"' && cur === "") quoted = true;
        else if (c === ",") {
            out.push(cur);
            cur = "";
        } else cur += c;
    }
    if (quoted) throw new Error(`unterminated quote in "${line}"`);
    out.push(cur);
    return out;
}

/**
 * A `raw` export (a build-push-action `outputs` line, `docker buildx build -o` value) as the
 * typed entry it means: `{ oci: { dest, tar } }`, `{ registry: { names } }`, and so on.
 * A bare path is a local folder, as buildx reads it. Throws naming what it cannot map.
 */
export function parseRawExport(raw: string): Record<string, Record<string, unknown>> {
    const fields = csvFields(raw.trim());
    if (fields.length === 1 && !fields[0].includes("=")) {
        if (fields[0] === "-") throw new Error(`"-" (stdout) is not a place the library can record: give dest=<file>`);
        return { local: { dest: fields[0] } };
    }
    const attrs: Record<string, string> = {};
    for (const f of fields) {
        const i = f.indexOf("=");
        if (i < 0) throw new Error(`"${f}" is not key=value`);
        attrs[f.slice(0, i).trim().toLowerCase()] = f.slice(i + 1);
    }
    const type = attrs.type;
    delete attrs.type;
    if (!type) throw new Error(`no type= in "${raw}"`);
    const bool = (k: string) => {
        if (!["true", "false"].includes(attrs[k])) throw new Error(`${k}=${attrs[k]} is not true or false`);
        return attrs[k] === "true";
    };
    const take = (known: Record<string, (v: string, k: string) => [string, unknown]>): Record<string, unknown> => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(attrs)) {
            const key = k.startsWith("annotation.") ? "annotation." : k;
            if (!known[key])
                throw new Error(
                    `${k}= is not an attribute of type=${type} the library maps (it knows ${Object.keys(known).join(", ")})`,
                );
            const [name, value] = known[key](v, k);
            out[name] = name === "annotations" ? { ...(out.annotations ?? {}), ...(value as object) } : value;
        }
        return out;
    };
    const image = {
        dest: (v: string) => ["dest", v] as [string, unknown],
        tar: () => ["tar", bool("tar")] as [string, unknown],
        name: (v: string) => ["names", v.split(",").filter(Boolean)] as [string, unknown],
        "oci-mediatypes": () => ["ociMediaTypes", bool("oci-mediatypes")] as [string, unknown],
        compression: (v: string) => ["compression", v] as [string, unknown],
        "compression-level": (v: string) => ["compressionLevel", Number(v)] as [string, unknown],
        "force-compression": () => ["forceCompression", bool("force-compression")] as [string, unknown],
        "annotation.": (v: string, k: string) =>
            ["annotations", { [k.slice("annotation.".length)]: v }] as [string, unknown],
    };
    switch (type) {
        case "oci":
        case "docker":
            return { [type]: take(image) };
        case "local":
        case "tar":
            return { [type]: take({ dest: (v) => ["dest", v] }) };
        case "cacheonly":
            return { cacheonly: take({}) };
        case "registry":
        case "image":
            return {
                [type]: take({
                    name: (v) => ["names", v.split(",").filter(Boolean)],
                    push: () => ["push", bool("push")],
                }),
            };
        default:
            throw new Error(
                `type=${type} is not an exporter the library knows: use oci, docker, local, tar, cacheonly, registry or image`,
            );
    }
}

async function sha256File(file: string): Promise<string> {
    const h = crypto.createHash("sha256");
    for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
    return `sha256:${h.digest("hex")}`;
}

/** sha256 over a folder's entries (sorted paths, types, permission bits, contents, link targets). */
async function sha256Tree(root: string): Promise<string> {
    const h = crypto.createHash("sha256");
    const walk = async (rel: string): Promise<void> => {
        const names = fs.readdirSync(path.join(root, rel)).sort();
        for (const n of names) {
            const r = rel ? `${rel}/${n}` : n;
            const st = fs.lstatSync(path.join(root, r));
            const mode = (st.mode & 0o7777).toString(8);
            if (st.isDirectory()) {
                h.update(`d ${r} ${mode}\n`);
                await walk(r);
            } else if (st.isSymbolicLink()) h.update(`l ${r} ${fs.readlinkSync(path.join(root, r))}\n`);
            else h.update(`f ${r} ${mode} ${await sha256File(path.join(root, r))}\n`);
        }
    };
    await walk("");
    return `sha256:${h.digest("hex")}`;
}

/** The image digest an OCI layout's index.json names: its one entry (an index or a manifest). */
function layoutDigest(indexJson: string): string | undefined {
    const entries = JSON.parse(indexJson).manifests ?? [];
    return entries.length === 1 ? entries[0].digest : undefined;
}

async function tarIndexJson(file: string): Promise<string | undefined> {
    for await (const e of tarEntries(fs.createReadStream(file, { highWaterMark: 1 << 20 }))) {
        if (e.header.name !== "index.json") continue;
        const chunks: Buffer[] = [];
        for await (const c of e.body()) chunks.push(c);
        return Buffer.concat(chunks).toString("utf8");
    }
    return undefined;
}

/** Where an export writes on this machine: its dest, relative to the program's folder (the plugin's cwd). */
export function exportPath(e: ExportSpec, cwd = process.cwd()): string | undefined {
    return e.dest === undefined ? undefined : path.resolve(cwd, e.dest);
}

/**
 * What the export holds now, or undefined when it is gone. Nothing to read for cacheonly
 * (and for a docker export without dest, which is the engine's load).
 */
export async function readExport(e: ExportSpec, cwd?: string): Promise<ExportResult | undefined> {
    const file = exportPath(e, cwd);
    const base: ExportResult = { type: e.type, ...(e.dest !== undefined ? { dest: e.dest } : {}) };
    if (!file) return base;
    if (!fs.existsSync(file)) return undefined;
    const isImage = e.type === "oci" || e.type === "docker";
    if (fs.statSync(file).isDirectory()) {
        const index = path.join(file, "index.json");
        const digest = isImage && fs.existsSync(index) ? layoutDigest(fs.readFileSync(index, "utf8")) : undefined;
        return { ...base, ...(digest ? { digest } : {}), contentDigest: await sha256Tree(file) };
    }
    const index = isImage ? await tarIndexJson(file).catch(() => undefined) : undefined;
    const digest = index ? layoutDigest(index) : undefined;
    return { ...base, ...(digest ? { digest } : {}), contentDigest: await sha256File(file) };
}
