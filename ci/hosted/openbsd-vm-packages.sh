#!/usr/bin/env bash
# The OpenBSD packages the OpenBSD VM jobs install (.github/workflows/bsd.yml,
# ci/hosted/bsd-vm-openbsd.sh), signed as a release signs them:
#   OUT/wpam-<v>.tgz              dist's package, signed
#   OUT/update/wpam-<v>p1.tgz     the same package one revision later (pN is
#                                 OpenBSD's package revision: newer than <v>)
#                                 whose style has other bytes (a marker appended
#                                 after the ELF's last byte, which no loader
#                                 reads), signed: what `pkg_add -u` must put in
#                                 place of the running style
#   OUT/update/login_-wpam.sha256 that style's SHA-256 (hex)
#   OUT/wpam-throwaway-pkg.pub    the public half of the throwaway key both are
#                                 signed with (ci/release/sign-openbsd.sh --throwaway);
#                                 the VM installs it in /etc/signify
# Usage: ci/hosted/openbsd-vm-packages.sh DIST OUT   (DIST: build-all.sh's dist/)
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
dist=${1:?usage: ci/hosted/openbsd-vm-packages.sh DIST OUT}
out=${2:?usage: ci/hosted/openbsd-vm-packages.sh DIST OUT}
VERSION=${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -n1)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct)}
export SOURCE_DATE_EPOCH

mkdir -p "$out/update"
cp "$dist/openbsd-amd64/wpam-$VERSION.tgz" "$out/"
art=$(mktemp -d)
trap 'rm -rf "$art"' EXIT
cp "$dist/openbsd-amd64/login_-wpam" "$dist/openbsd-amd64/wpam" "$art/"
chmod u+w "$art/login_-wpam"
printf '\nwpam VM update test %sp1\n' "$VERSION" >>"$art/login_-wpam"
sha256sum "$art/login_-wpam" | cut -d' ' -f1 >"$out/update/login_-wpam.sha256"
VERSION=${VERSION}p1 python3 "$here/packaging/common/bsdpkg.py" openbsd "$art" "$out/update" >/dev/null
"$here/ci/release/sign-openbsd.sh" --throwaway "$out" "$out/wpam-$VERSION.tgz" "$out/update/wpam-${VERSION}p1.tgz"
ls -l "$out" "$out/update" >&2
