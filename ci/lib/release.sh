# shellcheck shell=bash
# Sourced by ci/release/release.sh and ci/release/apt-refresh.sh: the APT repository's
# indexes and signed Release, and the signing key's checks. The caller sets
# suite, component, apt_arches (array) and tmp (a private temp dir).
# shellcheck disable=SC2154 # those four are the caller's

apt_indexes() { # APTDIR: Packages{,.gz} per architecture over pool/, each also by-hash/SHA256
  local a d f
  for a in "${apt_arches[@]}"; do
    d=$1/dists/$suite/$component/binary-$a
    mkdir -p "$d/by-hash/SHA256"
    (cd "$1" && apt-ftparchive --arch "$a" packages "pool/$component") >"$d/Packages"
    gzip -9 -n -c "$d/Packages" >"$d/Packages.gz"
    printf 'Archive: %s\nComponent: %s\nOrigin: wpam\nLabel: wpam\nArchitecture: %s\n' \
      "$suite" "$component" "$a" >"$d/Release"
    for f in Packages Packages.gz Release; do
      cp -p "$d/$f" "$d/by-hash/SHA256/$(sha256sum "$d/$f" | cut -d' ' -f1)"
    done
  done
}
apt_release() { # APTDIR DAYS SIGN-COMMAND...: dists/<suite>/Release, InRelease, Release.gpg
  local dir=$1 days=$2
  shift 2
  # (apt-ftparchive release lists every file under the directory: the old
  # Release and its signatures go first, and by-hash/, which holds the same
  # indexes again, is filtered out.)
  rm -f "$dir/dists/$suite/Release" "$dir/dists/$suite/InRelease" "$dir/dists/$suite/Release.gpg"
  (
    cd "$dir" || exit 1
    apt-ftparchive \
      -o APT::FTPArchive::Release::Origin=wpam \
      -o APT::FTPArchive::Release::Label=wpam \
      -o APT::FTPArchive::Release::Suite="$suite" \
      -o APT::FTPArchive::Release::Codename="$suite" \
      -o APT::FTPArchive::Release::Architectures="${apt_arches[*]}" \
      -o APT::FTPArchive::Release::Components="$component" \
      -o APT::FTPArchive::Release::Description="wpam: Werbot second factor for PAM" \
      -o APT::FTPArchive::Release::Acquire-By-Hash=yes \
      -o APT::FTPArchive::Release::ValidTime=$((days * 86400)) \
      -o APT::FTPArchive::Release::MD5=false \
      -o APT::FTPArchive::Release::SHA1=false \
      -o APT::FTPArchive::Release::SHA512=false \
      release "dists/$suite"
  ) >"$tmp/Release"
  grep -v '/by-hash/' "$tmp/Release" >"$dir/dists/$suite/Release"
  "$@" --digest-algo SHA512 --clearsign -o "$dir/dists/$suite/InRelease" "$dir/dists/$suite/Release"
  "$@" --digest-algo SHA512 --armor --detach-sign -o "$dir/dists/$suite/Release.gpg" "$dir/dists/$suite/Release"
}
# One primary; its secret part absent (sec#); exactly one usable secret
# signing subkey, which signs everything.
key_fprs() { # prints "<primary fpr> <signing subkey fpr>" or fails, with a reason
  gpg --batch --with-colons --list-secret-keys | awk -F: '
    $1 == "sec" { n++; primary_secret = ($15 != "#"); want = "p"; next }
    $1 == "ssb" { cand = ($12 ~ /s/ && $2 !~ /[erd]/ && $15 != "#"); want = "s"; next }
    $1 == "fpr" && want == "p" { pfpr = $10; want = ""; next }
    $1 == "fpr" && want == "s" { if (cand) { ns++; sfpr = $10 } want = ""; next }
    END {
      if (n != 1) { print "the key material holds " n " primary keys, not one"; exit 1 }
      if (primary_secret) { print "the primary secret key is there: give CI only the signing subkey (gpg --export-secret-subkeys SUBKEY!), keep the primary offline"; exit 1 }
      if (ns != 1) { print ns + 0 " usable secret signing subkeys, not one"; exit 1 }
      print pfpr, sfpr
    }'
}

