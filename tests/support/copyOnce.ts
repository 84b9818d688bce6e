// One copy by digest, in a process of its own, as a promotion's create does it for one target
// (core/copy.ts: read, plan, run), printing what it did and the process's peak RSS,
// so a test can check that a layer of any size passes with flat memory:
//   node -r ts-node/register/transpile-only tests/support/copyOnce.ts FROM_REF@DIGEST TO_REGISTRY/REPOSITORY
import * as copy from "../../core/copy";
import { parseRef, Registry } from "../../core/registry";

async function main(): Promise<void> {
    const [source, target] = process.argv.slice(2);
    const s = parseRef(source);
    const t = parseRef(`${target}:x`);
    const from = { client: new Registry(s.registry), repository: s.repository };
    const to = { client: new Registry(t.registry), repository: t.repository };
    const image = await copy.readSource(from, s.digest!, { referrers: true });
    const plan = copy.planCopy(
        image,
        { registry: t.registry, repository: t.repository },
        "index",
        await copy.probeTarget(image, to, "index"),
    );
    const started = Date.now();
    const stats = await copy.runCopy(image, from, to, plan);
    const seconds = (Date.now() - started) / 1000;
    console.log(JSON.stringify({ stats, seconds, maxRssKiB: process.resourceUsage().maxRSS }));
}

main().catch((e) => {
    console.error(e.stack ?? e);
    process.exit(1);
});
