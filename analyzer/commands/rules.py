"""``analyzer rules [--show ID] [--test] [--format table|json]``: list the knowledge, show one rule, self-test.

Exit codes: 0 listed or every fixture passed, 1 a fixture failed or a rule file was skipped, 2 unknown rule.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from typing import Any

from analyzer.commands.output import add_terminal_arguments
from analyzer.report.terminal import Layout, layout_for, table, wrap

NAME = "rules"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    k: argparse.ArgumentParser = sub.add_parser(NAME, help="list the knowledge: rule id, KB article, what it diagnoses")
    k.add_argument("--show", metavar="ID", help="show one rule with its references and fixtures")
    k.add_argument("--test", action="store_true", help="run every rule's fixtures (self-test)")
    k.add_argument(
        "--format", choices=["text", "table", "json"], default="text", help="text (also: table) or json (default text)"
    )
    add_terminal_arguments(k)
    return k


def run(args: argparse.Namespace) -> int:
    """``analyzer rules [--show ID] [--test] [--format table|json]``; exit 1 when a fixture fails."""
    # Imported here, not at the top: loading every rule would slow every other command's start.
    from analyzer.rules import all_rules, get_rule, load_errors
    from analyzer.rules.selftest import self_test

    fmt = getattr(args, "format", "table")
    broken = load_errors()
    for line in broken:
        print(f"analyzer: rule file skipped: {line}", file=sys.stderr)
    if getattr(args, "test", False):
        results = self_test()
        if fmt == "json":
            print(json.dumps([r.__dict__ | {"problems": list(r.problems)} for r in results], indent=2))
        else:
            for r in results:
                status = "pass" if r.passed else "FAIL"
                print(f"{status}  {r.rule:<12} {r.fixture}" + ("" if r.passed else "  -- " + "; ".join(r.problems)))
            failed = sum(not r.passed for r in results)
            tail = f", {len(broken)} rule file(s) not loaded" if broken else ""
            print(f"{len(results) - failed} passed, {failed} failed{tail}")
        return 0 if all(r.passed for r in results) and not broken else 1
    if getattr(args, "show", None):
        rule = get_rule(args.show)
        if rule is None:
            known = ", ".join(r.id for r in all_rules())
            print(f"analyzer: unknown rule {args.show!r} (known: {known})", file=sys.stderr)
            return 2
        data = rule.to_dict(fixtures=True)
        if fmt == "json":
            print(json.dumps(data, indent=2))
            return 0
        width = _layout(args).width
        print("\n".join(wrap(f"{rule.id}: {rule.title}", width, "    ", "")))
        for label, key in (("References", "references"), ("Status", "status"), ("Level", "level")):
            value = data[key]
            print(f"{label}: {', '.join(value) if isinstance(value, list) else value}")
        print(f"Kind: {rule.kind}" + (f" ({rule.origin})" if rule.origin else ""))
        _say("Diagnoses", rule.diagnoses, width)
        for k in rule.registry_keys:
            print(f"Reads: {k}")
        if rule.next_step:
            _say("Next step", rule.next_step, width)
        for a in rule.assumptions:
            _say("Assumption", a, width)
        for fp in rule.falsepositives:
            _say("False positive", fp, width)
        print("Fixtures:")
        for fx in data["fixtures"]:  # type: ignore[union-attr]
            outcome = "fires" if fx["fires"] else "does not fire"
            extra = f"; adds {', '.join(fx['dns'])}" if fx["dns"] else ""
            extra += f"; replaces {fx['replaces']!r}" if fx["replaces"] else ""
            extra += f" ({fx['severity']})" if fx["severity"] else ""
            registry = fx["registry"]
            keep = [*fx["dns"], *(registry if isinstance(registry, list) else [])]  # DNs stay whole
            say = functools.partial(_wrapped, width=width, keep=[str(k) for k in keep])
            say(f"{fx['name']}: Logon Only As = {registry!r} -> {outcome}{extra}", "  - ", "      ")
            for key, values in fx["keys"].items():
                say(f"registry {key}: {values}", "      ", "        ")
            for line in fx["events"]:
                say(line, "      ", "        ")
        return 0
    rules = all_rules()
    if fmt == "json":
        print(json.dumps([r.to_dict() for r in rules], indent=2))
        return 0
    rows = [(r.id, ", ".join(r.references), r.kind, r.status, r.level, r.title) for r in rules]
    width = _layout(args).width
    for line in table(["rule", "KB articles", "kind", "status", "level", "diagnoses"], rows, width):
        print(line)
    return 0


def _layout(args: argparse.Namespace) -> Layout:
    return layout_for(sys.stdout, width=getattr(args, "width", None), color=getattr(args, "color", "auto") or "auto")


def _wrapped(text: str, first: str, indent: str, *, width: int, keep: list[str]) -> None:
    print("\n".join(wrap(text, width, indent, first, keep=keep)))


def _say(label: str, text: str, width: int) -> None:
    """A "Label: text" line of ``--show``, wrapped to the terminal with the text indented."""
    print("\n".join(wrap(text, width, "    ", f"{label}: ")))
