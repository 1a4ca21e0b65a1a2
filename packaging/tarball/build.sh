#!/usr/bin/env bash
# Makes the release tarball dist/wpam-<version>-<target>.tar.gz from
# dist/<target>/, reproducibly: members sorted by name, owner/group 0, mtime
# SOURCE_DATE_EPOCH, explicit modes, ustar format, gzip -n.
# Usage: packaging/tarball/build.sh <target>   (linux-amd64 ... openbsd-amd64, macos-universal)
# Contents: the module (login_-wpam on OpenBSD), the wpam command, pam_wpam.8,
# wpam.8, README.md and docs/{admin,werbot,fleet}.md, LICENSE, the platform's pam.d example
# (packaging/tarball/pam.d-sshd.<os>, <os> the target's part before the first
# "-": linux, freebsd, netbsd, macos; OpenBSD: login.conf/sshd_config lines),
# wpam.conf.example and install.sh (its platform fixed to <os>). macOS: the
# universal module and command as built (signed ad hoc by the linker: no
# byte of them may change here, or the signature breaks).
set -euo pipefail
# shellcheck source=../../ci/lib/err.sh
. "$(dirname "$0")/../../ci/lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
target=${1:?usage: packaging/tarball/build.sh <target>}
dist=${DIST_DIR:-$here/dist}
build=${WPAM_BUILD_DIR:-$here/build}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
os=${target%%-*}
name=wpam-$version-$target
stage=$build/tarball/$name

rm -rf "$stage"
mkdir -p "$stage"
if [ "$os" = openbsd ]; then
  [ -f "$dist/$target/login_-wpam" ] || [ -f "$dist/$target/pam_wpam.so" ] ||
    { echo "make-tarball: nothing built in $dist/$target" >&2; exit 1; }
  if [ -f "$dist/$target/login_-wpam" ]; then
    install -m 0555 "$dist/$target/login_-wpam" "$stage/login_-wpam"
  else
    # No login style yet: ship the library build so the target is covered.
    install -m 0644 "$dist/$target/pam_wpam.so" "$stage/pam_wpam.so"
  fi
  install -m 0644 packaging/tarball/login.conf.openbsd "$stage/login.conf.example"
else
  [ -f "$dist/$target/pam_wpam.so" ] || { echo "make-tarball: $dist/$target/pam_wpam.so missing" >&2; exit 1; }
  install -m 0644 "$dist/$target/pam_wpam.so" "$stage/pam_wpam.so"
  install -m 0644 "packaging/tarball/pam.d-sshd.$os" "$stage/pam.d-sshd.example"
fi
install -m 0644 packaging/man/pam_wpam.8 "$stage/pam_wpam.8"
# The operator command (wpam check / wpam test) and its manual, every target.
[ -f "$dist/$target/wpam" ] || { echo "make-tarball: $dist/$target/wpam missing" >&2; exit 1; }
install -m 0755 "$dist/$target/wpam" "$stage/wpam"
install -m 0644 packaging/man/wpam.8 "$stage/wpam.8"
install -m 0644 LICENSE "$stage/LICENSE"
if [ -f README.md ]; then
  install -m 0644 README.md "$stage/README.md"
else
  echo "make-tarball: warning: README.md missing" >&2
fi
install -m 0644 packaging/common/wpam.conf.example "$stage/wpam.conf.example"
# The admin's pages the README links to, where its links look for them.
mkdir -m 0755 "$stage/docs"
install -m 0644 docs/admin.md docs/werbot.md docs/fleet.md "$stage/docs/"
# install.sh with the platform fixed (the tarball is per target).
sed "s/^platform=\${WPAM_PLATFORM:-}\$/platform=\${WPAM_PLATFORM:-$os}/" \
  packaging/common/install.sh >"$stage/install.sh"
chmod 0755 "$stage/install.sh" "$stage"

out=$dist/$name.tar.gz
tar -C "$build/tarball" --sort=name --format=ustar \
  --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -cf - "$name" | gzip -9 -n >"$out.new"
mv "$out.new" "$out"
echo "$out"
