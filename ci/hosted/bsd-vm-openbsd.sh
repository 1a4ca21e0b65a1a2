#!/bin/sh
# Runs INSIDE an OpenBSD VM (.github/workflows/bsd.yml): installs the package
# built on Linux with pkg_add, signed (ci/hosted/openbsd-vm-packages.sh, as
# ci/release/sign-openbsd.sh signs a release) and checked by pkg_add against the
# throwaway key put in /etc/signify -- never with -D unsigned: the unsigned
# package and one signed by a key not in /etc/signify must be refused. Then it
# enables the style for a login class in /etc/login.conf, and authenticates
# through BSD Authentication the three ways its callers do
# (ci/test/bsdauth-client.c, built with the base compiler):
#   - sshd's keyboard-interactive "bsdauth" device: auth_userchallenge(3)
#     with type auth-ssh, then auth_userresponse(3);
#   - login(1): auth_verify(3) runs the style with -s login on a terminal
#     (a pty) and the code is typed at its prompt;
#   - auth_userokay(3), the password path of programs such as su, doas and
#     screen lockers: as root, and as an unprivileged setgid-auth caller,
#     which cannot read /etc/wpam.conf and must be refused (the style is not
#     setuid: docs/bsd-loaders.md);
#   - an unknown user through auth_verify (refused before the API), and
#     auth_setoption(3) wheel=no as su(1) sets it (refused with base
#     styles' errormsg).
# Every run that is expected to succeed also shows the style's pledge(2)
# and unveil(2) allow what it does (a violation aborts it: refused).
# Then `pkg_add -u` to the next revision (update/wpam-<v>p1.tgz, whose style
# has other bytes) must replace the style BSD Authentication runs
# (/usr/libexec/auth/login_-wpam: its SHA-256 is the new package's, mode and
# group unchanged) and a login must go through the new one (issue 24, item 8).
# It prints whether the CPU has IBT (then the kernel enforces endbr64 on the
# style, which carries no PT_OPENBSD_NOBTCFI), the style's program headers,
# DT_NEEDED and this release's library versions (for @wantlib).
# Usage: sh ci/hosted/bsd-vm-openbsd.sh SIGNED-DIR UNSIGNED-PKG
#   SIGNED-DIR    ci/hosted/openbsd-vm-packages.sh's output: wpam-<v>.tgz,
#                 update/wpam-<v>p1.tgz, update/login_-wpam.sha256,
#                 wpam-throwaway-pkg.pub
#   UNSIGNED-PKG  dist/openbsd-amd64/wpam-<v>.tgz (must be refused)
# Needs (prepare step): pkg_add rust
set -eu
# shellcheck disable=SC1091 # checked on its own
. "$(dirname "$0")/bsd-vm-lib.sh"
signed=${1:?usage: ci/hosted/bsd-vm-openbsd.sh SIGNED-DIR UNSIGNED-PKG}
unsigned=${2:?usage: ci/hosted/bsd-vm-openbsd.sh SIGNED-DIR UNSIGNED-PKG}
keyname="wpam-throwaway-pkg"
pkgfile=$(ls "$signed"/wpam-*.tgz)
update=$(ls "$signed"/update/wpam-*.tgz)

log "OpenBSD $(uname -r) on $(sysctl -n hw.model)"
# identcpu.c prints IBT among cpu0's feature flags when the CPU has it; the
# kernel then runs every process with ENDBR_EN unless PT_OPENBSD_NOBTCFI.
if grep -qw IBT /var/run/dmesg.boot; then
	log "CPU has IBT: the style runs with indirect branch tracking enforced"
else
	log "CPU without IBT (or not shown to this VM): IBT not enforced in this run"
