#!/bin/sh
# Runs on a GitHub macOS runner (.github/workflows/ci.yml, job macos: the
# arm64 and the Intel image), as the runner's user with passwordless sudo,
# from the checkout with the build job's dist/ beside it:
#   1. the tarball dist/wpam-<v>-macos-universal.tar.gz: both files signed
#      (codesign --verify, each slice), linking /usr/lib/libpam.2.dylib;
#      `sudo ./install.sh`: the layout and modes of packaging/common/install.sh
#      (module root:wheel 0444 in /usr/local/lib/pam, log root:admin 0640);
#      `sudo wpam check` before any configuration (it must say what is missing);
#   2. the development Werbot API (examples/werbot-dev-server.rs, built here
#      with the runner's cargo) on 127.0.0.1:8443, a test user made with dscl;
#   3. logins through Apple's libpam with ci/hosted/pam-login.c (clang -lpam)
#      on a service /etc/pam.d/wpam-test naming /usr/local/lib/pam/pam_wpam.so:
#      the right TOTP code passes, a wrong one is refused; `wpam check` and
#      `wpam test` on that service;
#   4. Apple's sshd (/usr/sbin/sshd -f <config> -p 2222, UsePAM yes,
#      publickey,keyboard-interactive) with the tarball's pam.d-sshd.example as
#      /etc/pam.d/sshd, its config naming the API as `localhost` (the
#      module's name resolution, in a forked child, on macOS): an ssh login
#      driven by expect with the right code passes, with a wrong one is
#      refused;
#   5. the tarball's install taken out as docs/admin.md says (macOS,
#      Uninstall): nothing of it left but /var/log/wpam.log;
#   6. the Homebrew formula dist/wpam.rb from a local tap (brew tap-new), its
#      url a file:// URL of the tarball: brew install, brew test, the keg's
#      signature, the caveats, wpam --version, brew uninstall leaving nothing.
# Usage: ci/hosted/macos.sh   (POSIX sh: the helpers of ci/hosted/bsd-vm-lib.sh)
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
# shellcheck source=bsd-vm-lib.sh
. "$here/ci/hosted/bsd-vm-lib.sh"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
name=wpam-$version-macos-universal
tarball=$here/dist/$name.tar.gz
user=wpamtest
work=/private/tmp/wpam-macos
module=/usr/local/lib/pam/pam_wpam.so
SSH_PORT=2222

# stat(1) on macOS: mode in octal and owner:group by name.
modes() { stat -f '%Lp %Su:%Sg' "$@"; }
expect_modes() { # description path want
	got=$(modes "$2")
	[ "$got" = "$3" ] || fail "$1: $2 is $got, want $3"
	log "ok   $1: $2 $got"
}

log "macOS $(sw_vers -productVersion) ($(sw_vers -buildVersion)), $(uname -m), $(ssh -V 2>&1)"
[ -f "$tarball" ] || fail "no $tarball (the build job's dist artifact)"
[ -f dist/wpam.rb ] || fail "no dist/wpam.rb"
(cd dist && grep " $name.tar.gz\$" SHA256SUMS | shasum -a 256 -c -) || fail "$name.tar.gz is not the one dist/SHA256SUMS lists"
sudo rm -rf "$work"
mkdir -p "$work"
tar -xzf "$tarball" -C "$work"
x=$work/$name

log "1. the binaries: universal, signed, linking only the system's libraries"
for f in "$x/pam_wpam.so" "$x/wpam"; do
	lipo "$f" -verify_arch arm64 x86_64 || fail "$f: slices $(lipo -archs "$f"), want arm64 and x86_64"
	for arch in arm64 x86_64; do
		codesign --verify --strict --verbose=2 --arch "$arch" "$f" || fail "$f ($arch): codesign --verify"
		codesign --display --verbose=2 --arch "$arch" "$f" 2>&1 | grep -E '^(Identifier|Format|CodeDirectory|Signature)' || :
	done
	otool -L "$f"
	# (a universal file: one "(architecture ...)" header per slice, its
	# dylibs indented below it; a dylib's own install name comes first)
	others=$(otool -L "$f" | awk '/^\t/ && $1 != "/usr/lib/libpam.2.dylib" && $1 != "/usr/lib/libSystem.B.dylib" && $1 != "/usr/local/lib/pam/pam_wpam.so" { print $1 }')
	[ -z "$others" ] || fail "$f links outside the system: $others"
