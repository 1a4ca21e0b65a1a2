#!/bin/sh
# Runs INSIDE a FreeBSD, NetBSD or OpenBSD VM (.github/workflows/bsd.yml):
# the Ansible role (deploy/ansible/site.yml, canary play then fleet play)
# against the VM itself, as ci/test/ansible.sh runs it against Debian roots:
#
#   1. ansible-core and GnuPG (gpgv) from the OS's own packages; the
#      controller is the VM itself (connection local, inventory host
#      localhost in wpam_canary, a child of wpam_fleet);
#   2. the release files (ci/hosted/ci.sh bsd-release-files: the BSD packages under
#      their release names, SHA256SUMS signed by a throwaway key, the
#      keyring) served over HTTP on 127.0.0.1 as wpam_release_url; the
#      development Werbot API on 127.0.0.1:8443 (ci/hosted/bsd-vm-lib.sh) with a
#      service key made for the run;
#   3. --check --diff on the fresh VM: passes, changes nothing (PAM, sshd,
#      login.conf and wpam's config files by SHA-256, mode and owner), no
#      package installed;
#   4. the role for real: the package checked by gpgv and SHA256SUMS on the
#      controller, installed (pkg add / pkg_add), config 0600 root:wheel,
#      the PAM lines (FreeBSD, NetBSD: /etc/pam.d/sshd) or auth-ssh=-wpam in
#      login.conf (OpenBSD), sshd reloaded by the role's default (the
#      service manager: same sshd pid), `wpam check` passes;
#   5. logins through the VM's own sshd with the real ssh client
#      (keyboard-interactive, answers by prompt from an askpass script):
#      a wrong TOTP code refused, the right one in (FreeBSD, NetBSD:
#      password, Werbot ID, code; OpenBSD: the style's one prompt, the code,
#      the login tied to the Werbot ID by wid.<login> in wpam.conf);
#   6. the playbook again, and --check --diff: changed=0 (the candidate
#      checked by wpam check);
#   7. wpam_state=absent: the files as before the role, byte for byte, the
#      package gone, sshd the same process, logins as before the role;
#      absent again: changed=0.
# The service key appears in no output of ansible-playbook (no_log).
# Every run of ansible-playbook, ssh and every wait is bounded.
# Usage: sh ci/hosted/bsd-vm-ansible.sh DIR   (DIR: ci/hosted/ci.sh bsd-release-files' output)
# Needs (prepare step): rust, as the other bsd-vm scripts (the dev API).
set -eu
# shellcheck disable=SC1091 # checked on its own
. "$(dirname "$0")/bsd-vm-lib.sh"
[ -d "${1:-}" ] || fail "usage: ci/hosted/bsd-vm-ansible.sh DIR (the release files)"
files=$(cd "$1" && pwd)
here=$(pwd)
os=$(uname -s)
work=$(mktemp -d /tmp/wpam-ans.XXXXXX)
user=ansuser
# Ansible refuses to run without a UTF-8 locale.
LC_ALL=en_US.UTF-8
LANG=en_US.UTF-8
export LC_ALL LANG
PATH=$work/bin:/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/pkg/sbin:/usr/pkg/bin:$PATH
export PATH
mkdir -p "$work/bin"

# bounded SECONDS COMMAND...: COMMAND, sent SIGTERM after SECONDS (base
# NetBSD has no timeout(1)). The watchdog's output goes nowhere, so that a
# leftover sleep holds no pipe of the caller.
bounded() {
	secs=$1
	shift
	"$@" &
	bpid=$!
	(
		sleep "$secs"
		kill -TERM "$bpid"
	) >/dev/null 2>&1 &
	wpid=$!
	brc=0
	wait "$bpid" || brc=$?
	kill "$wpid" 2>/dev/null || :
	wait "$wpid" 2>/dev/null || :
	return "$brc"
}

# --- 1. Ansible and gpgv from the OS's packages ------------------------------------
case $os in
FreeBSD)
	log "FreeBSD $(freebsd-version): pkg install ansible-core (the default Python's flavour), gnupg"
	bounded 600 pkg update -q || fail "pkg update"
	# sysutils/ansible-core: py3<minor>-ansible-core, for the ports' default Python.
	name=$(pkg rquery -a '%n' | grep -E '^(py3[0-9]+-)?ansible-core$' | LC_ALL=C sort -u | head -n1) || :
	[ -n "$name" ] || fail "no py3*-ansible-core in the package repository"
	bounded 1200 pkg install -y "$name" gnupg || fail "pkg install $name gnupg"
	confdir=/usr/local/etc
	wpam=/usr/local/bin/wpam
	installed() { pkg info -e wpam; }
	;;
