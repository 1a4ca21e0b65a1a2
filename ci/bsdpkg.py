#!/usr/bin/env python3
"""Builds wpam's BSD packages on any host, reproducibly (Python 3.11 stdlib).

    ci/bsdpkg.py freebsd|netbsd|openbsd ARTIFACT_DIR OUT_DIR

ARTIFACT_DIR is dist/<os>-amd64 (pam_wpam.so; login_-wpam on OpenBSD; the
wpam command on each).
VERSION (default: Cargo.toml) and SOURCE_DATE_EPOCH (default: 0) come from
the environment. Prints the path of the package it wrote.

  freebsd  wpam-<v>.pkg  pkg(8) format: xz-compressed pax tar, +COMPACT_MANIFEST
           and +MANIFEST (JSON) first, payload by absolute path
  netbsd   wpam-<v>.tgz  pkgsrc binary package: gzip'ed ustar, +CONTENTS,
           +COMMENT, +DESC first, payload in +CONTENTS order
  openbsd  wpam-<v>.tgz  OpenBSD package: gzip'ed ustar, +CONTENTS first
           (@sha/@size/@ts per file, @wantlib from versioned DT_NEEDED),
           the style a plain file in /usr/libexec/auth; unsigned here
           (ci/sign-openbsd.sh signs it as pkg_sign does)

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
import struct
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
    post-patch does the same with sed, ci/ports.py)."""
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
        sys.exit(f"bsdpkg: {p} missing (run ci/build-target.sh first)")
    return p.read_bytes()


# --- FreeBSD -----------------------------------------------------------------

FREEBSD_PREFIX = "/usr/local"
# The package's ABI: pkg matches it as an fnmatch pattern against the host's
# (libpkg utils.c is_valid_abi). The supported majors we build for and test
# (14, 15; 13 reached its end of life on 2026-04-30), not "*": a future major
# (16) refuses it rather than install a module nobody loaded there.
FREEBSD_ABI = "FreeBSD:1[45]:amd64"
# The legacy arch field, the same majors.
FREEBSD_ARCH = "freebsd:1[45]:x86:64"
# The ABIs the release publishes a repository for (ci/freebsd-repo.sh).
FREEBSD_REPO_ABIS = ("FreeBSD:14:amd64", "FreeBSD:15:amd64")


@dataclass
class PlistEntry:
    """A line of packaging/freebsd/pkg-plist: a file under the prefix, and
    the keyword that carries it ("" for a plain file, "sample")."""

    path: str
    keyword: str = ""
    owner: str = ""
    group: str = ""
    mode: int | None = None


def freebsd_plist() -> list[PlistEntry]:
    """packaging/freebsd/pkg-plist, the FreeBSD port's pkg-plist (the ports
    generator copies it) and the file list of our own .pkg. Only what both
    understand is accepted: plain files and @sample[(owner,group,mode)]."""
    out = []
    for n, line in enumerate(template("freebsd", "pkg-plist").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"@sample(?:\(([^,()]*),([^,()]*),([0-7]*)\))?\s+(\S+\.sample)", line)
        if m:
            owner, group, mode, path = m.groups()
            # The tar headers carry uid/gid 0: root and wheel only.
            if (owner or "root") != "root" or (group or "wheel") != "wheel":
                sys.exit(f"bsdpkg: packaging/freebsd/pkg-plist:{n}: owner root, group wheel only: {line}")
            out.append(PlistEntry(path, "sample", owner or "", group or "", int(mode, 8) if mode else None))
        elif line.startswith("@") or line.startswith("/") or " " in line:
            sys.exit(f"bsdpkg: packaging/freebsd/pkg-plist:{n}: not supported here: {line}")
        else:
            out.append(PlistEntry(line))
    return out


def freebsd_sources(art: Path | None) -> dict[str, tuple[bytes, int]]:
    """The bytes and mode of every file the plist may name, by path under the
    prefix. Without ARTIFACT_DIR (ports generator) the module is empty."""
    module = artifact(art, "pam_wpam.so") if art is not None else b""
    return {
        "lib/pam_wpam.so": (module, 0o444),
        "bin/wpam": (artifact(art, "wpam") if art is not None else b"", 0o555),
        "share/man/man8/pam_wpam.8.gz": (gz(man_page()), 0o444),
        "share/man/man8/wpam.8.gz": (gz(wpam_man_page()), 0o444),
        "etc/wpam.conf.sample": (sample_config(f"{FREEBSD_PREFIX}/etc/wpam.conf"), 0o644),
    }


