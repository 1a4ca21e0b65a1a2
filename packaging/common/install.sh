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
# CONF_EXAMPLE (macOS: the example config, default ./wpam.conf.example),
# WPAM_PLATFORM (linux|freebsd|netbsd|openbsd|macos, default from uname -s),
# PAMDIR (override the module directory).
#
# Directories (see pam_wpam(8)):
#   Debian/Ubuntu  /lib/<triplet>/security         (multiarch, from dpkg-architecture;
#                  the .deb's, bookworm libpam-modules' own: the one libpam
#                  searches with /usr not merged, /usr/lib/... where it is)
#   RHEL/Fedora    /usr/lib64/security
#   other Linux    the directory holding pam_unix.so
#   FreeBSD        /usr/local/lib                   (OpenPAM searches it for bare names)
#   NetBSD         /usr/pkg/lib/security            (refer to it by absolute path)
#   OpenBSD        /usr/libexec/auth/login_-wpam    (root:auth 0555; no PAM)
#   macOS          /usr/local/lib/pam               (root:wheel 0444; libpam searches
#                  it after /usr/lib/pam, which SIP seals; refer to it by
#                  absolute path)
# and the wpam command (wpam(8)) in /usr/bin (Linux), /usr/local/bin (FreeBSD,
# OpenBSD, macOS) or /usr/pkg/bin (NetBSD); on macOS also the example config
# in /usr/local/share/examples/wpam/wpam.conf.
# The log file /var/log/wpam.log is created 0640 root:adm (macOS: root:admin;
# root:<gid 0> where there is no such group) if missing; an existing one is
# never truncated, and its owner and mode are set only when it is a plain
# file with one link.
# macOS: a warning when a directory on the module's path is not root's alone
# (an Intel Mac's Homebrew owns /usr/local/lib): whoever can write it can
# replace the module that sshd runs as root.
# Only POSIX options of install, stat, chown and ls (the BSDs' and macOS's
# own tools, and GNU's).
# A directory that exists (/usr/libexec/auth, /var/log, the PAM directory)
# keeps its owner and mode: only missing ones are created.
set -eu
# Under set -e, say where it stopped (ci/lib/err.sh's EXIT trap: this script
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
	Darwin) platform=macos ;;
	*) die "unsupported system $(uname -s)" ;;
	esac
fi

linux_pamdir() {
	if command -v dpkg-architecture >/dev/null 2>&1; then
		echo "/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/security"
		return
	fi
	if [ -r /etc/debian_version ] && command -v gcc >/dev/null 2>&1; then
		echo "/lib/$(gcc -print-multiarch)/security"
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
macos) pamdir=${PAMDIR:-/usr/local/lib/pam} ;;
*) die "unknown platform $platform" ;;
esac

case "$platform" in
linux) mandir=/usr/share/man/man8 bindir=/usr/bin ;;
openbsd) mandir=/usr/local/man/man8 bindir=/usr/local/bin ;;
freebsd) mandir=/usr/local/share/man/man8 bindir=/usr/local/bin ;;
netbsd) mandir=/usr/pkg/man/man8 bindir=/usr/pkg/bin ;;
macos) mandir=/usr/local/share/man/man8 bindir=/usr/local/bin ;;
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

# Creates a missing directory; an existing one is left exactly as it is.
# `install -d -m` would also reset the mode of one that exists: OpenBSD's
# /usr/libexec/auth is root:auth 0750 (mtree) so that only group auth can run
# the styles, Ubuntu's /var/log is 0775 root:syslog.
mkdir_missing() { # mode group dir
	if [ -d "$3" ]; then
		return 0
	fi
	if [ "$asroot" = 1 ]; then
		run install -d -m "$1" -o root -g "$2" "$3"
	else
		run install -d -m "$1" "$3"
	fi
}

# Link count of a path itself (lstat: a symlink is not followed); GNU stat,
# else BSD stat.
nlinks() {
	stat -c %h -- "$1" 2>/dev/null || stat -f %l -- "$1" 2>/dev/null || echo unknown
}

# Warns about each directory from DIR up to / (under DESTDIR) that exists
# and is not owned by root or is writable by group or others: `ls -ldn`,
# POSIX, prints the mode and the numeric owner on every system.
only_root_writes() { # dir
	d=$1
	while :; do
		if [ -d "$DESTDIR$d" ]; then
			# (ls -ldn: the mode and the numeric owner, the same on every
			# system; a trailing @ or + marks extended attributes or an ACL,
			# which this does not read)
			# shellcheck disable=SC2012
			who=$(ls -ldn "$DESTDIR$d" | awk '{ print $1 " " $3 }')
			case "$who" in
			d????-??-?*" 0") ;;
			*) echo "install.sh: warning: $DESTDIR$d: mode ${who% *}, owner uid ${who#* }: whoever can write it can replace the module that sshd runs as root; make it root's alone, or install with PAMDIR=<a root-only directory> and name that path in pam.d" >&2 ;;
			esac
		fi
		[ "$d" = / ] && break
		d=$(dirname "$d")
	done
}