NetBSD)
	log "NetBSD $(uname -r): pkgin install ansible-core (pkgsrc's default Python), gnupg2"
	if ! command -v pkgin >/dev/null; then
		PKG_PATH="https://cdn.netbsd.org/pub/pkgsrc/packages/NetBSD/$(uname -m)/$(uname -r | cut -d_ -f1)/All"
		export PKG_PATH
		bounded 600 pkg_add pkgin || fail "pkg_add pkgin"
		conf=/usr/pkg/etc/pkgin/repositories.conf
		grep -q '^[[:space:]]*http' "$conf" 2>/dev/null || echo "$PKG_PATH" >>"$conf"
	fi
	bounded 600 pkgin -y update || fail "pkgin update"
	# sysutils/ansible-core is an application: ansible-core, no py3<minor>- prefix.
	name=$(pkgin avail | sed -n 's/^\(\(py3[0-9]*-\)\{0,1\}ansible-core\)-[0-9][^[:space:]]*[[:space:]].*/\1/p' |
		LC_ALL=C sort -u | head -n1)
	[ -n "$name" ] || fail "no ansible-core in pkgin avail"
	bounded 1200 pkgin -y install "$name" gnupg2 || fail "pkgin install $name gnupg2"
	confdir=/usr/pkg/etc
	wpam=/usr/pkg/bin/wpam
	installed() { pkg_info | grep -q '^wpam-[0-9]'; }
	;;
OpenBSD)
	log "OpenBSD $(uname -r): pkg_add ansible-core, gnupg 2"
	bounded 1200 pkg_add -I ansible-core || fail "pkg_add ansible-core"
	# security/gnupg (1.4) and security/gnupg2 share the stem gnupg: the
	# branch, else a fuzzy 2.x, else the stem where it is no longer ambiguous.
	bounded 600 pkg_add -I gnupg--%gnupg2 || bounded 600 pkg_add -I -z gnupg-2 ||
		bounded 600 pkg_add -I gnupg || fail "pkg_add gnupg (2.x)"
	confdir=/etc
	wpam=/usr/local/bin/wpam
	installed() { pkg_info | grep -q '^wpam-[0-9]'; }
	;;
*) fail "not a BSD this script knows: $os" ;;
esac
# The role calls gpgv and gpg (the key's fingerprint); GnuPG 2 installs
# them as gpgv2 and gpg2 on some systems.
for t in gpgv gpg; do
	if ! command -v "$t" >/dev/null; then
		g=$(command -v "${t}2") || fail "neither $t nor ${t}2 after installing GnuPG"
		ln -s "$g" "$work/bin/$t"
	fi
	"$t" --version | head -n1
done
fpr=$(gpg --batch --homedir "$(mktemp -d)" --with-colons --show-keys "$files/wpam-archive-keyring.gpg" | awk -F: '$1 == "fpr" { print $10; exit }')
[ -n "$fpr" ] || fail "no primary key fingerprint in $files/wpam-archive-keyring.gpg"
ansible-playbook --version || fail "ansible-playbook does not run"
# Its interpreter: the Python the modules run with (the controller is the host).
py=$(sed -n '1s/^#![[:space:]]*//p' "$(command -v ansible-playbook)" | awk '{ print $1 }')
case $py in */env) py=$(command -v "$(sed -n '1s/^#!.*env[[:space:]]*//p' "$(command -v ansible-playbook)")") ;; esac
"$py" -c 'import ansible, sys; print(sys.executable, ansible.__version__)' || fail "ansible's Python ($py) does not import ansible"
export ANSIBLE_CONFIG="$here/deploy/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
export ANSIBLE_LOCAL_TEMP="$work/ansible-local" ANSIBLE_HOME="$work/ansible-home"
bounded 120 ansible-playbook --syntax-check -i deploy/ansible/inventory/hosts.yml deploy/ansible/site.yml ||
	fail "ansible-playbook --syntax-check site.yml"

# --- 2. the release files and the development API on loopback ------------------------
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
ls -l "$files"
for f in SHA256SUMS SHA256SUMS.asc wpam-archive-keyring.gpg; do
	[ -s "$files/$f" ] || fail "$files/$f is missing"
