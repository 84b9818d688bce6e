// What a MultiArchImage builds from, as the program reads it at every preview: the context (a
// local folder or a Git URL), the Dockerfile (a path, inside the context or not, or its text)
// and the named contexts. Each is checked here, with the property path and the fix, and every
// local folder is hashed as BuildKit sends it (core/context.ts), so `pulumi preview`
// knows whether to rebuild. Remote sources are pinned to a digest or commit by the image's
// check in the plugin (core/buildContexts.ts), which reaches registries as docker does.
import type * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";

import type { ImageInputs } from "../contract/types";
import { classify, nameProblem, parseOciLayout } from "../core/buildContexts";
import { hashSources, summarizeFiles } from "../core/context";
import { parseGitContext } from "../core/git";
import type { MultiArchImageArgs } from "./multiArchImage";
import type { ArgErrors } from "./validate";

/** The `context` and `dockerfile` args in one shape, whichever form (string or docker-build's object) was given. */
export interface SourceArgs {
    location: string;
    /** The property path of the location, for errors. */
    locationProp: "context" | "context.location";
    named: Record<string, pulumi.Input<string>>;
    dockerfile?: string;
    dockerfileProp: "dockerfile" | "dockerfile.location";
    inline?: pulumi.Input<string>;
}

export function sourceArgs(args: MultiArchImageArgs): SourceArgs {
    const c = args.context,
        d = args.dockerfile;
    const named =
        typeof c === "object" && c
            ? Object.fromEntries(Object.entries(c.named ?? {}).map(([k, v]) => [k, v?.location]))
            : {};
    return {
        location: typeof c === "object" && c ? c.location : c,
        locationProp: typeof c === "object" && c ? "context.location" : "context",
        named: named,
        ...(typeof d === "object" && d
            ? { dockerfile: d.location, inline: d.inline }
            : d !== undefined
              ? { dockerfile: d }
              : {}),
        dockerfileProp: typeof d === "object" && d ? "dockerfile.location" : "dockerfile",
    };
}

/** The checked sources: the image's inputs for them, the Dockerfile's text when it is local, and warnings. */
export interface CheckedSources {
    inputs: Pick<
        ImageInputs,
        | "context"
        | "dockerfile"
        | "dockerfileInline"
        | "namedContexts"
        | "namedContextFiles"
        | "contextDigest"
        | "contextFiles"
    >;
    /** The Dockerfile's text and how messages name it; undefined when it lives in a Git repository. */
    dockerfileText?: { name: string; text: string };
    warnings: string[];
}

const isDir = (p: string) => {
    try {
        return fs.statSync(p).isDirectory();
    } catch {
        return false;
    }
};
const isFile = (p: string) => {
    try {
        return fs.statSync(p).isFile();
    } catch {
        return false;
    }
};

/**
 * Checks the sources (resolved values of {@link sourceArgs}) into `e`; returns undefined when
 * one is refused, so nothing is hashed that does not exist.
 */
