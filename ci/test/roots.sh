#!/usr/bin/env bash
# wpam in Debian roots other than this host's: part of `make test` (test-roots).
#
#   trixie   Debian 13 amd64 (OpenSSH 10, Linux-PAM 1.7): the .deb installed
#            with apt-get from a signed local repository, then the real-sshd
#            end-to-end suite (tests/e2e_sshd.rs) run against that root's
#            sshd, ssh, libpam and installed module through chroot
#            (WPAM_E2E_ROOT), then apt-get purge.
#   arm64    Debian 12 arm64 under qemu-user (binfmt_misc): the arm64 .deb
#            installed with apt-get from the same repository, pamtester (the
#            root's arm64 build) logging in through the installed module
#            against the development Werbot API on the host's loopback: TOTP
#            accepted, wrong code refused, an outage (connection refused)
#            admitting the offline user only; each asserted on pamtester's
#            result AND the module's log line; then apt-get purge.
#   nomerge  Debian 12 amd64 without merged /usr (mmdebstrap's no-merged-usr
#            hook): the .deb's module in libpam-modules' own directory
#            (/lib/x86_64-linux-gnu/security, dpkg -L), and the same pamtester
#            logins with the module named `pam_wpam.so`, without a path, as
#            /etc/pam.d and the pam-auth-update profile name it.
#
# Roots come from mmdebstrap --variant=minbase with only the packages the
# tests need, cached as tarballs in WPAM_ROOTS_CACHE (default
# /var/cache/wpam-roots), keyed by suite, architecture and package list;
# without the cache they are built (a few minutes). Every root is extracted
# fresh for the run and removed afterwards.
#
# Needs root. Not root: skipped with a note, except under CI=true, where that
# and anything missing (qemu-user-static, binfmt_misc, mmdebstrap, the
# network to the Debian mirror) fail. Ends with "N passed, N failed".
#
# Environment: WPAM_TEST_NO_BUILD=1 (use dist/ as it is), WPAM_DEBIAN_MIRROR
# (ci/lib/apt.sh), WPAM_ROOTS_CACHE, WPAM_ROOTS_DIR (default build/roots),
# WPAM_ROOTS_ONLY=trixie|arm64|nomerge (one part, for development).
set -uo pipefail
# shellcheck source=../lib/apt.sh
. "$(dirname "$0")/../lib/apt.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here" || exit 1
dist=${DIST_DIR:-$here/dist}
tdir=${WPAM_ROOTS_DIR:-$here/build/roots}
cache=${WPAM_ROOTS_CACHE:-/var/cache/wpam-roots}
only=${WPAM_ROOTS_ONLY:-}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
ALICE_SECRET=JBSWY3DPEHPK3PXP
start=$(date +%s)

# shellcheck source=../lib/check.sh
. "$here/ci/lib/check.sh"
check_name=test-roots check_tail=1

if [ "$(id -u)" != 0 ]; then
  if [ "${CI:-}" = true ]; then
    bad "test-roots needs root (chroot, mounts, binfmt_misc); CI=true forbids skipping"
  else
    echo "test-roots: skipped: needs root (chroot, mounts, binfmt_misc)"
  fi
  finish
fi
for tool in mmdebstrap reprepro gpg chroot timeout; do
  command -v "$tool" >/dev/null || bad "$tool installed (ci/install-deps.sh)"
done
[ "$fail" -eq 0 ] || finish
mkdir -p "$tdir" "$cache"

# --- mounts, undone on every exit ---------------------------------------------
children=()
# unmount_under DIR: every mount at or below DIR, deepest first, read from the
# kernel's table (a list kept by the script would miss mounts made in a
# subshell).
unmount_under() {
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
    awk -v d="$1" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/self/mounts | sort -r)
}
# remove_root DIR: unmounted first, and never across a file system boundary.
remove_root() {
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}
cleanup() {
  local p
  for p in "${children[@]}"; do kill "$p" 2>/dev/null || true; done
  children=()
  unmount_under "$tdir"
}
trap cleanup EXIT

