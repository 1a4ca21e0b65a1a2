#!/usr/bin/env bash
# The .rpm and its SELinux policy module on a real RPM distribution, for the
# hosted CI (.github/workflows/ci.yml, job selinux-rpm): on a Linux host with
# a Docker engine, in a container of IMAGE (Fedora, Rocky Linux) sharing the
# host's network:
#   - dnf installs the distribution's targeted policy, policycoreutils,
#     setools, libselinux-utils (matchpathcon) and pamtester (EPEL on EL),
#     then the .rpm: its %post links wpam.cil;
#   - semodule lists wpam at priority 200; sesearch on the distribution's own
#     policy finds the module's rules (sshd_t -> http_port_t, http_cache_port_t,
#     squid_port_t name_connect under wpam_permit_sshd; the log type and its
#     named transition; the offline codes' secrets (wpam_conf_t) and state
#     directory (wpam_state_t, its named transition from etc_t);
#     sshd_session_t's where the policy has the type) and
#     every rule the module added names a wpam type or boolean, none an
#     unreserved port; matchpathcon labels /var/log/wpam.log wpam_log_t,
#     wpam.conf and wpam-offline wpam_conf_t, wpam-offline.state wpam_state_t
#     (and /etc/security is etc_t);
#   - pamtester logs in through the installed module against the development
#     Werbot API (examples/werbot-dev-server.rs, run on the host, 127.0.0.1):
#     TOTP accepted, wrong code refused, the log file written;
#   - dnf remove takes the module out of the policy.
# What this cannot show: a kernel enforcing that policy (the runner's kernel
# has no SELinux; the container sees it disabled).
#
# Usage: ci/hosted/selinux-rpm.sh IMAGE RPM
# Needs: docker, and the dev tools built on the host:
#   cargo build --release --locked --example werbot-dev-server --example totp
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

image=${1:?usage: ci/hosted/selinux-rpm.sh IMAGE RPM}
rpm=${2:?usage: ci/hosted/selinux-rpm.sh IMAGE RPM}
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
rpm=$(cd "$(dirname "$rpm")" && pwd)/$(basename "$rpm")
name=wpam-selinux-$$
state=$(mktemp -d)
dev_pid=
ALICE_SECRET=JBSWY3DPEHPK3PXP

log() { printf '== %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  docker exec "$name" sh -c 'tail -n 30 /var/log/wpam.log' >&2 2>/dev/null || true
  exit 1
}
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  if [ -n "$dev_pid" ]; then kill "$dev_pid" 2>/dev/null || true; fi
  rm -rf "$state"
}
trap cleanup EXIT
in_c() { timeout 900 docker exec -i "$name" "$@"; }

for t in target/release/examples/werbot-dev-server target/release/examples/totp; do
  [ -x "$t" ] || fail "$t missing (cargo build --release --locked --example werbot-dev-server --example totp)"
done

log "development Werbot API on 127.0.0.1:8443"
target/release/examples/werbot-dev-server --listen 127.0.0.1:8443 --state-dir "$state" >"$state/out" 2>&1 &
dev_pid=$!
for _ in $(seq 100); do
  if [ -s "$state/ca.pem" ] && grep -q listening "$state/out"; then break; fi
  sleep 0.2
done
grep -q listening "$state/out" || fail "dev API did not start: $(cat "$state/out")"

log "container $image"
timeout 600 docker run -d --name "$name" --network host \
  -v "$rpm:/tmp/wpam.rpm:ro" -v "$state:/tmp/wpam-dev:ro" "$image" sleep 3600 >/dev/null
pkgs="policycoreutils selinux-policy-targeted setools-console libselinux-utils pamtester shadow-utils diffutils"
# The script runs in the container: its shell expands it.
# shellcheck disable=SC2016
in_c sh -c '
  set -e
  . /etc/os-release
  echo "$PRETTY_NAME"
  case "$ID" in
    fedora) ;;
    *) dnf install -y -q epel-release ;; # pamtester is in EPEL on EL
  esac
  dnf install -y -q '"$pkgs"'
' || fail "dnf install $pkgs"

pol=$(in_c sh -c 'ls /etc/selinux/targeted/policy/policy.* | sort -V | tail -n1')
[ -n "$pol" ] || fail "no targeted policy in the container"
in_c sesearch "$pol" -A -T >"$state/before.rules" || fail "sesearch before"

log "dnf install the .rpm (its %post links the policy module)"
in_c dnf install -y /tmp/wpam.rpm || fail "dnf install wpam"
in_c sh -c 'semodule -l | grep -qx wpam' || fail "semodule -l does not list wpam"
in_c sh -c 'semodule --list-modules=full | grep -Eq "^200 +wpam +cil"' || fail "wpam not at priority 200 (cil)"
log "ok   semodule lists wpam (cil, priority 200)"

pol=$(in_c sh -c 'ls /etc/selinux/targeted/policy/policy.* | sort -V | tail -n1')
in_c sesearch "$pol" -A -T >"$state/after.rules" || fail "sesearch after"
added=$(diff "$state/before.rules" "$state/after.rules" | sed -n 's/^> //p' || true)
printf '%s\n' "$added" | sed 's/^/      added: /'
[ -n "$added" ] || fail "the module added no rule"
if grep -v wpam <<<"$added"; then fail "rules above name no wpam type or boolean"; fi
if grep -E 'name_connect' <<<"$added" | grep -vE ' (http_port_t|http_cache_port_t|squid_port_t):tcp_socket name_connect; \[ wpam_permit_'; then
  fail "name_connect rules above go beyond the API's port types or are not under a wpam boolean"
