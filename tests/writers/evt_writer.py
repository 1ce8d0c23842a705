"""A small pure-Python writer of legacy .evt files (NT 4.0/2000 "LfLe"), for building test scenarios.

No maintained package writes .evt (DESIGN.md, "Facts learned"), so tests make their own files from
``model.Event`` objects.  The writer models the EventLog service's ring buffer: records go one after
another behind the 0x30-byte header, an end-of-file record follows the newest one, and with
``wrap=True`` the oldest records are overwritten once the file is full, the newest ones continuing
behind the header (the record that meets the file end is split there).  Options produce the awkward
cases customers hand over: a dirty header with stale offsets (live copy), intact older records in
slack space, truncation.  Output is checked against the independent parser libevt (pyevt) in the
tests.  Layout written from Microsoft's "Event Log File Format" / EVENTLOGRECORD descriptions.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analyzer.model import Event, EventType

HEADER = struct.Struct("<I4s10I")
RECORD = struct.Struct("<I4s4I4H6I")
EOF_RECORD = struct.Struct("<10I")
HEADER_SIZE = HEADER.size  # 0x30
EOF_SIZE = EOF_RECORD.size  # 0x28
SIGNATURE = b"LfLe"
FLAG_DIRTY, FLAG_WRAP = 0x1, 0x2
DEFAULT_RETENTION = 0x93A80  # seven days, as Windows writes it

TYPE_CODES = {
    EventType.ERROR: 1,
    EventType.WARNING: 2,
    EventType.INFORMATION: 4,
    EventType.SUCCESS_AUDIT: 8,
    EventType.FAILURE_AUDIT: 0x10,
}


def sid_to_bytes(text: str) -> bytes:
    """``S-1-5-21-…`` -> binary SID (revision, count, 48-bit big-endian authority, LE sub-authorities)."""
    parts = text.split("-")
    if len(parts) < 3 or parts[0].upper() != "S":
        raise ValueError(f"not a SID: {text!r}")
    authority = int(parts[2], 0)
    subs = [int(p) for p in parts[3:]]
    return bytes([int(parts[1]), len(subs)]) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)


def _unix(when: datetime | None) -> int:
    return int(when.timestamp()) if when is not None else 0


def encode_record(
    event: Event,
    number: int,
    *,
    pad: int = 0,
    num_strings: int | None = None,
    terminate_strings: bool = True,
    sid_bytes: bytes | None = None,
) -> bytes:
    """One EVENTLOGRECORD for ``event`` with record number ``number``.

    ``pad`` adds extra zero padding (kept inside Length); ``num_strings`` overrides the stored count
    (bogus counts); ``terminate_strings=False`` drops the last string's NUL; ``sid_bytes`` stores
    raw SID bytes instead of encoding ``event.sid``.
    """
    names = (event.source + "\0" + event.computer + "\0").encode("utf-16-le")
    sid = sid_bytes if sid_bytes is not None else (sid_to_bytes(event.sid) if event.sid else b"")
    text = "".join(s + "\0" for s in event.strings)
    if not terminate_strings and text:
        text = text[:-1]
    strings = text.encode("utf-16-le")
    sid_off = RECORD.size + len(names)
    str_off = sid_off + len(sid)
    data_off = str_off + len(strings)
    body_end = data_off + len(event.data)
    padding = (-body_end % 4) + 4 + pad
    length = body_end + padding + 4
    fixed = RECORD.pack(
        length,
        SIGNATURE,
        number,
        _unix(event.time_generated),
        _unix(event.time_written if event.time_written is not None else event.time_generated),
        event.event_id_full & 0xFFFFFFFF,
        TYPE_CODES[event.type],
        len(event.strings) if num_strings is None else num_strings,
        event.category,
        0,
        0,
        str_off,
        len(sid),
        sid_off,
        len(event.data),
        data_off,
    )
    return b"".join((fixed, names, sid, strings, event.data, bytes(padding), struct.pack("<I", length)))


def eof_record(begin: int, end: int, current: int, oldest: int) -> bytes:
    return EOF_RECORD.pack(
        EOF_SIZE, 0x11111111, 0x22222222, 0x33333333, 0x44444444, begin, end, current, oldest, EOF_SIZE
    )


@dataclass
class EvtLayout:
    """Where the writer put things, so tests can aim damage and check results."""

    path: Path
    size: int
    start: int  # offset of the oldest live record (BeginRecord)
    end: int  # offset of the end-of-file record
    current: int  # next record number
    oldest: int  # number of the oldest live record
    wrapped: bool
    records: dict[int, tuple[int, int]] = field(default_factory=dict)  # live: number -> (offset, length)
    overwritten: list[int] = field(default_factory=list)  # numbers of records lost to wrapping
    split_record: int | None = None  # number of the record split at the file end
    slack: dict[int, tuple[int, int]] = field(default_factory=dict)  # slack: number -> (offset, length)


def write_evt(
    path: str | Path,
    events: Iterable[Event],
    *,
    max_size: int | None = None,
    wrap: bool = False,
    dirty: bool = False,
    first_record: int = 1,
    stale_after: int = 0,
    slack: Sequence[Event] = (),
    slack_gap: int = 0,
    truncate: int | None = None,
    retention: int = DEFAULT_RETENTION,
    keep_eof_whole: bool = True,
) -> EvtLayout:
    """Write ``events`` (numbered from ``first_record``) as a .evt file and return its layout.

    ``max_size``: file size (multiple of 4); default is just big enough (the file ends with the
    end-of-file record, like a saved log).  ``wrap``: overwrite the oldest records when full (else
    a full log raises ValueError).  ``dirty``: set the dirty flag and write the header as it was
    after ``stale_after`` records (stale offsets; the end-of-file record floats).  ``slack``:
    intact records (keeping their ``record`` numbers) placed ``slack_gap`` bytes after the
    end-of-file record.  ``truncate``: cut the file to that many bytes.  ``keep_eof_whole=False``
    lets the end-of-file record itself straddle the file end (by default the last record is padded
    so that it does not).
    """
    recs = [encode_record(e, first_record + i) for i, e in enumerate(events)]
    slack_recs = [encode_record(e, e.record) for e in slack]
    if max_size is None:
        max_size = HEADER_SIZE + sum(map(len, recs)) + EOF_SIZE + slack_gap + sum(map(len, slack_recs))
    if max_size % 4 or max_size < HEADER_SIZE + EOF_SIZE:
        raise ValueError(f"max_size must be a multiple of 4 and at least 0x58, not {max_size}")
    ring_size = max_size - HEADER_SIZE
    buf = bytearray(max_size)

    def put(off: int, data: bytes) -> None:
        first = min(len(data), max_size - off)
        buf[off : off + first] = data[:first]
        if first < len(data):
            buf[HEADER_SIZE : HEADER_SIZE + len(data) - first] = data[first:]

    def advance(off: int, n: int) -> int:
        off += n
        return off - ring_size if off >= max_size else off

    live: deque[tuple[int, int, int]] = deque()  # (offset, length, number)
    layout = EvtLayout(Path(path), max_size, HEADER_SIZE, HEADER_SIZE, first_record, 0, False)
    pos = HEADER_SIZE
    stale = (HEADER_SIZE, HEADER_SIZE, first_record, 0, False)

    def make_room(need: int) -> None:
        # Keep a gap after the end-of-file record: libevt walks on past an EOF record that ends
        # exactly where the oldest record starts (a completely full ring) and reads records twice.
        while live and (live[0][0] - pos) % ring_size < need + (4 if wrap else 0):
            if not wrap:
                raise ValueError(f"log full after {len(live)} records: raise max_size or pass wrap=True")
            layout.overwritten.append(live.popleft()[2])
            layout.wrapped = True

    for i, rec in enumerate(recs):
        number = first_record + i
        if len(rec) + EOF_SIZE > ring_size:
            raise ValueError(f"record {number} ({len(rec)} bytes) does not fit in max_size {max_size}")
        if pos + len(rec) == max_size:
            # libevt follows the wrap only through a split record: never end exactly at the file end.
            rec = recs[i] = encode_record_padded(rec, 4)
        rec_end = pos + len(rec)
        if keep_eof_whole and i == len(recs) - 1 and rec_end < max_size and max_size - rec_end < EOF_SIZE:
            rec = recs[i] = encode_record_padded(rec, max_size - rec_end + 4)  # keep the EOF record whole
        make_room(len(rec) + EOF_SIZE)
        put(pos, rec)
        live.append((pos, len(rec), number))
        pos = advance(pos, len(rec))
        if dirty and i + 1 == stale_after:
            stale = (live[0][0], pos, number + 1, live[0][2], layout.wrapped)
    current = first_record + len(recs)
    start = live[0][0] if live else pos
    oldest = live[0][2] if live else 0
    put(pos, eof_record(start, pos, current, oldest))
    layout.start, layout.end, layout.current, layout.oldest = start, pos, current, oldest
    for off, length, number in live:
        layout.records[number] = (off, length)
        if off + length > max_size:
            layout.split_record = number
    # Slack records after the end-of-file record, where they do not touch live records.
    off = advance(pos, EOF_SIZE + slack_gap)
    for rec, event in zip(slack_recs, slack, strict=True):
        room = (start - off) % ring_size if live else ring_size
        if off + len(rec) > max_size or len(rec) > room:
            raise ValueError("slack records do not fit between the end-of-file record and the oldest record")
        put(off, rec)
        layout.slack[event.record] = (off, len(rec))
        off += len(rec)
    h_start, h_end, h_current, h_oldest, h_wrapped = stale if dirty else (start, pos, current, oldest, layout.wrapped)
    flags = (FLAG_WRAP if h_wrapped else 0) | (FLAG_DIRTY if dirty else 0)
    buf[:HEADER_SIZE] = HEADER.pack(
        HEADER_SIZE, SIGNATURE, 1, 1, h_start, h_end, h_current, h_oldest, max_size, flags, retention, HEADER_SIZE
    )
    data = memoryview(buf)[:truncate]  # truncate=None keeps it all
    Path(path).write_bytes(data)
    layout.size = len(data)
    return layout


def encode_record_padded(rec: bytes, extra: int) -> bytes:
    """The same record with ``extra`` more padding bytes (Length fields updated)."""
    length = len(rec) + extra
    return struct.pack("<I", length) + rec[4:-4] + bytes(extra) + struct.pack("<I", length)


IMC_DN = "/o=Org/ou=Site/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"


def sample_events(count: int, *, start: datetime | None = None, step_seconds: int = 7) -> Iterator[Event]:
    """A deterministic Application-log-like stream: mostly service chatter, every 50th event an
    MSExchangeIS Private 1023 failure audit (KB 306308) and every 97th an MSExchangeIMC 4018.
    Events are numbered 1, 2, … (the .evtx writer keeps ``record``; write_evt numbers its own)."""
    t0 = start or datetime(2001, 3, 1, tzinfo=UTC)
    for i in range(count):
        when = t0 + timedelta(seconds=i * step_seconds)
        number = i + 1
        if i % 50 == 0:
            yield Event(
                "", number, None, when, when, 1023, 1023, EventType.FAILURE_AUDIT, 2, "MSExchangeIS Private", "EXCH01",
                "S-1-5-21-1004336348-1177238915-682003330-1105", ("ORG\\exchsvc", IMC_DN, IMC_DN),
            )  # fmt: skip
        elif i % 97 == 0:
            yield Event(
                "", number, None, when, when, 4018, 0xC0000FB2, EventType.ERROR, 1, "MSExchangeIMC", "EXCH01", None,
                ("0x80040111",), bytes(range(i % 23)),
            )  # fmt: skip
        else:
            yield Event(
                "", number, None, when, when, 7036, 0x40001B7C, EventType.INFORMATION, 0, "Service Control Manager",
                "EXCH01", None, (f"Service {i % 40}", "running"), b"" if i % 3 else bytes(16),
            )  # fmt: skip
