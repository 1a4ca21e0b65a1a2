#!/usr/bin/env bash
# Builds every wpam target and package into dist/:
#   dist/<target>/pam_wpam.so      linux-amd64 linux-arm64 freebsd-amd64
#                                  netbsd-amd64 openbsd-amd64 (OpenBSD: login_-wpam)
#                                  macos-universal (a universal Mach-O dylib)
#   dist/<target>/wpam             the wpam command (check, test), every target
#   dist/wpam_<v>-1_{amd64,arm64}.deb, dist/wpam-<v>-1.{x86_64,aarch64}.rpm
#   dist/wpam-<v>-<target>.tar.gz  one per target (macOS: its only package)
#   dist/wpam.rb                   the Homebrew formula of the macOS tarball, its
#                                  release URL and SHA-256 filled in
#                                  (packaging/homebrew/build.sh)
#   BSD packages, when the hooks packaging/freebsd/build.sh, packaging/netbsd/build.sh,
#   packaging/openbsd/build.sh exist (called as `packaging/<os>/build.sh <dist>/<os>-amd64 <dist>`
#   with VERSION and SOURCE_DATE_EPOCH exported; they write into <dist>/ and
#   print the paths they made)
#   dist/SHA256SUMS
# then prints a table (target, file, size, sha256) and exits non-zero if any
# step failed (after trying all of them).
#
# Build path: where a Docker engine answers (`docker info`), the pinned image
# from ./Dockerfile runs this same script inside, so the toolchain is the
# pinned one; otherwise (said on stderr; or with WPAM_BUILD=zig / --no-docker)
# cargo-zigbuild + ziglang on this host. WPAM_BUILD=docker (the release
# workflow) requires the image: no engine is an error, never a fallback.
# WPAM_BUILD=cross builds the modules with cross-rs (Cross.toml) instead of
# zig. Same outputs either way.
#
# Usage: ./build-all.sh [--no-docker] [--no-setup] [target...]
set -euo pipefail
# shellcheck source=ci/lib/err.sh
. "$(dirname "$0")/ci/lib/err.sh"

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

all_targets=(linux-amd64 linux-arm64 freebsd-amd64 netbsd-amd64 openbsd-amd64 macos-universal)
mode=${WPAM_BUILD:-auto}
setup=1
targets=()
for a in "$@"; do
  case "$a" in
    --no-docker) mode=zig ;;
    --no-setup) setup=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "build-all: unknown option $a" >&2; exit 2 ;;
    *) targets+=("$a") ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
export VERSION
dist=${DIST_DIR:-$here/dist}
export DIST_DIR=$dist

if [ "$mode" = auto ]; then
  if command -v docker >/dev/null 2>&1 && timeout 60 docker info >/dev/null 2>&1; then
    mode=docker
  else
    mode=zig
    echo "build-all: no Docker engine answers: building with this host's toolchain, not the pinned image" \
      "(WPAM_BUILD=docker makes that an error)" >&2
  fi
elif [ "$mode" = docker ]; then
  # Asked for the pinned image (the release workflow): never the host's tools.
  if ! command -v docker >/dev/null 2>&1 || ! timeout 60 docker info >/dev/null 2>&1; then
    echo "build-all: WPAM_BUILD=docker but no Docker engine answers (docker info): not building" >&2
    exit 1
  fi
fi

if [ "$mode" = docker ]; then
  # Tagged by what the image is made of (.dockerignore keeps the rest out).
  image=wpam-build:$(cat Dockerfile ci/install-deps.sh ci/build/setup-cross.sh ci/build/cargo-tools.sh ci/build/requirements-cross.txt 2>/dev/null | sha256sum | cut -c1-12)
  echo "build-all: Docker engine found: building in $image" >&2
  docker build -t "$image" . >&2
  exec docker run --rm -e SOURCE_DATE_EPOCH -e WPAM_BUILD=zig \
    -v "$here:/src" -w /src "$image" ./build-all.sh --no-setup "${targets[@]}"
fi

start=$(date +%s)
echo "build-all: wpam $VERSION, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, mode=$mode, targets: ${targets[*]}" >&2
[ "$setup" = 0 ] || ci/build/setup-cross.sh

failed=()
step() { # name command...
  local name=$1
  shift
  echo "=== build-all: $name" >&2
  if ! "$@"; then
    echo "!!! build-all: $name FAILED" >&2
    failed+=("$name")
    return 1
  fi
}

mkdir -p "$dist" "$here/build"
# What the artifacts were stamped with (ci/test/packages.sh checks the tarballs).
echo "$SOURCE_DATE_EPOCH" >"$here/build/source-date-epoch"
for t in "${targets[@]}"; do
  if [ "$mode" = cross ] && [ "$t" != openbsd-amd64 ]; then
    step "build $t" ci/build/build-target-cross.sh "$t" || continue
  else
    step "build $t" ci/build/build-target.sh "$t" || continue
  fi
  step "tarball $t" packaging/tarball/build.sh "$t" || true
  case "$t" in
    linux-amd64) step "deb+rpm amd64" packaging/linux.sh amd64 || true ;;
    linux-arm64) step "deb+rpm arm64" packaging/linux.sh arm64 || true ;;
    freebsd-amd64 | netbsd-amd64 | openbsd-amd64)
      hook=packaging/${t%%-*}/build.sh
      if [ -x "$hook" ]; then
        step "package $t ($hook)" "$hook" "$dist/$t" "$dist" || true
      else
        echo "build-all: no $hook yet: no ${t%%-*} package" >&2
      fi
      ;;
    # No .deb, .rpm or BSD package: the tarball, and the Homebrew formula
    # that installs from it (its release URL and SHA-256).
    macos-universal) step "homebrew formula" packaging/homebrew/build.sh "$dist/wpam-$VERSION-$t.tar.gz" "$dist/wpam.rb" || true ;;
  esac
done

# SHA256SUMS over every artifact: per-target binaries and top-level packages.
(
  cd "$dist"
  find . -mindepth 1 -maxdepth 2 -type f ! -name SHA256SUMS ! -name '*.new' \
    -printf '%P\n' | LC_ALL=C sort | xargs -r sha256sum >"$here/build/SHA256SUMS.new"
  mv "$here/build/SHA256SUMS.new" SHA256SUMS
)

end=$(date +%s)
printf '\n%-16s %-44s %10s  %s\n' TARGET FILE SIZE SHA256
while read -r sum file; do
  case "$file" in
    */*) tgt=${file%%/*} ;;
    *.deb) tgt=$(sed -E 's/.*_([a-z0-9]+)\.deb$/linux-\1/' <<<"$file") ;;
    *.x86_64.rpm) tgt=linux-amd64 ;;
    *.aarch64.rpm) tgt=linux-arm64 ;;
    *.tar.gz) tgt=$(sed -E "s/^wpam-$VERSION-(.*)\.tar\.gz$/\1/" <<<"$file") ;;
    wpam.rb) tgt=macos-universal ;;
    *) tgt=- ;;
  esac
  printf '%-16s %-44s %10s  %s\n' "$tgt" "$file" "$(stat -c %s "$dist/$file")" "$sum"
done <"$dist/SHA256SUMS"
echo
echo "build-all: $(( end - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "build-all: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "build-all: all ${#targets[@]} targets OK" >&2
