"""Terminal layout: the width to fit, wrapped paragraphs, tables that wrap their cells, DNs kept whole, colour.

Why a small layout of our own instead of a library:

* tabulate (already a dependency) can wrap cells (``maxcolwidths``), but it breaks every long token where
  the column ends -- a DN cut in two lines can no longer be copied into regedit -- and it cannot move a
  cell to a line of its own;
* rich would add a large dependency that interprets ``[markup]`` in strings; everything shown here comes
  from customer files, so each string would need escaping for a second markup language.

So a table here is laid out with ``textwrap``: columns get their natural width while the row fits,
the widest are narrowed otherwise, cells wrap at blanks (a token longer than its column is broken only
as a last resort), and *whole* columns (DNs) that do not fit are printed under their row, indented, on
one line however long.  Colour (verdict and severity only) is ANSI SGR, used only on a terminal unless
``--color always``; ``NO_COLOR`` (no-color.org) turns it off in ``auto``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import TextIO

DEFAULT_WIDTH = 80  # when the output is not a terminal and no --width is given
MIN_WIDTH = 40
GAP = "  "
MIN_COLUMN = 6
BLOCK = 2_000  # rows a table's layout is planned on; later rows reuse it (bounded memory)

SGR = {"error": "1;31", "warning": "33", "info": "36", "ok": "1;32", "action": "1;31"}


@dataclass(frozen=True)
class Layout:
    """How to lay out text for one output: its width and whether to colour."""

    width: int = DEFAULT_WIDTH
    color: bool = False

    def paint(self, text: str, style: str) -> str:
        """``text`` in the colour of ``style`` (a severity, ``ok`` or ``action``) when colouring."""
        code = SGR.get(style)
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and code else text


def layout_for(stream: TextIO, *, width: int | None = None, color: str = "auto") -> Layout:
    """The layout of ``stream``: ``width`` if given, else the terminal's (``COLUMNS`` wins, as in
    ``shutil.get_terminal_size``), else 80; colour per ``color`` (auto: a terminal without NO_COLOR)."""
    tty = _isatty(stream)
    if width is None:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns if tty else DEFAULT_WIDTH
    use_color = color == "always" or (color == "auto" and tty and not os.environ.get("NO_COLOR"))
    return Layout(max(MIN_WIDTH, width), use_color)


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


KEEP = "\x00"  # stands for a blank inside a string that must stay on one line while wrapping
MAX_FLOOR = 24  # a column is not narrowed below its longest word, up to this many characters


def wrap(text: str, width: int, indent: str = "", first: str | None = None, keep: Sequence[str] = ()) -> list[str]:
    """A paragraph wrapped at blanks; words longer than a line stay whole, and so does each string of
    ``keep`` (DNs, which hold blanks: a DN split over two lines cannot be copied into regedit)."""
    lead = indent if first is None else first
    for whole in sorted({k for k in keep if " " in k and k in text}, key=len, reverse=True):
        text = text.replace(whole, whole.replace(" ", KEEP))
    lines = textwrap.wrap(
        text,
        width=max(MIN_COLUMN, width),
        initial_indent=lead,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace(KEEP, " ") for line in lines] or [lead.rstrip()]


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    width: int,
    *,
    whole: Sequence[str] = (),
    indent: str = "",
    styles: Iterable[str] = (),
    layout: Layout | None = None,
    style_column: str | None = None,
    block: int = BLOCK,
    breakable: Sequence[str] = (),
) -> Iterator[str]:
    """Lines of a table that fits ``width``; columns named in ``whole`` are never wrapped.

    While the natural widths do not fit, the widest whole column leaves the grid and is printed
    under each row as ``  <header>: <value>`` on one line.  ``styles`` (one per row) colours that row's
    cell of ``style_column`` (default: the first column; the severity).  The layout is planned on the
    first ``block`` rows; later rows are wrapped into the same columns, so memory stays bounded
    whatever the number of rows.  Columns named in ``breakable`` hold prose: when even the longest words
    do not fit, theirs are broken rather than the table overflowing.
    """
    headers = list(headers)
    it = iter(rows)
    style_it = iter(styles)
    grid = [list(r) for r in islice(it, block)]
    n = len(headers)
    natural = [max([len(headers[i])] + [_widest_line(r[i]) for r in grid]) for i in range(n)]
    avail = width - len(indent)
    below: list[int] = []
    for i in sorted((i for i in range(n) if headers[i] in whole), key=lambda i: natural[i], reverse=True):
        rest = [k for k in range(n) if k not in below]
        if sum(natural[k] for k in rest) + len(GAP) * (len(rest) - 1) <= avail:
            break
        below.append(i)  # the widest whole column leaves the grid first
    below.sort()
    keep = [i for i in range(n) if i not in below]
    if below and len(keep) == 1:  # a label/value table: one "label: value" line per row
        for r in chain(grid, it):
            label = f"{indent}{r[keep[0]]}: "
            for k, part in enumerate(str(r[below[0]]).split("\n")):
                first = label if k == 0 else " " * len(label)
                if "/o=" in part.casefold():  # a DN (or text holding one): whole, on one line
                    yield (first + part).rstrip()
                else:  # prose (a note): wrapped under its label
                    yield from wrap(part, width, " " * len(label), first)
        return
    floors = [min(natural[i], max(MIN_COLUMN, min(MAX_FLOOR, _longest_word(headers[i], grid, i)))) for i in keep]
    prose = [headers[i] in breakable for i in keep]
    budget = avail - len(GAP) * (len(keep) - 1)
    while sum(floors) > budget and any(p and f > MIN_COLUMN for p, f in zip(prose, floors, strict=True)):
        # the longest words alone are too wide: a prose column (a warning, an explanation) lets its
        # longest word break rather than the table overflow; times, paths and DNs keep theirs
        k = max((k for k in range(len(keep)) if prose[k]), key=lambda k: floors[k])
        floors[k] -= 1
    widths = _fit([natural[i] for i in keep], floors, avail)
    yield from _row_lines([_wrap_cell(headers[i], w) for i, w in zip(keep, widths, strict=True)], widths, indent)
    yield indent + GAP.join("-" * w for w in widths)
    painted = keep.index(headers.index(style_column)) if style_column in headers else 0
    for r in chain(grid, it):
        cells = [_wrap_cell(str(r[i]), w) for i, w in zip(keep, widths, strict=True)]
        style = next(style_it, "")
        paint = functools.partial(layout.paint, style=style) if layout is not None and layout.color and style else None
        yield from _row_lines(cells, widths, indent, painted, paint)
        for i in below:
            if r[i]:
                label = f"{indent}  {headers[i]}: "
                for k, part in enumerate(str(r[i]).split("\n")):  # a list value: one entry per line, aligned
                    yield (label if k == 0 else " " * len(label)) + part


def _widest_line(text: str) -> int:
    """A cell's width: its longest line (a list value holds one entry per line)."""
    return max(map(len, text.split("\n"))) if "\n" in text else len(text)


