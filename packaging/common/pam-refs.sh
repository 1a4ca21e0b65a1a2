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
