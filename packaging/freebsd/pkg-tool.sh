#!/usr/bin/env bash
# FreeBSD's own package manager, pkg 2.8.4 (github.com/freebsd/pkg, BSD-2-Clause),
# built for this Linux host, so that the tests and the release run the real
# `pkg` over our .pkg and our repositories (tests/freebsd_pkg.rs,
# ci/release/freebsd-repo.sh, ci/release/release.sh). Built once into a prefix and reused;
# prints the path of the pkg binary on stdout.
#
#   packaging/freebsd/pkg-tool.sh            build if needed, print PREFIX/sbin/pkg
#
# Where the source comes from (WPAM_FREEBSD_PKG_SOURCE):
#   vendored  third_party/freebsd-pkg/pkg-2.8.4-src.tar.gz, checked against
#             its sha256 below: upstream's tag 2.8.4 minus SQLite's
#             amalgamation (external/sqlite/sqlite3.c, 9 MB) and three libecc
#             test-vector headers the build does not use. The amalgamation
#             comes from the libsqlite3-sys crate (crates.io, the version
#             pinned below, its sqlite3.c/.h checked against their sha256).
#             Needs only crates.io: the default, and what `make test` uses.
#   upstream  `git clone` of the tag from GitHub, checked to be the commit
#             below; every file of the vendored tarball must then be the same
#             blob as in that commit (so the vendored copy is upstream's).
#             The default under GITHUB_ACTIONS=true (hosted CI).
# Either way the result is the same release; a prefix built from one is
# reused by the other. Nothing is skipped: a failed check or build exits 1.
#
# Environment:
#   WPAM_FREEBSD_PKG_PREFIX   where to install (default build/freebsd-pkg-2.8.4)
#   WPAM_FREEBSD_PKG_SOURCE   vendored | upstream (see above)
# Build dependencies are Debian/Ubuntu packages (ci/install-deps.sh lists them
# too): installed here as root or through password-less sudo, else the
# apt-get command is printed.
set -euo pipefail
# shellcheck source=../../ci/lib/err.sh
. "$(dirname "$0")/../../ci/lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
PKG_VERSION=2.8.4
PKG_TAG=2.8.4
PKG_COMMIT=e1d90eb706cbb4588bbd71bf205843b751c0be51
PKG_REPO=https://github.com/freebsd/pkg.git
VENDORED=$here/third_party/freebsd-pkg/pkg-$PKG_VERSION-src.tar.gz
VENDORED_SHA256=31c98aee62bf3d7dcea6185aa5b9b8fed71e45180b7f03b696d0f7c6de878974
SQLITE_CRATE=libsqlite3-sys
SQLITE_CRATE_VERSION=0.40.0
SQLITE_C_SHA256=0c657666d819f261cc4007526ad57e1669de9949df7a8ea847aa284a2bf0ee52
SQLITE_H_SHA256=d6c84557261893439b341d2e6c35187ae3ea24fbfd843ad94616f72d89242b8c
BUILD_DEBS=(build-essential pkg-config m4 libarchive-dev libssl-dev liblzma-dev zlib1g-dev
  libbz2-dev libbsd-dev libattr1-dev libacl1-dev)

prefix=${WPAM_FREEBSD_PKG_PREFIX:-$here/build/freebsd-pkg-$PKG_VERSION}
source=${WPAM_FREEBSD_PKG_SOURCE:-$([ "${GITHUB_ACTIONS:-}" = true ] && echo upstream || echo vendored)}
log() { printf 'freebsd-pkg: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
case "$source" in vendored | upstream) ;; *) die "WPAM_FREEBSD_PKG_SOURCE=$source (vendored or upstream)" ;; esac

built() { [ -x "$prefix/sbin/pkg" ] && [ "$("$prefix/sbin/pkg" -v 2>/dev/null)" = "$PKG_VERSION" ]; }
if built; then
  echo "$prefix/sbin/pkg"
  exit 0
fi

# One build at a time (the tests run in several processes): the others wait
# here, bounded, then find it built.
mkdir -p "$(dirname "$prefix")"
exec 9>"$prefix.lock"
flock -w 900 9 || die "another build of pkg holds $prefix.lock for 15 min"
if built; then
  echo "$prefix/sbin/pkg"
  exit 0
fi

