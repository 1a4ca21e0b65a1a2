#!/usr/bin/env bash
# Runs `.ci/run` as on a brand-new CI machine, on this one (`make ci-fresh-root`):
# in a Debian 12 root that holds only what a new machine holds, so that an
# install step missing from ci/install-deps.sh fails here instead of on the
# next contributor's machine (issue 20: arch-test). docs/fresh-root.md.
#
#   ci/test/fresh-root.sh [--build-only | --shell | --run CMD] [COMMIT]
#
# Phases:
#   1. host: ci/install-deps.sh (mmdebstrap and friends).
#   2. base root, built once per cache key and kept under
#      WPAM_FRESH_ROOT_CACHE (default /var/cache/wpam-fresh-root): mmdebstrap
#      bookworm (variant apt), then the Debian packages of the machine image
#      (ci/test/fresh-root/image-packages.txt, --no-install-recommends); those the
#      mirror cannot install are dropped and listed. The host's apt sources,
#      apt.conf.d settings, resolv.conf, hosts and extra CA certificates are
#      copied in. Key: sha256 of that list, this script's ROOT_FORMAT, the
#      apt sources and the CA certificates.
#   3. a run of its own: an overlay over the base (the base is never written),
#      copy-on-write overlays over the host's /root/.rustup and /root/.pyenv
#      (the host's are never written), copies of /root/.cargo without
#      registry/ and git/, /usr/local/bin/cargo-nextest and the image's second
#      git under /usr/local; the pip packages the image's Python 3.11 lacks are
#      uninstalled from the copy; COMMIT (default HEAD of this repository)
#      `git clone`d to /root/wpam, /work/shared copied read-only to
#      /root/shared.
#   4. entered with unshare (mount + PID namespaces: every mount is private
#      to it and goes with it; at the time limit the whole namespace is
#      killed) and chroot: own /proc, read-only /sys, binfmt_misc, a /dev of
#      its own (null, zero, full, random, urandom, tty, a new devpts), /run a
#      tmpfs, /tmp the root's own; the host's network.
#   5. `CI=true bash .ci/run` there, no stdin, the machine's environment
#      (PATH with pyenv and cargo, the CA variables), all of it logged.
# Exits with the run's status and says where the log is.
#
# Environment: WPAM_FRESH_ROOT_CACHE (cache dir), WPAM_FRESH_ROOT_LIMIT
# (timeout(1) duration, default 90m), WPAM_FRESH_ROOT_LOG (log file),
# WPAM_FRESH_ROOT_KEEP=1 (keep the run's files), WPAM_DEBIAN_MIRROR.
set -euo pipefail
# shellcheck source=../lib/err.sh
. "$(dirname "$0")/../lib/err.sh"
# shellcheck source=../lib/apt.sh
. "$(dirname "$0")/../lib/apt.sh"

# Bump when the steps that build the base root change: a new cache key.
ROOT_FORMAT=1
SUITE=bookworm
here=$(cd "$(dirname "$0")/../.." && pwd)
self=$here/ci/test/fresh-root.sh
list=$here/ci/test/fresh-root/image-packages.txt
cache=${WPAM_FRESH_ROOT_CACHE:-/var/cache/wpam-fresh-root}
# The machine's environment that .ci/run gets (the variables a new machine
# sets that matter to the suite); the CA variables are taken from this host.
ROOT_PATH=/root/.pyenv/bin:/root/.pyenv/shims:/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PASS_ENV=(SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE PIP_CERT GIT_SSL_CAINFO
  NODE_EXTRA_CA_CERTS AWS_CA_BUNDLE PIP_DEFAULT_TIMEOUT PIP_DISABLE_PIP_VERSION_CHECK
  PYTHONDONTWRITEBYTECODE PYTHONUNBUFFERED RUSTUP_AUTO_INSTALL RUST_BACKTRACE DEBIAN_FRONTEND
  http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY)

