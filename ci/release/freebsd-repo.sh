#!/usr/bin/env bash
# The FreeBSD package repositories of a release, made and signed by FreeBSD's
# own pkg (packaging/freebsd/pkg-tool.sh builds it for this host):
#
#   SITE/freebsd/<major>/amd64/   the repository for FreeBSD:<major>:amd64,
#                                 major 14 and 15 (the ABIs we support;
#                                 the package's ABI FreeBSD:1[45]:amd64 fits them):
#       All/wpam-<v>.pkg          the package (and those of earlier releases
#                                 already under All/: ci/release/publish.sh seed)
#       meta.conf, data.pkg, packagesite.pkg   `pkg repo`'s catalogue, signed
#   SITE/freebsd/wpam.pub         the repository key (RSA public key, PEM)
#   SITE/freebsd/wpam.conf        /usr/local/etc/pkg/repos/wpam.conf
#
# Signing: pkg's signature_type "pubkey" with an RSA key. The user keeps one
# key file (wpam.pub) whose sha256 the release notes and the site print, and
# the release signs with `pkg repo DIR KEY` itself. ("fingerprints", the
# other type, adds lists of trusted and revoked keys and an external signing
# command: what FreeBSD's own builders need, not a project with one key.)
# The directories are named by ${VERSION_MAJOR}/${ARCH}, which pkg expands
# in the url like ${ABI} (pkg >= 1.14), because ${ABI}'s colons are refused
# by actions/upload-artifact and awkward on some web hosts.
#
# usage: ci/release/freebsd-repo.sh PKGFILE SITE KEY URL
#   PKGFILE  dist/freebsd-amd64/wpam-<v>.pkg
#   SITE     the site directory (ci/release/release.sh: build/release/site)
#   KEY      the RSA private key (PEM) that signs the catalogues
#   URL      where SITE is published (https://werbot.github.io/wpam)
# SOURCE_DATE_EPOCH fixes the catalogues' timestamps. Prints the ABIs made.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
usage="usage: ci/release/freebsd-repo.sh PKGFILE SITE KEY URL"
pkgfile=${1:?$usage}
site=${2:?$usage}
key=${3:?$usage}
url=${4:?$usage}
majors=(14 15)
arch=amd64
log() { printf 'freebsd-repo: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$pkgfile" ] || die "$pkgfile missing"
[ -f "$key" ] || die "$key missing"
pkg=$("$here/packaging/freebsd/pkg-tool.sh")
# No pkg.conf, no repository of this host: only what the command line says.
pkgc() { "$pkg" -C /dev/null -R /nonexistent "$@"; }

abi=$(pkgc query -F "$pkgfile" '%q')
name=$(basename "$pkgfile")
out=$site/freebsd
mkdir -p "$out"
for major in "${majors[@]}"; do
  # The package must be one this ABI installs (pkg matches it as a glob).
  # shellcheck disable=SC2254 # $abi is a glob on purpose
  case "FreeBSD:$major:$arch" in $abi) ;; *) die "$name's ABI $abi is not FreeBSD:$major:$arch's" ;; esac
  dir=$out/$major/$arch
  mkdir -p "$dir/All"
  cp -p "$pkgfile" "$dir/All/$name"
  pkgc repo -q "$dir" "$key" >&2 || die "pkg repo $dir"
  for f in meta.conf data.pkg packagesite.pkg; do [ -s "$dir/$f" ] || die "pkg repo wrote no $dir/$f"; done
  echo "FreeBSD:$major:$arch"
done
openssl pkey -in "$key" -pubout -out "$out/wpam.pub" 2>/dev/null || die "no public key from $key"
cat >"$out/wpam.conf" <<EOF
# wpam's FreeBSD package repository ($url/freebsd).
# Save as /usr/local/etc/pkg/repos/wpam.conf, the key $url/freebsd/wpam.pub
# as /usr/local/etc/pkg/keys/wpam.pub, then: pkg install wpam
# pkg expands \${VERSION_MAJOR} and \${ARCH} to this host's (FreeBSD 14, 15; amd64).
wpam: {
  url: "$url/freebsd/\${VERSION_MAJOR}/\${ARCH}",
  signature_type: "pubkey",
  pubkey: "/usr/local/etc/pkg/keys/wpam.pub",
  enabled: yes
}
EOF
log "ok   ${#majors[@]} repositories under $out, signed; wpam.conf, wpam.pub"
