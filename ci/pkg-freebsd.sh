#!/usr/bin/env bash
# build-all.sh hook: the freebsd package from the cross-built artifacts.
# Usage: ci/pkg-freebsd.sh <dist>/freebsd-amd64 <dist>
# Writes <dist>/freebsd-amd64/wpam-<version>.pkg (the three BSD packages keep their
# native file names, and NetBSD's and OpenBSD's are both .tgz, so each goes
# beside its artifacts) and prints its path. VERSION and SOURCE_DATE_EPOCH
# come from the environment (build-all.sh exports them).
set -euo pipefail
# shellcheck source=lib-err.sh
. "$(dirname "$0")/lib-err.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
art=${1:?usage: ci/pkg-freebsd.sh <dist>/freebsd-amd64 <dist>}
dist=${2:?usage: ci/pkg-freebsd.sh <dist>/freebsd-amd64 <dist>}
exec python3 "$here/ci/bsdpkg.py" freebsd "$art" "$dist/freebsd-amd64"
