// Pure: the shape of the generated hashing tree (case 2).

/**
 * Deterministic file sizes, log-uniform over a 4096:1 spread (drawn between 256 B and 1 MiB,
 * then scaled so they sum to `total`: for 20,000 files and 200 MB, 20 B to about 80 KB).
 */
export function treeSizes(count: number, total: number, seed = 1): number[] {
    let x = seed >>> 0 || 1;
    const rand = () => {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        return x / 0x1_0000_0000;
    };
    const raw = Array.from({ length: count }, () =>
        Math.exp(Math.log(256) + rand() * (Math.log(1 << 20) - Math.log(256))),
    );
    const scale = total / raw.reduce((a, b) => a + b, 0);
    const sizes = raw.map((r) => Math.max(1, Math.floor(r * scale)));
    sizes[0] += total - sizes.reduce((a, b) => a + b, 0);
    return sizes;
}
