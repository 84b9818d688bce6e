// Case 9's library side: one copy by digest in a fresh Node.js process, as a promotion's create
// does it for one target (read the source, plan against the target, copy what it lacks, then
// move the tag), from the compiled package (dist/, `npm run build`), as crane and skopeo run
// compiled. Prints what it did and the process's peak RSS:
//   node bench/copy-once.js REGISTRY/REPOSITORY@DIGEST REGISTRY/REPOSITORY:TAG
const copy = require("../dist/core/copy");
const { parseRef, Registry } = require("../dist/core/registry");

async function main() {
    const [source, target] = process.argv.slice(2);
    const s = parseRef(source),
        t = parseRef(target);
    const from = { client: new Registry(s.registry), repository: s.repository };
    const to = { client: new Registry(t.registry), repository: t.repository };
    const image = await copy.readSource(from, s.digest, { referrers: true });
    const plan = copy.planCopy(image, t, "index", await copy.probeTarget(image, to, "index"));
    const stats = await copy.runCopy(image, from, to, plan);
    await to.client.putManifest(t.repository, t.tag, image.root.raw, image.root.mediaType);
    console.log(JSON.stringify({ stats, maxRssKiB: process.resourceUsage().maxRSS }));
}

main().catch((e) => {
    console.error(e.stack || String(e));
    process.exit(1);
});
