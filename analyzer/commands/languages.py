"""``analyzer languages [--format table|json]``: which languages the readers understand, and how well.

One row per language and artefact (Event Viewer columns, type words, categories, wrappers, message templates,
Regedt32 labels, ``reg query`` words, date formats) with the number of strings confirmed by a public source and
the number we reconstructed.  Exit code 0.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tabulate import tabulate

from analyzer import languages

NAME = "languages"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        NAME, help="list the languages of localised exports the readers understand (confirmed/reconstructed)"
    )
    p.add_argument(
        "--format", choices=["text", "table", "json"], default="text", help="text (also: table) or json (default text)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    rows = languages.coverage()
    if getattr(args, "format", "table") == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    by_language: dict[str, dict[str, str]] = {}
    for row in rows:
        cell = f"{row['confirmed']}/{row['reconstructed']}" if row["confirmed"] or row["reconstructed"] else "-"
        by_language.setdefault(f"{row['language']} {row['name']}", {})[str(row["artefact"])] = cell
    table = [[name, *(cells.get(a, "-") for a in languages.ARTEFACTS)] for name, cells in by_language.items()]
    print(tabulate(table, headers=["language", *languages.ARTEFACTS], tablefmt="simple"))
    print("\ncells: confirmed/reconstructed strings (confirmed = a public source shows the wording; reconstructed =")
    print("our own rendering, never Microsoft's wording).  Files: analyzer/languages/data; format: docs/languages.md")
    return 0
