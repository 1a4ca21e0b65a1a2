#!/usr/bin/env bash
# Installs the pinned supply-chain cargo subcommands the release and CI
# scripts use, each only when missing or at another version:
#   cargo-auditable  embeds the dependency tree in every module (.dep-v0)
#   cargo-cyclonedx  writes the release SBOM (CycloneDX JSON)
#   cargo-deny       licenses / bans / sources (and advisories where reachable)
#   cargo-mutants    mutation testing of the decision core (ci/test/mutants.sh;
#                    only when asked for: not in the default set)
# `cargo install --locked` into CARGO_INSTALL_ROOT or CARGO_HOME (~/.cargo/bin);
# afterwards each must be that version and the one first in PATH. CI caches
# them for the test jobs; the release job installs them afresh (no cache).
# Usage: ci/build/cargo-tools.sh [auditable] [cyclonedx] [deny] [mutants]
#        (default: auditable cyclonedx deny)
set -euo pipefail
# ci/lib/err.sh's trap, inline: the Dockerfile copies this script without it.
set -o errtrace
trap 'case $-:$BASHPID in *e*:"$$") echo "${BASH_SOURCE[0]:-$0}: line $LINENO: \`$BASH_COMMAND\` failed (exit $?)" >&2 ;; esac' ERR

CARGO_AUDITABLE_VERSION=${CARGO_AUDITABLE_VERSION:-0.7.7}
CARGO_CYCLONEDX_VERSION=${CARGO_CYCLONEDX_VERSION:-0.5.9}
CARGO_DENY_VERSION=${CARGO_DENY_VERSION:-0.20.2}
CARGO_MUTANTS_VERSION=${CARGO_MUTANTS_VERSION:-27.1.0}

log() { printf 'cargo-tools: %s\n' "$*" >&2; }

installed=$(cargo install --list 2>/dev/null || true)
tool() { # crate version
  # `cargo install --list` knows the version of every tool it installed
  # (cargo-auditable has no --version of its own).
  if ! grep -qxF -- "$1 v$2:" <<<"$installed" || ! command -v "$1" >/dev/null; then
    log "cargo install --locked $1 --version $2"
    cargo install --locked --quiet "$1" --version "$2"
    installed=$(cargo install --list 2>/dev/null || true)
  fi
  # What runs is what was pinned: cargo's record of the install, and the
  # binary first in PATH is the one cargo installed.
  grep -qxF -- "$1 v$2:" <<<"$installed" || { log "$1 is not v$2 after installing it"; exit 1; }
  local bin root
  bin=$(command -v "$1") || { log "$1 is not in PATH"; exit 1; }
  root=${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}
  [ "$bin" -ef "$root/bin/$1" ] || { log "$1 in PATH is $bin, not cargo's $root/bin/$1"; exit 1; }
}

[ $# -gt 0 ] || set -- auditable cyclonedx deny
for t in "$@"; do
  case "$t" in
    auditable) tool cargo-auditable "$CARGO_AUDITABLE_VERSION" ;;
    cyclonedx) tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION" ;;
    deny) tool cargo-deny "$CARGO_DENY_VERSION" ;;
    mutants) tool cargo-mutants "$CARGO_MUTANTS_VERSION" ;;
    *) log "unknown tool '$t' (auditable, cyclonedx, deny, mutants)"; exit 2 ;;
  esac
done
