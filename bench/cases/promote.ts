// Case 9 (issue 21): promotions. (a) A copy by digest of a two-platform image with one 600 MB
// layer per platform between two local registries (Debian's docker-registry, the bench's own,
// on loopback): the library (core/copy.ts in a fresh Node.js process, as a
// promotion's create runs it) against `crane copy` (go-containerregistry v0.22.1) and
// `skopeo copy --all` (Debian), each into an emptied target registry, the order rotating every
// round; wall time and peak RSS of each process. (b) A no-op `pulumi up` of a promotion stack
// against an empty program's `pulumi up`.
import { type ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

import { Registry } from "../../core/registry";
import { BENCH_CACHE, CACHE, REGISTRY } from "../lib/fixtures";
import { parseChanges } from "../lib/parse";
import { type CaseResult, plainRow, ratioRow } from "../lib/report";
import { out, ROOT, say, type Timed, timed, WORK } from "../lib/sh";
import { BenchStack } from "../lib/stack";
import { fmtMiB, median } from "../lib/stats";
import { emptyStack } from "./noop";

export const CRANE_VERSION = "0.22.1";
const CRANE = path.join(CACHE, "tools", `crane-${CRANE_VERSION}`, "crane");
const LAYER_MB = 600;
const FIXTURE = path.join(BENCH_CACHE, "promote-v1");
const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export const promoteStack = () => new BenchStack("bench-promote", "dev", "bench/programs/promote/index.ts");
export const sdkStack = () => new BenchStack("bench-sdk", "dev", "bench/programs/sdk/index.ts");

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer().on("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address() as net.AddressInfo;
            s.close(() => resolve(port));
        });
    });
}

/** A docker-registry of the bench's own on loopback, its storage in `dir`. */
class OwnRegistry {
    private proc?: ChildProcess;
    addr = "";

    constructor(private readonly dir: string) {}

    async start(): Promise<this> {
        const port = await freePort();
        this.addr = `127.0.0.1:${port}`;
        fs.mkdirSync(this.dir, { recursive: true });
        const config = path.join(this.dir, "config.yml");
        fs.writeFileSync(
            config,
            [
                "version: 0.1",
                "log: { level: error, accesslog: { disabled: true } }",
                `storage: { filesystem: { rootdirectory: ${this.dir}/data }, delete: { enabled: true } }`,
                `http: { addr: ${this.addr} }`,
                "",
            ].join("\n"),
        );
        this.proc = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
        for (let i = 0; ; i++) {
            try {
                await new Registry(this.addr, {
                    timeoutMs: 1000,
                    retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
                }).ping();
                return this;
            } catch (e) {
                if (i > 100) throw new Error(`docker-registry did not answer on ${this.addr}: ${(e as Error).message}`);
                await new Promise((r) => setTimeout(r, 100));
            }
        }
    }

    async stop(): Promise<void> {
        if (!this.proc || this.proc.exitCode !== null) return;
        const exited = new Promise((r) => this.proc!.once("exit", r));
        this.proc.kill();
        await exited;
    }

    /** Stops it, empties its storage, starts it again (a new port). */
    async emptied(): Promise<this> {
        await this.stop();
        fs.rmSync(path.join(this.dir, "data"), { recursive: true, force: true });
        return this.start();
    }
}

/** A stream's sha256 and size, read once. */
async function digestOf(file: string): Promise<{ digest: string; size: number }> {
    const h = crypto.createHash("sha256");
    let size = 0;
    for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
        h.update(c);
        size += c.length;
    }
    return { digest: `sha256:${h.digest("hex")}`, size };
}

/**
 * The source image, made once into the source registry's storage (kept in the bench cache):
 * per platform a tar.gz layer of 600 MB of incompressible data (a gzip of random bytes is as
 * large as they are) and its config, an OCI manifest each, an OCI index over both.
 */
async function sourceImage(src: OwnRegistry): Promise<string> {
    const done = path.join(FIXTURE, "image.json");
    if (fs.existsSync(done)) return JSON.parse(fs.readFileSync(done, "utf8")).digest;
    say(`case 9: making the source image (2 x ${LAYER_MB} MB layers, once)`);
    const tmp = path.join(WORK, "promote-src");
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const r = new Registry(src.addr);
    const entries = [];
    for (const arch of ["amd64", "arm64"]) {
        const dir = path.join(tmp, arch);
        fs.mkdirSync(dir);
        await timed("bash", [
            "-c",
            `head -c ${LAYER_MB}M /dev/urandom > ${dir}/data && tar -C ${dir} -cf ${tmp}/${arch}.tar data && rm ${dir}/data && gzip -1 ${tmp}/${arch}.tar`,
        ]);
        const layer = await digestOf(`${tmp}/${arch}.tar.gz`);
        await r.putBlob("bench/src", layer, async () =>
            fs.createReadStream(`${tmp}/${arch}.tar.gz`, { highWaterMark: 1 << 20 }),
        );
        const diffId = out("bash", ["-c", `gzip -dc ${tmp}/${arch}.tar.gz | sha256sum`]).split(" ")[0];
        const config = Buffer.from(
            JSON.stringify({
                architecture: arch,
                os: "linux",
                rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
                config: {},
            }),
        );
        const configDesc = {
            digest: `sha256:${crypto.createHash("sha256").update(config).digest("hex")}`,
            size: config.length,
        };
        await r.putBlob("bench/src", configDesc, async () => (await import("stream")).Readable.from([config]));
        const manifest = Buffer.from(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: MANIFEST,
                config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configDesc },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
            }),
        );
        const digest = `sha256:${crypto.createHash("sha256").update(manifest).digest("hex")}`;
        await r.putManifest("bench/src", digest, manifest, MANIFEST);
        entries.push({
            mediaType: MANIFEST,
            digest,
            size: manifest.length,
            platform: { architecture: arch, os: "linux" },
        });
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: entries }));
    const digest = `sha256:${crypto.createHash("sha256").update(index).digest("hex")}`;
    await r.putManifest("bench/src", "1", index, INDEX);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.writeFileSync(done, JSON.stringify({ digest, at: new Date().toISOString() }));
    return digest;
}

