#!/usr/bin/env bash
# The Ansible role (deploy/ansible/), for real: `make test-ansible`.
#
#   1. ansible-lint (production profile) and a syntax check of the example
#      playbook, with the pinned tools (deploy/ansible/requirements.txt) in a
#      venv cached under $WPAM_ANSIBLE_CACHE (default /var/cache/wpam-ansible);
#   2. a clean Debian 12 (and 13) root (ci/test/packages.sh's cached
#      debootstrap minbase tar, build/test/<suite>-minbase.tar, when there is
#      one, else debootstrap) with python3,
#      python3-apt and openssh-server added from the Debian mirror, cached as
#      a tar too; a fresh copy of it for every run;
#   3. the signed APT repository of the release dry run (build/release/site,
#      made by `ci/release/release.sh --dry-run` when absent) served on loopback, the
#      development Werbot API on loopback, and the root's own sshd on a
#      loopback port;
#   4. deploy/ansible/site.yml (canary play, the stop, the fleet play) against
#      the root (connection community.general.chroot): refused before
#      anything when Ansible's own login would need a second factor; a key
#      the API refuses stops at the candidate (nothing on disk, the package
#      aside); then installs wpam from the repository with the key pinned by
#      its SHA-256, wpam.conf from the role's variables, config, CA, PAM and
#      sshd changes checked as candidates by `sshd -t` and `wpam check`
#      before and after they are put in place, sshd reloaded (SIGHUP), a
#      fresh connection, the timed revert cancelled;
#   5. logins through that sshd with the real ssh client: password, Werbot
#      ID, the right TOTP code -> in; a wrong code -> refused; then on the
#      enabled root: a key rotation to a refused key leaves the old key and
#      logins; a change whose fresh connection fails is reverted by the
#      host's timer (bounded wait); the run stops after the canaries;
#   6. the playbook again: nothing changed; the service key appears in no
#      output (no_log);
#   7. wpam_state=absent: PAM, sshd, APT and config files byte for byte as
#      before the first run, the package gone, sshd still up (password login);
#      absent again: nothing changed;
#   8. what runs here of the RHEL-family and BSD paths (their full runs are
#      hosted CI jobs: ci/hosted/ansible-rpm.sh, ci/hosted/bsd-vm-ansible.sh): the RedHat
#      task file under --check with a Rocky Linux 9 host's OS facts, and the
#      BSDs' fetch-release.yml for real, tampered releases refused.
#
# WPAM_ANSIBLE_SUITES: the suites, default "bookworm trixie" (Debian 12, 13);
# steps 2-7 run once per suite, each in a root of its own, the suites side
# by side. WPAM_ANSIBLE_KEEP=1 keeps the work directory (logs, roots).
# Needs root (chroot, mounts). Not root: skipped with a note, except under
# CI=true, where that fails. Every child is bounded (timeout).
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
# shellcheck source=../lib/apt.sh
. "$(dirname "$0")/../lib/apt.sh"
# shellcheck source=../lib/ansible.sh
. "$(dirname "$0")/../lib/ansible.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
cache=${WPAM_ANSIBLE_CACHE:-/var/cache/wpam-ansible}
# The Debian suites to run the role against: Debian 12 and 13.
read -r -a suites <<<"${WPAM_ANSIBLE_SUITES:-bookworm trixie}"
t0=$(date +%s)
passed=0
log() { printf 'test-ansible: %s\n' "$*" >&2; }
ok() { passed=$((passed + 1)); printf 'test-ansible: ok   %s (%d s)\n' "$*" "$(($(date +%s) - t0))" >&2; }
die() {
  printf 'test-ansible: FAIL %s\n' "$*" >&2
  echo "test-ansible: $passed passed, 1 failed"
  exit 1
}

if [ "$(id -u)" != 0 ]; then
  [ "${CI:-}" != true ] || die "needs root (chroot, mounts) and CI=true forbids skipping"
  log "not root: skipped (the role runs against a debootstrap root; run as root)"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/ans-test.XXXXXX")
