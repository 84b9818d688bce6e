#!/bin/sh
# Entry point of the emulator-install fixture image (127.0.0.1:5000/fixtures/binfmt), our
# stand-in for docker/binfmt and tonistiigi/binfmt, which Docker Hub would serve:
#   docker run --rm --privileged <image> --install arm64,riscv64
# registers each architecture's QEMU handler with flag F from the image's own interpreters;
# F makes the kernel keep the interpreter open, so handlers outlive the container.
set -eu
dir=/proc/sys/fs/binfmt_misc
[ -e "$dir/register" ] || mount -t binfmt_misc binfmt_misc "$dir"
if [ "${1:-}" != "--install" ] || [ -z "${2:-}" ]; then echo "usage: --install arch[,arch...]" >&2; exit 2; fi
for arch in $(echo "$2" | tr ',' ' '); do
  case "$arch" in
    arm64) q=aarch64 ;; arm) q=arm ;; riscv64) q=riscv64 ;; ppc64le) q=ppc64le ;; s390x) q=s390x ;;
    *) echo "unsupported architecture: $arch" >&2; exit 2 ;;
  esac
  def=/usr/share/binfmts/qemu-$q
  if [ -e "$dir/qemu-$q" ]; then echo "qemu-$q already registered"; continue; fi
  magic=$(sed -n 's/^magic //p' "$def")
  mask=$(sed -n 's/^mask //p' "$def")
  offset=$(sed -n 's/^offset //p' "$def")
  printf '%s' ":qemu-$q:M:${offset:-0}:$magic:$mask:/usr/bin/qemu-$q-static:F" > "$dir/register"
  echo "registered qemu-$q"
done
