#!/usr/bin/env bash
# Cross-builds the wpam module (and on OpenBSD the BSD Auth login style) and the
# wpam command for one target with cargo-zigbuild, reproducibly, and copies the
# results to dist/<target>/. Usage: ci/build/build-target.sh <target>
#
#   target         Rust target                       libpam the module links
#   linux-amd64    x86_64-unknown-linux-gnu.2.17     libpam.so.0 (Linux-PAM)
#   linux-arm64    aarch64-unknown-linux-gnu.2.17    libpam.so.0 (Linux-PAM)
#   freebsd-amd64  x86_64-unknown-freebsd            libpam.so.6 (OpenPAM)
#   netbsd-amd64   x86_64-unknown-netbsd             libpam.so.4 (OpenPAM)
#   openbsd-amd64  x86_64-unknown-openbsd (tier 3)   none: no PAM on OpenBSD
#   macos-universal  aarch64- and x86_64-apple-darwin  /usr/lib/libpam.2.dylib (Apple's OpenPAM)
#                  joined into one universal (fat) file
#
# The build host has none of these libpams (or only the host's own), so the
# linker gets a stub shared object with the target's real soname, built by
# `zig cc` for that target: the module records the right DT_NEEDED and the
# real library is bound at load time. Sonames:
#   - Linux-PAM: libpam.so.0 (Debian 12 /lib/x86_64-linux-gnu/libpam.so.0; the
#     stub carries the same symbol versions, ci/build/pam-stub/linux-pam.map).
#   - FreeBSD: libpam.so.6. Sources: freebsd-src lib/libpam/libpam/Makefile
#     (`SHLIB_NAME= libpam.so.${SHLIB_MAJOR}`) with SHLIB_MAJOR from
#     lib/libpam/Makefile.inc, and lib/libpam/modules/Makefile.inc, which
#     names the modules `${LIB}.so.${LIB_MAJ}` with libpam's major: base
#     modules are /usr/lib/pam_*.so.6 (PLATFORMS.md, from FreeBSD sources).
#     The Makefile.inc revisions the code index holds are older (majors 2, 5).
#   - NetBSD: libpam.so.4. Source: NetBSD src lib/libpam/Makefile.inc sets the
#     major shared by libpam and its modules (/usr/lib/security/pam_*.so.N):
#     SHLIB_MAJOR=4 since rev 1.17 (2013-12-27), so NetBSD 7 to 10. Override
#     with WPAM_NETBSD_LIBPAM_SONAME if a NetBSD host says otherwise
#     (`readelf -d /usr/lib/libpam.so | grep SONAME`; the VM job prints it).
#     The NetBSD module must have exactly two PT_LOAD segments (ld.elf_so
#     map_object.c before 2024-08): zig links NetBSD outputs with
#     `--no-rosegment -znorelro` (it refuses --no-rosegment from us), hence
#     one R+X and one RW segment and no PT_GNU_RELRO; tests/bsd_loaders.rs
#     checks the result.
#
# Reproducibility: SOURCE_DATE_EPOCH (commit time) is exported, the source
# tree, CARGO_HOME, the target dir and the rust sysroot are remapped out of the
# binary (--remap-path-prefix, -ffile-prefix-map for C code built by the cc
# crate), and the release profile strips symbols.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
target=${1:?usage: ci/build/build-target.sh linux-amd64|linux-arm64|freebsd-amd64|netbsd-amd64|openbsd-amd64|macos-universal}

WPAM_NIGHTLY=${WPAM_NIGHTLY:-nightly-2026-10-29}
# A target dir of its own: no lock contention with host `cargo build/test`.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target/cross}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
dist=${DIST_DIR:-$here/dist}
stubroot=${WPAM_BUILD_DIR:-$here/build}/pam-stub

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

# The pinned release (rust-toolchain.toml), never whatever "stable" is here:
# the release image builds with the same one.
toolchain=$("$here/ci/build/rust-toolchain.sh" name)
"$here/ci/build/rust-toolchain.sh" ensure
pam=none
case "$target" in
  linux-amd64) triple=x86_64-unknown-linux-gnu; zbtriple=$triple.2.17; ztarget=x86_64-linux-gnu.2.17; pam=linux; soname=libpam.so.0 ;;
  linux-arm64) triple=aarch64-unknown-linux-gnu; zbtriple=$triple.2.17; ztarget=aarch64-linux-gnu.2.17; pam=linux; soname=libpam.so.0 ;;
  freebsd-amd64) triple=x86_64-unknown-freebsd; zbtriple=$triple; ztarget=x86_64-freebsd; pam=openpam; soname=libpam.so.6 ;;
  netbsd-amd64) triple=x86_64-unknown-netbsd; zbtriple=$triple; ztarget=x86_64-netbsd; pam=openpam; soname=${WPAM_NETBSD_LIBPAM_SONAME:-libpam.so.4} ;;
  openbsd-amd64) triple=x86_64-unknown-openbsd; zbtriple=$triple; ztarget=x86_64-openbsd; toolchain=$WPAM_NIGHTLY ;;
  macos-universal) triple=universal2-apple-darwin; zbtriple=$triple; pam=apple ;;
  *) echo "build-target: unknown target '$target'" >&2; exit 2 ;;
