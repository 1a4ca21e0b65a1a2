#!/usr/bin/env bash
# Re-signs the APT repository on gh-pages with a new Date and Valid-Until over
# the very same indexes (.github/workflows/apt-refresh.yml, weekly), so that
# Valid-Until bounds a freeze attack without a release every few weeks.
#
# usage: ci/apt-refresh.sh SITE CHECKOUT
#   clones gh-pages into CHECKOUT (it must exist: a failure is an error),
#   checks the whole published site as a release would before carrying it
#   (ci/pages-carry.py: InRelease and repomd.xml.asc with gpgv, every index
#   and package against them) with the public keys of WPAM_SIGNING_KEY, not
#   the keyring gh-pages serves (whoever can push there could replace that),
#   then writes SITE: the site with a new dists/stable/Release, InRelease and
#   Release.gpg, verified. Publishing it is a step of its own, the only one
#   with the token: ci/publish-release.sh pages refresh SITE CHECKOUT.
# Environment: WPAM_SIGNING_KEY (the armored secret signing subkey, as for a
# release), WPAM_SIGNING_KEY_PASSPHRASE, WPAM_APT_VALID_DAYS (default 21),
# WPAM_PAGES_REMOTE (default the GitHub repository of GITHUB_REPOSITORY).
set -euo pipefail
# shellcheck source=lib-err.sh
. "$(dirname "$0")/lib-err.sh"
# shellcheck source=lib-release.sh
. "$(dirname "$0")/lib-release.sh"

here=$(cd "$(dirname "$0")/.." && pwd)
site=${1:?usage: ci/apt-refresh.sh SITE CHECKOUT}
checkout=${2:?usage: ci/apt-refresh.sh SITE CHECKOUT}
suite=stable
component=main
apt_arches=(amd64 arm64)
days=${WPAM_APT_VALID_DAYS:-21}
log() { printf 'apt-refresh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wpam-apt-refresh.XXXXXX")
export GNUPGHOME=$tmp/gnupg
trap 'gpgconf --kill all >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
mkdir -m 0700 "$GNUPGHOME" "$tmp/secrets"
(
  umask 077
  printf '%s\n' "${WPAM_SIGNING_KEY:-}" >"$tmp/secrets/key.asc"
  printf '%s' "${WPAM_SIGNING_KEY_PASSPHRASE:-}" >"$tmp/secrets/pass"
)
unset WPAM_SIGNING_KEY WPAM_SIGNING_KEY_PASSPHRASE GH_TOKEN GITHUB_TOKEN
grep -q 'BEGIN PGP PRIVATE KEY BLOCK' "$tmp/secrets/key.asc" || die "WPAM_SIGNING_KEY (armored secret signing subkey) is not set"
gpg --batch --import "$tmp/secrets/key.asc" 2>/dev/null || die "WPAM_SIGNING_KEY does not import"
rm -f "$tmp/secrets/key.asc"
fprs=$(key_fprs) || die "signing key: $fprs"
read -r primary fpr <<<"$fprs"
gpg --batch --export >"$tmp/keyring.gpg"
log "signing subkey $fpr of $primary"

remote=${WPAM_PAGES_REMOTE:-https://github.com/${GITHUB_REPOSITORY:?GITHUB_REPOSITORY or WPAM_PAGES_REMOTE}.git}
rm -rf "$checkout" "$site"
GIT_TERMINAL_PROMPT=0 timeout 600 git clone --quiet --depth 1 --branch gh-pages "$remote" "$checkout" ||
  die "cannot clone gh-pages: nothing to refresh"
mkdir -p "$tmp/carry/files"
python3 "$here/ci/pages-carry.py" "$checkout" "$tmp/carry/site" "$tmp/keyring.gpg" "$tmp/carry/files" "$tmp/carry/adopted" >/dev/null ||
  die "the published site does not verify: not re-signing it"
rel=$checkout/apt/dists/$suite
gpgv --keyring "$tmp/keyring.gpg" --output "$tmp/old-Release" "$rel/InRelease" 2>/dev/null || die "InRelease does not verify"

mkdir -p "$site"
cp -a "$checkout/." "$site/"
rm -rf "$site/.git"
apt_release "$site/apt" "$days" gpg --batch --yes --pinentry-mode loopback \
  --passphrase-file "$tmp/secrets/pass" --local-user "$fpr!"
new=$site/apt/dists/$suite
gpgv --keyring "$tmp/keyring.gpg" "$new/InRelease" 2>/dev/null || die "the new InRelease does not verify"
gpgv --keyring "$tmp/keyring.gpg" "$new/Release.gpg" "$new/Release" 2>/dev/null || die "the new Release.gpg does not verify"
# The same indexes, only the dates new.
sums() { sed -n '/^SHA256:/,$p' "$1"; }
cmp -s <(sums "$tmp/old-Release") <(sums "$new/Release") || die "the indexes listed changed: a refresh only re-signs"
log "ok   $(grep '^Valid-Until:' "$new/Release") (was $(sed -n 's/^Valid-Until: //p' "$tmp/old-Release")), same indexes"
