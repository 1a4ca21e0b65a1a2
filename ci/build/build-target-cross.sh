#!/usr/bin/env bash
# Builds one target's module with cross-rs (Cross.toml) instead of the host
# zig toolchain; used by `WPAM_BUILD=cross ./build-all.sh` where Docker runs.
# Same output location as ci/build/build-target.sh: dist/<target>/pam_wpam.so, wpam.
# Usage: ci/build/build-target-cross.sh linux-amd64|linux-arm64|freebsd-amd64|netbsd-amd64
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
target=${1:?usage: ci/build/build-target-cross.sh <target>}
case "$target" in
  linux-amd64) triple=x86_64-unknown-linux-gnu ;;
  linux-arm64) triple=aarch64-unknown-linux-gnu ;;
  freebsd-amd64) triple=x86_64-unknown-freebsd ;;
  netbsd-amd64) triple=x86_64-unknown-netbsd ;;
  *) echo "build-target-cross: $target is built on the zig path only" >&2; exit 2 ;;
esac
command -v cross >/dev/null || cargo install --locked cross --version 0.2.5
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH
# cross mounts the project at /project and CARGO_HOME at /cargo.
export RUSTFLAGS="--remap-path-prefix=/project=/build/wpam --remap-path-prefix=/cargo=/cargo"
cross build --release --locked --lib --bin wpam --target "$triple"
dist=${DIST_DIR:-$here/dist}
mkdir -p "$dist/$target"
install -m 0644 "target/$triple/release/libpam_wpam.so" "$dist/$target/pam_wpam.so"
install -m 0755 "target/$triple/release/wpam" "$dist/$target/wpam"
