#!/usr/bin/env python3
"""Adds DEBIAN/md5sums to a .deb built by cargo-deb, which writes none.

    packaging/deb/md5sums.py PACKAGE.deb

dpkg records md5sums in /var/lib/dpkg/info/<pkg>.md5sums; `dpkg --verify`
and debsums read it to tell a changed file from the packaged one, and
lintian expects it. The list is what dh_md5sums writes: every regular file
of the data archive except the conffiles (dpkg keeps their sums in its
status file), "<md5>  <path without ./>", sorted by path.

The rewrite is reproducible: the control archive keeps its members, order,
owners and mtimes, md5sums is added after `control` with the same mtime,
0644 root:root, and the ar members keep their headers' dates. The data
archive is copied byte for byte. Standard library only (the build image has
python3, as for packaging/common/bsdpkg.py).
"""

import hashlib
import io
import lzma
import sys
import tarfile

AR_MAGIC = b"!<arch>\n"


def read_ar(blob):
    """[(name, mtime, data)] of a common-format ar archive."""
    if not blob.startswith(AR_MAGIC):
        raise SystemExit("deb-md5sums: not an ar archive")
    out, pos = [], len(AR_MAGIC)
    while pos < len(blob):
        hdr = blob[pos : pos + 60]
        if len(hdr) < 60 or hdr[58:60] != b"`\n":
            raise SystemExit("deb-md5sums: bad ar member header")
        name = hdr[0:16].decode().rstrip()
        mtime = int(hdr[16:28].decode().strip() or 0)
        size = int(hdr[48:58].decode().strip())
        data = blob[pos + 60 : pos + 60 + size]
        out.append((name, mtime, data))
        pos += 60 + size + (size & 1)
    return out


def write_ar(members):
    buf = bytearray(AR_MAGIC)
    for name, mtime, data in members:
        hdr = "%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name, mtime, 0, 0, "100644", len(data))
        buf += hdr.encode()
        buf += data
        if len(data) & 1:
            buf += b"\n"
    return bytes(buf)


def open_tar(name, data):
    if name.endswith(".xz"):
        return tarfile.open(fileobj=io.BytesIO(lzma.decompress(data)))
    if name.endswith(".gz"):
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
    raise SystemExit("deb-md5sums: unsupported compression of " + name)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    path = sys.argv[1]
    with open(path, "rb") as f:
        members = read_ar(f.read())
    names = [m[0].rstrip("/") for m in members]
    ci = next(i for i, n in enumerate(names) if n.startswith("control.tar"))
    di = next(i for i, n in enumerate(names) if n.startswith("data.tar"))
    cname, cmtime, cdata = members[ci]

    ctrl = open_tar(cname.rstrip("/"), cdata)
    ctrl_members = [(m, ctrl.extractfile(m).read() if m.isfile() else None) for m in ctrl.getmembers()]
    if any(m.name.lstrip("./") == "md5sums" for m, _ in ctrl_members):
        raise SystemExit("deb-md5sums: %s already has md5sums" % path)
    conffiles = set()
    for m, data in ctrl_members:
        if m.name.lstrip("./") == "conffiles":
            conffiles = {l.strip() for l in data.decode().splitlines() if l.strip()}

    sums = []
    with open_tar(names[di], members[di][2]) as data_tar:
        for m in data_tar.getmembers():
            if not m.isfile():
                continue
            rel = m.name[2:] if m.name.startswith("./") else m.name.lstrip("/")
            if "/" + rel in conffiles:
                continue
            sums.append((rel, hashlib.md5(data_tar.extractfile(m).read()).hexdigest()))
    sums.sort()
    md5sums = "".join("%s  %s\n" % (h, p) for p, h in sums).encode()

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as t:
        for m, data in ctrl_members:
            t.addfile(m, io.BytesIO(data) if data is not None else None)
            if m.name.lstrip("./") == "control":
                info = tarfile.TarInfo("./md5sums")
                info.size, info.mode, info.mtime = len(md5sums), 0o644, m.mtime
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                t.addfile(info, io.BytesIO(md5sums))
    raw = out.getvalue()
    if cname.rstrip("/").endswith(".xz"):
        packed = lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9)
    else:
        import gzip

        packed = gzip.compress(raw, mtime=0)
    members[ci] = (cname, cmtime, packed)
    with open(path + ".new", "wb") as f:
        f.write(write_ar(members))
    import os

    os.replace(path + ".new", path)
    print("deb-md5sums: %s: %d files" % (path, len(sums)))


if __name__ == "__main__":
    main()
