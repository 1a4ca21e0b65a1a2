#!/usr/bin/env bash
# The pinned Rust toolchain (rust-toolchain.toml's channel).
# usage: ci/build/rust-toolchain.sh name     prints it (e.g. 1.95.0)
#        ci/build/rust-toolchain.sh ensure   installs it with rustup when missing
#          (rustup checks it against the channel's signed manifest), and fails
#          when `cargo` in this tree would run another release
# Without rustup (a distribution's cargo) `ensure` fails unless rustc is
# already that release: a module built by another compiler is not the one
# the release tests and publishes.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
channel=$(sed -n 's/^channel = "\([^"]*\)"$/\1/p' "$here/rust-toolchain.toml")
[ -n "$channel" ] || { echo "rust-toolchain: no channel in rust-toolchain.toml" >&2; exit 1; }
case "${1:-}" in
  name) printf '%s\n' "$channel"; exit 0 ;;
  ensure) ;;
  *) echo "usage: ci/build/rust-toolchain.sh name|ensure" >&2; exit 2 ;;
esac
if command -v rustup >/dev/null; then
  if ! rustup run "$channel" rustc --version >/dev/null 2>&1; then
    echo "rust-toolchain: rustup toolchain install $channel (rust-toolchain.toml)" >&2
    timeout 900 rustup toolchain install --no-self-update "$channel" --profile minimal -c rustfmt -c clippy >&2
  fi
fi
have=$(cd "$here" && rustc --version) || { echo "rust-toolchain: no rustc" >&2; exit 1; }
case "$have" in
  "rustc $channel "*) ;;
  *) echo "rust-toolchain: rustc here is '$have', rust-toolchain.toml pins $channel" >&2; exit 1 ;;
esac
