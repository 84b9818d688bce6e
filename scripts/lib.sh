# shellcheck shell=bash
# Shared by scripts/*: paths, pinned versions, timed steps, the plan. Source it; do not run it.
#
# No silent exit: errexit holds in functions, subshells and command substitutions
# (-E, inherit_errexit), and whatever fails where errexit holds is reported by on_err with
# the step, the file and line, the command, its status and the fix where one is known. A
# check that may fail says so in the code (`if`, `||`), never by a bare `x=$(a | b)`.
set -Eeuo pipefail
shopt -s inherit_errexit

# ERR_FIX: the fix to print if a command of the current step fails (set by `fix`, cleared by
# `step`). Each report is marked in ERR_MARK, so that the callers a failure passes through
# (a command substitution, then the assignment of its output) add "from" lines, not a second
# error.
ERR_FIX=""
ERR_MARK="${TMPDIR:-/tmp}/pulumi-multiarch-err.$$"
fix() { ERR_FIX="$*"; }
on_err() {
  local rc=$? statuses="${PIPESTATUS[*]}" cmd=$BASH_COMMAND where="${BASH_SOURCE[1]:-$0}:${BASH_LINENO[0]}" fn="${FUNCNAME[1]:-main}"
  # In a pipeline, BASH_COMMAND is its last command: the statuses say which one failed.
  local pipeline=""
  [ "${statuses// /}" = "$rc" ] || pipeline=" (the end of a pipeline whose exit statuses are $statuses)"
  where=${where#"${ROOT:-}"/}
  # shellcheck disable=SC2016 # the backquotes are text
  if [ -e "$ERR_MARK" ]; then
    printf '  from %s (%s), `%s`\n' "$where" "$fn" "$cmd" >&2
  else
    : >"$ERR_MARK"
    printf 'error: %s: `%s`%s failed with exit status %d (%s, in %s)\n' "${STEP_NAME:-${0##*/}}" "$cmd" "$pipeline" "$rc" "$where" "$fn" >&2
    printf '  fix: %s\n' "${ERR_FIX:-run again as bash -x $0 to see every command; the line above names the one that failed}" >&2
  fi
  # The outermost shell ends here: the mark was only for the shells in between.
  [ "$BASH_SUBSHELL" != 0 ] || rm -f "$ERR_MARK"
}
rm -f "$ERR_MARK"
trap on_err ERR

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$ROOT/scripts/versions.env"

# Used by the scripts that source this (hence SC2034).
# Git-ignored, per clone: the tools on PATH, and everything services write.
TOOLS="$ROOT/.tools"
# What only the tests run (test daemons' clients, credential helpers, sdkgen): never on the
# PATH scripts/env.sh and npm run up give a user (scripts/test adds it).
# shellcheck disable=SC2034
TEST_BIN="$TOOLS/test-bin"
# shellcheck disable=SC2034
STATE="$ROOT/.state"
# Outside the clone, keyed by version: a fresh clone on a warm machine skips Go builds.
# shellcheck disable=SC2034
CACHE="${PULUMI_MULTIARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-multiarch}"
# shellcheck disable=SC2034
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
# something only the user can fix: listed by the plan pass (which goes on), fatal in the run pass.
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
}

# plan_aware FN: FN, or a function it calls, speaks the plan's words (change, uses, blocked,
# plan_line). A step that does not is never run in the plan pass, where it would change things.
plan_aware() {
  local todo=("$1") seen=" " f body w words
  while [ ${#todo[@]} -gt 0 ]; do
    f=${todo[0]} todo=("${todo[@]:1}")
    [[ $seen != *" $f "* ]] || continue
    seen+="$f "
    body=$(declare -f "$f") || continue
    ! grep -qE '(^|[;&|!({]|then|do|else|if)[[:space:]]*(change|uses|blocked|plan_line)([[:space:]]|$)' <<<"$body" || return 0
    words=$(grep -oE '[a-z_][a-z0-9_]*' <<<"$body" | sort -u)
    while read -r w; do
      case $w in change | uses | blocked | plan_line | log | die) ;; *) ! declare -F "$w" >/dev/null || todo+=("$w") ;; esac
    done <<<"$words"
  done
  return 1
}

# step NAME CMD...: runs CMD, printing the step's name, outcome and duration. The plan pass
# runs it under the same rules as the run pass: a check that meets what is not there yet (no
# engine before it is installed) says so in its own code; any other failure stops the plan
# with the step and the command named (on_err), rather than planning past it.
step() {
  STEP_NAME=$1 ERR_FIX=""; shift
  if [ "$PLAN" = 1 ]; then
    if plan_aware "$1"; then "$@"; return 0; fi
    plan_line run "this step in the real run: it does not list what it changes (see change in scripts/lib.sh)"
    PLANNED=$((PLANNED + 1))
    return 0
  fi
  local t0=$SECONDS
  log "==> $STEP_NAME"
  "$@"
  log "    $STEP_NAME: done in $((SECONDS - t0))s"
}

# part NAME CMD...: runs the command CMD (a program, not a function of ours) as a part of the
# tests, printing its name, outcome and duration; returns CMD's status. Not step: a caller that
# counts failures writes `part ... || ...`, and under `||` bash turns errexit off, so step would
# go on past a failed CMD and return 0 (a type error once counted as nothing).
part() {
  local name=$1 t0=$SECONDS rc=0
  shift
  log "==> $name"
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then
    log "    $name: done in $((SECONDS - t0))s"
  else
    log "    $name: failed (exit $rc) after $((SECONDS - t0))s"
  fi
  return "$rc"
}
