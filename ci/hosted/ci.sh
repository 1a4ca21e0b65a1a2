#!/usr/bin/env bash
# The CI steps the workflows run (.github/workflows/*.yml only wire jobs to
# these). Each step works the same on a developer's Debian 12 machine.
#
#   ci/hosted/ci.sh setup      a bare debian:12 container: base packages, rustup
#                       (stable + rustfmt, clippy), the project's deps
#   ci/hosted/ci.sh fmt        cargo fmt --check
#   ci/hosted/ci.sh clippy     cargo clippy, all targets, warnings are errors
#   ci/hosted/ci.sh test       make test (unit, libpam, e2e, packages, lints, ...)
#   ci/hosted/ci.sh deny       cargo deny check licenses bans sources
#                       (+ advisories with WPAM_DENY_ADVISORIES=1: needs the
#                       advisory database from GitHub, so hosted CI only)
#   ci/hosted/ci.sh lint       ci/test/lint.sh (actionlint + shellcheck, hadolint)
#   ci/hosted/ci.sh build      ./build-all.sh (Docker image when an engine answers)
#   ci/hosted/ci.sh gate TAG   ci/release/gate.sh: TAG may be released (annotated,
#                       signed as GitHub verifies it, on main, Cargo.toml's version)
#   ci/hosted/ci.sh release-tools  the release job's tools, pinned (before any secret)
#   ci/hosted/ci.sh release    ci/release/release.sh: sign and verify (the signing key
#                       secrets; no token)
#   ci/hosted/ci.sh publish    ci/release/publish.sh publish: push gh-pages, then the
#                       GitHub release (GH_TOKEN; no signing key)
#   ci/hosted/ci.sh tap TOKENFILE  ci/release/publish.sh tap: the release's Homebrew
#                       formula (build/release/files/wpam.rb) into the tap
#                       werbot/homebrew-tap, with the token in TOKENFILE
#                       (HOMEBREW_TAP_TOKEN; none: says so, publishes nothing)
#   ci/hosted/ci.sh release-dry-run   ci/release/release.sh --dry-run
#   ci/hosted/ci.sh same-as-dist DIR  every file under DIR equals its namesake in
#                       dist/ (the BSD packages the VM jobs installed are the
#                       bytes the release ships: reproducible builds)
#   ci/hosted/ci.sh freebsd-test-repo DIR  the release's FreeBSD repositories of
#                       dist/'s package (ci/release/freebsd-repo.sh) under DIR, signed
#                       with a throwaway key made and deleted here: what the
#                       FreeBSD VM jobs install from
#   ci/hosted/ci.sh serve DIR PORT  serves DIR over HTTP on PORT (all addresses: the
#                       BSD VMs reach the runner through their gateway) in the
#                       background, for at most an hour; returns once it answers
#   ci/hosted/ci.sh bsd-release-files DIR  dist/'s BSD packages under their release
#                       names (wpam-<v>-<os>-amd64.<ext>) in DIR with a
#                       SHA256SUMS, its signature SHA256SUMS.asc and the public
#                       keyring wpam-archive-keyring.gpg, signed with a throwaway
#                       key made and deleted here: the release files the Ansible
#                       role's BSD path fetches in the VM jobs
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# rustup's cargo, and cargo-installed tools when CARGO_INSTALL_ROOT keeps them
# apart (the workflows do, to cache them).
for d in "$HOME/.cargo/bin" ${CARGO_INSTALL_ROOT:+"$CARGO_INSTALL_ROOT/bin"}; do
  case ":$PATH:" in *":$d:"*) ;; *) PATH=$d:$PATH ;; esac
done
export PATH

log() { printf 'ci: %s\n' "$*" >&2; }

