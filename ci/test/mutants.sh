#!/usr/bin/env bash
# Mutation testing of the decision core (issue 25): cargo-mutants, pinned,
# over the files and tests that .cargo/mutants.toml names. Fails when a
# mutant survives that mutants/accepted.txt does not list with its reason,
# when an accepted entry no longer names a mutant (stale), or when the
# baseline (the unmutated tree) fails its tests. A mutant that makes the
# tests hang past the timeout counts as caught: the suite did not pass.
#
# Usage: ci/test/mutants.sh [--shard K/N] [other cargo mutants options]
#   e.g. ci/test/mutants.sh --shard 3/16          (ci.yml's mutants jobs)
#        ci/test/mutants.sh --re 'src/decision'   (one file, while working on it)
# Environment: WPAM_MUTANTS_OUT (default build/mutants): cargo mutants'
# output (mutants.out/{caught,missed,timeout,unviable}.txt, logs per mutant).
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
for d in "$HOME/.cargo/bin" ${CARGO_INSTALL_ROOT:+"$CARGO_INSTALL_ROOT/bin"}; do
  case ":$PATH:" in *":$d:"*) ;; *) PATH=$d:$PATH ;; esac
done
export PATH CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

log() { printf 'mutants: %s\n' "$*" >&2; }
accepted=mutants/accepted.txt
out=${WPAM_MUTANTS_OUT:-$here/build/mutants}

ci/build/rust-toolchain.sh ensure
ci/build/cargo-tools.sh mutants
# The libpam suite runs under nextest (its per-test limits, .config/nextest.toml).
command -v cargo-nextest >/dev/null || { log "cargo-nextest missing (make nextest)"; exit 1; }

# A mutant's name without its line and column: stable across edits above it.
strip_pos() { sed -E 's/^([^:]+):[0-9]+:[0-9]+: /\1: /'; }

# mutants/accepted.txt: "mutant: <name>" lines, each followed by one or more
# "why: <reason>" lines; # comments and blank lines between entries.
parse_accepted() {
  awk -v f="$accepted" '
    /^[[:space:]]*(#|$)/ { next }
    /^mutant: / { if (name != "" && !why) { print "ERR " name; bad = 1 } name = substr($0, 9); why = 0; print "M " name; next }
    /^why: ./ { if (name == "") { print "ERR why without mutant: line " NR; bad = 1 } why = 1; next }
    { print "ERR unknown line " NR ": " $0; bad = 1 }
    END { if (name != "" && !why) print "ERR " name }' "$accepted"
}
parsed=$(parse_accepted)
if grep -q '^ERR ' <<<"$parsed"; then
  log "$accepted: every 'mutant:' needs a 'why:' line, nothing else is allowed:"
  grep '^ERR ' <<<"$parsed" | sed 's/^ERR /  /' >&2
  exit 1
fi
accepted_names=$(sed -n 's/^M //p' <<<"$parsed" | LC_ALL=C sort)

# Every accepted entry must name a mutant the current source generates.
all=$(cargo mutants --list | strip_pos | LC_ALL=C sort -u)
[ -n "$all" ] || { log "cargo mutants --list found no mutant (.cargo/mutants.toml?)"; exit 1; }
stale=$(LC_ALL=C comm -23 <(printf '%s\n' "$accepted_names" | sed '/^$/d') <(printf '%s\n' "$all"))
if [ -n "$stale" ]; then
  log "$accepted lists mutants that no longer exist (remove them):"
  printf '  %s\n' "$stale" >&2
  exit 1
fi
log "$(wc -l <<<"$all") mutants in scope, $(grep -c . <<<"$accepted_names" || true) accepted as equivalent"

rm -rf "$out"
mkdir -p "$out"
rc=0
cargo mutants --output "$out" "$@" || rc=$?
# cargo-mutants: 0 all caught, 2 some missed, 3 some timed out; 4 is a
# failing baseline, 1 a usage error: those end here.
case "$rc" in
  0 | 2 | 3) ;;
  *) log "cargo mutants failed (exit $rc; $out/mutants.out/debug.log)"; exit 1 ;;
esac
res=$out/mutants.out
for k in caught missed timeout unviable; do
  [ -f "$res/$k.txt" ] || { log "no $res/$k.txt: cargo mutants wrote no results"; exit 1; }
done
missed=$(strip_pos <"$res/missed.txt" | LC_ALL=C sort -u)
new=$(LC_ALL=C comm -23 <(printf '%s\n' "$missed" | sed '/^$/d') <(printf '%s\n' "$accepted_names" | sed '/^$/d'))
count() { grep -c . "$res/$1.txt" || true; }
log "caught $(count caught), timed out (caught) $(count timeout), unviable $(count unviable), missed $(count missed) (accepted: $(($(count missed) - $(grep -c . <<<"$new" || true))))"
if [ -s "$res/timeout.txt" ]; then
  log "timed out (counted as caught):"
  sed 's/^/  /' "$res/timeout.txt" >&2
fi
if [ -n "$new" ]; then
  log "FAILED: surviving mutants that $accepted does not list (write a test that kills each, or list it with why it is equivalent):"
  while IFS= read -r m; do
    if grep -qxF -- "$(strip_pos <<<"$m")" <<<"$new"; then printf '  %s\n' "$m" >&2; fi
  done <"$res/missed.txt"
  exit 1
fi
log "no unexplained survivor"
