"""Vista+ .evtx reader with two interchangeable backends.

Backends: ``"rust"`` is the ``evtx`` package (``PyEvtxParser``, fast; the default when importable) and
``"python"`` is python-evtx (``Evtx``, ~2,000x slower; the fallback).  Neither is trusted to walk the file:
python-evtx silently drops chunks when the header's chunk count is stale and dies on one malformed
string, and both stop at the first damaged chunk in some versions.  So this module walks the file itself
-- 4 KiB file header, then 64 KiB steps checking the ``ElfChnk`` magic and the CRC32s -- and hands each
good chunk to the backend on its own.  A bad chunk or record becomes a warning naming chunk, record and
offset, and reading goes on.  Both backends are reduced to the same fields by the same rules, so they
yield identical ``Event`` objects (tests assert it on every file both can read).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator, MutableSequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analyzer.model import (
    Event,
    EventFilter,
    EventType,
    InputError,
    ReadWarning,
    WarningSink,
    exception_line,
    ignore_warning,
)
from analyzer.readers import binxml, chunkscan, crc
from analyzer.readers.format import DEFAULT_OPTIONS, EVENTS, Format, ReadOptions
from analyzer.walk import PendingDigest, tap_for
from analyzer.wintypes import filetime, filetime_or_none

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
RECORD_HEADER_SIZE = 24

KEYWORD_AUDIT_SUCCESS = 0x0020000000000000
KEYWORD_AUDIT_FAILURE = 0x0010000000000000
_LEVEL_TYPES = {1: EventType.ERROR, 2: EventType.ERROR, 3: EventType.WARNING}
BACKENDS = ("rust", "python")


_BACKEND_MODULES = {"rust": "evtx", "python": "Evtx.Evtx"}


def available_backends() -> list[str]:
    """Backends whose package is importable, best first."""
    found = []
    for name, module in _BACKEND_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        found.append(name)
    return found


def _first_backend() -> str | None:
    """The best importable backend; only it is imported (python-evtx pulls in urllib, email and ssl
    through xml.sax, a cost a diagnosis on the Rust backend should not pay)."""
    for name, module in _BACKEND_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        return name
    return None


def read(
    path: str,
    *,
    filters: EventFilter | None = None,
    options: ReadOptions = DEFAULT_OPTIONS,
    warn: WarningSink = ignore_warning,
    backend: str | None = None,
) -> Iterator[Event]:
    """Events of an .evtx file in file order (``backend`` overrides ``options.evtx_backend``).

    Raises ``InputError`` at once when the file is not an evtx log or holds no readable chunk; later
    damage (bad chunk magic, CRC mismatch, unparsable record, truncation) goes to ``warn``.  Inside an
    opened case the bytes read feed the file's background hash (``walk.tap_for``): read from disk once.
    """
    path = str(path)
    backend = backend or options.evtx_backend
    if backend is None:
        backend = _first_backend()
        if backend is None:
            raise InputError(path, "no evtx backend installed (pip install evtx, or python-evtx)")
    if backend not in BACKENDS:
        raise ValueError(f"unknown evtx backend {backend!r} (choose from {', '.join(BACKENDS)})")
    try:  # fail here, not inside the generator
        importlib.import_module(_BACKEND_MODULES[backend])
    except ImportError:
        raise InputError(path, f"evtx backend {backend!r} is not installed ({_BACKEND_MODULES[backend]})") from None
    tap = tap_for(path)
    try:
        layout = _open_layout(path, warn)
    except BaseException:
        if tap is not None:
            tap.detach()  # not read after all: the hash reads the file itself
        raise
    parse = _rust_chunk_events if backend == "rust" else _python_chunk_events
    return _events(path, layout, parse, filters if filters and not filters.empty else None, warn, tap)


FORMAT = Format(
    "evtx",
    EVENTS,
    "Vista and later event log (.evtx), whole file or a lone chunk",
    read,
    magic=lambda head: head.startswith((FILE_MAGIC, CHUNK_MAGIC)),
)


# --------------------------------------------------------------------------- file walk


@dataclass(slots=True)
class _Layout:
    """Where the chunks start; ``first`` is 0 for a bare chunk (carved), 4096 after a file header."""

    size: int
    first: int
    header: bytes  # a clean one-chunk file header for the Rust parser
    #: Chunks before this index are rendered completely without trying the selective path: set when a
    #: chunk turned out to be wanted almost whole, so that a log the filter wants nearly all of does not
    #: pay for deciding record by record (both paths give the same output, so switching is free).
    dense_until: int = -1
    #: The one-chunk file the Rust parser gets in the selective path (header, then the folded chunk),
    #: written over for every chunk rather than allocated anew.
    fold: bytearray | None = None


@dataclass(slots=True)
class _Chunk:
    index: int
    offset: int  # in the file
    data: bytes  # always CHUNK_SIZE long (a truncated tail is padded with zeros)
    length: int  # bytes present in the file (less than CHUNK_SIZE for a truncated tail)
    # Per located record, in chunk order: offset in the chunk, size, record ID, written FILETIME.  Four
    # sequences (packed arrays from ``chunkscan.scan``, lists from the complete walk) rather than one
    # tuple per record: a big log has hundreds of thousands of records, and the selective path only ever
    # needs the values of the few it renders.
    starts: MutableSequence[int] = field(default_factory=list)
    sizes: MutableSequence[int] = field(default_factory=list)
    rids: MutableSequence[int] = field(default_factory=list)
    writtens: MutableSequence[int] = field(default_factory=list)
    increasing: bool = False  # the record IDs are known to strictly increase (so: no ID repeats)
    resynced: bool = False  # damaged bytes were skipped to reach later records (the Rust parser cannot)
    clean: bool = True  # no warning at all about this chunk (the only chunks rendered selectively)

    @property
    def records(self) -> list[tuple[int, int, int, int]]:
        """(offset in chunk, size, record ID, written FILETIME) per located record."""
        return list(zip(self.starts, self.sizes, self.rids, self.writtens, strict=True))


def _open_layout(path: str, warn: WarningSink) -> _Layout:
    """Check the file header and find the chunks; InputError when nothing usable is there."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(FILE_HEADER_SIZE)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if not head:
        raise InputError(path, "empty file")
    if head.startswith(CHUNK_MAGIC):
        warn(ReadWarning(path, "no file header: reading bare chunks", 0))
        return _Layout(size, 0, _clean_header(None))
    has_header = head.startswith(FILE_MAGIC)
    if has_header and size < FILE_HEADER_SIZE:
        raise InputError(path, f"truncated evtx file: {size} bytes, not even the 4096-byte header", 0)
    good = _chunk_magics(path, size, first_only=True)  # is any chunk there at all?
    if not has_header:
        if not good:
            raise InputError(path, "not an evtx event log (no ElfFile header, no ElfChnk chunk)", 0)
        warn(ReadWarning(path, "file header damaged (bad magic); reading the chunks after it", 0))
        return _Layout(size, FILE_HEADER_SIZE, _clean_header(None))
    if size > FILE_HEADER_SIZE and not good:
        raise InputError(path, "no readable chunk (no ElfChnk magic at any 64 KiB step)", FILE_HEADER_SIZE)
    if struct.unpack_from("<I", head, 124)[0] != zlib.crc32(head[:120]):
        warn(ReadWarning(path, "file header CRC32 mismatch", 0))
    declared = struct.unpack_from("<H", head, 42)[0]
    held = -(-(size - FILE_HEADER_SIZE) // CHUNK_SIZE)  # chunks present, a cut last one included
    if declared > held:
        warn(
            ReadWarning(
                path,
                f"file is truncated: the header says {declared} chunks, the file holds {held} "
                f"({size:,} bytes); the events of the missing chunks are lost",
                size,
            )
        )
    beyond = len(_chunk_magics(path, size, start=declared))
    if beyond:
        # Normal for a log copied while in use (dirty header); python-evtx would lose these chunks.
        warn(ReadWarning(path, f"file header says {declared} chunks but {beyond} more follow (stale header)"))
    return _Layout(size, FILE_HEADER_SIZE, _clean_header(head))


def _chunk_magics(path: str, size: int, *, start: int = 0, first_only: bool = False) -> list[int]:
    """Indexes (from ``start`` on) of the 64 KiB steps after the file header that start with the chunk
    magic, 8 bytes read each; ``first_only``: stop at the first one found.  Only the steps a question
    needs are read: a 300,000-record log has 1,242 of them."""
    found = []
    with open(path, "rb", buffering=0) as fh:  # unbuffered: 8 bytes read, not 8 KiB
        offset = FILE_HEADER_SIZE + start * CHUNK_SIZE
        while offset < size:
            fh.seek(offset)
            if fh.read(8) == CHUNK_MAGIC:
                found.append((offset - FILE_HEADER_SIZE) // CHUNK_SIZE)
                if first_only:
                    break
            offset += CHUNK_SIZE
    return found


def _clean_header(head: bytes | None) -> bytes:
    """A file header claiming exactly one chunk, for handing single chunks to the Rust parser."""
    hdr = bytearray(FILE_HEADER_SIZE)
    hdr[0:8] = FILE_MAGIC
    if head is not None and len(head) >= 128:
        hdr[8:120] = head[8:120]
    struct.pack_into("<QQQIHHHH", hdr, 8, 0, 0, 1, 128, 1, 3, FILE_HEADER_SIZE, 1)
    struct.pack_into("<I", hdr, 120, 0)
    struct.pack_into("<I", hdr, 124, zlib.crc32(bytes(hdr[:120])))
    return bytes(hdr)


def _chunks(path: str, layout: _Layout, warn: WarningSink, tap: PendingDigest | None = None) -> Iterator[_Chunk]:
    """Every chunk with a valid magic, in file order, with its records located; damage is warned.

    ``tap``: the file's background hash, fed every byte read here (file header included) so that the
    hasher need not read the file again; it finishes from disk whatever this does not give it."""
    # One buffer read into again and again: a fresh 64 KiB object per chunk costs page faults on every
    # chunk of a big log, more than the read itself.
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    with open(path, "rb") as fh:
        if tap is not None and not tap.attach(fh):  # another file by now, or already hashed
            tap = None
        try:
            if tap is not None and layout.first:
                tap.feed(0, fh.read(layout.first))  # through the handle checked to be the hashed file
            fh.seek(layout.first)
            index = 0
            offset = layout.first
            while offset < layout.size:
                length = fh.readinto(buf)
                if not length:
                    message = f"file shrank while being read ({layout.size:,} bytes when opened)"
                    warn(ReadWarning(path, message, offset))
                    break
                if length < CHUNK_SIZE:
                    buf[length:] = bytes(CHUNK_SIZE - length)  # a truncated tail is padded with zeros
                here, offset = offset, offset + length
                idx, index = index, index + 1
                if tap is not None:  # hashed before _check_chunk zeroes the chunk's hash index in buf
                    tap.feed(here, view[:length])
                if not buf.startswith(CHUNK_MAGIC):
                    if buf[:length].strip(b"\x00"):
                        message = f"chunk {idx}: bad chunk magic {bytes(buf[:8])!r}; chunk skipped"
                        warn(ReadWarning(path, message, here))
                    continue
                issues: list[ReadWarning] = []
                if length < CHUNK_SIZE:
                    issues.append(ReadWarning(path, f"chunk {idx}: truncated ({length} of {CHUNK_SIZE} bytes)", here))
                chunk = _Chunk(idx, here, b"", length)
                _check_chunk(path, chunk, issues.append, buf)
                for issue in issues:
                    warn(issue)
                chunk.clean = not issues
                yield chunk
        finally:
            if tap is not None:
                tap.detach()  # done, stopped early or failed: the hasher reads what is left itself


_RECORD_HEAD = struct.Struct("<4sIQQ")  # magic, size, record ID, written FILETIME
_U32 = struct.Struct("<I")


def _check_chunk(path: str, chunk: _Chunk, warn: WarningSink, raw: bytearray) -> None:
    """Verify the chunk CRC32s of ``raw`` (the chunk as read, 64 KiB) and locate its records by walking
    their size fields; ``chunk.data`` becomes the chunk's bytes with the header's hash index zeroed."""
    data = raw
    doubts = 0
    free = struct.unpack_from("<I", data, 48)[0]
    if not CHUNK_HEADER_SIZE <= free <= CHUNK_SIZE:
        warn(ReadWarning(path, f"chunk {chunk.index}: bad free-space offset 0x{free:x}", chunk.offset + 48))
        free = CHUNK_SIZE
        doubts += 1
    header_crc = crc.crc32(data[128:512], crc.crc32(data[:120]))
    if struct.unpack_from("<I", data, 124)[0] != header_crc:
        warn(ReadWarning(path, f"chunk {chunk.index}: header CRC32 mismatch", chunk.offset))
        doubts += 1
    # Bytes 128-511 are only a hash index of the names and templates that records reference by chunk
    # offset anyway.  One flipped bit there makes the Rust parser drop the whole chunk (libevtx reads
    # it), so both backends get the chunk with the index zeroed: same output on every corpus file.
    raw[128:CHUNK_HEADER_SIZE] = bytes(CHUNK_HEADER_SIZE - 128)
    with memoryview(raw) as view:
        records_crc = crc.crc32(view[CHUNK_HEADER_SIZE:free])
    chunk.data = data = bytes(raw)
    if struct.unpack_from("<I", data, 52)[0] != records_crc:
        warn(ReadWarning(path, f"chunk {chunk.index}: event records CRC32 mismatch", chunk.offset))
        doubts += 1
    if not doubts:
        walked = chunkscan.scan(data, free, chunk.length)  # the common case: nothing to warn about
        if walked is not None:
            chunk.starts, chunk.sizes, chunk.rids, chunk.writtens, chunk.increasing = walked
            return
    _walk_records(path, chunk, free, warn)


def _walk_records(path: str, chunk: _Chunk, free: int, warn: WarningSink) -> None:
    """The complete record walk: every record it can locate, a warning for each doubt on the way."""
    data = chunk.data
    head, size_copy = _RECORD_HEAD.unpack_from, _U32.unpack_from  # this loop runs once per record
    starts, sizes, rids, writtens, length = chunk.starts, chunk.sizes, chunk.rids, chunk.writtens, chunk.length
    pos = CHUNK_HEADER_SIZE
    last = free - RECORD_HEADER_SIZE - 4
    while pos <= last:
        magic, size, rid, written = head(data, pos)
        if magic != RECORD_MAGIC:
            if data[pos:free].strip(b"\x00"):
                resume = _next_record(data, pos + 1, free)
                skipped = "rest of chunk skipped" if resume is None else f"{resume - pos} bytes skipped"
                warn(ReadWarning(path, f"chunk {chunk.index}: no record magic; {skipped}", chunk.offset + pos))
                if resume is not None:
                    chunk.resynced = True
                    pos = resume
                    continue
            break
        end = pos + size
        if size < RECORD_HEADER_SIZE + 4 or end > CHUNK_SIZE:
            resume = _next_record(data, pos + 4, free)
            skipped = "rest of chunk skipped" if resume is None else f"{resume - pos} bytes skipped"
            warn(
                ReadWarning(
                    path, f"chunk {chunk.index} record {rid}: bad record size {size}; {skipped}", chunk.offset + pos
                )
            )
            if resume is not None:
                chunk.resynced = True
                pos = resume
                continue
            break
        if size_copy(data, end - 4)[0] != size:
            # The record may still parse (the Rust parser reads it): keep it, say so.
            warn(ReadWarning(path, f"chunk {chunk.index} record {rid}: size copy mismatch", chunk.offset + pos))
        if end > length:
            warn(
                ReadWarning(
                    path, f"chunk {chunk.index} record {rid}: cut off by the end of the file", chunk.offset + pos
                )
            )
            break
        starts.append(pos)
        sizes.append(size)
        rids.append(rid)
        writtens.append(written)
        pos = end


def _next_record(data: bytes, start: int, free: int) -> int | None:
    """Offset of the next plausible record after damage: record magic, sane size, matching size copy.

    Why: one flipped bit in a record's size field would otherwise lose every later record of the chunk,
    which libevtx still reads."""
    at = data.find(RECORD_MAGIC, start, free)
    while at != -1:
        if at + RECORD_HEADER_SIZE + 4 <= free:
            size = struct.unpack_from("<I", data, at + 4)[0]
            if (
                RECORD_HEADER_SIZE + 4 <= size <= CHUNK_SIZE - at
                and data[at + size - 4 : at + size] == data[at + 4 : at + 8]
            ):
                return at
        at = data.find(RECORD_MAGIC, at + 1, free)
    return None


def _events(
    path: str,
    layout: _Layout,
    parse: Callable[[str, _Layout, _Chunk, EventFilter | None, WarningSink], Iterator[Event]],
    filters: EventFilter | None,
    warn: WarningSink,
    tap: PendingDigest | None = None,
) -> Iterator[Event]:
    for chunk in _chunks(path, layout, warn, tap):
        if chunk.starts:
            yield from parse(path, layout, chunk, filters, warn)


# --------------------------------------------------------------------------- shared field rules


@dataclass(slots=True)
class _Fields:
    """What both backends reduce a record to before an Event is built."""

    record: int | None = None
    event_id: int = 0
    qualifiers: int = 0
    level: int = 0
    task: int = 0
    keywords: int = 0
    time: datetime | None = None
    source: str = ""
    computer: str = ""
    sid: str | None = None
    log: str | None = None


def _int(value: Any) -> int:
    """Numbers arrive as int, decimal text or 0x-hex text depending on backend and template."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 16) if text[:2].lower() == "0x" else int(text)
        except ValueError:
            return 0
    return 0


def _text(value: Any) -> str:
    """One rendering of a value for both backends (JSON-like: bool as true/false, null as '')."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, dict):
        return _text(value.get("#text"))
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


_TIME_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?")


def _time(value: Any) -> datetime | None:
    """SystemTime text (ISO, any fraction length) or a datetime -> aware UTC, microseconds."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    if len(value) == 27 and value[-1] == "Z":  # the Rust parser's form: fast C path
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    m = _TIME_RE.match(value.strip())
    if not m:
        return None
    frac = (m.group(7) or "0")[:6].ljust(6, "0")
    try:
        return datetime(*(int(m.group(i)) for i in range(1, 7)), int(frac), tzinfo=UTC)
    except ValueError:
        return None


def _event_type(level: int, keywords: int) -> EventType:
    if keywords & KEYWORD_AUDIT_FAILURE:
        return EventType.FAILURE_AUDIT
    if keywords & KEYWORD_AUDIT_SUCCESS:
        return EventType.SUCCESS_AUDIT
    return _LEVEL_TYPES.get(level, EventType.INFORMATION)


def _prefilter(f: _Fields, filters: EventFilter | None) -> bool:
    """The cheap checks on System fields, before any EventData is touched."""
    if filters is None:
        return True
    return (
        filters.wants_id(f.event_id)
        and filters.wants_type(_event_type(f.level, f.keywords))
        and filters.wants_source(f.source)
        and filters.wants_pair(f.event_id, f.source)
        and filters.wants_time(f.time)
    )


def _build(
    path: str, offset: int | None, f: _Fields, header_id: int, strings: list[str], data: bytes, message: str | None
) -> Event:
    event_id = f.event_id & 0xFFFF
    return Event(
        path=path,
        record=f.record if f.record is not None else header_id,
        offset=offset,
        time_generated=f.time,
        time_written=f.time,
        event_id=event_id,
        event_id_full=((f.qualifiers & 0xFFFF) << 16) | event_id,
        type=_event_type(f.level, f.keywords),
        category=f.task,
        source=f.source,
        computer=f.computer,
        sid=f.sid or None,
        strings=tuple(strings),
        data=data,
        message=message or None,
        log=f.log or None,
    )


def _hex_bytes(text: str) -> bytes:
    text = "".join(text.split())
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


# --------------------------------------------------------------------------- rust backend (evtx)


def _rust_chunk_events(
    path: str, layout: _Layout, chunk: _Chunk, filters: EventFilter | None, warn: WarningSink
) -> Iterator[Event]:
    """One chunk through ``PyEvtxParser`` (a one-chunk file in memory), resuming after record errors."""
    import evtx

    distinct = len(chunk.rids) if chunk.increasing else len(set(chunk.rids))
    if distinct < len(chunk.rids):
        # The Rust parser yields one record per EventRecordID, so a chunk that repeats IDs (damage,
        # or a badly made export) would silently lose records: read it record by record instead.
        warn(
            ReadWarning(
                path,
                f"chunk {chunk.index}: {len(chunk.rids) - distinct} repeated record ID(s); read with python-evtx",
                chunk.offset,
            )
        )
        yield from _python_chunk_events(path, layout, chunk, filters, warn)
        return
    if chunk.resynced:
        # The Rust parser stops at the damaged bytes; python-evtx reads each located record on its own.
        warn(ReadWarning(path, f"chunk {chunk.index}: damaged records skipped; read with python-evtx", chunk.offset))
        yield from _python_chunk_events(path, layout, chunk, filters, warn)
        return
    if (
        SELECTIVE
        and filters is not None
        and filters.ids
        and chunk.clean
        and chunk.index >= layout.dense_until
        and _selective_proven()
    ):
        chosen = _selective_chunk_events(path, layout, chunk, filters)
        if chosen is not None:
            yield from chosen
            return
    base = chunk.offset
    located = {
        rid: (base + pos, written) for pos, rid, written in zip(chunk.starts, chunk.rids, chunk.writtens, strict=True)
    }
    parser = evtx.PyEvtxParser(io.BytesIO(layout.header + chunk.data), number_of_threads=1)
    records = parser.records_json()
    failures = 0
    while True:
        try:
            rec = next(records)
        except StopIteration:
            return
        except Exception as exc:  # the Rust iterator raises per record and can be resumed
            failures += 1
            m = _RECORD_NUMBER_RE.search(str(exc))
            rid = int(m.group(1)) if m else None
            if rid is not None and rid in located:
                where_text, at = f"chunk {chunk.index} record {rid}", located[rid][0]
            else:
                where_text, at = f"chunk {chunk.index}", chunk.offset
            warn(ReadWarning(path, f"{where_text}: not parsed: {exception_line(exc, whole=True)}", at))
            if failures > len(chunk.rids) + 2:
                return
            continue
        event = _json_record(path, chunk, located, rec, filters)
        if type(event) is ReadWarning:
            warn(event)
        elif event is not None:
            yield event  # type: ignore[misc]


def _json_record(
    path: str,
    chunk: _Chunk,
    located: dict[int, tuple[int, int]],
    rec: dict[str, Any],
    filters: EventFilter | None,
    *,
    precheck: bool = True,
) -> Event | ReadWarning | None:
    """One record of the Rust parser's output: its Event, None when filtered out, or the warning to give.

    ``precheck``: look at the EventID and provider in the JSON text first, so that records the filter
    refuses are never parsed; the selective path, which only renders records chosen by those very fields,
    skips it (the Event is filtered the same way once built)."""
    text = rec["data"]
    if precheck and filters is not None and filters.ids:
        m = _EVENT_ID_RE.search(text)
        if m is not None:
            event_id = int(m.group(1)) & 0xFFFF
            if event_id not in filters.ids:
                return None
            if filters.pairs and not _provider_wanted(filters, event_id, text):
                return None
    header_id = rec["event_record_id"]
    where = located.get(header_id)
    if where is None:  # beyond what the chunk walk located: keep the backends alike, but say so
        return ReadWarning(path, f"chunk {chunk.index} record {header_id}: outside the located records; skipped")
    try:
        return _rust_event(path, where[0], header_id, where[1], _loads(text), filters)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        return ReadWarning(
            path,
            f"chunk {chunk.index} record {header_id}: unusable record: {exception_line(exc, whole=True)}",
            chunk.offset,
        )


# --------------------------------------------------------------------------- selective rendering

#: Render only the records a filter may want (see ``_selective_chunk_events``).  Tests switch it off to
#: compare with the complete path.
SELECTIVE = True
#: The ``evtx`` release the selective path was proven equal on (tests/test_evtx_selective.py); with any
#: other release installed every chunk is rendered completely.
PROVEN_EVTX_VERSION = "0.14.0"
_PROVEN: list[bool] = []


def _selective_proven() -> bool:
    """Whether the installed ``evtx`` is the release the selective path was proven on (asked once)."""
    if not _PROVEN:
        _PROVEN.append(_installed_evtx_version() == PROVEN_EVTX_VERSION)
    return _PROVEN[0]


def _installed_evtx_version() -> str | None:
    """The installed ``evtx`` release: read from the proven release's metadata file beside the package
    when it is there (one small file), else asked of ``importlib.metadata`` (whose import costs more than
    reading a small log)."""
    import evtx

    site = os.path.dirname(os.path.dirname(os.path.abspath(evtx.__file__)))
    try:
        with open(os.path.join(site, f"evtx-{PROVEN_EVTX_VERSION}.dist-info", "METADATA"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break  # the headers end at the first blank line
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("evtx")
    except PackageNotFoundError:
        return None


_FILLER_JSON = '{"Event":null}'
#: Chunks read the complete way after one the filter wanted nearly whole (then the selective path is
#: tried again: logs change character over time).
DENSE_PAUSE = 16


def _selective_chunk_events(path: str, layout: _Layout, chunk: _Chunk, filters: EventFilter) -> list[Event] | None:
    """The chunk's Events with only the records the filter may want rendered; None: read it completely.

    Each record's EventID and provider come from its binary XML (``binxml.decide``), before any rendering.
    A chunk without a wanted record costs no rendering at all.  Otherwise the Rust parser gets a copy of
    the chunk in which every run of unwanted records is folded into one *filler* record: the run's first
    record header gets the run's size (and its last four bytes the size copy), and its binary XML starts
    with end-of-stream, so the filler renders as an empty event.  Nothing else moves: the template
    definitions and names that wanted records reference by chunk offset stay where they were, even when
    they sit inside folded records.  The wanted records then go through exactly the complete path's
    per-record code.  Anything unexpected (a template this module cannot map, a renderer error, a filler
    that is not empty, a record missing from the output) returns None, and the caller reads the chunk
    the complete way, so warnings are those of the complete path."""
    import evtx

    data = chunk.data
    starts, sizes, record_ids, written = chunk.starts, chunk.sizes, chunk.rids, chunk.writtens
    try:
        wanted = binxml.wanted_records(binxml.ChunkTemplates(data), starts, sizes, filters)
    except (binxml.BinXmlError, struct.error):
        return None
    if not wanted:
        return []
    if len(wanted) * 10 >= len(starts) * 9:  # nearly all wanted: let the next chunks go the complete way
        layout.dense_until = chunk.index + DENSE_PAUSE
    located = {record_ids[i]: (chunk.offset + starts[i], written[i]) for i in wanted}
    header = len(layout.header)
    folded = layout.fold
    if folded is None:
        folded = layout.fold = bytearray(layout.header) + bytes(CHUNK_SIZE)
    folded[header:] = data  # same length: copied in place
    fillers: set[int] = set()
    for first, last in _gaps(wanted, len(starts)):
        start = starts[first]
        size = starts[last] + sizes[last] - start
        struct.pack_into("<I", folded, header + start + 4, size)
        struct.pack_into("<I", folded, header + start + size - 4, size)
        folded[header + start + RECORD_HEADER_SIZE] = binxml.TOKEN_EOF
        fillers.add(record_ids[first])
    events: list[Event] = []
    seen = 0
    parser = evtx.PyEvtxParser(io.BytesIO(folded), number_of_threads=1)
    try:
        for rec in parser.records_json():
            if rec["event_record_id"] in fillers:
                if rec["data"] != _FILLER_JSON:
                    return None
                seen += 1
                continue
            event = _json_record(path, chunk, located, rec, filters, precheck=False)
            if type(event) is ReadWarning:
                return None
            seen += 1
            if event is not None:
                events.append(event)  # type: ignore[arg-type]
    except Exception:  # any renderer complaint: the complete path reports it as it always has
        return None
    return events if seen == len(fillers) + len(wanted) else None


def _gaps(wanted: list[int], count: int) -> Iterator[tuple[int, int]]:
    """(first, last) record indexes of each run of unwanted records, given the sorted wanted ones."""
    previous = -1
    for index in [*wanted, count]:
        if index > previous + 1:
            yield previous + 1, index - 1
        previous = index


#: Records parsed with ``json`` in a process before ``orjson`` is imported.  orjson parses the Rust
#: backend's JSON ~3x faster (~2.8 us less per record) but its import costs ~6 ms (it loads uuid,
#: platform and zoneinfo too): a small case, or a big log whose chunks the filter skips, never pays
#: for it; a log that gives thousands of records to parse earns it back.
ORJSON_AFTER = 2000
_parsed_with_json = 0


def _json_loads(text: str) -> Any:
    return json.loads(text)


def _counting_loads(text: str) -> Any:
    """``json.loads`` for the process's first ``ORJSON_AFTER`` records; then ``_loads`` becomes orjson's
    (same results: both give the same objects for the renderer's JSON, and what orjson refuses, such
    as a lone surrogate, goes to ``json``)."""
    global _parsed_with_json, _loads
    _parsed_with_json += 1
    if _parsed_with_json >= ORJSON_AFTER:
        _loads = _fast_loads()
    return json.loads(text)


def _fast_loads() -> Callable[[str], Any]:
    """orjson's ``loads`` falling back to ``json`` on what it refuses; plain ``json`` without orjson."""
    try:
        from orjson import loads as orjson_loads
    except ImportError:  # pragma: no cover - orjson is in requirements.txt
        return _json_loads

    def loads(text: str) -> Any:
        try:
            return orjson_loads(text)
        except ValueError:  # orjson refuses lone surrogates; json does not
            return json.loads(text)

    return loads


#: What parses one record's JSON: counting ``json`` first, orjson's from the ``ORJSON_AFTER``-th record on.
_loads: Callable[[str], Any] = _counting_loads


_RECORD_NUMBER_RE = re.compile(r"record number (\d+)")
_PROVIDER_RE = re.compile(r'"Provider":\{"#attributes":\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*?"Name":"((?:[^"\\]|\\.)*)"')


def _provider_wanted(filters: EventFilter, event_id: int, text: str) -> bool:
    """The (source, ID) decision from the record's JSON text before it is parsed; True when the
    provider name cannot be found there (the built Event is filtered again)."""
    m = _PROVIDER_RE.search(text)
    if m is None:
        return True
    name = m.group(1)
    if not name:
        return True  # an empty Name: the reader falls back to EventSourceName
    if "\\" in name:
        try:
            name = json.loads(f'"{name}"')
        except ValueError:
            return True
    return filters.wants_pair(event_id, name)


_EVENT_ID_RE = re.compile(r'"EventID":(?:\{"#attributes":\{[^{}]*\},"#text":)?"?(\d+)')


def _rust_event(
    path: str, offset: int, header_id: int, written: int, doc: Any, filters: EventFilter | None
) -> Event | None:
    """Fields from the Rust parser's JSON (written for speed: this runs once per record)."""
    ev = doc.get("Event") if type(doc) is dict else None
    if type(ev) is not dict:
        ev = {}
    system = ev.get("System")
    if type(system) is not dict:
        system = {}
    rid = system.get("EventRecordID")
    eid = system.get("EventID")
    qualifiers = 0
    if type(eid) is dict:
        qualifiers = _int(_attrs(eid).get("Qualifiers"))
        eid = eid.get("#text")
    event_id = _int(eid) & 0xFFFF
    level = _int(system.get("Level"))
    keywords = _int(system.get("Keywords"))
    etype = _event_type(level, keywords)
    when = _time(_attrs(system.get("TimeCreated")).get("SystemTime")) or _header_time(written)
    provider = _attrs(system.get("Provider"))
    source = _text(provider.get("Name") or provider.get("EventSourceName"))
    if filters is not None and not (
        filters.wants_id(event_id)
        and filters.wants_type(etype)
        and filters.wants_source(source)
        and filters.wants_pair(event_id, source)
        and filters.wants_time(when)
    ):
        return None
    strings: list[str] = []
    data = b""
    edata = ev.get("EventData")
    if type(edata) is dict and "Binary" not in edata and "Data" not in edata and "#attributes" not in edata:
        # the common named form (manifest events): every value a string
        strings = list(edata.values())
        if not all(type(v) is str for v in strings):
            strings = [_text(v) for v in strings]
    elif type(edata) is dict:
        for key, value in edata.items():
            if type(value) is str and key != "Binary":
                strings.append(value)
            elif key == "#attributes":
                continue
            elif key == "Binary":
                data = _hex_bytes(_text(value))
            elif key == "Data" and type(value) is dict and "#text" in value and "Name" not in _attrs(value):
                items = value["#text"]
                strings.extend(_text(v) for v in (items if type(items) is list else [items]))
            elif key == "Data" and type(value) is list:
                strings.extend(_text(v) for v in value)
            else:
                strings.append(_text(value))
    elif edata is not None:
        strings.append(_text(edata))
    udata = ev.get("UserData")
    if udata is not None:
        _flatten_json(udata, strings)
    rendering = ev.get("RenderingInfo")
    message = _text(rendering.get("Message")) if type(rendering) is dict else None
    event = Event(
        path,
        _int(rid) if rid is not None else header_id,
        offset,
        when,
        when,
        event_id,
        ((qualifiers & 0xFFFF) << 16) | event_id,
        etype,
        _int(system.get("Task")),
        source,
        _text(system.get("Computer")),
        _text(_attrs(system.get("Security")).get("UserID")) or None,
        tuple(strings),
        data,
        message or None,
        _text(system.get("Channel")) or None,
    )
    return event if filters is None or filters.matches(event) else None


_NO_ATTRS: dict[str, Any] = {}


def _attrs(node: Any) -> dict[str, Any]:
    """The ``#attributes`` of a JSON element (empty when it has none)."""
    if type(node) is dict:
        found = node.get("#attributes")
        if type(found) is dict:
            return found
    return _NO_ATTRS


def _flatten_json(node: Any, out: list[str]) -> None:
    """UserData leaves in document order (attributes skipped)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "#attributes":
                _flatten_json(value, out)
    elif isinstance(node, list):
        for value in node:
            _flatten_json(value, out)
    elif node is not None:
        out.append(_text(node))


# --------------------------------------------------------------------------- python backend (python-evtx)

# An element as built from python-evtx nodes: (name, attributes, children); a child is an element or a value.
_Element = tuple[str, dict[str, Any], list[Any]]


def _python_chunk_events(
    path: str, layout: _Layout, chunk: _Chunk, filters: EventFilter | None, warn: WarningSink
) -> Iterator[Event]:
    """One chunk through python-evtx, record by record, each in its own try."""
    from Evtx.Evtx import ChunkHeader, Record

    _quiet_python_evtx()
    header = ChunkHeader(chunk.data, 0)
    for pos, _, rid, written in chunk.records:
        offset = chunk.offset + pos
        try:
            try:
                tree = _py_root(Record(chunk.data, pos, header).root())
            except KeyError as missing:
                # A template defined inside a record we skipped (damaged) is unknown to python-evtx,
                # which only learns templates from the chunk index or as it meets them: load it from
                # its chunk offset (its bytes are usually intact) and try once more.
                where = missing.args[0] if missing.args else None
                if not isinstance(where, int) or not CHUNK_HEADER_SIZE <= where < CHUNK_SIZE:
                    raise
                header.add_template(where)
                tree = _py_root(Record(chunk.data, pos, header).root())
            event = _python_event(path, offset, rid, written, tree, filters)
        except Exception as exc:  # python-evtx raises many kinds (overruns, unicode, recursion) on damage
            warn(
                ReadWarning(
                    path, f"chunk {chunk.index} record {rid}: not parsed: {exception_line(exc, whole=True)}", offset
                )
            )
            continue
        if event is not None:
            yield event


def _quiet_python_evtx() -> None:
    """python-evtx logs "Unexpected token encountered" on damage; with no handler configured Python would
    print it to stderr.  Our warnings already report the record, so give its logger a NullHandler."""
    import logging

    logger = logging.getLogger("Evtx")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def _py_root(root: Any) -> list[Any]:
    """Top-level nodes of a record (template instance resolved with its substitutions)."""
    subs = root.substitutions()
    out: list[Any] = []
    for node in root.template().children():
        _py_node(node, subs, out)
    return out


def _py_node(node: Any, subs: list[Any], out: list[Any]) -> None:
    from Evtx import Nodes as N

    if isinstance(node, N.OpenStartElementNode):
        attrs: dict[str, Any] = {}
        children: list[Any] = []
        for child in node.children():
            if isinstance(child, N.AttributeNode):
                vals: list[Any] = []
                _py_node(child.attribute_value(), subs, vals)
                if vals:
                    attrs[child.attribute_name().string()] = vals[0] if len(vals) == 1 else "".join(map(_text, vals))
            else:
                _py_node(child, subs, children)
        out.append((node.tag_name(), attrs, children))
    elif isinstance(node, N.ValueNode):
        out.append(node.children()[0].string())
    elif isinstance(node, N.NormalSubstitutionNode | N.ConditionalSubstitutionNode):
        sub = subs[node.index()]
        if isinstance(sub, N.BXmlTypeNode):
            out.extend(_py_root(sub.root()))
        elif not isinstance(sub, N.NullTypeNode):
            out.append(_py_value(sub))
    elif isinstance(node, N.CDataSectionNode):
        out.append(node.cdata())
    elif isinstance(node, N.CharacterReferenceNode):
        out.append(chr(node.entity()))
    elif isinstance(node, N.EntityReferenceNode):
        name = node.entity_reference()[1:-1]
        out.append({"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}.get(name, f"&{name};"))


def _py_value(node: Any) -> Any:
    """A substitution value as the Rust parser renders it in JSON (numbers stay numbers)."""
    from Evtx import Nodes as N

    if isinstance(node, N.StringTypeNode):
        # python-evtx decodes ANSI strings as ASCII and dies on the first byte >= 0x80; the Rust
        # parser's default code page is windows-1252.
        start = node.offset()
        if node._length is None:
            size = node.unpack_word(0)
            start += 2
        else:
            size = node._length
        return bytes(node._buf[start : start + size]).decode("cp1252", errors="replace").rstrip("\x00")
    if isinstance(node, N.WstringTypeNode):
        # python-evtx decodes with the "utf16" codec, which eats a leading U+FEFF of the insertion string;
        # the Rust parser keeps it, and so do we (the bytes are UTF-16LE without a byte order mark).
        start = node.offset()
        if node._length is None:
            size = node.unpack_word(0) * 2
            start += 2
        else:
            size = node._length
        return bytes(node._buf[start : start + size]).decode("utf-16-le", errors="replace").rstrip("\x00")
    if isinstance(node, N.BooleanTypeNode):
        flag = node.unpack_dword(0)
        return bool(flag) if flag in (0, 1) else flag  # odd encodings stay numbers, as the Rust parser shows them
    if isinstance(node, N.WstringArrayTypeNode):
        text = bytes(node.binary()).decode("utf-16-le", errors="replace")
        return text.removesuffix("\x00").split("\x00") if text else []
    if isinstance(node, N.BinaryTypeNode):
        return bytes(node.binary()).hex().upper()
    if isinstance(node, N.GuidTypeNode):
        return node.guid().upper()
    if isinstance(node, N.FiletimeTypeNode):
        return filetime(node.unpack_qword(0))
    if isinstance(node, N.SystemtimeTypeNode):
        year, month, _, day, hour, minute, second, millis = struct.unpack_from("<8H", node._buf, node.offset())
        try:
            return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
        except ValueError:
            return node.string()
    if isinstance(node, N.Hex32TypeNode | N.Hex64TypeNode):
        return f"0x{int(node.string(), 16):x}"
    if isinstance(node, N.SizeTypeNode):
        return f"0x{node.num():x}"
    if isinstance(node, N.FloatTypeNode):
        return _plain_float(node.unpack_float(0), single=True)
    if isinstance(node, N.DoubleTypeNode):
        return _plain_float(node.unpack_double(0), single=False)
    if isinstance(
        node,
        N.SignedByteTypeNode
        | N.UnsignedByteTypeNode
        | N.SignedWordTypeNode
        | N.UnsignedWordTypeNode
        | N.SignedDwordTypeNode
        | N.UnsignedDwordTypeNode
        | N.SignedQwordTypeNode
        | N.UnsignedQwordTypeNode,
    ):
        return int(node.string())
    return node.string()


def _plain_float(value: float, *, single: bool) -> str:
    """Shortest text that reads back as the same float, without exponent (as the Rust parser shows it)."""
    text = repr(value)
    if single and value == value and value not in (float("inf"), float("-inf")):
        packed = struct.pack("<f", value)
        for digits in range(1, 10):
            candidate = f"{value:.{digits}g}"
            if struct.pack("<f", float(candidate)) == packed:
                text = candidate
                break
    from decimal import Decimal  # python-evtx floats only: not worth an import for every diagnosis

    try:
        plain = format(Decimal(text), "f")
    except ArithmeticError:
        return text
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def _header_time(written: int) -> datetime | None:
    """The record header's write time: the fallback when a damaged record lost its TimeCreated."""
    return filetime_or_none(written)


def _find(children: list[Any], name: str) -> _Element | None:
    for child in children:
        if isinstance(child, tuple) and child[0] == name:
            return child
    return None


def _value_of(element: _Element | None) -> Any:
    """An element's content: its single value as typed, or the text of several values joined."""
    if element is None:
        return None
    values = [c for c in element[2] if not isinstance(c, tuple)]
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return "".join(_text(v) for v in values)


def _python_event(
    path: str, offset: int, header_id: int, written: int, tree: list[Any], filters: EventFilter | None
) -> Event | None:
    ev = _find(tree, "Event") or next((c for c in tree if isinstance(c, tuple)), None)
    children = ev[2] if ev else []
    system = _find(children, "System")
    sys_children = system[2] if system else []
    f = _Fields()
    rid = _value_of(_find(sys_children, "EventRecordID"))
    f.record = _int(rid) if rid is not None else None
    eid = _find(sys_children, "EventID")
    f.event_id = _int(_value_of(eid))
    f.qualifiers = _int(eid[1].get("Qualifiers")) if eid else 0
    f.level = _int(_value_of(_find(sys_children, "Level")))
    f.task = _int(_value_of(_find(sys_children, "Task")))
    f.keywords = _int(_value_of(_find(sys_children, "Keywords")))
    created = _find(sys_children, "TimeCreated")
    f.time = (_time(created[1].get("SystemTime")) if created else None) or _header_time(written)
    provider = _find(sys_children, "Provider")
    if provider:
        f.source = _text(provider[1].get("Name") or provider[1].get("EventSourceName"))
    f.computer = _text(_value_of(_find(sys_children, "Computer")))
    security = _find(sys_children, "Security")
    f.sid = _text(security[1].get("UserID")) if security else None
    f.log = _text(_value_of(_find(sys_children, "Channel"))) or None
    if not _prefilter(f, filters):
        return None
    strings: list[str] = []
    data = b""
    edata = _find(children, "EventData")
    if edata:
        for child in edata[2]:
            if not isinstance(child, tuple):
                strings.append(_text(child))
            elif child[0] == "Binary":
                data = _hex_bytes(_text(_value_of(child)))
            elif child[0] == "Data" and "Name" not in child[1] and isinstance(_value_of(child), list):
                strings.extend(_text(v) for v in _value_of(child))
            else:
                strings.append(_text(_value_of(child)))
    udata = _find(children, "UserData")
    if udata:
        _flatten_tree(udata[2], strings)
    rendering = _find(children, "RenderingInfo")
    message = _text(_value_of(_find(rendering[2], "Message"))) if rendering else None
    event = _build(path, offset, f, header_id, strings, data, message)
    return event if filters is None or filters.matches(event) else None


def _flatten_tree(children: list[Any], out: list[str]) -> None:
    for child in children:
        if isinstance(child, tuple):
            if any(isinstance(c, tuple) for c in child[2]):
                _flatten_tree(child[2], out)
            else:
                value = _value_of(child)
                if value is not None:
                    out.append(_text(value))
        else:
            out.append(_text(child))
