# wpam %post: create the log file if missing and fix its owner/mode, never
# truncating it. root:adm where the adm group exists, else root:root.
# Then, where SELinux tooling is installed, link wpam's policy module
# (/usr/share/selinux/packages/wpam.cil) into the policy and label the log
# file and the configuration with its types. Without the module an
# enforcing policy refuses sshd's connection to the API: every login fails.
log=/var/log/wpam.log
group=root
if getent group adm >/dev/null 2>&1; then
	group=adm
fi
if [ -L "$log" ]; then
	:
elif [ ! -e "$log" ]; then
	install -m 0640 -o root -g "$group" /dev/null "$log" || :
elif [ -f "$log" ]; then
	chown "root:$group" "$log" || :
	chmod 0640 "$log" || :
fi
# SELinux. Priority 200 is where distribution add-on modules go (above the
# base policy's 100, below an admin's local 400); reinstalling at the same
# priority replaces the previous version on upgrade.
if command -v semodule >/dev/null 2>&1; then
	if semodule -X 200 -i /usr/share/selinux/packages/wpam.cil; then
		if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled &&
			command -v restorecon >/dev/null 2>&1; then
			for f in /var/log/wpam.log* /etc/security/wpam.conf; do
				if [ -e "$f" ]; then
					restorecon -F "$f" || :
				fi
			done
		fi
	else
		echo "wpam: semodule could not install the SELinux policy module /usr/share/selinux/packages/wpam.cil;" >&2
		echo "wpam: with SELinux enforcing, logins through pam_wpam fail until it is installed (README, SELinux)" >&2
	fi
fi
exit 0
