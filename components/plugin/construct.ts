// Placeholder, replaced below.
import type * as provider from "@pulumi/pulumi/provider";
export const construct: NonNullable<provider.Provider["construct"]> = async () => { throw new Error("not yet"); };
