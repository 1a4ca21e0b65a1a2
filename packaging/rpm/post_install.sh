# wpam %post: create the log file if missing, never truncating it; root:adm
# where the adm group exists, else root:root, 0640. On a first install ($1 = 1)
# an existing log file is given that owner and mode, and only when it is a
# regular file with one link (not a symlink): someone who can write /var/log
# could plant a symlink or a hard link to /etc/shadow there. On an upgrade
# ($1 >= 2) an existing log keeps the owner and mode the admin chose.
# Then, where SELinux tooling is installed, link wpam's policy module
# (/usr/share/selinux/packages/wpam.cil) into the policy and label the log
# file, the configuration, the offline-code secrets and their state
# directory with its types. Without the module an enforcing policy refuses
# sshd's connection to the API: every login fails.
log=/var/log/wpam.log
group=root
if getent group adm >/dev/null 2>&1; then
	group=adm
fi
log_is_ours() {
	[ ! -L "$1" ] && [ -f "$1" ] && [ "$(stat -c %h -- "$1")" = 1 ]
}
if [ -L "$log" ]; then
	echo "wpam: warning: $log is a symlink; leaving it alone" >&2
elif [ ! -e "$log" ]; then
	# noclobber: fails rather than write through whatever appeared there;
	# checked again before the mode change: a link swapped in since.
	{ (umask 077 && set -C && : >"$log") && chown -h "root:$group" "$log" && log_is_ours "$log" && chmod 0640 "$log"; } ||
		echo "wpam: warning: could not create $log" >&2
elif [ "${1:-1}" != 1 ]; then
	:
elif ! log_is_ours "$log"; then
	echo "wpam: warning: $log is not a plain file with one link; leaving it alone" >&2
else
	# Checked again just before the mode change: chmod follows symlinks.
	{ chown -h "root:$group" "$log" && log_is_ours "$log" && chmod 0640 "$log"; } ||
		echo "wpam: warning: could not make $log root:$group 0640" >&2
fi
# SELinux. Priority 200 is where distribution add-on modules go (above the
# base policy's 100, below an admin's local 400); reinstalling at the same
# priority replaces the previous version on upgrade.
if command -v semodule >/dev/null 2>&1; then
	if semodule -X 200 -i /usr/share/selinux/packages/wpam.cil; then
		if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled &&
			command -v restorecon >/dev/null 2>&1; then
			for f in /var/log/wpam.log* /etc/security/wpam.conf /etc/security/wpam-offline; do
				if [ -e "$f" ]; then
					restorecon -F "$f" || :
				fi
			done
			# The offline codes' state directory and its files (wpam_state_t).
			if [ -d /etc/security/wpam-offline.state ] && [ ! -L /etc/security/wpam-offline.state ]; then
				restorecon -RF /etc/security/wpam-offline.state || :
			fi
			# remember= grants and kept Werbot IDs (wpam_state_t).
			if [ -d /run/wpam ] && [ ! -L /run/wpam ]; then
				restorecon -RF /run/wpam || :
			fi
		fi
	else
		echo "wpam: semodule could not install the SELinux policy module /usr/share/selinux/packages/wpam.cil;" >&2
		echo "wpam: with SELinux enforcing, logins through pam_wpam fail until it is installed (docs/admin.md, SELinux)" >&2
	fi
fi
exit 0
