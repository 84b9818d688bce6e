// The Image's fields table (contract/imageFields.ts) drives the program's spread, the plugin's
// rebuild reasons and the secret outputs: each use is checked against what it does.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { createImageInputs } from "../../components/multiArchImage";
import { ADDED_DEFAULTS, ARGS_FIELDS, REBUILD_FIELDS, SECRET_FIELDS } from "../../contract/imageFields";
import { RESOURCE_TYPES, SECRET_OUTPUTS } from "../../contract/tokens";
import { changedKeys } from "../../provider/resources/image";

describe("the Image's fields, listed once", () => {
    it("createImageInputs gives every args field and the caches' three, nothing else", () => {
        const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "pm-fields-"));
        fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM scratch\n");
        const inputs = createImageInputs({
            context: { location: ctx },
            platforms: ["linux/amd64"],
            tags: ["r/x:1"],
            builder: { name: "ci" },
        });
        assert.deepStrictEqual(
            Object.keys(inputs).sort(),
            [...ARGS_FIELDS, "cacheFrom", "cacheTo", "cacheCredentials"].sort(),
        );
    });

    it("what the README says is no rebuild reason is none; what changes the image is one", () => {
        for (const k of [
            "shmSize",
            "ulimits",
            "allow",
            "noCacheFilters",
            "cacheCredentials",
            "secrets",
            "deleteOnDestroy",
        ] as const) {
            assert.ok(!REBUILD_FIELDS.includes(k), `${k} should not rebuild`);
        }
        const olds = { platforms: ["linux/amd64"], tags: ["r/x:1"], shmSize: "64m", buildArgs: { A: "1" } };
        assert.deepStrictEqual(changedKeys(olds as never, { ...olds, shmSize: "128m" } as never), []);
        assert.deepStrictEqual(
            changedKeys(olds as never, { ...olds, buildArgs: { A: "2" }, tags: ["r/x:2"] } as never),
            ["tags", "buildArgs"],
        );
    });

    it("a state written before load and exports existed holds their defaults: no rebuild", () => {
        assert.deepStrictEqual(ADDED_DEFAULTS, { load: false, exports: [] });
        const olds = { platforms: ["linux/amd64"], tags: ["r/x:1"] };
        assert.deepStrictEqual(changedKeys(olds as never, { ...olds, load: false, exports: [] } as never), []);
    });

    it("its secret fields are the Image's secret outputs", () => {
        assert.deepStrictEqual([...SECRET_OUTPUTS[RESOURCE_TYPES.Image]].sort(), [
            "cacheCredentials",
            "registries",
            "registryAuth",
            "secrets",
        ]);
        assert.strictEqual(SECRET_OUTPUTS[RESOURCE_TYPES.Image], SECRET_FIELDS);
    });
});
