#!/usr/bin/env python3
"""Which packages of the published site (a gh-pages checkout) the next release
may carry over, and only those (ci/release/publish.sh seed).

usage: ci/release/pages-carry.py [--all] CHECKOUT SITE KEYRING FILES ADOPTED

Anyone who can push to gh-pages could plant a file there; the release job
signs whatever its indexes list. So nothing is carried because it is there:
  APT  InRelease must verify (gpgv, KEYRING: the keys this release publishes);
       the Packages indexes must match its SHA256 lines; every file under
       apt/pool must be a wpam_*.deb that an index lists at that path with that
       size and SHA256. Old indexes under by-hash/SHA256/ are carried when
       their SHA256 is their name (clients mid-update still find them).
  RPM  repomd.xml.asc must verify; primary.xml.gz must match repomd.xml; every
       *.rpm must be a wpam-*.rpm that primary lists with that SHA256.
Anything else under apt/pool or rpm/ (*.rpm) stops the release: a planted
file is refused loudly, not skipped. Re-running a release (same version):
  - a .deb of FILES already published must be byte for byte the same;
  - an .rpm of FILES (unsigned) already published (signed) must have the same
    header and payload (all but the lead and signature header); the published
    signed bytes then replace FILES' copy (the name goes to ADOPTED), so the
    re-run signs nothing anew and the version keeps its bytes.
Carried files are copied into SITE (apt/pool/..., rpm/). Exit status 1 with
"pages-carry: refused: ..." on the first problem.

--all (ci/release/apt-refresh.sh, which re-publishes the whole checkout): every file
of CHECKOUT must be vouched for, or the site is refused: the APT and RPM files
by the signatures above (Release by Release.gpg, every file a signed Release or
repomd.xml lists by its hash), the keyring files by being KEYRING (the
committed one), and only these by name and form, as nothing here can verify
them: .nojekyll (empty), index.html, rpm/wpam.repo (gpgcheck and repo_gpgcheck
on, the key from the site), freebsd/wpam.{pub,conf} and freebsd/<major>/amd64/
{meta,meta.conf,data.pkg,packagesite.pkg,All/wpam-<v>.pkg} (FreeBSD's pkg verifies
those against the pinned key on every client and at the next release).
"""
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SUITE, COMP = "stable", "main"
DEB = re.compile(r"^wpam_[0-9][A-Za-z0-9.+~]*-[0-9][A-Za-z0-9.+~]*_(amd64|arm64)\.deb$")
RPM = re.compile(r"^wpam-[0-9][A-Za-z0-9.+~]*-[0-9][A-Za-z0-9.+~]*\.(x86_64|aarch64)\.rpm$")
VOUCHED = set()  # paths under CHECKOUT that a signature (or KEYRING) vouches for
NS = {"r": "http://linux.duke.edu/metadata/repo", "c": "http://linux.duke.edu/metadata/common"}


def refuse(msg):
    sys.exit("pages-carry: refused: " + msg)