done
rel_port=8581
"$py" -m http.server --bind 127.0.0.1 --directory "$files" "$rel_port" >"$work/http.log" 2>&1 &
http_pid=$!
i=0
until "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
	"http://127.0.0.1:$rel_port/SHA256SUMS" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "the release files' HTTP server did not answer: $(cat "$work/http.log")"
	sleep 0.2
done
log "release files on http://127.0.0.1:$rel_port"
build_dev_tools
key="ans-bsd-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
start_dev_api --service-id ans-bsd-01 --service-key "$key"
cleanup() {
	kill "$http_pid" 2>/dev/null || :
	[ -z "$DEV_PID" ] || kill "$DEV_PID" 2>/dev/null || :
}

# --- the user who logs in, and the sshd the role reloads -----------------------------
password="ans-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
case $os in
FreeBSD) printf '%s\n' "$password" | pw useradd -n "$user" -m -s /bin/sh -h 0 ;;
NetBSD) useradd -m -s /bin/sh -p "$(pwhash "$password")" "$user" ;;
OpenBSD) useradd -m -s /bin/sh -L default -p "$(encrypt "$password")" "$user" ;;
esac
sshd_pid=$(cat /var/run/sshd.pid) || fail "no /var/run/sshd.pid: is sshd running?"
log "sshd pid $sshd_pid; user $user"

cat >"$work/askpass" <<'EOF'
#!/bin/sh
printf '%s\n' "$1" >>"$ANS_ASK/prompts"
case "$1" in
*"Werbot ID"*) cat "$ANS_ASK/id" ;;
*"totp code"* | *"Werbot code"*) cat "$ANS_ASK/code" ;;
*assword*) cat "$ANS_ASK/password" ;;
*) exit 1 ;;
esac
EOF
chmod 755 "$work/askpass"
ask=$work/ask
# login METHODS ID CODE: one ssh login to 127.0.0.1:22; ssh's exit status,
# its output in $ask/{stdout,stderr,prompts}.
login() {
	rm -rf "$ask" && mkdir -p "$ask"
	printf '%s\n' "$password" >"$ask/password"
	printf '%s\n' "$2" >"$ask/id"
	printf '%s\n' "$3" >"$ask/code"
	: >"$ask/prompts"
	ANS_ASK=$ask SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
		bounded 60 ssh -F /dev/null -p 22 -l "$user" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o BatchMode=no \
		-o NumberOfPasswordPrompts=1 -o ConnectTimeout=20 -o PubkeyAuthentication=no \
		-o "PreferredAuthentications=$1" 127.0.0.1 'echo ok' </dev/null >"$ask/stdout" 2>"$ask/stderr"
}
login_ok() { login "$@" && [ "$(head -n1 "$ask/stdout")" = ok ]; }
login_report() {
	echo "stdout: $(cat "$ask/stdout")"
	echo "stderr: $(cat "$ask/stderr")"
	echo "prompts: $(tr '\n' '|' <"$ask/prompts")"
} >&2
# Before the role: the password as sshd takes it here (vmactions' sshd_config
# decides whether it does at all); the rollback must leave the same answer.
if login_ok keyboard-interactive,password - -; then before_login=in; else before_login=refused; fi
log "before the role: password login: $before_login"

# The files the role touches or must leave as they were: SHA-256, mode, owner.
snapshot() {
	"$py" - /etc/pam.d /etc/ssh /etc/login.conf "$confdir" <<'PY'
import hashlib, os, sys
def files(top):
    if os.path.isfile(top):
        yield top
    elif top == sys.argv[-1]:  # the config directory: only wpam's files
        for n in sorted(os.listdir(top)):
            if n.startswith("wpam") and os.path.isfile(os.path.join(top, n)):
                yield os.path.join(top, n)
    elif os.path.isdir(top):
        for d, dirs, names in os.walk(top):
            dirs.sort()
            for n in sorted(names):
                yield os.path.join(d, n)
for top in sys.argv[1:]:
    for p in files(top):
        # the role's backups (file.<pid>.<date>~); login.conf.db, rebuilt by cap_mkdb
        if p.endswith("~") or p == "/etc/login.conf.db":
            continue
        if os.path.islink(p):
            print("symlink", os.readlink(p), p)
            continue
        st = os.lstat(p)
        print(hashlib.sha256(open(p, "rb").read()).hexdigest(), oct(st.st_mode), st.st_uid, st.st_gid, p)
PY
}
snapshot >"$work/before.sha"
log "snapshot: $(wc -l <"$work/before.sha") files"

