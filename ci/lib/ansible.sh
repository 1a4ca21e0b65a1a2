# shellcheck shell=bash disable=SC2154 # the caller sets cache, work, user, password, sshd_port, repo, tag, name
# Sourced by ci/test/ansible.sh (Debian roots, chroot) and ci/hosted/ansible-rpm.sh
# (RHEL-family containers, hosted CI): what both need to run the role for
# real: the pinned tools (ansible_venv), the repository and the development
# API on loopback (serve, dev_api), the inventory and variables
# (write_inventory, write_vars), the playbook runs (run_playbook, playbook),
# ssh logins (write_askpass, login, login_ok, totp) and the checks both make
# (steps_refusals, steps_logins, steps_idempotent, steps_rollback). The
# caller defines log, ok and die, and sets cache (the venv's parent
# directory), work (its scratch directory) and pids (background children).
#
# ansible_venv: sets venv to the pinned tools (deploy/ansible/requirements.txt)
# in a venv under $cache, made once: the connection plugins the tests use
# (community.general.chroot, community.docker.docker) come from the
# `ansible` wheel, pinned by version and SHA-256; only those two collections
# are unpacked. The directory name is the hash of the pins and of that list,
# so a changed pin or collection makes a new venv.
# wpam_check_passes LOG COMMAND...: `wpam check` (COMMAND) passes with exit
# status 0 (every check ok) or 1 (warnings, e.g. key-only logins and the
# account phase); 2 is a failure. Its output goes to LOG, shown on failure.
wpam_check_passes() {
  local out=$1 rc=0
  shift
  "$@" >"$out" 2>&1 || rc=$?
  [ "$rc" -le 1 ] && return 0
  cat "$out" >&2
  log "wpam check exited with $rc (2: a failure)"
  return 1
}

ansible_bundle=ansible-11.13.0-py3-none-any.whl
ansible_bundle_sha256=7f1c9c6a6026ff214d9240647e4d2b019b2a9d4c7a2bc733932bcf92af80ab04
ansible_collections_unpacked="community/general community/docker"
ansible_venv() {
  local req=deploy/ansible/requirements.txt
  venv=$cache/venv-$( (cat "$req"; echo "$ansible_bundle $ansible_bundle_sha256 $ansible_collections_unpacked") | sha256sum | cut -c1-16)
  [ -f "$venv/.complete" ] && return 0
  log "venv: pip install -r $req into $venv, $ansible_collections_unpacked from $ansible_bundle"
  mkdir -p "$cache"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv (python3-venv installed?)"
  timeout 900 "$venv/bin/pip" install -q --disable-pip-version-check --no-input -r "$req" ||
    die "pip install -r $req"
  timeout 600 "$venv/bin/pip" download -q --disable-pip-version-check --no-input --no-deps \
    --only-binary=:all: -d "$venv/dl" "ansible==$(cut -d- -f2 <<<"$ansible_bundle")" || die "pip download $ansible_bundle"
  echo "$ansible_bundle_sha256  $venv/dl/$ansible_bundle" | sha256sum -c --quiet - ||
    die "$ansible_bundle: not the pinned SHA-256"
  # shellcheck disable=SC2086 # the list, one argument per collection
  "$venv/bin/python" -c '
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
want = tuple("ansible_collections/%s/" % c for c in sys.argv[3:])
names = [n for n in z.namelist() if n.startswith(want)]
missing = [w for w in want if not any(n.startswith(w) for n in names)]
if missing:
    sys.exit("not in the wheel: %s" % " ".join(missing))
z.extractall(sys.argv[2], names)
' "$venv/dl/$ansible_bundle" "$venv/collections" $ansible_collections_unpacked || die "unpack $ansible_collections_unpacked"
  rm -rf "$venv/dl"
  touch "$venv/.complete"
}

