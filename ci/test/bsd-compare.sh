#!/usr/bin/env bash
# Sets wpam's BSD objects (dist/) beside binaries that real BSD users load
# every day, taken from the npm registry: esbuild's executables for OpenBSD,
# NetBSD and FreeBSD (Go), a FreeBSD shared object (napi-rs, Rust) and an
# OpenBSD shared object built on OpenBSD (rollup, Rust). For each: ELF
# header OS/ABI and type, program headers, notes, NEEDED, and the IBT
# picture (endbr64 count, PT_OPENBSD_NOBTCFI, the GNU IBT property).
#
# Not part of `make test`: it needs the npm registry, and the pass/fail
# checks are on our objects only (tests/bsd_loaders.rs). Its output, for
# the pinned versions below, is in docs/bsd-loaders.md; run it again after
# changing the build and paste the new output there.
#
# Usage: ci/test/bsd-compare.sh [SCRATCH_DIR]   (default: a temporary directory)
# Needs: npm, binutils (readelf, objdump), dist/ built (./build-all.sh
# --no-docker freebsd-amd64 netbsd-amd64 openbsd-amd64).
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

packages=(
  @esbuild/openbsd-x64@0.28.2
  @esbuild/netbsd-x64@0.28.2
  @esbuild/freebsd-x64@0.28.2
  @napi-rs/nice-freebsd-x64@1.1.1
  @rollup/rollup-openbsd-x64@4.68.8
)
scratch=${1:-}
if [ -z "$scratch" ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/wpam-bsd-compare.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
fi
mkdir -p "$scratch"

command -v npm >/dev/null || { echo "bsd-compare: npm is needed" >&2; exit 1; }
for p in "${packages[@]}"; do
  dir=$scratch/$(tr '@/' '__' <<<"$p")
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    tgz=$(cd "$dir" && npm pack --silent "$p" | tail -n1)
    tar -xzf "$dir/$tgz" -C "$dir"
  fi
done

# One object: what each loader reads.
describe() { # label file
  local label=$1 f=$2 endbr nobtcfi ibt
  echo "### $label"
  echo
  echo '```'
  readelf -hW "$f" | sed -nE 's/^ +(OS\/ABI|Type): +/\1: /p'
  readelf -lW "$f" | sed -n '/^Program Headers:/,/^$/p' | grep -v '^$' | grep -v 'Requesting program interpreter' || :
  readelf -nW "$f" 2>/dev/null | awk '/^ +[A-Za-z]+ +0x/ { $1 = $1; print "note: " $0 }' || :
  readelf -dW "$f" | awk '/\((NEEDED|FLAGS|FLAGS_1)\)/ { $1 = ""; sub(/^ +/, ""); print "dynamic: " $0 }' || :
  endbr=$(objdump -d --no-show-raw-insn "$f" | grep -c $'\tendbr64' || :)
  nobtcfi=no
  readelf -lW "$f" | grep -qE 'LOOS\+0x5a3dbe8|OPENBSD_NOBTCFI' && nobtcfi=yes
  ibt=no
  readelf -nW "$f" 2>/dev/null | grep -q 'x86 feature: IBT' && ibt=yes
  echo "IBT: ${endbr:-0} endbr64, PT_OPENBSD_NOBTCFI $nobtcfi, GNU property IBT $ibt"
  echo '```'
  echo
}

echo "## Program headers side by side (ci/test/bsd-compare.sh, $(date -u +%Y-%m-%d))"
echo
describe "wpam NetBSD module (dist/netbsd-amd64/pam_wpam.so)" dist/netbsd-amd64/pam_wpam.so
describe "esbuild 0.28.2 for NetBSD (Go executable)" "$scratch"/_esbuild_netbsd-x64_0.28.2/package/bin/esbuild
describe "wpam FreeBSD module (dist/freebsd-amd64/pam_wpam.so)" dist/freebsd-amd64/pam_wpam.so
describe "@napi-rs/nice 1.1.1 for FreeBSD (Rust shared object)" "$scratch"/_napi-rs_nice-freebsd-x64_1.1.1/package/nice.freebsd-x64.node
describe "esbuild 0.28.2 for FreeBSD (Go executable)" "$scratch"/_esbuild_freebsd-x64_0.28.2/package/bin/esbuild
describe "wpam OpenBSD login style (dist/openbsd-amd64/login_-wpam)" dist/openbsd-amd64/login_-wpam
describe "esbuild 0.28.2 for OpenBSD (Go executable)" "$scratch"/_esbuild_openbsd-x64_0.28.2/package/bin/esbuild
describe "@rollup/rollup 4.68.8 for OpenBSD (Rust shared object, built on OpenBSD)" "$scratch"/_rollup_rollup-openbsd-x64_4.68.8/package/rollup.openbsd-x64.node