done
otool -L "$x/pam_wpam.so" | grep -q /usr/lib/libpam.2.dylib || fail "the module does not link /usr/lib/libpam.2.dylib"
log "ok   both files universal (x86_64 arm64), signed, linking libpam.2 and libSystem only"

log "1. sudo ./install.sh"
pamdir_existed=no
[ -d /usr/local/lib/pam ] && pamdir_existed=yes
examples_existed=no
[ -d /usr/local/share/examples ] && examples_existed=yes
if xattr -l "$x/install.sh" | grep -q com.apple.quarantine; then fail "the unpacked tarball carries com.apple.quarantine"; fi
(cd "$x" && sudo ./install.sh) || fail "install.sh"
expect_modes "the module" "$module" "444 root:wheel"
expect_modes "the wpam command" /usr/local/bin/wpam "755 root:wheel"
expect_modes "the log file" /var/log/wpam.log "640 root:admin"
for f in /usr/local/share/man/man8/pam_wpam.8 /usr/local/share/man/man8/wpam.8 /usr/local/share/examples/wpam/wpam.conf; do
	[ -f "$f" ] || fail "$f not installed"
done
cmp "$x/pam_wpam.so" "$module" || fail "the installed module differs from the tarball's"
wpam=/usr/local/bin/wpam
"$wpam" --version | grep -q "$version" || fail "wpam --version: $("$wpam" --version)"
# Nothing configured yet: the check must fail (exit 2) and say what is missing.
rc=0
sudo "$wpam" check --service sshd || rc=$?
[ "$rc" = 2 ] || fail "wpam check before any configuration: exit $rc, want 2"
log "ok   wpam check before any configuration: exit 2"

log "2. the development Werbot API, a test user"
build_dev_tools
start_dev_api --map-login "$user"
# The CA the module trusts, root's (the dev server runs as the runner).
sudo install -o root -g wheel -m 0644 "$DEV_STATE/ca.pem" /etc/wpam-test-ca.pem
if ! dscl . -read "/Users/$user" >/dev/null 2>&1; then
	uid=5100
	while dscl . -search /Users UniqueID "$uid" | grep -q .; do uid=$((uid + 1)); done
	sudo dscl . -create "/Users/$user"
	sudo dscl . -create "/Users/$user" UserShell /bin/sh
	sudo dscl . -create "/Users/$user" RealName "wpam test"
	sudo dscl . -create "/Users/$user" UniqueID "$uid"
	sudo dscl . -create "/Users/$user" PrimaryGroupID 20
	sudo dscl . -create "/Users/$user" NFSHomeDirectory "/Users/$user"
	sudo dscl . -passwd "/Users/$user" "$(openssl rand -hex 16)"
fi
home=/Users/$user
sudo mkdir -p "$home/.ssh"
# Remote Login limited to some users (com.apple.access_ssh, pam_sacl).
if dscl . -read /Groups/com.apple.access_ssh >/dev/null 2>&1; then
	sudo dseditgroup -o edit -a "$user" -t user com.apple.access_ssh
fi
ssh-keygen -q -t ed25519 -N '' -C wpam-ci -f "$work/id_ed25519"
sudo install -m 0600 "$work/id_ed25519.pub" "$home/.ssh/authorized_keys"
sudo chown -R "$user:staff" "$home"
sudo chmod 0755 "$home"
sudo chmod 0700 "$home/.ssh"
id "$user" || fail "the test user $user is not known to the system after dscl"