# (shellcheck: the functions below run through check(), which it cannot follow.)
# shellcheck disable=SC2317
# mount_root DIR: /proc, and a /dev of the root's own (a tmpfs with the few
# nodes sshd, ssh and apt open), so that the root's /dev/log is not the host's.
mount_root() {
  local r=$1
  mount -t proc proc "$r/proc" && mount -t tmpfs -o mode=0755,nosuid devtmp "$r/dev" || return 1
  mknod -m 666 "$r/dev/null" c 1 3 && mknod -m 666 "$r/dev/zero" c 1 5 &&
    mknod -m 666 "$r/dev/full" c 1 7 && mknod -m 666 "$r/dev/random" c 1 8 &&
    mknod -m 666 "$r/dev/urandom" c 1 9 && mknod -m 666 "$r/dev/tty" c 5 0 &&
    ln -s /proc/self/fd "$r/dev/fd" && mkdir -m 1777 "$r/dev/shm" || return 1
}
# shellcheck disable=SC2317
in_root() { # DIR command...: a clean environment, as apt and dpkg expect
  local r=$1
  shift
  timeout 600 chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
}

# cached_root SUITE ARCH PACKAGES [MMDEBSTRAP-OPTION]: prints the cached
# minbase tarball, building it once (the option, a hook directory, is a part
# of the cache key).
cached_root() {
  local suite=$1 arch=$2 pkgs=$3 opt=${4:-} key tar mirror
  key=$(printf '%s\n' "$suite" "$arch" "$pkgs" minbase ${opt:+"$opt"} | sha256sum | cut -c1-12)
  tar=$cache/$suite-$arch-$key.tar
  if [ -f "$tar" ] && [ -s "$tar" ]; then
    echo "$tar"
    return 0
  fi
  mirror=$(debian_mirror)
  echo "test-roots: mmdebstrap $suite $arch (minbase + $pkgs) from $mirror into $tar" >&2
  # Written beside the cache entry and renamed when complete, so a killed
  # run leaves no truncated root behind (the name still ends in .tar, which
  # mmdebstrap's format detection needs; --format says it anyway).
  local part=${tar%.tar}.part.tar
  rm -rf "$part"
  if timeout 1500 mmdebstrap --variant=minbase --format=tar --architectures="$arch" --include="$pkgs" ${opt:+"$opt"} \
    "$suite" "$part" "$mirror" >"$tdir/mmdebstrap-$suite-$arch.log" 2>&1; then
    mv "$part" "$tar" && echo "$tar"
  else
    rm -rf "$part"
    tail -n 20 "$tdir/mmdebstrap-$suite-$arch.log" >&2
    return 1
  fi
}

# fresh_root NAME TAR: NAME's directory under $tdir, extracted anew, mounted.
# shellcheck disable=SC2317
fresh_root() {
  local r=$tdir/$1
  remove_root "$r"
  mkdir -p "$r" && tar -xf "$2" -C "$r" && mount_root "$r" || return 1
  # mmdebstrap writes no /etc/hosts (the installer does): without it the
  # module's "localhost" would be a DNS query.
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
}

# --- the .debs and a signed repository holding them -----------------------------
deb_amd64=$dist/wpam_${VERSION}-1_amd64.deb
deb_arm64=$dist/wpam_${VERSION}-1_arm64.deb
if [ "${WPAM_TEST_NO_BUILD:-0}" != 1 ]; then
  echo "test-roots: building the .debs (ci/build/build-target.sh, packaging/linux.sh; incremental)"
  if ci/build/setup-cross.sh >"$tdir/build.log" 2>&1 &&
    ci/build/build-target.sh linux-amd64 >>"$tdir/build.log" 2>&1 && packaging/linux.sh amd64 deb >>"$tdir/build.log" 2>&1 &&
    ci/build/build-target.sh linux-arm64 >>"$tdir/build.log" 2>&1 && packaging/linux.sh arm64 deb >>"$tdir/build.log" 2>&1; then
    ok "built the amd64 and arm64 .deb"
  else
    tail -n 30 "$tdir/build.log"
    bad "build of the .debs (log: $tdir/build.log)"
  fi
