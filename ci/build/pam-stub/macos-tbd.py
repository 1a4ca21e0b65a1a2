#!/usr/bin/env python3
"""Writes the text stubs (.tbd) ld64.lld needs to link wpam for macOS.

    macos-tbd.py <zig's libSystem.tbd> <apple-openpam.syms> <out dir>

Why each one, and where its facts come from: ci/build/build-target.sh
(macos-universal). Output: libSystem.tbd, libc.tbd and libm.tbd (the same
file, as in Apple's SDK), libpam.tbd and libiconv.tbd.
"""
import os
import re
import sys

MACOS = ["x86_64-macos", "arm64-macos", "arm64e-macos"]


def fix_targets(match: re.Match) -> str:
    """One `[ ... ]` list of targets: arm64 beside arm64e; zig's private
    arm64e.x1 and the maccatalyst targets dropped (ld64.lld refuses
    `arm64e.x1`, and nothing here is built for Catalyst)."""
    out = []
    for t in (x.strip() for x in match.group(1).split(",")):
        if not t or ".x1-" in t or t.endswith("-maccatalyst"):
            continue
        if t == "arm64e-macos":
            out.append("arm64-macos")
        out.append(t)
    return "[ " + ", ".join(out) + " ]"


def libsystem(text: str) -> str:
    pattern = re.compile(r"\[\s*((?:[a-z0-9_.]+-(?:macos|maccatalyst)\s*,?\s*)+)\]")
    fixed = pattern.sub(fix_targets, text)
    if "arm64-macos" not in fixed or "x86_64-macos" not in fixed:
        sys.exit("macos-tbd: libSystem.tbd has no x86_64 or arm64e macOS target")
    return fixed


def stub(install_name: str, current: str, compat: str, symbols: list) -> str:
    lines = [
        "--- !tapi-tbd",
        "tbd-version:     4",
        f"targets:         [ {', '.join(MACOS)} ]",
        f"install-name:    '{install_name}'",
        f"current-version: {current}",
        f"compatibility-version: {compat}",
    ]
    if symbols:
        lines += [
            "exports:",
            f"  - targets:         [ {', '.join(MACOS)} ]",
            "    symbols:         [ " + ", ".join(symbols) + " ]",
        ]
    return "\n".join(lines + ["...", ""])


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, syms_file, out = sys.argv[1:]
    with open(src, encoding="utf-8") as f:
        system = libsystem(f.read())
    with open(syms_file, encoding="utf-8") as f:
        syms = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    if "pam_get_item" not in syms:
        sys.exit(f"macos-tbd: {syms_file} does not list pam_get_item")
    os.makedirs(out, exist_ok=True)
    files = {
        "libSystem.tbd": system,
        "libc.tbd": system,
        "libm.tbd": system,
        # C symbols carry a leading underscore in Mach-O.
        "libpam.tbd": stub("/usr/lib/libpam.2.dylib", "3", "1", ["_" + s for s in syms]),
        "libiconv.tbd": stub("/usr/lib/libiconv.2.dylib", "7", "7", []),
    }
    for name, text in files.items():
        tmp = os.path.join(out, name + ".new")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(out, name))


if __name__ == "__main__":
    main()
