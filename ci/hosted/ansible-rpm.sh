#!/usr/bin/env bash
# The Ansible role (deploy/ansible/) for real on the RHEL family, for the
# hosted CI (.github/workflows/ci.yml, job ansible-rpm): on a Linux host with
# a Docker engine, in a container of IMAGE (Rocky Linux 9, 10, Fedora)
# sharing the host's network, ci/test/ansible.sh's steps 2-7 with the
# role's RedHat tasks (yum_repository with gpgcheck and repo_gpgcheck, dnf):
#   1. the signed release dry run (build/release/site, `ci/release/release.sh
#      --dry-run`: rpm/ with a signed repomd.xml, the armored key) served on
#      loopback, the development Werbot API (examples/werbot-dev-server.rs)
#      on loopback;
#   2. the container: python3 with the bindings ansible.builtin.dnf needs
#      (python3-dnf; python3-libdnf5 where dnf is dnf5), openssh-server,
#      host keys, a user with a random password, its own sshd on a free
#      loopback port (no systemd: started by hand, pid in /run/sshd.pid);
#   3. deploy/ansible/site.yml (canary play, then the fleet play) with the
#      connection community.docker.docker (the docker CLI), the pinned tools
#      and collections of ci/lib/ansible.sh: --check --diff on the fresh
#      container changes nothing; a service key the API refuses stops the
#      role before PAM or sshd change; a failed reload puts the files back;
#      then wpam from the repository through dnf (key imported, signatures
#      checked), config root:root 0600, the auth line after `auth substack
#      password-auth`, sshd reloaded (same pid), `wpam check` passes;
#   4. logins with the runner's ssh client: a wrong TOTP code refused, the
#      right one (password, Werbot ID, code) in;
#   5. again, and --check again: nothing changed; the service key in no
#      output;
#   6. wpam_state=absent: package gone, PAM, sshd, dnf repository and config
#      files byte for byte as before, password login; absent again: nothing
#      changed.
# What this cannot show: SELinux enforcing (the runner's kernel has none;
# ci/hosted/selinux-rpm.sh checks the policy module) and a service manager (no
# systemd in the container: the reload is wpam_sshd_reload_command, SIGHUP,
# not `systemctl reload sshd`). The rollback also takes the repository key
# out of the rpm database (rpm_key absent) and out of /etc/pki/rpm-gpg.
#
# Usage: ci/hosted/ansible-rpm.sh IMAGE
# Needs: docker, python3 with venv, ssh, and the dev API built on the host:
#   cargo build --release --locked --example werbot-dev-server
# (WPAM_DEV_SERVER names another build). The venv is cached under
# WPAM_ANSIBLE_CACHE (default ~/.cache/wpam-ansible). WPAM_ANSIBLE_KEEP=1
# keeps the work directory and the container. Every child is bounded
# (timeout).
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
# shellcheck source=../lib/ansible.sh
. "$(dirname "$0")/../lib/ansible.sh"

