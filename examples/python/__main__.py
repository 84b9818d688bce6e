"""The main job in Python: emulators, a builder and the app's image for amd64 and arm64,
and a small image from named contexts."""
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

pulumi.export("ref", image.ref)
pulumi.export("platformDigests", image.platform_digests)
pulumi.export("verification", image.verification)
pulumi.export("builderName", builder.name)
pulumi.export("greetingDigests", greeting.platform_digests)
