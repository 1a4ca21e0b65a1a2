#!/bin/sh
# Runs INSIDE an OpenBSD VM (.github/workflows/bsd.yml): installs the package
# built on Linux with pkg_add (unsigned: -D unsigned), enables the style for a
# login class in /etc/login.conf, and authenticates the way sshd's
# keyboard-interactive "bsdauth" device does: auth_userchallenge(3) with
# type auth-ssh, then auth_userresponse(3), from a small C client built
# with the base compiler.
# Usage: sh ci/bsd-vm-openbsd.sh dist/openbsd-amd64/wpam-<version>.tgz
# Needs (prepare step): pkg_add rust
set -eu
# shellcheck disable=SC1091 # checked on its own
. "$(dirname "$0")/bsd-vm-lib.sh"
pkgfile=${1:?usage: ci/bsd-vm-openbsd.sh wpam-<version>.tgz}

log "OpenBSD $(uname -r)"
log "pkg_add -D unsigned $pkgfile"
pkg_add -D unsigned -v "$pkgfile" || fail "pkg_add"
pkg_info -L wpam
pkg_check -F wpam 2>/dev/null || true
style=/usr/libexec/auth/login_-wpam
[ -x "$style" ] || fail "$style not installed"
owner=$(stat -f '%Lp %Su %Sg' "$style")
[ "$owner" = "555 root auth" ] || fail "$style is $owner, want 555 root auth"
log "ok   $style 0555 root:auth"

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

cat >/tmp/bsdauth-client.c <<'C'
/* sshd's bsdauth device in miniature: challenge, then one response. */
#include <sys/types.h>
#include <login_cap.h>
#include <bsd_auth.h>
#include <stdio.h>

int
main(int argc, char *argv[])
{
	auth_session_t *as;
	char *challenge = NULL;

	if (argc != 3)
		return 2;
	as = auth_userchallenge(argv[1], NULL, "auth-ssh", &challenge);
	if (as == NULL || challenge == NULL) {
		fprintf(stderr, "no challenge for %s\n", argv[1]);
		return 3;
	}
	printf("challenge: %s\n", challenge);
	return auth_userresponse(as, argv[2], 0) ? 0 : 1;
}
C
cc -o /tmp/bsdauth-client /tmp/bsdauth-client.c || fail "cc bsdauth client"
bsdauth() { /tmp/bsdauth-client "$@"; }

build_dev_tools
start_dev_api
write_config /etc/wpam.conf "wid.alice=alice@example.com" "offline_users=olivia"
expect_ok "TOTP through auth_userchallenge/auth_userresponse" bsdauth alice "$(totp_now)"
expect_fail "wrong TOTP code" bsdauth alice 000000
expect_ok "U2F approval (empty answer)" bsdauth alice ""
expect_fail "NOUSER" bsdauth NOUSER "$(totp_now)"
check_log_file
stop_dev_api
expect_ok "offline user with the API down" bsdauth olivia 123456
expect_fail "other user with the API down" bsdauth alice 123456
chmod 0644 /etc/wpam.conf
expect_fail "world-readable /etc/wpam.conf" bsdauth olivia 123456
chmod 0600 /etc/wpam.conf

log "pkg_delete"
pkg_delete wpam || fail "pkg_delete"
[ ! -e "$style" ] || fail "$style left behind (unchanged @sample copy)"
log "OpenBSD: all checks passed"