esac

zigcc() { python3 -m ziglang cc "$@"; }

# --- libpam link stub ---------------------------------------------------------
rustflags=()
if [ "$pam" = apple ]; then
  # macOS: linked by rust-lld as ld64 (-C linker-flavor=ld64.lld), not by
  # zig's Mach-O linker, which ignores -exported_symbols_list (every Rust
  # symbol of the module would be exported; seen with zig 0.17). ld64.lld
  # honours it (the module exports pam_sm_* only), strips unused dylibs
  # (-dead_strip_dylibs: libiconv, which the libc crate names, is not
  # recorded) and signs each slice ad hoc (-adhoc_codesign: the arm64 kernel
  # runs no unsigned code; Apple's OpenPAM clears library validation for a
  # module that fails to load, openpam_dynamic.c, so an ad-hoc signature is
  # what a module needs; see PLATFORMS.md, macOS). ring's C is still compiled
  # by zig cc (cargo-zigbuild). The link needs the SDK's text stubs (.tbd),
  # which are not here:
  #   - libSystem: zig's own copy of the SDK's libSystem.tbd, with the
  #     arm64 target added beside arm64e and zig's private arm64e.x1 and
  #     maccatalyst targets dropped (ld64.lld refuses them); libc and libm
  #     are libSystem, as in the SDK;
  #   - libpam: /usr/lib/libpam.2.dylib with Apple's exports
  #     (ci/build/pam-stub/apple-openpam.syms). compatibility-version 1:
  #     dyld refuses a library whose current version is below what the
  #     module records, and Apple's is 3.0.0 since OpenPAM-34 (older macOS
  #     releases had lower ones); 1 is what any of them satisfies;
  #   - libiconv: an empty stub, so that -liconv resolves; dead-stripped.
  stubdir=$stubroot/$target
  mkdir -p "$stubdir"
  zig_lib=$(python3 -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "lib"))')
  python3 "$here/ci/build/pam-stub/macos-tbd.py" "$zig_lib/libc/darwin/libSystem.tbd" \
    "$here/ci/build/pam-stub/apple-openpam.syms" "$stubdir"
  lld=$(rustup run "$toolchain" rustc --print sysroot)/lib/rustlib/$(rustup run "$toolchain" rustc -vV | sed -n 's/^host: //p')/bin/rust-lld
  [ -x "$lld" ] || { echo "build-target: no rust-lld at $lld" >&2; exit 1; }
  # -S: no debug map (N_OSO stabs naming the object files' build paths).
  # The release profile strips symbols after the link, but ld64.lld hashes
  # the output before that into LC_UUID: with the map, two builds in two
  # directories got different UUIDs (and page hashes), nothing else.
  rustflags+=(-C linker-flavor=ld64.lld "-C" "linker=$lld" -L "native=$stubdir"
    -C link-arg=-dead_strip_dylibs -C link-arg=-adhoc_codesign -C link-arg=-S)
  # Both slices for macOS 11 (Big Sur, the first with arm64) and later: rustc
  # and zig cc (ring's C) read it; zig's default is its newest SDK.
  export MACOSX_DEPLOYMENT_TARGET=11.0
elif [ "$pam" != none ]; then
  stubdir=$stubroot/$target
  mkdir -p "$stubdir"
  src=$stubdir/pam_stub.c
  : >"$src.new"
  if [ "$pam" = linux ]; then
    syms=$(sed -e 's:/\*.*\*/::' "$here/ci/build/pam-stub/linux-pam.map" | tr -s ' ;{}' '\n' | grep -E '^pam_[a-z_]+$' | sort -u)
    verflag=("-Wl,--version-script=$here/ci/build/pam-stub/linux-pam.map")
  else
    syms=$(grep -vE '^(#|$)' "$here/ci/build/pam-stub/openpam.syms")
    verflag=()
  fi
  for s in $syms; do printf 'void %s(void) {}\n' "$s" >>"$src.new"; done
  mv "$src.new" "$src"
  zigcc -target "$ztarget" -shared -nostdlib -fPIC -O0 -Wl,-soname,"$soname" \
    "${verflag[@]}" -o "$stubdir/$soname" "$src"
  ln -sf "$soname" "$stubdir/libpam.so"
  rustflags+=(-L "native=$stubdir")
