#!/usr/bin/env bash
# The publishing half of ci/release/release.sh:
#
#   ci/release/publish.sh seed <site> <checkout> <keyring> <files> <adopted>
#       fetches the gh-pages branch into <checkout> and carries the packages
#       of earlier releases into <site> (APT pool, RPM directory, FreeBSD
#       All/), so the repositories keep every published version; the indexes
#       and catalogues are rebuilt over them afterwards. Only what the
#       previous, signed indexes list is carried (ci/release/pages-carry.py: InRelease
#       and repomd.xml.asc verified with gpgv against <keyring>; FreeBSD: the
#       catalogue verified and every package fetched through FreeBSD's pkg
#       with the repository key <files>/wpam-freebsd-repo.pub); a file they do
#       not list stops the release. A package of this version that is already
#       published must keep its bytes (RPMs: the published signed file is
#       taken, its name written to <adopted>, and not signed again).
#       Only a gh-pages branch that does not exist is "no branch yet"; any
#       other failure to read the remote stops the release.
#   ci/release/publish.sh pages <version> <site> <checkout>
#       commits <site> to gh-pages on top of <checkout> and pushes it (never
#       forced: a branch that moved meanwhile fails the push).
#   ci/release/publish.sh release <version> <files> <notes> <keyring>
#       the GitHub release v<version>, after the pages are pushed: created as
#       a draft with every file, checked, then published. A draft left by an
#       earlier failed run is deleted first; a published release is never
#       changed (no --clobber): if its signed SHA256SUMS lists the same files
#       and sums, the run has nothing to do, otherwise it fails.
#   ci/release/publish.sh publish <version> <files> <site> <notes> <checkout> <keyring>
#       pages, then release.
#   ci/release/publish.sh tap <version> <files> <token-file>
#       after the release: <files>/wpam.rb, the Homebrew formula, once
#       SHA256SUMS there lists it (the release job signed that list) and it is
#       <version>'s, committed as Formula/wpam.rb to the tap repository
#       (WPAM_TAP_REMOTE, default https://github.com/werbot/homebrew-tap.git)
#       and pushed (never forced) with the token in <token-file> (the secret
#       HOMEBREW_TAP_TOKEN); the same formula there already: nothing to do.
#       An empty or missing <token-file>: it says that nothing is published
#       and why, and exits 0 (a fork, or a project without a tap).
#
# Needs GH_TOKEN (contents: write) for a GitHub remote and for `gh`, and
# GITHUB_REPOSITORY (owner/name). The token reaches git through the
# environment (GIT_CONFIG_COUNT: an HTTP header), never argv, a URL or a log.
# WPAM_PAGES_REMOTE overrides the gh-pages remote (default: the GitHub repo;
# the dry run uses a local bare repository).
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
log() { printf 'publish: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
remote=${WPAM_PAGES_REMOTE:-}
if [ -z "$remote" ]; then
  [ -n "${GITHUB_REPOSITORY:-}" ] || die "GITHUB_REPOSITORY (owner/name) is not set"
  remote=https://github.com/$GITHUB_REPOSITORY.git
fi
g() { # git, with the token as an HTTP header from the environment when there is one
  if [ -n "${GH_TOKEN:-}" ]; then
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.https://github.com/.extraheader \
      GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)" \
      GIT_TERMINAL_PROMPT=0 timeout 600 git "$@"
  else
    GIT_TERMINAL_PROMPT=0 timeout 600 git "$@"
  fi
}

seed() {
  local site=$1 checkout=$2 keyring=$3 files=$4 adopted=$5 rc=0 n
  rm -rf "$checkout"
  : >"$adopted"
  # ls-remote --exit-code: 2 means "no such ref", anything else non-zero is a
  # failure to reach or read the remote.
  g ls-remote --exit-code --heads "$remote" gh-pages >/dev/null || rc=$?
  case "$rc" in
    0) ;;
    2)
      log "no gh-pages branch yet: a new one"
      git init --quiet -b gh-pages "$checkout"
      return 0
      ;;
    *) die "cannot read the gh-pages branch of the remote (git ls-remote exit $rc)" ;;
  esac
  g clone --quiet --depth 1 --branch gh-pages "$remote" "$checkout" || die "git clone of gh-pages failed"
  n=$(python3 "$here/ci/release/pages-carry.py" "$checkout" "$site" "$keyring" "$files" "$adopted") ||
    die "the published site holds what its signed indexes do not vouch for: not carried, nothing signed"
  n=$((n + $(freebsd_carry "$checkout" "$site" "$files")))
  log "kept $n packages of earlier releases"
}

