#!/usr/bin/env bash
# build-all.sh hook: the netbsd package from the cross-built artifacts.
# Usage: packaging/netbsd/build.sh <dist>/netbsd-amd64 <dist>
# Writes <dist>/netbsd-amd64/wpam-<version>.tgz (the three BSD packages keep their
# native file names, and NetBSD's and OpenBSD's are both .tgz, so each goes
# beside its artifacts) and prints its path. VERSION and SOURCE_DATE_EPOCH
# come from the environment (build-all.sh exports them).
set -euo pipefail
# shellcheck source=../../ci/lib/err.sh
. "$(dirname "$0")/../../ci/lib/err.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
art=${1:?usage: packaging/netbsd/build.sh <dist>/netbsd-amd64 <dist>}
dist=${2:?usage: packaging/netbsd/build.sh <dist>/netbsd-amd64 <dist>}
exec python3 "$here/packaging/common/bsdpkg.py" netbsd "$art" "$dist/netbsd-amd64"