phase() { printf '\n== fresh-root: %s\n' "$*" >&2; }
say() { printf 'fresh-root: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# apt_names / pip_names: the image's package names of one kind, one a line.
apt_names() { awk -F'\t' '$1 == "apt" { print $2 }' "$list"; }
pip_names() { awk -F'\t' '$1 == "pip 3.11" { n = tolower($2); gsub(/[-_.]+/, "-", n); print n }' "$list" | sort -u; }

# The apt sources of this host that are in use (as apt reads them).
host_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [ -f "$f" ]; then echo "$f"; fi
  done
}

# --- inside the base root, called as mmdebstrap's customize hook ----------------
# install_image_packages ROOT: every `apt` package of the list that the
# mirror has, in one apt-get call; the others are listed and dropped.
install_image_packages() {
  local r=$1 p cand ok=() dropped=()
  chroot "$r" apt-get update -qq
  while read -r p; do
    cand=$(chroot "$r" apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p') || true
    case "$cand" in
      '' | '(none)') dropped+=("$p") ;;
      *) ok+=("$p") ;;
    esac
  done < <(apt_names)
  mkdir -p "$r/var/lib/wpam-fresh-root"
  printf '%s\n' "${dropped[@]}" >"$r/var/lib/wpam-fresh-root/dropped-packages.txt"
  say "${#ok[@]} image packages to install; ${#dropped[@]} the mirror does not have (dropped): ${dropped[*]}"
  # The image's own sources may have served some of these (google-cloud-*,
  # nodejs from nodesource); they are not reachable here.
  chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${ok[@]}" >"$r/var/lib/wpam-fresh-root/apt-install.log" 2>&1 ||
    { tail -n 40 "$r/var/lib/wpam-fresh-root/apt-install.log" >&2; return 1; }
  # What apt pulled in beyond the list (a dependency resolved differently
  # than on the image), for the record.
  comm -13 <(apt_names | sed 's/:.*//' | sort -u) \
    <(chroot "$r" dpkg-query -W -f="\${db:Status-Abbrev} \${Package}\n" | awk '$1 == "ii" { print $2 }' | sort -u) \
    >"$r/var/lib/wpam-fresh-root/not-in-image.txt"
  if [ -s "$r/var/lib/wpam-fresh-root/not-in-image.txt" ]; then
    say "installed beyond the image list (dependencies): $(tr '\n' ' ' <"$r/var/lib/wpam-fresh-root/not-in-image.txt")"
  fi
  # The host's trust anchors (a new machine has the same) and apt settings.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/"
    chroot "$r" update-ca-certificates >/dev/null
  fi
  chroot "$r" apt-get clean
}