# --- 3. the role's inventory and variables -------------------------------------------
cat >"$work/inventory.ini" <<EOF
[wpam_canary]
localhost ansible_connection=local ansible_python_interpreter=$py

[wpam_fleet:children]
wpam_canary

[all:vars]
ansible_become=false
EOF
"$py" - "$work/vars.json" "$os" "$DEV_ADDR" "$DEV_STATE/ca.pem" "$key" "$version" \
	"http://127.0.0.1:$rel_port" "$files/wpam-archive-keyring.gpg" "$work/release-cache" "$user" "$fpr" <<'PY'
import json, sys
out, os_, api, ca, key, version, url, keyring, cache, user, fpr = sys.argv[1:12]
wid = {user: "alice@example.com"} if os_ == "OpenBSD" else {}  # the style asks no Werbot ID: the login is tied to one
json.dump({
    "wpam_server_url": api,
    "wpam_service_id": "ans-bsd-01",
    "wpam_service_key": key,
    "wpam_offline_users": ["root"],
    "wpam_werbot_id_from_login": False,
    "wpam_wid": wid,
    "wpam_ca_pem": open(ca).read(),
    "wpam_version": version,
    "wpam_release_url": url,
    "wpam_release_keyring": keyring,
    "wpam_repo_key_fingerprint": fpr,
    "wpam_release_cache": cache,
}, open(out, "w"))
PY
# playbook RUN ARGS...: site.yml, which must succeed; log in $work/RUN.log;
# sets $changed from the PLAY RECAP.
playbook() {
	run=$1
	shift
	out=$work/$run.log
	log "ansible-playbook ($run) $*"
	if ! bounded 1200 ansible-playbook -v -i "$work/inventory.ini" deploy/ansible/site.yml \
		-e "@$work/vars.json" "$@" >"$out" 2>&1; then
		tail -n 80 "$out" >&2
		fail "ansible-playbook ($run)"
	fi
	! grep -q "$key" "$out" || fail "the service key is in the output of ansible-playbook ($run)"
	changed=$(sed -n 's/^localhost *: ok=[0-9]* *changed=\([0-9]*\) *unreachable=0 *failed=0 .*/\1/p' "$out" | tail -n1)
	[ -n "$changed" ] || { tail -n 30 "$out" >&2; fail "no clean PLAY RECAP for localhost ($run)"; }
	grep -E '^(ok|changed|skipping|fatal|TASK)' "$out" | tail -n 200 || :
	log "ok   ansible-playbook ($run): changed=$changed"
}
same_files() { snapshot | cmp -s - "$work/before.sha"; }
pkgfile=$(sed -n "s/^[0-9a-f]* [ *]\(wpam-$version-$(echo "$os" | tr '[:upper:]' '[:lower:]')-amd64\.[a-z]*\)\$/\1/p" "$files/SHA256SUMS")
[ -n "$pkgfile" ] || fail "SHA256SUMS lists no $os package of wpam $version"

# --- 4. --check on the fresh VM ------------------------------------------------------
playbook check-fresh --check --diff
same_files || { snapshot | diff "$work/before.sha" - >&2 || :; fail "--check changed files"; }
! installed || fail "--check installed wpam"
[ ! -e "/var/tmp/$pkgfile" ] || fail "--check copied /var/tmp/$pkgfile"
grep -q 'TASK \[wpam : Verify the signature of SHA256SUMS' "$work/check-fresh.log" ||
	fail "--check did not verify the release"
log "ok   --check --diff on the fresh VM: passes, verifies the release, changes nothing"

# --- 5. the role for real --------------------------------------------------------------
playbook present
[ "$changed" -gt 0 ] || fail "the first run changed nothing"
grep -q '^PLAY \[Canary hosts\]' "$work/present.log" || fail "the canary play did not run"
installed || fail "wpam is not installed"
case $os in
FreeBSD) pkg info wpam ;;
*) pkg_info wpam ;;
esac
conf=$confdir/wpam.conf
[ "$(stat -f '%Lp %Su:%Sg' "$conf")" = "600 root:wheel" ] || fail "$conf is $(stat -f '%Lp %Su:%Sg' "$conf"), want 600 root:wheel"
if [ "$os" = OpenBSD ]; then
	grep -q '^[[:space:]]*:auth-ssh=-wpam:\\$' /etc/login.conf || fail "no auth-ssh=-wpam in /etc/login.conf"
	grep -q '^ca_file=' "$conf" || fail "$conf names no ca_file"
