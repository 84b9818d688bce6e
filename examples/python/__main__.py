"""The main job in Python: emulators, a builder and the app's image for amd64 and arm64,
pushed to two registries: one that keeps manifest lists, and the article's company registry
that keeps none (manifest "auto" gives it one tag per architecture); and a small image from
named contexts."""
import pulumi
import pulumi_multiarch as multiarch

config = pulumi.Config()
registry = config.get("registry") or "127.0.0.1:5000"
company_registry = config.get("companyRegistry") or "127.0.0.1:5003"
repository = config.get("repository") or "python/hello"

qemu = multiarch.BinfmtSetup("qemu", platforms=["linux/arm64"])
builder = multiarch.BuildxBuilder(
    "builder",
    binfmt=qemu,
    driver_opts={"network": "host"},  # reach a registry on loopback
    # both speak plain HTTP
    buildkitd_config=f'[registry."{registry}"]\n  http = true\n[registry."{company_registry}"]\n  http = true\n',
)
image = multiarch.MultiArchImage(
    "hello",
    context="../../app",
    platforms=["linux/amd64", "linux/arm64"],
    tags=[f"{registry}/{repository}:1.0", f"{company_registry}/{repository}-company:1.0"],
    manifest="auto",
    builder=builder,
)

# A second image through named contexts (docker-build's shape): the Dockerfile inline, the main
# context ../greeting/app and a named context "words" with its own .dockerignore.
greeting = multiarch.MultiArchImage(
    "greeting",
    context=multiarch.BuildContextArgs(
        location="../greeting/app",
        named={"words": multiarch.NamedContextArgs(location="../greeting/words")},
    ),
    dockerfile=multiarch.DockerfileArgs(
        inline="FROM scratch\nCOPY note.txt /note.txt\nCOPY --from=words hello.txt /hello.txt\n",
    ),
    platforms=["linux/amd64", "linux/arm64"],
    tags=[f"{registry}/{repository}-greeting:1.0"],
    builder=builder,
)

# The app's verified image promoted by digest to another repository (within one registry: its
# blobs mounted), as a prod stack promotes what dev built.
promoted = multiarch.ImagePromotion(
    "promoted",
    source=image.ref,
    tags=[f"{registry}/{repository}-promoted:1.0"],
)

pulumi.export("ref", image.ref)
pulumi.export("digest", image.digest)
pulumi.export("promotedDigest", promoted.digest)
pulumi.export("promotedVerification", promoted.verification)
pulumi.export("platformDigests", image.platform_digests)
pulumi.export("verification", image.verification)
pulumi.export("tags", image.tags)
pulumi.export("manifestModes", image.manifest_modes)
pulumi.export("builderName", builder.name)
pulumi.export("greetingDigests", greeting.platform_digests)
