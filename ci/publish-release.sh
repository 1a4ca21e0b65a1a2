#!/usr/bin/env bash
# The publishing half of ci/release.sh (never run by --dry-run):
#
#   ci/publish-release.sh seed <site> <checkout>
#       clones the gh-pages branch into <checkout> and copies the packages of
#       earlier releases into <site>'s APT pool, RPM directory and FreeBSD
#       repositories (freebsd/<major>/<arch>/All/), so the repositories keep
#       every published version (the indexes and catalogues are rebuilt over
#       all of them afterwards).
#   ci/publish-release.sh publish <version> <files> <site> <notes> <checkout>
#       creates (or updates) the GitHub release v<version> with every file of
#       <files> and the notes, then commits <site> to gh-pages and pushes it.
#
# Needs GH_TOKEN (contents: write) and GITHUB_REPOSITORY (owner/name); the
# token goes to git as an HTTP header, never into a URL or a log line.
# WPAM_PAGES_REMOTE overrides the gh-pages remote (default: the GitHub repo).
set -euo pipefail
# shellcheck source=lib-err.sh
. "$(dirname "$0")/lib-err.sh"

log() { printf 'publish: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ -n "${GH_TOKEN:-}" ] || die "GH_TOKEN is not set"
[ -n "${GITHUB_REPOSITORY:-}" ] || die "GITHUB_REPOSITORY (owner/name) is not set"
# WPAM_PAGES_REMOTE: another git remote for the Pages branch (a mirror, or a
# local bare repository to rehearse a publish).
remote=${WPAM_PAGES_REMOTE:-https://github.com/$GITHUB_REPOSITORY.git}
auth=$(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)
g() { git -c "http.https://github.com/.extraheader=AUTHORIZATION: basic $auth" "$@"; }

cmd=${1:?usage: ci/publish-release.sh seed|publish ...}
shift
case "$cmd" in
  seed)
    site=${1:?site}
    checkout=${2:?checkout}
    rm -rf "$checkout"
    if g clone --quiet --depth 1 --branch gh-pages "$remote" "$checkout" 2>/dev/null; then
      n=0
      while IFS= read -r -d '' f; do
        dest=$site/apt/pool/${f#"$checkout"/apt/pool/}
        mkdir -p "$(dirname "$dest")"
        [ -e "$dest" ] || { cp -p "$f" "$dest"; n=$((n + 1)); }
      done < <(find "$checkout/apt/pool" -type f -name '*.deb' -print0 2>/dev/null)
      while IFS= read -r -d '' f; do
        [ -e "$site/rpm/$(basename "$f")" ] || { cp -p "$f" "$site/rpm/"; n=$((n + 1)); }
      done < <(find "$checkout/rpm" -maxdepth 1 -type f -name '*.rpm' -print0 2>/dev/null)
      while IFS= read -r -d '' f; do
        dest=$site/freebsd/${f#"$checkout"/freebsd/}
        mkdir -p "$(dirname "$dest")"
        [ -e "$dest" ] || { cp -p "$f" "$dest"; n=$((n + 1)); }
      done < <(find "$checkout/freebsd" -mindepth 4 -maxdepth 4 -path '*/All/*' -type f -name '*.pkg' -print0 2>/dev/null)
      log "kept $n packages of earlier releases"
    else
      log "no gh-pages branch yet: a new one"
      git init --quiet -b gh-pages "$checkout"
    fi
    ;;
  publish)
    version=${1:?version}
    files=${2:?files}
    site=${3:?site}
    notes=${4:?notes}
    checkout=${5:?checkout}
    tag=v$version
    if [ -n "${GITHUB_REF_NAME:-}" ] && [ "$GITHUB_REF_NAME" != "$tag" ]; then
      die "the tag $GITHUB_REF_NAME is not $tag (Cargo.toml's version)"
    fi
    mapfile -t assets < <(find "$files" -maxdepth 1 -type f | LC_ALL=C sort)
    if gh release view "$tag" -R "$GITHUB_REPOSITORY" >/dev/null 2>&1; then
      log "release $tag exists: uploading ${#assets[@]} files (--clobber)"
      gh release upload "$tag" "${assets[@]}" -R "$GITHUB_REPOSITORY" --clobber
      gh release edit "$tag" -R "$GITHUB_REPOSITORY" --notes-file "$notes"
    else
      log "gh release create $tag (${#assets[@]} files)"
      gh release create "$tag" "${assets[@]}" -R "$GITHUB_REPOSITORY" \
        --title "wpam $version" --notes-file "$notes" --verify-tag
    fi
    # gh-pages: the whole site, one commit per release on top of the last.
    find "$checkout" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
    cp -a "$site/." "$checkout/"
    touch "$checkout/.nojekyll"
    git -C "$checkout" add -A
    git -C "$checkout" -c user.name="wpam release" -c user.email="wpam@example.invalid" \
      commit --quiet -m "wpam $version" || log "gh-pages: nothing changed"
    g -C "$checkout" push --quiet "$remote" HEAD:refs/heads/gh-pages
    log "published $tag and gh-pages"
    ;;
  *) die "unknown command '$cmd' (seed, publish)" ;;
esac