roots=()
pids=()
mounted=()
# stop_own: this shell's sshds (by the roots it made), background children
# and mounts; each suite's subshell (run_suite_apart) runs it for its own.
stop_own() {
  local p m r
  for r in "${roots[@]}"; do
    [ -s "$r/run/sshd.pid" ] || continue
    p=$(cat "$r/run/sshd.pid")
    # Only the sshd of that root.
    if [ "$(readlink "/proc/$p/root" 2>/dev/null)" = "$r" ]; then kill "$p" 2>/dev/null || true; fi
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
}
cleanup() {
  local d r m
  stop_own
  # What a suite's subshell left when it was killed before its own cleanup
  # ran (a TERM from .ci/run's time limit): any process chrooted below
  # $work, any mount below it.
  for d in /proc/[0-9]*; do
    r=$(readlink "$d/root" 2>/dev/null) || continue
    case $r in "$work"/*) kill "${d#/proc/}" 2>/dev/null || true ;; esac
  done
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r)
  if [ -n "${WPAM_ANSIBLE_KEEP:-}" ]; then log "kept $work (WPAM_ANSIBLE_KEEP)"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- 1. the pinned tools, lint ----------------------------------------------------
ansible_venv
export ANSIBLE_COLLECTIONS_PATH=$venv/collections
versions=$("$venv/bin/ansible-playbook" --version && NO_COLOR=1 "$venv/bin/ansible-lint" --nocolor --version 2>/dev/null) ||
  die "ansible-playbook or ansible-lint in $venv do not run"
grep -q '^ansible-playbook \[core 2\.' <<<"$versions" || die "ansible-playbook in $venv: $versions"
ok "pinned tools: $(grep -m1 '^ansible-playbook' <<<"$versions"), $(grep -m1 '^ansible-lint' <<<"$versions" | awk '{print $1, $2}')"
export ANSIBLE_CONFIG=$here/deploy/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
export ANSIBLE_LOCAL_TEMP=$work/ansible-local ANSIBLE_HOME=$work/ansible-home
(cd deploy/ansible && timeout 600 "$venv/bin/ansible-lint" --offline --profile production --nocolor) >"$work/lint.log" 2>&1 ||
  { cat "$work/lint.log" >&2; die "ansible-lint --profile production"; }
ok "ansible-lint --profile production: clean"
timeout 120 "$venv/bin/ansible-playbook" --syntax-check -i deploy/ansible/inventory/hosts.yml deploy/ansible/site.yml >"$work/syntax.log" 2>&1 ||
  { cat "$work/syntax.log" >&2; die "ansible-playbook --syntax-check site.yml"; }
ok "ansible-playbook --syntax-check site.yml (example inventory)"

# --- 2. the signed repository and the development API on loopback -------------------
site=${RELEASE_DIR:-$here/build/release}/site
if [ ! -s "$site/apt/dists/stable/InRelease" ]; then
  log "no release dry run output in $site: ci/release/release.sh --dry-run"
  timeout 3600 ci/release/release.sh --dry-run >"$work/release.log" 2>&1 || { tail -n 30 "$work/release.log" >&2; die "ci/release/release.sh --dry-run"; }
fi
[ -s "$site/apt/dists/stable/InRelease" ] || die "no signed APT repository in $site"
serve "$site" "$work/site.port"
repo=http://127.0.0.1:$(cat "$work/site.port")
ok "signed APT repository of the release dry run on $repo"

timeout 1800 cargo build --locked --quiet --example werbot-dev-server >"$work/cargo.log" 2>&1 ||
  { tail -n 30 "$work/cargo.log" >&2; die "cargo build --example werbot-dev-server"; }
dev_api target/debug/examples/werbot-dev-server
ok "development Werbot API on https://$api"


# Everything below runs once per Debian suite: a root of its own, its own sshd.
run_suite() {
  local suite=$1 name
  name=ans-$suite
  root=$work/$suite
  roots+=("$root")
  # --- 2. the Debian root -------------------------------------------------------------
  root_tar=$cache/$suite-ansible.tar
  if [ ! -s "$root_tar" ]; then
    mkdir -p "$cache" "$work/build"
    base_tar=${WPAM_TEST_DIR:-$here/build/test}/$suite-minbase.tar
    if [ -s "$base_tar" ]; then
      log "root: from $base_tar (ci/test/packages.sh's cache) + python3, python3-apt, openssh-server"
      tar -xf "$base_tar" -C "$work/build"
    else
      mirror=$(debian_mirror)
      log "root: debootstrap --variant=minbase $suite from $mirror"
      command -v debootstrap >/dev/null || die "debootstrap is not installed (ci/install-deps.sh)"
      timeout 1200 debootstrap --variant=minbase "$suite" "$work/build" "$mirror" >"$work/debootstrap.log" 2>&1 ||
        { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap"; }
    fi
    cp -L /etc/resolv.conf "$work/build/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' >"$work/build/usr/sbin/policy-rc.d"
    chmod 755 "$work/build/usr/sbin/policy-rc.d"
    mount -t proc proc "$work/build/proc" && mounted+=("$work/build/proc")
    in_build() { chroot "$work/build" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
    { in_build timeout 600 apt-get update -q &&
      in_build timeout 900 apt-get install -y -q --no-install-recommends python3 python3-apt openssh-server; } \
      >"$work/root-apt.log" 2>&1 || { tail -n 30 "$work/root-apt.log" >&2; die "apt-get install in the root"; }
    umount "$work/build/proc" && unset "mounted[-1]"
    # Only the wpam repository from now on: the test needs no network beyond loopback.
    rm -f "$work/build/usr/sbin/policy-rc.d" "$work/build/etc/apt/sources.list" "$work/build"/etc/apt/sources.list.d/*
    rm -rf "$work/build"/var/lib/apt/lists/* "$work/build"/var/cache/apt/*.bin "$work/build"/var/cache/apt/archives/*.deb
    tar -C "$work/build" -cf "$root_tar.new.$$" . && mv "$root_tar.new.$$" "$root_tar"
    rm -rf "$work/build"
    ok "root: $root_tar built"
  fi
  mkdir -p "$root"
  tar -xf "$root_tar" -C "$root"
  mount -t proc proc "$root/proc" && mounted+=("$root/proc")
  in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }
  host() { in_root "$@"; }
  in_root dpkg -s wpam >/dev/null 2>&1 && die "the cached root already has wpam"
  mkdir -p "$root/run/sshd"
  user=ansuser
  password="ans-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  in_root useradd -m -s /bin/sh "$user"
  printf '%s:%s\n' "$user" "$password" | in_root chpasswd
  ok "$suite: root: fresh copy of $root_tar, user $user"

  sshd_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  timeout 60 chroot "$root" /usr/sbin/sshd -o "Port=$sshd_port" -o ListenAddress=127.0.0.1 -o PidFile=/run/sshd.pid \
    -E /var/log/sshd.log || die "sshd in the root did not start"
  for _ in $(seq 100); do [ -s "$root/run/sshd.pid" ] && break; sleep 0.1; done
  sshd_pid=$(cat "$root/run/sshd.pid")
  ok "$suite: the root's sshd (pid $sshd_pid) on 127.0.0.1:$sshd_port"

  write_askpass
  login_report() { echo "stdout: $(cat "$work/ask/stdout")"; echo "stderr: $(cat "$work/ask/stderr")"; echo "prompts: $(tr '\0' '|' <"$work/ask/prompts")"; tail -n 20 "$root/var/log/sshd.log"; } >&2
  login_ok password - - || { login_report; die "password login before the role"; }
  ok "$suite: before the role: password login works"

  # The files the role touches, and those it must leave as they were.
  snapshot() {
    (cd "$root" && find etc/pam.d etc/ssh etc/security etc/apt usr/share/keyrings -type f ! -name '*~' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
  }
  snapshot >"$work/before.sha"

  # --- 4. the role ----------------------------------------------------------------------
  tag=$suite say="$suite: "
  write_inventory community.general.chroot "$root"
  pid_now() { cat "$root/run/sshd.pid"; }
  wpam_installed() { in_root dpkg -s wpam >/dev/null 2>&1; }
  repo_files=APT
  write_vars "$work/vars.json" "$site/wpam-archive-keyring.gpg"
  # --check on the fresh root: it runs, and changes nothing.
  playbook check-fresh --check --diff
  snapshot | cmp -s - "$work/before.sha" || die "--check changed files"
  in_root dpkg -s wpam >/dev/null 2>&1 && die "--check installed wpam"
  ok "$suite: --check --diff on the fresh root: passes, changes nothing"
  steps_refusals
  playbook present
  [ "$changed" -gt 0 ] || die "the first run changed nothing"
  grep -q '^PLAY \[Canary hosts\]' "$work/$suite-present.log" || die "the canary play did not run"
  # shellcheck disable=SC2016 # dpkg-query's format
  got=$(in_root dpkg-query -W -f='${Version} ${Status}' wpam) || die "wpam is not installed"
  [[ "$got" == *" install ok installed" ]] || die "wpam: $got"
  grep -q "$repo/apt stable/main" <<<"$(in_root apt-cache policy wpam)" || die "wpam was not installed from the repository"
  [ "$(stat -c '%U:%G %a' "$root/etc/security/wpam.conf")" = "root:root 600" ] || die "wpam.conf is not root:root 0600"
  grep -qx 'auth     \[success=done ignore=ignore default=die\] pam_wpam.so config=/etc/security/wpam.conf' "$root/etc/pam.d/sshd" ||
    die "no wpam auth line (the shipped template's, config= only) in /etc/pam.d/sshd"
  grep -q '^account.*pam_wpam' "$root/etc/pam.d/sshd" && die "a wpam account line with account_phase=skip"
  grep -qx 'account_phase=skip' "$root/etc/security/wpam.conf" || die "wpam.conf: no account_phase=skip"
  grep -qx 'groups=!wpam-exempt' "$root/etc/security/wpam.conf" || die "wpam.conf: no groups=!wpam-exempt"
  [ "$(cat "$root/run/sshd.pid")" = "$sshd_pid" ] || die "sshd was restarted (pid changed), not reloaded"
  wpam_check_passes "$work/check.log" in_root wpam check --service sshd || die "wpam check after the role"
  ok "$suite: first run: changed=$changed; wpam $got from $repo; wpam check passes"

  # --- 5. logins through the reloaded sshd -------------------------------------------------
  steps_logins

  # --- 5b. on the enabled host: key rotation refused, timed revert, the stop after the canaries
  steps_enabled
  # The timed revert script as the role renders it (lint.sh skips templates).
  revert_sh=$root/var/lib/wpam-ansible/revert/revert.sh
  [ -s "$revert_sh" ] || die "$suite: no rendered $revert_sh"
  shellcheck -s sh "$revert_sh" || die "$suite: shellcheck of the rendered revert script"
  log "ok   $suite: shellcheck of the rendered revert script"

  # --- 6. idempotent -------------------------------------------------------------------------
  steps_idempotent

  # --- 7. rollback ---------------------------------------------------------------------------
  steps_rollback

  log "$suite done in $(($(date +%s) - t0)) s"
}

# run_suite_apart SUITE: run_suite in a subshell of its own, so that the
# suites run side by side (most of a suite's time is spent waiting: on
# logins, on the host's revert timer): its own work directory, development
# API (the API's request log then holds that suite's requests alone) and
# sshd; its number of passed checks in $work/SUITE.passed.
run_suite_apart() { # only ever run with & (a subshell): it changes work, passed, pids...
  local suite=$1 top=$work
  work=$top/$suite.d
  mkdir -p "$work"
  export ANSIBLE_LOCAL_TEMP=$work/ansible-local
  passed=0 pids=() mounted=() roots=()
  trap stop_own EXIT
  dev_api target/debug/examples/werbot-dev-server
  run_suite "$suite"
  echo "$passed" >"$top/$suite.passed"
}
suite_pids=()
for suite in "${suites[@]}"; do
  run_suite_apart "$suite" &
  suite_pids+=($!)
done
failed=()
for i in "${!suites[@]}"; do
  wait "${suite_pids[$i]}" || failed+=("${suites[$i]}")
done
[ "${#failed[@]}" = 0 ] || die "suite(s) ${failed[*]} failed (their FAIL lines above)"
for suite in "${suites[@]}"; do passed=$((passed + $(cat "$work/$suite.passed"))); done
# Step 8 uses the role's variables for this shell's development API.
write_vars "$work/vars.json" "$site/wpam-archive-keyring.gpg"

# --- 8. the RHEL-family and BSD task files, as far as they run here ---------------------
# No RHEL-family or BSD system runs on this machine; the role runs for real on
# them in the hosted CI (ci/hosted/ansible-rpm.sh, ci/hosted/bsd-vm-ansible.sh). Here:
#   - RedHat: site.yml --check --diff on a fresh Debian root that Ansible is
#     told is a Rocky Linux 9 host (a facts module of the test's own in
#     place of fact gathering returns that platform's OS facts): the RedHat
#     task file and its variables, in check mode, change nothing and show the
#     dnf repository they would write (gpgcheck, repo_gpgcheck);
#   - FreeBSD, NetBSD, OpenBSD: fetch-release.yml for real on the controller
#     (gpgv on the release dry run's signed SHA256SUMS, the package's
#     checksum, the copy to the host), and refused for a package whose bytes
#     changed, a SHA256SUMS whose signature does not match, and a package
#     the signed SHA256SUMS does not list.
other_root() { # NAME: a fresh copy of the first suite's root in $work/NAME
  mkdir -p "$work/$1"
  tar -xf "$cache/${suites[0]}-ansible.tar" -C "$work/$1"
  roots+=("$work/$1")
}
chroot_host() { # NAME ROOT -> an inventory line for the root
  printf '%s ansible_host=%s ansible_connection=community.general.chroot ansible_python_interpreter=/usr/bin/python3\n' "$1" "$2"
}
with_facts() { # DIR CMD...: CMD, its hosts' facts gathered by DIR's module alone (fake_facts)
  ANSIBLE_FACTS_MODULES=wpam_test_facts ANSIBLE_LIBRARY=$1 "${@:2}"
}
fake_facts() { # HOST JSON: $work/facts-HOST, a facts module that returns JSON's OS facts
  # Ansible's documented way to replace fact gathering (FACTS_MODULES), so
  # the role sees that platform's system and os_family; nothing else is
  # gathered, and the role needs nothing else here.
  mkdir -p "$work/facts-$1"
  python3 - "$work/facts-$1/wpam_test_facts.py" "$2" <<'PY' || die "$1: the facts module"
import json, sys
path, facts = sys.argv[1], {"ansible_" + k: v for k, v in json.loads(sys.argv[2]).items()}
open(path, "w").write("""#!/usr/bin/python3
# The OS facts of another platform, for ci/test/ansible.sh step 8.
from ansible.module_utils.basic import AnsibleModule
AnsibleModule(argument_spec={}, supports_check_mode=True).exit_json(ansible_facts=%r)
""" % facts)
PY
}
tree_sha() { (cd "$1" && find etc var/tmp -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

# RedHat: --check --diff.
other_root rocky9
root=$work/rocky9
mkdir -p "$root/etc/yum.repos.d" # a RHEL host's dnf repository directory
fake_facts rocky9 \
  '{"system": "Linux", "os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": "9", "distribution_version": "9.6", "pkg_mgr": "dnf", "service_mgr": "systemd"}'
tree_sha "$root" >"$work/rocky9.before"
{
  echo '[wpam_canary]'
  chroot_host rocky9 "$root"
  printf '\n[wpam_fleet:children]\nwpam_canary\n'
} >"$work/rocky9.ini"
with_facts "$work/facts-rocky9" timeout 900 "$venv/bin/ansible-playbook" -v -i "$work/rocky9.ini" deploy/ansible/site.yml \
  -e "@$work/vars.json" -e ansible_become=false --check --diff >"$work/rocky9-check.log" 2>&1 ||
  { tail -n 60 "$work/rocky9-check.log" >&2; die "RedHat: site.yml --check --diff"; }
grep -q "$key" "$work/rocky9-check.log" && die "RedHat --check: the service key is in the output"
grep -q 'TASK \[wpam : The wpam dnf repository' "$work/rocky9-check.log" || die "RedHat --check: the RedHat task file did not run"
for want in 'gpgcheck = 1' 'repo_gpgcheck = 1' "baseurl = $repo/rpm" "gpgkey = file:///etc/pki/rpm-gpg/RPM-GPG-KEY-wpam"; do
  grep -qF "+$want" "$work/rocky9-check.log" || { tail -n 60 "$work/rocky9-check.log" >&2; die "RedHat --check: the repository diff lacks '$want'"; }
done
grep -q 'wpam is not installed yet' "$work/rocky9-check.log" || die "RedHat --check: no note that wpam check waits for the real run"
tree_sha "$root" | cmp -s - "$work/rocky9.before" || die "RedHat --check changed files in the root"
ok "RedHat (Rocky Linux 9 facts on a Debian root): site.yml --check --diff passes, changes nothing, shows the signed dnf repository"

# BSDs: the release package, verified on the controller.
files=$(dirname "$site")/files
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
[ -s "$files/SHA256SUMS.asc" ] || die "no signed SHA256SUMS in $files (ci/release/release.sh --dry-run)"
cat >"$work/fetch.yml" <<'YML'
- name: The release package for the host (the role's fetch-release.yml)
  hosts: all
  gather_facts: true
  tasks:
    - name: Fetch, verify, copy
      ansible.builtin.include_role:
        name: wpam
        tasks_from: fetch-release.yml
YML
release_copy() { # NAME: a copy of the release files, served; its URL in $rel
  rm -rf "${work:?}/$1" && cp -a "$files" "$work/$1"
  serve "$work/$1" "$work/$1.port"
  rel=http://127.0.0.1:$(cat "$work/$1.port")
}
release_copy release-good
good=$rel
for os in FreeBSD NetBSD OpenBSD; do
  host=bsd-${os,,}
  other_root "$host"
  root=$work/$host
  chroot "$root" /usr/sbin/groupadd wheel || die "groupadd wheel in the root" # root's group on the BSDs
  fake_facts "$host" "{\"os_family\": \"$os\", \"system\": \"$os\", \"distribution\": \"$os\"}"
  chroot_host "$host" "$root" >"$work/$host.ini"
  case $os in
  FreeBSD) pkg=wpam-$version-freebsd-amd64.pkg ;;
  NetBSD) pkg=wpam-$version-netbsd-amd64.tgz ;;
  OpenBSD) pkg=wpam-$version-openbsd-amd64.tgz ;;
  esac
  fetch() { # RUN URL [FINGERPRINT]: fetch.yml against the root, its log in $work/$host-RUN.log
    rm -rf "$work/cache-$host-$1" "$root/var/tmp/$pkg"
    with_facts "$work/facts-$host" env ANSIBLE_ROLES_PATH="$here/deploy/ansible/roles" \
      timeout 600 "$venv/bin/ansible-playbook" -v -i "$work/$host.ini" "$work/fetch.yml" \
      -e "wpam_version=$version wpam_release_url=$2 wpam_release_keyring=$files/wpam-archive-keyring.gpg" \
      -e "wpam_repo_key_fingerprint=${3:-$(key_fpr "$files/wpam-archive-keyring.gpg")}" \
      -e "wpam_release_cache=$work/cache-$host-$1" >"$work/$host-$1.log" 2>&1
  }
  fetch good "$good" || { tail -n 40 "$work/$host-good.log" >&2; die "$os: fetch-release.yml with the signed release"; }
  want=$(awk -v f="$pkg" '$2 == f { print $1 }' "$files/SHA256SUMS")
  [ -n "$want" ] || die "$os: $pkg (the role's package_file) is not in the dry run's SHA256SUMS"
  [ "$(sha256sum <"$root/var/tmp/$pkg" | cut -d' ' -f1)" = "$want" ] || die "$os: the package copied to the host is not the signed one"
  [ "$(chroot "$root" stat -c '%U:%G %a' "/var/tmp/$pkg")" = "root:wheel 600" ] || die "$os: /var/tmp/$pkg is not root:wheel 0600"
  # Refused: bytes changed; SHA256SUMS changed to match them (its signature
  # then fails); a SHA256SUMS signed by the same key that does not list it.
  release_copy "release-$host-bytes"
  printf 'x' >>"$work/release-$host-bytes/$pkg"
  fetch bytes "$rel" && die "$os: a package whose bytes changed was accepted"
  grep -qF "$pkg (sha256 $(sha256sum <"$work/release-$host-bytes/$pkg" | cut -d' ' -f1)) is not what SHA256SUMS lists" "$work/$host-bytes.log" ||
    { tail -n 30 "$work/$host-bytes.log" >&2; die "$os: changed bytes: refused for another reason"; }
  release_copy "release-$host-sums"
  printf 'x' >>"$work/release-$host-sums/$pkg"
  new=$(sha256sum <"$work/release-$host-sums/$pkg" | cut -d' ' -f1)
  sed -i "s/^$want /$new /" "$work/release-$host-sums/SHA256SUMS"
  fetch sums "$rel" && die "$os: a SHA256SUMS whose signature does not match was accepted"
  grep -q 'BAD signature' "$work/$host-sums.log" ||
    { tail -n 30 "$work/$host-sums.log" >&2; die "$os: changed SHA256SUMS: refused for another reason"; }
  fetch other-key "$good" 0123456789ABCDEF0123456789ABCDEF01234567 && die "$os: a release keyring that is not the pinned key was accepted"
  grep -q 'not trusting it' "$work/$host-other-key.log" ||
    { tail -n 30 "$work/$host-other-key.log" >&2; die "$os: other keyring: refused for another reason"; }
  [ -e "$root/var/tmp/$pkg" ] && die "$os: a refused package reached the host"
  ok "$os: fetch-release: the signed package copied to the host (root:wheel 0600, its SHA-256); changed bytes and a broken signature refused on the controller"
done
echo "test-ansible: $passed passed, 0 failed"
