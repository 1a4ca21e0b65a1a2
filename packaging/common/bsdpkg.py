#!/usr/bin/env python3
"""Builds wpam's NetBSD and OpenBSD packages on any host, reproducibly
(Python 3.11 stdlib).

    packaging/common/bsdpkg.py netbsd|openbsd ARTIFACT_DIR OUT_DIR

Written by hand because neither system's own tool is available on the
Linux hosts that build the release and run `make test`: OpenBSD's
pkg_create is Perl written for OpenBSD alone (OpenBSD::PackingList and the
rest of base's pkg_add tree, no port to other systems); NetBSD's is C from
pkgsrc's pkgtools/pkg_install, which reaches Linux only inside a pkgsrc
bootstrap: no Debian package, and nothing here vendors or builds one. The
tests read these archives with independent readers (tests/bsd_packages.rs)
and the hosted jobs install them on real VMs (.github/workflows/bsd.yml).
FreeBSD's package is not made here: FreeBSD's own pkg builds and runs on
Linux (packaging/freebsd/pkg-tool.sh), so packaging/freebsd/build.sh runs `pkg create`
(packaging/freebsd/stage.py writes its input, importing the shared metadata below).

ARTIFACT_DIR is dist/<os>-amd64 (pam_wpam.so; login_-wpam on OpenBSD; the
wpam command on each).
VERSION (default: Cargo.toml) and SOURCE_DATE_EPOCH (default: 0) come from
the environment. Prints the path of the package it wrote.

  netbsd   wpam-<v>.tgz  pkgsrc binary package: gzip'ed ustar, +CONTENTS,
           +COMMENT, +DESC first, payload in +CONTENTS order
  openbsd  wpam-<v>.tgz  OpenBSD package: gzip'ed ustar, +CONTENTS first
           (@sha/@size/@ts per file, @wantlib from versioned DT_NEEDED),
           the style a plain file in /usr/libexec/auth; unsigned here
           (ci/release/sign-openbsd.sh signs it as pkg_sign does)

Determinism: every entry has mtime SOURCE_DATE_EPOCH, uid/gid 0 (OpenBSD's
login style: group auth, gid 11, as its packing list says), fixed modes and
a fixed order; gzip headers carry mtime 0 and no name. Templates live in
packaging/<os>/ (see packaging/<os>/README.md).
"""

import base64
import gzip
import hashlib
import io
import os
import re
import struct
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMENT = "Werbot second factor (TOTP or U2F) for SSH logins"
WWW = "https://github.com/werbot/wpam"
MAINTAINER = "wpam@example.invalid"
# pkgsrc pkg_add refuses a package whose PKGTOOLS_VERSION is newer than its
# own pkg_install: an old date is accepted everywhere.
PKGTOOLS_VERSION = "20091115"
# What pkg_add compares with the host's `uname -r` (a mismatch is a warning):
# the release line the VM job tests (10.1), written as pkgsrc writes it for
# its netbsd-10 packages.
NETBSD_OS_VERSION = "10.0"
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


def sample_config(path: str, extra: str = "", pam: bool = True) -> bytes:
    """The example config for `path`. Without PAM (OpenBSD) the lines about
    the pam_wpam.so line and pam_wpam(8) go, and the block from "# >>> PAM
    only" to "# <<< PAM only" (groups=, account_phase=: the login style warns
    about groups= at every login): OpenBSD ships neither (the port's
    post-patch does the same with sed, packaging/ports/ports.py)."""
    text = (ROOT / "packaging/common/wpam.conf.example").read_text()
    text = text.replace("/etc/security/wpam.conf", path)
    if not pam:
        kept, skipping = [], False
        for l in text.splitlines(keepends=True):
            if l.startswith("# >>> PAM only"):
                skipping = True
            if not skipping and "pam_wpam" not in l:
                kept.append(l)
            if l.startswith("# <<< PAM only"):
                skipping = False
        text = "".join(kept)
    return (text + extra).encode()


def man_page() -> bytes:
    return (ROOT / "packaging/man/pam_wpam.8").read_bytes()


def wpam_man_page() -> bytes:
    return (ROOT / "packaging/man/wpam.8").read_bytes()


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
        sys.exit(f"bsdpkg: {p} missing (run ci/build/build-target.sh first)")
    return p.read_bytes()


# --- NetBSD (pkgsrc) ----------------------------------------------------------