fi
# pkg_add checks signatures unless told not to (-D unsigned, which this job
# never passes): the unsigned package, and the signed one while its key is not
# in /etc/signify, are refused and install nothing.
expect_pkg_refused() {
	if pkg_add -v "$1" </dev/null >/tmp/pkg_add.out 2>&1; then
		cat /tmp/pkg_add.out
		fail "pkg_add installed $2"
	fi
	cat /tmp/pkg_add.out
	! pkg_info -e 'wpam-*' >/dev/null 2>&1 || fail "pkg_add refused $2 but wpam is installed"
	log "ok   pkg_add refuses $2"
}
expect_pkg_refused "$unsigned" "the unsigned package"
rm -f "/etc/signify/$keyname.pub"
expect_pkg_refused "$pkgfile" "a package signed by a key not in /etc/signify"
install -m 0644 "$signed/$keyname.pub" "/etc/signify/$keyname.pub"
log "pkg_add $pkgfile (signed; key /etc/signify/$keyname.pub)"
pkg_add -v "$pkgfile" </dev/null || fail "pkg_add of the signed package"
pkg_info -L wpam
pkg_check -F wpam 2>/dev/null || true
style=/usr/libexec/auth/login_-wpam
[ -x "$style" ] || fail "$style not installed"
owner=$(stat -f '%Lp %Su %Sg' "$style")
[ "$owner" = "555 root auth" ] || fail "$style is $owner, want 555 root auth"
log "ok   $style 0555 root:auth"
# An ordinary file of the package (not a @sample copy): pkg_info lists it.
pkg_info -L wpam | grep -qx "$style" || fail "pkg_info -L wpam does not list $style"
log "ok   $style is a file of the package"
authdir=$(stat -f '%Lp %Su %Sg' /usr/libexec/auth)
[ "$authdir" = "750 root auth" ] || fail "/usr/libexec/auth is $authdir, want 750 root auth (base's mtree)"
[ ! -e /usr/local/libexec/auth ] || fail "/usr/local/libexec/auth exists (no second copy of the style)"
readelf -lW "$style" | sed -n '/^Program Headers/,/^$/p' || :
# The binaries' DT_NEEDED, the package's @wantlib lines (one per versioned
# DT_NEEDED: none while zig's unversioned stubs are linked) and this
# release's versions of those libraries (docs/bsd-loaders.md, "@wantlib").
readelf -dW "$style" /usr/local/bin/wpam | grep NEEDED || :
grep '^@wantlib' /var/db/pkg/wpam-*/+CONTENTS || log "no @wantlib in the package"
ls /usr/lib/libc.so.* /usr/lib/libpthread.so.* /usr/lib/libc++abi.so.* \
	/usr/lib/libm.so.* /usr/lib/libutil.so.* 2>/dev/null || :
readelf -nW "$style" || :

# A login class offering only the wpam style over SSH, and its users.
cat >>/etc/login.conf <<'CONF'
wpamtest:\
	:auth-ssh=-wpam:\
	:tc=default:
CONF
[ -f /etc/login.conf.db ] && cap_mkdb /etc/login.conf
for u in alice olivia; do
	id "$u" >/dev/null 2>&1 || useradd -m -L wpamtest "$u"
done

cc -Wall -o /tmp/bsdauth-client "$(dirname "$0")/../test/bsdauth-client.c" -lutil ||
	fail "cc bsdauth-client.c"
bsdauth() { /tmp/bsdauth-client challenge "$@"; }
okay() { /tmp/bsdauth-client okay "$@"; }
on_tty() { /tmp/bsdauth-client login "$1" wpamtest "$2"; }
# expect_refused DESCRIPTION COMMAND...: exit 1 exactly (bsdauth-client's
# "refused"); a setup error (3) or a kill by its alarm is a failure.
expect_refused() {
	d=$1
	shift
	rc=0
	"$@" || rc=$?
	[ "$rc" = 1 ] || fail "$d (exit $rc, want 1: refused)"
	log "ok   $d (refused)"
}

