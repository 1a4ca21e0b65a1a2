# shellcheck shell=bash disable=SC2154 # the sourcing script sets check_name and start
# The check lines and the summary of the test suites that count their checks
# (ci/test/packages.sh, roots.sh, selinux.sh; ci/test/scripts.sh uses ok and
# bad): one line per check, "ok    DESCRIPTION", "FAIL  DESCRIPTION" or
# "skip  DESCRIPTION", then finish's summary:
#   NAME: N s
#   failed: DESCRIPTION        (one line per failed check)
#   NAME: N passed, N failed[, N skipped]
# The sourcing script sets check_name (NAME, e.g. test-packages) and start
# (date +%s when it started) before it calls finish; check_skips=1 adds the
# skipped count to the summary, check_tail=1 makes a failed check show the
# last 40 lines of its command's output instead of the first 40.
pass=0 fail=0 skip=0
failures=()
ok() { pass=$((pass + 1)); printf 'ok    %s\n' "$*"; }
bad() { fail=$((fail + 1)); failures+=("$*"); printf 'FAIL  %s\n' "$*"; }
skipped() { skip=$((skip + 1)); printf 'skip  %s\n' "$*"; }
check() { # description command...: ok if the command succeeds, else FAIL with its output (status 1)
  local d=$1 out
  shift
  if out=$("$@" 2>&1); then
    ok "$d"
    return 0
  fi
  bad "$d"
  printf '%s\n' "$out" | sed 's/^/      /' | if [ -n "${check_tail:-}" ]; then tail -n 40; else head -n 40; fi
  return 1
}
finish() { # the summary, then exit: 0 when no check failed, else 1
  echo
  echo "$check_name: $(($(date +%s) - start)) s"
  if [ "$fail" -gt 0 ]; then printf 'failed: %s\n' "${failures[@]}"; fi
  echo "$check_name: $pass passed, $fail failed${check_skips:+, $skip skipped}"
  # (Not `[ ... ]; exit`: under set -e the test itself would end the script
  # through the ERR trap, with a message about a failed command.)
  if [ "$fail" -eq 0 ]; then exit 0; fi
  exit 1
}