/** The 1-minute load average now (/proc/loadavg). */
const load = () => Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

interface Copy {
    seconds: number;
    peakKiB: number;
    load: number;
}

export async function promoteCase(runs: number): Promise<CaseResult> {
    const t0 = Date.now();
    if (!fs.existsSync(CRANE)) throw new Error(`${CRANE} is missing: run bash bench/fixtures.sh crane`);
    const src = await new OwnRegistry(path.join(FIXTURE, "registry")).start();
    const dst = new OwnRegistry(path.join(WORK, "promote-dst"));
    const results: Record<"ours" | "crane" | "skopeo", Copy[]> = { ours: [], crane: [], skopeo: [] };
    const oursRss: number[] = [];
    try {
        const digest = await sourceImage(src);
        const source = `${src.addr}/bench/src@${digest}`;
        const tools: Record<keyof typeof results, (target: string) => [string, string[]]> = {
            ours: (t) => [process.execPath, [path.join(ROOT, "bench/copy-once.js"), source, t]],
            crane: (t) => [CRANE, ["copy", "--insecure", source, t]],
            skopeo: (t) => [
                "skopeo",
                [
                    "copy",
                    "--all",
                    "--src-tls-verify=false",
                    "--dest-tls-verify=false",
                    `docker://${source}`,
                    `docker://${t}`,
                ],
            ],
        };
        const names = Object.keys(tools) as (keyof typeof results)[];
        for (let i = 0; i < runs; i++) {
            say(`case 9: copy round ${i + 1}/${runs}`);
            const order = [...names.slice(i % names.length), ...names.slice(0, i % names.length)];
            for (const name of order) {
                await dst.emptied();
                const target = `${dst.addr}/bench/copied:1`;
                const [file, args] = tools[name](target);
                const before = load();
                const r: Timed = await timed(file, args, { sampleMemory: true });
                const at = await new Registry(dst.addr).getManifest("bench/copied", "1");
                if (at?.digest !== digest)
                    throw new Error(`${name} left ${at?.digest ?? "nothing"} at ${target}, not ${digest}`);
                results[name].push({ seconds: r.seconds, peakKiB: r.peakKiB!.all, load: before });
                if (name === "ours") oursRss.push(JSON.parse(r.stdout.trim().split("\n").pop()!).maxRssKiB);
            }
        }
    } finally {
        await dst.stop();
        await src.stop();
        fs.rmSync(path.join(WORK, "promote-dst"), { recursive: true, force: true });
    }

    // (b) The no-op up of a promotion stack, against the empty program's.
    const busybox = (await new Registry(REGISTRY).getManifest("fixtures/busybox", "latest"))!.digest;
    const stack = promoteStack();
    stack.init({
        "bench:source": `${REGISTRY}/fixtures/busybox@${busybox}`,
        "bench:tag": `${REGISTRY}/bench/promoted:1`,
    });
    const empty = emptyStack();
    empty.init({});
    const sdk = sdkStack();
    sdk.init({ "bench:tag": `${REGISTRY}/bench/promoted:1` });
    say("case 9: first up of the three stacks (not timed)");
    for (const s of [stack, empty, sdk]) await s.up();
    const noop: number[] = [],
        baseline: number[] = [],
        sdkOnly: number[] = [],
        loads: number[] = [];
    let changed = 0;
    const steps = [
        async () => {
            loads.push(load());
            const r = await stack.up();
            noop.push(r.seconds);
            changed += Object.entries(parseChanges(r.stdout))
                .filter(([k]) => k !== "unchanged")
                .reduce((a, [, n]) => a + n, 0);
        },
        async () => {
            baseline.push((await empty.up()).seconds);
        },
        async () => {
            sdkOnly.push((await sdk.up()).seconds);
        },
    ];
    for (let i = 0; i < runs; i++) {
        say(`case 9: no-op round ${i + 1}/${runs}`);
        for (const step of [...steps.slice(i % 3), ...steps.slice(0, i % 3)]) await step();
    }

    const secs = (xs: Copy[]) => xs.map((x) => x.seconds);
    const faster = results.crane.map((c, i) => Math.min(c.seconds, results.skopeo[i].seconds));
    const mib = (xs: Copy[]) => fmtMiB(median(xs.map((x) => x.peakKiB)));
    const copyLoads = [...results.ours, ...results.crane, ...results.skopeo].map((x) => x.load);
    const range = (xs: number[]) =>
        `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
    const mb = (2 * LAYER_MB * 1.048576).toFixed(0);
    return {
        id: "9",
        title: "Promotion: a copy by digest between registries, and a no-op up of a promotion stack",
        rows: [
            ratioRow(
                `copy of a two-platform image (one ${LAYER_MB} MB layer each, ${mb} MB in all) between two registries: the library vs the faster of crane and skopeo in the same round`,
                secs(results.ours),
                faster,
                { op: "<=", value: 1.1 },
            ),
            ratioRow("the same: the library vs `crane copy`", secs(results.ours), secs(results.crane)),
            ratioRow("the same: the library vs `skopeo copy --all`", secs(results.ours), secs(results.skopeo)),
            plainRow(
                "peak RSS of the copying process: the library / crane / skopeo",
                `${mib(results.ours)} / ${mib(results.crane)} / ${mib(results.skopeo)}`,
                "",
                "≤ 200 MiB (ours)",
                median(results.ours.map((x) => x.peakKiB)) <= 200 * 1024,
            ),
            ratioRow(
                "no-op `pulumi up` of a promotion stack (one ImagePromotion) vs `pulumi up` of an empty program",
                noop,
                baseline,
                { op: "<=", value: 1.2 },
            ),
            ratioRow(
                "the same promotion stack vs a program that imports @pulumi/pulumi, reads its config and declares nothing",
                noop,
                sdkOnly,
            ),
            ratioRow("that program vs the empty program: what importing the SDK costs", sdkOnly, baseline),
            plainRow("resources changed by the no-op ups", `${changed}`, "", "0", changed === 0),
        ],
        notes: [
            `The machine is shared: its 1-minute load average when each copy started was ${range(copyLoads)}, and ${range(loads)} at each no-op up (2 cores), so the copies ran beside other jobs' builds and tests. Subject and baselines alternate within every round, so each ratio compares runs that met the same load.`,
            `The image: per platform an OCI manifest, a config and one tar.gz layer of ${LAYER_MB} MiB of random data (incompressible, so the layer is that large), under an OCI index; made once into the source registry's storage in the bench cache. Registries: Debian's docker-registry ${out("bash", ["-c", "docker-registry --version | head -1"]).split(" ").slice(1).join(" ")}, two of the bench's own on loopback (plain HTTP), the target emptied and restarted before every copy (not timed). Each copy is checked: the target's tag names the source's index digest.`,
            `Commands: the library is \`node bench/copy-once.js <source>@<digest> <target>:1\` (the compiled package: read the source, HEAD what the target has, copy blobs 4 at a time, GET streamed into a PATCH upload, never buffered; put the manifests, move the tag); \`crane copy --insecure <source>@<digest> <target>:1\` (crane ${CRANE_VERSION}, built from the Go module proxy, scripts/go/crane); \`skopeo copy --all --src-tls-verify=false --dest-tls-verify=false docker://... docker://...\` (${out("skopeo", ["--version"])}, Debian).`,
            `Peak RSS: the sum of VmRSS over the process tree, sampled every 100 ms from /proc; the library's own ru_maxrss, for comparison: ${fmtMiB(median(oursRss))} (median). The layers pass through the library in 64 KiB chunks with backpressure, so its memory does not grow with the layer: tests/e2e/promotion.test.ts copies a 2 GiB layer under 200 MiB.`,
            `No-op ups: \`pulumi up --yes\` (preview, then update, type check on, as users run it) of bench/programs/promote (one ImagePromotion of the fixtures' busybox within ${REGISTRY}, importing the compiled package and @pulumi/pulumi for its Config), of bench/programs/empty (\`export {}\`) and of bench/programs/sdk (imports @pulumi/pulumi, reads one config value), through the CLI, the order rotating. A no-op promotion asks no registry anything: check compares the inputs with the state, diff finds nothing to do; what it adds is the plugin's start (case 8) and one check and diff, per preview and per update. The empty program imports nothing, not even the SDK: loading @pulumi/pulumi's index (about 0.35 s, which pulls in the automation API) and type-checking its declarations is most of the gap, as the last two rows show.`,
        ],
        seconds: (Date.now() - t0) / 1000,
        versions: [
            `pulumi-multiarch ${JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version} (commit ${out("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"])})`,
            `Node.js ${process.version}, ${out("pulumi", ["version"]).replace(/^v/, "pulumi CLI ")}`,
            `crane ${CRANE_VERSION}`,
            out("skopeo", ["--version"]),
            `docker-registry ${out("bash", ["-c", "docker-registry --version | head -1"]).split(" ").slice(1).join(" ")}`,
        ],
    };
}
