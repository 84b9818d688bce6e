// Lifecycle of a buildx builder. A dynamic provider (see binfmtProvider.ts for why):
// builders get removed by hand or by `docker buildx prune`, and refresh must see that.
import type * as pulumi from "@pulumi/pulumi";
import buildx = require("../core/buildx");

export interface BuilderInputs {
    name: string;
    driver: string;
    driverOpts: Record<string, string>;
    platforms: string[];
    buildkitdFlags?: string;
    buildkitdConfig?: string;
    bootstrap: boolean;
    keepState: boolean;
    /** Only carried so the builder is replaced when its emulators change. */
    emulated: string[];
}

export interface BuilderOutputs extends BuilderInputs {
    nodes: buildx.BuilderNode[];
    /** Every platform some node reports it can build. */
    reportedPlatforms: string[];
}

async function observe(inputs: BuilderInputs, bootstrap: boolean): Promise<BuilderOutputs | undefined> {
    const b = bootstrap ? await buildx.bootstrap(inputs.name) : await buildx.find(inputs.name);
    if (!b) return undefined;
    return { ...inputs, nodes: b.nodes, reportedPlatforms: buildx.builderPlatforms(b) };
}

/** Inputs whose change means a new builder: buildx cannot change them in place. */
const IDENTITY: (keyof BuilderInputs)[] = ["name", "driver", "driverOpts", "platforms", "buildkitdFlags", "buildkitdConfig", "emulated"];

export const builderProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: BuilderInputs) {
        if (await buildx.find(inputs.name)) {
            throw new Error(`a buildx builder named "${inputs.name}" already exists and is not managed by this stack: choose another name, or remove it with \`docker buildx rm ${inputs.name}\``);
        }
        await buildx.create(inputs);
        try {
            const outs = await observe(inputs, inputs.bootstrap);
            if (!outs) throw new Error(`buildx created ${inputs.name} but does not list it`);
            return { id: inputs.name, outs };
        } catch (e) {
            await buildx.remove(inputs.name, false); // leave nothing half-created
            throw e;
        }
    },

    async read(id: string, props: BuilderOutputs) {
        const outs = await observe(props, false);
        return outs ? { id, props: outs } : { id: "", props: {} };
    },

    async diff(_id: string, olds: BuilderOutputs, news: BuilderInputs) {
        const replaces = IDENTITY.filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
        const updates = (["bootstrap", "keepState"] as const).filter((k) => olds[k] !== news[k]);
        return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: true };
    },

    async update(_id: string, _olds: BuilderOutputs, news: BuilderInputs) {
        const outs = await observe(news, news.bootstrap);
        if (!outs) throw new Error(`builder ${news.name} is gone: run \`pulumi refresh\` then \`pulumi up\` to recreate it`);
        return { outs };
    },

    async delete(_id: string, props: BuilderOutputs) {
        await buildx.remove(props.name, props.keepState);
    },
};