export function checkSources(
    e: ArgErrors,
    s: SourceArgs,
    named: Record<string, string>,
    inline: string | undefined,
): CheckedSources | undefined {
    const before = e.count;
    let git: ReturnType<typeof parseGitContext>;
    if (typeof s.location !== "string" || !s.location) {
        e.add(
            s.locationProp,
            `give the build context: a folder relative to the program (e.g. "./app") or a Git URL (https://host/repo.git#main)`,
        );
    } else {
        try {
            git = parseGitContext(s.location);
        } catch (err) {
            e.add(s.locationProp, `${(err as Error).message}: fix the Git URL`);
        }
        if (!git && e.count === before) {
            const { kind, problem } = classify(s.location);
            if (kind === "git" || (kind === "local" && problem))
                e.add(s.locationProp, problem!); // another URL, another scheme
            else if (kind !== "local") {
                e.add(
                    s.locationProp,
                    `"${s.location}": the build context is a folder or a Git URL; docker-image:// and oci-layout:// are for named contexts (context.named)`,
                );
            } else if (!isDir(s.location)) {
                e.add(
                    s.locationProp,
                    `"${s.location}" is not a directory: give the build context relative to the program, e.g. "./app", or a Git URL`,
                );
            }
        }
    }
    let dockerfile = s.dockerfile;
    if (inline !== undefined && dockerfile !== undefined) {
        e.add("dockerfile", "give dockerfile.location or dockerfile.inline, not both");
    } else if (inline !== undefined && (typeof inline !== "string" || inline.trim() === "")) {
        e.add("dockerfile.inline", "the inline Dockerfile is empty: give its text, or a location");
    } else if (inline === undefined && dockerfile !== undefined && /^https?:\/\//.test(dockerfile)) {
        e.add(
            s.dockerfileProp,
            `"${dockerfile}": a Dockerfile by URL is not supported (its content would be unknown until the build): give its text as dockerfile.inline, or keep it in a Git context`,
        );
    } else if (inline === undefined && e.count === before) {
        if (dockerfile === undefined && !git) dockerfile = path.join(s.location, "Dockerfile");
        // A relative Dockerfile of a Git context is read from the repository, as buildx does.
        const local = dockerfile !== undefined && (!git || path.isAbsolute(dockerfile));
        if (local && !isFile(dockerfile!))
            e.add(s.dockerfileProp, `"${dockerfile}" does not exist: create it or point dockerfile at yours`);
    }
    const localNamed: Record<string, string> = {};
    for (const [name, location] of Object.entries(named)) {
        const prop = `context.named.${name}.location`;
        const bad = nameProblem(name);
        if (bad) {
            e.add(`context.named.${name}`, bad);
            continue;
        }
        if (typeof location !== "string" || !location) {
            e.add(
                prop,
                `give the context's location: a folder, docker-image://<ref>, oci-layout://<path> or a Git URL`,
            );
            continue;
        }
        const { kind, problem } = classify(location);
        if (problem) e.add(prop, problem);
        else if (kind === "local") {
            if (isDir(location)) localNamed[name] = location;
            else
                e.add(
                    prop,
                    `"${location}" is not a directory: give a folder relative to the program, or docker-image://, oci-layout://, a Git URL`,
                );
        } else if (kind === "oci-layout" && !isDir(parseOciLayout(location).path)) {
            e.add(
                prop,
                `"${location}" names no folder: write oci-layout://<path of a folder holding index.json>[:tag][@sha256:...]`,
            );
        }
    }
    if (e.count !== before) return undefined;
    const local = !git || (dockerfile !== undefined && path.isAbsolute(dockerfile));
    let digest;
    try {
        digest = hashSources({
            ...(git ? {} : { context: s.location }),
            ...(inline !== undefined
                ? { dockerfile: { inline } }
                : local && dockerfile !== undefined
                  ? { dockerfile }
                  : {}),
            named: localNamed,
        });
    } catch (err) {
        // A .dockerignore BuildKit refuses: the build would fail.
        e.add(s.locationProp, (err as Error).message);
        return undefined;
    }
    // Sorted, so the same contexts given in another order are no change.
    const namedInputs = Object.keys(named).length
        ? {
              namedContexts: Object.fromEntries(
                  Object.keys(named)
                      .sort()
                      .map((k) => [k, named[k]]),
              ),
          }
        : {};
    return {
        inputs: {
            context: s.location,
            ...(dockerfile !== undefined && inline === undefined ? { dockerfile } : {}),
            ...(inline !== undefined ? { dockerfileInline: inline } : {}),
            ...namedInputs,
            ...(digest.named
                ? {
                      namedContextFiles: Object.fromEntries(
                          Object.entries(digest.named).map(([k, v]) => [k, summarizeFiles(v)]),
                      ),
                  }
                : {}),
            contextDigest: digest.digest,
            contextFiles: summarizeFiles(digest.files),
        },
        ...(inline !== undefined
            ? { dockerfileText: { name: "<inline Dockerfile>", text: inline } }
            : local && dockerfile !== undefined
              ? { dockerfileText: { name: dockerfile, text: fs.readFileSync(dockerfile, "utf8") } }
              : {}),
        warnings: digest.unusedIgnoreFiles ?? [],
    };
}
