#!/usr/bin/env bash
# Re-signs the APT repository on gh-pages with a new Date and Valid-Until over
# the very same indexes (.github/workflows/apt-refresh.yml, weekly), so that
# Valid-Until bounds a freeze attack without a release every few weeks.
#
# usage: ci/release/apt-refresh.sh SITE CHECKOUT
#   clones gh-pages into CHECKOUT (it must exist: a failure is an error),
#   checks the whole published site as a release would before carrying it
#   (ci/release/pages-carry.py --all: InRelease, Release.gpg and repomd.xml.asc with
#   gpgv, every index and package against them, and no file that nothing
#   vouches for) against the committed public keyring (keys/, the primaries
#   README.md quotes: every subkey, so a site signed before a subkey rotation
#   still verifies), not the keyring gh-pages serves (whoever can push there
#   could replace that), then writes SITE: the site with a new
#   dists/stable/Release, InRelease and Release.gpg, verified. Publishing it is
#   a step of its own, the only one with the token:
#   ci/release/publish.sh pages refresh SITE CHECKOUT.
# usage: ci/release/apt-refresh.sh --check-expiry URL MIN_DAYS
#   fails (loudly) when the InRelease published at URL/apt (verified with the
#   committed keyring) has a Valid-Until less than MIN_DAYS days ahead: the
#   alarm for a refresh that stopped (apt-refresh.yml's job "valid-until").
# Environment: WPAM_SIGNING_KEY_FILE (a 0600 file: the armored secret signing
# subkey, as for a release), WPAM_SIGNING_KEY_PASSPHRASE_FILE (optional),
# WPAM_KEYS_DIR (default keys/: wpam-archive-keyring.asc and .fpr),
# WPAM_APT_VALID_DAYS (default 21), WPAM_PAGES_REMOTE (default the GitHub
# repository of GITHUB_REPOSITORY).
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
# shellcheck source=../lib/release.sh
. "$(dirname "$0")/../lib/release.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
suite=stable
component=main
apt_arches=(amd64 arm64)
days=${WPAM_APT_VALID_DAYS:-21}
keys_dir=${WPAM_KEYS_DIR:-$here/keys}
log() { printf 'apt-refresh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wpam-apt-refresh.XXXXXX")
export GNUPGHOME=$tmp/gnupg
trap 'gpgconf --kill all >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
mkdir -m 0700 "$GNUPGHOME"
unset GH_TOKEN GITHUB_TOKEN

if [ "${1:-}" = --check-expiry ]; then
  url=${2:?usage: ci/release/apt-refresh.sh --check-expiry URL MIN_DAYS}
  min=${3:?usage: ci/release/apt-refresh.sh --check-expiry URL MIN_DAYS}
  have=$(release_fprs "$keys_dir/wpam-archive-keyring.fpr")
  [ -n "$have" ] || die "$keys_dir/wpam-archive-keyring.fpr names no key yet: nothing published to check"
  gpg --batch --dearmor <"$keys_dir/wpam-archive-keyring.asc" >"$tmp/keyring.gpg" || die "no committed keyring"
  python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=60).read())' \
    "$url/apt/dists/$suite/InRelease" "$tmp/InRelease" || die "cannot fetch $url/apt/dists/$suite/InRelease"
  gpgv --keyring "$tmp/keyring.gpg" --output "$tmp/Release" "$tmp/InRelease" 2>/dev/null ||
    die "the published InRelease does not verify with the committed keyring"
  until=$(sed -n 's/^Valid-Until: //p' "$tmp/Release")
  [ -n "$until" ] || die "the published Release has no Valid-Until"
  left=$((($(date -u -d "$until" +%s) - $(date -u +%s)) / 86400))
  if [ "$left" -lt "$min" ]; then
    log "error: the published APT Release expires in $left days (Valid-Until: $until), less than $min:"
    log "error: apt-refresh has stopped re-signing it (a failed run, or a schedule GitHub disabled after 60"
    log "error: idle days). Every apt-get update fails once it passes: docs/release.md, \"Valid-Until\"."
    exit 1
  fi
  log "ok   Valid-Until: $until ($left days ahead, at least $min)"
  exit 0
fi

site=${1:?usage: ci/release/apt-refresh.sh SITE CHECKOUT}
checkout=${2:?usage: ci/release/apt-refresh.sh SITE CHECKOUT}
keyfile=$(secret_file WPAM_SIGNING_KEY_FILE) || die "$keyfile"
passfile=$(secret_file WPAM_SIGNING_KEY_PASSPHRASE_FILE optional) || die "$passfile"
if [ -z "$passfile" ]; then passfile=$tmp/empty-passphrase && : >"$passfile"; fi
gpg --batch --import "$keyfile" 2>/dev/null || die "WPAM_SIGNING_KEY_FILE does not import"
fprs=$(key_fprs) || die "signing key: $fprs"
read -r primary fpr <<<"$fprs"
r=$(trusted_keyring "$keys_dir" "$primary" "$fpr" "$tmp/keyring.gpg") || die "$r"
log "signing subkey $fpr of $primary; checked against $keys_dir/wpam-archive-keyring.asc"

remote=${WPAM_PAGES_REMOTE:-https://github.com/${GITHUB_REPOSITORY:?GITHUB_REPOSITORY or WPAM_PAGES_REMOTE}.git}
rm -rf "$checkout" "$site"
GIT_TERMINAL_PROMPT=0 timeout 600 git clone --quiet --depth 1 --branch gh-pages "$remote" "$checkout" ||
  die "cannot clone gh-pages: nothing to refresh"
mkdir -p "$tmp/carry/files"
python3 "$here/ci/release/pages-carry.py" --all "$checkout" "$tmp/carry/site" "$tmp/keyring.gpg" "$tmp/carry/files" "$tmp/carry/adopted" >/dev/null ||
  die "the published site does not verify: not re-signing it"
rel=$checkout/apt/dists/$suite
gpgv --keyring "$tmp/keyring.gpg" --output "$tmp/old-Release" "$rel/InRelease" 2>/dev/null || die "InRelease does not verify"

mkdir -p "$site"
cp -a "$checkout/." "$site/"
rm -rf "$site/.git"
apt_release "$site/apt" "$days" gpg --batch --yes --pinentry-mode loopback \
  --passphrase-file "$passfile" --local-user "$fpr!"
new=$site/apt/dists/$suite
gpgv --keyring "$tmp/keyring.gpg" "$new/InRelease" 2>/dev/null || die "the new InRelease does not verify"
gpgv --keyring "$tmp/keyring.gpg" "$new/Release.gpg" "$new/Release" 2>/dev/null || die "the new Release.gpg does not verify"
# The same indexes, only the dates new.
sums() { sed -n '/^SHA256:/,$p' "$1"; }
cmp -s <(sums "$tmp/old-Release") <(sums "$new/Release") || die "the indexes listed changed: a refresh only re-signs"
log "ok   $(grep '^Valid-Until:' "$new/Release") (was $(sed -n 's/^Valid-Until: //p' "$tmp/old-Release")), same indexes"
