#!/usr/bin/env bash
# Proves wpam's SELinux policy module (packaging/selinux/wpam.cil) against a
# real policy: Debian 12's reference policy (selinux-policy-default), built
# into a policy store in a scratch root (semodule -p ROOT; this host's own
# SELinux configuration is never touched and SELinux stays off), then:
#   - the module links (semodule -X 200 -i) into a policy WITHOUT
#     sshd_session_t (Debian 12's: checked) and is listed at priority 200;
#   - the rules the module adds are exactly the expected ones: every allow
#     and type_transition rule of the built policy (sesearch -A -T) before
#     and after, diffed; nothing to unreserved ports, nothing unconditional
#     but the named transitions;
#   - the booleans exist with their defaults (sshd on, local_login off), and
#     the rules they gate are in force or not as each is switched
#     (ci/test/selinux-rules.py evaluates the policy's conditionals with setools);
#   - logrotate may manage wpam_log_t files (it is a logfile);
#   - the offline codes' rules (src/offline.rs): sshd_t reads the secrets
#     (wpam_conf_t), creates the state directory in etc_t (named transition
#     to wpam_state_t) and uses its files; the module lets no domain create
#     any other type, nor setattr, relabel, link, rmdir or execute anything;
#   - remember= and the kept Werbot IDs (src/remember.rs): sshd_t creates
#     /run/wpam in var_run_t (named transition to wpam_state_t) and
#     creates, reads, renames over, unlinks, stats and lists its files;
#   - the store's file_contexts label /var/log/wpam.log and its rotations
#     wpam_log_t, /etc/security/wpam.conf and wpam-offline wpam_conf_t,
#     wpam-offline.state and its files wpam_state_t, /run/wpam and
#     /var/run/wpam and their files wpam_state_t (also under RHEL 8/9's
#     `/run /var/run` alias, a subs_dist of the test's), and leave
#     /etc/security etc_t and /run var_run_t (selabel_lookup);
#   - in a second store that HAS sshd_session_t (declared by a small CIL
#     module of the test's, as OpenSSH >= 9.8 policies do), the module's
#     sshd_session_t block and its boolean are linked in;
#   - removal (semodule -r wpam) leaves the policy as it was;
#   - the .rpm's own scriptlets against a real store: a Debian 12 root
#     (debootstrap minbase, test-packages' cached one when there) with
#     policycoreutils from the mirror and the store above; `rpm --root`
#     installs dist/'s .rpm and its %post links the module (semodule -l in
#     the root lists it, the rules are in that root's policy), `rpm -e` and
#     its %postun take it out again (root; skipped otherwise, failed under
#     CI=true; needs dist/wpam-<version>-1.<uname -m>.rpm: make rpm / build-all).
# Part of `make test` (target test-selinux). Ends "N passed, N failed".
#
# Needs (ci/install-deps.sh): policycoreutils (semodule), setools (sesearch,
# seinfo, python3-setools), selinux-utils (selabel_lookup), and apt-get
# download for selinux-policy-default. Under CI=true a missing tool fails.
# Environment: WPAM_TEST_DIR (default build/test-selinux; the base store is
# cached there as a tarball per policy package version), WPAM_MINBASE_TAR
# (default build/test/bookworm-minbase.tar, test-packages' cache; made here
# with debootstrap when missing), WPAM_DEBIAN_MIRROR (ci/lib/apt.sh).
# The helpers below run through check(), which shellcheck cannot follow.
# shellcheck disable=SC2317
set -uo pipefail
# shellcheck source=../lib/apt.sh
. "$(dirname "$0")/../lib/apt.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here" || exit 1
tdir=${WPAM_TEST_DIR:-$here/build/test-selinux}
cil=$here/packaging/selinux/wpam.cil
mkdir -p "$tdir"
start=$(date +%s)

# shellcheck source=../lib/check.sh
. "$here/ci/lib/check.sh"
check_name=test-selinux check_skips=1

# --- tools -----------------------------------------------------------------------
missing=()
for t in semodule sesearch seinfo selabel_lookup apt-get dpkg-deb timeout; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
/usr/bin/python3 -c 'import setools' 2>/dev/null || missing+=(python3-setools)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CI:-}" = true ]; then
    bad "tools present (missing: ${missing[*]}; ci/install-deps.sh installs them)"
  else
    skip=$((skip + 1))
    echo "skip  SELinux policy checks (missing: ${missing[*]}; run ci/install-deps.sh as root)"
  fi
  finish
