// The verification record of a verified image, attached where its tags will point at an index
// (core/verificationRecord.ts says what it is and why): by the image after its
// verification, by the Index after verifying its children, and carried along by promotions.
import { VERSION } from "../../contract/tokens";
import { attachRecord, detachRecord, type VerificationRecord } from "../../core/verificationRecord";
import type { RawManifest } from "./tagMoves";
import type { Mode, Target } from "./targets";

/** The record of a verification: each platform's manifest and what verification found there. */
export function recordOf(
    subject: string,
    manifests: Record<string, string>,
    verification: Record<string, string>,
): VerificationRecord {
    return {
        subject,
        verifier: `pulumi-multiarch ${VERSION}`,
        platforms: Object.fromEntries(
            Object.entries(manifests).map(([p, manifest]) => [p, { manifest, result: verification[p] ?? "" }]),
        ),
    };
}

/**
 * Attaches `record` to `index` in every target whose registry keeps indexes (a registry with
 * per-arch tags has no index to attach it to, nor one to list it in). Returns the record's
 * digest, or "" when no target took it.
 */
export async function attachRecords(
    targets: Target[],
    modes: Record<string, Mode>,
    index: RawManifest,
    record: VerificationRecord,
): Promise<string> {
    let digest = "";
    for (const t of targets.filter((x) => modes[x.registry] === "index")) {
        digest = await attachRecord(
            { client: t.client, repository: t.repository },
            { mediaType: index.mediaType, digest: index.digest, size: index.raw.length },
            record,
        );
    }
    return digest;
}

/** Deletes the record `digest` of `subject` where it was attached (deleteOnDestroy). */
export async function detachRecords(
    targets: Target[],
    modes: Record<string, Mode>,
    subject: string,
    digest: string,
): Promise<void> {
    for (const t of targets.filter((x) => modes[x.registry] === "index"))
        await detachRecord({ client: t.client, repository: t.repository }, subject, digest);
}
