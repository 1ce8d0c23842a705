"""Event listings for ``analyzer events``: stream events to a table, CSV, JSON array or JSON lines."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tabulate import tabulate

from analyzer.model import Event, InputError, iso_time

TABLE_COLUMNS = ["time_generated", "record", "event_id", "type", "category", "source", "computer", "strings"]
TABLE_LIMIT = 60  # characters of the joined insertion strings shown in a table cell


@contextmanager
def output_stream(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(path, f"cannot write output: {exc.strerror or exc}") from None
    with fh:
        yield fh


def safe_cell(text: str) -> str:
    """Neutralise spreadsheet formulas (= + - @ at the start) in CSV cells."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_events(events: Iterator[Event], fmt: str, out: TextIO, nothing_read: Callable[[], bool] | None = None) -> int:
    """Write events in ``fmt``; returns how many were written.  Streams except for ``table``, which
    is left out entirely when ``nothing_read()`` says no input was usable (the errors say why)."""
    count = 0
    if fmt == "jsonl":
        for ev in events:
            out.write(json.dumps(ev.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for ev in events:
            out.write(("," if count else "") + "\n" + json.dumps(ev.to_dict(), ensure_ascii=False))
            count += 1
        out.write("\n]\n" if count else "]\n")
    elif fmt == "csv":
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
        rows = []
        naive = False
        for ev in events:
            naive = naive or (ev.time_generated is not None and ev.time_generated.tzinfo is None)
            joined = " | ".join(ev.strings)
            if len(joined) > TABLE_LIMIT:
                joined = joined[: TABLE_LIMIT - 1] + "…"
            rows.append([iso_time(ev.time_generated), ev.record, ev.event_id, ev.type.label, ev.category,
                         ev.source, ev.computer, joined])  # fmt: skip
            count += 1
        if not rows and nothing_read is not None and nothing_read():
            return 0
        out.write(tabulate(rows, headers=TABLE_COLUMNS, tablefmt="simple") + "\n")
        out.write(
            f"{count} event(s)"
            + (" — times are local to the exporting machine (no zone; see --tz)" if naive else "")
            + "\n"
        )
    return count


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)  # insertion strings keep their boundaries
    return str(value)
