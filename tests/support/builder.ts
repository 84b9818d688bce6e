// The builder most e2e programs build with: QEMU's arm64 handler and a docker-container
// builder of the file's own name on the host network, so it reaches the test registries on
// loopback over plain HTTP (or as `buildkitdConfig` says).
import { BinfmtSetup, BuildxBuilder } from "../../components";

/** buildkitd.toml lines that let BuildKit reach each registry over plain HTTP. */
export const httpRegistries = (...registries: string[]): string =>
    registries.map((r) => `[registry."${r}"]\n  http = true\n`).join("");

/** Inside a Pulumi program: arm64 emulation and builder `name`, as most e2e files need them. */
export function emulatingBuilder(name: string, buildkitdConfig: string): BuildxBuilder {
    const qemu = new BinfmtSetup("qemu", { platforms: ["linux/arm64"] });
    return new BuildxBuilder("b", { name, binfmt: qemu, driverOpts: { network: "host" }, buildkitdConfig });
}
