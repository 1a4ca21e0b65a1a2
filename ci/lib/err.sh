# shellcheck shell=bash
# Sourced right after `set -euo pipefail` by the bash scripts of ci/ and
# build-all.sh: a script that dies under set -e says which command failed,
#   packaging/tarball/build.sh: line 43: `install -m 0644 packaging/man/pam_wpam.8 "$stage/pam_wpam.8"` failed (exit 1)
# errtrace carries the trap into functions. It reports only what ends the
# script: a failure under errexit in the script's own shell. Inside $(...),
# <(...), a pipeline or a ( ) subshell a failure need not end anything (bash
# turns errexit off in $(...); a process substitution's status is lost), so
# there the command that uses the result, or the subshell, is the one named.
#
# Scripts that must work alone carry these lines themselves, unchanged: the
# ones the Dockerfile copies without the rest of ci/ (install-deps.sh,
# setup-cross.sh, cargo-tools.sh). POSIX sh scripts have no ERR trap: the
# Debian maintainer scripts, packaging/common/install.sh and the BSD VM
# scripts (through ci/hosted/bsd-vm-lib.sh) keep the last step in $step and carry
# this EXIT trap, also unchanged:
# trap 'case $? in 0) ;; *) echo "$0: failed (exit $?); last step: ${step:-none}" >&2 ;; esac' EXIT
# ci/test/scripts.sh (make lint-ci) checks that every script under set -e
# has one of the two, as written here.
set -o errtrace
trap 'case $-:$BASHPID in *e*:"$$") echo "${BASH_SOURCE[0]:-$0}: line $LINENO: \`$BASH_COMMAND\` failed (exit $?)" >&2 ;; esac' ERR
