"""Event listings for ``analyzer events``: stream events to a table, CSV, JSON array or JSON lines."""

from __future__ import annotations

import itertools
import json
import sys
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from analyzer.model import Event, iso_time
from analyzer.output import atomic_write
from analyzer.report.terminal import Layout
from analyzer.report.terminal import table as layout_table
from analyzer.terminal import cell, has_undecodable, json_safe, shown_name, visible

TABLE_COLUMNS = ["time", "record", "id", "type", "source", "computer", "strings"]  # all fields: csv, json
TABLE_LIMIT = 2_000  # characters of the joined insertion strings shown in a table (the JSON has them all)
CELL_LIMIT = 64  # source, computer: longer ones are cut in the table (CSV/JSON keep them)
SEVERITY_OF_TYPE = {"error": "error", "failure_audit": "error", "warning": "warning"}


@contextmanager
def output_stream(path: str | None) -> Iterator[TextIO]:
    """stdout, or ``path`` written whole or not at all (``analyzer.output.atomic_write``)."""
    if path is None:
        yield sys.stdout
        return
    with atomic_write(path, newline="") as fh:
        yield fh


def safe_cell(text: str) -> str:
    """Neutralise spreadsheet formulas (= + - @ at the start) in CSV cells."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_events(
    events: Iterator[Event],
    fmt: str,
    out: TextIO,
    nothing_read: Callable[[], bool] | None = None,
    *,
    with_path: bool = False,
    layout: Layout | None = None,
) -> int:
    """Write events in ``fmt``; returns how many were written.  Streams except for the text table
    (``text``/``table``), which is left out entirely when ``nothing_read()`` says no input was usable
    (the errors say why).  The table fits ``layout``'s width: the insertion strings (DNs) are never cut,
    they go on a line of their own under the row when they do not fit; ``with_path`` adds a path column
    (several files)."""
    count = 0
    if fmt in ("json", "csv"):
        # No "[" or header line before the first event is read: when no input was usable, stdout stays
        # empty (the errors on stderr say why) instead of holding a valid-looking empty result.
        first = next(events, None)
        if first is None and nothing_read is not None and nothing_read():
            return 0
        events = itertools.chain([] if first is None else [first], events)
    if fmt == "jsonl":
        for ev in events:
            out.write(_json_line(ev) + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for ev in events:
            out.write(("," if count else "") + "\n" + _json_line(ev))
            count += 1
        out.write("\n]\n" if count else "]\n")
    elif fmt == "csv":
        import csv  # only for this format: every command's start-up imports this module

        writer = csv.writer(out)
        header = list(Event.__slots__)
        header.remove("data")
        writer.writerow(header)
        for ev in events:
            row = ev.to_dict()
            row["log"] = ev.log
            writer.writerow([safe_cell(_csv_text(row.get(col))) for col in header])
            count += 1
    else:
        layout = layout or Layout()
        naive = False
        styles: deque[str] = deque()

        def rows() -> Iterator[list[str]]:
            nonlocal naive, count
            for ev in events:
                naive = naive or (ev.time_generated is not None and ev.time_generated.tzinfo is None)
                row = [iso_time(ev.time_generated) or "", str(ev.record), str(ev.event_id), ev.type.label,
                       cell(ev.source, CELL_LIMIT), cell(ev.computer, CELL_LIMIT),
                       cell(" | ".join(ev.strings), TABLE_LIMIT)]  # fmt: skip
                styles.append(SEVERITY_OF_TYPE.get(ev.type.value, ""))
                count += 1
                yield [visible(shown_name(ev.path), cell=True), *row] if with_path else row

        def style_of() -> Iterator[str]:
            while True:  # the row's style is appended just before the row is laid out
                yield styles.popleft() if styles else ""

        headers = ["path", *TABLE_COLUMNS] if with_path else TABLE_COLUMNS
        lines = layout_table(headers, rows(), layout.width, whole=("strings",), styles=style_of(), layout=layout,
                             style_column="type")  # fmt: skip
        first = next(lines, None)
        if count == 0 and nothing_read is not None and nothing_read():
            return 0
        if first is not None:
            out.write(first + "\n")
        for line in lines:  # streams: memory does not grow with the log
            out.write(line + "\n")
        out.write(
            f"{count} event(s)"
            + (" — times are local to the exporting machine (no zone; see --tz)" if naive else "")
            + "\n"
        )
    return count


def _json_line(ev: Event) -> str:
    """One event as JSON; strings that cannot be UTF-8 (a path that was not) are shown escaped."""
    d = ev.to_dict()
    line = json.dumps(d, ensure_ascii=False)
    if not line.isascii() and has_undecodable(line):
        line = json.dumps(json_safe(d), ensure_ascii=False)
    return line


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(json_safe(value), ensure_ascii=False)  # insertion strings keep their boundaries
    return shown_name(str(value))
