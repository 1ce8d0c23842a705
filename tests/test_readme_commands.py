"""README's command table names every option each command's ``--help`` has (a QA finding: several were missing).

A row may say ``[reading options]`` or ``[limits]`` for the shared groups; the paragraph under the table
must then name each of them."""

from __future__ import annotations

import argparse
import re

from analyzer.cli import build_parser
from tests.conftest import REPO

READING = {"--tz", "--encoding", "--language", "--evtx-backend"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _shared_paragraph(readme: str) -> str:
    start = readme.index("Reading options (")
    return readme[start : readme.index("\n\n", start)]


def test_readme_command_table_names_every_option() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `analyzer (\w+)([^`]*)`", readme, re.M)}
    shared = _shared_paragraph(readme)
    missing: list[str] = []
    for name, parser in _commands().items():
        assert name in rows, f"README's command table has no row for {name!r}"
        row = rows[name]
        for action in parser._actions:
            names = sorted((o for o in action.option_strings if o not in ("-h", "--help")), key=lambda o: -len(o))
            if not names:
                continue
            if any(re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", row) for o in names):
                continue
            grouped = ("[reading options]" in row and (names[0] in READING or names[0].startswith("--max-"))) or (
                "[limits]" in row and names[0].startswith("--max-")
            )
            if grouped and re.search(re.escape(names[0]) + r"(?![\w-])", shared):
                continue
            missing.append(f"{name} {names[0]}")
    assert not missing, f"README's command table lacks: {', '.join(missing)}"
