"""Event access for the CLI and notebooks: sniff each file, pick its reader, stream Events.

``iter_events`` streams; ``read_events`` builds a pandas DataFrame with documented columns.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from analyzer.archives import is_archive
from analyzer.case import archive_members
from analyzer.limits import ReadLimits, bounded_events, check_file_size
from analyzer.model import Event, EventFilter, EventType, InputError, ReadWarning, WarningSink, ignore_warning
from analyzer.readers import EVENT_FORMATS, ReadOptions, format_named
from analyzer.sniff import sniff

if TYPE_CHECKING:
    import pandas as pd

EVENT_COLUMNS = [
    "path", "log", "record", "offset", "time_generated", "time_written", "event_id", "event_id_full",
    "type", "category", "source", "computer", "sid", "strings", "message", "recovered",
]  # fmt: skip


def iter_file(
    path: str,
    *,
    filters: EventFilter | None = None,
    warn: WarningSink = ignore_warning,
    fmt: str | None = None,
    evtx_backend: str | None = None,
    tz: tzinfo | None = None,
    encoding: str | None = None,
    limits: ReadLimits | None = None,
    options: ReadOptions | None = None,
    language: str | None = None,
) -> Iterator[Event]:
    """Stream the events of one file (format sniffed unless given); raises InputError.

    ``options`` (analyzer.readers.ReadOptions) says how to read; without it, it is built from
    ``evtx_backend``, ``tz``, ``encoding``, ``language`` (of localised text exports, analyzer.languages) and
    ``limits`` (analyzer.limits: refuse a file over the size limit, stop after the record limit)."""
    options = options or read_options(
        tz=tz, encoding=encoding, evtx_backend=evtx_backend, limits=limits, language=language
    )
    check_file_size(path, options.limits)
    fmt = fmt or sniff(path)
    if fmt not in EVENT_FORMATS:
        raise InputError(
            path, f"not an event log ({fmt}: {format_named(fmt).description}); 'analyzer registry' shows it"
        )
    before = _identity(path)
    events = format_named(fmt).read(path, filters=filters, options=options, warn=warn)
    yield from bounded_events(events, path, options.limits, warn)
    changed = _changed(before, _identity(path))
    if changed:
        warn(ReadWarning(path, changed[0], changed[1]))


def read_options(
    *,
    tz: tzinfo | None = None,
    encoding: str | None = None,
    evtx_backend: str | None = None,
    limits: ReadLimits | None = None,
    language: str | None = None,
) -> ReadOptions:
    """``ReadOptions`` from the keyword arguments of the public functions (empty strings mean "not given")."""
    return ReadOptions(
        tz=tz, encoding=encoding or None, evtx_backend=evtx_backend or None, limits=limits, language=language or None
    )


def _identity(path: str) -> tuple[int, int] | None:
    """(size, modification time in ns), to notice a file that changes while it is read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _changed(before: tuple[int, int] | None, after: tuple[int, int] | None) -> tuple[str, int | None] | None:
    """A warning (message, offset) when the file was changed by someone else while it was read."""
    if before is None or before == after:
        return None
    if after is None:
        return "file was removed while being read; the events shown are those read before", None
    if after[0] < before[0]:
        return (
            f"file shrank while being read ({before[0]:,} -> {after[0]:,} bytes); events past that offset are "
            "missing (the result is partial)",
            after[0],
        )
    return (
        f"file changed while being read ({before[0]:,} -> {after[0]:,} bytes); the events shown may mix old and "
        "new content",
        min(before[0], after[0]),
    )


def iter_events(
    paths: str | Iterable[str],
    *,
    ids: Iterable[int] = (),
    sources: Iterable[str] = (),
    types: Iterable[EventType | str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    warn: WarningSink = ignore_warning,
    evtx_backend: str | None = None,
    tz: tzinfo | None = None,
    encoding: str | None = None,
    on_error: WarningSink | None = None,
    limits: ReadLimits | None = None,
    language: str | None = None,
) -> Iterator[Event]:
    """Stream Events from one or more files.  A file that cannot be read raises InputError unless
    ``on_error`` is given, which then receives it as a warning and the other files go on."""
    filters = EventFilter.build(ids=ids, sources=sources, types=types, since=since, until=until)
    options = read_options(tz=tz, encoding=encoding, evtx_backend=evtx_backend, limits=limits, language=language)
    for path in [paths] if isinstance(paths, str) else paths:
        try:
            if is_archive(str(path)):
                yield from _iter_archive(str(path), filters=filters, warn=warn, options=options)
                continue
            yield from iter_file(str(path), filters=filters, warn=warn, options=options)
        except InputError as exc:
            if on_error is None:
                raise
            on_error(ReadWarning(exc.path, exc.reason, exc.offset))


def _iter_archive(path: str, *, filters: EventFilter, warn: WarningSink, options: ReadOptions) -> Iterator[Event]:
    """The events of every event log inside an archive (any kind), each named ``<archive>/<member>``."""
    with archive_members(path, EVENT_FORMATS) as view:
        for message in view.warnings:
            warn(ReadWarning(path, message))
        if not view.members:
            raise InputError(path, view.errors[0] if view.errors else "archive holds no event log")
        for shown, item in view.members:

            def rename(w: ReadWarning, shown: str = shown, real: str = item.real_path) -> None:
                warn(ReadWarning(shown if w.path == real else w.path, w.message, w.offset))

            try:
                for event in iter_file(item.real_path, filters=filters, warn=rename, options=options, fmt=item.format):
                    yield dataclasses.replace(event, path=shown)
            except InputError as exc:
                raise InputError(shown, exc.reason, exc.offset) from None


def events_frame(events: Iterable[Event]) -> pd.DataFrame:
    """DataFrame with ``EVENT_COLUMNS``; ``strings`` is a list column, ``type`` the contract word."""
    import pandas as pd

    rows = []
    for e in events:
        rows.append(
            (e.path, e.log, e.record, e.offset, e.time_generated, e.time_written, e.event_id, e.event_id_full,
             e.type.value, e.category, e.source, e.computer, e.sid, list(e.strings), e.message, e.recovered)
        )  # fmt: skip
    return pd.DataFrame.from_records(rows, columns=EVENT_COLUMNS)


def read_events(paths: str | Iterable[str], **filters: object) -> pd.DataFrame:
    """Notebook entry point: ``read_events("AppEvent.Evt", ids=[1023])`` -> DataFrame.

    Columns: path, log, record, offset, time_generated, time_written (UTC, or naive local for text
    exports), event_id (low 16 bits), event_id_full, type (error|warning|information|success_audit|
    failure_audit), category, source, computer, sid, strings (list), message, recovered.
    """
    return events_frame(iter_events(paths, **filters))  # type: ignore[arg-type]