fi
for f in "$deb_amd64" "$deb_arm64"; do [ -f "$f" ] || bad "artifact present: ${f#"$dist"/}"; done
[ "$fail" -eq 0 ] || finish

repo=$tdir/repo
export GNUPGHOME=$tdir/gnupg
rm -rf "$repo" "$GNUPGHOME"
mkdir -p "$repo/conf" "$GNUPGHOME"
chmod 700 "$GNUPGHOME"
# A throwaway key, never kept: the repository is signed as a real one is.
gpg --batch --quiet --passphrase '' --quick-gen-key 'wpam roots test repository <roots@wpam.invalid>' ed25519 sign 1d 2>/dev/null
fpr=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" {print $10; exit}')
printf '%s\n' "Origin: wpam-roots" "Label: wpam-roots" "Codename: wpam-roots" "Architectures: amd64 arm64" \
  "Components: main" "Description: wpam roots test repository (throwaway key)" "SignWith: $fpr" >"$repo/conf/distributions"
check "reprepro: signed repository with the amd64 and arm64 .deb" bash -c "
  reprepro -b '$repo' includedeb wpam-roots '$deb_amd64' '$deb_arm64' >/dev/null 2>&1 &&
  test -s '$repo/dists/wpam-roots/InRelease'"
gpg --batch --export "$fpr" >"$tdir/wpam-roots.gpg"
gpgconf --kill all 2>/dev/null || true

# apt_install_wpam ROOT: the repository as the root's only source, apt-get install wpam.
apt_install_wpam() {
  local r=$1 label=$2
  mkdir -p "$r/srv/repo" "$r/etc/apt/keyrings"
  cp -a "$repo/dists" "$repo/pool" "$r/srv/repo/"
  install -m 0644 "$tdir/wpam-roots.gpg" "$r/etc/apt/keyrings/wpam-roots.gpg"
  echo "deb [signed-by=/etc/apt/keyrings/wpam-roots.gpg] file:/srv/repo wpam-roots main" >"$r/etc/apt/sources.list"
  rm -f "$r"/etc/apt/sources.list.d/*
  check "$label: apt-get update verifies the repository's signature" bash -c "
    out=\$(timeout 300 chroot '$r' apt-get update 2>&1); rc=\$?; echo \"\$out\"; [ \$rc = 0 ] && ! grep -qiE 'NO_PUBKEY|not signed|^W:|^E:' <<<\"\$out\""
  check "$label: apt-get install wpam" in_root "$r" apt-get install -y -q wpam
  check "$label: wpam $VERSION installed, /usr/bin/wpam runs there" bash -c "
    chroot '$r' dpkg -s wpam | grep -qx 'Version: ${VERSION}-1' &&
    timeout 120 chroot '$r' /usr/bin/wpam --version | grep -qx 'wpam $VERSION'"
}
apt_purge_wpam() {
  local r=$1 label=$2 mod=$3
  check "$label: apt-get purge wpam removes the module, the command and the log file" bash -c "
    timeout 300 chroot '$r' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q wpam >/dev/null &&
    test ! -e '$r$mod' && test ! -e '$r/usr/bin/wpam' && test ! -e '$r/var/log/wpam.log' &&
    ! chroot '$r' dpkg -s wpam >/dev/null 2>&1"
}

# --- trixie: OpenSSH 10 --------------------------------------------------------
trixie() {
  local tar r=$tdir/trixie mod=/usr/lib/x86_64-linux-gnu/security/pam_wpam.so
  if ! tar=$(cached_root trixie amd64 openssh-server,openssh-client); then
    bad "trixie: mmdebstrap a Debian 13 root (log: $tdir/mmdebstrap-trixie-amd64.log)"
    return
  fi
  check "trixie: fresh root from $(basename "$tar")" fresh_root trixie "$tar" || return
  # shellcheck disable=SC2016 # dpkg-query's own ${...} fields
  ok "trixie: $(chroot "$r" dpkg-query -W -f '${Package} ${Version}, ' openssh-server libpam0g | sed 's/, $//')"
  # Users of the root's own uid range: /proc is shared with the host, and
  # the suite counts processes by uid.
  sed -i -E 's/^(UID|GID)_MIN\b.*/\1_MIN 42000/; s/^(UID|GID)_MAX\b.*/\1_MAX 42999/' "$r/etc/login.defs"
  apt_install_wpam "$r" trixie
  [ -f "$r$mod" ] || { bad "trixie: no $mod after install"; return; }
  local log=$tdir/trixie-e2e.log
  echo "test-roots: trixie: tests/e2e_sshd.rs against the root's sshd (log: $log)"
  if WPAM_E2E_ROOT=$r WPAM_E2E_ROOT_MODULE=$mod timeout 1800 \
    cargo nextest run --locked --test e2e_sshd --run-ignored ignored-only --test-threads 1 \
    --no-fail-fast >"$log" 2>&1; then
    ok "trixie: tests/e2e_sshd.rs passed against OpenSSH 10 ($(grep -E '^ *Summary' "$log" | sed 's/^ *//'))"
  else
    grep -E '^ *(PASS|FAIL|SIGSEGV|TIMEOUT)|panicked|Summary' "$log" | tail -n 40
    bad "trixie: tests/e2e_sshd.rs against OpenSSH 10 (log: $log)"
  fi
  check "trixie: the root's sshd uses PAMServiceName (OpenSSH 10), default sshd" bash -c "
    ssh-keygen -q -t ed25519 -N '' -f '$r/tmp/roots-hostkey' &&
    timeout 60 chroot '$r' /usr/sbin/sshd -T -f /dev/null -h /tmp/roots-hostkey | grep -qx 'pamservicename sshd'"
  apt_purge_wpam "$r" trixie "$mod"
  remove_root "$r"
}

