"""``analyzer languages [--format table|json]``: which languages the readers understand, and how well.

One row per language and artefact (Event Viewer columns, type words, categories, wrappers, message templates,
Regedt32 labels, ``reg query`` words, date formats) with the number of strings confirmed by a public source and
the number we reconstructed.  Exit code 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from analyzer.commands.output import add_terminal_arguments
from analyzer.report.terminal import layout_for, table, wrap

NAME = "languages"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        NAME, help="list the languages of localised exports the readers understand (confirmed/reconstructed)"
    )
    p.add_argument(
        "--format", choices=["text", "table", "json"], default="text", help="text (also: table) or json (default text)"
    )
    add_terminal_arguments(p)
    return p


def run(args: argparse.Namespace) -> int:
    from analyzer import languages  # every command registers this one: only running it loads the languages

    rows = languages.coverage()
    if getattr(args, "format", "table") == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    # One column per language, one row per artefact: eight artefacts side by side do not fit 80 columns.
    names: dict[str, str] = {}
    cells: dict[tuple[str, str], str] = {}
    for row in rows:
        names[str(row["language"])] = str(row["name"])
        shown = f"{row['confirmed']}/{row['reconstructed']}" if row["confirmed"] or row["reconstructed"] else "-"
        cells[(str(row["artefact"]), str(row["language"]))] = shown
    codes = list(names)
    grid = [[artefact, *(cells.get((artefact, code), "-") for code in codes)] for artefact in languages.ARTEFACTS]
    layout = layout_for(sys.stdout, width=getattr(args, "width", None), color=getattr(args, "color", "auto") or "auto")
    for line in table(["artefact", *codes], grid, layout.width):
        print(line)
    print()
    notes = [
        "languages: " + ", ".join(f"{code} {name}" for code, name in names.items()) + ".",
        "cells: confirmed/reconstructed strings (confirmed = a public source shows the wording; reconstructed = "
        "our own rendering, never Microsoft's wording).  Files: analyzer/languages/data; format: docs/languages.md",
    ]
    for note in notes:
        print("\n".join(wrap(note, layout.width, "  ")))
    return 0
