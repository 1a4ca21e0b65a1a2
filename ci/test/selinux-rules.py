#!/usr/bin/python3
"""Prints the allow rules of a binary SELinux policy that a wpam boolean
gates and that are in force for a given set of boolean values: the
policy's defaults, changed by NAME=on|off arguments (what `setsebool`
would do). One rule per line, sorted, without the condition.

Usage: ci/test/selinux-rules.py POLICY [NAME=on|off ...]

Used by ci/test/selinux.sh. It evaluates the policy's own conditional
expressions with setools, the library sesearch is built on (Debian:
python3-setools), hence /usr/bin/python3 and not a virtualenv's.
"""

import sys

import setools


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    policy = setools.SELinuxPolicy(argv[1])
    state = {b.name: b.state for b in policy.bools()}
    for arg in argv[2:]:
        name, _, value = arg.partition("=")
        if name not in state or value not in ("on", "off"):
            print(f"selinux-rules: unknown boolean or value: {arg}", file=sys.stderr)
            return 2
        state[name] = value == "on"
    rules = set()
    for rule in policy.terules():
        if rule.ruletype != setools.TERuletype.allow:
            continue
        try:
            cond = rule.conditional
        except setools.exception.RuleNotConditional:
            continue
        if not any(b.name.startswith("wpam_") for b in cond.booleans):
            continue
        if cond.evaluate(**state) == rule.conditional_block:
            perms = " ".join(sorted(rule.perms))
            rules.add(f"allow {rule.source} {rule.target}:{rule.tclass} {{ {perms} }};")
    for r in sorted(rules):
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
