#!/bin/sh
# Runs INSIDE a FreeBSD VM (.github/workflows/bsd.yml): builds the port
# packaging/ports/freebsd/security/wpam (packaging/ports/ports.py) with the ports framework
# and checks what it makes, so the recipe a FreeBSD committer would take is
# known to build:
#   1. a ports tree: a shallow clone of the branch the VM's packages come
#      from (quarterly or main), unless /usr/ports already holds one;
#   2. portlint -AC over the port (FATAL findings fail the job);
#   3. this checkout as the tarball USE_GITHUB fetches (the tag of an
#      unreleased commit does not exist yet), `make makesum` (the crates come
#      from crates.io; distinfo is not in the repository), `make package`;
#   4. the package lists exactly pkg-plist's files, installs, puts the module
#      in /usr/local/lib, the config 0600 and the log 0640, and deletes.
# Usage: sh ci/hosted/bsd-vm-freebsd-port.sh
# Needs (prepare step): pkg install -y git-lite rust portlint
set -eu
# shellcheck disable=SC1091 # checked on its own
. "$(dirname "$0")/bsd-vm-lib.sh"
here=$(pwd)
src=$here/packaging/ports/freebsd/security/wpam
[ -f "$src/Makefile" ] || fail "run from the checkout: no $src/Makefile"

log "FreeBSD $(freebsd-version), pkg $(pkg -v), ABI $(pkg config ABI)"
if [ ! -f /usr/ports/Mk/bsd.port.mk ]; then
	# The packages' branch: quarterly (YYYYQn) unless pkg.conf says latest.
	if pkg -vv | grep -q '/latest"'; then
		branch=main
	else
		month=$(date -u +%m)
		branch=$(date -u +%Y)Q$(((${month#0} - 1) / 3 + 1))
	fi
	log "ports tree: git clone --depth 1 --branch $branch https://git.FreeBSD.org/ports.git"
	git clone --quiet --depth 1 --branch "$branch" https://git.FreeBSD.org/ports.git /usr/ports ||
		fail "git clone of the ports tree ($branch)"
fi
port=/usr/ports/security/wpam
rm -rf "$port"
cp -R "$src" "$port"

log "portlint -AC"
(cd "$port" && portlint -AC) || fail "portlint found FATAL errors"

mk() { make -C "$port" BATCH=yes DISABLE_VULNERABILITIES=yes "$@"; }
distdir=$(mk -V DISTDIR)
wrksrc=$(mk -V WRKSRC)
tarball=$(mk -V DISTFILES | tr ' ' '\n' | grep '_GH0' | sed 's/:.*//')
[ -n "$tarball" ] || fail "no USE_GITHUB distfile in DISTFILES"
log "this checkout as $distdir/$tarball (top directory $(basename "$wrksrc"))"
mkdir -p "$distdir"
tar -czf "$distdir/$tarball" -s ",^\\.,$(basename "$wrksrc")," \
	--exclude ./.git --exclude ./target --exclude ./build --exclude ./dist .

log "make makesum"
mk makesum || fail "make makesum"
log "make package"
mk package || fail "make package"
pkgfile=$(mk -V PKGFILE)
[ -f "$pkgfile" ] || pkgfile=$(find "$port/work/pkg" -name 'wpam-*.pkg' | head -n1)
[ -f "$pkgfile" ] || fail "make package made no package"
log "built $pkgfile"
pkg info -F "$pkgfile"

# Its files are pkg-plist's (plain and @sample), under /usr/local.
pkg info -q -l -F "$pkgfile" | sed 's/^[[:space:]]*//' | sort >/tmp/wpam-port-files
sed -e 's/^@sample([^)]*) //' -e 's/^@sample //' -e 's|^|/usr/local/|' "$src/pkg-plist" | sort >/tmp/wpam-plist-files
if ! cmp -s /tmp/wpam-port-files /tmp/wpam-plist-files; then
	diff -u /tmp/wpam-plist-files /tmp/wpam-port-files || :
	fail "the port's package does not list pkg-plist's files"
fi
log "ok   the package lists pkg-plist's $(wc -l </tmp/wpam-plist-files | tr -d ' ') files"

log "pkg add of the port's package"
pkg add "$pkgfile" || fail "pkg add"
pkg check -s wpam || fail "pkg check -s"
[ -f /usr/local/lib/pam_wpam.so ] || fail "no /usr/local/lib/pam_wpam.so"
readelf -d /usr/local/lib/pam_wpam.so | grep -q 'NEEDED.*libpam.so' || fail "the module does not link libpam"
[ "$(stat -f %Lp /usr/local/etc/wpam.conf)" = 600 ] || fail "/usr/local/etc/wpam.conf is not 0600"
grep -q '/usr/local/etc/wpam.conf' /usr/local/etc/wpam.conf || fail "the sample still names the Linux path"
check_log_file
pkg delete -y wpam || fail "pkg delete"
[ ! -e /usr/local/etc/wpam.conf ] || fail "the unchanged config was left behind"
log "FreeBSD port: all checks passed"
