// A second baseline for case 9: a program that imports @pulumi/pulumi, as every real program
// does (a StackReference, a Config), reads one config value and declares nothing. What it costs
// beyond bench/programs/empty is the SDK's own (loading it, type-checking its declarations).
import * as pulumi from "@pulumi/pulumi";

export const tag = new pulumi.Config("bench").get("tag");
