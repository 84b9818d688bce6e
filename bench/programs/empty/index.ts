// The engine's baseline: a TypeScript program that declares nothing. `pulumi up` of it costs
// what every program pays (CLI, language host, ts-node, state), so a no-op up of the main
// job is measured against it.
export {};
