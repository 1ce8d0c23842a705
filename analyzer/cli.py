"""Command line: argument parsing and exit codes only; the work happens in the library.

Exit codes: 0 analysed and nothing to fix (events/registry: something was read); 1 findings that
need action (diagnose, triage); 2 usage error or no usable input.  Errors are one line each on
stderr, ``analyzer: <file>: <what is wrong>``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from analyzer import __version__
from analyzer.limits import add_read_arguments
from analyzer.model import EventType, InputError, ReadWarning

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad arguments detected after parsing (e.g. an unknown time zone)."""


def error(message: str) -> None:
    print(f"analyzer: {message}", file=sys.stderr)


def warn_to_stderr(warning: ReadWarning) -> None:
    print(f"analyzer: warning: {warning}", file=sys.stderr)


def parse_time(text: str) -> datetime:
    """ISO-8601 date or date-time; ``Z``/offsets kept, naive values stay naive (compared as given)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None


def parse_tz(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def parse_event_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an event ID: {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"event ID out of range: {text!r}")
    return value


def parse_type(text: str) -> EventType:
    try:
        return EventType.parse(text)
    except ValueError:
        choices = ", ".join(t.value for t in EventType)
        raise argparse.ArgumentTypeError(f"unknown event type {text!r} (one of {choices})") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analyzer",
        description=(
            "Offline diagnosis of Windows/Exchange service failures from customer event logs (.evt, .evtx, "
            "Event Viewer text/CSV, DUMPEL) and registry exports (hives, .reg, regedt32 text, reg query)."
        ),
        epilog="Exit codes: 0 nothing to fix, 1 findings that need action, 2 usage error or no usable input.",
    )
    parser.add_argument("--version", action="version", version=f"analyzer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser(
        "diagnose",
        help="diagnose one case (files, folders, .zip) and print the verdict and the fix",
        description="All CASE arguments together form one case: files, folders (searched recursively) or .zip archives.",
    )
    d.add_argument("case", nargs="+", metavar="CASE", help="file, folder or .zip of the case")
    d.add_argument(
        "--format",
        choices=["text", "json", "markdown", "html"],
        default="text",
        help="report format (default text; json follows the analyzer.diagnosis/1 schema)",
    )
    d.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    d.add_argument("--reg-patch", metavar="FILE", help="write the remediation .reg (and FILE's rollback) here")
    d.add_argument(
        "--reg-version",
        choices=["4", "5"],
        help="REGEDIT4 (NT 4.0) or 5.00 (Windows 2000) patch; default: as the export",
    )
    d.add_argument("--tz", type=parse_tz, metavar="ZONE", help="IANA time zone of text exports' local times")
    d.add_argument("--evtx-backend", choices=["rust", "python"], help="evtx parser (default: rust when installed)")
    d.add_argument("--encoding", metavar="CODEC", help="code page of ANSI text exports (default cp1252)")
    add_read_arguments(d, case=True)

    t = sub.add_parser(
        "triage",
        help="diagnose every case (sub-folder or .zip) under ROOT and write a summary",
        description="Every immediate sub-folder or .zip of each ROOT is one case.",
    )
    t.add_argument("root", nargs="+", metavar="ROOT", help="folder whose sub-folders and .zip files are the cases")
    t.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (cases/<case>.json, summary.csv/.parquet)"
    )
    t.add_argument("--jobs", "-j", type=int, metavar="N", help="worker processes (default: CPU count)")
    t.add_argument("--resume", action="store_true", help="skip cases whose JSON exists and whose inputs are unchanged")
    t.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="local worker processes (default) or a dask.distributed cluster",
    )
    t.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler address (default: a LocalCluster)")
    t.add_argument("--case-timeout", type=float, default=600.0, metavar="S", help="seconds per case (default 600)")
    t.add_argument("--tz", type=parse_tz, metavar="ZONE", help="IANA time zone of text exports' local times")
    add_read_arguments(t, case=True)

    e = sub.add_parser("events", help="list the events of .evt/.evtx/text-export files")
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
    e.add_argument("--tz", type=parse_tz, metavar="ZONE", help="IANA time zone of text exports' local times")
    e.add_argument("--evtx-backend", choices=["rust", "python"], help="evtx parser (default: rust when installed)")
    e.add_argument("--encoding", metavar="CODEC", help="code page of ANSI text exports (default cp1252)")
    add_read_arguments(e)

    r = sub.add_parser("registry", help="show a key of a hive, .reg, regedt32 text or reg query export")
    r.add_argument("file", metavar="FILE")
    r.add_argument(
        "--key",
        metavar="PATH",
        help=r"key path, e.g. HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem",
    )
    r.add_argument("--recursive", "-r", action="store_true", help="include every subkey")
    r.add_argument("--format", choices=["table", "json", "csv"], default="table", help="output format (default table)")
    r.add_argument("--output", "-o", metavar="FILE")
    r.add_argument("--encoding", metavar="CODEC", help="code page of ANSI .reg/text exports (default cp1252)")
    add_read_arguments(r, events=False)

    k = sub.add_parser("rules", help="list the knowledge: rule id, KB article, what it diagnoses")
    k.add_argument("--show", metavar="ID", help="show one rule with its references and fixtures")
    k.add_argument("--test", action="store_true", help="run every rule's fixtures (self-test)")
    k.add_argument("--format", choices=["table", "json"], default="table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage
        return EXIT_INPUT if exc.code not in (0, None) else EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_INPUT
    try:
        return _dispatch(args)
    except InputError as exc:
        error(str(exc))
        return EXIT_INPUT
    except UsageError as exc:
        error(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "events":
        from analyzer.report.events import cli_events

        return cli_events(args)
    if args.command == "registry":
        from analyzer.report.registry import cli_registry

        return cli_registry(args)
    if args.command == "diagnose":
        from analyzer.diagnosis import cli_diagnose

        return cli_diagnose(args)
    if args.command == "triage":
        from analyzer.triage import cli_triage

        return cli_triage(args)
    if args.command == "rules":
        from analyzer.rules import cli_rules

        return cli_rules(args)
    raise UsageError(f"unknown command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
