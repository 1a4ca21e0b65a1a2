#!/bin/sh
# Installs wpam into this system's PAM module directory (or, on OpenBSD, the
# BSD Auth login style) and creates the log file. Used by the release tarballs
# (run it from the unpacked directory, as root) and by `make install`.
#
#   ./install.sh [--dry-run]
#
# Environment: DESTDIR (staging root, default empty), MODULE (the module to
# install, default ./pam_wpam.so next to this script), LOGIN_STYLE (OpenBSD
# program, default ./login_-wpam), WPAM_BIN (the wpam command, default ./wpam),
# MANPAGE (default ./pam_wpam.8), WPAM_MANPAGE (default ./wpam.8),
# WPAM_PLATFORM (linux|freebsd|netbsd|openbsd, default from uname -s),
# PAMDIR (override the module directory).
#
# Directories (see pam_wpam(8)):
#   Debian/Ubuntu  /usr/lib/<triplet>/security     (multiarch, from dpkg-architecture)
#   RHEL/Fedora    /usr/lib64/security
#   other Linux    the directory holding pam_unix.so
#   FreeBSD        /usr/local/lib                   (OpenPAM searches it for bare names)
#   NetBSD         /usr/pkg/lib/security            (refer to it by absolute path)
#   OpenBSD        /usr/libexec/auth/login_-wpam    (root:auth 0555; no PAM)
# and the wpam command (wpam(8)) in /usr/bin (Linux), /usr/local/bin (FreeBSD,
# OpenBSD) or /usr/pkg/bin (NetBSD).
# The log file /var/log/wpam.log is created 0640 root:adm (root:<gid 0> where
# there is no adm group) if missing; an existing one is never truncated.
set -eu
# Under set -e, say where it stopped (ci/lib-err.sh's EXIT trap: this script
# ships alone in the tarballs). die() is for the failures it reports itself.
step=
trap 'case $? in 0) ;; *) echo "$0: failed (exit $?); last step: ${step:-none}" >&2 ;; esac' EXIT
die() {
	echo "install.sh: $*" >&2
	trap - EXIT
	exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
DESTDIR=${DESTDIR:-}
dry=
[ "${1:-}" = --dry-run ] && dry="echo"
run() { # command...: the step; with --dry-run only printed
	step=$*
	$dry "$@"
}

platform=${WPAM_PLATFORM:-}
if [ -z "$platform" ]; then
	case "$(uname -s)" in
	Linux) platform=linux ;;
	FreeBSD) platform=freebsd ;;
	NetBSD) platform=netbsd ;;
	OpenBSD) platform=openbsd ;;
	*) die "unsupported system $(uname -s)" ;;
	esac
fi

linux_pamdir() {
	if command -v dpkg-architecture >/dev/null 2>&1; then
		echo "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/security"
		return
	fi
	if [ -r /etc/debian_version ] && command -v gcc >/dev/null 2>&1; then
		echo "/usr/lib/$(gcc -print-multiarch)/security"
		return
	fi
	for d in /usr/lib64/security /lib64/security \
		/usr/lib/x86_64-linux-gnu/security /usr/lib/aarch64-linux-gnu/security \
		/lib/x86_64-linux-gnu/security /lib/aarch64-linux-gnu/security \
		/usr/lib/security /lib/security; do
		if [ -e "$d/pam_unix.so" ]; then
			echo "$d"
			return
		fi
	done
	if [ -d /usr/lib64 ]; then echo /usr/lib64/security; else echo /usr/lib/security; fi
}

case "$platform" in
linux) pamdir=${PAMDIR:-$(linux_pamdir)} ;;
freebsd) pamdir=${PAMDIR:-/usr/local/lib} ;;
netbsd) pamdir=${PAMDIR:-/usr/pkg/lib/security} ;;
openbsd) pamdir= ;;
*) die "unknown platform $platform" ;;
esac

case "$platform" in
linux) mandir=/usr/share/man/man8 bindir=/usr/bin ;;
openbsd) mandir=/usr/local/man/man8 bindir=/usr/local/bin ;;
freebsd) mandir=/usr/local/share/man/man8 bindir=/usr/local/bin ;;
netbsd) mandir=/usr/pkg/man/man8 bindir=/usr/pkg/bin ;;
esac

# Owners can only be set as root (a DESTDIR staging run may be unprivileged).
asroot=0
[ "$(id -u)" = 0 ] && asroot=1
put() { # mode group src dst
	if [ "$asroot" = 1 ]; then
		run install -m "$1" -o root -g "$2" "$3" "$4"
	else
		run install -m "$1" "$3" "$4"
	fi
}

cmd=${WPAM_BIN:-$here/wpam}
[ -f "$cmd" ] || die "$cmd not found"

group0=$(awk -F: '$3 == 0 { print $1; exit }' /etc/group 2>/dev/null || true)
group0=${group0:-0}

if [ "$platform" = openbsd ]; then
	prog=${LOGIN_STYLE:-$here/login_-wpam}
	[ -f "$prog" ] || die "$prog not found"
	authgrp=auth
	grep -q '^auth:' /etc/group 2>/dev/null || authgrp=$group0
	run install -d -m 0755 "$DESTDIR/usr/libexec/auth"
	put 0555 "$authgrp" "$prog" "$DESTDIR/usr/libexec/auth/login_-wpam"
	echo "installed $DESTDIR/usr/libexec/auth/login_-wpam"
else
	module=${MODULE:-$here/pam_wpam.so}
	[ -f "$module" ] || die "$module not found"
	mode=0644
	[ "$platform" = linux ] && [ "${pamdir#/usr/lib64}" != "$pamdir" ] && mode=0755
	run install -d -m 0755 "$DESTDIR$pamdir"
	put "$mode" "$group0" "$module" "$DESTDIR$pamdir/pam_wpam.so"
	echo "installed $DESTDIR$pamdir/pam_wpam.so"
fi

run install -d -m 0755 "$DESTDIR$bindir"
put 0755 "$group0" "$cmd" "$DESTDIR$bindir/wpam"
echo "installed $DESTDIR$bindir/wpam"

man=${MANPAGE:-$here/pam_wpam.8}
if [ -f "$man" ]; then
	run install -d -m 0755 "$DESTDIR$mandir"
	run install -m 0644 "$man" "$DESTDIR$mandir/pam_wpam.8"
fi
wman=${WPAM_MANPAGE:-$here/wpam.8}
if [ -f "$wman" ]; then
	run install -d -m 0755 "$DESTDIR$mandir"
	run install -m 0644 "$wman" "$DESTDIR$mandir/wpam.8"
fi

log=$DESTDIR/var/log/wpam.log
loggrp=$group0
grep -q '^adm:' /etc/group 2>/dev/null && loggrp=adm
run install -d -m 0755 "$DESTDIR/var/log"
if [ -L "$log" ]; then
	echo "install.sh: $log is a symlink; leaving it alone" >&2
elif [ ! -e "$log" ]; then
	put 0640 "$loggrp" /dev/null "$log"
elif [ -f "$log" ]; then
	[ "$asroot" = 1 ] && run chown "root:$loggrp" "$log"
	run chmod 0640 "$log"
fi
echo "log file $log (0640 root:$loggrp)"
if [ "$platform" = netbsd ]; then
	echo "NetBSD: refer to the module by absolute path: auth required $pamdir/pam_wpam.so ..."
fi
echo "then, as root, before logging out: wpam check --service sshd; wpam test --service sshd USER (wpam(8))"
