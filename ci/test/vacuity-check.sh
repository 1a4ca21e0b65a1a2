#!/usr/bin/env bash
# The libpam suites must prove something about wpam: run against Linux-PAM's
# pam_deny.so and pam_permit.so in wpam's place (WPAM_TEST_MODULE), every
# test of tests/pam.rs and tests/lifecycle.rs must fail, except the few
# below that do not test the module. A test that passes against pam_deny.so
# accepts a module that denies without asking the server; one that passes
# against pam_permit.so accepts a module that admits anyone.
#
# Usage: ci/test/vacuity-check.sh   (make test-dist runs it)
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
log() { printf 'vacuity-check: %s\n' "$*" >&2; }

# Not tests of the module (each: why).
allowed=(
  # the development server's own unit tests, built into the suite's binary
  'devserver::unit_tests::'
  # the entry point of the child process that hosts a login (child.rs)
  'child_login_entry'
  # without the debug_panic trigger there is nothing to run; make test-dist
  # runs it with WPAM_REQUIRE_PANIC_TRIGGER=1 against a module that has it
  'a_panic_is_system_err_and_prints_nothing_on_stderr'
)

dir=""
for d in /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security \
  /lib/aarch64-linux-gnu/security /usr/lib/aarch64-linux-gnu/security /lib/security /usr/lib64/security; do
  if [ -f "$d/pam_deny.so" ] && [ -f "$d/pam_permit.so" ]; then dir=$d; break; fi
done
[ -n "$dir" ] || { log "no pam_deny.so / pam_permit.so found (libpam-modules)"; exit 1; }

# The names of the tests nextest reported as STATUS (PASS or FAIL) in FILE,
# once each (a failure is listed again in the summary).
tests_that() { # STATUS FILE
  sed -nE 's/^ *'"$1"' \[[^]]*\] +(\([0-9/ ]+\) +)?[^ ]+ +(.*)$/\2/p' "$2" | LC_ALL=C sort -u
}

fail=0
for m in deny permit; do
  out=$(mktemp)
  rc=0
  WPAM_TEST_MODULE=$dir/pam_$m.so cargo nextest run --locked --test pam --test lifecycle \
    --no-fail-fast >"$out" 2>&1 || rc=$?
  passed=$(tests_that PASS "$out")
  failed_n=$(tests_that FAIL "$out" | grep -c . || true)
  if [ "$rc" = 0 ] || [ "$failed_n" = 0 ]; then
    log "against pam_$m.so the suites passed (exit $rc): they do not test the module"
    tail -n 5 "$out" >&2
    fail=1
  fi
  vacuous=()
  while IFS= read -r t; do
    [ -n "$t" ] || continue
    ok=0
    for a in "${allowed[@]}"; do
      case "$t" in "$a"*) ok=1 ;; esac
    done
    [ "$ok" = 1 ] || vacuous+=("$t")
  done <<<"$passed"
  if [ "${#vacuous[@]}" -gt 0 ]; then
    log "FAILED: these tests pass with pam_$m.so in wpam's place:"
    printf '  %s\n' "${vacuous[@]}" >&2
    fail=1
  else
    log "ok   pam_$m.so fails $failed_n tests; the $(grep -c . <<<"$passed" || true) that pass are on the allowed list"
  fi
  rm -f "$out"
done
exit "$fail"
