// The verification record: what a MultiArchImage's (or an Index's) verification found,
// attached to the pushed image as a small OCI 1.1 artifact whose `subject` is the image, a
// referrer beside signatures and SBOMs. The image's digest does not change, and the record
// travels with it by digest: a promotion finds it at the source, refuses an image without one
// (unless told otherwise) and copies it with the image, so the promoted image can be promoted
// again. Registries without the referrers API list it in the fallback tag `sha256-<hex>`.
//
// It records, it does not sign: anyone who can push to the repository can push one. It keeps
// an unverified image (a build with verify off, a failed verification, an image pushed by
// hand) from being promoted by mistake.
import * as stream from "stream";

import { addReferrers, type Descriptor, type Endpoint, referrerDescriptor, sha256 } from "./copy";
import { INDEX_MEDIA_TYPES, referrersTag } from "./registry";

export const RECORD_ARTIFACT_TYPE = "application/vnd.pulumi-multiarch.verification.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI's empty config (`{}`), as artifacts without a config of their own carry it. */
const EMPTY_CONFIG = { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(Buffer.from("{}")), size: 2 };

export interface VerificationRecord {
    /** The verified image: its index's digest, or its one manifest's. */
    subject: string;
    /** platform -> the image manifest verified and what verification found (`ok: config linux/arm64, ...`). */
    platforms: Record<string, { manifest: string; result: string }>;
    /** What verified it, e.g. `pulumi-multiarch 0.2.0`. */
    verifier: string;
}

/** The record's bytes and the artifact manifest that carries it; the same record gives the same digest. */
export function recordArtifact(
    record: VerificationRecord,
    subject: Descriptor,
): { blob: Buffer; raw: Buffer; digest: string; mediaType: string } {
    const platforms = Object.fromEntries(
        Object.keys(record.platforms)
            .sort()
            .map((p) => [p, record.platforms[p]]),
    );
    const blob = Buffer.from(JSON.stringify({ subject: record.subject, platforms, verifier: record.verifier }));
    const raw = Buffer.from(
        JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            artifactType: RECORD_ARTIFACT_TYPE,
            config: EMPTY_CONFIG,
            layers: [{ mediaType: RECORD_ARTIFACT_TYPE, digest: sha256(blob), size: blob.length }],
            subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
            annotations: { "io.pulumi-multiarch.verified": Object.keys(platforms).join(",") },
        }),
    );
    return { blob, raw, digest: sha256(raw), mediaType: OCI_MANIFEST };
}

/** Attaches `record` to the image `subject` in `to`; returns the record's digest. Idempotent. */
export async function attachRecord(to: Endpoint, subject: Descriptor, record: VerificationRecord): Promise<string> {
    const a = recordArtifact(record, subject);
    for (const b of [Buffer.from("{}"), a.blob]) {
        const digest = sha256(b);
        if (!(await to.client.hasBlob(to.repository, digest))) {
            await to.client.putBlob(to.repository, { digest, size: b.length }, async () => stream.Readable.from([b]));
        }
    }
    const put = await to.client.putManifest(to.repository, a.digest, a.raw, a.mediaType, "copy");
    if (!put.subjectIndexed) {
        await addReferrers(to, subject.digest, [
            referrerDescriptor({
                digest: a.digest,
                mediaType: a.mediaType,
                raw: a.raw,
                body: JSON.parse(a.raw.toString("utf8")),
            }),
        ]);
    }
    return a.digest;
}

/**
 * Deletes the record `digest` of the image `subject` from `at`, and the fallback tag that
 * lists it when it lists nothing else (deleting the manifest a tag names removes the tag).
 */
export async function detachRecord(at: Endpoint, subject: string, digest: string): Promise<void> {
    await at.client.deleteManifest(at.repository, digest);
    const listed = await at.client.getManifest(at.repository, referrersTag(subject));
    const rest = (listed?.body.manifests ?? []).filter((d: Descriptor) => d.digest !== digest);
    if (!listed) return;
    if (!rest.length) {
        await at.client.deleteManifest(at.repository, listed.digest);
        return;
    }
    const raw = Buffer.from(JSON.stringify({ ...listed.body, manifests: rest }));
    await at.client.putManifest(at.repository, referrersTag(subject), raw, INDEX_MEDIA_TYPES[0], "delete");
}

/** Parses a record blob; throws on anything that is not one. */
export function parseRecord(text: string): VerificationRecord {
    const j = JSON.parse(text);
    if (typeof j?.subject !== "string" || typeof j.platforms !== "object" || j.platforms === null)
        throw new Error("not a verification record");
    for (const v of Object.values<any>(j.platforms)) {
        if (typeof v?.manifest !== "string" || typeof v?.result !== "string")
            throw new Error("not a verification record");
    }
    return { subject: j.subject, platforms: j.platforms, verifier: String(j.verifier ?? "") };
}

/**
 * The verification records of the image `digest` in `from` (its referrers of our artifact
 * type, read), each with its digest; unreadable ones are skipped.
 */
export async function findRecords(
    from: Endpoint,
    digest: string,
): Promise<{ digest: string; record: VerificationRecord }[]> {
    const { manifests } = await from.client.referrers(from.repository, digest);
    const out: { digest: string; record: VerificationRecord }[] = [];
    for (const d of manifests as Descriptor[]) {
        if (d.artifactType !== undefined && d.artifactType !== RECORD_ARTIFACT_TYPE) continue;
        try {
            const m = await from.client.getManifest(from.repository, d.digest);
            const layer = m?.body.artifactType === RECORD_ARTIFACT_TYPE ? m.body.layers?.[0] : undefined;
            if (!layer || layer.size > 1 << 20) continue;
            const chunks: Buffer[] = [];
            for await (const c of await from.client.openBlob(from.repository, layer.digest))
                chunks.push(Buffer.from(c));
            out.push({ digest: d.digest, record: parseRecord(Buffer.concat(chunks).toString("utf8")) });
        } catch {
            /* not ours, or unreadable: as if absent */
        }
    }
    return out;
}

/**
 * Why `record` does not cover the image `digest` with these platform manifests, or
 * undefined when it does: every platform verified ok, on exactly these manifests.
 */
export function recordProblem(
    record: VerificationRecord,
    digest: string,
    platforms: Record<string, string>,
): string | undefined {
    if (record.subject !== digest) return `the record is for ${record.subject}, not ${digest}`;
    for (const [p, manifest] of Object.entries(platforms)) {
        const r = record.platforms[p];
        if (!r) return `${p} was not verified`;
        if (r.manifest !== manifest) return `${p}: the record verified ${r.manifest}, but the image holds ${manifest}`;
        if (!/^ok\b/.test(r.result)) return `${p}: verification found a problem (${r.result})`;
    }
    return undefined;
}