fi

first() { [ -e "$1" ] && printf '%s\n' "$1"; } # the first match of a glob, or nothing

# --- the reference policy, built into a scratch store (cached) -------------------
pkgdir=$tdir/pkg
mkdir -p "$pkgdir"
chmod 0755 "$tdir" "$pkgdir" # apt-get download runs as _apt
deb=$(first "$pkgdir"/selinux-policy-default_*.deb)
if [ -z "$deb" ]; then
  (cd "$pkgdir" && timeout 300 apt-get download -q selinux-policy-default) >"$tdir/download.log" 2>&1 ||
    { [ "$(id -u)" = 0 ] && timeout 300 apt-get update -qq >>"$tdir/download.log" 2>&1 &&
      (cd "$pkgdir" && timeout 300 apt-get download -q selinux-policy-default) >>"$tdir/download.log" 2>&1; }
  deb=$(first "$pkgdir"/selinux-policy-default_*.deb)
fi
if [ -z "$deb" ]; then
  tail -n 20 "$tdir/download.log"
  bad "apt-get download selinux-policy-default (log: $tdir/download.log)"
  finish
fi
polver=$(dpkg-deb -f "$deb" Version)
base_tar=$tdir/base-store-${polver//[^A-Za-z0-9.+-]/_}.tar
policy_of() { first "$1"/etc/selinux/default/policy/policy.*; }
sm() { # root args... : semodule on the scratch store under ROOT, never loading a policy
  local r=$1
  shift
  timeout 600 semodule -p "$r" -s default -n "$@"
}

if [ ! -s "$base_tar" ]; then
  b=$tdir/base
  rm -rf "$b" && mkdir -p "$b/etc/selinux"
  dpkg-deb -x "$deb" "$b"
  # What the package's postinst would find on a Debian system: the store
  # type and libsemanage's configuration (module-store direct).
  printf 'SELINUX=disabled\nSELINUXTYPE=default\n' >"$b/etc/selinux/config"
  printf 'module-store = direct\nexpand-check = 0\n' >"$b/etc/selinux/semanage.conf"
  mods=()
  while read -r m; do mods+=("-i$b/usr/share/selinux/default/$m.pp.bz2"); done <"$b/usr/share/selinux/default/.modules"
  if sm "$b" -X 100 "${mods[@]}" >"$tdir/base-build.log" 2>&1 && [ -n "$(policy_of "$b")" ]; then
    tar -C "$b" -cf "$base_tar.new" etc/selinux var/lib/selinux && mv "$base_tar.new" "$base_tar"
    ok "reference policy $polver: ${#mods[@]} modules built into a scratch store (semodule -p; cached in $base_tar)"
  else
    tail -n 20 "$tdir/base-build.log"
    bad "reference policy $polver built into a scratch store (log: $tdir/base-build.log)"
    finish
  fi
  rm -rf "$b"
else
  ok "reference policy $polver: reusing the scratch store cached in $base_tar"
fi
fresh_store() { # dir: a copy of the base store
  rm -rf "$1" && mkdir -p "$1" && tar -xf "$base_tar" -C "$1"
}

# --- 1. a policy without sshd_session_t -------------------------------------------
base=$tdir/store-base
fresh_store "$base"
bpol=$(policy_of "$base")
check "Debian 12's policy has no sshd_session_t (the optional block must be dropped)" \
  bash -c "! seinfo '$bpol' -t sshd_session_t 2>/dev/null | grep -q 'sshd_session_t'"
timeout 120 sesearch "$bpol" -A -T >"$tdir/base.rules" 2>&1 || bad "sesearch -A -T on the base policy"

s1=$tdir/store-wpam
fresh_store "$s1"
check "semodule -X 200 -i wpam.cil links into the policy without sshd_session_t" sm "$s1" -X 200 -i "$cil"
pol=$(policy_of "$s1")
check "semodule -l lists wpam (cil) at priority 200, the name wpam check looks for" bash -c "
  timeout 60 semodule -p '$s1' -s default --list-modules=full | grep -Eq '^200 +wpam +cil'"
timeout 120 sesearch "$pol" -A -T >"$tdir/wpam.rules" 2>&1 || bad "sesearch -A -T on the policy with wpam"

# The complete set of rules the module adds to Debian's policy: compared
# line for line, so any rule more (or less) fails.
expected_added() {
  local d b
  for d in sshd_t:wpam_permit_sshd local_login_t:wpam_permit_local_login; do
    b=${d#*:} d=${d%%:*}
    cat <<EOF
allow $d http_cache_port_t:tcp_socket name_connect; [ $b ]:True
allow $d http_port_t:tcp_socket name_connect; [ $b ]:True
allow $d squid_port_t:tcp_socket name_connect; [ $b ]:True
allow $d var_log_t:dir { add_name search write }; [ $b ]:True
allow $d wpam_conf_t:file { getattr open read }; [ $b ]:True
allow $d wpam_log_t:file { append create getattr open }; [ $b ]:True
allow $d etc_t:dir { add_name search write }; [ $b ]:True
allow $d var_run_t:dir { add_name search write }; [ $b ]:True
allow $d wpam_state_t:dir { add_name create getattr open read remove_name search write }; [ $b ]:True
allow $d wpam_state_t:file { create getattr lock open read rename unlink write }; [ $b ]:True
type_transition $d var_log_t:file wpam_log_t wpam.log;
type_transition $d etc_t:dir wpam_state_t wpam-offline.state;
type_transition $d var_run_t:dir wpam_state_t wpam;
EOF
  done
  # The policy's own `allow file_type self:filesystem associate`, written
  # out for each new file type: it names no other type.
  echo "allow wpam_conf_t wpam_conf_t:filesystem associate;"
  echo "allow wpam_log_t wpam_log_t:filesystem associate;"
  echo "allow wpam_state_t wpam_state_t:filesystem associate;"
}
added=$(diff "$tdir/base.rules" "$tdir/wpam.rules" | sed -n 's/^> //p' | LC_ALL=C sort)
removed=$(diff "$tdir/base.rules" "$tdir/wpam.rules" | sed -n 's/^< //p')
if [ "$added" = "$(expected_added | LC_ALL=C sort)" ] && [ -z "$removed" ]; then
  ok "the module adds exactly the expected $(wc -l <<<"$added") allow/type_transition rules and removes none"
else
  bad "the rules the module adds (sesearch -A -T, before vs after)"
  diff <(expected_added | LC_ALL=C sort) <(printf '%s\n' "$added") | sed 's/^/      expected< >built: /'
  [ -z "$removed" ] || printf '      removed: %s\n' "$removed"
fi
check "no rule of the module names unreserved_port_t, reserved_port_t, port_t or port_type" \
  bash -c "! grep -Eq ' (unreserved_port_t|reserved_port_t|port_t|port_type):' <<<\"\$1\"" _ "$added"

check "booleans: wpam_permit_sshd on, wpam_permit_local_login off; no wpam_permit_sshd_session without sshd_session_t" bash -c "
  out=\$(seinfo '$pol' -b -x 2>&1) &&
  grep -Eq 'bool wpam_permit_sshd true' <<<\"\$out\" && grep -Eq 'bool wpam_permit_local_login false' <<<\"\$out\" &&
  ! grep -q wpam_permit_sshd_session <<<\"\$out\""

rules() { /usr/bin/python3 "$here/ci/test/selinux-rules.py" "$@"; }
# What is in force, by domain, as the booleans are switched.
domains_in_force() { rules "$@" | awk '{print $2}' | LC_ALL=C sort -u | tr '\n' ' '; }
defaults_ok() {
  local r
  r=$(rules "$pol") && [ "$(grep -c '^allow sshd_t ' <<<"$r")" = 10 ] && ! grep -q local_login_t <<<"$r"
}
check "defaults: sshd_t's ten rules in force, local_login_t's not" defaults_ok
check "setsebool wpam_permit_sshd off: none in force" \
  test "$(domains_in_force "$pol" wpam_permit_sshd=off)" = ""
check "wpam_permit_local_login on: local_login_t's rules in force (and sshd_t's)" \
  test "$(domains_in_force "$pol" wpam_permit_local_login=on)" = "local_login_t sshd_t "
check "wpam_permit_sshd off, wpam_permit_local_login on: only local_login_t" \
  test "$(domains_in_force "$pol" wpam_permit_sshd=off wpam_permit_local_login=on)" = "local_login_t "

check "logrotate_t may create, rename, unlink, setattr and write wpam_log_t files (logfile)" bash -c "
  sesearch '$pol' -A -s logrotate_t -t wpam_log_t -c file -p create,rename,unlink,setattr,write,open,read | grep -q ."
check "the name transition: sshd_t creating wpam.log in var_log_t makes it wpam_log_t" bash -c "
  sesearch '$pol' -T -s sshd_t -t var_log_t -c file -D wpam_log_t | grep -q '\"\\?wpam.log\"\\?;'"
check "the name transition: sshd_t creating the directory wpam-offline.state in etc_t makes it wpam_state_t" bash -c "
  sesearch '$pol' -T -s sshd_t -t etc_t -c dir -D wpam_state_t | grep -q '\"\\?wpam-offline.state\"\\?;'"
# Each rule in force by default for sshd_t (ci/test/selinux-rules.py).
sshd_in_force() { # rule...: "TYPE:CLASS { PERMS }"
  local r x
  r=$(rules "$pol") || return 1
  for x in "$@"; do
    grep -qxF "allow sshd_t $x;" <<<"$r" || { echo "not in force: allow sshd_t $x;"; return 1; }
  done
}
state_dir='wpam_state_t:dir { add_name create getattr open read remove_name search write }'
state_file='wpam_state_t:file { create getattr lock open read rename unlink write }'
# What offline codes need (src/offline.rs): read the secrets file
# (wpam_conf_t); mkdir the state directory in /etc/security; in it,
# create/flock the lock, read the state, create the temp file, rename it
# over the state (unlink of the replaced file), remove a stale temp file,
# open the directory to fsync it.
check "offline codes: sshd_t may read the secrets and create and use the state directory and its files" \
  sshd_in_force 'wpam_conf_t:file { getattr open read }' 'etc_t:dir { add_name search write }' "$state_dir" "$state_file"
check "the name transition: sshd_t creating the directory wpam in var_run_t (/run) makes it wpam_state_t" bash -c "
  sesearch '$pol' -T -s sshd_t -t var_run_t -c dir -D wpam_state_t | grep -q '\"\\?wpam\"\\?;'"
# What remember= and the kept Werbot IDs need (src/remember.rs): mkdir
# /run/wpam (search, write, add_name in /run), stat it; in it create the
# temp file, rename it over a grant or kept ID (unlink of the replaced
# file), read, unlink, and list the directory (open, read) and stat the
# entries (getattr) to sweep stale conn-* files.
check "remember=: sshd_t may create /run/wpam in var_run_t and create, read, rename over, unlink, stat and list its files" \
  sshd_in_force 'var_run_t:dir { add_name search write }' "$state_dir" "$state_file"
check "no rule of the module lets a login domain create any type but wpam_log_t and wpam_state_t" bash -c "
  ! grep -E '^allow ' <<<\"\$1\" | grep -E '[{ ]create[ }]' | grep -vE ' (wpam_log_t|wpam_state_t):'" _ "$added"
check "the module grants no setattr, relabel, link, rmdir, reparent, mounton or execute" bash -c "
  ! grep -E '^allow ' <<<\"\$1\" | grep -E '[{ ](setattr|relabelfrom|relabelto|link|rmdir|reparent|mounton|execute|execute_no_trans)[ }]'" _ "$added"

fc=$s1/etc/selinux/default/contexts/files/file_contexts
label() { selabel_lookup -b file -f "$fc" -k "$1" 2>&1 | sed -n 's/^Default context: //p'; }
for f in /var/log/wpam.log /var/log/wpam.log.1 /var/log/wpam.log.2.gz; do
  check "file_contexts: $f is wpam_log_t" test "$(label "$f")" = system_u:object_r:wpam_log_t:s0
done
for f in /etc/security/wpam.conf /etc/security/wpam-offline; do
  check "file_contexts: $f is wpam_conf_t" test "$(label "$f")" = system_u:object_r:wpam_conf_t:s0
done
for f in /etc/security/wpam-offline.state /etc/security/wpam-offline.state/state \
  /etc/security/wpam-offline.state/state.tmp /etc/security/wpam-offline.state/lock; do
  check "file_contexts: $f is wpam_state_t" test "$(label "$f")" = system_u:object_r:wpam_state_t:s0
done
# remember=: a grant (40-hex SHA-1), a kept ID (conn-<40 hex>) and their
# temp files (<name>.<pid>.tmp), under /run and its alias /var/run.
hex=0123456789abcdef0123456789abcdef01234567
remember_paths=(/run/wpam "/run/wpam/$hex" "/run/wpam/conn-$hex" "/run/wpam/$hex.4242.tmp"
  "/run/wpam/conn-$hex.4242.tmp" /var/run/wpam "/var/run/wpam/conn-$hex")
for f in "${remember_paths[@]}"; do
  check "file_contexts: $f is wpam_state_t" test "$(label "$f")" = system_u:object_r:wpam_state_t:s0
done
# RHEL 8 and 9 (Fedora < 40) alias the other way, `/run /var/run`: a
# lookup of /run/wpam is one of /var/run/wpam there. The same file_contexts
# with that subs_dist (selabel_lookup -f reads FILE.subs_dist).
el9fc=$tdir/el9-alias/file_contexts
mkdir -p "${el9fc%/*}" && cp "$fc" "$el9fc" && printf '/run /var/run\n' >"$el9fc.subs_dist"
el9_ok() {
  local f
  for f in "${remember_paths[@]}"; do
    [ "$(selabel_lookup -b file -f "$el9fc" -k "$f" 2>&1 | sed -n 's/^Default context: //p')" = \
      system_u:object_r:wpam_state_t:s0 ] || { echo "$f"; return 1; }
  done
}
check "file_contexts under RHEL 8/9's /run -> /var/run alias: /run/wpam, /var/run/wpam and their files are wpam_state_t" el9_ok
rm -rf "${el9fc%/*}"
others_ok() {
  [ "$(label /var/log/messages)" = system_u:object_r:var_log_t:s0 ] &&
    [ "$(label /etc/security)" = system_u:object_r:etc_t:s0 ] &&
    [ "$(label /etc/security/limits.conf)" = system_u:object_r:etc_t:s0 ] &&
    [ "$(label /etc/security/wpam-offline.bak)" = system_u:object_r:etc_t:s0 ] &&
    [ "$(label /run | cut -d: -f3)" = var_run_t ] &&
    [ -z "$(label /run/wpam2)" ] # Debian: /run/.* is <<none>>
}
check "file_contexts: /var/log/messages stays var_log_t; /etc/security (the transition's etc_t), limits.conf and wpam-offline.bak etc_t; /run var_run_t (the transition's); /run/wpam2 unlabelled" others_ok

check "semodule -X 200 -r wpam: the policy's rules are the base policy's again" bash -c "
  timeout 600 semodule -p '$s1' -s default -n -X 200 -r wpam >/dev/null 2>&1 &&
  timeout 120 sesearch '$pol' -A -T | cmp -s - '$tdir/base.rules'"
rm -rf "$s1"

# --- 2. a policy with sshd_session_t (OpenSSH >= 9.8's split) ----------------------
s2=$tdir/store-session
fresh_store "$s2"
decl=$tdir/selinuxtest_sshd_session.cil
cat >"$decl" <<'EOF'
; sshd_session_t as an OpenSSH >= 9.8 policy declares it (the test's own).
(type sshd_session_t)
(roletype system_r sshd_session_t)
(typeattributeset domain (sshd_session_t))
EOF
check "a policy with sshd_session_t links wpam.cil" sm "$s2" -X 200 -i "$decl" -i "$cil"
pol2=$(policy_of "$s2")
check "sshd_session_t: boolean wpam_permit_sshd_session on by default" bash -c "
  seinfo '$pol2' -b -x | grep -Eq 'bool wpam_permit_sshd_session true'"
# In functions (pipefail): `grep >/dev/null`, not `grep -q`, after sesearch,
# which a -q that stops reading early could kill with SIGPIPE (a failure).
session_ok() {
  [ "$(rules "$pol2" | grep -c '^allow sshd_session_t ')" = 10 ] &&
    sesearch "$pol2" -A -s sshd_session_t -t http_port_t -c tcp_socket -p name_connect | grep wpam_permit_sshd_session >/dev/null &&
    sesearch "$pol2" -T -s sshd_session_t -t var_log_t -c file -D wpam_log_t | grep wpam >/dev/null &&
    sesearch "$pol2" -T -s sshd_session_t -t etc_t -c dir -D wpam_state_t | grep wpam-offline.state >/dev/null &&
    sesearch "$pol2" -T -s sshd_session_t -t var_run_t -c dir -D wpam_state_t | grep -E '"?wpam"?;' >/dev/null
}
check "sshd_session_t: the same ten rules as sshd_t, in force by default" session_ok
check "sshd_session_t: wpam_permit_sshd_session off leaves sshd_t's rules alone" \
  test "$(domains_in_force "$pol2" wpam_permit_sshd_session=off)" = "sshd_t "
rm -rf "$s2" "$base"

# --- 3. the .rpm's %post and %postun in a Debian root with a real store -----------
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# This machine's architecture's package: rpm --root runs its scriptlets here.
rpmf=${DIST_DIR:-$here/dist}/wpam-$version-1.$(uname -m).rpm
not_here() { # description: skipped, or failed under CI=true
  if [ "${CI:-}" = true ]; then bad "$1"; else skip=$((skip + 1)); echo "skip  $1"; fi
}
if [ "$(id -u)" != 0 ]; then
  not_here "rpm %post/%postun against a real store (needs root: chroot)"
  finish
fi
if [ ! -f "$rpmf" ] || ! command -v rpm >/dev/null 2>&1; then
  not_here "rpm %post/%postun against a real store (needs rpm and $rpmf: make rpm)"
  finish
fi
minbase=${WPAM_MINBASE_TAR:-$here/build/test/bookworm-minbase.tar}
if [ ! -s "$minbase" ]; then
  minbase=$tdir/bookworm-minbase.tar
  if [ ! -s "$minbase" ]; then
    mirror=$(debian_mirror)
    rm -rf "$tdir/bootstrap"
    if timeout 1200 debootstrap --variant=minbase bookworm "$tdir/bootstrap" "$mirror" >"$tdir/debootstrap.log" 2>&1; then
      tar -C "$tdir/bootstrap" -cf "$minbase.new" . && mv "$minbase.new" "$minbase"
      ok "debootstrap: Debian 12 root from $mirror (cached in $minbase)"
    else
      tail -n 20 "$tdir/debootstrap.log"
      bad "debootstrap: Debian 12 root (log: $tdir/debootstrap.log)"
      finish
    fi
    rm -rf "$tdir/bootstrap"
  fi
fi
root=$tdir/rpmroot
mounted=
cleanup() {
  if [ -n "$mounted" ]; then umount -l "$mounted" 2>/dev/null || true; fi
  mounted=
}
trap cleanup EXIT
rm -rf "$root" && mkdir -p "$root" && tar -xf "$minbase" -C "$root"
mount -t proc proc "$root/proc" && mounted=$root/proc
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
in_root() { timeout 900 chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
if in_root apt-get update -qq >"$tdir/root-apt.log" 2>&1 &&
  in_root apt-get install -y -qq --no-install-recommends policycoreutils >>"$tdir/root-apt.log" 2>&1; then
  ok "Debian 12 root: policycoreutils (semodule) installed from the mirror"
else
  tail -n 20 "$tdir/root-apt.log"
  bad "apt-get install policycoreutils in the root (log: $tdir/root-apt.log)"
  finish
fi
tar -xf "$base_tar" -C "$root" # the reference policy's store, as built above
check "$(basename "$rpmf"): rpm --root installs; its %post links wpam.cil at priority 200 (semodule in the root)" bash -c "
  rpm --root '$root' --initdb && timeout 900 rpm --root '$root' -i --nodeps --ignorearch '$rpmf' &&
  chroot '$root' semodule --list-modules=full | grep -Eq '^200 +wpam +cil'"
post_rules_ok() {
  local pol
  pol=$(policy_of "$root") && [ -n "$pol" ] &&
    sesearch "$pol" -A -s sshd_t -t http_port_t -c tcp_socket -p name_connect | grep wpam_permit_sshd >/dev/null &&
    [ "$(selabel_lookup -b file -f "$root/etc/selinux/default/contexts/files/file_contexts" -k /var/log/wpam.log |
      sed -n 's/^Default context: //p')" = system_u:object_r:wpam_log_t:s0 ] &&
    [ "$(selabel_lookup -b file -f "$root/etc/selinux/default/contexts/files/file_contexts" -k /etc/security/wpam-offline.state |
      sed -n 's/^Default context: //p')" = system_u:object_r:wpam_state_t:s0 ]
}
check "after %post: the root's policy has the module's rules and labels" post_rules_ok
check "rpm -e: its %postun removes the module; the root's policy is the base policy again" bash -c "
  timeout 900 rpm --root '$root' -e --nodeps wpam &&
  ! chroot '$root' semodule -l | grep -qx wpam &&
  timeout 120 sesearch \"\$(ls '$root'/etc/selinux/default/policy/policy.* | head -n1)\" -A -T | cmp -s - '$tdir/base.rules'"
cleanup
rm -rf "$root"

finish
