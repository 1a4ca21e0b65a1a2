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
#      WPAM_DEBIAN_MIRROR; and on this machine.
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

echo "test-scripts: $pass passed, $fail failed"
[ "$fail" = 0 ]
