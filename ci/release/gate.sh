#!/usr/bin/env bash
# May this tag become a release? The release workflow's first job; nothing
# is built, signed or published unless it passes.
#
# usage: ci/release/gate.sh TAG [MAIN]
#   TAG   the pushed tag (v<version>)
#   MAIN  the branch releases come from (default origin/main, fetched first
#         when the remote "origin" exists)
#   On success prints the tag's commit (the only line on stdout): the gate
#   job's output "sha", which every later job compares with what it checked
#   out (below), so a tag moved or re-pushed after the gate is not built.
# usage: ci/release/gate.sh --check-head SHA
#   fails unless `git rev-parse HEAD` is SHA (the commit the gate verified).
# Checks, each fatal:
#   - TAG is v<version> with <version> Cargo.toml's at the tag's commit;
#   - TAG is an annotated tag (a tag object that names itself TAG), not a
#     lightweight one;
#   - the tag's commit is on MAIN (an ancestor of it, or its tip);
#   - TAG is signed:
#       WPAM_TAG_VERIFY=github (the default under GITHUB_ACTIONS=true): GitHub
#         verified the tag object's signature against a key registered to the
#         tagger's account (gh api repos/<repo>/git/tags/<sha>, GH_TOKEN with
#         contents: read, GITHUB_REPOSITORY);
#       WPAM_TAG_VERIFY=gpg (the default elsewhere): `git verify-tag` with the
#         keys of this GNUPGHOME.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

log() { printf 'release-gate: %s\n' "$*" >&2; }
die() { log "refused: $*"; exit 1; }
tag=${1:?usage: ci/release/gate.sh TAG [MAIN]}
tag=${tag#refs/tags/}
main=${2:-origin/main}
if [ "$tag" = --check-head ]; then
  want=${2:?usage: ci/release/gate.sh --check-head SHA}
  head=$(git rev-parse HEAD) || die "no git checkout here (install git before actions/checkout in a container)"
  [ "$head" = "$want" ] || die "HEAD is $head, not $want, the commit the gate verified (a tag moved after the gate?)"
  log "ok   HEAD is $want, the commit the gate verified"
  exit 0
fi
mode=${WPAM_TAG_VERIFY:-$([ "${GITHUB_ACTIONS:-}" = true ] && echo github || echo gpg)}

if git remote get-url origin >/dev/null 2>&1; then
  # The tag as the remote has it (a shallow or lightweight copy made by a
  # checkout action must not decide), and main.
  timeout 300 git fetch --quiet --force origin "+refs/tags/$tag:refs/tags/$tag" "+refs/heads/main:refs/remotes/origin/main" ||
    die "cannot fetch $tag and main from origin"
fi
[[ $tag =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-.+][0-9A-Za-z.-]+)?$ ]] || die "$tag is not a v<version> tag"
[ "$(git cat-file -t "refs/tags/$tag" 2>/dev/null)" = tag ] || die "$tag is not an annotated tag (git tag -s $tag)"
inner=$(git cat-file tag "refs/tags/$tag" | sed -n 's/^tag //p' | head -n1)
[ "$inner" = "$tag" ] || die "$tag's tag object names itself $inner"
commit=$(git rev-parse "refs/tags/$tag^{commit}")
version=$(git show "$commit:Cargo.toml" | sed -n 's/^version = "\(.*\)"/\1/p' | head -n1)
[ "$tag" = "v$version" ] || die "$tag is not v$version (Cargo.toml's version at $commit)"
git merge-base --is-ancestor "$commit" "$main" || die "$tag ($commit) is not on $main"
case "$mode" in
  github)
    [ -n "${GITHUB_REPOSITORY:-}" ] || die "GITHUB_REPOSITORY is not set"
    obj=$(git rev-parse "refs/tags/$tag")
    v=$(timeout 120 gh api "repos/$GITHUB_REPOSITORY/git/tags/$obj" --jq '.verification | "\(.verified) \(.reason)"') ||
      die "cannot read GitHub's verification of $tag"
    [ "${v%% *}" = true ] || die "$tag's signature is not verified by GitHub (${v#* })"
    ;;
  gpg)
    git verify-tag "refs/tags/$tag" >/dev/null 2>&1 || die "$tag has no signature git verify-tag accepts"
    ;;
  *) die "WPAM_TAG_VERIFY=$mode (github or gpg)" ;;
esac
log "ok   $tag: annotated, signed ($mode), on $main, Cargo.toml $version"
echo "$commit"