def log(msg):
    print("pages-carry: " + msg, file=sys.stderr)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def gpgv(keyring, *args):
    """gpgv's verdict; with --output, the signed text itself (what we parse)."""
    r = subprocess.run(["timeout", "60", "gpgv", "--keyring", keyring, *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode == 0, r.stderr.decode(errors="replace")


def files_under(top):
    for d, _, names in os.walk(top):
        for n in names:
            yield os.path.join(d, n)


def rpm_body(path):
    """Everything after the lead and the signature header: what signing leaves alone."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 96 + 16 or data[:4] != b"\xed\xab\xee\xdb":
        refuse(f"{path} is not an RPM")
    off = 96
    if data[off:off + 3] != b"\x8e\xad\xe8":
        refuse(f"{path}: no signature header")
    nindex = int.from_bytes(data[off + 8:off + 12], "big")
    hsize = int.from_bytes(data[off + 12:off + 16], "big")
    off += 16 + 16 * nindex + hsize
    off += (8 - off % 8) % 8
    return data[off:]


def carry(src, dest):
    if os.path.exists(dest):
        return 0
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(src, dest)
    return 1


def apt(checkout, site, keyring, files):
    apt_dir = os.path.join(checkout, "apt")
    pool = os.path.join(apt_dir, "pool")
    dists = os.path.join(apt_dir, "dists", SUITE)
    debs = [p for p in files_under(pool)] if os.path.isdir(pool) else []
    inrelease = os.path.join(dists, "InRelease")
    if not os.path.exists(inrelease):
        if debs:
            refuse(f"apt/pool has {len(debs)} files but there is no dists/{SUITE}/InRelease")
        return 0
    with tempfile.TemporaryDirectory() as t:
        out = os.path.join(t, "Release")
        good, err = gpgv(keyring, "--output", out, inrelease)
        if not good:
            refuse(f"apt/dists/{SUITE}/InRelease does not verify with this release's keys:\n{err}")
        release = open(out, encoding="utf-8").read()
    VOUCHED.add(os.path.relpath(inrelease, checkout))
    plain = os.path.join(dists, "Release")
    if os.path.exists(plain) or os.path.exists(plain + ".gpg"):
        good, err = gpgv(keyring, plain + ".gpg", plain)
        if not good:
            refuse(f"apt/dists/{SUITE}/Release.gpg does not verify Release with this release's keys:\n{err}")
        VOUCHED.update(os.path.relpath(p, checkout) for p in (plain, plain + ".gpg"))
    sums, cur = {}, None
    for line in release.splitlines():
        if not line.startswith((" ", "\t")):
            cur = line.split(":", 1)[0]
            continue
        if cur == "SHA256":
            h, size, p = line.split()
            sums[p] = (int(size), h)
    allowed = {}
    for p, (size, h) in sums.items():
        full = os.path.join(dists, p)
        if not os.path.exists(full):
            continue
        if os.path.islink(full) or (os.path.getsize(full), sha256(full)) != (size, h):
            refuse(f"apt/dists/{SUITE}/{p} does not match the signed Release")
        VOUCHED.add(os.path.relpath(full, checkout))
        if not re.fullmatch(rf"{COMP}/binary-[a-z0-9]+/Packages", p):
            continue
        for s in open(full, encoding="utf-8").read().split("\n\n"):
            f = dict(line.split(": ", 1) for line in s.splitlines() if ": " in line)
            if f.get("Package") == "wpam" and "Filename" in f:
                allowed[f["Filename"]] = (int(f["Size"]), f["SHA256"])
    n = 0
    for p in sorted(debs):
        rel = os.path.relpath(p, apt_dir)
        name = os.path.basename(p)
        if not DEB.match(name) or os.path.islink(p):
            refuse(f"apt/{rel}: not a wpam package (planted?)")
        if rel not in allowed:
            refuse(f"apt/{rel}: listed in no signed Packages index (planted?)")
        if (os.path.getsize(p), sha256(p)) != allowed[rel]:
            refuse(f"apt/{rel}: not the bytes its signed Packages index lists")
        mine = os.path.join(files, name)
        if os.path.exists(mine) and sha256(mine) != allowed[rel][1]:
            refuse(f"{name} was published with other bytes: a version is never rebuilt, bump it")
        n += carry(p, os.path.join(site, "apt", rel))
        VOUCHED.add(os.path.relpath(p, checkout))
    # Old indexes by hash: the name is the content's SHA256.
    for p in files_under(dists) if os.path.isdir(dists) else []:
        rel = os.path.relpath(p, dists)
        m = re.fullmatch(rf"{COMP}/binary-[a-z0-9]+/by-hash/SHA256/([0-9a-f]{{64}})", rel)
        if not m:
            continue
        if os.path.islink(p) or sha256(p) != m.group(1):
            refuse(f"apt/dists/{SUITE}/{rel}: content does not match its hash name")
        carry(p, os.path.join(site, "apt", "dists", SUITE, rel))
        VOUCHED.add(os.path.relpath(p, checkout))
    log(f"APT: InRelease verified, {len(allowed)} indexed wpam packages, {n} carried")
    return n


def rpm(checkout, site, keyring, files, adopted):
    rpm_dir = os.path.join(checkout, "rpm")
    rpms = sorted(p for p in files_under(rpm_dir) if p.endswith(".rpm")) if os.path.isdir(rpm_dir) else []
    repomd = os.path.join(rpm_dir, "repodata", "repomd.xml")
    if not os.path.exists(repomd):
        if rpms:
            refuse(f"rpm/ has {len(rpms)} RPMs but no repodata/repomd.xml")
        return 0
    good, err = gpgv(keyring, repomd + ".asc", repomd)
    if not good:
        refuse(f"rpm/repodata/repomd.xml.asc does not verify with this release's keys:\n{err}")
    VOUCHED.update(os.path.relpath(p, checkout) for p in (repomd, repomd + ".asc"))
    root = ET.parse(repomd).getroot()
    for d in root.findall("r:data", NS):
        loc = os.path.join(rpm_dir, d.find("r:location", NS).get("href"))
        ck = d.find("r:checksum", NS)
        if ck is not None and ck.get("type") == "sha256" and os.path.isfile(loc) and not os.path.islink(loc) \
                and sha256(loc) == ck.text:
            VOUCHED.add(os.path.relpath(loc, checkout))
    prim = root.find("r:data[@type='primary']", NS)
    if prim is None:
        refuse("repomd.xml has no primary data")
    full = os.path.join(rpm_dir, prim.find("r:location", NS).get("href"))
    if sha256(full) != prim.find("r:checksum", NS).text:
        refuse("rpm primary.xml.gz does not match the signed repomd.xml")
    allowed = {}
    for p in ET.fromstring(gzip.open(full).read()).findall("c:package", NS):
        if p.find("c:name", NS).text == "wpam":
            allowed[p.find("c:location", NS).get("href")] = p.find("c:checksum", NS).text
    n = 0
    for p in rpms:
        rel = os.path.relpath(p, rpm_dir)
        name = os.path.basename(p)
        if not RPM.match(name) or "/" in rel or os.path.islink(p):
            refuse(f"rpm/{rel}: not a wpam package (planted?)")
        if rel not in allowed:
            refuse(f"rpm/{rel}: listed in no signed primary.xml (planted?)")
        if sha256(p) != allowed[rel]:
            refuse(f"rpm/{rel}: not the bytes the signed primary.xml lists")
        mine = os.path.join(files, name)
        if os.path.exists(mine):
            if rpm_body(mine) != rpm_body(p):
                refuse(f"{name} was published with other bytes: a version is never rebuilt, bump it")
            shutil.copy2(p, mine)  # the published, signed bytes
            with open(adopted, "a") as f:
                f.write(name + "\n")
        n += carry(p, os.path.join(site, "rpm", name))
        VOUCHED.add(os.path.relpath(p, checkout))
    log(f"RPM: repomd.xml verified, {len(allowed)} listed wpam packages, {n} carried")
    return n


BY_NAME = re.compile(r"^(\.nojekyll|index\.html|rpm/wpam\.repo|freebsd/wpam\.(pub|conf)|"
                     r"freebsd/[0-9]+/amd64/(meta|meta\.conf|data\.pkg|packagesite\.pkg|All/wpam-[0-9][A-Za-z0-9.,_]*\.pkg))$")


def everything_vouched(checkout, keyring):
    """--all: no file of the checkout that nothing vouches for."""
    with open(keyring, "rb") as f:
        ring = f.read()
    for name in ("wpam-archive-keyring.gpg", "wpam-archive-keyring.asc"):
        p = os.path.join(checkout, name)
        if not os.path.isfile(p) or os.path.islink(p):
            continue
        data = open(p, "rb").read()
        if name.endswith(".asc"):
            data = subprocess.run(["gpg", "--batch", "--dearmor"], input=data, stdout=subprocess.PIPE).stdout
        if data != ring:
            refuse(f"{name} is not the committed keyring (planted?)")
        VOUCHED.add(name)
    for p in sorted(files_under(checkout)):
        rel = os.path.relpath(p, checkout)
        if rel.split(os.sep)[0] == ".git" or rel in VOUCHED:
            continue
        if BY_NAME.match(rel) and not os.path.islink(p):
            if rel == ".nojekyll" and os.path.getsize(p):
                refuse(".nojekyll is not empty (planted?)")
            if rel == "rpm/wpam.repo":
                t = open(p, encoding="utf-8", errors="replace").read()
                if not all(re.search(rf"^{k}$", t, re.M) for k in
                           ("gpgcheck=1", "repo_gpgcheck=1", r"gpgkey=https://[^\s]+/wpam-archive-keyring\.asc")):
                    refuse("rpm/wpam.repo does not check signatures with the site's keyring (planted?)")
            continue
        refuse(f"{rel}: vouched for by no signed index nor the committed keyring (planted?): not re-published")
    log(f"every file of the site is vouched for ({len(VOUCHED)} by signature)")


def main():
    args = sys.argv[1:]
    every = args[:1] == ["--all"]
    if every:
        args = args[1:]
    if len(args) != 5:
        sys.exit(__doc__)
    checkout, site, keyring, files, adopted = args
    open(adopted, "w").close()
    n = apt(checkout, site, keyring, files) + rpm(checkout, site, keyring, files, adopted)
    if every:
        everything_vouched(checkout, keyring)
    print(n)


main()
