#!/usr/bin/env python3
"""Builds wpam's BSD packages on any host, reproducibly (Python 3.11 stdlib).

    ci/bsdpkg.py freebsd|netbsd|openbsd ARTIFACT_DIR OUT_DIR

ARTIFACT_DIR is dist/<os>-amd64 (pam_wpam.so; login_-wpam on OpenBSD).
VERSION (default: Cargo.toml) and SOURCE_DATE_EPOCH (default: 0) come from
the environment. Prints the path of the package it wrote.

  freebsd  wpam-<v>.pkg  pkg(8) format: xz-compressed pax tar, +COMPACT_MANIFEST
           and +MANIFEST (JSON) first, payload by absolute path
  netbsd   wpam-<v>.tgz  pkgsrc binary package: gzip'ed ustar, +CONTENTS,
           +COMMENT, +DESC first, payload in +CONTENTS order
  openbsd  wpam-<v>.tgz  OpenBSD package: gzip'ed ustar, +CONTENTS first
           (@sha/@size/@ts per file), unsigned (pkg_add -D unsigned)

Determinism: every entry has mtime SOURCE_DATE_EPOCH, uid/gid 0 (OpenBSD's
login style: group auth, gid 11, as its packing list says), fixed modes and
a fixed order; gzip headers carry mtime 0 and no name. Templates live in
packaging/<os>/ (see packaging/<os>/README.md).
"""

import base64
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMENT = "Werbot second factor (TOTP or U2F) for SSH logins"
WWW = "https://github.com/werbot/wpam"
MAINTAINER = "wpam@example.invalid"
# pkgsrc pkg_add refuses a package whose PKGTOOLS_VERSION is newer than its
# own pkg_install: an old date is accepted everywhere.
PKGTOOLS_VERSION = "20091115"
NETBSD_OS_VERSION = "9.0"
OPENBSD_AUTH_GID = 11


@dataclass
class Member:
    name: str
    data: bytes
    mode: int = 0o644
    uname: str = "root"
    gname: str = "wheel"
    gid: int = 0


def version() -> str:
    v = os.environ.get("VERSION")
    if v:
        return v
    m = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
    if not m:
        sys.exit("bsdpkg: no version in Cargo.toml")
    return m.group(1)


def epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def template(os_name: str, name: str) -> str:
    return (ROOT / "packaging" / os_name / name).read_text()


def sample_config(path: str, extra: str = "") -> bytes:
    text = (ROOT / "packaging/common/wpam.conf.example").read_text()
    text = text.replace("/etc/security/wpam.conf", path)
    return (text + extra).encode()


def man_page() -> bytes:
    return (ROOT / "packaging/man/pam_wpam.8").read_bytes()


def tar_bytes(members: list[Member], fmt: int, ts: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.size = len(m.data)
            info.mode = m.mode
            info.mtime = ts
            info.uid, info.gid = 0, m.gid
            info.uname, info.gname = m.uname, m.gname
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(m.data))
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(out_dir: Path, name: str, data: bytes) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def artifact(art: Path, name: str) -> bytes:
    p = art / name
    if not p.is_file():
        sys.exit(f"bsdpkg: {p} missing (run ci/build-target.sh first)")
    return p.read_bytes()


# --- FreeBSD -----------------------------------------------------------------


def freebsd(art: Path, out: Path) -> Path:
    v, ts = version(), epoch()
    prefix = "/usr/local"
    files = [
        Member(f"{prefix}/lib/pam_wpam.so", artifact(art, "pam_wpam.so"), 0o444),
        Member(f"{prefix}/share/man/man8/pam_wpam.8.gz", gz(man_page()), 0o444),
        Member(
            f"{prefix}/etc/wpam.conf.sample",
            sample_config(f"{prefix}/etc/wpam.conf"),
            0o644,
        ),
    ]
    compact = {
        "name": "wpam",
        "origin": "security/wpam",
        "version": v,
        "comment": COMMENT,
        "maintainer": MAINTAINER,
        "www": WWW,
        # pkg matches the package ABI as an fnmatch pattern against the
        # host's (libpkg utils.c is_valid_abi): FreeBSD 13, 14 and 15 accept it.
        "abi": "FreeBSD:*:amd64",
        "arch": "freebsd:*:x86:64",
        "prefix": prefix,
        "flatsize": sum(len(f.data) for f in files),
        "licenselogic": "single",
        "licenses": ["MIT"],
        "desc": template("freebsd", "pkg-descr").rstrip("\n"),
        "categories": ["security"],
        "deps": {},
        "annotations": {},
    }
    manifest = dict(compact)
    manifest["files"] = {f.name: "1$" + hashlib.sha256(f.data).hexdigest() for f in files}
    manifest["scripts"] = {
        "post-install": template("freebsd", "post-install"),
        "pre-deinstall": template("freebsd", "pre-deinstall"),
    }
    manifest["messages"] = [{"message": template("freebsd", "pkg-message")}]

    def js(o: dict) -> bytes:
        return json.dumps(o, separators=(",", ":"), sort_keys=False).encode()

    members = [
        Member("+COMPACT_MANIFEST", js(compact)),
        Member("+MANIFEST", js(manifest)),
        *files,
    ]
    data = lzma.compress(tar_bytes(members, tarfile.PAX_FORMAT, ts), format=lzma.FORMAT_XZ, preset=6)
    return write(out, f"wpam-{v}.pkg", data)


# --- NetBSD (pkgsrc) ----------------------------------------------------------