# write_conf FILE SERVER_URL: root-only, the API at SERVER_URL.
write_conf() {
	printf '%s\n' "server_url=$2" service_id=dev-service service_key=dev-key-not-secret \
		ca_file=/etc/wpam-test-ca.pem timeout=5 u2f_timeout=10 debug=true |
		sudo sh -c 'umask 077 && cat >"$1"' sh "$1"
	sudo chown root:wheel "$1"
	sudo chmod 0600 "$1"
}

log "3. logins through Apple's libpam (ci/hosted/pam-login.c)"
clang -Wall -Wextra -Werror -o "$work/pam-login" ci/hosted/pam-login.c -lpam
write_conf /etc/wpam-test.conf 127.0.0.1:8443
printf '%s\n' "auth       required       $module config=/etc/wpam-test.conf" \
	'account    required       pam_permit.so' | sudo tee /etc/pam.d/wpam-test >/dev/null
# shellcheck disable=SC2317 # called through expect_ok
libpam_login() { sudo "$work/pam-login" "$1" "$user" 127.0.0.1 alice@example.com "$2"; }
expect_ok "TOTP login through libpam (service wpam-test)" libpam_login wpam-test "$(totp_now)"
expect_fail "wrong TOTP code through libpam" libpam_login wpam-test 000000
sudo grep -q 'method=totp' /var/log/wpam.log || fail "no totp line in /var/log/wpam.log"
expect_ok "wpam check --service wpam-test" check_passes sudo "$wpam" check --service wpam-test --no-sshd
# shellcheck disable=SC2317 # called through expect_ok
wpam_test_login() { printf '%s\n%s\n' alice@example.com "$1" | sudo "$wpam" test --service wpam-test --rhost 127.0.0.1 "$user"; }
expect_ok "wpam test: TOTP login" wpam_test_login "$(totp_now)"
expect_fail "wpam test: wrong TOTP code" wpam_test_login 000000

log "4. Apple's sshd on 127.0.0.1:$SSH_PORT, the API named localhost"
write_conf /etc/wpam.conf localhost:8443
sudo cp -p /etc/pam.d/sshd "$work/pam.d-sshd.apple"
sudo install -o root -g wheel -m 0644 "$x/pam.d-sshd.example" /etc/pam.d/sshd
expect_ok "through libpam, the service sshd (the example file, the API named localhost)" libpam_login sshd "$(totp_now)"
sudo ssh-keygen -q -t ed25519 -N '' -f "$work/ssh_host_ed25519_key"
cat >"$work/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $work/ssh_host_ed25519_key
PidFile $work/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication yes
AuthenticationMethods publickey,keyboard-interactive
AuthorizedKeysFile .ssh/authorized_keys
LogLevel VERBOSE
EOF
sudo /usr/sbin/sshd -t -f "$work/sshd_config" -p "$SSH_PORT" || fail "sshd -t"
sudo /usr/sbin/sshd -f "$work/sshd_config" -p "$SSH_PORT" -E "$work/sshd.log" || fail "sshd did not start"
i=0
until nc -z 127.0.0.1 "$SSH_PORT" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -le 50 ] || fail "sshd does not listen on $SSH_PORT: $(sudo cat "$work/sshd.log")"
	sleep 0.2
