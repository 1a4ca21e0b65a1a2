# wpam %postun: on erase ($1 = 0; not on upgrade, $1 = 1) remove wpam's
# SELinux policy module, then relabel what kept its types: the log file
# stays (the admin's record) and would otherwise carry a type the policy no
# longer knows. The relabelling loop repeats %post's: a scriptlet cannot
# source another, and a helper shipped in the package is already gone here.
if [ "$1" = 0 ] && command -v semodule >/dev/null 2>&1; then
	if semodule -l 2>/dev/null | awk '$1 == "wpam" { found = 1 } END { exit !found }'; then
		semodule -X 200 -r wpam || echo "wpam: semodule -X 200 -r wpam failed; remove the policy module by hand" >&2
	fi
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
		if [ -d /run/wpam ] && [ ! -L /run/wpam ]; then
			restorecon -RF /run/wpam || :
		fi
	fi
fi
exit 0
