#!/usr/bin/env bash
# The release job: turns dist/ (./build-all.sh) into a signed, verified
# release, ready for ci/release/publish.sh publish (ci/hosted/ci.sh publish, a step
# of its own: this one never holds the token, that one never the keys).
#
#   build/release/files/   what the GitHub release carries:
#       wpam-<v>-<target>.tar.gz (6, macos-universal's among them),
#       wpam_<v>-1_{amd64,arm64}.deb,
#       wpam-<v>-1.{x86_64,aarch64}.rpm (signed), the BSD packages
#       wpam-<v>-{freebsd-amd64.pkg,netbsd-amd64.tgz,openbsd-amd64.tgz},
#       wpam.rb (the Homebrew formula of the macOS tarball: its release URL
#       and SHA-256, checked here; ci/release/publish.sh tap puts it in the
#       tap werbot/homebrew-tap),
#       <each of those>.cdx.json (CycloneDX SBOM of that file: its SHA-256
#       and SHA-512, the dependencies built for its target, the binaries'
#       hashes, the toolchain: ci/release/sbom-artifacts.py),
#       wpam-archive-keyring.{gpg,asc} (the primary with all its subkeys),
#       wpam-freebsd-repo.pub (the FreeBSD repository key),
#       SHA256SUMS + SHA256SUMS.asc (detached, armored)
#   build/release/site/    the static repositories (GitHub Pages, gh-pages):
#       apt/  pool/main/w/wpam/*.deb, dists/stable/{Release,InRelease,Release.gpg}
#             (Valid-Until, Acquire-By-Hash, SHA256 only),
#             dists/stable/main/binary-{amd64,arm64}/Packages{,.gz} and
#             by-hash/SHA256/ (with the earlier releases' indexes)
#       rpm/  *.rpm (x86_64, aarch64), repodata/ (createrepo_c),
#             repodata/repomd.xml.asc, wpam.repo
#       freebsd/  <major>/amd64/ for FreeBSD 14, 15: All/*.pkg and
#             pkg repo's catalogue signed with an RSA key (ci/release/freebsd-repo.sh),
#             wpam.pub, wpam.conf (/usr/local/etc/pkg/repos/wpam.conf)
#       wpam-archive-keyring.{gpg,asc}, index.html
#   build/release/RELEASE_NOTES.md   CHANGELOG.md's section for <v>
#   build/release/gh-pages/  the gh-pages checkout the site is committed onto
#
# The signing key is a signing subkey whose primary is not there (kept
# offline), the primary being the one whose fingerprint README.md carries.
# The packages of earlier releases come from gh-pages only when its signed
# indexes list them (ci/release/publish.sh seed, ci/release/pages-carry.py); a
# package of this version already published keeps its bytes (RPMs: the
# published signed file, not a new signature). Then it verifies its own
# output:
#   - gpgv checks SHA256SUMS.asc, InRelease, Release.gpg, repomd.xml.asc and
#     the RPM signatures against the exported public key (and a tampered copy
#     must fail);
#   - SHA256SUMS lists every file and every sum matches;
#   - both Packages indexes list wpam <v> with the right size and SHA256, and
#     Release's hashes match the indexes; Release has a Valid-Until 1 to 60
#     days ahead, Acquire-By-Hash and every index under by-hash/SHA256/;
#   - `apt-get update && apt-get install wpam` from the APT repository,
#     served over HTTP on loopback with docs/packaging.md's exact sources line,
#     inside a copy of a clean Debian 12 root (ci/test/packages.sh's cached
#     debootstrap root when present, else one built and cached here); apt
#     must fetch the indexes by hash, and refuse the repository when
#     signed-by names another key;
#   - the RPM metadata (repomd.xml, primary.xml.gz) parses, lists wpam <v>
#     for x86_64 and aarch64 with matching checksums; dnf, given the published
#     wpam.repo (repo_gpgcheck=1, key fetched from gpgkey) on loopback, lists
#     both, and refuses the metadata under another key;
#   - FreeBSD's own pkg (packaging/freebsd/pkg-tool.sh) installs wpam <v> from each
#     FreeBSD repository on loopback, with the published wpam.conf and key,
#     into a scratch root (pkg -r), and refuses the repository under another
#     key;
#   - every package and tarball has its SBOM, naming its SHA-256, the
#     dependencies and the toolchain; each Linux/BSD/macOS binary carries
#     cargo-auditable's dependency section (.dep-v0; in both slices of a
#     universal Mach-O file);
#   - wpam.rb names the released macOS tarball by its release URL, version
#     and SHA-256 (dist/wpam.rb and dist/'s tarball too), and ruby -c
#     accepts it where ruby is installed.
# The signing subkey must be one the committed public keyring (keys/) carries
# under the primary keys/wpam-archive-keyring.fpr names (README.md quotes
# it); that keyring is what is published and what gh-pages is checked with.
# The dry run also rehearses what only a publish does, against a local bare
# repository standing for gh-pages: a subkey rotation (the previous release
# signed by the throwaway primary's old subkey, this run and the refresh by
# its new one, a keyring lacking the new one refused) carried over; planted or tampered files (a foreign .deb, a
# wpam .deb no index lists, other bytes under an indexed name, an InRelease
# of another key, an RPM, a FreeBSD package) each refused; an unreadable
# remote fails loudly; the pages pushed; a re-run keeps every package's bytes
# and refuses other bytes; ci/release/apt-refresh.sh re-signs with a later
# Valid-Until, refuses an index changed on gh-pages, a planted file and a key
# in its environment, and its --check-expiry alarm fails on a Release too
# close to its Valid-Until.
#
# Usage: ci/release/release.sh [--dry-run] [--no-build] [--skip-chroot]
#   --dry-run      everything but GitHub, signed with a throwaway primary key
#                  and signing subkey made for the run (only in a temp dir)
#   --no-build     use dist/ as it is; by default a dist/ that lacks an
#                  artifact is built with ./build-all.sh first
#   --skip-chroot  skip the apt install check (no root / no debootstrap)
# Environment (the secrets as files, each 0600, written by a step of their
# own; a secret's value in the environment itself is refused):
#   WPAM_SIGNING_KEY_FILE        the armored secret signing subkey (required
#                                without --dry-run; docs/release.md)
#   WPAM_SIGNING_KEY_PASSPHRASE_FILE  its passphrase, if any
#   WPAM_PKG_SIGNING_KEY_FILE    the FreeBSD repository's RSA private key, PEM,
#                                unencrypted (required without --dry-run)
#   WPAM_OPENBSD_PKG_KEY_FILE    the signify secret key (no passphrase) of the
#                                OpenBSD package, public half committed as
#                                packaging/openbsd/wpam-1-pkg.pub (required
#                                without --dry-run)
#   WPAM_KEYS_DIR                the committed public keyring, default keys/:
#                                wpam-archive-keyring.asc (the primary with
#                                every subkey: what is published, and what
#                                every signature on gh-pages is checked with)
#                                and wpam-archive-keyring.fpr (its primary's
#                                fingerprint, quoted by README.md)
#   GITHUB_REPOSITORY            where gh-pages is read from (seed)
#   WPAM_PAGES_URL               default https://werbot.github.io/wpam
#   WPAM_APT_VALID_DAYS          the Release's Valid-Until, in days (21)
#   WPAM_TEST_DIR                where ci/test/packages.sh caches its Debian
#                                root (bookworm-minbase.tar; default build/test),
#                                reused (or made) for the apt check
#   WPAM_DEBIAN_MIRROR           mirror for that debootstrap (default: /etc/apt's,
#                                else deb.debian.org; ci/lib/apt.sh)
#   WPAM_REQUIRE_AUDITABLE=1     fail (not warn) on a module without .dep-v0
#                                (default 1 under CI=true, else 0)
#   DIST_DIR, RELEASE_DIR        default dist/ and build/release/
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
# shellcheck source=../lib/apt.sh
. "$(dirname "$0")/../lib/apt.sh"
# shellcheck source=../lib/release.sh
. "$(dirname "$0")/../lib/release.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

dry=0
build=auto
chroot_check=1
for a in "$@"; do
  case "$a" in
    --dry-run) dry=1 ;;
    --no-build) build=no ;;
    --skip-chroot) chroot_check=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "release: unknown argument '$a'" >&2; exit 2 ;;
  esac
