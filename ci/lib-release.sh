# shellcheck shell=bash
# Sourced by ci/release.sh and ci/apt-refresh.sh: the APT repository's
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