fi
for port in http_port_t http_cache_port_t squid_port_t; do
  grep -qx "allow sshd_t $port:tcp_socket name_connect; \[ wpam_permit_sshd \]:True" <<<"$added" ||
    fail "sshd_t -> $port name_connect under wpam_permit_sshd"
done
grep -q '^allow sshd_t wpam_log_t:file { append create getattr open }; \[ wpam_permit_sshd \]:True' <<<"$added" ||
  fail "sshd_t may create/append wpam_log_t"
grep -q '^type_transition sshd_t var_log_t:file wpam_log_t "\?wpam.log"\?;' <<<"$added" ||
  fail "named transition sshd_t var_log_t -> wpam_log_t"
# Offline codes: the secrets file (wpam_conf_t) and the state directory.
for r in 'wpam_conf_t:file { getattr open read }' 'etc_t:dir { add_name search write }' \
  'wpam_state_t:dir { add_name create getattr open read remove_name search write }' \
  'wpam_state_t:file { create getattr lock open read rename unlink write }'; do
  grep -qxF "allow sshd_t $r; [ wpam_permit_sshd ]:True" <<<"$added" ||
    fail "sshd_t $r under wpam_permit_sshd (offline codes)"
done
grep -q '^type_transition sshd_t etc_t:dir wpam_state_t "\?wpam-offline.state"\?;' <<<"$added" ||
  fail "named transition sshd_t etc_t -> wpam_state_t (wpam-offline.state)"
if in_c seinfo "$pol" -t sshd_session_t | grep -q sshd_session_t; then
  grep -qx 'allow sshd_session_t http_port_t:tcp_socket name_connect; \[ wpam_permit_sshd_session \]:True' <<<"$added" ||
    fail "the policy has sshd_session_t but not the module's rules for it"
  log "ok   sshd_session_t (OpenSSH >= 9.8) rules present"
else
  if grep -q sshd_session_t <<<"$added"; then fail "sshd_session_t rules without the type"; fi
  log "ok   no sshd_session_t in this policy; its block was dropped"
fi
in_c sh -c "seinfo '$pol' -b -x | grep -q 'bool wpam_permit_sshd true'" || fail "wpam_permit_sshd on by default"
in_c sh -c "seinfo '$pol' -b -x | grep -q 'bool wpam_permit_local_login false'" || fail "wpam_permit_local_login off by default"
in_c sh -c 'matchpathcon /var/log/wpam.log | grep -q ":wpam_log_t:"' || fail "matchpathcon /var/log/wpam.log"
in_c sh -c 'matchpathcon /etc/security/wpam.conf | grep -q ":wpam_conf_t:"' || fail "matchpathcon /etc/security/wpam.conf"
in_c sh -c 'matchpathcon /etc/security/wpam-offline | grep -q ":wpam_conf_t:"' || fail "matchpathcon /etc/security/wpam-offline"
in_c sh -c 'matchpathcon /etc/security | grep -q ":etc_t:"' || fail "matchpathcon /etc/security is not etc_t (the state directory's transition is from etc_t)"
for f in /etc/security/wpam-offline.state /etc/security/wpam-offline.state/state /etc/security/wpam-offline.state/lock; do
  in_c sh -c "matchpathcon $f | grep -q ':wpam_state_t:'" || fail "matchpathcon $f"
done
log "ok   rules, booleans and file contexts in the distribution's policy"

log "pamtester through the installed module against the development API"
in_c sh -c '
  set -e
  id alice >/dev/null 2>&1 || useradd -m alice
  umask 077
  printf "%s\n" server_url=127.0.0.1:8443 service_id=dev-service service_key=dev-key-not-secret \
    ca_file=/tmp/wpam-dev/ca.pem timeout=5 local_user_ip=127.0.0.1 >/etc/security/wpam.conf
  printf "%s\n" "auth required pam_wpam.so config=/etc/security/wpam.conf" \
    "account required pam_permit.so" >/etc/pam.d/wpam-selinux
  chmod 0644 /etc/pam.d/wpam-selinux
' || fail "PAM service and configuration"
login() { printf '%s\n%s\n' alice@example.com "$1" | in_c pamtester -v wpam-selinux alice authenticate; }
login "$(target/release/examples/totp "$ALICE_SECRET")" || fail "TOTP login"
log "ok   TOTP login accepted"
if login 000000; then fail "a wrong code was accepted"; fi
log "ok   wrong code refused"
in_c grep -q 'method=totp' /var/log/wpam.log || fail "no login in /var/log/wpam.log"
log "ok   /var/log/wpam.log written"

log "dnf remove wpam (its %postun removes the module)"
in_c dnf remove -y wpam || fail "dnf remove wpam"
if in_c sh -c 'semodule -l | grep -qx wpam'; then fail "wpam still listed after dnf remove"; fi
log "ok   module removed with the package"
log "selinux-rpm $image: all checks passed"