done

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
dist=${DIST_DIR:-$here/dist}
out=${RELEASE_DIR:-$here/build/release}
pages_url=${WPAM_PAGES_URL:-https://werbot.github.io/wpam}
suite=stable
component=main
apt_arches=(amd64 arm64)
rpm_arches=(x86_64 aarch64)
targets=(linux-amd64 linux-arm64 freebsd-amd64 netbsd-amd64 openbsd-amd64 macos-universal)

t0=$(date +%s)
log() { printf 'release: %s\n' "$*" >&2; }
phase() { printf '\n=== release: %s (%d s)\n' "$*" "$(($(date +%s) - t0))" >&2; }
die() { log "error: $*"; exit 1; }
checks=0
ok() { checks=$((checks + 1)); printf 'release: ok   %s\n' "$*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wpam-release.XXXXXX")
export GNUPGHOME=$tmp/gnupg
server_pid=
mounted=()
cleanup() {
  local m
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  gpgconf --kill all >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The secrets come as 0600 files (.github/workflows/release.yml writes them in
# a step of their own, with shell builtins only): a secret's value in this
# process's environment would stay in /proc/<pid>/environ of it and of every
# child (apt-get, cargo, pkg's build) whatever `unset` does, so one there is
# refused. (docs/release.md, "The secrets reach the signing step as files".)
mkdir -m 0700 "$tmp/secrets"
keyfile=$(secret_file WPAM_SIGNING_KEY_FILE optional) || die "$keyfile"
passfile=$(secret_file WPAM_SIGNING_KEY_PASSPHRASE_FILE optional) || die "$passfile"
pkgkey=$(secret_file WPAM_PKG_SIGNING_KEY_FILE optional) || die "$pkgkey"
obsdkey=$(secret_file WPAM_OPENBSD_PKG_KEY_FILE optional) || die "$obsdkey"
if [ -z "$passfile" ] || [ "$dry" = 1 ]; then passfile=$tmp/secrets/passphrase && : >"$passfile"; fi
if [ "$dry" = 1 ]; then keyfile=$tmp/secrets/signing-key.asc pkgkey=$tmp/secrets/pkg-signing-key.pem; fi
keys_dir=${WPAM_KEYS_DIR:-$here/keys}
# No token here either: publishing (ci/hosted/ci.sh publish) is the step that has it.
unset GH_TOKEN GITHUB_TOKEN

if [ "$dry" = 0 ] && [ -n "${GITHUB_REF_NAME:-}" ] && [ "$GITHUB_REF_NAME" != "v$VERSION" ]; then
  die "the tag $GITHUB_REF_NAME is not v$VERSION (Cargo.toml's version)"
fi

# The dry run's stand-in for gh-pages: a previous release (an older wpam
# .deb, made here with dpkg-deb) signed by SIGN-COMMAND (the old subkey).
make_prev_site() { # DIR SIGN-COMMAND...
  local d=$tmp/prev-deb dir=$1
  shift
  rm -rf "$dir" "$d"
  mkdir -p "$d/DEBIAN" "$d/usr/share/doc/wpam" "$dir/apt/pool/$component/w/wpam"
  printf 'Package: wpam\nVersion: 0.0.1-1\nArchitecture: amd64\nMaintainer: wpam dry run <wpam-dry-run@example.invalid>\nDescription: wpam dry-run fixture (an earlier release)\n' >"$d/DEBIAN/control"
  echo "fixture" >"$d/usr/share/doc/wpam/README"
  SOURCE_DATE_EPOCH=1 dpkg-deb --root-owner-group -Zgzip --build "$d" "$dir/apt/pool/$component/w/wpam/wpam_0.0.1-1_amd64.deb" >/dev/null
  apt_indexes "$dir/apt"
  apt_release "$dir/apt" 21 "$@"
}
to_remote() { # SRC BARE: BARE becomes a repository whose gh-pages is SRC
  local w=$tmp/to-remote
  rm -rf "$2" "$w"
  git init --quiet --bare "$2"
  git init --quiet -b gh-pages "$w"
  cp -a "$1/." "$w/"
  git -C "$w" add -A
  git -C "$w" -c user.name=fixture -c user.email=fixture@example.invalid commit --quiet -m fixture
  git -C "$w" push --quiet "$2" HEAD:refs/heads/gh-pages
  rm -rf "$w"
}
sign_other() { # DISTDIR: InRelease re-signed by another key (GNUPGHOME set by the caller)
  mkdir -m 0700 "$GNUPGHOME"
  gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "not wpam <other@example.invalid>" ed25519 sign 1d 2>/dev/null
  gpg --batch --yes --clearsign -o "$1/InRelease" "$1/Release" 2>/dev/null
  gpgconf --kill all >/dev/null 2>&1 || true
}

# --- tools ---------------------------------------------------------------------
phase "wpam $VERSION: tools ($([ "$dry" = 1 ] && echo dry run || echo publish))"
need_debs=()
for pair in gpg:gnupg gpgv:gpgv apt-ftparchive:apt-utils createrepo_c:createrepo-c \
  rpmsign:rpm readelf:binutils python3:python3 openssl:openssl; do
  command -v "${pair%%:*}" >/dev/null || need_debs+=("${pair#*:}")
done
command -v git >/dev/null || need_debs+=(git)
command -v dpkg-deb >/dev/null || need_debs+=(dpkg)
if [ ${#need_debs[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing: ${need_debs[*]} (sudo apt-get install ${need_debs[*]})"
  log "apt-get install ${need_debs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >&2 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >&2; }
fi
ci/build/cargo-tools.sh cyclonedx
pkg=$(packaging/freebsd/pkg-tool.sh) # FreeBSD's pkg, built for this host (cached)

# --- the artifacts ---------------------------------------------------------------
phase "collect artifacts from $dist"
expected() { # prints the required artifact globs, one per line
  local t
  for t in "${targets[@]}"; do echo "wpam-$VERSION-$t.tar.gz"; done
  for a in "${apt_arches[@]}"; do echo "wpam_$VERSION-*_$a.deb"; done
  for a in "${rpm_arches[@]}"; do echo "wpam-$VERSION-*.$a.rpm"; done
  echo wpam.rb # the Homebrew formula (packaging/homebrew/build.sh)
}
missing_artifacts() {
  local g
  while read -r g; do
    compgen -G "$dist/$g" >/dev/null || echo "$g"
  done < <(expected)
}
# BSD packages: the packaging/<os>/build.sh hooks (build-all.sh) write them under
# their native names beside the target's artifacts, dist/<os>-amd64/
# wpam-<v>.pkg (FreeBSD) or .tgz (NetBSD, OpenBSD). The release is flat and
# NetBSD's and OpenBSD's names collide, so there they become
# wpam-<v>-<os>-amd64.<ext>. Every hook present must have made its package.
bsd_packages() { # prints "<path under dist> <release name>"
  local f d
  find "$dist" -mindepth 2 -maxdepth 2 -type f \( -name "wpam-$VERSION.pkg" -o -name "wpam-$VERSION.tgz" \) \
    -printf '%P\n' | LC_ALL=C sort | while read -r f; do
    d=${f%%/*}
    echo "$f wpam-$VERSION-$d.${f##*.}"
  done
}
bsd_hooks() { find packaging -mindepth 2 -maxdepth 2 -path 'packaging/*bsd/build.sh' -printf '%h\n' | sed 's#^packaging/##' | LC_ALL=C sort; }
bsd_missing() {
  local os
  for os in $(bsd_hooks); do
    grep -q "^$os-" <<<"$(bsd_packages)" || echo "$os-amd64/wpam-$VERSION.(pkg|tgz)"
  done
}
gaps=$(missing_artifacts; bsd_missing)
if [ -n "$gaps" ] && [ "$build" = auto ]; then
  log "dist/ lacks: $(tr '\n' ' ' <<<"$gaps")-> ./build-all.sh"
  ./build-all.sh >&2 || die "./build-all.sh failed"
  gaps=$(missing_artifacts; bsd_missing)
fi
[ -z "$gaps" ] || die "dist/ lacks: $(tr '\n' ' ' <<<"$gaps")"

rm -rf "$out"
files=$out/files
site=$out/site
pool=$site/apt/pool/$component/w/wpam
mkdir -p "$files" "$site/apt" "$pool" "$site/rpm"
while read -r g; do
  # shellcheck disable=SC2086 # $g is a glob
  for f in "$dist"/$g; do cp -p "$f" "$files/"; done
done < <(expected)
while read -r f name; do
  cp -p "$dist/$f" "$files/$name"
done < <(bsd_packages)
# OpenBSD's package signed as pkg_sign does (signify -Sz, ci/release/sign-openbsd.sh),
# so pkg_add checks it with the key in /etc/signify; the copy here, dist/
# stays as built and tested. The dry run signs with a throwaway key; a
# release with the secret key WPAM_OPENBSD_PKG_KEY_FILE whose public half is
# committed as packaging/openbsd/wpam-1-pkg.pub (packaging/openbsd/README.md).
obsd_pkg=$files/wpam-$VERSION-openbsd-amd64.tgz
if [ "$dry" = 1 ]; then
  ci/release/sign-openbsd.sh --throwaway "$tmp/openbsd-key" "$obsd_pkg" || die "signing the OpenBSD package"
else
  [ -n "$obsdkey" ] || die "WPAM_OPENBSD_PKG_KEY_FILE (the signify secret key of OpenBSD's package) is not set"
  ci/release/sign-openbsd.sh "$obsdkey" packaging/openbsd/wpam-1-pkg.pub "$obsd_pkg" || die "signing the OpenBSD package"
fi
ok "OpenBSD package signed with signify (pkg_add verifies it; -D unsigned no longer needed)"
# The Homebrew formula: the released macOS tarball's URL, version and
# SHA-256 (in dist/ as build-all.sh wrote it, and as released).
mac_tb=wpam-$VERSION-macos-universal.tar.gz
formula_names() { # FORMULA TARBALL: the formula names TARBALL by its release URL, version and SHA-256
  local sha
  sha=$(sha256sum "$2" | cut -d' ' -f1)
  grep -qx "  sha256 \"$sha\"" "$1" || { log "$1: sha256 $(sed -n 's/^  sha256 //p' "$1"), $(basename "$2") has $sha"; return 1; }
  grep -qx "  url \"https://github.com/werbot/wpam/releases/download/v$VERSION/$(basename "$2")\"" "$1" || { log "$1: url $(sed -n 's/^  url //p' "$1")"; return 1; }
  grep -qx "  version \"$VERSION\"" "$1" || { log "$1: version $(sed -n 's/^  version //p' "$1")"; return 1; }
}
formula_names "$dist/wpam.rb" "$dist/$mac_tb" || die "dist/wpam.rb does not name dist/$mac_tb (packaging/homebrew/build.sh)"
formula_names "$files/wpam.rb" "$files/$mac_tb" || die "wpam.rb does not name the released $mac_tb"
ok "wpam.rb (Homebrew) names $mac_tb by its release URL, version $VERSION and SHA-256 $(sha256sum "$files/$mac_tb" | cut -c1-16)..."
if command -v ruby >/dev/null; then
  ruby -c "$files/wpam.rb" >/dev/null || die "ruby -c wpam.rb"
  ok "wpam.rb: ruby -c"
else
  log "warn  no ruby: wpam.rb's syntax not checked (ci/test/scripts.sh checks the template's)"
fi
ok "collected $(find "$files" -type f | wc -l) artifacts"

# --- release notes -----------------------------------------------------------------
phase "release notes from CHANGELOG.md"
notes=$out/RELEASE_NOTES.md
awk -v v="$VERSION" '
  /^## / { if (on) exit; if ($0 ~ "^## \\[?v?" v "\\]?([^0-9.]|$)") { on = 1; next } }
  on { print }
' CHANGELOG.md >"$notes.body"
grep -q '[^[:space:]]' "$notes.body" || die "CHANGELOG.md has no section '## [$VERSION]'"
if [ "$dry" = 0 ] && grep -qiE "^## \[?$VERSION\]? *- *unreleased" CHANGELOG.md; then
  die "CHANGELOG.md still marks $VERSION as Unreleased: date it before tagging"
fi
{
  cat "$notes.body"
  cat <<EOF

### Verify and install

Download \`SHA256SUMS\`, \`SHA256SUMS.asc\` and \`wpam-archive-keyring.gpg\`, then:

    gpgv --keyring ./wpam-archive-keyring.gpg SHA256SUMS.asc SHA256SUMS
    sha256sum --ignore-missing -c SHA256SUMS

APT, dnf and FreeBSD pkg repositories: $pages_url (see the README's Install section).
macOS: the tarball wpam-$VERSION-macos-universal.tar.gz, or \`brew install werbot/tap/wpam\`
(the formula wpam.rb, listed in SHA256SUMS); then docs/admin.md, "macOS".
EOF
} >"$notes"
rm -f "$notes.body"
ok "notes: $(wc -l <"$notes") lines"

# --- SBOMs ---------------------------------------------------------------------------
phase "SBOMs: cargo cyclonedx per target"
# One CycloneDX SBOM per released artifact (ci/release/sbom-artifacts.py, after the
# RPMs are signed): the dependencies compiled for its target, the artifact's
# and the binaries' hashes, the toolchain. Here, the per-target bases.
# cargo-cyclonedx has no --locked: `cargo metadata --locked` first (fails
# when Cargo.lock would change) and Cargo.lock's hash compared afterwards.
# SOURCE_DATE_EPOCH (the commit time) fixes the SBOMs' timestamps.
# macos-universal: the arm64 slice's target; the x86_64 slice's dependency
# list must be the same (checked below), so one SBOM describes both.
declare -A triple=([linux-amd64]=x86_64-unknown-linux-gnu [linux-arm64]=aarch64-unknown-linux-gnu
  [freebsd-amd64]=x86_64-unknown-freebsd [netbsd-amd64]=x86_64-unknown-netbsd [openbsd-amd64]=x86_64-unknown-openbsd
  [macos-universal]=aarch64-apple-darwin)
cargo metadata --locked --format-version 1 >/dev/null || die "Cargo.lock is not up to date (cargo metadata --locked)"
lock_sum=$(sha256sum Cargo.lock)
mkdir -p "$tmp/sbom"
for t in "${targets[@]}"; do
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)} \
    cargo cyclonedx --format json --spec-version 1.5 --target "${triple[$t]}" \
    --override-filename "wpam-sbom-$t" -q >&2
  mv "$here/wpam-sbom-$t.json" "$tmp/sbom/$t.json"
done
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)} \
  cargo cyclonedx --format json --spec-version 1.5 --target x86_64-apple-darwin \
  --override-filename wpam-sbom-macos-x86_64 -q >&2
mv "$here/wpam-sbom-macos-x86_64.json" "$tmp/sbom/macos-x86_64.json"
purls() { python3 -c 'import json, sys; print("\n".join(sorted(c.get("purl", c["name"]) for c in json.load(open(sys.argv[1])).get("components", []))))' "$1"; }
[ "$(purls "$tmp/sbom/macos-universal.json")" = "$(purls "$tmp/sbom/macos-x86_64.json")" ] ||
  die "the macOS slices' dependencies differ (aarch64- vs x86_64-apple-darwin): one SBOM cannot describe both"
ok "macOS: the arm64 and x86_64 slices build the same $(purls "$tmp/sbom/macos-x86_64.json" | wc -l) dependencies"
[ "$(sha256sum Cargo.lock)" = "$lock_sum" ] || die "cargo cyclonedx changed Cargo.lock"
ok "SBOM bases for ${targets[*]} (Cargo.lock unchanged)"

# --- signing key -------------------------------------------------------------------
phase "signing key"
mkdir -m 0700 "$GNUPGHOME"
cat >"$GNUPGHOME/gpg.conf" <<'EOF'
personal-digest-preferences SHA512
cert-digest-algo SHA512
no-emit-version
trust-model always
EOF
# The passphrase (empty for the throwaway key) reaches gpg and rpmsign
# through its 0600 file (above), never a command line.
# The key CI holds is a signing subkey: the primary (certify only) stays
# offline (docs/release.md). The dry run models that with a throwaway primary
# made in a GNUPGHOME of its own (the "offline machine"), of which only the
# signing subkey is exported, as `gpg --export-secret-subkeys SUBKEY!` does
# for the real one.
if [ "$dry" = 1 ]; then
  # The rotation of docs/release.md rehearsed: the primary got a first signing
  # subkey ("old", which signed the previous release: the gh-pages fixture),
  # then a second ("new"), committed (the public keyring in keys/) before it
  # signs; this run signs with the new one, and the site the old one signed
  # must still verify, for the release (seed) and the weekly refresh.
  log "dry run: a throwaway primary key (certify), an old and a new signing subkey (a rotation)"
  og() { GNUPGHOME=$tmp/gnupg-offline gpg --batch "$@"; }
  subkeys_of() { og --with-colons --list-keys "$1" | awk -F: '$1 == "sub" { on = 1; next } on && $1 == "fpr" { print $10; on = 0 }'; }
  mkdir -m 0700 "$tmp/gnupg-offline"
  og --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "wpam release dry run <wpam-dry-run@example.invalid>" rsa3072 cert 2d 2>/dev/null
  dry_primary=$(og --with-colons --list-keys | awk -F: '/^fpr:/ { print $10; exit }')
  og --pinentry-mode loopback --passphrase '' --quick-add-key "$dry_primary" rsa3072 sign 2d 2>/dev/null
  old_sub=$(subkeys_of "$dry_primary")
  mkdir -p "$tmp/keys-before" "$tmp/keys"
  og --armor --export "$dry_primary" >"$tmp/keys-before/wpam-archive-keyring.asc"
  (umask 077 && og --armor --export-secret-subkeys "$old_sub!" >"$tmp/secrets/old-subkey.asc")
  og --pinentry-mode loopback --passphrase '' --quick-add-key "$dry_primary" rsa3072 sign 2d 2>/dev/null
  dry_sub=$(subkeys_of "$dry_primary" | grep -vx "$old_sub")
  og --armor --export "$dry_primary" >"$tmp/keys/wpam-archive-keyring.asc"
  for d in keys keys-before; do printf '# the throwaway primary of the dry run\n%s\n' "$dry_primary" >"$tmp/$d/wpam-archive-keyring.fpr"; done
  (umask 077 && og --armor --export-secret-subkeys "$dry_sub!" >"$keyfile" && cp "$keyfile" "$tmp/secrets/dry-subkey.asc")
  GNUPGHOME=$tmp/gnupg-offline gpgconf --kill all >/dev/null 2>&1 || true
  # The old subkey, as the CI secret held it before the rotation.
  mkdir -m 0700 "$tmp/gnupg-old"
  GNUPGHOME=$tmp/gnupg-old gpg --batch --import "$tmp/secrets/old-subkey.asc" 2>/dev/null
  old_sign=(env GNUPGHOME="$tmp/gnupg-old" gpg --batch --yes --pinentry-mode loopback --passphrase '' --local-user "$old_sub!")
  keys_dir=$tmp/keys
else
  [ -s "$keyfile" ] || die "WPAM_SIGNING_KEY_FILE (the armored secret signing subkey) is not set"
  [ -s "$pkgkey" ] || die "WPAM_PKG_SIGNING_KEY_FILE (the FreeBSD repository's RSA key, PEM) is not set"
fi
gpg --batch --import "$keyfile" 2>/dev/null || die "the signing key ($keyfile) does not import"
[ "$dry" = 0 ] || rm -f "$keyfile"
fprs=$(key_fprs) || die "signing key: $fprs"
read -r primary fpr <<<"$fprs"
ok "signing subkey $fpr of primary $primary (primary secret not present)"
gpg_sign=(gpg --batch --yes --pinentry-mode loopback --passphrase-file "$passfile" --local-user "$fpr!")
# The keyring users install, and the one every signature is checked with: the
# committed one (keys/: the primary with every subkey, a rotation's next
# subkey or primary committed before it signs), checked against its committed
# fingerprint file, which README.md quotes. Every key in it must be valid
# (none expired or revoked).
r=$(trusted_keyring "$keys_dir" "$primary" "$fpr" "$site/wpam-archive-keyring.gpg") || die "$r"
cp "$keys_dir/wpam-archive-keyring.asc" "$site/wpam-archive-keyring.asc"
bad_keys=$(gpg --batch --with-colons --show-keys "$site/wpam-archive-keyring.gpg" | awk -F: '$1 == "pub" && $2 ~ /[erd]/ { print $5 }')
[ -z "$bad_keys" ] || die "the keyring would publish expired or revoked primary keys: $bad_keys"
cp -p "$site/wpam-archive-keyring.gpg" "$site/wpam-archive-keyring.asc" "$files/"
ok "keyring $keys_dir/wpam-archive-keyring.asc: $(gpg --batch --with-colons --show-keys "$site/wpam-archive-keyring.gpg" | grep -c '^pub:') primary key(s), $(gpg --batch --with-colons --show-keys "$site/wpam-archive-keyring.gpg" | grep -c '^sub:') subkey(s), the signing one among them"
# README.md quotes the committed fingerprint (the line after its marker), so
# a user compares the downloaded keyring with something that does not come
# from the same origin (readme_fpr: ci/lib/release.sh).
if [ "$dry" = 1 ]; then
  if r=$(trusted_keyring "$here/keys" "$primary" "$fpr" "$tmp/committed.gpg"); then
    die "the committed keys/ accept the throwaway key?"
  fi
  ok "the committed keys/ refuse this key (a real release with it would stop): $r"
  if r=$(trusted_keyring "$tmp/keys-before" "$primary" "$fpr" "$tmp/before.gpg"); then
    die "a committed keyring without the new subkey accepted it"
  fi
  grep -q "is not a valid signing subkey of $primary" <<<"$r" || die "keyring without the new subkey refused for another reason: $r"
  ok "a new subkey signs only once the committed keyring carries it"
  # Another primary: the same but its last hex digit (which may itself be 0).
  other_last=0
  [ "${primary:39:1}" != 0 ] || other_last=1
  printf '%s%s\n' "${primary:0:39}" "$other_last" >"$tmp/keys-other.fpr"
  mkdir -p "$tmp/keys-other" && cp "$tmp/keys/wpam-archive-keyring.asc" "$tmp/keys-other/" && mv "$tmp/keys-other.fpr" "$tmp/keys-other/wpam-archive-keyring.fpr"
  if r=$(trusted_keyring "$tmp/keys-other" "$primary" "$fpr" "$tmp/other.gpg"); then
    die "a fingerprint file naming another primary accepted the keyring"
  fi
  grep -q 'are not those' <<<"$r" || die "fingerprint file naming another key refused for another reason: $r"
  ok "a keyring whose primary the committed fingerprint file does not name is refused"
else
  grep -qx "$(readme_fpr README.md)" <<<"$(release_fprs "$keys_dir/wpam-archive-keyring.fpr")" ||
    die "README.md's release key fingerprint ($(readme_fpr README.md)) is not one keys/wpam-archive-keyring.fpr names"
  ok "README.md quotes $(readme_fpr README.md), the committed primary"
fi
printf '\nSigning key: primary %s, signing subkey %s\n' "$primary" "$fpr" >>"$notes"
# The FreeBSD repository's key: pkg signs with RSA keys, not OpenPGP ones.
if [ "$dry" = 1 ]; then (umask 077 && openssl genrsa -out "$pkgkey" 4096 2>/dev/null); fi
openssl pkey -in "$pkgkey" -pubout -out "$files/wpam-freebsd-repo.pub" 2>/dev/null ||
  die "the FreeBSD repository key is not a private key openssl reads"
pkgkey_sha256=$(sha256sum "$files/wpam-freebsd-repo.pub" | cut -d' ' -f1)
ok "FreeBSD repository key: wpam-freebsd-repo.pub, sha256 $pkgkey_sha256"
printf 'FreeBSD repository key (freebsd/wpam.pub) sha256: %s\n' "$pkgkey_sha256" >>"$notes"
keyring=$site/wpam-archive-keyring.gpg

# --- earlier releases (gh-pages) ---------------------------------------------------
# What the published site holds is carried into this one only when its signed
# indexes vouch for it (ci/release/publish.sh seed, ci/release/pages-carry.py). The
# dry run rehearses it against a local bare repository standing for gh-pages:
# a previous release signed with this run's key (an older wpam .deb), then
# planted and tampered copies that must each stop the release.
adopted=$out/adopted-rpms
seed() { ci/release/publish.sh seed "$@"; }
if [ "$dry" = 1 ]; then
  phase "dry run: rehearse carrying gh-pages over (local remote)"
  export WPAM_PAGES_REMOTE=$tmp/pages.git
  fx=$tmp/fixture
  make_prev_site "$fx/site" "${old_sign[@]}"
  to_remote "$fx/site" "$tmp/pages.git"
  gpg --batch --dearmor <"$tmp/keys/wpam-archive-keyring.asc" >"$tmp/keys.gpg"
  signer() { gpgv --keyring "$tmp/keys.gpg" "$1" 2>&1 | sed -n 's/.*using RSA key //p'; }
  [ "$(signer "$fx/site/apt/dists/$suite/InRelease")" = "$old_sub" ] ||
    die "the fixture's InRelease is not signed by the old subkey"
  # The weekly refresh after the rotation: the new subkey re-signs the site the
  # old one signed, checked against the committed keyring (before, against a
  # keyring exported from the new subkey only, this failed every week).
  refresh() { # SITE CHECKOUT [env...]: ci/release/apt-refresh.sh with the new subkey
    local s=$1 c=$2
    shift 2
    env WPAM_SIGNING_KEY_FILE="$tmp/secrets/dry-subkey.asc" WPAM_KEYS_DIR="$tmp/keys" "$@" ci/release/apt-refresh.sh "$s" "$c"
  }
  refresh "$tmp/rot/site" "$tmp/rot/co" 2>"$tmp/refresh.log" ||
    { cat "$tmp/refresh.log" >&2; die "ci/release/apt-refresh.sh with the new subkey refused the site the old one signed"; }
  [ "$(signer "$tmp/rot/site/apt/dists/$suite/InRelease")" = "$dry_sub" ] ||
    die "the refreshed InRelease is not signed by the new subkey"
  ok "rotation: apt-refresh with the new subkey verifies the site the old one signed and re-signs it"
  if refresh "$tmp/rot/site2" "$tmp/rot/co2" WPAM_KEYS_DIR="$tmp/keys-before" >"$tmp/refresh.log" 2>&1; then
    die "apt-refresh signed with a subkey the committed keyring lacks"
  fi
  grep -q 'is not a valid signing subkey' "$tmp/refresh.log" || { cat "$tmp/refresh.log" >&2; die "apt-refresh failed for another reason"; }
  ok "rotation: apt-refresh refuses a subkey the committed keyring does not carry yet"
  if refresh "$tmp/rot/site3" "$tmp/rot/co3" WPAM_SIGNING_KEY="$(cat "$tmp/secrets/dry-subkey.asc")" >"$tmp/refresh.log" 2>&1; then
    die "apt-refresh took the signing key from the environment"
  fi
  grep -q 'WPAM_SIGNING_KEY is set in the environment' "$tmp/refresh.log" || { cat "$tmp/refresh.log" >&2; die "apt-refresh failed for another reason"; }
  ok "apt-refresh refuses a signing key in its environment (files only)"
  rm -rf "$tmp/rot"
  expect_refused() { # what why: gh-pages made of $tmp/refuse must be refused, saying why
    local what=$1 why=$2 work=$tmp/refuse
    to_remote "$work" "$tmp/refuse.git"
    rm -rf "$tmp/scratch" && mkdir -p "$tmp/scratch/files"
    cp -p "$files"/* "$tmp/scratch/files/"
    if WPAM_PAGES_REMOTE=$tmp/refuse.git seed "$tmp/scratch/site" "$tmp/scratch/co" "$keyring" \
      "$tmp/scratch/files" "$tmp/scratch/adopted" >"$tmp/refuse.log" 2>&1; then
      cat "$tmp/refuse.log" >&2
      die "seed carried over gh-pages with $what"
    fi
    grep -q -- "$why" "$tmp/refuse.log" || { cat "$tmp/refuse.log" >&2; die "seed failed for another reason ($what)"; }
    ok "seed refuses gh-pages with $what: $(grep -m1 -o -- "$why.*" "$tmp/refuse.log")"
  }
  variant() { rm -rf "$tmp/refuse" && cp -a "$fx/site" "$tmp/refuse"; }
  prev_deb=apt/pool/$component/w/wpam/wpam_0.0.1-1_amd64.deb
  variant && cp "$tmp/refuse/$prev_deb" "$tmp/refuse/apt/pool/$component/w/wpam/evil_1.0_amd64.deb"
  expect_refused "a planted evil_1.0_amd64.deb" "evil_1.0_amd64.deb: not a wpam package"
  variant && cp "$tmp/refuse/$prev_deb" "$tmp/refuse/apt/pool/$component/w/wpam/wpam_9.9.9-1_amd64.deb"
  expect_refused "a planted wpam_9.9.9-1_amd64.deb no index lists" "wpam_9.9.9-1_amd64.deb: listed in no signed Packages index"
  variant && cp "$files/wpam_$VERSION-1_amd64.deb" "$tmp/refuse/$prev_deb"
  expect_refused "other bytes under an indexed name" "wpam_0.0.1-1_amd64.deb: not the bytes its signed Packages index lists"
  variant && GNUPGHOME=$tmp/gnupg-other-seed sign_other "$tmp/refuse/apt/dists/$suite"
  expect_refused "an InRelease signed by another key" "InRelease does not verify"
  # A remote that cannot be read is not "no branch yet".
  if WPAM_PAGES_REMOTE=$tmp/no-such-remote.git seed "$tmp/s1" "$tmp/c1" "$keyring" "$files" "$tmp/a1" >"$tmp/refuse.log" 2>&1; then
    cat "$tmp/refuse.log" >&2
    die "seed took an unreadable remote for an empty one"
  fi
  grep -q 'cannot read the gh-pages branch' "$tmp/refuse.log" || { cat "$tmp/refuse.log" >&2; die "seed failed for another reason (unreadable remote)"; }
  ok "seed fails loudly on a remote it cannot read"
  git init --quiet --bare "$tmp/empty.git"
  WPAM_PAGES_REMOTE=$tmp/empty.git seed "$tmp/s2" "$tmp/c2" "$keyring" "$files" "$tmp/a2" 2>"$tmp/refuse.log" ||
    { cat "$tmp/refuse.log" >&2; die "seed failed on a remote without gh-pages"; }
  grep -q 'no gh-pages branch yet' "$tmp/refuse.log" || die "seed: no 'no gh-pages branch yet' for a remote without it"
  ok "a remote without gh-pages is a new branch"
  # A FreeBSD major no longer published (13, end of life 2026-04-30) is left
  # behind, not carried as an All/ without a catalogue (issue 24).
  variant && mkdir -p "$tmp/refuse/freebsd/13/amd64/All" &&
    printf 'stale\n' >"$tmp/refuse/freebsd/13/amd64/All/wpam-0.0.1.pkg"
  to_remote "$tmp/refuse" "$tmp/refuse.git"
  rm -rf "$tmp/scratch" && mkdir -p "$tmp/scratch/files" && cp -p "$files"/* "$tmp/scratch/files/"
  WPAM_PAGES_REMOTE=$tmp/refuse.git seed "$tmp/scratch/site" "$tmp/scratch/co" "$keyring" \
    "$tmp/scratch/files" "$tmp/scratch/adopted" 2>"$tmp/refuse.log" ||
    { cat "$tmp/refuse.log" >&2; die "seed failed on gh-pages holding freebsd/13"; }
  ! [ -e "$tmp/scratch/site/freebsd/13" ] || die "seed carried freebsd/13, a major no longer published"
  grep -q 'freebsd/13/amd64: FreeBSD 13 is no longer published' "$tmp/refuse.log" ||
    { cat "$tmp/refuse.log" >&2; die "seed did not say it left freebsd/13 behind"; }
  ok "seed leaves freebsd/13 (no longer published) behind"
  rm -rf "$tmp/refuse" "$tmp/refuse.git" "$tmp/scratch" "$tmp/s1" "$tmp/c1" "$tmp/s2" "$tmp/c2" "$tmp/empty.git"
fi
phase "keep the packages of earlier releases (gh-pages)"
seed "$site" "$out/gh-pages" "$keyring" "$files" "$adopted"
if [ "$dry" = 1 ]; then
  [ -f "$site/$prev_deb" ] || die "seed did not carry the previous release's $prev_deb"
  ok "the previous release's wpam_0.0.1-1_amd64.deb is carried over"
fi

# --- RPM signatures ------------------------------------------------------------------
phase "sign the RPMs (rpmsign)"
sign_rpms() { # dir adopted-list: signs every RPM there not published already
  local f n=0
  for f in "$1"/*.rpm; do
    if grep -qxF "$(basename "$f")" "$2" 2>/dev/null; then
      log "$(basename "$f"): published already, its signed bytes kept"
      continue
    fi
    rpmsign --addsign --define "_gpg_name $fpr!" --define "_gpg_path $GNUPGHOME" \
      --define "__gpg $(command -v gpg)" --define "_gpg_digest_algo sha256" \
      --define "_gpg_sign_cmd_extra_args --batch --pinentry-mode loopback --passphrase-file $passfile" \
      "$f" </dev/null 2>&1 | { grep -v 'GPG_TTY' || true; } >&2
    n=$((n + 1))
  done
  echo "$n"
}
ok "signed $(sign_rpms "$files" "$adopted") RPMs"

phase "SBOMs: one per artifact (ci/release/sbom-artifacts.py)"
artifacts_of() { # target -> the released files built from it
  case "$1" in
    linux-amd64) echo "wpam-$VERSION-$1.tar.gz"; basename "$(compgen -G "$files/wpam_$VERSION-*_amd64.deb")"; basename "$(compgen -G "$files/wpam-$VERSION-*.x86_64.rpm")" ;;
    linux-arm64) echo "wpam-$VERSION-$1.tar.gz"; basename "$(compgen -G "$files/wpam_$VERSION-*_arm64.deb")"; basename "$(compgen -G "$files/wpam-$VERSION-*.aarch64.rpm")" ;;
    *) echo "wpam-$VERSION-$1.tar.gz"; find "$files" -maxdepth 1 -name "wpam-$VERSION-$1.*" ! -name '*.tar.gz' ! -name '*.cdx.json' -printf '%f\n' ;;
  esac
}
pinned() { sed -n "s/^$1=\${$1:-\(.*\)}\$/\1/p" ci/build/setup-cross.sh; } # a version ci/build/setup-cross.sh pins
n=0
for t in "${targets[@]}"; do
  mapfile -t arts < <(artifacts_of "$t" | sed "s#^#$files/#")
  ZIGLANG_VERSION=$(pinned ZIGLANG_VERSION) CARGO_ZIGBUILD_VERSION=$(pinned CARGO_ZIGBUILD_VERSION) \
    WPAM_NIGHTLY=$(pinned WPAM_NIGHTLY) \
    python3 ci/release/sbom-artifacts.py "$tmp/sbom/$t.json" "$dist/$t" "$files" "${arts[@]}" >"$tmp/sbom/$t.out"
  n=$((n + $(wc -l <"$tmp/sbom/$t.out")))
done
ok "$n SBOMs, one per package and tarball"

# --- APT repository --------------------------------------------------------------------
phase "APT repository (apt-ftparchive)"
cp -p "$files"/*.deb "$pool/"
# Valid-Until bounds a freeze (a mirror or cache serving an old, still
# signed Release): apt refuses the Release after it. The pages are re-signed
# well before that (.github/workflows/apt-refresh.yml, weekly; ci/release/release.sh
# --refresh-apt). Acquire-By-Hash: clients fetch indexes by their SHA256
# (by-hash/SHA256/<sum>), which Pages replaces atomically per file, so a
# client between the old InRelease and the new indexes never sees a hash
# mismatch; the previous indexes stay (carried by seed). Only SHA256 is
# listed, so apt asks by-hash/SHA256 and never by a weaker hash.
valid_days=${WPAM_APT_VALID_DAYS:-21}
apt_indexes "$site/apt"
apt_release "$site/apt" "$valid_days" "${gpg_sign[@]}"
rel=$site/apt/dists/$suite
ok "APT repository: ${apt_arches[*]}, by-hash, Valid-Until +${valid_days}d, signed Release/InRelease"

# --- RPM repository ----------------------------------------------------------------
phase "RPM repository (createrepo_c)"
cp -p "$files"/*.rpm "$site/rpm/"
createrepo_c --quiet --general-compress-type gz --revision "$VERSION" "$site/rpm" >&2
"${gpg_sign[@]}" --armor --detach-sign -o "$site/rpm/repodata/repomd.xml.asc" "$site/rpm/repodata/repomd.xml"
cat >"$site/rpm/wpam.repo" <<EOF
[wpam]
name=wpam (Werbot second factor for PAM)
baseurl=$pages_url/rpm
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=$pages_url/wpam-archive-keyring.asc
EOF
ok "RPM repository: ${rpm_arches[*]}, signed repomd.xml"

# --- FreeBSD repositories ------------------------------------------------------------
phase "FreeBSD repositories (pkg repo)"
# (through a file, not <(...): a failure there must stop the release)
ci/release/freebsd-repo.sh "$dist/freebsd-amd64/wpam-$VERSION.pkg" "$site" "$pkgkey" "$pages_url" >"$tmp/freebsd-abis"
mapfile -t freebsd_abis <"$tmp/freebsd-abis"
[ ${#freebsd_abis[@]} -gt 0 ] || die "ci/release/freebsd-repo.sh made no repository"
cmp -s "$site/freebsd/wpam.pub" "$files/wpam-freebsd-repo.pub" || die "site/freebsd/wpam.pub is not the release's key"
ok "FreeBSD repositories: ${freebsd_abis[*]}, signed (pubkey), wpam.conf"

cat >"$site/index.html" <<EOF
<!doctype html>
<meta charset="utf-8">
<title>wpam package repositories</title>
<h1>wpam package repositories</h1>
<p>Signing key: <a href="wpam-archive-keyring.gpg">wpam-archive-keyring.gpg</a>
(<a href="wpam-archive-keyring.asc">armored</a>), primary key fingerprint <code>$primary</code>
(compare it with the one in the project's README before trusting the key).</p>
<ul>
<li>APT: <code>deb [signed-by=/usr/share/keyrings/wpam-archive-keyring.gpg] $pages_url/apt $suite $component</code></li>
<li>dnf: <a href="rpm/wpam.repo">rpm/wpam.repo</a></li>
<li>FreeBSD (pkg): <a href="freebsd/wpam.conf">freebsd/wpam.conf</a> and its key
<a href="freebsd/wpam.pub">freebsd/wpam.pub</a> (sha256 <code>$pkgkey_sha256</code>)</li>
</ul>
EOF

# --- SHA256SUMS -----------------------------------------------------------------------
phase "SHA256SUMS + SHA256SUMS.asc"
(cd "$files" && find . -maxdepth 1 -type f ! -name 'SHA256SUMS*' -printf '%f\n' | LC_ALL=C sort |
  xargs -d '\n' sha256sum >SHA256SUMS)
"${gpg_sign[@]}" --armor --detach-sign -o "$files/SHA256SUMS.asc" "$files/SHA256SUMS"
ok "SHA256SUMS over $(wc -l <"$files/SHA256SUMS") files, signed"

# =================================== verification =====================================
phase "verify: signatures (gpgv against the exported key)"
keyring=$site/wpam-archive-keyring.gpg
vgpg() { gpgv --keyring "$keyring" "$@" 2>"$tmp/gpgv.log" || { cat "$tmp/gpgv.log" >&2; return 1; }; }
vgpg "$files/SHA256SUMS.asc" "$files/SHA256SUMS" && ok "SHA256SUMS.asc"
vgpg "$rel/Release.gpg" "$rel/Release" && ok "Release.gpg"
vgpg "$rel/InRelease" && ok "InRelease"
vgpg "$site/rpm/repodata/repomd.xml.asc" "$site/rpm/repodata/repomd.xml" && ok "repomd.xml.asc"
cmp -s <(gpg --dearmor <"$site/wpam-archive-keyring.asc") "$keyring" && ok "keyring .asc == .gpg"
cp "$files/SHA256SUMS" "$tmp/SHA256SUMS.tampered"
echo "0000000000000000000000000000000000000000000000000000000000000000  evil" >>"$tmp/SHA256SUMS.tampered"
if gpgv --keyring "$keyring" "$files/SHA256SUMS.asc" "$tmp/SHA256SUMS.tampered" 2>/dev/null; then
  die "a tampered SHA256SUMS verified"
fi
ok "a tampered SHA256SUMS is rejected"
rpmdb=$tmp/rpmdb
mkdir -p "$rpmdb"
rpmkeys --dbpath "$rpmdb" --import "$site/wpam-archive-keyring.asc"
for f in "$files"/*.rpm; do
  r=$(rpmkeys --dbpath "$rpmdb" --checksig -v "$f" 2>&1) || { echo "$r" >&2; die "rpm signature: $f"; }
  grep -qiE 'Header V4 RSA/SHA(256|512) Signature, key ID [0-9a-f]+: OK' <<<"$r" ||
    { echo "$r" >&2; die "no OK V4 signature on $f"; }
  ok "rpm signature $(basename "$f")"
done

phase "verify: SHA256SUMS"
(cd "$files" && sha256sum --quiet --strict -c SHA256SUMS) && ok "every sum matches"
unlisted=$(cd "$files" && comm -23 <(find . -maxdepth 1 -type f ! -name 'SHA256SUMS*' -printf '%f\n' | LC_ALL=C sort) \
  <(awk '{ print $2 }' SHA256SUMS | LC_ALL=C sort))
[ -z "$unlisted" ] || die "not in SHA256SUMS: $unlisted"
ok "every file is listed"

phase "verify: APT indexes, RPM metadata, SBOM"
python3 - "$site" "$files" "$VERSION" "$suite" "$component" "${apt_arches[*]}" "${rpm_arches[*]}" <<'PY'
import gzip, hashlib, json, os, sys, xml.etree.ElementTree as ET
site, files, version, suite, comp, apt_arches, rpm_arches = sys.argv[1:8]
def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
def ok(m): print("release: ok   " + m, file=sys.stderr)
def fail(m): sys.exit("release: error: " + m)

# APT: Release hashes cover the indexes; each index lists wpam <v> for its arch
apt = os.path.join(site, "apt")
rel = os.path.join(apt, "dists", suite)
fields, cur = {}, None
for line in open(os.path.join(rel, "Release")):
    if line[0] in " \t" and cur:
        fields[cur].append(line.split())
    else:
        cur, _, val = line.partition(":")
        fields[cur] = val.strip() if val.strip() else []
for a in apt_arches.split():
    if a not in fields["Architectures"].split(): fail(f"Release lacks architecture {a}")
# Freeze attacks: a Valid-Until in the future (and not years away); by-hash.
import email.utils, time
for f in ("Date", "Valid-Until"):
    if not isinstance(fields.get(f), str): fail(f"Release has no {f}")
date = email.utils.parsedate_to_datetime(fields["Date"]).timestamp()
until = email.utils.parsedate_to_datetime(fields["Valid-Until"]).timestamp()
now = time.time()
if not (now - 3600 < date <= now + 60): fail(f"Release Date {fields['Date']} is not now")
if not (now + 86400 < until <= now + 60 * 86400): fail(f"Valid-Until {fields['Valid-Until']} is not 1 to 60 days ahead")
if fields.get("Acquire-By-Hash") != "yes": fail("Release lacks Acquire-By-Hash: yes")
for weak in ("MD5Sum", "SHA1", "SHA512"):
    if weak in fields: fail(f"Release lists {weak}: apt would ask by-hash/{weak}")
ok(f"Release: Valid-Until {fields['Valid-Until']} ({(until - now) / 86400:.0f} days), Acquire-By-Hash: yes, SHA256 only")
sums = {p: (int(s), h) for h, s, p in fields["SHA256"]}
for p, (size, h) in sums.items():
    d = os.path.join(rel, os.path.dirname(p), "by-hash", "SHA256", h)
    if not os.path.exists(d) or sha256(d) != h: fail(f"no by-hash/SHA256 copy of {p}")
ok(f"by-hash/SHA256: all {len(sums)} indexes")
for a in apt_arches.split():
    for name in ("Packages", "Packages.gz"):
        p = f"{comp}/binary-{a}/{name}"
        if p not in sums: fail(f"Release lacks {p}")
        full = os.path.join(rel, p)
        if (os.path.getsize(full), sha256(full)) != sums[p]: fail(f"Release hash mismatch for {p}")
    stanzas = [dict(l.split(": ", 1) for l in s.splitlines() if ": " in l)
               for s in open(os.path.join(rel, comp, f"binary-{a}", "Packages")).read().split("\n\n") if s.strip()]
    got = [s for s in stanzas if s["Package"] == "wpam" and s["Architecture"] == a and s["Version"].startswith(version + "-")]
    if not got: fail(f"binary-{a}/Packages lists no wpam {version} for {a}")
    for s in got:
        deb = os.path.join(apt, s["Filename"])
        if int(s["Size"]) != os.path.getsize(deb) or s["SHA256"] != sha256(deb):
            fail(f"Packages entry does not match {s['Filename']}")
    ok(f"APT binary-{a}: wpam {got[0]['Version']} ({got[0]['Filename']}), hashes match")

# RPM: repomd.xml -> primary.xml.gz -> packages for both arches
rpm = os.path.join(site, "rpm")
ns = {"r": "http://linux.duke.edu/metadata/repo", "c": "http://linux.duke.edu/metadata/common"}
repomd = ET.parse(os.path.join(rpm, "repodata", "repomd.xml")).getroot()
prim = repomd.find("r:data[@type='primary']", ns)
if prim is None: fail("repomd.xml has no primary data")
loc = prim.find("r:location", ns).get("href")
full = os.path.join(rpm, loc)
if sha256(full) != prim.find("r:checksum", ns).text: fail("primary checksum mismatch in repomd.xml")
root = ET.fromstring(gzip.open(full).read())
pk = root.findall("c:package", ns)
if int(root.get("packages")) != len(pk): fail("primary.xml package count mismatch")
seen = set()
for p in pk:
    name, arch = p.find("c:name", ns).text, p.find("c:arch", ns).text
    ver = p.find("c:version", ns).get("ver")
    href = p.find("c:location", ns).get("href")
    if p.find("c:checksum", ns).text != sha256(os.path.join(rpm, href)): fail(f"checksum mismatch {href}")
    if name == "wpam" and ver == version: seen.add(arch)
for a in rpm_arches.split():
    if a not in seen: fail(f"primary.xml lists no wpam {version} for {a}")
ok(f"RPM primary.xml.gz: {len(pk)} packages, wpam {version} for {' '.join(sorted(seen))}, checksums match")

# SBOMs: one per package and tarball, naming the artifact by its hashes, the
# dependencies, the toolchain that built it.
arts = sorted(f for f in os.listdir(files) if f.endswith((".tar.gz", ".deb", ".rpm", ".pkg", ".tgz")))
for a in arts:
    p = os.path.join(files, a + ".cdx.json")
    if not os.path.exists(p): fail(f"no SBOM for {a}")
    b = json.load(open(p))
    if b.get("bomFormat") != "CycloneDX": fail(f"{a}.cdx.json is not CycloneDX")
    top = b["metadata"]["component"]
    h = {x["alg"]: x["content"] for x in top.get("hashes", [])}
    if top.get("name") != a or h.get("SHA-256") != sha256(os.path.join(files, a)):
        fail(f"{a}.cdx.json does not name {a} with its SHA-256")
    names = set()
    def walk(cs):
        for c in cs or []:
            names.add(c.get("name")); walk(c.get("components"))
    walk(b.get("components")); walk(top.get("components"))
    for want in ("ureq", "rustls", "serde_json", "pam_wpam.so" if "openbsd" not in a else "login_-wpam", "wpam"):
        if want not in names: fail(f"{a}.cdx.json lacks {want}")
    tools = {t.get("name"): t.get("version") for t in b["metadata"]["tools"]["components"]}
    for want in ("rustc", "zig", "cargo-cyclonedx"):
        if not any(want in (n or "") for n in tools): fail(f"{a}.cdx.json names no {want} among its tools")
    if "openbsd" in a and "rust toolchain" not in tools: fail(f"{a}.cdx.json names no nightly")
ok(f"SBOMs: {len(arts)} artifacts, each with its SHA-256, dependencies and toolchain (rustc {tools['rustc']}, zig {tools['zig']})")
PY

# cargo-auditable: the dependency tree in each module (section .dep-v0).
# Required in CI (CI=true) and the release workflow; a warning elsewhere (a
# dist/ built before cargo-auditable was installed).
require_aud=${WPAM_REQUIRE_AUDITABLE:-$([ "${CI:-}" = true ] && echo 1 || echo 0)}
# The section names of a universal Mach-O file, per slice ("<cputype>
# <segment>,<section>" lines): readelf reads ELF only.
macho_sections() { # file
  python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic, n = struct.unpack(">II", d[:8])
if magic != 0xCAFEBABE:
    sys.exit(0)
for i in range(n):
    cpu, _, off, size, _ = struct.unpack(">iIIII", d[8 + 20 * i:28 + 20 * i])
    m = d[off:off + size]
    if struct.unpack("<I", m[:4])[0] != 0xFEEDFACF:
        sys.exit(f"slice {i}: not a 64-bit Mach-O")
    ncmds = struct.unpack("<I", m[16:20])[0]
    p = 32
    for _ in range(ncmds):
        cmd, cmdsize = struct.unpack("<II", m[p:p + 8])
        if cmd == 0x19:  # LC_SEGMENT_64: its sections follow the 72-byte header
            nsects = struct.unpack("<I", m[p + 64:p + 68])[0]
            for k in range(nsects):
                s = p + 72 + 80 * k
                sect = m[s:s + 16].rstrip(b"\0").decode()
                seg = m[s + 16:s + 32].rstrip(b"\0").decode()
                print(f"{cpu} {seg},{sect}")
        p += cmdsize
PY
}
has_dep_v0() { # file: cargo-auditable's section, in every slice of a universal Mach-O file
  if [ "$(head -c4 "$1" | od -An -tx1 | tr -d ' \n')" = cafebabe ]; then
    # Each slice's cputype (arm64 16777228, x86_64 16777223) with a .dep-v0.
    [ "$(macho_sections "$1" | awk '$2 ~ /,\.dep-v0$/ { print $1 }' | LC_ALL=C sort -u | tr '\n' ' ')" = "16777223 16777228 " ]
  else
    # (a here-string, not a pipe into grep -q: no SIGPIPE under pipefail)
    grep -q '\.dep-v0' <<<"$(readelf -S -W "$1" 2>/dev/null)"
  fi
}
for t in "${targets[@]}"; do
  for m in "$dist/$t/pam_wpam.so" "$dist/$t/login_-wpam" "$dist/$t/wpam"; do
    [ -f "$m" ] || continue
    if has_dep_v0 "$m"; then
      ok "auditable: ${m#"$dist"/}"
    elif [ "$require_aud" = 1 ]; then
      die "${m#"$dist"/} has no .dep-v0 section (in every slice; not built with cargo auditable)"
    else
      log "warn  ${m#"$dist"/} has no .dep-v0 section (in every slice; not built with cargo auditable)"
    fi
  done
done

# --- serve the site as Pages would, on a free loopback port ------------------------
phase "verify: the repositories as a client sees them (HTTP on loopback)"
python3 - "$site" "$tmp/port" >"$tmp/http.log" 2>&1 <<'PY' &
import functools, http.server, sys
site, portfile = sys.argv[1:3]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=site)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open(portfile + ".new", "w").write(str(s.server_address[1]))
__import__("os").rename(portfile + ".new", portfile)
s.serve_forever()
PY
server_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || die "HTTP server did not start: $(cat "$tmp/http.log")"
url=http://127.0.0.1:$(cat "$tmp/port")
# Another key, for the checks that a client refuses what it does not sign.
GNUPGHOME=$tmp/gnupg-other
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "not wpam <other@example.invalid>" ed25519 sign 1d 2>/dev/null
gpg --batch --export >"$tmp/other.gpg"
gpg --batch --armor --export >"$tmp/other.asc"
gpgconf --kill all >/dev/null 2>&1 || true
GNUPGHOME=$tmp/gnupg

# dnf with the published wpam.repo (baseurl and gpgkey on loopback): the key
# is fetched from gpgkey, repomd.xml.asc checked (repo_gpgcheck), both
# architectures listed; with another gpgkey dnf must refuse the metadata.
if ! command -v dnf >/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dnf >&2 || true
fi
if command -v dnf >/dev/null; then
  dnf_query() { # reposdir
    dnf -y -q --installroot="$tmp/dnfroot" --setopt=reposdir="$1" --setopt=cachedir="$tmp/dnfcache" \
      --setopt=skip_if_unavailable=False \
      --releasever=9 --forcearch=x86_64 repoquery --repo wpam --arch "$(tr ' ' , <<<"${rpm_arches[*]}")" \
      --qf '%{name} %{version} %{arch}' 2>&1
  }
  mkdir -p "$tmp/repos-other" "$tmp/repos"
  sed "s#$pages_url#$url#" "$site/rpm/wpam.repo" >"$tmp/repos/wpam.repo"
  sed "s#^gpgkey=.*#gpgkey=file://$tmp/other.asc#" "$tmp/repos/wpam.repo" >"$tmp/repos-other/wpam.repo"
  if r=$(dnf_query "$tmp/repos-other"); then
    echo "$r" >&2
    die "dnf accepted the repository metadata under another key"
  fi
  grep -q 'repomd.xml GPG signature verification error' <<<"$r" || { echo "$r" >&2; die "dnf failed for another reason"; }
  ok "dnf refuses the repository metadata under another key"
  rm -rf "$tmp/dnfroot" "$tmp/dnfcache"
  r=$(dnf_query "$tmp/repos") || { echo "$r" >&2; die "dnf repoquery failed"; }
  for a in "${rpm_arches[@]}"; do
    grep -qx "wpam $VERSION $a" <<<"$r" || { echo "$r" >&2; die "dnf lists no wpam $VERSION $a"; }
  done
  ok "dnf (wpam.repo, repo_gpgcheck=1): wpam $VERSION for ${rpm_arches[*]}"
else
  # Never skipped in CI: there the check must run.
  [ "${CI:-}" != true ] || die "dnf is not available and CI=true forbids skipping the wpam.repo check"
  log "warn  dnf not available: the wpam.repo check is skipped"
fi

# FreeBSD's pkg, as docs/packaging.md has a FreeBSD host do it: the key and
# wpam.conf fetched from the site (only the address, and where the key is kept
# here, differ), then `pkg install wpam` into a scratch root for each ABI;
# under another key the repository must be refused.
phase "verify: pkg install wpam from the FreeBSD repositories (FreeBSD's pkg)"
fetch_to() { python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=30).read())' "$1" "$2"; }
fb=$tmp/freebsd
mkdir -p "$fb/repos" "$fb/repos-other"
fetch_to "$url/freebsd/wpam.pub" "$fb/wpam.pub"
fetch_to "$url/freebsd/wpam.conf" "$fb/wpam.conf"
grep -qF "url: \"$pages_url/freebsd/\${VERSION_MAJOR}/\${ARCH}\"" "$fb/wpam.conf" || die "wpam.conf does not point at $pages_url/freebsd"
sed -e "s#$pages_url#$url#" -e "s#/usr/local/etc/pkg/keys/wpam.pub#$fb/wpam.pub#" "$fb/wpam.conf" >"$fb/repos/wpam.conf"
(umask 077 && openssl genrsa -out "$fb/other.pem" 2048 2>/dev/null)
openssl pkey -in "$fb/other.pem" -pubout -out "$fb/other.pub" 2>/dev/null
sed "s#$fb/wpam.pub#$fb/other.pub#" "$fb/repos/wpam.conf" >"$fb/repos-other/wpam.conf"
fbsd_pkg() { # ABI ROOT REPOS ARGS...: pkg as on that FreeBSD, installing into ROOT
  local abi=$1 root=$2 repos=$3
  shift 3
  mkdir -p "$root/var/log"
  timeout 300 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$pkg" -C /dev/null -R "$repos" \
    -o ABI="$abi" -o OSVERSION="$(cut -d: -f2 <<<"$abi")00000" -r "$root" "$@"
}
for abi in "${freebsd_abis[@]}"; do
  r=$fb/root-${abi//:/-}
  fbsd_pkg "$abi" "$r" "$fb/repos" install -y wpam >"$fb/install.log" 2>&1 ||
    { cat "$fb/install.log" >&2; die "$abi: pkg install wpam failed"; }
  got=$(fbsd_pkg "$abi" "$r" "$fb/repos" query '%n %v %R' wpam)
  [ "$got" = "wpam $VERSION wpam" ] || die "$abi: installed as '$got'"
  [ -f "$r/usr/local/lib/pam_wpam.so" ] || die "$abi: no /usr/local/lib/pam_wpam.so"
  fbsd_pkg "$abi" "$r" "$fb/repos" check -s wpam >/dev/null 2>&1 || die "$abi: pkg check -s wpam"
  ok "$abi: pkg install wpam ($got), /usr/local/lib/pam_wpam.so, checksums"
done
if fbsd_pkg "FreeBSD:14:amd64" "$fb/root-other" "$fb/repos-other" install -y wpam >"$fb/other.log" 2>&1; then
  cat "$fb/other.log" >&2
  die "pkg installed from the FreeBSD repository under another key"
fi
grep -q 'Invalid signature' "$fb/other.log" || { cat "$fb/other.log" >&2; die "pkg failed for another reason"; }
ok "pkg refuses the FreeBSD repository under another key"

# --- apt install from the repository, in a clean Debian root --------------------------
if [ "$chroot_check" = 1 ] && [ "$(id -u)" != 0 ]; then
  # Never skipped silently in CI: there the check must run.
  [ "${CI:-}" != true ] || die "the apt install check needs root (CI=true)"
  log "warn  not root: skipping the apt install check (--skip-chroot implied)"
  chroot_check=0
fi
if [ "$chroot_check" = 1 ]; then
  phase "verify: apt-get install wpam in a clean Debian root"
  # The minbase root ci/test/packages.sh caches (a tar of a bookworm
  # debootstrap, same path and format); built here when absent, and then
  # reused by test-packages too.
  base_tar=${WPAM_DEBOOTSTRAP_TAR:-${WPAM_TEST_DIR:-$here/build/test}/bookworm-minbase.tar}
  if [ ! -s "$base_tar" ]; then
    mirror=$(debian_mirror) # ci/lib/apt.sh: /etc/apt's, else deb.debian.org
    log "no cached Debian root: debootstrap --variant=minbase bookworm from $mirror -> $base_tar"
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
    debootstrap --variant=minbase bookworm "$tmp/bootstrap" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
      { tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
    mkdir -p "$(dirname "$base_tar")"
    tar -C "$tmp/bootstrap" -cf "$base_tar.new.$$" . && mv "$base_tar.new.$$" "$base_tar"
    rm -rf "$tmp/bootstrap"
  fi
  log "Debian root: a fresh copy of $base_tar"
  croot=$tmp/root
  mkdir -p "$croot"
  tar -xf "$base_tar" -C "$croot"
  if mount -t proc proc "$croot/proc" 2>/dev/null; then mounted+=("$croot/proc"); fi
  # Only the wpam repository: the check needs no network beyond loopback.
  rm -f "$croot/etc/apt/sources.list" "$croot"/etc/apt/sources.list.d/*
  # docs/packaging.md's steps: fetch the key into /usr/share/keyrings, add the source.
  python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1]).read())' \
    "$url/wpam-archive-keyring.gpg" "$croot/usr/share/keyrings/wpam-archive-keyring.gpg"
  echo "deb [signed-by=/usr/share/keyrings/wpam-archive-keyring.gpg] $url/apt $suite $component" \
    >"$croot/etc/apt/sources.list.d/wpam.list"
  in_root() { chroot "$croot" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
  # First with another key: apt must refuse the repository.
  cp "$tmp/other.gpg" "$croot/usr/share/keyrings/other.gpg"
  sed 's:wpam-archive-keyring.gpg:other.gpg:' "$croot/etc/apt/sources.list.d/wpam.list" >"$croot/etc/apt/sources.list.d/wpam-wrongkey.list"
  mv "$croot/etc/apt/sources.list.d/wpam.list" "$tmp/wpam.list"
  if in_root apt-get update -o APT::Update::Error-Mode=any >"$tmp/apt-wrong.log" 2>&1; then
    cat "$tmp/apt-wrong.log" >&2
    die "apt accepted the repository with the wrong signed-by key"
  fi
  grep -qE 'NO_PUBKEY|not signed|EXPKEYSIG|BADSIG' "$tmp/apt-wrong.log" || { cat "$tmp/apt-wrong.log" >&2; die "apt failed for another reason"; }
  ok "apt refuses the repository under another key"
  rm -f "$croot/etc/apt/sources.list.d/wpam-wrongkey.list" "$croot/usr/share/keyrings/other.gpg"
  mv "$tmp/wpam.list" "$croot/etc/apt/sources.list.d/wpam.list"
  in_root apt-get update -o APT::Update::Error-Mode=any >"$tmp/apt-update.log" 2>&1 ||
    { cat "$tmp/apt-update.log" >&2; die "apt-get update from the wpam repository failed"; }
  ok "apt-get update (InRelease verified by signed-by key)"
  # apt asked for the indexes by hash (Acquire-By-Hash), not by name.
  grep -qE "GET /apt/dists/$suite/$component/binary-amd64/by-hash/SHA256/[0-9a-f]{64} HTTP[^\"]*\" 200" "$tmp/http.log" ||
    { tail -20 "$tmp/http.log" >&2; die "apt did not fetch Packages by hash (Acquire-By-Hash not honoured)"; }
  ok "apt fetched the indexes by-hash/SHA256"
  in_root apt-get install -y --no-install-recommends wpam >"$tmp/apt-install.log" 2>&1 ||
    { cat "$tmp/apt-install.log" >&2; die "apt-get install wpam failed"; }
  # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
  got=$(in_root dpkg-query -W -f='${Version} ${Status}' wpam)
  [[ "$got" == "$VERSION-"*" install ok installed" ]] || die "wpam installed as: $got"
  # (/lib/<triplet>/security: where libpam looks on merged and unmerged /usr alike)
  module=$(in_root dpkg -L wpam | grep -E '^(/usr)?/lib/[^/]+-linux-gnu/security/pam_wpam\.so$' || true)
  if [ -z "$module" ] || [ ! -f "$croot$module" ]; then die "no /lib/<triplet>/security/pam_wpam.so installed"; fi
  grep -q "$url/apt $suite/$component" <<<"$(in_root apt-cache policy wpam)" || die "wpam not from the repository"
  ok "apt-get install wpam: $got, $module"
fi

# ===================================== publish =======================================
if [ "$dry" = 1 ]; then
  phase "dry run: push the pages to the local remote, then re-run the release's seed"
  ci/release/publish.sh pages "$VERSION" "$site" "$out/gh-pages"
  # A re-run of the same version: every package this run published is
  # carried back with its bytes; the RPMs are the published signed ones, not
  # signed anew (a new signature would be new bytes for a published version).
  rr=$tmp/rerun
  mkdir -p "$rr/files"
  while read -r g; do
    # shellcheck disable=SC2086 # $g is a glob
    for f in "$dist"/$g; do cp -p "$f" "$rr/files/"; done
  done < <(expected)
  cp -p "$files/wpam-freebsd-repo.pub" "$rr/files/"
  while read -r f name; do cp -p "$dist/$f" "$rr/files/$name"; done < <(bsd_packages)
  seed "$rr/site" "$rr/checkout" "$keyring" "$rr/files" "$rr/adopted" 2>"$tmp/rerun.log" ||
    { cat "$tmp/rerun.log" >&2; die "a re-run could not carry over what this run published"; }
  sign_rpms "$rr/files" "$rr/adopted" >/dev/null
  for f in "$files"/*.rpm "$files"/*.deb; do
    cmp -s "$f" "$rr/files/$(basename "$f")" || die "a re-run makes new bytes for $(basename "$f")"
  done
  ok "a re-run keeps every published package's bytes ($(wc -l <"$rr/adopted") RPMs taken as published)"
  for a in "${freebsd_abis[@]}"; do
    m=$(cut -d: -f2 <<<"$a")
    cmp -s "$rr/site/freebsd/$m/amd64/All/wpam-$VERSION.pkg" "$dist/freebsd-amd64/wpam-$VERSION.pkg" ||
      die "the re-run did not carry freebsd/$m/amd64/All/wpam-$VERSION.pkg through pkg's checks"
  done
  ok "the re-run carried the FreeBSD packages (catalogue verified and fetched by pkg)"
  # Planted beside what this run published: an RPM and a FreeBSD package.
  rm -rf "$tmp/refuse" && cp -a "$out/gh-pages" "$tmp/refuse" && rm -rf "$tmp/refuse/.git"
  cp "$tmp/refuse/rpm/wpam-$VERSION-1.x86_64.rpm" "$tmp/refuse/rpm/wpam-9.9.9-1.x86_64.rpm"
  expect_refused "a planted wpam-9.9.9-1.x86_64.rpm" "wpam-9.9.9-1.x86_64.rpm: listed in no signed primary.xml"
  rm -rf "$tmp/refuse" && cp -a "$out/gh-pages" "$tmp/refuse" && rm -rf "$tmp/refuse/.git"
  cp "$dist/freebsd-amd64/wpam-$VERSION.pkg" "$tmp/refuse/freebsd/14/amd64/All/wpam-9.9.9.pkg"
  expect_refused "a planted freebsd/14/amd64/All/wpam-9.9.9.pkg" "wpam-9.9.9.pkg: not in the signed catalogue"
  cmp -s "$site/$prev_deb" "$rr/site/$prev_deb" || die "the re-run lost $prev_deb"
  # A re-run whose build differs from what is published stops.
  printf 'x' >>"$rr/files/wpam_$VERSION-1_amd64.deb"
  if seed "$rr/site2" "$rr/checkout2" "$keyring" "$rr/files" "$rr/adopted2" >"$tmp/rerun.log" 2>&1; then
    die "a re-run replaced a published .deb with other bytes"
  fi
  grep -q "published with other bytes" "$tmp/rerun.log" || { cat "$tmp/rerun.log" >&2; die "re-run failed for another reason"; }
  ok "a re-run with other bytes for a published version is refused"
  # The weekly re-signing (ci/release/apt-refresh.sh, apt-refresh.yml) of what was
  # just pushed: new dates, the same indexes, then pushed on top.
  rf=$tmp/refresh
  refresh "$rf/site" "$rf/checkout" WPAM_APT_VALID_DAYS=30 2>"$tmp/refresh.log" ||
    { cat "$tmp/refresh.log" >&2; die "ci/release/apt-refresh.sh failed"; }
  until_of() { date -u -d "$(sed -n 's/^Valid-Until: //p' "$1")" +%s; }
  [ "$(until_of "$rf/site/apt/dists/$suite/Release")" -gt "$(until_of "$site/apt/dists/$suite/Release")" ] ||
    die "ci/release/apt-refresh.sh did not move Valid-Until"
  ci/release/publish.sh pages refresh "$rf/site" "$rf/checkout"
  ok "apt-refresh: re-signed with a later Valid-Until over the same indexes, pushed"
  rm -rf "$tmp/refuse" && cp -a "$rf/site" "$tmp/refuse"
  printf '\nPackage: wpam\nVersion: 9.9.9-1\nArchitecture: amd64\nFilename: pool/main/w/wpam/wpam_9.9.9-1_amd64.deb\nSize: 1\nSHA256: %064d\n' 0 \
    >>"$tmp/refuse/apt/dists/$suite/$component/binary-amd64/Packages"
  to_remote "$tmp/refuse" "$tmp/refuse.git"
  if refresh "$rf/site2" "$rf/checkout2" WPAM_PAGES_REMOTE="$tmp/refuse.git" >"$tmp/refresh.log" 2>&1; then
    die "ci/release/apt-refresh.sh re-signed a Packages index changed on gh-pages"
  fi
  grep -q 'does not match the signed Release' "$tmp/refresh.log" || { cat "$tmp/refresh.log" >&2; die "apt-refresh failed for another reason"; }
  ok "apt-refresh refuses to re-sign an index changed on gh-pages"
  # A file nothing vouches for, planted beside what the refresh just pushed:
  # the refresh re-publishes the whole site, so it must refuse, not carry it.
  rm -rf "$tmp/refuse" && cp -a "$rf/site" "$tmp/refuse" && touch "$tmp/refuse/.nojekyll"
  echo '<script src="https://evil.example.invalid/x.js"></script>' >"$tmp/refuse/download.html"
  to_remote "$tmp/refuse" "$tmp/refuse.git"
  if refresh "$rf/site3" "$rf/checkout3" WPAM_PAGES_REMOTE="$tmp/refuse.git" >"$tmp/refresh.log" 2>&1; then
    die "ci/release/apt-refresh.sh re-published a planted download.html"
  fi
  grep -q 'download.html: vouched for by no signed index' "$tmp/refresh.log" || { cat "$tmp/refresh.log" >&2; die "apt-refresh failed for another reason"; }
  ok "apt-refresh refuses a planted file (download.html) rather than re-publish it"
  # The alarm (apt-refresh.yml, job valid-until): the Release as served, 20
  # days ahead: enough for 10, an error for 30.
  WPAM_KEYS_DIR=$tmp/keys ci/release/apt-refresh.sh --check-expiry "$url" 10 2>"$tmp/expiry.log" ||
    { cat "$tmp/expiry.log" >&2; die "apt-refresh --check-expiry failed on a fresh Release"; }
  if WPAM_KEYS_DIR=$tmp/keys ci/release/apt-refresh.sh --check-expiry "$url" 30 >"$tmp/expiry.log" 2>&1; then
    die "apt-refresh --check-expiry passed a Release expiring within 30 days"
  fi
  grep -q 'the published APT Release expires in 2[01] days' "$tmp/expiry.log" || { cat "$tmp/expiry.log" >&2; die "--check-expiry failed for another reason"; }
  ok "apt-refresh --check-expiry: fine at 10 days, fails loudly within 30 ($(grep -m1 -o 'expires in [0-9]* days' "$tmp/expiry.log"))"
  log "would push $site to gh-pages, then create release v$VERSION as a draft with $(find "$files" -type f | wc -l) files and publish it"
else
  # Publishing is a step of its own (ci/hosted/ci.sh publish), the only one that
  # holds GH_TOKEN; this one holds the signing keys and no token.
  phase "ready: v$VERSION signed and verified; publish with ci/hosted/ci.sh publish"
fi

end=$(($(date +%s) - t0))
echo
echo "release: wpam $VERSION: $checks checks passed in $end s"
echo "release: files: $files"
find "$files" -maxdepth 1 -type f -printf '  %10s  %f\n' | LC_ALL=C sort -k2
echo "release: site:  $site"
echo "release: notes: $notes"