# build_base DIR: the base root into DIR (absent).
build_base() {
  local dir=$1 mirror security
  mirror=$(debian_mirror)
  security=${mirror%/debian}/debian-security
  say "mmdebstrap $SUITE from $mirror into $dir"
  mmdebstrap --variant=apt --mode=root --format=directory \
    --aptopt='Acquire::Retries "3"' \
    --customize-hook="$(printf '%q' "$self") --install-image-packages \"\$1\"" \
    "$SUITE" "$dir" \
    "deb $mirror $SUITE main" "deb $mirror $SUITE-updates main" "deb $security $SUITE-security main"
  # apt inside reaches what this host reaches, configured as here.
  rm -f "$dir"/etc/apt/sources.list "$dir"/etc/apt/sources.list.d/*
  local f
  while read -r f; do cp "$f" "$dir$f"; done < <(host_sources)
  for f in /etc/apt/apt.conf.d/*; do
    [ -e "$dir$f" ] || cp "$f" "$dir$f"
  done
  cp -L /etc/hosts "$dir/etc/hosts"
  printf '%s\n' "$ROOT_FORMAT" >"$dir/var/lib/wpam-fresh-root/format"
}

# --- inside the namespace (pid 1 there) ------------------------------------------
# inside RUN BASE REPO COMMIT MODE [CMD]: mounts, copies, chroot.
inside() {
  local run=$1 base=$2 repo=$3 commit=$4 mode=$5 cmd=${6:-}
  local m=$run/root d
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$m"
  for d in .rustup .pyenv; do
    if [ -d "/root/$d" ]; then
      mkdir -p "$run/$d/upper" "$run/$d/work" "$m/root/$d"
      mount -t overlay overlay -o "lowerdir=/root/$d,upperdir=$run/$d/upper,workdir=$run/$d/work" "$m/root/$d"
    fi
  done
  # /root/.cargo without its registry and git caches: crates come fresh.
  mkdir -p "$m/root/.cargo"
  for d in /root/.cargo/*; do
    case "${d##*/}" in registry | git) continue ;; esac
    cp -a --reflink=auto "$d" "$m/root/.cargo/"
  done
  cp -a /usr/local/bin/cargo-nextest "$m/usr/local/bin/"
  # The image's second git, under /usr/local (not the session tools there).
  for d in /usr/local/bin/git /usr/local/bin/git-* /usr/local/bin/scalar; do
    if [ -e "$d" ]; then cp -a "$d" "$m/usr/local/bin/"; fi
  done
  for d in libexec/git-core share/git-core share/gitweb share/perl5; do
    if [ -d "/usr/local/$d" ]; then mkdir -p "$m/usr/local/${d%/*}" && cp -a "/usr/local/$d" "$m/usr/local/${d%/*}/"; fi
  done
  cp -L /etc/resolv.conf "$m/etc/resolv.conf"

  # The commit, cloned as CI clones it, and shared/ beside it without write bits.
  git clone --quiet --no-hardlinks "$repo" "$m/root/wpam"
  git -C "$m/root/wpam" checkout --quiet --detach "$commit"
  if [ -d /work/shared ]; then
    cp -a /work/shared "$m/root/shared"
    chmod -R a-w "$m/root/shared"
  fi

  mount -t proc -o nosuid,nodev,noexec proc "$m/proc"
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$m/sys"
  mount -t binfmt_misc binfmt_misc "$m/proc/sys/fs/binfmt_misc" || say "binfmt_misc could not be mounted: the arm64 root will fail"
  mount -t tmpfs -o mode=0755,nosuid tmpfs "$m/dev"
  for d in null zero full random urandom tty; do
    touch "$m/dev/$d"
    mount --bind "/dev/$d" "$m/dev/$d"
  done
  mkdir "$m/dev/pts" "$m/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$m/dev/pts"
  ln -s pts/ptmx "$m/dev/ptmx"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$m/dev/shm"
  ln -s /proc/self/fd "$m/dev/fd"
  ln -s /proc/self/fd/0 "$m/dev/stdin"
  ln -s /proc/self/fd/1 "$m/dev/stdout"
  ln -s /proc/self/fd/2 "$m/dev/stderr"
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$m/run"
  mkdir -m 1777 "$m/run/lock"
  chmod 1777 "$m/tmp"

  local envs=(HOME=/root PATH="$ROOT_PATH" PYENV_ROOT=/root/.pyenv LANG=C.UTF-8 TERM=dumb
    USER=root LOGNAME=root SHELL=/bin/bash) v
  for v in "${PASS_ENV[@]}"; do
    if [ -n "${!v+set}" ]; then envs+=("$v=${!v}"); fi
  done

  # The image's Python 3.11 has only the image's pip packages: what this host
  # added to its pyenv since (by hand, or a CI run's pip install) goes.
  if [ -x "$m/root/.pyenv/shims/python3" ]; then
    local extra
    extra=$(chroot "$m" env -i "${envs[@]}" python3 -m pip list --format=freeze 2>/dev/null |
      sed 's/==.*//' | awk '{ n = tolower($0); gsub(/[-_.]+/, "-", n); print n }' | sort -u |
      comm -23 - <(pip_names) | tr '\n' ' ')
    if [ -n "${extra// /}" ]; then
      say "pip packages not in the image's Python 3.11, uninstalled from the copy: $extra"
      # shellcheck disable=SC2086 # one word per package
      chroot "$m" env -i "${envs[@]}" python3 -m pip uninstall -y -q $extra >&2
    fi
  fi

  phase "[5/5] in the root: ${cmd:-$mode}"
  case "$mode" in
    shell) exec chroot "$m" env -i "${envs[@]}" bash -l -c 'cd /root/wpam && exec bash -i' ;;
    run) exec chroot "$m" env -i "${envs[@]}" CI=true bash -c "cd /root/wpam && $cmd" </dev/null ;;
  esac
}

