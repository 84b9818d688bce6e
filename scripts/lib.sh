# Shared by scripts/*: paths, pinned versions, timed steps. Source it; do not run it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$ROOT/scripts/versions.env"

# Git-ignored, per clone: the tools on PATH, and everything services write.
TOOLS="$ROOT/.tools"
STATE="$ROOT/.state"
# Outside the clone, keyed by version: a fresh clone on a warm machine skips Go builds.
CACHE="${PULUMI_MULTIARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-multiarch}"

BUILDKIT_IMAGE="pulumi-multiarch/buildkit:v${BUILDKIT_VERSION}"

export PATH="$TOOLS/bin:$PATH"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# step NAME CMD...: runs CMD, printing the step's name, outcome and duration.
step() {
  local name=$1; shift
  local t0=$SECONDS
  log "==> $name"
  "$@"
  log "    $name: done in $((SECONDS - t0))s"
}
