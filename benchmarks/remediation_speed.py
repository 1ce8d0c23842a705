"""Cost of near-miss matching and of building a checked patch for large ``Logon Only As`` lists.

    python benchmarks/remediation_speed.py [--entries N] [--refused M] [--repeat R]

A real list holds a handful of DNs; a hostile or machine-made one can hold thousands.  Every refused
component DN is compared with every entry (``dn.find_entry``: case, blanks, display name, then a
banded edit distance for typos), and every patch goes through the invariant and the lock-out check
(``remedy.build_remediation`` with one working DN per entry, the worst case).  Prints the time per
step and per comparison (CPU time of this process, so that a busy machine does not inflate it), so
that a change to the near-miss rules can be judged by its cost.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyzer.dn import find_entry
from analyzer.lockout import Working
from analyzer.remedy import build_remediation

ORG = "/o=Contoso/ou=Berlin"
COMPONENTS = ("Microsoft System Attendant", "Microsoft DSA", "Microsoft MTA", "Microsoft Private MDB")


def entries(n: int) -> list[str]:
    """Close strings on purpose: components of many servers, connectors, mailboxes a letter apart."""
    out: list[str] = []
    i = 0
    while len(out) < n:
        server = f"EXCH{i:04d}"
        out.extend(f"{ORG}/cn=Configuration/cn=Servers/cn={server}/cn={c}" for c in COMPONENTS)
        out.append(f"{ORG}/cn=Configuration/cn=Connections/cn=Internet Mail Connector ({server})")
        out.append(f"{ORG}/cn=Recipients/cn=user{i:04d}")
        i += 1
    return out[:n]


def refused(m: int) -> list[str]:
    return [f"{ORG}/cn=Configuration/cn=Servers/cn=NEW{i:04d}/cn=Microsoft MTA" for i in range(m)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--refused", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    listed, dns = entries(args.entries), refused(args.refused)
    working = [Working("w", "benchmark", dn=e) for e in listed]
    best_match = best_patch = float("inf")
    for _ in range(args.repeat):
        start = time.process_time()
        misses = sum(len(find_entry(dn, listed)[1]) for dn in dns)
        best_match = min(best_match, time.process_time() - start)
        start = time.process_time()
        rem = build_remediation(state="set", current=listed, add=dns, working=working)
        best_patch = min(best_patch, time.process_time() - start)
    assert rem.entries[: len(listed)] == listed
    comparisons = len(listed) * len(dns)
    print(f"list of {len(listed)} entries, {len(dns)} refused DNs, best of {args.repeat} (CPU seconds)")
    print(f"  near-miss matching: {best_match:.3f} s ({best_match / comparisons * 1e6:.1f} us per comparison, "
          f"{misses} near misses)")  # fmt: skip
    print(f"  checked patch (merge + invariant + lock-out, {len(working)} working DNs): {best_patch:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
