// Lifecycle of a buildx builder, one node or many, served by the plugin as
// multiarch:index:Builder: builders get removed by hand or collide between pipelines, and
// refresh must see that.
import * as fs from "fs";
import * as path from "path";

import type { BuilderInputs, BuilderOutputs } from "../../contract/types";
import * as binfmt from "../../core/binfmt";
import * as buildx from "../../core/buildx";
import { configDir } from "../../core/dockerConfig";
import * as exec from "../../core/exec";
import * as hostlib from "../../core/host";
import * as nodeProbe from "../../core/nodeProbe";
import * as platform from "../../core/platform";
import type { Lifecycle } from "../lifecycle";

/** Where TLS files of a builder's nodes live while it exists. */
function tlsDir(builder: string): string {
    return path.join(configDir(), "buildx", "pulumi-multiarch-tls", builder);
}

/** Who is creating builder `name` (see BuilderInputs.owner); removed with the builder. */
function ownerFile(builder: string): string {
    return path.join(configDir(), "buildx", "pulumi-multiarch-owners", builder);
}

/** Writes TLS material as files and returns the nodes with cacert/cert/key driver options. */
function withTlsFiles(inputs: BuilderInputs): buildx.NodeOptions[] {
    return inputs.nodes.map((n) => {
        const material = inputs.tls?.[n.name];
        if (!material) return n;
        const dir = path.join(tlsDir(inputs.name), n.name);
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const opts = { ...n.driverOpts };
        for (const k of ["cacert", "cert", "key"] as const) {
            if (!material[k]) continue;
            const file = path.join(dir, `${k}.pem`);
            fs.writeFileSync(file, material[k], { mode: 0o600 });
            opts[k] = file;
        }
        return { ...n, driverOpts: opts };
    });
}

async function observe(
    inputs: BuilderInputs,
    bootstrap: boolean,
    managed: boolean,
): Promise<BuilderOutputs | undefined> {
    const b = bootstrap ? await buildx.bootstrap(inputs.name) : await buildx.find(inputs.name);
    if (!b) return undefined;
    return { ...inputs, reported: b.nodes, reportedPlatforms: buildx.builderPlatforms(b), managed };
}

/** Node name -> declared platforms the node does not report after bootstrap. */
function unbuildable(outs: BuilderOutputs): string[] {
    const problems: string[] = [];
    for (const n of outs.nodes) {
        const got = outs.reported.find((r) => r.name === n.name)?.platforms ?? [];
        for (const p of n.platforms)
            if (!got.includes(p)) problems.push(`${p} (node ${n.name} reports ${got.join(", ") || "nothing"})`);
    }
    return problems;
}

function describeNodes(nodes: buildx.NodeOptions[]): string {
    return nodes
        .map(
            (n) =>
                `${n.name}${n.endpoint ? ` at ${n.endpoint}` : ""}${n.platforms.length ? ` [${n.platforms.join(", ")}]` : ""}`,
        )
        .join("; ");
}

/** Property paths of node `i`'s endpoint and TLS, as the user wrote them. */
function nodeProps(i: number): nodeProbe.NodeProps {
    return i === 0
        ? { endpoint: "endpoint", tls: "tls" }
        : { endpoint: `nodes[${i - 1}].endpoint`, tls: `nodes[${i - 1}].tls` };
}

/** Refusals of the remote driver's tcp:// nodes (TLS material, then one connection each), in node order. */
async function remoteRefusals(inputs: BuilderInputs): Promise<string[]> {
    if (inputs.driver !== "remote") return [];
    const known = (v: unknown) => v === undefined || typeof v === "string";
    const refusals = await Promise.all(
        inputs.nodes.map((n, i) => {
            const tls = inputs.tls?.[n.name];
            // Unknown at preview (computed from another resource's output): checked at up.
            if (!n.endpoint?.startsWith("tcp://") || (tls && !Object.values(tls).every(known))) return undefined;
            return nodeProbe.checkNode(
                { name: n.name, endpoint: n.endpoint, tls, servername: n.driverOpts?.servername },
                nodeProps(i),
            );
        }),
    );
    return refusals.filter((r): r is string => r !== undefined);
}