# True when the log file may be given root:<group> 0640: a regular file, not
# a symlink, with one link. Someone who can write /var/log (group syslog on
# Ubuntu) could plant a symlink or a hard link to /etc/shadow there, and a
# chown/chmod by name would hand that file to the log's group.
log_is_ours() { # path
	[ ! -L "$1" ] && [ -f "$1" ] && [ "$(nlinks "$1")" = 1 ]
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
	# As OpenBSD's mtree makes it, should it be missing (a staging DESTDIR).
	mkdir_missing 0750 "$authgrp" "$DESTDIR/usr/libexec/auth"
	put 0555 "$authgrp" "$prog" "$DESTDIR/usr/libexec/auth/login_-wpam"
	echo "installed $DESTDIR/usr/libexec/auth/login_-wpam"
else
	module=${MODULE:-$here/pam_wpam.so}
	[ -f "$module" ] || die "$module not found"
	mode=0644
	[ "$platform" = linux ] && [ "${pamdir#/usr/lib64}" != "$pamdir" ] && mode=0755
	# macOS: read-only, as Apple's own modules in /usr/lib/pam.
	[ "$platform" = macos ] && mode=0444
	mkdir_missing 0755 "$group0" "$DESTDIR$pamdir"
	put "$mode" "$group0" "$module" "$DESTDIR$pamdir/pam_wpam.so"
	echo "installed $DESTDIR$pamdir/pam_wpam.so"
	[ "$platform" != macos ] || only_root_writes "$pamdir"
fi

mkdir_missing 0755 "$group0" "$DESTDIR$bindir"
put 0755 "$group0" "$cmd" "$DESTDIR$bindir/wpam"
echo "installed $DESTDIR$bindir/wpam"

man=${MANPAGE:-$here/pam_wpam.8}
if [ -f "$man" ]; then
	mkdir_missing 0755 "$group0" "$DESTDIR$mandir"
	run install -m 0644 "$man" "$DESTDIR$mandir/pam_wpam.8"
fi
wman=${WPAM_MANPAGE:-$here/wpam.8}
if [ -f "$wman" ]; then
	mkdir_missing 0755 "$group0" "$DESTDIR$mandir"
	run install -m 0644 "$wman" "$DESTDIR$mandir/wpam.8"
fi
if [ "$platform" = macos ]; then
	example=${CONF_EXAMPLE:-$here/wpam.conf.example}
	if [ -f "$example" ]; then
		mkdir_missing 0755 "$group0" "$DESTDIR/usr/local/share/examples"
		mkdir_missing 0755 "$group0" "$DESTDIR/usr/local/share/examples/wpam"
		put 0644 "$group0" "$example" "$DESTDIR/usr/local/share/examples/wpam/wpam.conf"
		echo "installed $DESTDIR/usr/local/share/examples/wpam/wpam.conf"
	fi
fi

log=$DESTDIR/var/log/wpam.log
loggrp=$group0
if [ "$platform" = macos ]; then
	# macOS's administrators (gid 80), as Apple's own logs in /var/log.
	grep -q '^admin:' /etc/group 2>/dev/null && loggrp='admin'
else
	grep -q '^adm:' /etc/group 2>/dev/null && loggrp=adm
fi
mkdir_missing 0755 "$group0" "$DESTDIR/var/log"
if [ -L "$log" ]; then
	echo "install.sh: warning: $log is a symlink; leaving it alone" >&2
elif [ ! -e "$log" ]; then
	# noclobber: fails rather than write through whatever appeared there.
	run sh -c 'umask 077 && set -C && : >"$1"' sh "$log"
	[ "$asroot" = 1 ] && run chown -h "root:$loggrp" "$log"
	# Checked again just before the mode change: a link swapped in since.
	if log_is_ours "$log"; then
		run chmod 0640 "$log"
	else
		echo "install.sh: warning: $log is not a plain file with one link any more; leaving it alone" >&2
	fi
elif ! log_is_ours "$log"; then
	echo "install.sh: warning: $log is not a plain file with one link ($(nlinks "$log") links); leaving it alone" >&2
else
	[ "$asroot" = 1 ] && run chown -h "root:$loggrp" "$log"
	# Checked again just before the mode change: chmod follows symlinks.
	if log_is_ours "$log"; then
		run chmod 0640 "$log"
	fi
fi
echo "log file $log (0640 root:$loggrp)"
if [ "$platform" = netbsd ]; then
	echo "NetBSD: refer to the module by absolute path: auth required $pamdir/pam_wpam.so ..."
fi
if [ "$platform" = macos ]; then
	echo "macOS: refer to the module by absolute path in /etc/pam.d/sshd: auth required $pamdir/pam_wpam.so config=/etc/wpam.conf (pam.d-sshd.example)"
fi
echo "then, as root, before logging out: wpam check --service sshd; wpam test --service sshd USER (wpam(8))"
