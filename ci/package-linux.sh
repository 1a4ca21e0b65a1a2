#!/usr/bin/env bash
# Builds the .deb (cargo-deb) and .rpm (cargo-generate-rpm) for one Linux
# architecture from the module ci/build-target.sh already built, into dist/.
# Usage: ci/package-linux.sh amd64|arm64 [deb|rpm|both]
# Metadata: [package.metadata.deb] / [package.metadata.generate-rpm] in
# Cargo.toml; files under packaging/.
set -euo pipefail
# shellcheck source=lib-err.sh
. "$(dirname "$0")/lib-err.sh"

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
arch=${1:?usage: ci/package-linux.sh amd64|arm64 [deb|rpm|both]}
what=${2:-both}
case "$arch" in
  amd64) triple=x86_64-unknown-linux-gnu ;;
  arm64) triple=aarch64-unknown-linux-gnu ;;
  *) echo "package-linux: unknown arch '$arch'" >&2; exit 2 ;;
esac
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target/cross}
dist=${DIST_DIR:-$here/dist}
build=${WPAM_BUILD_DIR:-$here/build}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

# The packages must carry exactly the module and the command in dist/linux-<arch>/.
for pair in libpam_wpam.so:pam_wpam.so wpam:wpam; do
  built=$CARGO_TARGET_DIR/$triple/release/${pair%%:*}
  [ -f "$built" ] || { echo "package-linux: $built missing; run ci/build-target.sh linux-$arch" >&2; exit 1; }
  shipped=$dist/linux-$arch/${pair#*:}
  if [ -f "$shipped" ] && ! cmp -s "$built" "$shipped"; then
    echo "package-linux: $built differs from $shipped" >&2
    exit 1
  fi
done

# Compressed man pages, reproducible (gzip -n: no name, no timestamp).
# The asset paths in Cargo.toml are relative to the source tree.
mkdir -p "$here/build/man"
for page in pam_wpam.8 wpam.8; do
  gzip -9 -n -c "packaging/man/$page" >"$here/build/man/$page.gz.new"
  mv "$here/build/man/$page.gz.new" "$here/build/man/$page.gz"
done
[ "$build" = "$here/build" ] || mkdir -p "$build"

mkdir -p "$dist"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

if [ "$what" != rpm ]; then
# .deb: the module is already stripped by the release profile (and for arm64
# the host strip could not read it): --no-strip keeps the exact bytes.
# Multi-Arch: foreign, not same: /usr/bin/wpam differs per architecture, so
# two architectures' packages cannot be installed side by side (cargo-deb
# still puts the module in the multiarch directory).
rm -f "$dist/wpam_${version}-"*"_$arch.deb"
cargo deb --no-build --no-strip --target "$triple" --multiarch=foreign \
  --output "$dist/" >&2
# cargo-deb writes no md5sums (dpkg --verify, debsums): added here.
ci/deb-md5sums.py "$dist/wpam_${version}-1_$arch.deb" >&2
ls "$dist/wpam_${version}-"*"_$arch.deb"
fi

if [ "$what" != deb ]; then
# .rpm, gzip payload (see Cargo.toml).
rpmarch=$([ "$arch" = amd64 ] && echo x86_64 || echo aarch64)
rm -f "$dist/wpam-${version}-"*".$rpmarch.rpm"
cargo generate-rpm --target "$triple" --target-dir "$CARGO_TARGET_DIR" \
  --payload-compress gzip -o "$dist/" >&2
ls "$dist/wpam-${version}-"*".$rpmarch.rpm"
fi