def netbsd(art: Path, out: Path) -> Path:
    v, ts = version(), epoch()
    prefix = "/usr/pkg"
    files = [
        # Sorted by name, as pkglint wants a PLIST (the port's is this list).
        Member("bin/wpam", artifact(art, "wpam"), 0o555),
        Member("lib/security/pam_wpam.so", artifact(art, "pam_wpam.so"), 0o444),
        Member("man/man8/pam_wpam.8", man_page(), 0o444),
        Member("man/man8/wpam.8", wpam_man_page(), 0o444),
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


# The style goes where BSD Authentication runs it (auth_subr.c: only
# _PATH_AUTHPROG, /usr/libexec/auth/), as an ordinary file of the package: so
# pkg_add -u replaces it and pkg_delete removes it like any other file. A
# packing list names no absolute file: `@cwd` sets the directory of what
# follows (OpenBSD::PackingElement::Object::compute_fullname refuses
# "Absolute name forbidden"), and the archive member is the name as listed.
OPENBSD_AUTH_DIR = "/usr/libexec/auth"

# DT_NEEDED of the OpenBSD binaries -> @wantlib lines (what pkg_create writes
# from a port's WANTLIB, checked by pkg_add against the host's libraries).
ELF_PT_LOAD, ELF_PT_DYNAMIC = 1, 2
ELF_DT_NULL, ELF_DT_NEEDED, ELF_DT_STRTAB = 0, 1, 5


def elf_needed(data: bytes) -> list[str]:
    """The DT_NEEDED names of an ELF64 little-endian file, in order; [] for
    anything else (the package tests' placeholder bytes)."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    loads, dyn = [], None
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == ELF_PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == ELF_PT_DYNAMIC:
            dyn = (p_offset, p_filesz)
    if dyn is None:
        return []

    def file_offset(vaddr: int) -> int:
        for v, o, n in loads:
            if v <= vaddr < v + n:
                return o + vaddr - v
        sys.exit(f"bsdpkg: DT_STRTAB 0x{vaddr:x} is in no PT_LOAD")

    needed, strtab = [], None
    for off in range(dyn[0], dyn[0] + dyn[1], 16):
        tag, val = struct.unpack_from("<qQ", data, off)
        if tag == ELF_DT_NULL:
            break
        if tag == ELF_DT_NEEDED:
            needed.append(val)
        elif tag == ELF_DT_STRTAB:
            strtab = val
    if strtab is None:
        return []
    base = file_offset(strtab)
    return [data[base + n : data.index(b"\0", base + n)].decode() for n in needed]


def openbsd_wantlib(binaries: list[bytes]) -> list[str]:
    """`@wantlib NAME.MAJOR.MINOR` for every versioned DT_NEEDED
    (libNAME.so.MAJOR.MINOR) of the binaries, sorted. An unversioned name (libc.so, as zig's stub libraries are named)
    gives none: a @wantlib must be what the binary records, and the majors
    of each release come from its lib/*/shlib_version (docs/bsd-loaders.md,
    "@wantlib")."""
    out = set()
    for b in binaries:
        for name in elf_needed(b):
            m = re.fullmatch(r"lib(.+)\.so\.(\d+)\.(\d+)", name)
            if m:
                out.add(f"@wantlib {m.group(1)}.{m.group(2)}.{m.group(3)}")
            elif not re.fullmatch(r"lib.+\.so", name):
                sys.exit(f"bsdpkg: DT_NEEDED {name}: neither libNAME.so nor libNAME.so.MAJOR.MINOR")
    return sorted(out)


def openbsd(art: Path, out: Path) -> Path:
    v, ts = version(), epoch()
    style = Member(
        "login_-wpam",
        artifact(art, "login_-wpam"),
        0o555,
        gname="auth",
        gid=OPENBSD_AUTH_GID,
    )
    man = Member("man/man8/login_-wpam.8", openbsd_man(), 0o444)
    cmd = Member("bin/wpam", artifact(art, "wpam"), 0o555)
    cmd_man = Member("man/man8/wpam.8", wpam_man_page(), 0o444)
    conf = Member(
        "share/examples/wpam/wpam.conf",
        # The login style's own keys (packaging/openbsd/wpam.conf.extra).
        sample_config("/etc/wpam.conf", template("openbsd", "wpam.conf.extra"), pam=False),
        0o644,
    )
    desc = Member("+DESC", template("openbsd", "DESCR").encode())
    display = Member("+DISPLAY", template("openbsd", "MESSAGE").encode())
    # Shown by pkg_delete: login.conf may still name the style it removes.
    undisplay = Member("+UNDISPLAY", template("openbsd", "UNDISPLAY").encode())

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
        "+UNDISPLAY",
        *sums(undisplay, False),
        *openbsd_wantlib([cmd.data, style.data]),
        "@cwd /usr/local",
        "@bin " + cmd.name,
        *sums(cmd),
        "@man " + man.name,
        *sums(man),
        "@man " + cmd_man.name,
        *sums(cmd_man),
        "share/examples/wpam/",
        conf.name,
        *sums(conf),
        "@mode 0600",
        "@sample /etc/wpam.conf",
        "@mode",
        # The style itself, root:auth 0555 (docs/bsd-loaders.md, "Install
        # mode"); base's /usr/libexec/auth (root:auth 0750, mtree) is not
        # listed: the package neither creates nor removes it.
        f"@cwd {OPENBSD_AUTH_DIR}",
        "@mode 0555",
        "@group auth",
        "@bin " + style.name,
        *sums(style),
        "@mode",
        "@group",
    ]
    contents = Member("+CONTENTS", ("\n".join(plist) + "\n").encode())
    members = [contents, desc, display, undisplay, cmd, man, cmd_man, conf, style]
    return write(out, f"wpam-{v}.tgz", gz(tar_bytes(members, tarfile.USTAR_FORMAT, ts)))


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] not in ("netbsd", "openbsd"):
        print(__doc__, file=sys.stderr)
        return 2
    build = {"netbsd": netbsd, "openbsd": openbsd}[argv[1]]
    print(build(Path(argv[2]), Path(argv[3])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
