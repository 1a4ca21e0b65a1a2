#!/usr/bin/env bash
# Builds the .deb (cargo-deb) and .rpm (rpmbuild) for one Linux
# architecture from the module ci/build/build-target.sh already built, into dist/.
# Usage: packaging/linux.sh amd64|arm64 [deb|rpm|both]
# Metadata: [package.metadata.deb] in Cargo.toml, packaging/rpm/wpam.spec.in;
# files under packaging/.
set -euo pipefail
# shellcheck source=../ci/lib/err.sh
. "$(dirname "$0")/../ci/lib/err.sh"

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
arch=${1:?usage: packaging/linux.sh amd64|arm64 [deb|rpm|both]}
what=${2:-both}
case "$arch" in
  amd64) triple=x86_64-unknown-linux-gnu ;;
  arm64) triple=aarch64-unknown-linux-gnu ;;
  *) echo "package-linux: unknown arch '$arch'" >&2; exit 2 ;;
esac
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target/cross}
dist=${DIST_DIR:-$here/dist}
build=${WPAM_BUILD_DIR:-$here/build}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

# The packages must carry exactly the module and the command in dist/linux-<arch>/.
for pair in libpam_wpam.so:pam_wpam.so wpam:wpam; do
  built=$CARGO_TARGET_DIR/$triple/release/${pair%%:*}
  [ -f "$built" ] || { echo "package-linux: $built missing; run ci/build/build-target.sh linux-$arch" >&2; exit 1; }
  shipped=$dist/linux-$arch/${pair#*:}
  if [ -f "$shipped" ] && ! cmp -s "$built" "$shipped"; then
    echo "package-linux: $built differs from $shipped" >&2
    exit 1
  fi
done

# Compressed man pages, reproducible (gzip -n: no name, no timestamp).
# The asset paths in Cargo.toml are relative to the source tree.
mkdir -p "$here/build/man"
for page in pam_wpam.8 wpam.8; do
  gzip -9 -n -c "packaging/man/$page" >"$here/build/man/$page.gz.new"
  mv "$here/build/man/$page.gz.new" "$here/build/man/$page.gz"
done
[ "$build" = "$here/build" ] || mkdir -p "$build"

mkdir -p "$dist"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

if [ "$what" != rpm ]; then
# .deb: the module is already stripped by the release profile (and for arm64
# the host strip could not read it): --no-strip keeps the exact bytes.
# Multi-Arch: foreign, not same: /usr/bin/wpam differs per architecture, so
# two architectures' packages cannot be installed side by side. The variant
# (Cargo.toml) puts the module in /lib/<triplet>/security, libpam-modules'
# own directory in bookworm (found there on every release, merged /usr or
# not).
rm -f "$dist/wpam_${version}-"*"_$arch.deb"
cargo deb --no-build --no-strip --target "$triple" --multiarch=foreign --variant "$arch" \
  --output "$dist/" >&2
# cargo-deb writes no md5sums (dpkg --verify, debsums): added here.
packaging/deb/md5sums.py "$dist/wpam_${version}-1_$arch.deb" >&2
ls "$dist/wpam_${version}-"*"_$arch.deb"
fi

if [ "$what" != deb ]; then
# .rpm: rpmbuild over packaging/rpm/wpam.spec.in (gzip payload, reproducible:
# see the spec), from the same bytes as the .deb.
rpmarch=$([ "$arch" = amd64 ] && echo x86_64 || echo aarch64)
rm -f "$dist/wpam-${version}-"*".$rpmarch.rpm"
stage=$build/rpm-$arch
rm -rf "$stage"
mkdir -p "$stage/src" "$stage/top" "$stage/out"
cp "$CARGO_TARGET_DIR/$triple/release/libpam_wpam.so" "$stage/src/pam_wpam.so"
cp "$CARGO_TARGET_DIR/$triple/release/wpam" "$stage/src/wpam"
cp "$here/build/man/pam_wpam.8.gz" "$here/build/man/wpam.8.gz" "$stage/src/"
cp packaging/common/logrotate packaging/common/wpam.conf.example README.md LICENSE \
  packaging/selinux/wpam.cil "$stage/src/"
mkdir -p "$stage/src/docs"
cp docs/admin.md docs/werbot.md docs/fleet.md "$stage/src/docs/"
# The spec from its template: fields from Cargo.toml, the scriptlets from
# packaging/rpm/ with every % doubled (rpmbuild expands macros in them).
python3 - "$stage" "$version" <<'PY'
import sys, tomllib
from pathlib import Path
stage, version = Path(sys.argv[1]), sys.argv[2]
pkg = tomllib.loads(Path("Cargo.toml").read_text())["package"]
def script(name):
    return Path("packaging/rpm", name).read_text().replace("%", "%%").rstrip("\n")
fields = {
    "@VERSION@": version,
    "@SUMMARY@": pkg["description"],
    "@LICENSE@": pkg["license"],
    "@URL@": pkg["homepage"],
    "@SRC@": str(stage / "src"),
    "@POST@": script("post_install.sh"),
    "@PREUN@": script("pre_uninstall.sh"),
    "@POSTUN@": script("post_uninstall.sh"),
}
spec = Path("packaging/rpm/wpam.spec.in").read_text()
for k, v in fields.items():
    if k not in spec:
        sys.exit(f"package-linux: {k} missing from packaging/rpm/wpam.spec.in")
    spec = spec.replace(k, v)
(stage / "wpam.spec").write_text(spec)
PY
# --nodeps: the build host is Debian (its rpm database is empty).
rpmbuild -bb --nodeps --quiet --target "$rpmarch-linux" \
  --define "_topdir $stage/top" --define "_rpmdir $stage/out" \
  --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
  "$stage/wpam.spec" >&2
mv "$stage/out/wpam-${version}-1.$rpmarch.rpm" "$dist/"
ls "$dist/wpam-${version}-"*".$rpmarch.rpm"
fi