else
	grep -q '^auth[[:space:]]*required[[:space:]]*[^[:space:]]*pam_wpam\.so server_url=' /etc/pam.d/sshd ||
		fail "no wpam auth line in /etc/pam.d/sshd"
	grep -E '^(auth|account).*pam_wpam' /etc/pam.d/sshd
fi
[ "$(cat /var/run/sshd.pid)" = "$sshd_pid" ] || fail "sshd was restarted (pid changed), not reloaded"
grep -q 'TASK \[wpam : Reload sshd through the service manager' "$work/present.log" ||
	fail "sshd was not reloaded through the service manager"
if [ "$os" = OpenBSD ]; then
	check_passes bounded 60 "$wpam" check || fail "wpam check after the role (exit 2: a failure)"
else
	check_passes bounded 60 "$wpam" check --service sshd || fail "wpam check --service sshd after the role (exit 2: a failure)"
fi
log "ok   first run: changed=$changed; wpam installed from $pkgfile; $conf 0600 root:wheel; sshd reloaded (pid $sshd_pid); wpam check passes"

# --- logins through the reloaded sshd ------------------------------------------------
if login keyboard-interactive alice@example.com 000000; then
	login_report
	fail "a wrong TOTP code logged in"
fi
grep -q 'Permission denied' "$ask/stderr" || { login_report; fail "a wrong code: not refused by the server"; }
grep -qE 'totp code|Werbot code' "$ask/prompts" || { login_report; fail "a wrong code: wpam's prompt never came"; }
log "ok   wrong TOTP code refused (Permission denied)"
login_ok keyboard-interactive alice@example.com "$(totp_now)" || { login_report; fail "login with the TOTP code"; }
if [ "$os" = OpenBSD ]; then
	grep -q 'Werbot code' "$ask/prompts" || { login_report; fail "no Werbot code prompt"; }
else
	grep -q 'Werbot ID' "$ask/prompts" || { login_report; fail "no Werbot ID prompt"; }
	grep -q 'assword' "$ask/prompts" || { login_report; fail "no password prompt (pam_unix)"; }
fi
grep -q 'totpCode' "$DEV_STATE/requests.jsonl" || fail "the API saw no TOTP request"
log "ok   login through sshd: $(tr '\n' '|' <"$ask/prompts") -> in"

# --- 6. idempotent ---------------------------------------------------------------------
playbook present-again
[ "$changed" = 0 ] || { grep '^changed:' "$work/present-again.log" >&2; fail "the second run changed $changed task(s)"; }
playbook check-steady --check --diff
[ "$changed" = 0 ] || { grep '^changed:' "$work/check-steady.log" >&2; fail "--check after the run reports $changed change(s)"; }
grep -qE 'all [0-9]+ checks passed' "$work/check-steady.log" || fail "--check did not run wpam check on the candidate"
log "ok   second run and --check afterwards: changed=0"

# --- 7. rollback -----------------------------------------------------------------------
playbook absent -e wpam_state=absent
[ "$changed" -gt 0 ] || fail "wpam_state=absent changed nothing"
! installed || fail "wpam is still installed after wpam_state=absent"
[ ! -e "/var/tmp/$pkgfile" ] || fail "/var/tmp/$pkgfile left behind"
snapshot >"$work/after.sha"
diff "$work/before.sha" "$work/after.sha" >&2 || fail "files differ from before the role"
[ "$(cat /var/run/sshd.pid)" = "$sshd_pid" ] || fail "sshd was restarted (pid changed), not reloaded"
if login_ok keyboard-interactive,password - -; then after_login=in; else after_login=refused; fi
[ "$after_login" = "$before_login" ] || { login_report; fail "password login after the rollback: $after_login, before the role: $before_login"; }
log "ok   wpam_state=absent: changed=$changed; package removed; files as before; password login $after_login as before"
playbook absent-again -e wpam_state=absent
[ "$changed" = 0 ] || { grep '^changed:' "$work/absent-again.log" >&2; fail "absent again changed $changed task(s)"; }
log "ok   wpam_state=absent again: changed=0"

stop_dev_api
cleanup
log "$os: the Ansible role: all checks passed"