fi

# --- rustc flags: path remapping ---------------------------------------------
sysroot=$(rustup run "$toolchain" rustc --print sysroot)
# With the rust-src component installed, rustc turns std's virtual
# /rustc/<commit>/ paths back into the real ones under the sysroot; the last
# prefix maps them to the virtual path again, so that the bytes do not depend
# on whether this machine has rust-src (the last matching prefix wins).
rustc_commit=$(rustup run "$toolchain" rustc -vV | sed -n 's/^commit-hash: //p')
[ -n "$rustc_commit" ] || { echo "build-target: no commit-hash in rustc -vV" >&2; exit 1; }
rustflags+=(
  "--remap-path-prefix=$here=/build/wpam"
  "--remap-path-prefix=$cargo_home=/cargo"
  "--remap-path-prefix=$CARGO_TARGET_DIR=/build/target"
  "--remap-path-prefix=$sysroot=/rustc-sysroot"
  "--remap-path-prefix=$sysroot/lib/rustlib/src/rust=/rustc/$rustc_commit"
)
# C sources compiled by the cc crate (ring) through zig: same remapping.
cflags="-ffile-prefix-map=$here=/build/wpam -ffile-prefix-map=$cargo_home=/cargo -ffile-prefix-map=$CARGO_TARGET_DIR=/build/target"

# --- OpenBSD: indirect branch tracking (IBT) ----------------------------------
# OpenBSD >= 7.4 enforces IBT on CPUs that have it (machdep.c
# maybe_enable_user_cet: ENDBR_EN | NO_TRACK_EN unless the binary carries
# PT_OPENBSD_NOBTCFI): every indirect call or jump must land on endbr64 or
# the process dies with SIGILL. The style is built the way OpenBSD's own
# toolchain builds every port, so that it runs *with* IBT enforced, not
# opted out: rustc -Zcf-protection=branch (OpenBSD's lang/rust patches this
# in as the default) for our code and std (-Zbuild-std), -fcf-protection=branch
# for ring's C and assembly (cc crate; ring's asm_base.h then includes
# <cet.h>: endbr64 at every entry point plus the IBT property note), and the
# same flag on the link so that zig compiles OpenBSD's crt0 (and the libc++abi
# and libunwind it links statically) with it. ci/build/openbsd-link.sh, the linker,
# proves that every linked code object carries the IBT property (lld's AND
# of GNU_PROPERTY_X86_FEATURE_1_IBT) and fails the build otherwise;
# tests/bsd_loaders.rs checks endbr64 at every target the binary exposes.
# Not PT_OPENBSD_NOBTCFI (`-z nobtcfi`): that opts a root-run authentication
# program out of a hardening OpenBSD turns on for everything it builds.
if [ "$target" = openbsd-amd64 ]; then
  rustflags+=(-Zcf-protection=branch -Clink-arg=-fcf-protection=branch)
  cflags="$cflags -fcf-protection=branch"
  export CARGO_TARGET_X86_64_UNKNOWN_OPENBSD_LINKER="$here/ci/build/openbsd-link.sh"
fi
if [ "$target" = macos-universal ]; then
  # Per target, not RUSTFLAGS: cargo-zigbuild asks rustc about the host
  # with RUSTFLAGS too, and the host refuses linker-flavor=ld64.lld.
  export CARGO_TARGET_AARCH64_APPLE_DARWIN_RUSTFLAGS="${rustflags[*]}"
  export CARGO_TARGET_X86_64_APPLE_DARWIN_RUSTFLAGS="${rustflags[*]}"
  unset RUSTFLAGS
else
  RUSTFLAGS="${rustflags[*]}"
  export RUSTFLAGS
fi
export "CFLAGS_${triple//-/_}=$cflags"
if [ "$target" = macos-universal ]; then
  # The universal target is two cargo builds of the real triples.
  export CFLAGS_aarch64_apple_darwin="$cflags" CFLAGS_x86_64_apple_darwin="$cflags"
fi

outdir=$dist/$target
rm -rf "$outdir"
mkdir -p "$outdir"
reldir=$CARGO_TARGET_DIR/$triple/release

