#!/bin/sh
# Runs INSIDE a FreeBSD VM (.github/workflows/bsd.yml): installs the package
# built on Linux with pkg(8), then PAM logins through pamtester against the
# development Werbot API: TOTP, wrong code, U2F, offline user, bad config.
# Usage: sh ci/bsd-vm-freebsd.sh dist/freebsd-amd64/wpam-<version>.pkg
# Needs (prepare step): pkg install -y pamtester rust
set -eu
# shellcheck disable=SC1091 # checked on its own
. "$(dirname "$0")/bsd-vm-lib.sh"
pkgfile=${1:?usage: ci/bsd-vm-freebsd.sh wpam-<version>.pkg}

log "FreeBSD $(freebsd-version), pkg $(pkg -v), ABI $(pkg config ABI)"
log "pkg add $pkgfile"
pkg add "$pkgfile" || fail "pkg add"
pkg info -l wpam
pkg check -s wpam || fail "pkg check -s (checksums)"
[ -f /usr/local/lib/pam_wpam.so ] || fail "module not installed"
check_log_file
readelf -d /usr/local/lib/pam_wpam.so | grep NEEDED
readelf -d /usr/lib/libpam.so | grep SONAME || true

cat >/etc/pam.d/wpamtest <<'PAM'
auth     required  pam_wpam.so config=/usr/local/etc/wpam.conf
account  required  pam_wpam.so config=/usr/local/etc/wpam.conf
PAM
build_dev_tools
pam_suite wpamtest /usr/local/etc/wpam.conf

log "pkg delete"
pkg delete -y wpam || fail "pkg delete"
[ ! -e /usr/local/lib/pam_wpam.so ] || fail "module left behind"
log "FreeBSD: all checks passed"