case "${1:-}" in
  --install-image-packages) install_image_packages "$2"; exit ;;
  --inside) shift; inside "$@"; exit ;;
esac

# --- the host side -------------------------------------------------------------------
mode=run cmd='bash .ci/run' build_only=
while [ $# -gt 0 ]; do
  case "$1" in
    --build-only) build_only=1 ;;
    --shell) mode=shell cmd= ;;
    --run) cmd=${2:?--run needs a command}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (--help)" ;;
    *) break ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, mounts, chroot)"
commit=$(git -C "$here" rev-parse --verify "${1:-HEAD}^{commit}")
limit=${WPAM_FRESH_ROOT_LIMIT:-90m}

phase "[1/5] host: ci/install-deps.sh (mmdebstrap for the root)"
"$here/ci/install-deps.sh"
for c in mmdebstrap unshare chroot timeout; do
  command -v "$c" >/dev/null || die "$c missing"
done

phase "[2/5] base root: Debian 12 with the machine image's packages"
key=$( {
  echo "format $ROOT_FORMAT $SUITE ${WPAM_DEBIAN_MIRROR:-}"
  cat "$list"
  host_sources | while read -r f; do echo "$f"; cat "$f"; done
  cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true
} | sha256sum | cut -c1-16)
base=$cache/base-$key
mkdir -p "$cache/runs" "$cache/logs"
exec 9>"$cache/.lock"
flock 9
if [ -f "$base/var/lib/wpam-fresh-root/format" ]; then
  say "cached: $base (key $key; delete it to rebuild)"
else
  rm -rf "$base.new"
  build_base "$base.new"
  mv "$base.new" "$base"
  say "built: $base (key $key; $(du -sh "$base" | cut -f1))"
fi
flock -u 9
say "dropped image packages (the mirror has none): $(tr '\n' ' ' <"$base/var/lib/wpam-fresh-root/dropped-packages.txt")"
if [ -n "$build_only" ]; then
  exit 0
fi

phase "[3/5] a run of its own: $commit"
stamp=$(date -u +%Y%m%dT%H%M%SZ)-$$
run=$cache/runs/$stamp
log=${WPAM_FRESH_ROOT_LOG:-$cache/logs/$stamp.log}
mkdir -p "$run/upper" "$run/work" "$run/root"
ns=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$ns" ] && kill -0 "$ns" 2>/dev/null; then
    # timeout's process group (timeout, unshare); the namespace follows unshare
    kill -KILL -- "-$ns" 2>/dev/null || kill -KILL "$ns" 2>/dev/null || true
    wait "$ns" 2>/dev/null || true
  fi
  # The mounts lived in the namespace's private mount table; never delete
  # through one that is still there.
  if grep -qF " $run" /proc/self/mountinfo; then
    say "mounts under $run still present: left as they are"
  elif [ "${WPAM_FRESH_ROOT_KEEP:-}" = 1 ]; then
    say "kept: $run (WPAM_FRESH_ROOT_KEEP=1)"
  else
    rm -rf --one-file-system "$run"
  fi
  [ -z "${log_said:-}" ] || say "log: $log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
say "run dir $run; log $log; time limit $limit (WPAM_FRESH_ROOT_LIMIT)"
log_said=1

phase "[4/5] unshare --mount --pid + chroot"
rc=0
if [ "$mode" = shell ]; then
  unshare --mount --pid --fork --kill-child --propagation private \
    "$self" --inside "$run" "$base" "$here" "$commit" shell || rc=$?
else
  # KILL: unshare ignores TERM while it waits, and pid 1 of the namespace
  # ignores what it has no handler for; .ci/run's own, shorter limit is the
  # gentle one. unshare's death kills the namespace (--kill-child).
  timeout --signal=KILL "$limit" unshare --mount --pid --fork --kill-child --propagation private \
    "$self" --inside "$run" "$base" "$here" "$commit" run "$cmd" </dev/null > >(tee "$log") 2>&1 &
  ns=$!
  wait "$ns" || rc=$?
  ns=
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    say "stopped after $limit (WPAM_FRESH_ROOT_LIMIT): the namespace and all in it were killed"
  fi
fi
say "exit status $rc: $cmd"
exit "$rc"