# serve DIR PORTFILE: a static HTTP server on a free loopback port (its pid
# added to pids; the port written to PORTFILE).
serve() {
  timeout 3600 python3 - "$1" "$2" >"$2.log" 2>&1 <<'PY' &
import functools, http.server, os, sys
site, portfile = sys.argv[1:3]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=site)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open(portfile + ".new", "w").write(str(s.server_address[1]))
os.rename(portfile + ".new", portfile)
s.serve_forever()
PY
  pids+=($!)
  for _ in $(seq 100); do [ -s "$2" ] && return 0; sleep 0.1; done
  die "HTTP server for $1 did not start: $(cat "$2.log")"
}

# totp SECRET [1]: the TOTP code of SECRET now; with 1, a code valid in none
# of the steps around now.
totp() {
  python3 - "$@" <<'PY'
import base64, hmac, struct, sys, time
secret, shift = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
def code(step):
    h = hmac.new(key, struct.pack(">Q", step), "sha1").digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)
step = int(time.time()) // 30
if shift == 0:
    print(code(step))
else:  # a code valid in none of the steps around now
    valid = {code(step + k) for k in range(-2, 3)}
    print(next(c for c in ("%06d" % ((n * 7919 + 13) % 1000000) for n in range(1000)) if c not in valid))
PY
}

# One login with the real ssh client to 127.0.0.1:$sshd_port as $user
# (password $password); $work/askpass answers by prompt.
write_askpass() {
  cat >"$work/askpass" <<'EOF'
#!/bin/sh
printf '%s\0' "$1" >>"$ANS_ASK/prompts"
case "$1" in
*"Werbot ID"*) cat "$ANS_ASK/id" ;;
*"totp code"*) cat "$ANS_ASK/code" ;;
*assword*) cat "$ANS_ASK/password" ;;
*) exit 1 ;;
esac
EOF
  chmod 755 "$work/askpass"
}
login() { # METHOD ID CODE -> $work/ask/{stdout,stderr,prompts}; ssh's exit status
  local ask=$work/ask
  rm -rf "$ask" && mkdir -p "$ask"
  printf '%s\n' "$password" >"$ask/password"
  printf '%s\n' "$2" >"$ask/id"
  printf '%s\n' "$3" >"$ask/code"
  : >"$ask/prompts"
  ANS_ASK=$ask SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    timeout 60 setsid ssh -F /dev/null -p "$sshd_port" -l "$user" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o BatchMode=no \
    -o NumberOfPasswordPrompts=1 -o ConnectTimeout=20 -o PubkeyAuthentication=no \
    -o "PreferredAuthentications=$1" 127.0.0.1 'echo ok' \
    </dev/null >"$ask/stdout" 2>"$ask/stderr"
}
logged_in() { [ "$(head -n1 "$work/ask/stdout")" = ok ]; }
login_ok() { login "$@" && logged_in; }

