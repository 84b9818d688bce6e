#!/usr/bin/env bash
# Bench fixtures that outlive a run (built once per machine, skipped when present; the
# timings of the cold steps are kept in $BENCH_CACHE/fixtures.json for RESULTS.md):
#
# - pulumi-resource-docker-build v0.0.22, the peer's provider plugin (issue 8, case 6), from
#   the wrapper module scripts/go/docker-build into $CACHE/tools/ like every Go tool;
# - crane v0.22.1 (github.com/google/go-containerregistry), the promotion case's first peer
#   (issue 21, case 9), from the wrapper module scripts/go/crane the same way; and skopeo,
#   its second, from Debian;
# - $REGISTRY_ADDR/bench/golang:<go version>-std, a Go toolchain image for linux/amd64 AND
#   linux/arm64 with the standard library packages the app needs already compiled into
#   the image's Go build cache (amd64 image: for amd64 and, cross, for arm64; arm64 image:
#   for arm64). The arm64 toolchain is the host's Go release cross-built for arm64 (same
#   sources, same version); it is what "compile under emulation" runs under QEMU. With the
#   standard library cached, each bench build compiles and links the app itself, which keeps
#   every run small enough for five repetitions of everything in 20 minutes. The one cold
#   compile of that standard library (emulated for arm64, cross for arm64) is timed while
#   the image is built.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$ROOT/scripts/env.sh"

