"""Text tables that stream: bounded memory whatever the number of rows.

Why: ``tabulate`` needs every row before it prints the first, and pads every line to the widest cell,
so 861,000 events took 1.66 GB and a hive's REG_BINARY values made every line megabytes long.  Here
the first ``block`` rows are laid out by ``tabulate`` exactly as before (a small listing looks the
same), and every later row is written at once in the column widths of that first block; a later
cell that is wider is cut with ``…`` (the CSV and JSON formats always carry the full value).  Cells
are escaped and cut by the caller (``analyzer.terminal.cell``) before they get here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import TextIO

BLOCK = 2_000  # rows laid out together; memory is BLOCK rows of cut cells


def stream_table(rows: Iterable[Sequence[object]], headers: Sequence[str], out: TextIO, *, block: int = BLOCK) -> int:
    """Write ``rows`` under ``headers`` in tabulate's "simple" format; returns how many rows were written.

    Writes nothing at all when there are no rows (the caller decides what an empty listing says)."""
    it = iter(rows)
    first = [list(r) for r in islice(it, block)]
    if not first:
        return 0
    from tabulate import tabulate  # only where a table is printed: it costs start-up

    text = tabulate(first, headers=list(headers), tablefmt="simple")
    out.write(text + "\n")
    count = len(first)
    widths = [len(dashes) for dashes in text.split("\n", 2)[1].split("  ")]
    numeric = [all(isinstance(r[i], int | float) or r[i] is None for r in first) for i in range(len(widths))]
    del first, text
    for row in it:
        out.write(_line(row, widths, numeric) + "\n")
        count += 1
    return count


def _line(row: Sequence[object], widths: list[int], numeric: list[bool]) -> str:
    """One row in fixed widths; a cell with line breaks (a list value, one entry per line) spans several lines."""
    columns = [("" if value is None else str(value)).split("\n") for value in row]
    height = max((len(c) for c in columns), default=1)
    lines = []
    for i in range(height):
        cells = []
        for parts, width, right in zip(columns, widths, numeric, strict=False):
            s = parts[i] if i < len(parts) else ""
            if len(s) > width:
                s = s[: max(width - 1, 0)] + "…"
            cells.append(s.rjust(width) if right else s.ljust(width))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


__all__ = ["BLOCK", "stream_table"]
