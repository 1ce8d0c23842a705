"""Argument types shared by several commands: times, time zones, event IDs and types.

Each raises ``argparse.ArgumentTypeError`` with a one-line reason, which argparse prints as a usage
error (exit code 2).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, tzinfo

from analyzer.model import EventType


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
    """An IANA time zone name (or UTC) for the local times of text exports."""
    if name.upper() == "UTC":
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only when a zone is named: its import costs start-up

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def parse_event_id(text: str) -> int:
    """A decimal or 0x-prefixed event ID within 32 bits."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an event ID: {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"event ID out of range: {text!r}")
    return value


def parse_type(text: str) -> EventType:
    """An event type word of the contract (error, warning, information, success_audit, failure_audit)."""
    try:
        return EventType.parse(text)
    except ValueError:
        choices = ", ".join(t.value for t in EventType)
        raise argparse.ArgumentTypeError(f"unknown event type {text!r} (one of {choices})") from None


def parse_language(text: str) -> str:
    """A language code of analyzer/languages (de, fr, es, it, ja, en)."""
    try:
        from analyzer import languages  # only when the option is given: loading it costs start-up

        return languages.get(text).code
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tz``, ``--evtx-backend``, ``--encoding`` and ``--language``: how to read event logs and text exports."""
    parser.add_argument("--tz", type=parse_tz, metavar="ZONE", help="IANA time zone of text exports' local times")
    parser.add_argument("--evtx-backend", choices=["rust", "python"], help="evtx parser (default: rust when installed)")
    parser.add_argument(
        "--encoding", metavar="CODEC", help="code page of ANSI text exports (default: chosen by content, else cp1252)"
    )
    parser.add_argument(
        "--language",
        type=parse_language,
        metavar="CODE",
        help="language of localised Event Viewer exports, e.g. de (default: detected; see 'analyzer languages')",
    )