BENCH_CACHE="$CACHE/bench"
PEER_VERSION=0.0.22
PEER_BIN="$CACHE/tools/pulumi-resource-docker-build-$PEER_VERSION/pulumi-resource-docker-build"
GO_VERSION=$(go env GOVERSION)
GO_VERSION=${GO_VERSION#go}
GOLANG_REF="$REGISTRY_ADDR/bench/golang:$GO_VERSION-std"
mkdir -p "$BENCH_CACHE"
[ -f "$BENCH_CACHE/fixtures.json" ] || echo '{}' >"$BENCH_CACHE/fixtures.json"

# record KEY JSON: merges {KEY: JSON} into fixtures.json.
record() {
  jq --arg k "$1" --argjson v "$2" '.[$k] = $v' "$BENCH_CACHE/fixtures.json" >"$BENCH_CACHE/fixtures.json.new"
  mv "$BENCH_CACHE/fixtures.json.new" "$BENCH_CACHE/fixtures.json"
}

peer_provider() {
  if [ -x "$PEER_BIN" ]; then log "    $PEER_BIN present"; return; fi
  log "    building pulumi-resource-docker-build $PEER_VERSION (Go, from the module proxy; minutes)"
  local t0=$SECONDS tmp
  mkdir -p "$CACHE/tools"
  tmp=$(mktemp -d "$CACHE/tools/.build.XXXXXX")
  (cd "$ROOT/scripts/go/docker-build" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-docker-build/provider.Version=$PEER_VERSION" \
      -o "$tmp/pulumi-resource-docker-build" github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build) ||
    die "building pulumi-resource-docker-build failed: see the go output above (scripts/go/docker-build/go.mod explains the pinned set)"
  mkdir -p "$(dirname "$PEER_BIN")" && mv "$tmp/pulumi-resource-docker-build" "$PEER_BIN" && rmdir "$tmp"
  local at
  at=$(date -u +%FT%TZ)
  record peerBuild "{\"seconds\": $((SECONDS - t0)), \"at\": \"$at\"}"
  log "    built pulumi-resource-docker-build in $((SECONDS - t0))s"
}

CRANE_VERSION=0.22.1
CRANE_BIN="$CACHE/tools/crane-$CRANE_VERSION/crane"

crane_tool() {
  if [ -x "$CRANE_BIN" ]; then log "    $CRANE_BIN present"; return; fi
  log "    building crane $CRANE_VERSION (Go, from the module proxy)"
  local t0=$SECONDS tmp at
  mkdir -p "$CACHE/tools"
  tmp=$(mktemp -d "$CACHE/tools/.build.XXXXXX")
  (cd "$ROOT/scripts/go/crane" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w" -o "$tmp/crane" github.com/google/go-containerregistry/cmd/crane) ||
    die "building crane failed: see the go output above; check that the Go module proxy answers (go env GOPROXY)"
  mkdir -p "$(dirname "$CRANE_BIN")" && mv "$tmp/crane" "$CRANE_BIN" && rmdir "$tmp"
  at=$(date -u +%FT%TZ)
  record craneBuild "{\"seconds\": $((SECONDS - t0)), \"at\": \"$at\"}"
}

skopeo_tool() {
  local have
  if have=$(command -v skopeo); then log "    $have present"; return; fi
  log "    installing skopeo (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends skopeo >/dev/null ||
    die "apt-get could not install skopeo: check that the Debian archive answers (apt-get update)"
}

manifest_present() {
  curl -fs -o /dev/null -H "Accept: application/vnd.oci.image.index.v1+json" \
    -H "Accept: application/vnd.docker.distribution.manifest.list.v2+json" \
    "http://$REGISTRY_ADDR/v2/$1/manifests/$2"
}

# goroot ARCH DIR: the host's Go release for linux/ARCH (the toolchain cross-built for arm64).
goroot() {
  local arch=$1 dir=$2 src host
  src=$(go env GOROOT)
  host=$(go env GOARCH)
  mkdir -p "$dir/bin" "$dir/pkg/tool/linux_$arch" "$dir/pkg"
  cp -a "$src/src" "$src/VERSION" "$src/go.env" "$dir/"
  cp -a "$src/pkg/include" "$dir/pkg/"
  rm -rf "$dir/src/cmd" # the toolchain's own sources: not needed to build programs
  if [ "$arch" = "$host" ]; then
    cp -a "$src/bin/go" "$dir/bin/"
    cp -a "$src/pkg/tool/linux_$arch/"{asm,compile,link} "$dir/pkg/tool/linux_$arch/"
  else
    (cd "$src/src" && GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -trimpath -o "$dir/bin/" cmd/go &&
      GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -trimpath -o "$dir/pkg/tool/linux_$arch/" cmd/asm cmd/compile cmd/link)
  fi
}

golang_image() {
  if manifest_present bench/golang "$GO_VERSION-std"; then log "    $GOLANG_REF present"; return; fi
  local ctx builder=bench-fixtures
  ctx=$(mktemp -d)
  log "    cross-building Go $GO_VERSION for linux/arm64"
  goroot amd64 "$ctx/rootfs-amd64/usr/local/go"
  goroot arm64 "$ctx/rootfs-arm64/usr/local/go"
  mkdir -p "$ctx/rootfs-amd64/tmp" "$ctx/rootfs-arm64/tmp"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM 127.0.0.1:5000/fixtures/busybox:latest
ARG TARGETARCH
COPY rootfs-${TARGETARCH}/ /
ENV PATH=/usr/local/go/bin:/bin GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=0 HOME=/root GOPATH=/root/go
# The standard library the app imports, compiled as the app's build compiles it (-trimpath).
RUN GOARCH=$TARGETARCH go build -trimpath fmt runtime syscall
RUN if [ "$TARGETARCH" = amd64 ]; then GOARCH=arm64 go build -trimpath fmt runtime syscall; fi
DOCKERFILE
  docker buildx inspect "$builder" >/dev/null 2>&1 ||
    docker buildx create --name "$builder" --driver docker-container \
      --driver-opt "image=$PULUMI_MULTIARCH_BUILDKIT_IMAGE" --driver-opt network=host \
      --buildkitd-config "$ROOT/scripts/buildkitd.toml" >/dev/null
  log "    building $GOLANG_REF (the arm64 standard library compiles under QEMU: minutes)"
  docker buildx build --builder "$builder" --provenance=false --platform linux/amd64,linux/arm64 \
    -t "$GOLANG_REF" --push --progress plain "$ctx" 2>"$BENCH_CACHE/golang-build.log" ||
    { tail -30 "$BENCH_CACHE/golang-build.log" >&2; docker buildx rm "$builder" >/dev/null; rm -rf "$ctx"; die "building $GOLANG_REF failed"; }
  docker buildx rm "$builder" >/dev/null
  rm -rf "$ctx"
  # The cold standard-library compiles, from the plain progress (build arguments expanded):
  # "#12 [linux/arm64 3/4] RUN GOARCH=arm64 go build ..." then "#12 DONE 144.6s".
  local emulated cross
  emulated=$(awk '/\[linux\/arm64 [0-9]+\/[0-9]+\] RUN GOARCH=arm64/ {split($1, a, "#"); id=a[2]} id && $1 == "#"id && $2 == "DONE" {sub(/s$/, "", $3); print $3; exit}' "$BENCH_CACHE/golang-build.log")
  cross=$(awk '/\[linux\/amd64 [0-9]+\/[0-9]+\] RUN if/ {split($1, a, "#"); id=a[2]} id && $1 == "#"id && $2 == "DONE" {sub(/s$/, "", $3); print $3; exit}' "$BENCH_CACHE/golang-build.log")
  local at
  at=$(date -u +%FT%TZ)
  record golangStd "{\"emulatedArm64Seconds\": ${emulated:-null}, \"crossArm64Seconds\": ${cross:-null}, \"at\": \"$at\", \"ref\": \"$GOLANG_REF\"}"
}

# bench/fixtures.sh [peer|golang|crane|skopeo]...: the named fixtures, default all.
for f in "${@:-peer golang crane skopeo}"; do
  for g in $f; do
    case $g in
      peer) step "bench fixture: peer provider plugin" peer_provider ;;
      golang) step "bench fixture: $GOLANG_REF" golang_image ;;
      crane) step "bench fixture: crane $CRANE_VERSION" crane_tool ;;
      skopeo) step "bench fixture: skopeo" skopeo_tool ;;
      *) die "unknown fixture $g (peer, golang, crane, skopeo)" ;;
    esac
  done
done