step=${1:?usage: ci/hosted/ci.sh setup|fmt|clippy|test|deny|lint|build|gate TAG|release-tools|release|publish|tap TOKENFILE|release-dry-run|tested-as-shipped|same-as-tested DIR|same-as-dist DIR|freebsd-test-repo DIR|serve DIR PORT|bsd-release-files DIR}
shift
case "$step" in
  setup)
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends ca-certificates curl git make gcc libc6-dev \
        python3 python3-pip python3-venv sudo xz-utils >&2
      # actions/checkout leaves a tree owned by another uid in containers.
      git config --global --add safe.directory "$here"
    fi
    if ! command -v cargo >/dev/null; then
      # rustup-init by version and SHA-256 (as the Dockerfile), not a script
      # piped from sh.rustup.rs; the toolchain rustup checks itself.
      rustup_version=1.28.2
      case "$(uname -m)" in
        x86_64) rustup_sha256=20a06e644b0d9bd2fbdbfd52d42540bdde820ea7df86e92e533c073da0cdd43c ;;
        aarch64) rustup_sha256=e3853c5a252fca15252d07cb23a1bdd9377a8c6f3efa01531109281ae47f841c ;;
        *) log "no pinned rustup-init for $(uname -m)"; exit 1 ;;
      esac
      log "installing rustup $rustup_version (stable, minimal + rustfmt, clippy)"
      # (named rustup-init: it acts by the name it is run as)
      ri=$(mktemp -d)/rustup-init
      timeout 300 curl --proto '=https' --tlsv1.2 -sSf -o "$ri" \
        "https://static.rust-lang.org/rustup/archive/$rustup_version/$(uname -m)-unknown-linux-gnu/rustup-init"
      echo "$rustup_sha256  $ri" | sha256sum -c - >&2 || { log "rustup-init does not match its pinned SHA-256"; exit 1; }
      chmod 0755 "$ri"
      "$ri" -y --profile minimal --default-toolchain stable -c rustfmt -c clippy >&2
      rm -rf "$(dirname "$ri")"
      PATH=$HOME/.cargo/bin:$PATH
    fi
    # the release rust-toolchain.toml pins, whatever stable is today
    ci/build/rust-toolchain.sh ensure
    rustup component add rustfmt clippy >&2
    if [ -n "${GITHUB_PATH:-}" ]; then
      echo "$HOME/.cargo/bin" >>"$GITHUB_PATH"
      [ -z "${CARGO_INSTALL_ROOT:-}" ] || echo "$CARGO_INSTALL_ROOT/bin" >>"$GITHUB_PATH"
    fi
    ci/install-deps.sh
    ;;
  fmt) cargo fmt --all -- --check ;;
  clippy)
    ci/install-deps.sh
    cargo clippy --locked --all-targets -- -D warnings
    ;;
  test) make test ;;
  deny)
    ci/build/cargo-tools.sh deny
    checks=(licenses bans sources)
    [ "${WPAM_DENY_ADVISORIES:-0}" = 1 ] && checks+=(advisories)
    cargo deny --locked check "${checks[@]}"
    ;;
  lint) ci/test/lint.sh ;;
  build) ./build-all.sh "$@" ;;
  release) ci/release/release.sh --no-build "$@" ;;
  publish)
    # The signed, verified output of `ci/hosted/ci.sh release` (build/release/):
    # gh-pages first, then the GitHub release (ci/release/publish.sh).
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
    r=build/release
    ci/release/publish.sh publish "$version" "$r/files" "$r/site" "$r/RELEASE_NOTES.md" "$r/gh-pages" \
      "$r/site/wpam-archive-keyring.gpg"
    ;;
  tap)
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
    ci/release/publish.sh tap "$version" build/release/files "${1:?usage: ci/hosted/ci.sh tap TOKENFILE}"
    ;;
  gate) ci/release/gate.sh "$@" ;;
  release-tools)
    # The release job's tools, before any secret is in the environment:
    # cargo-cyclonedx (pinned, --locked, checked) and FreeBSD's pkg.
    ci/build/cargo-tools.sh cyclonedx
    packaging/freebsd/pkg-tool.sh >/dev/null
    # gh, for the publish step (Debian's package, from its signed archive)
    if ! command -v gh >/dev/null && [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gh >&2
    fi
    command -v gh >/dev/null || { log "gh is missing (apt-get install gh)"; exit 1; }
    ;;
  release-dry-run) ci/release/release.sh --dry-run "$@" ;;
  tested-as-shipped)
    # Shipped = tested (release.yml): the libpam, lifecycle, su, DNS and
    # real-sshd suites (make test-dist) and the package checks run against
    # dist/ exactly as the build job made it (WPAM_TEST_NO_BUILD: never
    # rebuilt here); what was tested is recorded for the release job, which
    # publishes only those bytes (ci/hosted/ci.sh same-as-tested).
    (cd dist && sha256sum --quiet -c SHA256SUMS) || { log "dist/ is not what its SHA256SUMS lists"; exit 1; }
    WPAM_TEST_NO_BUILD=1 make test-packages
    make test-dist
    mkdir -p build/tested-as-shipped
    cp dist/SHA256SUMS build/tested-as-shipped/SHA256SUMS
    log "tested: $(wc -l <dist/SHA256SUMS) files of dist/ (build/tested-as-shipped/SHA256SUMS)"
    ;;
  same-as-tested)
    dir=${1:?usage: ci/hosted/ci.sh same-as-tested DIR}
    sums=$(realpath "$dir/SHA256SUMS")
    cmp "$sums" dist/SHA256SUMS || { log "dist/SHA256SUMS is not the one the tested-as-shipped job tested"; exit 1; }
    (cd dist && sha256sum --quiet -c "$sums") || { log "dist/ differs from what was tested"; exit 1; }
    log "dist/ is byte for byte what the tested-as-shipped job tested"
    ;;
  same-as-dist)
    dir=${1:?usage: ci/hosted/ci.sh same-as-dist DIR}
    n=0
    while IFS= read -r -d '' f; do
      rel=${f#"$dir"/}
      cmp "$f" "dist/$rel" || { log "$rel differs from dist/$rel"; exit 1; }
      n=$((n + 1))
    done < <(find "$dir" -type f -print0)
    [ "$n" -gt 0 ] || { log "nothing under $dir"; exit 1; }
    log "$n files under $dir are byte for byte those in dist/"
    ;;
  freebsd-test-repo)
    dir=${1:?usage: ci/hosted/ci.sh freebsd-test-repo DIR}
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
    keydir=$(mktemp -d)
    (umask 077 && openssl genrsa -out "$keydir/key.pem" 2048 2>/dev/null)
    rc=0
    ci/release/freebsd-repo.sh "dist/freebsd-amd64/wpam-$version.pkg" "$dir" "$keydir/key.pem" \
      https://werbot.github.io/wpam || rc=$?
    rm -rf "$keydir"
    [ "$rc" = 0 ] || exit "$rc"
    find "$dir" -type f | LC_ALL=C sort
    ;;
  serve)
    dir=${1:?usage: ci/hosted/ci.sh serve DIR PORT}
    port=${2:?usage: ci/hosted/ci.sh serve DIR PORT}
    [ -d "$dir" ] || { log "no directory $dir"; exit 1; }
    nohup timeout 3600 python3 -m http.server --bind 0.0.0.0 --directory "$dir" "$port" \
      >"${RUNNER_TEMP:-/tmp}/wpam-serve-$port.log" 2>&1 &
    for _ in $(seq 100); do
      if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$port/" 2>/dev/null; then
        log "serving $dir on port $port (pid $!)"
        exit 0
      fi
      sleep 0.1
    done
    log "the server on port $port did not answer: $(cat "${RUNNER_TEMP:-/tmp}/wpam-serve-$port.log")"
    exit 1
    ;;
  bsd-release-files)
    dir=${1:?usage: ci/hosted/ci.sh bsd-release-files DIR}
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
    mkdir -p "$dir"
    # The names ci/release/release.sh gives them (NetBSD's and OpenBSD's collide in dist/).
    for p in freebsd-amd64/wpam-$version.pkg netbsd-amd64/wpam-$version.tgz openbsd-amd64/wpam-$version.tgz; do
      [ -s "dist/$p" ] || { log "dist/$p is missing (./build-all.sh)"; exit 1; }
      cp "dist/$p" "$dir/wpam-$version-${p%%/*}.${p##*.}"
    done
    GNUPGHOME=$(mktemp -d)
    export GNUPGHOME
    rc=0
    {
      # RSA: gpgv of any GnuPG release checks it (GnuPG 1.4 knows no EdDSA);
      # valid a day past the artifact's 14 days, for re-runs of the VM jobs.
      gpg --batch --quiet --passphrase '' --quick-gen-key 'wpam CI throwaway <ci@wpam.invalid>' rsa3072 sign 15d &&
        (cd "$dir" && find . -maxdepth 1 -type f -name 'wpam-*' ! -name '*.gpg' -printf '%f\n' | LC_ALL=C sort |
          xargs -d '\n' sha256sum >SHA256SUMS) &&
        gpg --batch --quiet --armor --detach-sign -o "$dir/SHA256SUMS.asc" "$dir/SHA256SUMS" &&
        gpg --batch --export-options export-minimal --export >"$dir/wpam-archive-keyring.gpg" &&
        gpgv --keyring "$(realpath "$dir/wpam-archive-keyring.gpg")" "$dir/SHA256SUMS.asc" "$dir/SHA256SUMS"
    } >&2 || rc=$?
    gpgconf --kill all >/dev/null 2>&1 || true
    rm -rf "$GNUPGHOME"
    [ "$rc" = 0 ] || exit "$rc"
    cat "$dir/SHA256SUMS"
    ;;
  *) log "unknown step '$step'"; exit 2 ;;
esac
