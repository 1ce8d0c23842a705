"""``analyzer events FILE...``: list the events of logs and text exports, filtered, in a chosen format.

Exit codes: 0 when something was read (even no matching event), 2 when no file was usable.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from analyzer.commands.arguments import add_reading_arguments, parse_event_id, parse_time, parse_type
from analyzer.commands.output import (
    Input,
    add_output_arguments,
    add_terminal_arguments,
    choose_format,
    expanded_inputs,
    layout_from,
    say_written,
)
from analyzer.commands.progress import add_progress_arguments, with_progress
from analyzer.events import iter_events
from analyzer.exitcodes import EXIT_INPUT, EXIT_OK, error, warn_to_stderr
from analyzer.limits import CaseLimits, add_read_arguments, read_limits_from
from analyzer.model import Event, ReadWarning
from analyzer.report.events import output_stream, write_events
from analyzer.sniff import EVENT_FORMATS

NAME = "events"
EVENT_FORMATS_OUT = ("text", "csv", "json", "jsonl")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    e: argparse.ArgumentParser = sub.add_parser(
        NAME,
        help="list the events of .evt/.evtx/text-export files (also inside folders and .zip archives)",
        description="Lists events of every FILE; folders are searched recursively and .zip archives opened safely, "
        "as diagnose does.",
    )
    e.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help=".evt, .evtx, Event Viewer .txt/.csv export, DUMPEL output, or a folder or .zip holding them",
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
    add_output_arguments(e, EVENT_FORMATS_OUT, what="events")
    add_terminal_arguments(e)
    add_reading_arguments(e)
    add_read_arguments(e)
    add_progress_arguments(e)
    return e


def run(args: argparse.Namespace) -> int:
    """Stream the events of ``args.files``; a file that cannot be read is one error line, the others go on."""
    fmt = choose_format(args, EVENT_FORMATS_OUT)
    failures: list[ReadWarning] = []

    def on_error(w: ReadWarning) -> None:
        failures.append(w)
        error(str(w))

    with expanded_inputs(args.files, EVENT_FORMATS, CaseLimits()) as inputs:
        readable = [i for i in inputs if i.real is not None]
        events = _events(inputs, args, on_error)
        with output_stream(args.output) as out:
            count = write_events(
                events,
                fmt,
                out,
                nothing_read=lambda: len(failures) == len(inputs),
                with_path=len(readable) > 1,
                layout=layout_from(args, to_file=bool(args.output)),
            )
    if count == 0 and len(failures) == len(inputs):
        return EXIT_INPUT
    if args.output:
        say_written(args.output, f"{count} event(s) as {fmt}")
    return EXIT_OK


def _events(inputs: list[Input], args: argparse.Namespace, on_error: Callable[[ReadWarning], None]) -> Iterator[Event]:
    """The events of each input in turn, each carrying the path the engineer gave (not a temp extraction);
    a problem (a folder with no log) is reported in its place."""
    for item in inputs:
        if item.real is None:
            on_error(ReadWarning(item.display, str(item.problem).removeprefix(f"{item.display}: ")))
            continue
        events = iter_events(
            [item.real], ids=args.ids, sources=args.sources, types=args.types, since=args.since, until=args.until,
            warn=warn_to_stderr, evtx_backend=args.evtx_backend, tz=args.tz, encoding=args.encoding,
            on_error=on_error, limits=read_limits_from(args), language=args.language,
        )  # fmt: skip
        events = with_progress(events, item.real, item.display, getattr(args, "progress", None))
        if item.display == item.real:
            yield from events
        else:
            yield from (dataclasses.replace(ev, path=item.display) for ev in events)
