#!/usr/bin/env bash
# Runs a command, or sets up a nextest run, with the development Werbot
# API's logins (alice, bob, carol, dave, erin) as users of this machine.
#
# The module looks every login up with getpwnam_r before anything else
# (src/sys.rs canonical_login; an unknown login is denied), but the libpam
# tests and `make demo` log in as users that exist only at the Werbot API.
# nss_wrapper (Samba's NSS testing library, Debian's libnss-wrapper) answers
# glibc's passwd and group lookups of this process from files of ours: this
# machine's own entries plus the test logins. Nothing on the machine changes,
# and setuid programs ignore it.
#
#   with-test-users.sh CMD [ARG...]   exec CMD with nss_wrapper preloaded
#   with-test-users.sh --nextest      as a nextest setup script: write the
#                                     variables to $NEXTEST_ENV
set -euo pipefail
# shellcheck source=../../ci/lib/err.sh
. "$(dirname "$0")/../../ci/lib/err.sh"

lib=
for f in /usr/lib/*/libnss_wrapper.so /usr/lib64/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
  if [ -e "$f" ]; then lib=$f; break; fi
done
if [ -z "$lib" ]; then
  echo "with-test-users.sh: libnss_wrapper.so not found: install libnss-wrapper (make deps-build)" >&2
  exit 1
fi

# The development API's users, and the same as logins named like their Werbot
# ID (the account phase of werbot_id_from_login and of untied logins).
logins="alice bob carol dave erin"
for u in alice bob carol dave erin; do logins="$logins $u@example.com"; done

dir=$(mktemp -d "${TMPDIR:-/tmp}/wpam-test-users.XXXXXX")
chmod 755 "$dir"
cp /etc/passwd "$dir/passwd"
cp /etc/group "$dir/group"
n=20001
for u in $logins; do
  grep -q "^$u:" /etc/passwd || echo "$u:x:$n:$n:wpam test login:/nonexistent:/usr/sbin/nologin" >>"$dir/passwd"
  grep -q "^$u:" /etc/group || echo "$u:x:$n:" >>"$dir/group"
  n=$((n + 1))
done
# Supplementary groups for groups= (tests/pam.rs, tests/e2e_sshd.rs): erin is
# an automation account, alice and bob are in a rollout's pilot group.
grep -q '^wpam-exempt:' /etc/group || echo "wpam-exempt:x:20100:erin" >>"$dir/group"
grep -q '^wpam-pilot:' /etc/group || echo "wpam-pilot:x:20101:alice,bob" >>"$dir/group"
chmod 644 "$dir/passwd" "$dir/group"

if [ "${1:-}" = --nextest ]; then
  : "${NEXTEST_ENV:?--nextest runs as a nextest setup script}"
  {
    echo "LD_PRELOAD=$lib"
    echo "NSS_WRAPPER_PASSWD=$dir/passwd"
    echo "NSS_WRAPPER_GROUP=$dir/group"
  } >>"$NEXTEST_ENV"
  exit 0
fi
[ $# -gt 0 ] || { echo "usage: with-test-users.sh CMD [ARG...] | --nextest" >&2; exit 2; }
export LD_PRELOAD="$lib" NSS_WRAPPER_PASSWD="$dir/passwd" NSS_WRAPPER_GROUP="$dir/group"
exec "$@"