sha256_is() { # file sha256
  [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || die "$1: sha256 $(sha256sum "$1" | cut -d' ' -f1), want $2"
}

missing=()
for d in "${BUILD_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
if [ ${#missing[@]} -gt 0 ]; then
  # As root, or through sudo where it needs no password (a hosted runner).
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    sudo -n true 2>/dev/null || die "missing Debian packages: sudo apt-get install -y ${missing[*]}"
    sudo=(sudo -n)
  fi
  log "apt-get install ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    { "${sudo[@]}" apt-get update -qq &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/wpam-freebsd-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
sha256_is "$VENDORED" "$VENDORED_SHA256"
tar -xzf "$VENDORED" -C "$work"
vendored_tree=$work/pkg-$PKG_VERSION

if [ "$source" = upstream ]; then
  log "git clone --branch $PKG_TAG $PKG_REPO"
  timeout 600 git clone --quiet --depth 1 --branch "$PKG_TAG" -c advice.detachedHead=false \
    "$PKG_REPO" "$work/upstream" >&2
  got=$(git -C "$work/upstream" rev-parse HEAD)
  [ "$got" = "$PKG_COMMIT" ] || die "tag $PKG_TAG is $got, want $PKG_COMMIT"
  # The vendored copy, file by file, against the commit's blobs.
  (cd "$vendored_tree" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$work/vendored.list"
  # "<blob> <path>" lines, sorted on the path alone, as join wants them.
  (cd "$vendored_tree" && git hash-object --no-filters --stdin-paths <"$work/vendored.list") |
    paste -d' ' - "$work/vendored.list" | LC_ALL=C sort -t' ' -k2,2 >"$work/vendored.blobs"
  git -C "$work/upstream" ls-tree -r HEAD | awk '{ print $3 " " $4 }' |
    LC_ALL=C sort -t' ' -k2,2 >"$work/upstream.blobs"
  differ=$(LC_ALL=C join -t' ' -1 2 -2 2 -a 1 -e MISSING -o 0,1.1,2.1 \
    "$work/vendored.blobs" "$work/upstream.blobs" | awk '$2 != $3 { print $1 }')
  [ -z "$differ" ] || die "vendored files that are not upstream's $PKG_TAG: $differ"
  log "ok   the vendored tarball's $(wc -l <"$work/vendored.list") files are upstream $PKG_TAG's ($PKG_COMMIT)"
  src=$work/upstream
else
  # SQLite's amalgamation from the libsqlite3-sys crate (cargo verifies the
  # .crate against the registry index; the two files are checked here).
  mkdir -p "$work/sq/src"
  printf '[package]\nname = "sqlite-source"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = { version = "=%s", features = ["bundled"] }\n' \
    "$SQLITE_CRATE" "$SQLITE_CRATE_VERSION" >"$work/sq/Cargo.toml"
  : >"$work/sq/src/lib.rs"
  (cd "$work/sq" && timeout 600 cargo fetch -q) || die "cargo fetch $SQLITE_CRATE $SQLITE_CRATE_VERSION"
  crate=$(cd "$work/sq" && cargo metadata -q --format-version 1 | python3 -c '
import json, os, sys
m = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"] == sys.argv[1]))' "$SQLITE_CRATE")
  sha256_is "$crate/sqlite3/sqlite3.c" "$SQLITE_C_SHA256"
  sha256_is "$crate/sqlite3/sqlite3.h" "$SQLITE_H_SHA256"
  cp "$crate/sqlite3/sqlite3.c" "$crate/sqlite3/sqlite3.h" "$vendored_tree/external/sqlite/"
  src=$vendored_tree
fi

log "building pkg $PKG_VERSION ($source) into $prefix"
rm -rf "$prefix"
(cd "$src" && ./configure --prefix="$prefix" >"$work/configure.log" 2>&1) ||
  { tail -n 20 "$work/configure.log" >&2; die "configure failed"; }
(cd "$src" && timeout 900 make -j"$(nproc)" >"$work/make.log" 2>&1) ||
  { tail -n 30 "$work/make.log" >&2; die "make failed"; }
(cd "$src" && make install >"$work/install.log" 2>&1) ||
  { tail -n 20 "$work/install.log" >&2; die "make install failed"; }
built || die "$prefix/sbin/pkg -v does not say $PKG_VERSION"
printf 'pkg %s from %s (%s)\n' "$PKG_VERSION" "$source" "$([ "$source" = upstream ] && echo "$PKG_COMMIT" || echo "$VENDORED_SHA256")" \
  >"$prefix/BUILT-FROM"
log "ok   pkg $PKG_VERSION built in $(($(date +%s) - t0)) s"
echo "$prefix/sbin/pkg"