# --- arm64 under qemu-user -------------------------------------------------------
api_pid=
start_api() { # STATE_DIR (a host path): starts the dev API, sets api_url and api_ca
  local state=$1 out=$tdir/arm64-api.out
  rm -rf "$state"
  target/release/examples/werbot-dev-server --listen 127.0.0.1:0 --state-dir "$state" \
    --service-key roots-service-key --map-login rootsalice >"$out" 2>&1 &
  api_pid=$!
  children+=("$api_pid")
  for _ in $(seq 100); do
    grep -q listening "$out" && break
    sleep 0.2
  done
  api_url=$(sed -n 's|.*listening on https://\([^ ]*\).*|\1|p' "$out" | head -n1)
  if [ -z "$api_url" ] || [ ! -s "$state/ca.pem" ]; then
    cat "$out"
    return 1
  fi
}
stop_api() {
  if [ -n "$api_pid" ]; then kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; fi
  api_pid=
}

# pam_login ROOT USER WERBOT-ID CODE: pamtester in the root answering both prompts.
pam_login() {
  printf '%s\n%s\n' "$3" "$4" | timeout 120 chroot "$1" /usr/bin/env -i PATH=/usr/bin:/bin \
    pamtester -v wpam-roots "$2" authenticate acct_mgmt
}
# expect RESULT DESCRIPTION LOGLINE ROOT USER ID CODE: pamtester's result
# (ok = authenticated, refused) and the module's log line for this login.
expect() {
  local want=$1 d=$2 line=$3 r=$4 out rc
  : >"$r/var/log/wpam-roots.log"
  out=$(pam_login "$r" "$5" "$6" "$7" 2>&1)
  rc=$?
  local logtext
  logtext=$(cat "$r/var/log/wpam-roots.log")
  if [ "$want" = ok ] && [ "$rc" = 0 ] && grep -q 'successfully authenticated' <<<"$out" && grep -qF -- "$line" <<<"$logtext"; then
    ok "$d"
  elif [ "$want" = refused ] && [ "$rc" != 0 ] && [ "$rc" != 124 ] && ! grep -q 'successfully authenticated' <<<"$out" &&
    grep -qF -- "$line" <<<"$logtext"; then
    ok "$d (refused)"
  else
    bad "$d: pamtester exit $rc, want $want and the log line '$line'"
    printf '%s\n' "$out" "--- wpam log:" "$logtext" | sed 's/^/      /' | tail -n 30
  fi
}

