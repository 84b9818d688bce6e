// The values CRUD calls of @pulumi/pulumi/provider receive are raw: a secret arrives as
// `{ [SIG_KEY]: SECRET_SIG, value }` and a value unknown at preview as the UNKNOWN string
// (@pulumi/pulumi runtime/rpc.js). The resource lifecycles see plain values, with unknowns
// kept as UNKNOWN (as the 0.1 dynamic providers saw them); secrets are sealed again on the way out.
import { isRpcSecret, specialSecretSig, specialSigKey, unknownValue } from "@pulumi/pulumi/runtime/rpc";

export const SIG_KEY = specialSigKey;
export const SECRET_SIG = specialSecretSig;
export const UNKNOWN = unknownValue;

type Props = Record<string, unknown>;

export function isSecret(v: unknown): v is { value: unknown } {
    return !!isRpcSecret(v);
}

/** `v` with every secret wrapper removed, at any depth. */
export function reveal<T = any>(v: unknown): T {
    if (isSecret(v)) return reveal(v.value);
    if (Array.isArray(v)) return v.map(reveal) as T;
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)])) as T;
    return v as T;
}

function holdsSecret(v: unknown): boolean {
    if (isSecret(v)) return true;
    if (Array.isArray(v)) return v.some(holdsSecret);
    if (v && typeof v === "object") return Object.values(v).some(holdsSecret);
    return false;
}

/** Top-level keys of `props` that hold a secret anywhere inside. */
export function secretKeys(props: Props | undefined): string[] {
    return Object.entries(props ?? {})
        .filter(([, v]) => holdsSecret(v))
        .map(([k]) => k);
}

/** `props` with each of `keys` (when present and not already) wrapped as a secret. */
export function seal(props: Props, keys: Iterable<string>): Props {
    const out = { ...props };
    for (const k of keys) {
        if (out[k] !== undefined && out[k] !== null && !isSecret(out[k]))
            out[k] = { [SIG_KEY]: SECRET_SIG, value: out[k] };
    }
    return out;
}

/** The type token of a URN (`urn:pulumi:stack::project::parent$type::name` -> type). */
export function typeOfUrn(urn: string): string {
    const qualified = urn.split("::")[2] ?? "";
    return qualified.split("$").pop() ?? "";
}
