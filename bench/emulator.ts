// The arm64 emulator for a bench run, held the way BinfmtSetup holds it: registered from
// Debian's definition when missing (the golang fixture compiles Go's standard library
// under QEMU, and the cases emulate arm64), with a claim of its own in the claims folder,
// so stacks on the host neither remove it under the bench nor lose it after.
//   node -r ts-node/register bench/emulator.ts hold|release
import * as fs from "fs";
import * as path from "path";

import * as binfmt from "../core/binfmt";
import * as claims from "../core/binfmtClaims";
import { connect } from "../core/host";

const NAME = binfmt.handlerName("linux/arm64");
const CLAIM = "bench";

async function main(action: string): Promise<void> {
    const host = connect({ kind: "local" });
    if (action === "hold") {
        const present = NAME in (await binfmt.readHandlers(host));
        if (!present) {
            const file = path.join(binfmt.DEBIAN_BINFMTS_DIR, NAME);
            await binfmt.register(host, binfmt.parseDebianDefinition(NAME, fs.readFileSync(file, "utf8")));
            console.error(`registered ${NAME} for the bench (from ${file}); released when it ends`);
        }
        await claims.claimHandlers(host, [NAME], CLAIM, present ? [] : [NAME]);
    } else if (action === "release") {
        const free = await claims.releaseHandlers(host, [NAME], CLAIM);
        if (free[NAME]?.registered) await binfmt.unregister(host, NAME);
    } else {
        throw new Error(`usage: bench/emulator.ts hold|release (not ${action})`);
    }
}

main(process.argv[2]).catch((e) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
});
