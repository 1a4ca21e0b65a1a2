#!/bin/sh
# Runs INSIDE a NetBSD VM (.github/workflows/bsd.yml): installs the pkgsrc
# binary package built on Linux with pkg_add, then PAM logins through
# pamtester against the development Werbot API, with the module named in
# /etc/pam.d both ways OpenPAM resolves a name:
#   - by absolute path, /usr/pkg/lib/security/pam_wpam.so, as the package
#     says to (the whole suite);
#   - by bare name, pam_wpam.so: NetBSD's OpenPAM looks only in
#     /usr/lib/security (pam_wpam.so.4, then pam_wpam.so), so it fails while
#     the module is only in /usr/pkg, and loads once a root-owned copy is
#     there.
# Also prints the module's program headers: ld.elf_so maps it only with
# exactly two PT_LOAD (tests/bsd_loaders.rs checks the same on Linux).
# Usage: sh ci/hosted/bsd-vm-netbsd.sh dist/netbsd-amd64/wpam-<version>.tgz
# Needs (prepare step): pamtester and rust from pkgsrc (pkgin or pkg_add).
set -eu
# shellcheck disable=SC1091 # checked on its own
. "$(dirname "$0")/bsd-vm-lib.sh"
pkgfile=${1:?usage: ci/hosted/bsd-vm-netbsd.sh wpam-<version>.tgz}

log "NetBSD $(uname -r), pkg_install $(pkg_add -V)"
readelf -d /usr/lib/libpam.so | grep SONAME || true
log "pkg_add $pkgfile"
pkg_add -v "$pkgfile" || fail "pkg_add"
pkg_info -L wpam
pkg_admin check wpam || fail "pkg_admin check (MD5 of the files)"
module=/usr/pkg/lib/security/pam_wpam.so
[ -f "$module" ] || fail "module not installed"
check_log_file
# OpenPAM loads a module only root-owned and not group/other-writable.
perms=$(stat -f '%Lp %Su' "$module")
[ "$perms" = "444 root" ] || fail "$module is $perms, want 444 root"
log "ok   $module 0444 root"
readelf -lW "$module" | sed -n '/^Program Headers/,/^$/p' || :
readelf -dW "$module" | grep NEEDED || :

cat >/etc/pam.d/wpamtest <<'PAM'
auth     required  /usr/pkg/lib/security/pam_wpam.so config=/usr/pkg/etc/wpam.conf
account  required  /usr/pkg/lib/security/pam_wpam.so config=/usr/pkg/etc/wpam.conf
PAM
build_dev_tools
pam_suite wpamtest /usr/pkg/etc/wpam.conf /usr/pkg/bin/wpam

log "the module by bare name (/etc/pam.d/wpambare: pam_wpam.so)"
cat >/etc/pam.d/wpambare <<'PAM'
auth     required  pam_wpam.so config=/usr/pkg/etc/wpam.conf
account  required  pam_wpam.so config=/usr/pkg/etc/wpam.conf
PAM
start_dev_api
write_config /usr/pkg/etc/wpam.conf
expect_fail "bare name while the module is only in /usr/pkg/lib/security" \
	pam_login wpambare alice alice@example.com "$(totp_now)"
copy=/usr/lib/security/pam_wpam.so.4
install -o root -g wheel -m 0444 "$module" "$copy"
expect_ok "bare name, found as $copy" pam_login wpambare alice alice@example.com "$(totp_now)"
rm -f "$copy" /etc/pam.d/wpambare
stop_dev_api

log "pkg_delete"
pkg_delete wpam || fail "pkg_delete"
[ ! -e "$module" ] || fail "module left behind"
log "NetBSD: all checks passed"
