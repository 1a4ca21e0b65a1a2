# shellcheck shell=sh
# Shared steps of ci/hosted/bsd-vm-{freebsd,netbsd,openbsd}.sh, run INSIDE a BSD VM
# by .github/workflows/bsd.yml (POSIX sh: the BSDs' /bin/sh). Sourced, not run.
#
# The development Werbot API is built from this checkout with the VM's own
# cargo (the prepare step installs rust): examples/werbot-dev-server.rs and
# examples/totp.rs. It listens on 127.0.0.1:8443 with a throwaway CA.

DEV_STATE=/tmp/wpam-dev
DEV_ADDR=127.0.0.1:8443
ALICE_SECRET=JBSWY3DPEHPK3PXP
DEV_PID=

# The scripts run under set -e: one that stops on a command of its own says
# so, with the last step log() announced (ci/lib/err.sh's EXIT trap). fail()
# reports its own failures.
step=
trap 'case $? in 0) ;; *) echo "$0: failed (exit $?); last step: ${step:-none}" >&2 ;; esac' EXIT
log() {
	step=$*
	printf '== %s\n' "$*"
}
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	[ -f /var/log/wpam.log ] && tail -n 30 /var/log/wpam.log >&2
	trap - EXIT
	exit 1
}

build_dev_tools() {
	log "cargo build the development Werbot API and the TOTP helper"
	cargo build --release --example werbot-dev-server --example totp ||
		fail "cargo build of the dev tools"
}

# start_dev_api [ARGS...]: further werbot-dev-server arguments, e.g.
# --service-id ID --service-key KEY (ci/hosted/bsd-vm-ansible.sh).
# shellcheck disable=SC2120 # the other scripts pass none
start_dev_api() {
	rm -rf "$DEV_STATE"
	target/release/examples/werbot-dev-server --listen "$DEV_ADDR" \
		--state-dir "$DEV_STATE" "$@" >/tmp/wpam-dev.out 2>&1 &
	DEV_PID=$!
	i=0
	while [ ! -s "$DEV_STATE/ca.pem" ] || ! grep -q listening /tmp/wpam-dev.out; do
		i=$((i + 1))
		[ "$i" -le 100 ] || fail "dev API did not start: $(cat /tmp/wpam-dev.out)"
		sleep 0.2
	done
	log "dev API up: $(head -n1 /tmp/wpam-dev.out)"
}

stop_dev_api() {
	if [ -n "$DEV_PID" ]; then
		kill "$DEV_PID" 2>/dev/null || :
		# SIGTERM ends the server (its default disposition): wait returns
		# 143, which under set -e would end the script right here.
		wait "$DEV_PID" 2>/dev/null || :
	fi
	DEV_PID=
	log "dev API stopped"
}

totp_now() { target/release/examples/totp "$ALICE_SECRET"; }

# write_config FILE [extra key=value lines]: root-owned, 0600.
write_config() {
	file=$1
	shift
	umask 077
	{
		echo "server_url=$DEV_ADDR"
		echo "service_id=dev-service"
		echo "service_key=dev-key-not-secret"
		echo "ca_file=$DEV_STATE/ca.pem"
		echo "timeout=5"
		echo "u2f_timeout=10"
		echo "debug=true"
		for line in "$@"; do echo "$line"; done
	} >"$file"
	umask 022
	chown 0:0 "$file"
	chmod 0600 "$file"
}

# pam_login SERVICE USER WERBOT-ID CODE: pamtester answering both prompts.
pam_login() {
	printf '%s\n%s\n' "$3" "$4" | pamtester -v "$1" "$2" authenticate acct_mgmt
}

# expect_ok / expect_fail DESCRIPTION COMMAND...
expect_ok() {
	d=$1
	shift
	if "$@"; then log "ok   $d"; else fail "$d"; fi
}
expect_fail() {
	d=$1
	shift
	if "$@"; then fail "$d (was accepted)"; else log "ok   $d (refused)"; fi
}

# check_passes / check_fails COMMAND...: `wpam check`'s exit status, 0 every
# check ok, 1 warnings but no failure (passes: e.g. offline_users without
# offline_secrets), 2 at least one failure (fails); anything else (a usage
# error, 64) is neither.
check_passes() {
	crc=0
	"$@" || crc=$?
	[ "$crc" -le 1 ]
}
check_fails() {
	crc=0
	"$@" || crc=$?
	[ "$crc" -eq 2 ]
}

check_log_file() {
	[ -f /var/log/wpam.log ] || fail "/var/log/wpam.log missing"
	mode=$(stat -f %Lp /var/log/wpam.log 2>/dev/null || stat -c %a /var/log/wpam.log)
	[ "$mode" = 640 ] || fail "/var/log/wpam.log mode $mode, want 640"
	log "ok   /var/log/wpam.log 0640"
}

# wpam_test WPAM SERVICE USER WERBOT-ID CODE: the packaged `wpam test`,
# answering both prompts on its standard input.
wpam_test() {
	printf '%s\n%s\n' "$4" "$5" | "$1" test --service "$2" "$3"
}

# The PAM part shared by FreeBSD and NetBSD: SERVICE CONFIG WPAM (the
# packaged wpam command).
pam_suite() {
	service=$1
	conf=$2
	wpam=$3
	# shellcheck disable=SC2119 # no arguments: the default service
	start_dev_api
	write_config "$conf" "offline_users=olivia"
	expect_ok "TOTP login through pamtester" pam_login "$service" alice alice@example.com "$(totp_now)"
	expect_fail "wrong TOTP code" pam_login "$service" alice alice@example.com 000000
	expect_ok "U2F approval (empty code)" pam_login "$service" alice alice@example.com ""
	grep -q 'method=totp' /var/log/wpam.log || fail "no totp line in /var/log/wpam.log"
	# The operator command on the real OpenPAM: the stack as OpenPAM reads
	# it, the module where OpenPAM finds it, the files, the API path.
	expect_ok "wpam check --service $service" check_passes "$wpam" check --service "$service" --no-sshd
	expect_ok "wpam test: TOTP login" wpam_test "$wpam" "$service" alice alice@example.com "$(totp_now)"
	expect_fail "wpam test: wrong TOTP code" wpam_test "$wpam" "$service" alice alice@example.com 000000
	stop_dev_api
	expect_ok "wpam check with the API down fails (exit 2)" check_fails "$wpam" check --service "$service" --no-sshd
	expect_ok "offline user with the API down" pam_login "$service" olivia olivia@example.com 123456
	expect_fail "other user with the API down" pam_login "$service" alice alice@example.com 123456
	chmod 0644 "$conf"
	expect_fail "world-readable config" pam_login "$service" olivia olivia@example.com 123456
	chmod 0600 "$conf"
}