build_dev_tools
start_dev_api
write_config /etc/wpam.conf "wid.alice=alice@example.com" "offline_users=olivia"
expect_ok "TOTP through auth_userchallenge/auth_userresponse" bsdauth alice "$(totp_now)"
expect_fail "wrong TOTP code" bsdauth alice 000000
expect_ok "U2F approval (empty answer)" bsdauth alice ""
expect_fail "NOUSER" bsdauth NOUSER "$(totp_now)"
expect_ok "TOTP typed at the style's prompt (-s login, on a pty)" on_tty alice "$(totp_now)"
expect_refused "wrong TOTP code on the terminal" on_tty alice 000000
expect_ok "TOTP through auth_userokay(3) as root" okay alice "$(totp_now)"
expect_refused "wrong TOTP code through auth_userokay" okay alice 000000
expect_refused "unprivileged setgid-auth caller (screen locker)" okay alice "$(totp_now)" alice
# An unknown name (auth_userokay callers such as smtpd pass what the client
# sent) is refused before the API is asked. auth_userokay itself would pick
# the default class's styles for a name getpwnam does not know, so the style
# is run directly, as auth_verify(3) runs it for class wpamtest.
expect_refused "unknown user (auth_verify, class wpamtest)" on_tty nosuchwpamuser "$(totp_now)"
grep -q 'user="nosuchwpamuser".*no such user' /var/log/wpam.log ||
	fail "no 'no such user' line for nosuchwpamuser in /var/log/wpam.log"
expect_refused "-v wheel=no (su, caller not in wheel): errormsg 'you are not in group wheel'" \
	/tmp/bsdauth-client wheelno alice wpamtest
said=$(grep -h 'not root' /var/log/authlog /var/log/secure 2>/dev/null | tail -n 1) || :
log "syslog on the unprivileged caller: ${said:-(no 'not root' line found)}"
check_log_file
# The operator command: login.conf's style setup, the files, the API path;
# then one BSD Authentication through the class's auth-ssh style.
wpam=/usr/local/bin/wpam
[ -x "$wpam" ] || fail "$wpam not installed"
wpam_test() { printf '%s\n' "$2" | "$wpam" test "$1"; }
expect_ok "wpam check (login.conf, style, config, API)" check_passes "$wpam" check --no-sshd
expect_ok "wpam test: TOTP through BSD Authentication" wpam_test alice "$(totp_now)"
expect_fail "wpam test: wrong TOTP code" wpam_test alice 000000
expect_fail "wpam test: no answer (end of input)" "$wpam" test alice </dev/null

# pkg_add -u: the style that runs is replaced by the next revision's.
before=$(sha256 -q "$style")
want=$(cat "$signed/update/login_-wpam.sha256")
[ "$before" != "$want" ] || fail "the update package's style has the installed bytes"
log "pkg_add -u wpam from $(dirname "$update") (PKG_PATH)"
env PKG_PATH="$(cd "$(dirname "$update")" && pwd)/" pkg_add -u -v wpam </dev/null || fail "pkg_add -u"
pkg_info -e "$(basename "$update" .tgz)" >/dev/null || fail "$(basename "$update" .tgz) is not installed after pkg_add -u"
after=$(sha256 -q "$style")
[ "$after" = "$want" ] || fail "after pkg_add -u, $style has SHA-256 $after (before: $before), want the update's $want"
owner=$(stat -f '%Lp %Su %Sg' "$style")
[ "$owner" = "555 root auth" ] || fail "after pkg_add -u, $style is $owner, want 555 root auth"
log "ok   pkg_add -u replaced $style ($before -> $after), 0555 root:auth"
expect_ok "TOTP through the updated style" bsdauth alice "$(totp_now)"
expect_ok "wpam check after the update" check_passes "$wpam" check --no-sshd

stop_dev_api
expect_ok "wpam check with the API down fails (exit 2)" check_fails "$wpam" check --no-sshd
expect_ok "offline user with the API down" bsdauth olivia 123456
expect_fail "other user with the API down" bsdauth alice 123456
chmod 0644 /etc/wpam.conf
expect_fail "world-readable /etc/wpam.conf" bsdauth olivia 123456
chmod 0600 /etc/wpam.conf

log "pkg_delete"
pkg_delete wpam >/tmp/pkg_delete.out 2>&1 || { cat /tmp/pkg_delete.out; fail "pkg_delete"; }
cat /tmp/pkg_delete.out
# +UNDISPLAY: login.conf may still name the style pkg_delete just removed.
grep -q 'login.conf' /tmp/pkg_delete.out || fail "pkg_delete did not show +UNDISPLAY"
[ ! -e "$style" ] || fail "$style left behind by pkg_delete"
log "OpenBSD: all checks passed"
