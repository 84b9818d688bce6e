# Shared by scripts/*: paths, pinned versions, timed steps, the plan. Source it; do not run it.
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

# The plan (scripts/bootstrap). Steps run twice: a plan pass (PLAN=1) that only checks and
# prints what it would change, then a run pass (PLAN=0) that changes it. A step announces
# every change before making it, and makes it only when `change` says so:
#
#   change [--system|--root] VERB WHAT...    e.g.  change --root start "sshd on :2222" && start_sshd
#
# Plan pass: prints "VERB WHAT", counts it and returns 1, so the action is skipped. Run pass:
# logs the same line and returns 0. --system: outside this clone and $CACHE (the machine's
# engine, registry, ~/.docker); --root: system-wide and needs root (packages, /etc, /proc,
# services). `uses WHAT` says what is already there and used as it is; `blocked WHY` is
# something only the user can fix: listed by the plan pass, fatal in the run pass.
PLAN=0 PLANNED=0 PLANNED_SYSTEM=0 PLANNED_ROOT=0 BLOCKED=0
STEP_NAME="" STEP_SHOWN=""

log() { [ "$PLAN" = 1 ] || printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

plan_line() { # VERB TEXT: one line of the plan, under its step's name
  if [ "$STEP_SHOWN" != "$STEP_NAME" ]; then printf '  %s\n' "$STEP_NAME"; STEP_SHOWN=$STEP_NAME; fi
  printf '    %-9s %s\n' "$1" "$2"
}

change() {
  local mark=""
  case $1 in --system) mark=" [system]"; shift ;; --root) mark=" [system, root]"; shift ;; esac
  local verb=$1; shift
  if [ "$PLAN" = 0 ]; then log "    $verb $*$mark"; return 0; fi
  plan_line "$verb" "$*$mark"
  PLANNED=$((PLANNED + 1))
  [ -z "$mark" ] || PLANNED_SYSTEM=$((PLANNED_SYSTEM + 1))
  [ "$mark" != " [system, root]" ] || PLANNED_ROOT=$((PLANNED_ROOT + 1))
  return 1
}

uses() { if [ "$PLAN" = 1 ]; then plan_line uses "$*"; else log "    uses $*"; fi; }

blocked() {
  [ "$PLAN" = 1 ] || die "$*"
  plan_line BLOCKED "$*"
  BLOCKED=$((BLOCKED + 1))
  return 1
}

# plan_aware FN: FN, or a function it calls, speaks the plan's words (change, uses, blocked,
# plan_line). A step that does not is never run in the plan pass, where it would change things.
plan_aware() {
  local todo=("$1") seen=" " f body w
  while [ ${#todo[@]} -gt 0 ]; do
    f=${todo[0]} todo=("${todo[@]:1}")
    [[ $seen != *" $f "* ]] || continue
    seen+="$f "
    body=$(declare -f "$f") || continue
    ! grep -qE '(^|[;&|!({]|then|do|else|if)[[:space:]]*(change|uses|blocked|plan_line)([[:space:]]|$)' <<<"$body" || return 0
    for w in $(grep -oE '[a-z_][a-z0-9_]*' <<<"$body" | sort -u); do
      case $w in change | uses | blocked | plan_line | log | die) ;; *) ! declare -F "$w" >/dev/null || todo+=("$w") ;; esac
    done
  done
  return 1
}

# step NAME CMD...: runs CMD, printing the step's name, outcome and duration. In the plan
# pass a step's checks may meet what is not there yet (no engine before it is installed):
# that is what the plan is about, so only die stops it.
step() {
  local name=$1; shift
  if [ "$PLAN" = 1 ]; then
    STEP_NAME=$name
    if plan_aware "$1"; then "$@" || true; return 0; fi
    plan_line run "this step in the real run: it does not list what it changes (see change in scripts/lib.sh)"
    PLANNED=$((PLANNED + 1))
    return 0
  fi
  local t0=$SECONDS
  log "==> $name"
  "$@"
  log "    $name: done in $((SECONDS - t0))s"
}