image=${1:?usage: ci/hosted/ansible-rpm.sh IMAGE}
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
cache=${WPAM_ANSIBLE_CACHE:-$HOME/.cache/wpam-ansible}
dev_server=${WPAM_DEV_SERVER:-target/release/examples/werbot-dev-server}
name=wpam-ans-rpm-$$
tag=rpm say=
t0=$(date +%s)
passed=0
log() { printf 'ansible-rpm: %s\n' "$*" >&2; }
ok() { passed=$((passed + 1)); printf 'ansible-rpm: ok   %s (%d s)\n' "$*" "$(($(date +%s) - t0))" >&2; }
die() {
  printf 'ansible-rpm: FAIL %s\n' "$*" >&2
  timeout 60 docker exec "$name" sh -c 'tail -n 30 /var/log/sshd.log' 2>/dev/null | sed 's/^/  sshd.log: /' >&2 || true
  echo "ansible-rpm: $passed passed, 1 failed"
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ans-rpm.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${WPAM_ANSIBLE_KEEP:-}" ]; then
    log "kept $work and the container $name (WPAM_ANSIBLE_KEEP)"
  else
    timeout 120 docker rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT
in_c() { timeout 900 docker exec -i "$name" "$@"; }

# --- the pinned tools ----------------------------------------------------------------
ansible_venv
export ANSIBLE_COLLECTIONS_PATH=$venv/collections
export ANSIBLE_CONFIG=$here/deploy/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
export ANSIBLE_LOCAL_TEMP=$work/ansible-local ANSIBLE_HOME=$work/ansible-home
version=$("$venv/bin/ansible-playbook" --version) || die "ansible-playbook in $venv does not run"
version=${version%%$'\n'*}
ok "pinned tools: $version, community.docker from the pinned ansible wheel"

# --- 1. the signed repository and the development API on loopback ------------------
site=${RELEASE_DIR:-$here/build/release}/site
for f in rpm/repodata/repomd.xml rpm/repodata/repomd.xml.asc wpam-archive-keyring.asc; do
  [ -s "$site/$f" ] || die "no $site/$f: the signed release dry run (ci/release/release.sh --dry-run) first"
done
serve "$site" "$work/site.port"
repo=http://127.0.0.1:$(cat "$work/site.port")
ok "signed RPM repository of the release dry run on $repo/rpm"
[ -x "$dev_server" ] || die "$dev_server missing (cargo build --release --locked --example werbot-dev-server)"
dev_api "$dev_server"
ok "development Werbot API on https://$api"

# --- 2. the container ------------------------------------------------------------------
# pam_loginuid (sshd's session stack) writes /proc/self/loginuid, which
# needs CAP_AUDIT_CONTROL; docker drops it by default.
timeout 900 docker run -d --name "$name" --network host --cap-add AUDIT_CONTROL "$image" sleep infinity >/dev/null ||
  die "docker run $image"
# The script runs in the container: its shell expands it.
# shellcheck disable=SC2016
in_c sh -c '
  set -e
  . /etc/os-release
  echo "$PRETTY_NAME"
  # ansible.builtin.dnf runs on the python3 of the target and needs its dnf
  # bindings: dnf5 (Fedora >= 41) has python3-libdnf5, dnf 4 python3-dnf.
  if command -v dnf5 >/dev/null; then bindings=python3-libdnf5; else bindings=python3-dnf; fi
  dnf install -y -q --setopt=install_weak_deps=False python3 "$bindings" openssh-server shadow-utils findutils
  # The PAM stack of sshd includes password-auth; authselect writes it
  # where the image has none ("local" from authselect 1.5 on, "minimal"
  # before).
  if [ ! -e /etc/pam.d/password-auth ]; then
    dnf install -y -q authselect
    authselect select local --force || authselect select minimal --force
  fi
' >"$work/container.log" 2>&1 || { tail -n 30 "$work/container.log" >&2; die "dnf install in $image"; }
ok "container $name: $(head -n1 "$work/container.log"), python3, dnf bindings, openssh-server"

user=ansuser
password="ans-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
in_c ssh-keygen -A >/dev/null || die "ssh-keygen -A"
in_c useradd -m -s /bin/sh "$user" || die "useradd"
printf '%s:%s\n' "$user" "$password" | in_c chpasswd || die "chpasswd"
in_c rpm -q wpam </dev/null >/dev/null 2>&1 && die "the image already has wpam"
sshd_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
in_c /usr/sbin/sshd -o "Port=$sshd_port" -o ListenAddress=127.0.0.1 -o PidFile=/run/sshd.pid \
  -E /var/log/sshd.log </dev/null || die "sshd in the container did not start"
for _ in $(seq 100); do in_c test -s /run/sshd.pid && break; sleep 0.2; done
sshd_pid=$(in_c cat /run/sshd.pid) || die "sshd wrote no /run/sshd.pid"
ok "the container's sshd (pid $sshd_pid) on 127.0.0.1:$sshd_port, user $user"

write_askpass
login_report() { echo "stdout: $(cat "$work/ask/stdout")"; echo "stderr: $(cat "$work/ask/stderr")"; echo "prompts: $(tr '\0' '|' <"$work/ask/prompts")"; } >&2
login_ok password - - || { login_report; die "password login before the role"; }
ok "before the role: password login works"

# The files the role touches, and those it must leave as they were; taken
# after the setup above (host keys, user, authselect).
snapshot() {
  in_c sh -c 'cd / && find etc/pam.d etc/ssh etc/security etc/yum.repos.d etc/pki/rpm-gpg -type f ! -name "*~" -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum' </dev/null
}
snapshot >"$work/before.sha" || die "snapshot"
pid_now() { in_c cat /run/sshd.pid </dev/null; }
host() { in_c "$@" </dev/null; }
wpam_installed() { in_c rpm -q wpam </dev/null >/dev/null 2>&1; }
repo_files="dnf repository"

# --- 3. the role ---------------------------------------------------------------------------
write_inventory community.docker.docker "$name"
write_vars "$work/vars.json"
# --check on the fresh container: it runs, and changes nothing.
playbook check-fresh --check --diff
snapshot | cmp -s - "$work/before.sha" || die "--check changed files"
wpam_installed && die "--check installed wpam"
ok "--check --diff on the fresh container: passes, changes nothing"
steps_refusals

playbook present
[ "$changed" -gt 0 ] || die "the first run changed nothing"
grep -q '^PLAY \[Canary hosts\]' "$work/$tag-present.log" || die "the canary play did not run"
got=$(in_c rpm -q wpam </dev/null) || die "wpam is not installed"
# From the role's repository (dnf 4 and dnf5 both know the repository a
# package came from), with signatures checked on packages and metadata.
# Other repositories off: the query reads only the installed packages.
from=$(in_c dnf -q --disablerepo='*' repoquery --installed --qf '%{from_repo}' wpam </dev/null) ||
  die "dnf repoquery --installed wpam"
grep -qx wpam <<<"$from" || die "wpam was installed from '$from', not from the repository wpam"
# Spaces around = or not: the file is the module's to format.
in_c cat /etc/yum.repos.d/wpam.repo </dev/null | sed 's/^\([a-z_]*\) *= */\1=/' >"$work/wpam.repo" ||
  die "no /etc/yum.repos.d/wpam.repo"
for l in "baseurl=$repo/rpm" "gpgcheck=1" "repo_gpgcheck=1" "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-wpam"; do
  grep -qxF "$l" "$work/wpam.repo" || { cat "$work/wpam.repo" >&2; die "wpam.repo: no '$l'"; }
done
[ "$(in_c stat -c '%U:%G %a' /etc/security/wpam.conf </dev/null)" = "root:root 600" ] || die "wpam.conf is not root:root 0600"
in_c cat /etc/pam.d/sshd >"$work/pam-sshd" </dev/null || die "cat /etc/pam.d/sshd"
# The wpam auth line right after the password-auth substack (pam_unix asks
# the password first), the role's marker comments aside.
next=$(grep -vE '^\s*#' "$work/pam-sshd" | grep -A1 -E '^auth\s+substack\s+password-auth' | tail -n1)
[[ "$next" == "auth     [success=done ignore=ignore default=die] pam_wpam.so config=/etc/security/wpam.conf" ]] ||
  { cat "$work/pam-sshd" >&2; die "the wpam auth line does not follow 'auth substack password-auth'"; }
[ "$(pid_now)" = "$sshd_pid" ] || die "sshd was restarted (pid changed), not reloaded"
wpam_check_passes "$work/check.log" in_c wpam check --service sshd </dev/null || die "wpam check after the role"
ok "first run: changed=$changed; $got from the repository wpam (gpgcheck, repo_gpgcheck); wpam check passes"

# --- 4. logins through the reloaded sshd --------------------------------------------------
steps_logins
steps_enabled

# --- 5. idempotent ---------------------------------------------------------------------------
steps_idempotent

# --- 6. rollback -----------------------------------------------------------------------------
pubkeys() { in_c rpm -q gpg-pubkey --qf '%{SUMMARY}\n' </dev/null 2>/dev/null || true; }
grep -q 'wpam release dry run' <<<"$(pubkeys)" || die "the repository key is not in the rpm database"
steps_rollback
grep -q 'wpam release dry run' <<<"$(pubkeys)" && die "the rollback left the repository key in the rpm database"
ok "rollback: the repository key is out of the rpm database"

log "$image done in $(($(date +%s) - t0)) s"
echo "ansible-rpm: $passed passed, 0 failed"