# FreeBSD: pkg itself checks the published catalogue's signature (update) and
# every package's checksum against it (fetch -a); only what it fetched is kept.
# Only the majors ci/release/freebsd-repo.sh still publishes are carried: a major
# dropped there (13, after its end of life on 2026-04-30) leaves the site
# with its packages rather than stay as an All/ without a catalogue.
freebsd_carry() { # checkout site files -> prints how many were carried
  local checkout=$1 site=$2 files=$3 pkg d major t n=0 f name mine majors
  if ! compgen -G "$checkout/freebsd/*/*/All/*" >/dev/null; then echo 0; return 0; fi
  majors=$(sed -n 's/^majors=(\([0-9 ]*\))$/\1/p' "$here/ci/release/freebsd-repo.sh")
  [ -n "$majors" ] || die "no majors=(...) line in ci/release/freebsd-repo.sh"
  pkg=$("$here/packaging/freebsd/pkg-tool.sh")
  t=$(mktemp -d "${TMPDIR:-/tmp}/wpam-carry.XXXXXX")
  for d in "$checkout"/freebsd/*/*; do
    [ -d "$d/All" ] || continue
    major=$(basename "$(dirname "$d")")
    if [ "$(basename "$d")" != amd64 ] || ! [[ $major =~ ^[0-9]+$ ]]; then
      die "freebsd/${d#"$checkout"/freebsd/}: not a repository of ours (planted?)"
    fi
    case " $majors " in
      *" $major "*) ;;
      *)
        log "freebsd/$major/amd64: FreeBSD $major is no longer published (ci/release/freebsd-repo.sh: $majors), not carried"
        continue
        ;;
    esac
    mkdir -p "$t/$major/repos" "$t/$major/root/var/log"
    printf 'wpam: { url: "file://%s", signature_type: "pubkey", pubkey: "%s", enabled: yes }\n' \
      "$d" "$files/wpam-freebsd-repo.pub" >"$t/$major/repos/wpam.conf"
    fpkg() {
      timeout 300 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$pkg" -C /dev/null -R "$t/$major/repos" \
        -o ABI="FreeBSD:$major:amd64" -o OSVERSION="${major}00000" -r "$t/$major/root" "$@"
    }
    fpkg update -f >"$t/log" 2>&1 || { cat "$t/log" >&2; die "freebsd/$major/amd64: the catalogue does not verify with this release's key"; }
    fpkg fetch -y -a -o "$t/$major/fetched" >"$t/log" 2>&1 || { cat "$t/log" >&2; die "freebsd/$major/amd64: pkg fetch -a failed"; }
    for f in "$d"/All/*; do
      name=$(basename "$f")
      if ! [[ $name =~ ^wpam-[0-9][A-Za-z0-9.,_]*\.pkg$ ]] || [ -L "$f" ]; then
        die "freebsd/$major/amd64/All/$name: not a wpam package (planted?)"
      fi
      cmp -s "$f" "$t/$major/fetched/All/$name" || die "freebsd/$major/amd64/All/$name: not in the signed catalogue (planted?)"
      mine=$files/wpam-${name#wpam-}
      mine=${mine%.pkg}-freebsd-amd64.pkg
      if [ -f "$mine" ] && ! cmp -s "$mine" "$f"; then
        die "$name was published with other bytes: a version is never rebuilt, bump it"
      fi
      mkdir -p "$site/freebsd/$major/amd64/All"
      [ -e "$site/freebsd/$major/amd64/All/$name" ] || { cp -p "$f" "$site/freebsd/$major/amd64/All/"; n=$((n + 1)); }
    done
  done
  rm -rf "$t"
  echo "$n"
}

pages() {
  local version=$1 site=$2 checkout=$3
  find "$checkout" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
  cp -a "$site/." "$checkout/"
  touch "$checkout/.nojekyll"
  git -C "$checkout" add -A
  git -C "$checkout" -c user.name="wpam release" -c user.email="wpam@example.invalid" \
    commit --quiet -m "wpam $version" || log "gh-pages: nothing changed"
  g -C "$checkout" push --quiet "$remote" HEAD:refs/heads/gh-pages || die "gh-pages push failed (did the branch move?)"
  log "pushed gh-pages (wpam $version)"
}

release() {
  local version=$1 files=$2 notes=$3 keyring=$4 tag=v$1 state err t
  [ -n "${GH_TOKEN:-}" ] || die "GH_TOKEN is not set"
  [ -n "${GITHUB_REPOSITORY:-}" ] || die "GITHUB_REPOSITORY (owner/name) is not set"
  mapfile -t assets < <(find "$files" -maxdepth 1 -type f | LC_ALL=C sort)
  t=$(mktemp -d "${TMPDIR:-/tmp}/wpam-publish.XXXXXX")
  if state=$(timeout 120 gh release view "$tag" -R "$GITHUB_REPOSITORY" --json isDraft --jq .isDraft 2>"$t/err"); then
    :
  elif grep -q 'release not found' "$t/err"; then
    state=none
  else
    err=$(cat "$t/err")
    die "gh release view $tag: $err"
  fi
  case "$state" in
    false)
      # Published: immutable. Same signed SHA256SUMS -> nothing to do.
      timeout 300 gh release download "$tag" -R "$GITHUB_REPOSITORY" -p SHA256SUMS -p SHA256SUMS.asc -D "$t/pub" ||
        die "release $tag is published but its SHA256SUMS cannot be downloaded"
      gpgv --keyring "$keyring" "$t/pub/SHA256SUMS.asc" "$t/pub/SHA256SUMS" 2>/dev/null ||
        die "release $tag: the published SHA256SUMS.asc does not verify"
      cmp -s "$t/pub/SHA256SUMS" "$files/SHA256SUMS" ||
        die "release $tag is published with other files or bytes; a published release is never changed: bump the version"
      log "release $tag is published with these very files: nothing to do"
      rm -rf "$t"
      return 0
      ;;
    true)
      log "release $tag is a draft left by an earlier run: deleting it (the tag stays)"
      timeout 300 gh release delete "$tag" -R "$GITHUB_REPOSITORY" --yes
      ;;
    none) ;;
    *) die "gh release view $tag: unexpected answer '$state'" ;;
  esac
  log "gh release create $tag --draft (${#assets[@]} files)"
  timeout 1800 gh release create "$tag" "${assets[@]}" -R "$GITHUB_REPOSITORY" \
    --draft --verify-tag --title "wpam $version" --notes-file "$notes"
  # Every asset there, with its size, before anyone can see the release.
  timeout 120 gh release view "$tag" -R "$GITHUB_REPOSITORY" --json assets \
    --jq '.assets[] | "\(.name) \(.size)"' | LC_ALL=C sort >"$t/got"
  for f in "${assets[@]}"; do printf '%s %s\n' "$(basename "$f")" "$(stat -c %s "$f")"; done | LC_ALL=C sort >"$t/want"
  cmp -s "$t/got" "$t/want" || { diff "$t/want" "$t/got" >&2 || true; die "the draft $tag lacks files or sizes differ: left as a draft"; }
  timeout 120 gh release edit "$tag" -R "$GITHUB_REPOSITORY" --draft=false >/dev/null
  rm -rf "$t"
  log "published release $tag"
}

tap() {
  local version=$1 files=$2 tokenfile=$3 token="" tap_remote t
  tap_remote=${WPAM_TAP_REMOTE:-https://github.com/werbot/homebrew-tap.git}
  [ -f "$files/wpam.rb" ] || die "no $files/wpam.rb (ci/release/release.sh puts the formula there)"
  (cd "$files" && grep -x '[0-9a-f]\{64\}  wpam.rb' SHA256SUMS | sha256sum --quiet --strict -c -) ||
    die "$files/wpam.rb is not the formula $files/SHA256SUMS lists"
  grep -qx "  version \"$version\"" "$files/wpam.rb" || die "$files/wpam.rb is not wpam $version's formula"
  # (read with a builtin: the token is in no argv)
  [ -s "$tokenfile" ] && token=$(<"$tokenfile")
  if [ -z "$token" ]; then
    log "HOMEBREW_TAP_TOKEN is not set (no repository secret): the formula is NOT published to $tap_remote;" \
      "it is in the release as wpam.rb (docs/release.md, Homebrew tap)"
    return 0
  fi
  t=$(mktemp -d "${TMPDIR:-/tmp}/wpam-tap.XXXXXX")
  GH_TOKEN=$token g clone --quiet --depth 1 "$tap_remote" "$t/tap" || { rm -rf "$t"; die "cannot clone the tap $tap_remote"; }
  mkdir -p "$t/tap/Formula"
  if cmp -s "$files/wpam.rb" "$t/tap/Formula/wpam.rb"; then
    log "the tap has this very formula (wpam $version): nothing to do"
    rm -rf "$t"
    return 0
  fi
  cp "$files/wpam.rb" "$t/tap/Formula/wpam.rb"
  git -C "$t/tap" add Formula/wpam.rb
  git -C "$t/tap" -c user.name="wpam release" -c user.email="wpam@example.invalid" \
    commit --quiet -m "wpam $version" -m "The formula of the release v$version (its wpam.rb, listed in its signed SHA256SUMS)."
  GH_TOKEN=$token g -C "$t/tap" push --quiet origin HEAD || { rm -rf "$t"; die "cannot push to the tap $tap_remote"; }
  rm -rf "$t"
  log "published Formula/wpam.rb (wpam $version) to $tap_remote"
}

cmd=${1:?usage: ci/release/publish.sh seed|pages|release|publish|tap ...}
shift
case "$cmd" in
  seed) seed "${1:?site}" "${2:?checkout}" "${3:?keyring}" "${4:?files}" "${5:?adopted}" ;;
  pages) pages "${1:?version}" "${2:?site}" "${3:?checkout}" ;;
  release) release "${1:?version}" "${2:?files}" "${3:?notes}" "${4:?keyring}" ;;
  publish)
    version=${1:?version} files=${2:?files} site=${3:?site} notes=${4:?notes} checkout=${5:?checkout} keyring=${6:?keyring}
    if [ -n "${GITHUB_REF_NAME:-}" ] && [ "$GITHUB_REF_NAME" != "v$version" ]; then
      die "the tag $GITHUB_REF_NAME is not v$version (Cargo.toml's version)"
    fi
    # Pages first: a release whose repositories are not there is never shown.
    pages "$version" "$site" "$checkout"
    release "$version" "$files" "$notes" "$keyring"
    ;;
  tap) tap "${1:?version}" "${2:?files}" "${3:?token-file}" ;;
  *) die "unknown command '$cmd' (seed, pages, release, publish, tap)" ;;
esac
