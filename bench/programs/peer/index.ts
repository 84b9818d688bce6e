// The peer side of case 6: the same image built with @pulumi/docker-build (its provider
// plugin pulumi-resource-docker-build v0.0.22, built by bench/fixtures.sh) on a builder the
// `ours` stack created. Config:
//   bench:builder    builder name
//   bench:context    build context (its Dockerfile inside)
//   bench:tag        tag to push
//   bench:buildArgs  build arguments (the bench changes one to force a build)
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";

const cfg = new pulumi.Config("bench");
const context = cfg.require("context");

const image = new dockerBuild.Image("peer", {
    context: { location: context },
    dockerfile: { location: path.join(context, "Dockerfile") },
    platforms: [dockerBuild.Platform.Linux_amd64, dockerBuild.Platform.Linux_arm64],
    builder: { name: cfg.require("builder") },
    push: true,
    tags: [cfg.require("tag")],
    buildArgs: cfg.getObject<Record<string, string>>("buildArgs") ?? {},
    // As ours: no provenance attestation (the peer exports without one unless asked).
});

export const digest = image.digest;
