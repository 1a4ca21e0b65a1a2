#!/bin/sh
# Runs INSIDE a NetBSD VM (.github/workflows/bsd.yml): installs the pkgsrc
# binary package built on Linux with pkg_add, then PAM logins through
# pamtester against the development Werbot API (absolute module path in
# pam.d: NetBSD's OpenPAM searches only /usr/lib/security).
# Usage: sh ci/bsd-vm-netbsd.sh dist/netbsd-amd64/wpam-<version>.tgz
# Needs (prepare step): pamtester and rust from pkgsrc (pkgin or pkg_add).
set -eu
# shellcheck disable=SC1091 # checked on its own
. "$(dirname "$0")/bsd-vm-lib.sh"
pkgfile=${1:?usage: ci/bsd-vm-netbsd.sh wpam-<version>.tgz}

log "NetBSD $(uname -r), pkg_install $(pkg_add -V)"
readelf -d /usr/lib/libpam.so | grep SONAME || true
log "pkg_add $pkgfile"
pkg_add -v "$pkgfile" || fail "pkg_add"
pkg_info -L wpam
pkg_admin check wpam || fail "pkg_admin check (MD5 of the files)"
[ -f /usr/pkg/lib/security/pam_wpam.so ] || fail "module not installed"
check_log_file

cat >/etc/pam.d/wpamtest <<'PAM'
auth     required  /usr/pkg/lib/security/pam_wpam.so config=/usr/pkg/etc/wpam.conf
account  required  /usr/pkg/lib/security/pam_wpam.so config=/usr/pkg/etc/wpam.conf
PAM
build_dev_tools
pam_suite wpamtest /usr/pkg/etc/wpam.conf

log "pkg_delete"
pkg_delete wpam || fail "pkg_delete"
[ ! -e /usr/pkg/lib/security/pam_wpam.so ] || fail "module left behind"
log "NetBSD: all checks passed"
