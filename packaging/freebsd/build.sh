#!/usr/bin/env bash
# build-all.sh hook: the freebsd package from the cross-built artifacts, made
# by FreeBSD's own `pkg create` (pkg 2.8.4, built for this host by
# packaging/freebsd/pkg-tool.sh), as the ports tree makes a package: from a metadata
# directory (+MANIFEST, scripts, message) and a staged root, both written by
# packaging/freebsd/stage.py from packaging/freebsd/.
# Usage: packaging/freebsd/build.sh <dist>/freebsd-amd64 <dist>
# Writes <dist>/freebsd-amd64/wpam-<version>.pkg (the three BSD packages keep their
# native file names, and NetBSD's and OpenBSD's are both .tgz, so each goes
# beside its artifacts) and prints its path. VERSION and SOURCE_DATE_EPOCH
# come from the environment (build-all.sh exports them).
#
# Reproducible bytes (ci/test/reproducible.sh): pkg create stamps every
# entry with -t SOURCE_DATE_EPOCH and takes owner, group and mode from the
# manifest, in the manifest's order; but on a host that is not FreeBSD it
# copies uid and gid from the staged files (libpkg packing.c sets them only
# under __FreeBSD__), so the staged root must be root's: as root, or under
# fakeroot. txz, one compression thread (liblzma's multi-threaded encoder
# cuts blocks by the number of threads) and a fixed level, not pkg's default
# tzst: xz output is the same from one liblzma release to the next, and the
# package tests read it with lzma-rs. pkg 1.x and 2.x both install txz.
set -euo pipefail
# shellcheck source=../../ci/lib/err.sh
. "$(dirname "$0")/../../ci/lib/err.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
usage="usage: packaging/freebsd/build.sh <dist>/freebsd-amd64 <dist>"
art=${1:?$usage}
dist=${2:?$usage}
out=$dist/freebsd-amd64
die() { echo "pkg-freebsd: $*" >&2; exit 1; }

epoch=${SOURCE_DATE_EPOCH:-0}
version=${VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -n 1)}
[ -n "$version" ] || die "no VERSION and none in Cargo.toml"
pkg=$("$here/packaging/freebsd/pkg-tool.sh") || die "packaging/freebsd/pkg-tool.sh could not build FreeBSD's pkg"

work=$(mktemp -d "${TMPDIR:-/tmp}/wpam-pkg-freebsd.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/out"

as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v fakeroot >/dev/null || die "not root and no fakeroot: the package's files would carry uid $(id -u) (apt-get install fakeroot)"
  as_root=(fakeroot --)
fi
# One session, so that under fakeroot pkg create sees the chown. No
# pkg.conf and no repository of this host: only what the command line says.
# shellcheck disable=SC2016 # $1..$6: the inner shell's positional parameters
"${as_root[@]}" sh -c '
  set -eu
  VERSION=$4 python3 "$1/packaging/freebsd/stage.py" "$2" "$3/root" "$3/meta"
  chown -R 0:0 "$3/root"
  "$5" -C /dev/null -R /nonexistent create -q -f txz -l 6 -T 1 -t "$6" \
    -r "$3/root" -m "$3/meta" -o "$3/out"
' sh "$here" "$art" "$work" "$version" "$pkg" "$epoch" || die "staging or pkg create failed"
made=$work/out/wpam-$version.pkg
[ -s "$made" ] || die "pkg create wrote no $made"
mv -f "$made" "$out/wpam-$version.pkg"
echo "$out/wpam-$version.pkg"
