// Case 9's promotion stack: one ImagePromotion, as stack prod has it, from the package as users
// install it (dist/, linked as node_modules/pulumi-multiarch by bench/run). Config:
//   bench:source  the image by digest (the fixtures' busybox: generated, never verified by us)
//   bench:tag     where it goes (the same registry: its blobs mounted)
import * as pulumi from "@pulumi/pulumi";
import { ImagePromotion } from "pulumi-multiarch";

const cfg = new pulumi.Config("bench");
const promoted = new ImagePromotion("promoted", {
    source: cfg.require("source"),
    tags: [cfg.require("tag")],
    // The source is a fixture pushed by bootstrap, not built and verified by a MultiArchImage.
    requireVerification: false,
});
export const digest = promoted.digest;
