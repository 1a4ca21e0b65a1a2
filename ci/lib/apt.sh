# shellcheck shell=bash
# Sourced by ci/test/packages.sh, ci/test/roots.sh and ci/release/release.sh, which
# make clean Debian roots (debootstrap, mmdebstrap); ci/test/scripts.sh tests
# it against fake apt dirs.
#
# debian_mirror: prints the Debian mirror to debootstrap from, one URL on
# stdout, and never fails (also under set -euo pipefail):
#   1. WPAM_DEBIAN_MIRROR when set;
#   2. else the first http(s) URI whose path ends in /debian (and that is not
#      a security archive) in this host's apt sources under WPAM_APT_DIR
#      (default /etc/apt), reading only the files that exist, in apt's order:
#      sources.list and sources.list.d/*.list (one-line "deb [options] URI
#      suite ..."), then sources.list.d/*.sources (deb822: "URIs:" of an
#      enabled stanza whose "Types:" has deb). Debian 12 installs only
#      sources.list.d/debian.sources;
#   3. else http://deb.debian.org/debian, with a line on stderr saying so
#      (GitHub's Ubuntu runners have no Debian mirror in their sources).
debian_mirror() {
  if [ -n "${WPAM_DEBIAN_MIRROR:-}" ]; then
    echo "$WPAM_DEBIAN_MIRROR"
    return 0
  fi
  local dir=${WPAM_APT_DIR:-/etc/apt} fallback=http://deb.debian.org/debian f uri
  local oneline=() deb822=()
  if [ -f "$dir/sources.list" ]; then oneline+=("$dir/sources.list"); fi
  for f in "$dir"/sources.list.d/*.list; do
    if [ -f "$f" ]; then oneline+=("$f"); fi
  done
  for f in "$dir"/sources.list.d/*.sources; do
    if [ -f "$f" ]; then deb822+=("$f"); fi
  done
  while read -r uri; do
    case "$uri" in http://*/debian | https://*/debian | http://*/debian/ | https://*/debian/) ;; *) continue ;; esac
    case "$uri" in *security*) continue ;; esac
    echo "${uri%/}"
    return 0
  done < <(apt_source_uris "${oneline[@]}" "${deb822[@]}")
  echo "debian-mirror: no Debian mirror in the apt sources under $dir: using $fallback (set WPAM_DEBIAN_MIRROR to choose one)" >&2
  echo "$fallback"
}

# apt_source_uris FILE...: the URIs of the binary (deb) sources in FILEs, one
# a line, in order; *.sources files are read as deb822, the others as
# one-line sources.
apt_source_uris() {
  [ $# -gt 0 ] || return 0
  awk '
    function flush() {
      if (enabled && (" " types " ") ~ /[ \t]deb[ \t]/) {
        n = split(uris, u, /[ \t]+/)
        for (i = 1; i <= n; i++) if (u[i] != "") print u[i]
      }
      types = ""; uris = ""; enabled = 1; field = ""
    }
    FNR == 1 { flush(); deb822 = FILENAME ~ /\.sources$/ }
    !deb822 {
      line = $0
      sub(/#.*/, "", line)
      if (line !~ /^[ \t]*deb[ \t]/) next
      sub(/^[ \t]*deb[ \t]+/, "", line)
      if (line ~ /^\[/) sub(/^\[[^]]*\][ \t]*/, "", line)
      split(line, w, /[ \t]+/)
      if (w[1] != "") print w[1]
      next
    }
    /^#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ {
      if (field == "types") types = types " " $0
      else if (field == "uris") uris = uris " " $0
      next
    }
    {
      c = index($0, ":")
      field = tolower(substr($0, 1, c - 1))
      value = substr($0, c + 1)
      if (field == "types") types = value
      else if (field == "uris") uris = value
      else if (field == "enabled") enabled = value !~ /^[ \t]*no[ \t]*$/
    }
    END { flush() }
  ' "$@"
}
