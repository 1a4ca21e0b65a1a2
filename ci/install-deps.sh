#!/usr/bin/env bash
# Installs the Debian packages wpam's build and tests need. As root it runs
# apt-get; otherwise it prints the exact command and fails if something is missing.
# `ci/install-deps.sh build` asks only for what building the module and running
# `make demo` / the libpam tests need, so those work without the packaging tools.
set -euo pipefail
# ci/lib/err.sh's trap, inline: the Dockerfile copies this script without it.
set -o errtrace
trap 'case $-:$BASHPID in *e*:"$$") echo "${BASH_SOURCE[0]:-$0}: line $LINENO: \`$BASH_COMMAND\` failed (exit $?)" >&2 ;; esac' ERR
# libnss-wrapper: the libpam tests' and the demo's logins (alice...) as users
# of this machine, for the module's getpwnam_r (tests/support/with-test-users.sh)
build_pkgs=(libpam0g-dev pkg-config ca-certificates libnss-wrapper)
pkgs=("${build_pkgs[@]}"
  # cross builds and packages (build-all.sh, ci/build/setup-cross.sh, packaging/linux.sh)
  git dpkg-dev python3-pip binutils xz-utils
  # package checks (ci/test/packages.sh, ci/test/reproducible.sh)
  lintian rpm rpmlint debootstrap reprepro gnupg libarchive-tools zstd mandoc
  shellcheck
  # the Homebrew formula's syntax, ruby -c (ci/test/scripts.sh)
  ruby
  # OpenBSD package signatures, signify -Sz/-Vz (ci/release/sign-openbsd.sh)
  signify-openbsd
  # FreeBSD's pkg, built for this host (packaging/freebsd/pkg-tool.sh), and the repository key
  build-essential m4 libarchive-dev libssl-dev liblzma-dev zlib1g-dev libbz2-dev
  libbsd-dev libattr1-dev libacl1-dev openssl
  # pkg create as a user other than root: root-owned staged files (packaging/freebsd/build.sh)
  fakeroot
  # end-to-end tests (make test-e2e): a real sshd and ssh client, useradd;
  # wpam check's sshd -T and ssh-keygen (tests/wpam_command.rs)
  openssh-server openssh-client passwd
  # other Debian roots (ci/test/roots.sh): trixie's sshd, arm64 under qemu-user
  # (arch-test: mmdebstrap refuses a foreign architecture without it)
  mmdebstrap arch-test qemu-user-static binfmt-support
  # the proxy tests (tests/pam.rs, tests/wpam_command.rs): a real HTTP CONNECT proxy
  tinyproxy
  # the SELinux policy module checks (ci/test/selinux.sh): semodule, sesearch/
  # seinfo and their python3-setools, selabel_lookup. Tools only: the policy
  # (selinux-policy-default) goes into a scratch store, never onto this host,
  # and SELinux stays off
  policycoreutils setools selinux-utils
  # the Ansible role's test (ci/test/ansible.sh): a venv for the pinned
  # ansible-core and ansible-lint (deploy/ansible/requirements.txt)
  python3-venv)
[ "${1:-}" = build ] && pkgs=("${build_pkgs[@]}")
if ! command -v dpkg-query >/dev/null; then
  # Not Debian: the package names above mean nothing here. Building needs a C
  # linker and libpam to link against (the distribution's PAM development
  # package: pam-devel on Fedora/RHEL, pam on Arch, part of the BSD base).
  if [ "${1:-}" = build ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    printf 'int pam_start(); int main(void) { return pam_start != 0 ? 0 : 1; }\n' >"$tmp/t.c"
    if cc "$tmp/t.c" -lpam -o "$tmp/t" 2>"$tmp/err"; then exit 0; fi
    echo "ci/install-deps.sh: cannot link against libpam (cc ... -lpam):" >&2
    cat "$tmp/err" >&2
    echo "install a C compiler and your distribution's PAM development package (Fedora/RHEL: gcc pam-devel)" >&2
    exit 1
  fi
  echo "ci/install-deps.sh: the test suite needs Debian 12 or later (apt, dpkg, debootstrap); here only 'make build' works (docs/development.md)" >&2
  exit 1
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