# --- the committed public keyring (keys/) -------------------------------------
# Every signature the release and the refresh check (the published site they
# carry over or re-sign) is checked against the public keyring committed in
# the repository, keys/wpam-archive-keyring.asc, whose primaries are the ones
# keys/wpam-archive-keyring.fpr names (README.md quotes that file): never a
# keyring exported from the key CI holds, which has only the current signing
# subkey (after a rotation the site the previous subkey signed would no longer
# verify, and the APT Release would expire for everyone).
release_fprs() { # FPRFILE: the primary fingerprints it names, upper case, one a line
  [ -f "$1" ] || return 0
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$1" | grep -E '^[0-9A-Fa-f]{40}$' | tr a-f A-F || true
}
readme_fpr() { # README: the fingerprint on the line after its wpam-release-key marker, spaces removed
  awk '/^<!-- wpam-release-key /{ getline; sub(/^[[:space:]]*Key fingerprint = /, ""); gsub(/[[:space:]]/, ""); print; exit }' "$1"
}
# trusted_keyring DIR PRIMARY SUBKEY OUT: OUT becomes DIR's committed keyring
# (binary), after checking that its primaries are exactly those DIR's .fpr file
# names, PRIMARY one of them, and SUBKEY a valid signing subkey of PRIMARY in
# it (a new subkey is committed, and published, before it signs). Otherwise
# prints why and fails.
trusted_keyring() {
  local asc=$1/wpam-archive-keyring.asc fprfile=$1/wpam-archive-keyring.fpr primary=$2 sub=$3 out=$4 want have keys
  want=$(release_fprs "$fprfile" | LC_ALL=C sort)
  [ -n "$want" ] || { echo "$fprfile names no primary key fingerprint yet (docs/release.md, The keys)"; return 1; }
  [ -s "$asc" ] || { echo "no committed public keyring $asc (docs/release.md, The keys)"; return 1; }
  if ! gpg --batch --dearmor <"$asc" >"$out" 2>/dev/null || ! keys=$(gpg --batch --with-colons --show-keys "$out" 2>/dev/null); then
    echo "$asc is not an armored OpenPGP keyring"
    return 1
  fi
  have=$(awk -F: '$1 == "pub" { p = 1; next } p && $1 == "fpr" { print $10; p = 0 }' <<<"$keys" | LC_ALL=C sort)
  [ "$have" = "$want" ] || { echo "the primary keys of $asc ($(tr '\n' ' ' <<<"$have")) are not those $fprfile names ($(tr '\n' ' ' <<<"$want"))"; return 1; }
  grep -qx "$primary" <<<"$want" || { echo "the signing key's primary $primary is not one $fprfile names"; return 1; }
  awk -F: -v p="$primary" -v s="$sub" '
    $1 == "pub" { mine = 0; want = "p"; next }
    $1 == "sub" { cap = $12; val = $2; want = "s"; next }
    $1 == "fpr" && want == "p" { mine = ($10 == p); want = ""; next }
    $1 == "fpr" && want == "s" { if (mine && $10 == s && cap ~ /s/ && val !~ /[erd]/) found = 1; want = ""; next }
    END { exit !found }' <<<"$keys" ||
    { echo "the signing subkey $sub is not a valid signing subkey of $primary in $asc: commit the public key with it (and release) before it signs (docs/release.md, rotation)"; return 1; }
}

# --- the secrets, as files ----------------------------------------------------
# The workflows write each secret into a 0600 file in a step of its own (shell
# builtins only) and pass the release and the refresh the file's path
# (WPAM_SIGNING_KEY_FILE, ...): a secret in a step's env: sits in
# /proc/<pid>/environ of every process of that step, unset or not.
secret_file() { # VAR [optional]: prints the path in $VAR, or fails with a reason
  local v=$1 f=${!1:-} value=${1%_FILE}
  if [ -n "${!value+x}" ]; then
    echo "$value is set in the environment: pass it as a 0600 file named by $v (docs/release.md)"
    return 1
  fi
  if [ -z "$f" ]; then
    [ "${2:-}" = optional ] && return 0
    echo "$v is not set (the file holding $value)"
    return 1
  fi
  if ! [ -f "$f" ] || ! [ -r "$f" ]; then echo "$v: no readable file $f"; return 1; fi
  [ -z "$(find "$f" -maxdepth 0 -perm /077)" ] || { echo "$v: $f is readable by others than its owner (mode 0600)"; return 1; }
  echo "$f"
}
