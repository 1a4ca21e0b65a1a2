# wpam %preun: on erase ($1 = 0; not on upgrade, $1 >= 1) refuse while a PAM
# policy still names pam_wpam.so. Once the module file is gone every login
# through such a line fails, SSH key logins included, and an admin removing
# the package over SSH locks themselves out. rpm treats %pre and %preun as
# the scriptlets whose failure stops the operation: the erase fails and the
# package and its files stay (rpm lib/psm.c, runScript: "rc only reflects
# whether the condition prevented install/erase (which is only happens with
# %prein and %preun scriptlets)"); every other scriptlet's failure is only a
# warning. So this is a refusal, as in the Debian prerm. To remove anyway:
# WPAM_FORCE_REMOVE=1, or rpm -e --nopreun wpam.
# >>> pam-refs.sh (packaging/common/pam-refs.sh, copied verbatim into the deb
# prerm, the rpm %preun, FreeBSD's pre-deinstall and NetBSD's +DEINSTALL;
# ci/test/scripts.sh checks every copy against the original)
#
# wpam_pam_refs ROOT [managed]: prints "FILE:LINE: TEXT" for each line under
# ROOT that still names the module: a PAM policy line naming pam_wpam.so
# (/etc/pam.conf, /etc/pam.d/*, Linux-PAM's vendor /usr/lib/pam.d/*, and
# OpenPAM's /usr/local/etc/pam.conf and /usr/local/etc/pam.d/*), or an
# OpenBSD /etc/login.conf line naming the style -wpam; comment lines aside.
# With "managed", lines inside pam-auth-update's own blocks of
# /etc/pam.d/common-* are left out (the Debian prerm takes those out with
# pam-auth-update). A file that cannot be read is printed as such: it might
# name the module. POSIX sh and awk only; its variables start with wpam_.
wpam_pam_refs() {
	wpam_root=${1%/}
	wpam_managed=${2:-}
	for wpam_f in "$wpam_root"/etc/pam.conf "$wpam_root"/etc/pam.d/* \
		"$wpam_root"/usr/lib/pam.d/* "$wpam_root"/usr/local/etc/pam.conf \
		"$wpam_root"/usr/local/etc/pam.d/* "$wpam_root"/etc/login.conf; do
		[ -f "$wpam_f" ] || continue
		awk -v f="${wpam_f#"$wpam_root"}" -v managed="$wpam_managed" '
			BEGIN {
				login_conf = (f == "/etc/login.conf")
				common = (managed != "" && f ~ /^\/etc\/pam\.d\/common-/)
			}
			common && /^# here are the per-package modules/ { block = 1 }
			common && /^# end of pam-auth-update config/ { block = 0; next }
			block || /^[ \t]*#/ { next }
			(login_conf && /[=,]-wpam([,:\\ \t]|$)/) || (!login_conf && /pam_wpam\.so/) {
				sub(/[ \t]+$/, "")
				printf "%s:%d: %s\n", f, FNR, $0
			}
		' "$wpam_f" 2>/dev/null || echo "${wpam_f#"$wpam_root"}: could not be read"
	done
	return 0
}
# <<< pam-refs.sh

if [ "$1" = 0 ]; then
	refs=$(wpam_pam_refs /)
	if [ -n "$refs" ]; then
		echo "wpam: refusing to remove wpam: PAM still names pam_wpam.so here:" >&2
		printf '%s\n' "$refs" | sed 's/^/    /' >&2
		echo "wpam: once pam_wpam.so is gone, every login through these lines fails (SSH key" >&2
		echo "wpam: logins too). Take the lines out first, from a root shell you keep open" >&2
		echo "wpam: until a new login works (README, First login), then remove wpam again." >&2
		if [ "${WPAM_FORCE_REMOVE:-}" = 1 ]; then
			echo "wpam: WPAM_FORCE_REMOVE=1: removing anyway" >&2
		else
			echo "wpam: not removed. To remove it anyway: WPAM_FORCE_REMOVE=1 dnf remove wpam (or rpm -e --nopreun wpam)" >&2
			exit 1
		fi
	fi
fi
exit 0