# dev_api BIN: the development Werbot API (examples/werbot-dev-server.rs) on
# a free loopback port, service ans-web-01 with a random key; sets api
# (host:port), ca (its CA's PEM file) and key.
# The login both runs use (ansuser) is mapped to every demo user.
dev_api() {
  local ready
  key="ans-service-key-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  timeout 3600 "$1" --listen 127.0.0.1:0 --state-dir "$work/api" \
    --service-id ans-web-01 --service-key "$key" --map-login ansuser >"$work/api.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do grep -q '^werbot-dev-server listening on' "$work/api.out" && break; sleep 0.1; done
  ready=$(grep -m1 '^werbot-dev-server listening on' "$work/api.out") || die "dev API did not start: $(cat "$work/api.out")"
  api=${ready#werbot-dev-server listening on https://}
  api=${api%% *}
  ca=${ready##* ca=}
}

# key_fpr FILE: the fingerprint of the first primary key in an OpenPGP key
# file (what README.md gives users to pin as wpam_repo_key_fingerprint).
key_fpr() {
  local home rc=0
  home=$(mktemp -d)
  gpg --batch --homedir "$home" --with-colons --show-keys "$1" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }' || rc=$?
  rm -rf "$home"
  return "$rc"
}

# write_vars OUT [KEYRING]: the role's variables for the dev API ($api, $ca,
# $key) and the repository at $repo, as JSON; with KEYRING, the APT key's
# SHA-256 pinned.
write_vars() {
  python3 - "$1" "$api" "$ca" "$key" "$repo" "${2:-}" "$(key_fpr "$site/wpam-archive-keyring.gpg")" <<'PY'
import hashlib, json, sys
out, api, ca, key, repo, keyring, fpr = sys.argv[1:8]
v = {
    "wpam_server_url": api,
    "wpam_service_id": "ans-web-01",
    "wpam_service_key": key,
    "wpam_offline_users": ["root"],
    # The logins type their Werbot ID (the dev API maps ansuser to every
    # demo user): the prompts steps_logins answers.
    "wpam_werbot_id_from_login": False,
    "wpam_ca_pem": open(ca).read(),
    "wpam_pages_url": repo,
    # The timed revert: short enough for the test to wait for it.
    "wpam_revert_after": 60,
    # sshd here is not run by a service manager: the reload is its SIGHUP.
    "wpam_sshd_reload_command": ["/bin/sh", "-c", 'kill -HUP "$(cat /run/sshd.pid)"'],
}
if keyring:
    v["wpam_repo_key_sha256"] = hashlib.sha256(open(keyring, "rb").read()).hexdigest()
if fpr:
    v["wpam_repo_key_fingerprint"] = fpr
json.dump(v, open(out, "w"))
PY
}

# write_inventory CONNECTION ANSIBLE_HOST: $work/$tag.ini, host $name in
# the canary group, which is the fleet (site.yml's two plays).
write_inventory() {
  cat >"$work/$tag.ini" <<EOF
[wpam_canary]
$name ansible_host=$2

[wpam_fleet:children]
wpam_canary

[all:vars]
ansible_connection=$1
ansible_python_interpreter=/usr/bin/python3
ansible_become=false
EOF
}

# run_playbook RUN ARGS...: site.yml against $work/$tag.ini with
# $work/vars.json, log in $work/$tag-RUN.log.
run_playbook() {
  local run=$1
  shift
  timeout 900 "$venv/bin/ansible-playbook" -v -i "$work/$tag.ini" deploy/ansible/site.yml \
    -e "@$work/vars.json" "$@" >"$work/$tag-$run.log" 2>&1
}
# playbook RUN ARGS...: run_playbook, which must succeed, with a clean PLAY
# RECAP for host $name and the service key in no output; sets changed.
playbook() {
  local run=$1 out=$work/$tag-$1.log
  run_playbook "$@" || { tail -n 60 "$out" >&2; die "ansible-playbook ($tag, $run)"; }
  grep -q "$key" "$out" && die "the service key is in the output of ansible-playbook ($tag, $run)"
  changed=$(sed -n "s/^$name *: ok=[0-9]* *changed=\([0-9]*\) *unreachable=0 *failed=0 .*/\\1/p" "$out" | tail -n1)
  [ -n "$changed" ] || { tail -n 20 "$out" >&2; die "no clean PLAY RECAP for $name ($run)"; }
}

# The checks both tests make, in the same order: the caller defines snapshot
# (the sha256sum lines of the files the role touches), pid_now (sshd's pid
# now), host (runs a command on the host) and login_report, and sets
# sshd_pid, $work/before.sha and say (the prefix of its ok lines).
revert_dir=/var/lib/wpam-ansible/revert
#
# refused_untouched RUN PATTERN WHAT ARGS...: site.yml with ARGS fails, its
# log says PATTERN, and the host is as before (no package, no file changed).
refused_untouched() {
  local run=$1 pattern=$2 what=$3
  shift 3
  run_playbook "$run" "$@" && die "$run: the role went on ($what)"
  grep -q "$pattern" "$work/$tag-$run.log" ||
    { tail -n 40 "$work/$tag-$run.log" >&2; die "$run: refused for another reason"; }
  wpam_installed && die "$run: the package was installed before the refusal"
  snapshot | cmp -s - "$work/before.sha" || die "$run: files changed"
  ok "${say}$what: refused before anything is touched"
}
#
# steps_refusals: a candidate that fails `wpam check` and a reload that
# fails both leave PAM and sshd as they were.
steps_refusals() {
  # Ansible's own login would need a second factor (AuthenticationMethods
  # with keyboard-interactive) and is in no excluded group: refused before
  # anything is touched (not even the package).
  refused_untouched own-login "refused before touching .*Ansible logs in as $user, which would need a second factor" \
    "Ansible's own login would need a second factor (not in wpam-exempt)" \
    -e "wpam_ansible_login=$user" -e wpam_sshd_authentication_methods=publickey,keyboard-interactive
  # A repository key whose primary is not the pinned one (here: the pin of
  # another key) is refused on the controller: the host gets no key, no
  # source and no package.
  refused_untouched other-key "wpam_repo_key_fingerprint pins 0123456789ABCDEF0123456789ABCDEF01234567: not trusting it" \
    "a repository key that is not the pinned primary (checked on the controller)" \
    -e wpam_repo_key_fingerprint=0123456789ABCDEF0123456789ABCDEF01234567
  # A candidate that fails `wpam check` (here: a service key the API
  # refuses) must stop the role before the config, PAM or sshd change.
  run_playbook wrong-key -e '{"wpam_service_key": "ans-wrong-key"}' &&
    die "the role went on with a service key the API refuses"
  grep -q 'api.request' "$work/$tag-wrong-key.log" || { tail -n 40 "$work/$tag-wrong-key.log" >&2; die "wrong key: not stopped by wpam check"; }
  cmp -s <(grep -E ' (etc/pam\.d/sshd|etc/ssh/.*|etc/security/.*)$' "$work/before.sha") \
    <(snapshot | grep -E ' (etc/pam\.d/sshd|etc/ssh/.*|etc/security/.*)$') || die "wrong key: config, PAM or sshd files changed"
  host grep -rqs ans-wrong-key /etc/security && die "wrong key: the refused key is on disk"
  [ "$(pid_now)" = "$sshd_pid" ] || die "wrong key: sshd restarted"
  login_ok password - - || { login_report; die "wrong key: password login afterwards"; }
  ok "${say}a key the API refuses: the role stops at the candidate's wpam check (candidate wpam.conf), config, PAM and sshd untouched, the key nowhere on disk"
  # A failure after the files were put in place (here: the reload) puts
  # the previous files back.
  run_playbook reload-fails -e '{"wpam_sshd_reload_command": ["/bin/false"]}' &&
    die "the role went on after the sshd reload failed"
  grep -q 'TASK \[wpam : Put the previous files back\]' "$work/$tag-reload-fails.log" ||
    { tail -n 40 "$work/$tag-reload-fails.log" >&2; die "reload failure: no restore"; }
  cmp -s <(grep -E ' (etc/pam\.d/sshd|etc/ssh/.*)$' "$work/before.sha") \
    <(snapshot | grep -E ' (etc/pam\.d/sshd|etc/ssh/.*)$') || die "reload failure: PAM or sshd files not restored"
  login_ok password - - || { login_report; die "reload failure: password login afterwards"; }
  ok "${say}a failed reload after the files were put in place: previous PAM and sshd files restored"
}

# steps_logins: through the reloaded sshd, a wrong TOTP code is refused and
# the right one logs in.
steps_logins() {
  login keyboard-interactive alice@example.com "$(totp JBSWY3DPEHPK3PXP 1)" && die "a wrong TOTP code logged in"
  grep -q 'Permission denied' "$work/ask/stderr" || { login_report; die "a wrong code: not refused by the server"; }
  grep -q 'Enter your totp code' "$work/ask/prompts" || { login_report; die "a wrong code: wpam's prompt never came"; }
  ok "${say}wrong TOTP code refused (Permission denied)"
  login_ok keyboard-interactive alice@example.com "$(totp JBSWY3DPEHPK3PXP)" ||
    { login_report; die "login with password, Werbot ID and TOTP code"; }
  grep -qa 'Enter your Werbot ID' "$work/ask/prompts" || { login_report; die "no Werbot ID prompt"; }
  grep -q 'totpCode' "$work/api/requests.jsonl" || die "the API saw no TOTP request"
  ok "${say}login: password, Werbot ID, TOTP code -> in (through the reloaded sshd)"
}

# steps_enabled: on the host where wpam is on: a key rotation to a key the
# API refuses leaves the old key in place and logins working; a change whose
# fresh connection fails is reverted by the timed revert, within a bounded
# wait; the stop after the canaries.
steps_enabled() {
  local deadline
  run_playbook rotate-wrong -e '{"wpam_service_key": "ans-wrong-key"}' &&
    die "enabled host: the role went on with a service key the API refuses"
  grep -q 'api.request' "$work/$tag-rotate-wrong.log" || { tail -n 40 "$work/$tag-rotate-wrong.log" >&2; die "enabled host, wrong key: not stopped by wpam check"; }
  host grep -q "^service_key=$key\$" /etc/security/wpam.conf || die "enabled host, wrong key: the old key is not in wpam.conf"
  host grep -rqs ans-wrong-key /etc/security && die "enabled host, wrong key: the refused key is on disk"
  login_ok keyboard-interactive alice@example.com "$(totp JBSWY3DPEHPK3PXP)" ||
    { login_report; die "enabled host, wrong key: login afterwards"; }
  ok "${say}enabled host, a key rotation to a key the API refuses: stopped at the candidate, the old key in wpam.conf, logins work"

  # Commit confirmed: a change (an sshd setting, so sshd is reloaded) whose
  # fresh connection fails (simulated: the probe over it fails) is not
  # cancelled; the host puts the previous files back and reloads by itself.
  snapshot >"$work/pre-revert.sha"
  run_playbook revert -e '{"wpam_sshd_extra_settings": ["MaxAuthTries 5"], "wpam_login_probe": ["/bin/false"]}' &&
    die "the role went on although the fresh connection failed"
  grep -q 'the host puts the previous.*files back and reloads sshd by itself' "$work/$tag-revert.log" ||
    { tail -n 40 "$work/$tag-revert.log" >&2; die "revert: not stopped at the fresh connection"; }
  host grep -rqs 'MaxAuthTries 5' /etc/ssh || die "revert: the change was not put in place (nothing to revert)"
  host test -e "$revert_dir/armed" || die "revert: the timed revert is not armed"
  deadline=$(($(date +%s) + 150))
  until host test -e "$revert_dir/reverted"; do
    [ "$(date +%s)" -lt "$deadline" ] || { host cat "$revert_dir/revert.log" >&2; die "revert: not reverted within 150 s"; }
    sleep 2
  done
  snapshot | cmp -s - "$work/pre-revert.sha" || { snapshot | diff "$work/pre-revert.sha" - >&2; die "revert: files differ from before the change"; }
  host grep -q 'reverted, sshd reload exit status 0' "$revert_dir/revert.log" || { host cat "$revert_dir/revert.log" >&2; die "revert: sshd not reloaded"; }
  host test -e "$revert_dir/saved" && die "revert: the saved files (the old key) are still there"
  login_ok keyboard-interactive alice@example.com "$(totp JBSWY3DPEHPK3PXP)" || { login_report; die "revert: login afterwards"; }
  ok "${say}a change whose fresh connection fails: reverted by the host's timer ($(($(date +%s) - deadline + 150)) s), files as before, sshd reloaded, logins work"
  host rm -f "$revert_dir/reverted"

  # The stop after the canaries: a host of the fleet outside the canaries
  # is not touched without wpam_rollout_confirmed=true.
  printf '[wpam_fleet]
fleet-only ansible_host=/nonexistent ansible_connection=community.general.chroot
' >"$work/$tag-fleet.ini"
  run_playbook gate -i "$work/$tag-fleet.ini" && die "the fleet play ran without wpam_rollout_confirmed"
  grep -q 'the canaries are done; the rest of the fleet waits' "$work/$tag-gate.log" || { tail -n 40 "$work/$tag-gate.log" >&2; die "gate: not stopped by the gate"; }
  grep -q '^PLAY \[The fleet, in batches\]' "$work/$tag-gate.log" && die "gate: the fleet play started"
  grep -qE "^$name *: ok=[0-9]+ *changed=0 *unreachable=0 *failed=0" "$work/$tag-gate.log" || { tail -n 20 "$work/$tag-gate.log" >&2; die "gate: the canary did not pass"; }
  ok "${say}the canaries pass, then the run stops before the fleet (wpam_rollout_confirmed unset)"
}

# steps_idempotent: the playbook again and --check again change nothing.
steps_idempotent() {
  playbook present-again
  [ "$changed" = 0 ] || { grep -E '^changed:' "$work/$tag-present-again.log" >&2; die "the second run changed $changed task(s)"; }
  grep -q "TASK \[wpam : Fresh connection: Ansible's own login still gets in\]" "$work/$tag-present-again.log" || die "second run: no fresh connection"
  host test -e "$revert_dir/armed" && die "second run: the timed revert is still armed"
  host test -e "$revert_dir/saved" && die "second run: the saved files are still there"
  ok "${say}second run: changed=0; fresh connection, then the timed revert cancelled"
  playbook check-steady --check --diff
  [ "$changed" = 0 ] || { grep -E '^changed:' "$work/$tag-check-steady.log" >&2; die "--check after the run reports $changed change(s)"; }
  grep -qE 'all [0-9]+ checks passed' "$work/$tag-check-steady.log" || die "--check did not run wpam check on the candidate"
  ok "${say}--check --diff afterwards: changed=0, the candidate checked by wpam check"
}

# steps_rollback: wpam_state=absent puts every file back as it was
# ($work/before.sha), removes the package (the caller's wpam_installed fails)
# and leaves sshd up; absent again changes nothing. $repo_files names the
# package manager's files in the ok line.
steps_rollback() {
  playbook absent -e wpam_state=absent
  [ "$changed" -gt 0 ] || die "wpam_state=absent changed nothing"
  wpam_installed && die "wpam is still installed after wpam_state=absent"
  snapshot >"$work/after.sha" || die "snapshot"
  diff -u "$work/before.sha" "$work/after.sha" >&2 || die "files differ from before the role"
  [ "$(pid_now)" = "$sshd_pid" ] || die "sshd was restarted (pid changed), not reloaded"
  login_ok password - - || { login_report; die "password login after the rollback"; }
  host sh -c 'ls /etc/security/wpam.conf* 2>/dev/null; grep -l pam_wpam /etc/pam.d/* 2>/dev/null' | grep . &&
    die "wpam.conf, its backups (the service key) or PAM files naming the module left after the rollback"
  host test -e "${revert_dir%/*}" && die "the revert job's directory (saved files) left after the rollback"
  ok "${say}wpam_state=absent: changed=$changed; package removed; PAM, sshd, $repo_files, config files as before, no backup holding the key; password login works"
  playbook absent-again -e wpam_state=absent
  [ "$changed" = 0 ] || { grep -E '^changed:' "$work/$tag-absent-again.log" >&2; die "absent again changed $changed task(s)"; }
  ok "${say}wpam_state=absent again: changed=0"
}
