"""``analyzer events FILE...``: list the events of logs and text exports, filtered, in a chosen format.

Exit codes: 0 when something was read (even no matching event), 2 when no file was usable.
"""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.commands.arguments import add_reading_arguments, parse_event_id, parse_time, parse_type
from analyzer.events import iter_events
from analyzer.exitcodes import EXIT_INPUT, EXIT_OK, error, warn_to_stderr
from analyzer.limits import add_read_arguments, read_limits_from
from analyzer.model import ReadWarning
from analyzer.report.events import output_stream, write_events

NAME = "events"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    e: argparse.ArgumentParser = sub.add_parser(NAME, help="list the events of .evt/.evtx/text-export files")
    e.add_argument(
        "files", nargs="+", metavar="FILE", help=".evt, .evtx, Event Viewer .txt/.csv export or DUMPEL output"
    )
    e.add_argument(
        "--id", dest="ids", type=parse_event_id, action="append", default=[], metavar="N", help="event ID (repeatable)"
    )
    e.add_argument(
        "--source", dest="sources", action="append", default=[], metavar="S", help="event source (repeatable)"
    )
    e.add_argument(
        "--type",
        dest="types",
        type=parse_type,
        action="append",
        default=[],
        metavar="T",
        help="event type (repeatable)",
    )
    e.add_argument("--since", type=parse_time, metavar="T", help="ISO-8601 time; events at or after it")
    e.add_argument("--until", type=parse_time, metavar="T", help="ISO-8601 time; events at or before it")
    e.add_argument(
        "--format",
        choices=["table", "csv", "json", "jsonl"],
        default="table",
        help="output format (default table; jsonl streams one object per event)",
    )
    e.add_argument("--output", "-o", metavar="FILE")
    add_reading_arguments(e)
    add_read_arguments(e)
    return e


def run(args: argparse.Namespace) -> int:
    """Stream the events of ``args.files``; a file that cannot be read is one error line, the others go on."""
    failures: list[ReadWarning] = []

    def on_error(w: ReadWarning) -> None:
        failures.append(w)
        error(str(w))

    events = iter_events(
        args.files, ids=args.ids, sources=args.sources, types=args.types, since=args.since, until=args.until,
        warn=warn_to_stderr, evtx_backend=args.evtx_backend, tz=args.tz, encoding=args.encoding, on_error=on_error,
        limits=read_limits_from(args), language=args.language,
    )  # fmt: skip
    with output_stream(args.output) as out:
        count = write_events(events, args.format, out, nothing_read=lambda: len(failures) == len(args.files))
    if count == 0 and len(failures) == len(args.files):
        return EXIT_INPUT
    return EXIT_OK
