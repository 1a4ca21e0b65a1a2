#!/usr/bin/env bash
# `make test-macos`: everything about macOS this Linux machine can check.
#   1. the universal module and command in dist/macos-universal/ (built with
#      ./build-all.sh --no-docker macos-universal when missing, unless
#      WPAM_MACOS_NO_BUILD=1: then the checks skip);
#   2. tests/macos.rs over them (nextest, with its time limits): both slices,
#      install name, exports, only libpam and libSystem, libpam imports within
#      Apple's exports, macOS 11, every page hash of the code signature;
#      Apple's OpenPAM numbers and libpam-sys's choice for the macOS targets
#      are in tests/openpam_constants.rs (make test-bsd);
#   3. lints of what only runs on a Mac: shellcheck over ci/hosted/macos.sh
#      (the hosted macos job of .github/workflows/ci.yml, which installs the
#      tarball and the formula and logs in through Apple's libpam and sshd).
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
log() { printf 'test-macos: %s\n' "$*" >&2; }
failed=()

have_all() { [ -f dist/macos-universal/pam_wpam.so ] && [ -f dist/macos-universal/wpam ]; }
if ! have_all && [ "${WPAM_MACOS_NO_BUILD:-0}" != 1 ]; then
  log "macOS artifacts missing: ./build-all.sh --no-docker macos-universal"
  ./build-all.sh --no-docker macos-universal >&2 || failed+=(build-all)
fi
if have_all; then
  export WPAM_REQUIRE_MACOS_ARTIFACTS=1
elif [ "${CI:-}" = true ]; then
  failed+=(artifacts)
else
  log "WARNING: macOS artifacts not built: the Mach-O checks skip"
fi

make --no-print-directory nextest >&2
if cargo nextest run --locked --test macos; then
  log "ok   tests/macos.rs"
else
  failed+=(cargo-test)
fi

if [ -f ci/hosted/macos.sh ]; then
  if shellcheck ci/hosted/macos.sh; then log "ok   shellcheck ci/hosted/macos.sh"; else failed+=(shellcheck); fi
else
  log "FAIL ci/hosted/macos.sh is missing"
  failed+=(hosted-script)
fi

if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all passed"
