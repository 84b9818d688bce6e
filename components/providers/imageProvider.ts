// Lifecycle of a multi-platform image in a registry. A dynamic provider: the rebuild
// decision is ours (content digest of the context, not timestamps), and `read` sees a tag
// that moved out of band.
import type * as pulumi from "@pulumi/pulumi";
import buildx = require("../core/buildx");
import registry = require("../core/registry");

export interface ImageInputs {
    /** Build context, as the program gave it (relative paths keep state machine-independent). */
    context: string;
    dockerfile: string;
    platforms: string[];
    tags: string[];
    push: boolean;
    builder: string;
    /** What the builder reports it can build; checked, never a rebuild trigger. */
    builderPlatforms?: string[];
    manifest: "index";
    buildArgs: Record<string, string>;
    target?: string;
    /** Content digest of context + Dockerfile; the rebuild trigger. */
    contextDigest: string;
    /** relative path -> content hash, to say which files changed. */
    contextFiles: Record<string, string>;
}

export interface ImageOutputs extends ImageInputs {
    digest: string;
    platformDigests: Record<string, string>;
    ref: string;
    /** Why the last build ran: "create", or the inputs that changed. */
    buildReason: string[];
}

/** Inputs that change what is built or where it goes: any change rebuilds. */
const REBUILD: (keyof ImageInputs)[] = ["contextDigest", "dockerfile", "platforms", "tags", "push", "builder", "manifest", "buildArgs", "target"];

function changedKeys(olds: Partial<ImageInputs>, news: ImageInputs): string[] {
    return REBUILD.filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
}

/** Requested platforms the builder cannot build, as failures naming them and its nodes. */
function unbuildable(inputs: ImageInputs): { property: string; reason: string }[] {
    if (!Array.isArray(inputs.builderPlatforms) || !Array.isArray(inputs.platforms)) return [];
    return inputs.platforms.filter((p) => !inputs.builderPlatforms!.includes(p)).map((p) => ({
        property: "platforms",
        reason: `builder ${inputs.builder} cannot build ${p}: its nodes build ${inputs.builderPlatforms!.join(", ")}; give the builder a BinfmtSetup for ${p} or a node that runs it natively`,
    }));
}

async function buildAndPush(inputs: ImageInputs, reason: string[]): Promise<ImageOutputs> {
    const refused = unbuildable(inputs);
    if (refused.length) throw new Error(refused.map((f) => `${f.property}: ${f.reason}`).join("\n"));
    const started = Date.now();
    let cached = 0;
    const meta = await buildx.build({
        ...inputs,
        onLine: (line) => {
            if (/\bCACHED\b/.test(line)) cached++;
            console.log(line); // streamed into Pulumi's output
        },
    });
    if (!meta.digest) throw new Error(`buildx reported no digest for ${inputs.tags.join(", ")}`);
    let platformDigests: Record<string, string> = {};
    if (inputs.push) {
        const index = await registry.getManifest(`${registry.repoOf(inputs.tags[0])}@${meta.digest}`);
        if (!index) throw new Error(`${inputs.tags[0]}@${meta.digest} is not in the registry after the push`);
        platformDigests = registry.platformDigests(index.body);
        const got = Object.keys(platformDigests).sort().join(", ");
        const want = [...inputs.platforms].sort().join(", ");
        if (got !== want) throw new Error(`the pushed index holds ${got || "no platforms"}, but ${want} were requested`);
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`built ${inputs.platforms.join(",")} -> ${meta.digest} in ${secs}s (${cached} steps cached)`);
    return { ...inputs, digest: meta.digest, platformDigests, ref: `${registry.repoOf(inputs.tags[0])}@${meta.digest}`, buildReason: reason };
}

export const imageProvider: pulumi.dynamic.ResourceProvider = {
    // At preview, when the builder already exists: refuse platforms it cannot build.
    async check(_olds: ImageInputs, news: ImageInputs) {
        return { inputs: news, failures: unbuildable(news) };
    },

    async create(inputs: ImageInputs) {
        const outs = await buildAndPush(inputs, ["create"]);
        return { id: outs.ref, outs };
    },

    async diff(_id: string, olds: ImageOutputs, news: ImageInputs) {
        const changed = changedKeys(olds, news);
        // A tag that moved away from our digest (seen by refresh) is rebuilt and re-pushed.
        if (olds.digest === "" && !changed.includes("tags")) changed.push("tags");
        return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
    },

    async update(_id: string, olds: ImageOutputs, news: ImageInputs) {
        const reason = changedKeys(olds, news);
        return { outs: await buildAndPush(news, reason.length ? reason : ["tags"]) };
    },

    async read(id: string, props: ImageOutputs) {
        if (!props.push) return { id, props };
        const current = await registry.getManifest(props.tags[0]);
        // The tag is gone or points elsewhere: clear the digest so the next `up` re-pushes.
        const digest = current?.digest === props.digest ? props.digest : "";
        return { id, props: { ...props, digest } };
    },

    // Pushed images are kept: other stacks and deployments may reference them.
    async delete() {},
};
