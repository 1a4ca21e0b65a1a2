#!/usr/bin/env bash
# Proves the release artifacts are reproducible: builds the current commit
# twice, from two clones in two different directories (different path names
# and lengths, separate target dirs), and compares every file in both dist/
# trees byte for byte: modules, .deb, .rpm, tarballs, SHA256SUMS.
# Uncommitted changes are not part of the check (it builds HEAD).
#
# Usage: ci/test/reproducible.sh [target...]   (default: every target of build-all.sh)
# Environment: WPAM_REPRO_DIR (default: a fresh mktemp dir, removed on
# success), WPAM_REPRO_KEEP=1 to keep it.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
rev=$(git rev-parse HEAD)
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct "$rev")
export SOURCE_DATE_EPOCH
work=${WPAM_REPRO_DIR:-$(mktemp -d /tmp/wpam-repro.XXXXXX)}
start=$(date +%s)

ci/build/setup-cross.sh

dirs=("$work/a/wpam" "$work/second-build-in/another/place/wpam-copy")
for i in 0 1; do
  d=${dirs[$i]}
  rm -rf "$d"
  mkdir -p "$(dirname "$d")"
  git clone -q --no-local "$here" "$d"
  git -C "$d" checkout -q "$rev"
  echo "=== reproducible-check: build $((i + 1)) of 2 in $d" >&2
  # Each clone uses its own target/ and build/ (the defaults inside it).
  (cd "$d" && env -u CARGO_TARGET_DIR -u DIST_DIR -u WPAM_BUILD_DIR \
    WPAM_BUILD=zig ./build-all.sh --no-setup "$@" >"$work/build-$((i + 1)).log" 2>&1) || {
    tail -n 30 "$work/build-$((i + 1)).log" >&2
    echo "reproducible-check: build $((i + 1)) failed (log $work/build-$((i + 1)).log)" >&2
    exit 1
  }
done

a=${dirs[0]}/dist b=${dirs[1]}/dist
fail=0 same=0
list_a=$(cd "$a" && find . -type f | LC_ALL=C sort)
list_b=$(cd "$b" && find . -type f | LC_ALL=C sort)
if [ "$list_a" != "$list_b" ]; then
  echo "FAIL  the two dist/ trees hold different file lists:" >&2
  diff <(echo "$list_a") <(echo "$list_b") >&2 || true
  fail=1
fi
while read -r f; do
  [ -n "$f" ] || continue
  if cmp -s "$a/$f" "$b/$f"; then
    same=$((same + 1))
    printf 'ok    identical  %-46s %s\n' "${f#./}" "$(sha256sum <"$a/$f" | cut -c1-16)"
  else
    fail=1
    printf 'FAIL  differs    %s\n' "${f#./}"
    # (cmp ends early under head: its status is not the result.)
    { cmp -l "$a/$f" "$b/$f" 2>/dev/null || true; } | head -n 5 | sed 's/^/      /' || true
  fi
done <<<"$list_a"

end=$(date +%s)
echo "reproducible-check: commit $rev, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, $((end - start)) s"
if [ "$same" = 0 ]; then
  # An empty dist/ on both sides is not "reproducible": nothing was compared.
  echo "reproducible-check: FAILED: no file was compared (is dist/ empty?)"
  fail=1
fi
if [ "$fail" = 0 ]; then
  echo "reproducible-check: $same passed, 0 failed"
  [ "${WPAM_REPRO_KEEP:-0}" = 1 ] || rm -rf "$work"
else
  echo "reproducible-check: FAILED (trees kept in $work)"
  exit 1
fi
