"""Resource limits for reading evidence, with documented defaults and one clear error or warning each.

Why: one damaged or hostile file must not stall a batch or exhaust a worker.  Readers already bound
what a single structure can claim (evt record <= 16 MiB, text line <= 1 Mi characters, key depth <= 512);
these limits bound a whole file and a whole case.  Defaults (all overridable on the command line):

* ``max_file_size`` = 4 GiB (``--max-file-size``): larger than any .evt/.evtx/hive Windows writes (their
  offsets are 32-bit); a bigger file is refused with ``InputError`` before it is opened.
* ``max_records`` = 10,000,000 events per file (``--max-records``): reading stops there with a warning
  (the events read so far are kept).
* ``max_strings`` = 256 insertion strings per event (``--max-strings``): more are dropped from that
  event with one warning per file (an .evt record may claim up to 65,535).
* ``max_case_size`` = 4 GiB uncompressed bytes extracted from the archives of one case
  (``--max-case-size``; this is ``CaseLimits.max_total_size``).

``CaseLimits`` caps what the archives of one case may expand to (``analyzer.case`` applies them).

Sizes accept a suffix: ``500M``, ``2G``, ``64K`` (binary units) or plain bytes.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzer.model import Event, InputError, ReadWarning, WarningSink, ignore_warning

if TYPE_CHECKING:
    import argparse

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": KiB, "m": MiB, "g": GiB, "t": GiB << 10}


@dataclass(frozen=True)
class ReadLimits:
    """Per-file limits applied by ``analyzer.events.iter_file`` and ``analyzer.registry.read_registry``."""

    max_file_size: int = 4 * GiB
    max_records: int = 10_000_000
    max_strings: int = 256


DEFAULT_LIMITS = ReadLimits()
DEFAULT_CASE_SIZE = 4 * GiB


@dataclass(frozen=True)
class CaseLimits:
    """Caps that keep a hostile or huge archive from filling the disk or the run.

    Defaults (all overridable):

    * ``max_members`` = 10,000 archive members per case (all archives, nested ones included);
    * ``max_total_size`` = 4 GiB uncompressed bytes extracted per case;
    * ``max_member_size`` = 2 GiB uncompressed bytes for any one member;
    * ``max_ratio`` = 200: uncompressed / compressed size of a member (or of a whole archive)
      larger than ``ratio_min_size`` (1 MiB; small files such as a fresh 64 KiB .evt full of zeros
      compress far better than 200:1 without being bombs);
    * ``max_depth`` = 1: an archive inside an archive is opened, one inside that is reported, not opened;
    * ``max_cab_size`` = 512 MiB: a cabinet is decompressed in memory by its library, so larger
      cabinets are refused instead of exhausting memory.

    An archive that breaks a cap is refused as a whole: none of its members is used.
    """

    max_members: int = 10_000
    max_total_size: int = DEFAULT_CASE_SIZE
    max_member_size: int = 2 * GiB
    max_ratio: float = 200.0
    ratio_min_size: int = 1 * MiB
    max_depth: int = 1
    max_file_size: int | None = None  # a file larger than this is refused from its size, before hashing
    max_cab_size: int = 512 * MiB


def _type_error(message: str) -> Exception:
    """argparse's "invalid value" error, imported here: only the command line parses options, and a
    notebook or triage worker that never does should not pay for importing argparse."""
    import argparse

    return argparse.ArgumentTypeError(message)


def parse_size(text: str) -> int:
    """``"2G"`` -> 2147483648 (argparse type)."""
    m = _SIZE.match(text)
    if not m or int(m.group(1)) <= 0:
        raise _type_error(f"not a size: {text!r} (bytes, or with K, M, G: e.g. 500M)")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def _positive(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise _type_error(f"not a number: {text!r}") from None
    if value <= 0:
        raise _type_error(f"must be at least 1: {text!r}")
    return value


def human(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def check_file_size(path: str, limits: ReadLimits | None) -> None:
    """InputError when ``path`` is larger than ``limits.max_file_size`` (missing files are the reader's business)."""
    if limits is None:
        return
    try:
        size = os.stat(path).st_size
    except OSError:
        return
    if size > limits.max_file_size:
        raise InputError(
            path, f"file is {human(size)}, over the {human(limits.max_file_size)} limit (raise it with --max-file-size)"
        )


def regular_file(path: str) -> os.stat_result:
    """``stat`` of ``path`` when it is a regular file; a one-line InputError for anything else
    (missing, a directory, a FIFO or device that would block a reader)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, "is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, "not a regular file")
    return st


def bounded_events(
    events: Iterator[Event], path: str, limits: ReadLimits | None, warn: WarningSink = ignore_warning
) -> Iterator[Event]:
    """``events`` cut to ``max_records`` and each event's strings to ``max_strings``, with one warning each."""
    if limits is None:
        yield from events
        return
    count = 0
    cut_strings = 0
    try:
        for event in events:
            if count >= limits.max_records:
                warn(
                    ReadWarning(
                        path,
                        f"stopped after {limits.max_records:,} records (limit; raise it with --max-records)",
                        event.offset,
                    )
                )
                return
            count += 1
            if len(event.strings) > limits.max_strings:
                if not cut_strings:
                    warn(
                        ReadWarning(
                            path,
                            f"record {event.record}: {len(event.strings):,} insertion strings, only the first "
                            f"{limits.max_strings} kept (limit; raise it with --max-strings)",
                            event.offset,
                        )
                    )
                cut_strings += 1
                event = dataclasses.replace(event, strings=event.strings[: limits.max_strings])
            yield event
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def add_read_arguments(parser: argparse.ArgumentParser, *, case: bool = False, events: bool = True) -> None:
    """The limit flags, documented with their defaults in ``--help`` (``events=False``: file size only)."""
    group = parser.add_argument_group("limits")
    group.add_argument(
        "--max-file-size",
        type=parse_size,
        default=DEFAULT_LIMITS.max_file_size,
        metavar="SIZE",
        help=f"refuse files larger than this (default {human(DEFAULT_LIMITS.max_file_size)}; e.g. 500M, 8G)",
    )
    if not events:
        return
    group.add_argument(
        "--max-records",
        type=_positive,
        default=DEFAULT_LIMITS.max_records,
        metavar="N",
        help=f"stop reading a log after N events, with a warning (default {DEFAULT_LIMITS.max_records:,})",
    )
    group.add_argument(
        "--max-strings",
        type=_positive,
        default=DEFAULT_LIMITS.max_strings,
        metavar="N",
        help=f"keep at most N insertion strings per event, with a warning (default {DEFAULT_LIMITS.max_strings})",
    )
    if case:
        group.add_argument(
            "--max-case-size",
            type=parse_size,
            default=DEFAULT_CASE_SIZE,
            metavar="SIZE",
            help=f"refuse archives expanding to more than this per case (default {human(DEFAULT_CASE_SIZE)})",
        )


def read_limits_from(args: argparse.Namespace) -> ReadLimits:
    return ReadLimits(
        max_file_size=getattr(args, "max_file_size", DEFAULT_LIMITS.max_file_size),
        max_records=getattr(args, "max_records", DEFAULT_LIMITS.max_records),
        max_strings=getattr(args, "max_strings", DEFAULT_LIMITS.max_strings),
    )


def case_limits_from(args: argparse.Namespace) -> CaseLimits:
    size = getattr(args, "max_case_size", DEFAULT_CASE_SIZE)
    base = CaseLimits()
    return dataclasses.replace(
        base,
        max_total_size=size,
        max_member_size=min(base.max_member_size, size),
        max_file_size=getattr(args, "max_file_size", None),  # checked from stat, before hashing
    )