def netbsd(art: Path, out: Path) -> Path:
    v, ts = version(), epoch()
    prefix = "/usr/pkg"
    files = [
        Member("lib/security/pam_wpam.so", artifact(art, "pam_wpam.so"), 0o444),
        Member("man/man8/pam_wpam.8", man_page(), 0o444),
        Member("share/examples/wpam/wpam.conf", sample_config(f"{prefix}/etc/wpam.conf"), 0o644),
    ]
    size = sum(len(f.data) for f in files)
    build_info = "".join(
        f"{k}={val}\n"
        for k, val in [
            ("CATEGORIES", "security"),
            ("HOMEPAGE", WWW),
            ("LICENSE", "mit"),
            ("LOCALBASE", prefix),
            ("MACHINE_ARCH", "x86_64"),
            ("MACHINE_GNU_ARCH", "x86_64"),
            ("MACHINE_GNU_PLATFORM", "x86_64--netbsd"),
            ("OBJECT_FMT", "ELF"),
            ("OPSYS", "NetBSD"),
            ("OS_VERSION", NETBSD_OS_VERSION),
            ("PKGMANDIR", "man"),
            ("PKGPATH", "security/wpam"),
            ("PKGTOOLS_VERSION", PKGTOOLS_VERSION),
            ("PKG_SYSCONFBASEDIR", f"{prefix}/etc"),
        ]
    )
    meta = [
        ("+COMMENT", COMMENT + "\n", 0o644),
        ("+DESC", template("netbsd", "DESCR"), 0o644),
        ("+INSTALL", template("netbsd", "INSTALL"), 0o755),
        ("+DEINSTALL", template("netbsd", "DEINSTALL"), 0o755),
        ("+DISPLAY", template("netbsd", "MESSAGE"), 0o644),
        ("+BUILD_INFO", build_info, 0o644),
        ("+SIZE_PKG", f"{size}\n", 0o644),
        ("+SIZE_ALL", f"{size}\n", 0o644),
    ]
    plist = [f"@name wpam-{v}", f"@comment {COMMENT}", f"@cwd {prefix}"]
    for f in files:
        plist += [f.name, "@comment MD5:" + hashlib.md5(f.data).hexdigest()]
    plist.append("@cwd .")
    for name, _, _ in meta:
        plist += ["@ignore", name]
    contents = "\n".join(plist) + "\n"
    # Order pkg_add requires: +CONTENTS, +COMMENT, +DESC, then the optional
    # metadata in pkg_install's order, then the payload in +CONTENTS order.
    members = [Member("+CONTENTS", contents.encode())]
    members += [Member(n, t.encode(), m) for n, t, m in meta]
    members += files
    return write(out, f"wpam-{v}.tgz", gz(tar_bytes(members, tarfile.USTAR_FORMAT, ts)))


# --- OpenBSD -----------------------------------------------------------------


def openbsd_man() -> bytes:
    return (ROOT / "packaging/openbsd/login_-wpam.8").read_bytes()


def openbsd(art: Path, out: Path) -> Path:
    v, ts = version(), epoch()
    style = Member(
        "libexec/auth/login_-wpam",
        artifact(art, "login_-wpam"),
        0o555,
        gname="auth",
        gid=OPENBSD_AUTH_GID,
    )
    man = Member("man/man8/login_-wpam.8", openbsd_man(), 0o444)
    conf = Member(
        "share/examples/wpam/wpam.conf",
        sample_config(
            "/etc/wpam.conf",
            "# Werbot ID per login (default: the login name):\n#wid.alice=alice@example.com\n",
        ),
        0o644,
    )
    desc = Member("+DESC", template("openbsd", "DESCR").encode())
    display = Member("+DISPLAY", template("openbsd", "MESSAGE").encode())

    def sums(m: Member, with_ts: bool = True) -> list[str]:
        lines = [
            "@sha " + base64.b64encode(hashlib.sha256(m.data).digest()).decode(),
            f"@size {len(m.data)}",
        ]
        return lines + ([f"@ts {ts}"] if with_ts else [])

    plist = [
        f"@name wpam-{v}",
        "@comment pkgpath=security/wpam cdrom=yes ftp=yes",
        "@arch amd64",
        "+DESC",
        *sums(desc, False),
        "+DISPLAY",
        *sums(display, False),
        "@cwd /usr/local",
        "libexec/auth/",
        "@mode 0555",
        "@group auth",
        "@bin " + style.name,
        *sums(style),
        # pkg_add copies it where BSD Authentication looks (only there), and
        # pkg_delete removes that copy while it is unchanged.
        "@sample /usr/libexec/auth/login_-wpam",
        "@mode",
        "@group",
        "@man " + man.name,
        *sums(man),
        "share/examples/wpam/",
        conf.name,
        *sums(conf),
        "@mode 0600",
        "@sample /etc/wpam.conf",
        "@mode",
    ]
    contents = Member("+CONTENTS", ("\n".join(plist) + "\n").encode())
    members = [contents, desc, display, style, man, conf]
    return write(out, f"wpam-{v}.tgz", gz(tar_bytes(members, tarfile.USTAR_FORMAT, ts)))


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] not in ("freebsd", "netbsd", "openbsd"):
        print(__doc__, file=sys.stderr)
        return 2
    build = {"freebsd": freebsd, "netbsd": netbsd, "openbsd": openbsd}[argv[1]]
    print(build(Path(argv[2]), Path(argv[3])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