def _longest_word(header: str, grid: list[list[str]], i: int) -> int:
    """The longest piece a cell of column ``i`` cannot be broken in: words, and the parts of a path
    between separators (a path breaks after ``/`` or ``\\`` as naturally as at a blank)."""
    words = [len(w) for w in header.split()]
    for r in grid:
        for w in r[i].split():
            words.append(max(map(len, _SEPARATED.findall(w))) if ("/" in w or "\\" in w) and "=" not in w else len(w))
    return max(words, default=0)


_SEPARATED = re.compile(r"[^/\\]*[/\\]?")


def _fit(natural: list[int], floor: list[int], avail: int) -> list[int]:
    """Column widths summing (with gaps) to at most ``avail``: the widest columns give way first,
    none below its ``floor`` (its longest word, capped)."""
    widths = list(natural)
    budget = avail - len(GAP) * (len(widths) - 1)
    while sum(widths) > budget:
        i = max(range(len(widths)), key=lambda k: widths[k] - floor[k])
        if widths[i] <= floor[i]:
            break  # every column at its floor: the row is wider than the terminal, it wraps there
        widths[i] -= 1
    return widths


def _wrap_cell(text: str, width: int) -> list[str]:
    if "\n" in text:  # a list value: each entry starts a line of its own
        return [line for part in text.split("\n") for line in _wrap_cell(part, width)]
    if len(text) <= width:
        return [text]
    lines = textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False)
    out: list[str] = []
    for line in lines or [""]:
        while len(line) > width:  # a token longer than the column: broken after a path separator if any
            cut = max(line.rfind("/", 0, width), line.rfind("\\", 0, width)) + 1 or width
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    return out


def _row_lines(
    cells: list[list[str]],
    widths: list[int],
    indent: str,
    painted: int = 0,
    paint: Callable[[str], str] | None = None,
) -> list[str]:
    height = max((len(c) for c in cells), default=1)
    lines = []
    for k in range(height):
        parts = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)]
        if paint is not None and k < len(cells[painted]) and cells[painted][k]:
            text = cells[painted][k]
            parts[painted] = paint(text) + " " * (widths[painted] - len(text))
        lines.append((indent + GAP.join(parts)).rstrip())
    return lines
