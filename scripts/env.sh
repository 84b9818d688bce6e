# shellcheck shell=bash
# Source this to use the project's toolchain directly:  source scripts/env.sh
# Puts pulumi, buildctl and friends on PATH and points Pulumi at a local, offline backend.
_pm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$_pm_root/.tools/bin:$PATH"
export PULUMI_BACKEND_URL="file://$_pm_root/.state/pulumi"
export PULUMI_HOME="$_pm_root/.state/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
# Dev-only passphrase for the local stacks' secrets. It protects nothing: never reuse it
# for a stack whose state leaves this machine (set your own PULUMI_CONFIG_PASSPHRASE).
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-pulumi-multiarch-dev-only}"
# The BuildKit image scripts/bootstrap builds; BuildxBuilder's default for docker-container.
export PULUMI_MULTIARCH_BUILDKIT_IMAGE="${PULUMI_MULTIARCH_BUILDKIT_IMAGE:-pulumi-multiarch/buildkit:v$(sed -n 's/^BUILDKIT_VERSION=//p' "$_pm_root/scripts/versions.env")}"
# Built tools and machine-wide test services (sshd keys) live here, outside any clone.
export PULUMI_MULTIARCH_CACHE="${PULUMI_MULTIARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-multiarch}"
unset _pm_root