def pkg_urlencode(s: str) -> str:
    """What libpkg's urlencode (pkg_manifest.c) makes of the manifest's
    desc, file paths and shell scripts, which its reader url-decodes: '%'
    and every non-ASCII byte as %xx. Without it a script's "%2f" would reach
    /bin/sh as "/"."""
    return "".join(f"%{b:02x}" if b >= 0x80 or b == 0x25 else chr(b) for b in s.encode())


def lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def freebsd_sample_lua(e: PlistEntry) -> tuple[str, str]:
    """What the ports tree's @sample keyword (Keywords/sample.ucl) adds to a
    package, as Lua: post-install copies the sample to its name without
    .sample unless that file exists (pkg.copy keeps the sample's owner and
    mode), pre-deinstall removes the copy while it still equals the sample.
    pkg runs Lua scripts against the root it installs into (-r, -j, -c):
    pkg.stat/copy/filecmp and os.remove are relative to it."""
    sample = lua_string(e.path)
    target = lua_string(e.path[: -len(".sample")])
    post = f"""-- @sample {e.path}
local sample = pkg.prefixed_path({sample})
local target = pkg.prefixed_path({target})
if not pkg.stat(target) and pkg.copy(sample, target) ~= nil then
  pkg.print_msg("wpam: could not create " .. target .. " from " .. sample)
end
"""
    pre = f"""-- @sample {e.path}
local sample = pkg.prefixed_path({sample})
local target = pkg.prefixed_path({target})
if pkg.filecmp(sample, target) == 0 then
  os.remove(target)
elseif pkg.stat(target) then
  pkg.print_msg("wpam: " .. target .. " differs from " .. sample .. ": kept")
end
"""
    return post, pre


def freebsd_manifest(art: Path | None) -> tuple[dict, dict, list[Member]]:
    """(+COMPACT_MANIFEST, +MANIFEST, payload) of the FreeBSD package."""
    v = version()
    prefix = FREEBSD_PREFIX
    sources = freebsd_sources(art)
    files, lua_post, lua_pre = [], [], []
    for e in freebsd_plist():
        if e.path not in sources:
            sys.exit(f"bsdpkg: pkg-plist names {e.path}, which the package does not build")
        data, mode = sources[e.path]
        files.append(Member(f"{prefix}/{e.path}", data, e.mode if e.mode is not None else mode,
                            e.owner or "root", e.group or "wheel"))
        if e.keyword == "sample":
            post, pre = freebsd_sample_lua(e)
            lua_post.append(post)
            lua_pre.append(pre)
    compact = {
        "name": "wpam",
        "origin": "security/wpam",
        "version": v,
        "comment": COMMENT,
        "maintainer": MAINTAINER,
        "www": WWW,
        "abi": FREEBSD_ABI,
        "arch": FREEBSD_ARCH,
        "prefix": prefix,
        "flatsize": sum(len(f.data) for f in files),
        "licenselogic": "single",
        "licenses": ["MIT"],
        "desc": pkg_urlencode(template("freebsd", "pkg-descr").rstrip("\n")),
        "categories": ["security"],
        "deps": {},
        "annotations": {},
    }
    manifest = dict(compact)
    # Lua scripts and messages are read as they are; desc, paths and shell
    # scripts url-decoded (pkg_urlencode).
    manifest["files"] = {pkg_urlencode(f.name): "1$" + hashlib.sha256(f.data).hexdigest() for f in files}
    manifest["scripts"] = {
        "post-install": pkg_urlencode(template("freebsd", "post-install")),
        # A warning while PAM still names the module (packaging/freebsd/pre-deinstall).
        "pre-deinstall": pkg_urlencode(template("freebsd", "pre-deinstall")),
    }
    manifest["lua_scripts"] = {"post-install": lua_post, "pre-deinstall": lua_pre}
    manifest["messages"] = [{"message": template("freebsd", "pkg-message")}]
    return compact, manifest, files


def freebsd(art: Path, out: Path) -> Path:
    v, ts = version(), epoch()
    compact, manifest, files = freebsd_manifest(art)

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
    if len(argv) != 4 or argv[1] not in ("freebsd", "netbsd", "openbsd"):
        print(__doc__, file=sys.stderr)
        return 2
    build = {"freebsd": freebsd, "netbsd": netbsd, "openbsd": openbsd}[argv[1]]
    print(build(Path(argv[2]), Path(argv[3])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
