"""The main job in Python: emulators, a builder and the app's image for amd64 and arm64."""
import pulumi
import pulumi_multiarch as multiarch

config = pulumi.Config()
registry = config.get("registry") or "127.0.0.1:5000"
repository = config.get("repository") or "python/hello"

qemu = multiarch.BinfmtSetup("qemu", platforms=["linux/arm64"])
builder = multiarch.BuildxBuilder(
    "builder",
    binfmt=qemu,
    driver_opts={"network": "host"},  # reach a registry on loopback
    buildkitd_config=f'[registry."{registry}"]\n  http = true\n',  # which speaks plain HTTP
)
image = multiarch.MultiArchImage(
    "hello",
    context="../../app",
    platforms=["linux/amd64", "linux/arm64"],
    tags=[f"{registry}/{repository}:1.0"],
    builder=builder,
)

pulumi.export("ref", image.ref)
pulumi.export("platformDigests", image.platform_digests)
pulumi.export("verification", image.verification)
pulumi.export("builderName", builder.name)