# Supply chain (release pipeline; ci/release/release.sh checks the result): when
# cargo-auditable is installed (ci/build/setup-cross.sh installs it, pinned in
# ci/build/cargo-tools.sh), every module embeds its dependency tree in a .dep-v0
# section (`cargo auditable <subcommand>`: a rustc wrapper, same code, ~1 KB
# more). WPAM_AUDITABLE=0 builds without it.
aud=()
if [ "${WPAM_AUDITABLE:-1}" = 1 ] && command -v cargo-auditable >/dev/null; then aud=(auditable); fi

echo "build-target: $target ($zbtriple, toolchain $toolchain, libpam ${soname:-none}${aud:+, cargo auditable})" >&2
has_bin=0
[ -f "$here/src/bin/login_wpam.rs" ] && has_bin=1

if [ "$target" = openbsd-amd64 ]; then
  zb=(cargo "+$toolchain" "${aud[@]}" zigbuild --release --locked --target "$zbtriple" "-Zbuild-std=std,panic_abort")
  if [ "$has_bin" = 1 ]; then
    "${zb[@]}" --bins
    bin=""
    for b in "login_-wpam" login_wpam; do [ -f "$reldir/$b" ] && bin=$reldir/$b && break; done
    [ -n "$bin" ] || { echo "build-target: no login_-wpam binary in $reldir" >&2; exit 1; }
    install -m 0555 "$bin" "$outdir/login_-wpam"
    # The operator command (src/bin/wpam/), built with --bins.
    install -m 0555 "$reldir/wpam" "$outdir/wpam"
    if "${zb[@]}" --lib; then
      install -m 0644 "$reldir/libpam_wpam.so" "$outdir/pam_wpam.so"
    else
      echo "build-target: note: the library does not build for OpenBSD (not shipped there)" >&2
    fi
  else
    "${zb[@]}" --lib
    install -m 0644 "$reldir/libpam_wpam.so" "$outdir/pam_wpam.so"
  fi
elif [ "$target" = netbsd-amd64 ]; then
  # cargo-zigbuild 0.24 refuses NetBSD as a target ("unsupported target"),
  # although zig itself links for it: plain cargo with cargo-zigbuild's
  # `zig cc` / `zig ar` wrappers as linker and C toolchain.
  wrap=${WPAM_BUILD_DIR:-$here/build}/zig-wrap
  mkdir -p "$wrap"
  zig_py=$(python3 -c 'import sys; print(sys.executable)')
  for tool in cc ar; do
    {
      echo '#!/bin/sh'
      echo "export CARGO_ZIGBUILD_ZIG_COMMAND='$zig_py'"
      echo "export CARGO_ZIGBUILD_ZIG_COMMAND_ARGS='-m ziglang'"
      if [ "$tool" = cc ]; then
        echo "exec cargo-zigbuild zig cc -- -g -fno-sanitize=all -target $ztarget \"\$@\""
      else
        echo "exec cargo-zigbuild zig ar -- \"\$@\""
      fi
    } >"$wrap/zig$tool-$triple.sh"
    chmod 0755 "$wrap/zig$tool-$triple.sh"
  done
  tvar=$(tr 'a-z-' 'A-Z_' <<<"$triple")
  env "CARGO_TARGET_${tvar}_LINKER=$wrap/zigcc-$triple.sh" \
    "CC_${triple//-/_}=$wrap/zigcc-$triple.sh" "AR_${triple//-/_}=$wrap/zigar-$triple.sh" \
    cargo "+$toolchain" "${aud[@]}" build --release --locked --lib --bin wpam --target "$triple"
  install -m 0644 "$reldir/libpam_wpam.so" "$outdir/pam_wpam.so"
  install -m 0755 "$reldir/wpam" "$outdir/wpam"
elif [ "$target" = macos-universal ]; then
  # cargo-zigbuild builds both slices and joins them into one fat file.
  cargo "+$toolchain" "${aud[@]}" zigbuild --release --locked --lib --bin wpam --target "$zbtriple"
  install -m 0644 "$reldir/libpam_wpam.dylib" "$outdir/pam_wpam.so"
  install -m 0755 "$reldir/wpam" "$outdir/wpam"
else
  # The module and the operator command (src/bin/wpam/, wpam(8)).
  cargo "+$toolchain" "${aud[@]}" zigbuild --release --locked --lib --bin wpam --target "$zbtriple"
  install -m 0644 "$reldir/libpam_wpam.so" "$outdir/pam_wpam.so"
  install -m 0755 "$reldir/wpam" "$outdir/wpam"
fi
ls -l "$outdir" >&2