arm64() {
  local tar r=$tdir/arm64 mod=/usr/lib/aarch64-linux-gnu/security/pam_wpam.so
  # binfmt_misc runs the root's aarch64 ELF files through qemu-aarch64-static
  # (registered with the F flag: the interpreter is opened now, so it need
  # not exist inside the root).
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  fi
  if ! command -v update-binfmts >/dev/null || ! [ -x /usr/bin/qemu-aarch64-static ]; then
    bad "arm64: qemu-user-static and binfmt-support installed (ci/install-deps.sh)"
    return
  fi
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  if ! grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
    bad "arm64: binfmt_misc runs aarch64 binaries through qemu (update-binfmts --enable qemu-aarch64)"
    return
  fi
  ok "arm64: binfmt_misc: $(grep -E '^(interpreter|flags)' /proc/sys/fs/binfmt_misc/qemu-aarch64 | tr '\n' ' ')"
  if ! tar=$(cached_root bookworm arm64 pamtester); then
    bad "arm64: mmdebstrap a Debian 12 arm64 root (log: $tdir/mmdebstrap-bookworm-arm64.log)"
    return
  fi
  check "arm64: fresh root from $(basename "$tar")" fresh_root arm64 "$tar" || return
  check "arm64: the root's programs are aarch64 (uname -m under qemu, file header)" bash -c "
    [ \"\$(timeout 60 chroot '$r' uname -m)\" = aarch64 ] &&
    readelf -h '$r/usr/bin/pamtester' | grep -q 'Machine: *AArch64'"
  apt_install_wpam "$r" arm64
  [ -f "$r$mod" ] || { bad "arm64: no $mod after install"; return; }
  check "arm64: installed module is AArch64 and resolves against the root's libpam (ldd -r)" bash -c "
    readelf -h '$r$mod' | grep -q 'Machine: *AArch64' &&
    out=\$(timeout 120 chroot '$r' ldd -r '$mod' 2>&1); rc=\$?; echo \"\$out\"; [ \$rc = 0 ] && ! grep -qE 'not found|undefined symbol' <<<\"\$out\""
  api_logins "$r" arm64 "$mod" "under qemu "
  apt_purge_wpam "$r" arm64 "$mod"
  remove_root "$r"
}

# api_logins ROOT LABEL MODULE [WHERE]: pamtester in ROOT logging in through
# MODULE (a path, or the bare name libpam looks up in its directory) against
# the development Werbot API on the host's loopback: TOTP accepted, wrong
# code refused, an outage (connection refused) admitting the offline user
# only; each asserted on pamtester's result AND the module's log line.
api_logins() {
  local r=$1 label=$2 mod=$3 where=${4:-}
  check "$label: build the dev API and TOTP helper (host, amd64)" \
    nice -n 10 cargo build --release --locked --example werbot-dev-server --example totp
  chroot "$r" useradd -m -K UID_MIN=42000 -K UID_MAX=42999 rootsalice >/dev/null 2>&1
  chroot "$r" useradd -m -K UID_MIN=42000 -K UID_MAX=42999 rootsolivia >/dev/null 2>&1
  if ! start_api "$r/tmp/roots-api"; then
    bad "$label: the development Werbot API started on loopback"
    return
  fi
  # As the README sets it up: the service key in a root-only file.
  (umask 077 && echo "service_key=roots-service-key" >"$r/etc/security/wpam-roots.conf")
  local args="server_url=$api_url service_id=dev-service config=/etc/security/wpam-roots.conf ca_file=/tmp/roots-api/ca.pem log_file=/var/log/wpam-roots.log debug=true timeout=10 local_user_ip=127.0.0.1"
  printf 'auth required %s %s\naccount required %s %s\n' "$mod" "$args" "$mod" "$args" >"$r/etc/pam.d/wpam-roots"
  local code wrong
  code=$(target/release/examples/totp "$ALICE_SECRET")
  wrong=$(printf '%06d' $(((10#$code + 1) % 1000000)))
  expect ok "$label: pamtester: TOTP accepted through the installed module ($mod)" \
    "method=totp access granted" "$r" rootsalice alice@example.com "$code"
  expect refused "$label: pamtester: wrong TOTP code" "method=totp access denied" "$r" rootsalice alice@example.com "$wrong"
  check "$label: the API got the logins from the module ${where}(2 requests)" bash -c "
    [ \"\$(wc -l <'$r/tmp/roots-api/requests.jsonl')\" = 2 ]"
  # An outage is a failure to deliver: nothing listens on the port any more.
  stop_api
  local port=${api_url##*:}
  args="${args/server_url=$api_url/server_url=127.0.0.1:$port} offline_users=rootsolivia"
  printf 'auth required %s %s\naccount required %s %s\n' "$mod" "$args" "$mod" "$args" >"$r/etc/pam.d/wpam-roots"
  expect ok "$label: pamtester: API down (connection refused), offline user admitted" \
    "admitted as offline user" "$r" rootsolivia olivia@example.com 123456
  expect refused "$label: pamtester: API down, a user not named offline" \
    "denied (not an offline user)" "$r" rootsalice alice@example.com "$code"
  rm -f "$r/etc/pam.d/wpam-roots" "$r/etc/security/wpam-roots.conf"
}

# --- bookworm without merged /usr ----------------------------------------------
# A Debian 12 system upgraded from one without merged /usr: /lib is a real
# directory, and libpam looks for a module named without a path only in its
# compiled-in directory, /lib/x86_64-linux-gnu/security (where bookworm's
# libpam-modules has pam_unix.so). The .deb must put pam_wpam.so there, or
# `auth required pam_wpam.so` (the README's line, the pam-auth-update profile)
# fails every login with "Module is unknown".
nomerge() {
  local tar r=$tdir/nomerge pamdir=/lib/x86_64-linux-gnu/security
  if ! tar=$(cached_root bookworm amd64 pamtester --hook-dir=/usr/share/mmdebstrap/hooks/no-merged-usr); then
    bad "nomerge: mmdebstrap a Debian 12 root without merged /usr (log: $tdir/mmdebstrap-bookworm-amd64.log)"
    return
  fi
  check "nomerge: fresh root from $(basename "$tar")" fresh_root nomerge "$tar" || return
  check "nomerge: /lib and /usr/lib are separate directories; libpam-modules' pam_unix.so is in $pamdir" bash -c "
    [ ! -L '$r/lib' ] && [ -d '$r/lib' ] && [ ! -L '$r/usr/lib/x86_64-linux-gnu' ] &&
    chroot '$r' dpkg -L libpam-modules | grep -qx '$pamdir/pam_unix.so' && test -f '$r$pamdir/pam_unix.so'"
  apt_install_wpam "$r" nomerge
  check "nomerge: the .deb put pam_wpam.so in libpam-modules' directory $pamdir (dpkg -L wpam)" bash -c "
    chroot '$r' dpkg -L wpam | grep -qx '$pamdir/pam_wpam.so' && test -f '$r$pamdir/pam_wpam.so'"
  # By name, as /etc/pam.d and the pam-auth-update profile name it.
  api_logins "$r" nomerge pam_wpam.so
  apt_purge_wpam "$r" nomerge "$pamdir/pam_wpam.so"
  remove_root "$r"
}

case "$only" in
  "")
    trixie
    arm64
    nomerge
    ;;
  trixie) trixie ;;
  arm64) arm64 ;;
  nomerge) nomerge ;;
  *) bad "WPAM_ROOTS_ONLY=$only: trixie, arm64 or nomerge" ;;
esac
cleanup
rm -rf "$repo" "$GNUPGHOME"
finish
