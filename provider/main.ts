// pulumi-resource-multiarch: the provider plugin the engine starts (bundled into one file,
// scripts/plugin/build.mjs). It serves the three resource lifecycles and, for programs in
// other languages, the three components; the engine finds it by name and exact version.
import { main } from "@pulumi/pulumi/provider";

import * as schema from "../contract/schema.json";
import { rememberBuilders } from "../core/buildx";
import { routeConsoleToEngine } from "./engineLog";
import { liveWithEngine } from "./lifetime";
import { answerPreviews } from "./preview";
import { multiarchProvider, previewOutputs } from "./provider";

// The engine passes its address as the first argument (flags such as -v=9 aside).
const engineAddress = process.argv.slice(2).find((a) => !a.startsWith("-"));
liveWithEngine(engineAddress);
if (engineAddress) routeConsoleToEngine(engineAddress);
answerPreviews(previewOutputs);
// The engine starts this process for one run: what buildx said of a builder holds until the run changes one.
rememberBuilders();

main(
    multiarchProvider({
        schema: JSON.stringify(schema),
        // Loaded on first use: a TypeScript program never asks for it, and start-up stays short.
        construct: (...args) => (require("./construct") as typeof import("./construct")).construct(...args),
    }),
    process.argv.slice(2),
).catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
});
