#!/bin/sh
# Runs INSIDE a FreeBSD VM (.github/workflows/bsd.yml): installs wpam with
# `pkg install wpam` from the signed repository the runner made with
# ci/release/freebsd-repo.sh and serves over HTTP (`ci/hosted/ci.sh serve`), following the
# docs/packaging.md's steps with the runner's address for werbot.github.io; first checks
# that pkg refuses that repository under another key. Then PAM logins through
# pamtester against the development Werbot API: TOTP, wrong code, U2F,
# offline user, bad config; then pkg delete.
# Usage: sh ci/hosted/bsd-vm-freebsd.sh PORT   (the runner's port; the VM reaches
# the runner through its default gateway)
# Needs (prepare step): pkg install -y pamtester rust
set -eu
# shellcheck disable=SC1091 # checked on its own
. "$(dirname "$0")/bsd-vm-lib.sh"
port=${1:?usage: ci/hosted/bsd-vm-freebsd.sh PORT}
pages=https://werbot.github.io/wpam

log "FreeBSD $(freebsd-version), pkg $(pkg -v), ABI $(pkg config ABI)"
gw=$(route -n get default 2>/dev/null | awk '/gateway:/ { print $2 }')
[ -n "$gw" ] || fail "no default route: cannot reach the runner"
url=http://$gw:$port
log "the repository served by the runner: $url/freebsd"
mkdir -p /usr/local/etc/pkg/repos /usr/local/etc/pkg/keys
fetch -T 30 -o /usr/local/etc/pkg/keys/wpam.pub "$url/freebsd/wpam.pub" ||
	fail "fetch $url/freebsd/wpam.pub: is the runner's server (ci/hosted/ci.sh serve) reachable from the VM?"
fetch -T 30 -o /tmp/wpam.conf "$url/freebsd/wpam.conf" || fail "fetch $url/freebsd/wpam.conf"
grep -q "url: \"$pages/freebsd/" /tmp/wpam.conf || fail "wpam.conf does not name $pages/freebsd"

log "pkg refuses the repository under another key"
mkdir -p /tmp/wpam-other/repos
openssl genrsa -out /tmp/wpam-other/key.pem 2048 2>/dev/null
openssl rsa -in /tmp/wpam-other/key.pem -pubout -out /tmp/wpam-other/key.pub 2>/dev/null
sed -e "s#$pages#$url#" -e "s#/usr/local/etc/pkg/keys/wpam.pub#/tmp/wpam-other/key.pub#" /tmp/wpam.conf \
	>/tmp/wpam-other/repos/wpam.conf
if pkg -R /tmp/wpam-other/repos update -f -r wpam >/tmp/wpam-other/update.log 2>&1; then
	cat /tmp/wpam-other/update.log
	fail "pkg accepted the repository under another key"
fi
grep -q 'Invalid signature' /tmp/wpam-other/update.log || { cat /tmp/wpam-other/update.log; fail "pkg update failed for another reason"; }
log "ok   refused: $(grep -m1 'Invalid signature' /tmp/wpam-other/update.log)"

sed "s#$pages#$url#" /tmp/wpam.conf >/usr/local/etc/pkg/repos/wpam.conf
cat /usr/local/etc/pkg/repos/wpam.conf
log "pkg install wpam"
pkg install -y wpam || fail "pkg install wpam"
[ "$(pkg query %R wpam)" = wpam ] || fail "wpam came from repository $(pkg query %R wpam), not wpam"
pkg info -l wpam
pkg check -s wpam || fail "pkg check -s (checksums)"
[ -f /usr/local/lib/pam_wpam.so ] || fail "module not installed"
check_log_file
mode=$(stat -f %Lp /usr/local/etc/wpam.conf)
[ "$mode" = 600 ] || fail "/usr/local/etc/wpam.conf mode $mode, want 600 (@sample of the 0600 sample)"
readelf -d /usr/local/lib/pam_wpam.so | grep NEEDED
readelf -d /usr/lib/libpam.so | grep SONAME || true

cat >/etc/pam.d/wpamtest <<'PAM'
auth     required  pam_wpam.so config=/usr/local/etc/wpam.conf
account  required  pam_wpam.so config=/usr/local/etc/wpam.conf
PAM
build_dev_tools
pam_suite wpamtest /usr/local/etc/wpam.conf /usr/local/bin/wpam

log "pkg delete"
pkg delete -y wpam || fail "pkg delete"
[ ! -e /usr/local/lib/pam_wpam.so ] || fail "module left behind"
# pam_suite wrote its own config: the one the admin changed stays.
[ -f /usr/local/etc/wpam.conf ] || fail "the edited /usr/local/etc/wpam.conf was removed"
log "FreeBSD: all checks passed"
