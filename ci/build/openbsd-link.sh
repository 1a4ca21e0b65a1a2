#!/usr/bin/env bash
# The linker of the OpenBSD target: ci/build/build-target.sh sets it as
# CARGO_TARGET_X86_64_UNKNOWN_OPENBSD_LINKER (cargo-zigbuild keeps a linker
# set there). It links exactly as cargo-zigbuild's own wrapper does
# (`cargo-zigbuild zig cc -- -g -fno-sanitize=all -target x86_64-openbsd`),
# then proves that the executable is covered by indirect branch tracking:
#
# lld marks its output "x86 feature: IBT" (.note.gnu.property) only when
# every object it linked carries that property, i.e. was compiled with
# -fcf-protection=branch / -Zcf-protection=branch (or is assembly that
# declares it). The one object that cannot carry it is cargo-auditable's
# dependency list (`*_audit_data.o`, data only, no code), which makes lld
# drop the mark from the real output. So the same link is repeated to a
# scratch file without that object (after checking that it holds no
# executable section), and the scratch output must be marked IBT; it is
# then deleted. A code object without IBT (a C file built without the flag,
# assembly without <cet.h>) fails the build here, naming the object when
# lld can say it (-z cet-report is not accepted by zig cc, so the probe
# lists the objects without the property itself).
#
# tests/bsd_loaders.rs then checks the shipped binary: endbr64 at the entry
# point and at every code address the binary stores or computes.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

CARGO_ZIGBUILD_ZIG_COMMAND=${CARGO_ZIGBUILD_ZIG_COMMAND:-$(python3 -c 'import sys; print(sys.executable)')}
CARGO_ZIGBUILD_ZIG_COMMAND_ARGS=${CARGO_ZIGBUILD_ZIG_COMMAND_ARGS:--m ziglang}
export CARGO_ZIGBUILD_ZIG_COMMAND CARGO_ZIGBUILD_ZIG_COMMAND_ARGS
zigcc() { cargo-zigbuild zig cc -- -g -fno-sanitize=all -target x86_64-openbsd "$@"; }

zigcc "$@"

# Only the executable (the login style) is probed; `-shared` is the cdylib,
# which OpenBSD does not use.
out="" shared=0 prev=""
for a in "$@"; do
  [ "$prev" = -o ] && out=$a
  [ "$a" = -shared ] && shared=1
  case $a in @*) echo "openbsd-link: response file $a: IBT probe not supported" >&2; exit 1 ;; esac
  prev=$a
done
[ "$shared" = 0 ] && [ -n "$out" ] || exit 0

probe=$out.ibt-probe
args=()
prev=""
for a in "$@"; do
  if [ "$prev" = -o ]; then
    args+=("$probe")
  elif [[ $a == *_audit_data.o ]]; then
    # Data only: no section may be executable (flag X in readelf -S).
    if readelf -SW "$a" | awk '$1 ~ /^\[/ && $0 ~ / [A-Z]*X[A-Z]* / { bad = 1 } END { exit !bad }'; then
      echo "openbsd-link: $a has an executable section: it cannot be left out of the IBT probe" >&2
      exit 1
    fi
  else
    args+=("$a")
  fi
  prev=$a
done
zigcc "${args[@]}"
if readelf -nW "$probe" | grep -q 'x86 feature: IBT'; then
  rm -f "$probe"
  echo "openbsd-link: IBT: every linked object carries GNU_PROPERTY_X86_FEATURE_1_IBT" >&2
  exit 0
fi
rm -f "$probe"
echo "openbsd-link: the link of $out has objects without IBT (-fcf-protection=branch):" >&2
for a in "${args[@]}"; do
  case $a in
    *.o) readelf -nW "$a" 2>/dev/null | grep -q 'x86 feature: IBT' || echo "  $a" >&2 ;;
  esac
done
exit 1