/** Inputs whose change means a new builder: buildx cannot change them in place. */
const IDENTITY: (keyof BuilderInputs)[] = [
    "name",
    "driver",
    "nodes",
    "tls",
    "buildkitdFlags",
    "buildkitdConfig",
    "emulated",
];

export const builderProvider: Lifecycle = {
    // Checks at preview: buildx present and new enough, endpoints that exist, and declared
    // platforms this host can build (natively or through its emulators).
    async check(_olds: BuilderInputs, news: BuilderInputs) {
        const failures: { property: string; reason: string }[] = [];
        let have: string | undefined;
        try {
            have = await buildx.version();
        } catch (e) {
            failures.push({
                property: "driver",
                reason: `docker buildx is not available (${(e as Error).message.split("\n")[0]}): run \`npm run up\` (scripts/bootstrap) or install buildx >= ${buildx.MIN_VERSION} as a docker CLI plugin`,
            });
        }
        if (have && !buildx.versionAtLeast(have, buildx.MIN_VERSION)) {
            failures.push({
                property: "driver",
                reason: `docker buildx ${have} is older than ${buildx.MIN_VERSION}: upgrade the docker-buildx plugin (scripts/bootstrap installs ${buildx.MIN_VERSION} or newer)`,
            });
        }
        if (!Array.isArray(news.nodes)) return { inputs: news, failures };
        if (news.driver === "docker-container" && news.nodes.some((n) => n.platforms.length)) {
            const local = hostlib.connect({ kind: "local" });
            const facts = await binfmt.gatherFacts(local, binfmt.DEBIAN_BINFMTS_DIR, []);
            const handlers = await binfmt.readHandlers(local);
            const native = binfmt.nativePlatforms(facts.machine);
            const emulatedNow = Object.keys(platform.ARCHITECTURES)
                .map((a) => platform.normalizePlatform(`linux/${a}`))
                .filter((p) => handlers[binfmt.handlerName(p)]?.enabled && !native.includes(p));
            const requested = Array.isArray(news.emulated) ? news.emulated : [];
            const can = (p: string) =>
                native.includes(p) || requested.includes(p) || emulatedNow.includes(platform.normalizePlatform(p));
            news.nodes.forEach((n, i) => {
                for (const p of n.platforms.filter((x) => !can(x))) {
                    const emulates = [...new Set([...requested.filter((x) => !native.includes(x)), ...emulatedNow])];
                    failures.push({
                        property: "nodes",
                        reason: `${i === 0 ? "platforms" : `nodes[${i - 1}].platforms`}: no node can build ${p}: node ${n.name} runs ${native.join(", ")} natively and emulates ${emulates.join(", ") || "nothing"} (nodes: ${describeNodes(news.nodes)}); add a BinfmtSetup for ${p} (binfmt arg) or a native node for it`,
                    });
                }
            });
        }
        news.nodes.forEach((n, i) => {
            const prop = nodeProps(i).endpoint;
            if (
                news.driver === "remote" &&
                n.endpoint?.startsWith("unix://") &&
                !fs.existsSync(n.endpoint.slice("unix://".length))
            ) {
                failures.push({
                    property: "nodes",
                    reason: `${prop}: ${n.endpoint} does not exist: start buildkitd with --addr ${n.endpoint}, or fix the path`,
                });
            }
        });
        // A node that is down, a CA that did not sign its certificate, a client certificate it refuses.
        for (const reason of await remoteRefusals(news)) failures.push({ property: "", reason });
        return { inputs: news, failures };
    },

    async create(inputs: BuilderInputs) {
        const existing = await buildx.find(inputs.name);
        if (inputs.driver === "docker") {
            // The engine's own builder: used as it is, never created or removed.
            if (!existing)
                throw new Error(
                    `no builder "${inputs.name}" for the docker driver: name a docker context (\`docker context ls\`), usually "default"`,
                );
            return { id: inputs.name, outs: (await observe(inputs, false, false))! };
        }
        const cleanup = async () => {
            await buildx.remove(inputs.name, false);
            fs.rmSync(tlsDir(inputs.name), { recursive: true, force: true });
            fs.rmSync(ownerFile(inputs.name), { force: true });
        };
        if (existing) {
            // Left by this very resource's create when `pulumi up` was killed (the engine then
            // drops the pending create): remove it and create it anew. Anyone else's: refuse.
            const owner = fs.existsSync(ownerFile(inputs.name))
                ? fs.readFileSync(ownerFile(inputs.name), "utf8")
                : undefined;
            if (!inputs.owner || owner !== inputs.owner) {
                throw new Error(
                    `a buildx builder named "${inputs.name}" already exists and is not managed by this stack: choose another name, or remove it with \`docker buildx rm ${inputs.name}\``,
                );
            }
            await cleanup();
        }
        try {
            if (inputs.owner) {
                fs.mkdirSync(path.dirname(ownerFile(inputs.name)), { recursive: true });
                fs.writeFileSync(ownerFile(inputs.name), inputs.owner);
            }
            await buildx.create({ ...inputs, nodes: withTlsFiles(inputs) });
            const outs = await observe(inputs, inputs.bootstrap, true);
            if (!outs) throw new Error(`buildx created ${inputs.name} but does not list it`);
            const missing = inputs.bootstrap ? unbuildable(outs) : [];
            if (missing.length) {
                throw new Error(
                    `no node of builder ${inputs.name} can build ${missing.join("; ")}: register emulators (BinfmtSetup) or add a node for those platforms (nodes: ${describeNodes(inputs.nodes)})`,
                );
            }
            return { id: inputs.name, outs };
        } catch (e) {
            // Cancelled (Ctrl-C): no new process starts; the next up takes over what this
            // create left, as its owner file says it is this resource's.
            if (exec.stopReason()) throw e;
            await cleanup(); // leave nothing half-created
            const msg = (e as Error).message;
            // A node that went down (or changed its certificates) since preview: say which and how to fix it.
            const refusals = await remoteRefusals(inputs);
            if (refusals.length) throw new Error(`${refusals.join("\n")}\n(buildx: ${msg.split("\n").pop()})`);
            if (
                inputs.driver === "kubernetes" &&
                /Kubernetes namespace|no configuration has been provided|KUBERNETES_MASTER|kubeconfig|connection refused/i.test(
                    msg,
                )
            ) {
                throw new Error(
                    `the kubernetes driver found no cluster: ${msg.split("\n").pop()}; point KUBECONFIG (or ~/.kube/config) at a cluster you can reach`,
                );
            }
            throw e;
        }
    },

    async read(id: string, props: BuilderOutputs) {
        const outs = await observe(props, false, props.managed ?? true);
        return outs ? { id, props: outs } : { id: "", props: {} };
    },

    async diff(_id: string, olds: BuilderOutputs, news: BuilderInputs) {
        const replaces = IDENTITY.filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
        const updates = (["bootstrap", "keepState"] as const).filter((k) => olds[k] !== news[k]);
        return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: true };
    },

    async update(_id: string, olds: BuilderOutputs, news: BuilderInputs) {
        const outs = await observe(news, news.bootstrap, olds.managed ?? true);
        if (!outs)
            throw new Error(`builder ${news.name} is gone: run \`pulumi refresh\` then \`pulumi up\` to recreate it`);
        return { outs };
    },

    async delete(_id: string, props: BuilderOutputs) {
        if (props.managed === false) return;
        await buildx.remove(props.name, props.keepState);
        fs.rmSync(tlsDir(props.name), { recursive: true, force: true });
        fs.rmSync(ownerFile(props.name), { force: true });
    },
};
