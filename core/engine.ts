// The docker engine an image is loaded into (`load`): what its image store can hold, and the
// engine's tags on a loaded image, through the docker CLI (the same engine and context buildx
// loads into). Parsers are pure and tested against captured `docker info` output.
import { run } from "./exec";

export interface EngineInfo {
    /** The engine's version, e.g. `20.10.24+dfsg1`. */
    serverVersion: string;
    /** The storage driver, e.g. `overlay2`. */
    driver: string;
    /**
     * The containerd image store (driver-type io.containerd.snapshotter.v1): it holds manifest
     * lists, so buildx loads every platform into it (docker/buildx util/dockerutil's OCIImporter).
     */
    containerdStore: boolean;
}

/** The `--format` of `docker info` that {@link parseInfo} reads. */
export const INFO_FORMAT =
    '{"driver":{{json .Driver}},"driverStatus":{{json .DriverStatus}},"serverVersion":{{json .ServerVersion}}}';

export function parseInfo(text: string): EngineInfo {
    const j = JSON.parse(text);
    const status: [string, string][] = j.driverStatus ?? [];
    return {
        serverVersion: String(j.serverVersion ?? ""),
        driver: String(j.driver ?? ""),
        containerdStore: status.some(([k, v]) => k === "driver-type" && v === "io.containerd.snapshotter.v1"),
    };
}

export async function info(): Promise<EngineInfo> {
    return parseInfo((await run("docker", ["info", "--format", INFO_FORMAT])).stdout);
}

/** An image's ID in the engine (by ID or tag), or undefined when the engine has none. */
export async function imageId(ref: string): Promise<string | undefined> {
    const r = await run("docker", ["image", "inspect", "--format", "{{.Id}}", ref], { allowFailure: true });
    if (r.code === 0) return r.stdout.trim();
    if (/no such image/i.test(r.stderr)) return undefined;
    throw new Error(`\`${r.command}\` failed: ${r.stderr.trim()}`);
}

/** The engine's tags on an image, or undefined when the engine has no such image. */
export async function imageTags(ref: string): Promise<string[] | undefined> {
    const r = await run("docker", ["image", "inspect", "--format", "{{json .RepoTags}}", ref], { allowFailure: true });
    if (r.code === 0) return JSON.parse(r.stdout.trim()) ?? [];
    if (/no such image/i.test(r.stderr)) return undefined;
    throw new Error(`\`${r.command}\` failed: ${r.stderr.trim()}`);
}

export async function tag(id: string, ref: string): Promise<void> {
    await run("docker", ["image", "tag", id, ref]);
}

/** Removes a tag (the image stays while other tags or containers use it); quiet when it is gone. */
export async function untag(ref: string): Promise<void> {
    const r = await run("docker", ["image", "rm", ref], { allowFailure: true });
    if (r.code !== 0 && !/no such image/i.test(r.stderr))
        throw new Error(`\`${r.command}\` failed: ${r.stderr.trim()}`);
}
