#!/usr/bin/env bash
# Signs OpenBSD packages (wpam-<version>.tgz) as pkg_sign(1) does, so that
# pkg_add(1) installs them without -D unsigned:
#
#   signify -Sz: the signature goes into the gzip header's comment field
#   ("untrusted comment: verify with NAME.pub", the ed25519 signature, then
#   the SHA512/256 of every 64 KiB block of the compressed stream); the tar
#   inside is unchanged. pkg_add checks it with `signify -Vz -t pkg`: the key
#   is /etc/signify/NAME.pub, NAME taken from that comment, and it must end in
#   -pkg (signify(1): -t keytype). signify writes NAME from the basename of
#   the secret key it is given, so the key is signed with under the name of
#   its public half (NAME-pkg.sec beside NAME-pkg.pub).
#
# Usage:
#   ci/release/sign-openbsd.sh SECKEY PUBKEY PKG...
#       sign with SECKEY (a signify secret key without passphrase, any file
#       name: it is copied to a private NAME.sec for signify), as the key
#       PUBKEY names (basename NAME.pub, NAME ending in -pkg: the file hosts
#       put in /etc/signify); then verify each package against PUBKEY.
#   ci/release/sign-openbsd.sh --throwaway OUTDIR PKG...
#       the same with a key made here, wpam-throwaway-pkg: its public half
#       goes to OUTDIR/wpam-throwaway-pkg.pub, the secret is deleted on exit
#       (the release dry run; bsd.yml's build job for the OpenBSD VM jobs).
# Each PKG is replaced (atomically) by its signed form. Signing is
# deterministic (-n: no time stamp), so signing the same bytes with the same
# key gives the same file. An already signed package is refused.
# Needs signify-openbsd (Debian: apt-get install signify-openbsd) or an
# OpenBSD signify.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

usage="usage: ci/release/sign-openbsd.sh SECKEY PUBKEY PKG... | --throwaway OUTDIR PKG..."
die() { printf 'sign-openbsd: %s\n' "$*" >&2; exit 1; }
log() { printf 'sign-openbsd: %s\n' "$*" >&2; }

if command -v signify-openbsd >/dev/null; then
  signify="signify-openbsd"
elif command -v signify >/dev/null && [ "$(uname -s)" = OpenBSD ]; then
  signify=signify
else
  die "signify-openbsd not found (Debian: apt-get install signify-openbsd)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0700 "$work"

[ $# -ge 3 ] || die "$usage"
if [ "$1" = --throwaway ]; then
  outdir=$2
  shift 2
  name=wpam-throwaway-pkg
  mkdir -p "$outdir"
  "$signify" -G -n -c "wpam throwaway package key (not for release)" \
    -p "$outdir/$name.pub" -s "$work/$name.sec"
  pub=$outdir/$name.pub
  log "throwaway key $name (public half: $pub)"
else
  seckey=$1 pub=$2
  shift 2
  [ -f "$seckey" ] || die "no secret key $seckey"
  [ -f "$pub" ] || die "no public key $pub"
  name=$(basename "$pub" .pub)
  install -m 0600 "$seckey" "$work/$name.sec"
fi
case $name in
  *-pkg) ;;
  *) die "key name $name does not end in -pkg: pkg_add (signify -t pkg) would not use it" ;;
esac

for pkg in "$@"; do
  [ -f "$pkg" ] || die "no package $pkg"
  # gzip header: 1f 8b, CM 8, then FLG; FCOMMENT (0x10) holds a signature.
  magic=$(od -An -tx1 -N4 "$pkg" | tr -d ' \n')
  case $magic in
    1f8b08??) ;;
    *) die "$pkg is not a gzip file" ;;
  esac
  [ $((0x${magic:6:2} & 0x10)) = 0 ] || die "$pkg already has a gzip comment (signed?)"
  # From the key's directory, so that the signature's key= line names the
  # key, not this run's temporary path.
  abs=$(cd "$(dirname "$pkg")" && pwd)/$(basename "$pkg")
  signed=$work/signed.tgz
  rm -f "$signed"
  (cd "$work" && "$signify" -S -z -n -s "$name.sec" -m "$abs" -x "$signed") ||
    die "signify -Sz $pkg"
  # -Vz -m writes the verified archive back out (signature and all).
  "$signify" -V -z -p "$pub" -x "$signed" -m "$work/verified" >/dev/null ||
    die "$pkg: the signature does not verify against $pub"
  cmp -s "$work/verified" "$signed" || die "$pkg: signify -Vz wrote other bytes than it checked"
  cmp -s <(gzip -dc "$pkg") <(gzip -dc "$signed") || die "$pkg: the signed archive holds another tar"
  comment=$(head -c 4096 "$signed" | tail -c +11 | tr '\0' '\n' | head -n 1)
  [ "$comment" = "untrusted comment: verify with $name.pub" ] ||
    die "$pkg: signature comment is '$comment', want 'verify with $name.pub'"
  cp "$signed" "$pkg.new"
  mv -f "$pkg.new" "$pkg"
  log "signed $pkg (verify with /etc/signify/$name.pub)"
done
