// An image's inputs as the component's check leaves them, for unit tests of the plugin's image
// lifecycle: every required field of ImageInputs at the value createImageInputs gives it by
// default, one platform, pushed and verified; a test gives what it is about.
import type { ImageInputs } from "../../contract/types";

export function imageInputs(over: Partial<ImageInputs> = {}): ImageInputs {
    return {
        context: "./app",
        platforms: ["linux/amd64"],
        tags: ["127.0.0.1:5000/h:1"],
        push: true,
        builder: "b",
        manifest: "index",
        buildArgs: {},
        labels: {},
        annotations: {},
        secrets: {},
        ssh: [],
        cacheFrom: [],
        cacheTo: [],
        noCache: false,
        pull: false,
        provenance: false,
        sbom: false,
        triggers: [],
        verify: true,
        deleteOnDestroy: false,
        contextDigest: "sha256:c",
        contextFiles: {},
        ...over,
    };
}
