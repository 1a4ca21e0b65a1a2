#!/usr/bin/env python3
"""The input of FreeBSD's own `pkg create` for wpam (Python 3.11 stdlib).

    packaging/freebsd/stage.py ARTIFACT_DIR ROOT METADIR

ARTIFACT_DIR is dist/freebsd-amd64 (pam_wpam.so, wpam). Writes:

  ROOT/usr/local/...  the payload: the files of packaging/freebsd/pkg-plist,
                      with the modes the package gives them
  METADIR/+MANIFEST   name, version, origin, comment, maintainer, www, abi,
                      prefix, licenses, categories, and every file with its
                      owner, group and mode (JSON, which pkg reads as UCL)
  METADIR/+DESC, +DISPLAY, +POST_INSTALL, +PRE_DEINSTALL
                      packaging/freebsd/pkg-descr, pkg-message,
                      post-install, pre-deinstall, byte for byte
  METADIR/pkg-post-install.lua, pkg-pre-deinstall.lua
                      the ports tree's @sample keyword, which pkg create
                      cannot expand itself (its keyword files live in the
                      ports tree, not here)

packaging/freebsd/build.sh then runs `pkg create -m METADIR -r ROOT`: pkg writes the
archive, the checksums, the sizes and the compact manifest. VERSION
(default: Cargo.toml) comes from the environment.
"""

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "common"))
import bsdpkg  # noqa: E402  (the metadata every BSD package shares)

PREFIX = "/usr/local"
# The package's ABI: pkg matches it as an fnmatch pattern against the host's
# (libpkg utils.c is_valid_abi). The supported majors we build for and test
# (14, 15; 13 reached its end of life on 2026-04-30), not "*": a future major
# (16) refuses it rather than install a module nobody loaded there.
ABI = "FreeBSD:1[45]:amd64"
# The legacy arch field, the same majors.
ARCH = "freebsd:1[45]:x86:64"


@dataclass
class PlistEntry:
    """A line of packaging/freebsd/pkg-plist: a file under the prefix, and
    the keyword that carries it ("" for a plain file, "sample")."""

    path: str
    keyword: str = ""
    owner: str = ""
    group: str = ""
    mode: int | None = None


def plist() -> list[PlistEntry]:
    """packaging/freebsd/pkg-plist, the FreeBSD port's pkg-plist (the ports
    generator copies it) and the file list of our own .pkg. Only what both
    understand is accepted: plain files and @sample[(owner,group,mode)]."""
    out = []
    for n, line in enumerate(bsdpkg.template("freebsd", "pkg-plist").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"@sample(?:\(([^,()]*),([^,()]*),([0-7]*)\))?\s+(\S+\.sample)", line)
        if m:
            owner, group, mode, path = m.groups()
            # The staged files are root's: root and wheel only.
            if (owner or "root") != "root" or (group or "wheel") != "wheel":
                sys.exit(f"freebsd-stage: packaging/freebsd/pkg-plist:{n}: owner root, group wheel only: {line}")
            out.append(PlistEntry(path, "sample", owner or "", group or "", int(mode, 8) if mode else None))
        elif line.startswith("@") or line.startswith("/") or " " in line:
            sys.exit(f"freebsd-stage: packaging/freebsd/pkg-plist:{n}: not supported here: {line}")
        else:
            out.append(PlistEntry(line))
    return out


def sources(art: Path) -> dict[str, tuple[bytes, int]]:
    """The bytes and mode of every file the plist may name, by path under the prefix."""
    return {
        "lib/pam_wpam.so": (bsdpkg.artifact(art, "pam_wpam.so"), 0o444),
        "bin/wpam": (bsdpkg.artifact(art, "wpam"), 0o555),
        "share/man/man8/pam_wpam.8.gz": (bsdpkg.gz(bsdpkg.man_page()), 0o444),
        "share/man/man8/wpam.8.gz": (bsdpkg.gz(bsdpkg.wpam_man_page()), 0o444),
        "etc/wpam.conf.sample": (bsdpkg.sample_config(f"{PREFIX}/etc/wpam.conf"), 0o644),
    }


def lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sample_lua(e: PlistEntry) -> tuple[str, str]:
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


def write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def stage(art: Path, root: Path, meta: Path) -> None:
    srcs = sources(art)
    files, lua_post, lua_pre = {}, [], []
    for e in plist():
        if e.path not in srcs:
            sys.exit(f"freebsd-stage: pkg-plist names {e.path}, which the package does not build")
        data, mode = srcs[e.path]
        mode = e.mode if e.mode is not None else mode
        write(root / PREFIX.lstrip("/") / e.path, data, mode)
        # pkg create takes owner, group and mode from here (not from the
        # staged file, which may belong to whoever builds).
        files[f"{PREFIX}/{e.path}"] = {"uname": e.owner or "root", "gname": e.group or "wheel", "perm": f"{mode:04o}"}
        if e.keyword == "sample":
            post, pre = sample_lua(e)
            lua_post.append(post)
            lua_pre.append(pre)
    manifest = {
        "name": "wpam",
        "origin": "security/wpam",
        "version": bsdpkg.version(),
        "comment": bsdpkg.COMMENT,
        "maintainer": bsdpkg.MAINTAINER,
        "www": bsdpkg.WWW,
        "abi": ABI,
        "arch": ARCH,
        "prefix": PREFIX,
        "licenselogic": "single",
        "licenses": ["MIT"],
        "categories": ["security"],
        "files": files,
    }
    write(meta / "+MANIFEST", json.dumps(manifest, indent=1).encode() + b"\n")
    for name, template in [
        ("+DESC", "pkg-descr"),
        ("+DISPLAY", "pkg-message"),
        ("+POST_INSTALL", "post-install"),
        # A warning while PAM still names the module (packaging/freebsd/pre-deinstall).
        ("+PRE_DEINSTALL", "pre-deinstall"),
    ]:
        write(meta / name, bsdpkg.template("freebsd", template).encode())
    # pkg takes one Lua script per phase from a metadata directory.
    write(meta / "pkg-post-install.lua", "".join(lua_post).encode())
    write(meta / "pkg-pre-deinstall.lua", "".join(lua_pre).encode())


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    stage(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