done
# ssh_login CODE: the key, then keyboard-interactive answered by expect;
# 0 only when the remote command ran.
ssh_login() {
	WPAM_CODE=$1 expect -f - "$work/id_ed25519" "$user" "$SSH_PORT" <<'EXP'
set timeout 60
lassign $argv key user port
spawn ssh -i $key -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o PreferredAuthentications=publickey,keyboard-interactive -o NumberOfPasswordPrompts=1 \
	-o BatchMode=no -p $port $user@127.0.0.1 "echo wpam-ssh-login-ok"
expect {
	-re "Werbot ID" { send -- "alice@example.com\r"; exp_continue }
	-re {code \(submit} { send -- "$env(WPAM_CODE)\r"; exp_continue }
	"wpam-ssh-login-ok" { expect eof; exit 0 }
	"Permission denied" { exit 1 }
	timeout { puts "expect: timed out"; exit 2 }
	eof { exit 1 }
}
EXP
}
expect_ok "ssh login through Apple's sshd: key + TOTP code" ssh_login "$(totp_now)"
expect_fail "ssh login through Apple's sshd: key + wrong code" ssh_login 000000
sudo kill "$(sudo cat "$work/sshd.pid")"
sudo cp -p "$work/pam.d-sshd.apple" /etc/pam.d/sshd
stop_dev_api

log "5. the tarball's install taken out (docs/admin.md, macOS)"
sudo rm -f /etc/pam.d/wpam-test /etc/wpam.conf /etc/wpam-test.conf /etc/wpam-test-ca.pem
sudo rm -f "$module" /usr/local/bin/wpam /usr/local/share/man/man8/pam_wpam.8 \
	/usr/local/share/man/man8/wpam.8 /usr/local/share/examples/wpam/wpam.conf
sudo rmdir /usr/local/share/examples/wpam
[ "$examples_existed" = yes ] || sudo rmdir /usr/local/share/examples
[ "$pamdir_existed" = yes ] || sudo rmdir /usr/local/lib/pam
left=""
for f in "$module" /usr/local/bin/wpam /usr/local/share/man/man8/pam_wpam.8 /usr/local/share/man/man8/wpam.8 \
	/usr/local/share/examples/wpam; do
	[ ! -e "$f" ] || left="$left $f"
done
[ "$pamdir_existed" = yes ] || [ ! -e /usr/local/lib/pam ] || left="$left /usr/local/lib/pam"
[ -z "$left" ] || fail "left behind:$left"
if grep -rl pam_wpam /etc/pam.d; then fail "a PAM policy still names pam_wpam"; fi
[ -f /var/log/wpam.log ] || fail "the log file went too"
log "ok   nothing left but /var/log/wpam.log"
log "6. the Homebrew formula from a local tap (after the tarball's install is gone: brew links bin/wpam and the man pages into its prefix, /usr/local on Intel)"
export HOMEBREW_NO_AUTO_UPDATE=1 HOMEBREW_NO_ANALYTICS=1 HOMEBREW_NO_ENV_HINTS=1
brew untap wpam/local >/dev/null 2>&1 || :
brew tap-new --no-git wpam/local
tap=$(brew --repository wpam/local)
mkdir -p "$tap/Formula"
# dist/wpam.rb as released, only its url the tarball's file:// URL.
sed "s|^  url \".*\"\$|  url \"file://$tarball\"|" dist/wpam.rb >"$tap/Formula/wpam.rb"
grep -q "^  url \"file://$tarball\"\$" "$tap/Formula/wpam.rb" || fail "the url line of dist/wpam.rb was not replaced"
brew install --formula wpam/local/wpam || fail "brew install"
keg=$(brew --prefix wpam/local/wpam)
codesign --verify --strict --verbose=2 "$keg/lib/pam/pam_wpam.so" || fail "the keg's module: codesign --verify"
"$(brew --prefix)/bin/wpam" --version | grep -q "$version" || fail "wpam --version from Homebrew"
brew test wpam/local/wpam || fail "brew test"
brew info wpam/local/wpam | tee "$work/brew-info.out"
grep -q "sudo install -o root -g wheel -m 0444 .*/lib/pam/pam_wpam.so /usr/local/lib/pam/pam_wpam.so" "$work/brew-info.out" ||
	fail "the caveats do not give the root-owned copy"
brew uninstall --formula wpam/local/wpam || fail "brew uninstall"
[ ! -e "$keg" ] || fail "brew uninstall left $keg"
brew untap wpam/local
[ ! -e "$(brew --prefix)/bin/wpam" ] || fail "brew uninstall left $(brew --prefix)/bin/wpam"

log "macOS ($(uname -m)): all checks passed"
