#!/usr/bin/env bash
# Fills the Homebrew formula template packaging/homebrew/wpam.rb.in for one
# macOS release tarball: its version (from its name), its release URL and
# its SHA-256. Called by build-all.sh after the macos-universal tarball;
# ci/release/release.sh checks the result against the released tarball.
#
#   packaging/homebrew/build.sh <wpam-<v>-macos-universal.tar.gz> <out.rb>
#
# Environment: WPAM_FORMULA_URL, the tarball's whole URL (default the GitHub
# release's: WPAM_RELEASE_BASE/v<v>/<tarball name>, WPAM_RELEASE_BASE
# defaulting to https://github.com/werbot/wpam/releases/download); the
# hosted macOS job sets a file:// URL to install from a local tap.
set -euo pipefail
# shellcheck source=../../ci/lib/err.sh
. "$(dirname "$0")/../../ci/lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
tarball=${1:?usage: packaging/homebrew/build.sh <wpam-<v>-macos-universal.tar.gz> <out.rb>}
out=${2:?usage: packaging/homebrew/build.sh <wpam-<v>-macos-universal.tar.gz> <out.rb>}
[ -f "$tarball" ] || { echo "homebrew: no $tarball" >&2; exit 1; }
name=$(basename "$tarball")
version=$(sed -nE 's/^wpam-([0-9][0-9A-Za-z.+~-]*)-macos-universal\.tar\.gz$/\1/p' <<<"$name")
[ -n "$version" ] || { echo "homebrew: $name is not wpam-<version>-macos-universal.tar.gz" >&2; exit 1; }
base=${WPAM_RELEASE_BASE:-https://github.com/werbot/wpam/releases/download}
url=${WPAM_FORMULA_URL:-$base/v$version/$name}
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
# (| as sed's delimiter: a URL has no | and no newline, checked here)
case "$url" in *'|'* | *'&'* | *\\*) echo "homebrew: URL with | & or \\: $url" >&2; exit 1 ;; esac
sed -e "s|@URL@|$url|" -e "s|@VERSION@|$version|" -e "s|@SHA256@|$sha|" \
  "$here/packaging/homebrew/wpam.rb.in" >"$out.new"
if grep -n '@[A-Z0-9]*@' "$out.new" >&2; then
  echo "homebrew: a placeholder is left in $out.new" >&2
  exit 1
fi
mv "$out.new" "$out"
echo "$out"
