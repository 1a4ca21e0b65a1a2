#!/usr/bin/env python3
"""One CycloneDX SBOM per released artifact (ci/release/release.sh).

usage: ci/release/sbom-artifacts.py BASE BINDIR OUTDIR ARTIFACT...

BASE     `cargo cyclonedx --target <triple>` for the artifacts' target: the
         crate and the dependencies compiled for that platform
BINDIR   dist/<target>/: the binaries built for it (pam_wpam.so, wpam,
         login_-wpam), the bytes the artifacts carry
OUTDIR   where <artifact name>.cdx.json is written for each ARTIFACT

Each SBOM describes its artifact (metadata.component: type "file", the
artifact's name, SHA-256 and SHA-512), which contains the crate (cargo
cyclonedx's root component, with its dependency graph unchanged) and the
binaries (each with SHA-256). metadata.tools names what made them: cargo
cyclonedx, the rustc of each binary and the C compiler and linker zig
bundles, as recorded in the binary's own .comment section (what built it,
not what this host has; a Mach-O file has no .comment: its rustc is the
commit its std's /rustc/<commit>/ paths name, with the version of the rustc
here when that is the same commit), plus the pinned zig and cargo-zigbuild
(ZIGLANG_VERSION, CARGO_ZIGBUILD_VERSION) and, for a nightly-built binary,
the dated nightly (WPAM_NIGHTLY). The serial number is derived from the
artifact's hash, so the same artifact gives the same SBOM.
"""
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import uuid


def digest(path, alg):
    h = hashlib.new(alg)
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def comment(path):
    r = subprocess.run(["readelf", "-p", ".comment", path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return [m.group(1).strip() for m in re.finditer(r"^\s*\[\s*[0-9a-f]+\]\s+(.*)$", r.stdout, re.M)]


def rustc_commit(path):
    """The rustc commit a binary's std was built by: its panic locations
    name /rustc/<commit>/library/... (a Mach-O file has no .comment)."""
    with open(path, "rb") as f:
        m = re.search(rb"/rustc/([0-9a-f]{40})/library/", f.read())
    return m.group(1).decode() if m else None


def host_rustc():
    """`rustc -vV` here: {"release": ..., "commit-hash": ..., "commit-date": ...}."""
    r = subprocess.run(["rustc", "-vV"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return dict(l.split(": ", 1) for l in r.stdout.splitlines() if ": " in l)


def toolchain(bins):
    seen, tools = set(), []

    def add(name, version, desc):
        if (name, version) not in seen:
            seen.add((name, version))
            tools.append({"type": "application", "name": name, "version": version, "description": desc})

    nightly = False
    for b in bins:
        lines = comment(b)
        commit = None if lines else rustc_commit(b)
        if commit:
            h = host_rustc()
            if h.get("commit-hash") == commit:
                add("rustc", f"{h['release']} ({commit[:9]} {h.get('commit-date', '')})".replace(" )", ")"),
                    f"compiled {os.path.basename(b)} (the commit its /rustc/ paths name)")
            else:
                add("rustc", "commit " + commit, f"compiled {os.path.basename(b)} (its /rustc/ paths)")
            nightly |= "nightly" in h.get("release", "") and h.get("commit-hash") == commit
        for line in lines:
            m = re.match(r"rustc version (\S+)(.*)", line)
            if m:
                add("rustc", m.group(1) + m.group(2), f"compiled {os.path.basename(b)} (its .comment)")
                nightly |= "nightly" in m.group(1)
                continue
            m = re.match(r"clang version (\S+)", line)
            if m:
                add("clang (zig cc)", m.group(1), "C compiler bundled with zig (.comment)")
                continue
            m = re.match(r"Linker: LLD (\S+)", line)
            if m:
                add("lld (zig)", m.group(1), "linker bundled with zig (.comment)")
    if not any(t["name"] == "rustc" for t in tools):
        sys.exit(f"sbom-artifacts: no rustc version in the .comment of {bins}")
    for env, name, desc in (("ZIGLANG_VERSION", "zig", "PyPI ziglang, pinned in ci/build/setup-cross.sh"),
                            ("CARGO_ZIGBUILD_VERSION", "cargo-zigbuild", "pinned in ci/build/setup-cross.sh")):
        if not os.environ.get(env):
            sys.exit(f"sbom-artifacts: {env} is not set")
        add(name, os.environ[env], desc)
    if nightly:
        if not os.environ.get("WPAM_NIGHTLY"):
            sys.exit("sbom-artifacts: a nightly-built binary and no WPAM_NIGHTLY")
        add("rust toolchain", os.environ["WPAM_NIGHTLY"], "the dated nightly (rustup), pinned in ci/build/setup-cross.sh")
    return tools


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    base_path, bindir, outdir, *artifacts = sys.argv[1:]
    base = json.load(open(base_path))
    bins = sorted(os.path.join(bindir, n) for n in os.listdir(bindir)
                  if n in ("pam_wpam.so", "wpam", "login_-wpam"))
    if not bins:
        sys.exit(f"sbom-artifacts: no binaries in {bindir}")
    tools = toolchain(bins)
    binaries = [{"type": "file", "bom-ref": "file:" + os.path.basename(b), "name": os.path.basename(b),
                 "hashes": [{"alg": "SHA-256", "content": digest(b, "sha256")}]} for b in bins]
    for a in artifacts:
        name = os.path.basename(a)
        bom = copy.deepcopy(base)
        meta = bom.setdefault("metadata", {})
        crate = meta.get("component")
        if not crate or "bom-ref" not in crate:
            sys.exit("sbom-artifacts: cargo cyclonedx wrote no root component")
        t = meta.get("tools")
        if isinstance(t, list):  # the 1.4 form: {vendor, name, version}
            t = {"components": [{"type": "application", **x} for x in t]}
        t = t or {}
        t.setdefault("components", []).extend(tools)
        meta["tools"] = t
        sha256 = digest(a, "sha256")
        meta["component"] = {
            "type": "file",
            "bom-ref": "artifact:" + name,
            "name": name,
            "version": crate.get("version", ""),
            "hashes": [{"alg": "SHA-256", "content": sha256},
                       {"alg": "SHA-512", "content": digest(a, "sha512")}],
            "components": [crate] + binaries,
        }
        bom["serialNumber"] = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "wpam-sbom:" + sha256))
        deps = bom.setdefault("dependencies", [])
        deps.append({"ref": "artifact:" + name, "dependsOn": [crate["bom-ref"]] + [b["bom-ref"] for b in binaries]})
        out = os.path.join(outdir, name + ".cdx.json")
        with open(out, "w") as f:
            json.dump(bom, f, indent=2, sort_keys=True)
            f.write("\n")
        print(out)


main()
