"""Reader for legacy NT 4.0 / 2000 / XP / 2003 event logs (``.evt``, signature ``LfLe``).

Written from Microsoft's "Event Log File Format" and ``EVENTLOGRECORD`` descriptions.
The file is a ring buffer behind a 0x30-byte header: records may wrap past the physical end of the
file back to offset 0x30 (one record can be split there), and an end-of-file record floats after the
newest record.  Customers hand over live copies (dirty header, stale offsets), truncated copies and
damaged disks, so the reader:

* takes the live range from the end-of-file record (found by search when the header is dirty or
  wrong) and walks it record by record, following the wrap;
* validates every record (signature, sane length, trailing copy of the length) and, on damage,
  resynchronises on the next ``LfLe`` signature at a 4-byte boundary, reporting one warning per
  damaged region with its offset;
* scans the space outside the live range (slack) for intact older records and yields them with
  ``recovered=True``, skipping record numbers already seen (slack is full of partly overwritten
  records by nature, so gaps there are not reported as damage);
* reads in bounded windows (``read_at``: ``os.pread``, or seek and read where it is missing) and skips sparse holes, so memory does not grow with the
  file and a huge file of zeros cannot hang it.

Filters are checked on the fixed record header before any string, SID or data is decoded.
"""

from __future__ import annotations

import bisect
import codecs
import errno
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from analyzer.limits import regular_file
from analyzer.model import Event, EventFilter, EventType, InputError, ReadWarning, WarningSink, ignore_warning
from analyzer.readers.format import DEFAULT_OPTIONS, EVENTS, Format, ReadOptions
from analyzer.readers.layout import Layout

# --------------------------------------------------------------------------- layout (as data)

SIGNATURE = b"LfLe"  # ELF_LOG_SIGNATURE 0x654c664c, little-endian
HEADER_SIZE = 0x30

#: ELF_LOGFILE_HEADER, 0x30 bytes at offset 0.
HEADER_FIELDS = (
    "header_size", "signature", "major_version", "minor_version", "start_offset", "end_offset",
    "current_record_number", "oldest_record_number", "max_size", "flags", "retention", "end_header_size",
)  # fmt: skip
HEADER = Layout("ElfLogfileHeader", "<I4s10I", HEADER_FIELDS)

FLAG_DIRTY = 0x1  # ELF_LOGFILE_HEADER_DIRTY: the service had the file open (live copy)
FLAG_WRAP = 0x2  # ELF_LOGFILE_HEADER_WRAP: records wrap past the end of the file
FLAG_LOGFULL_WRITTEN = 0x4
FLAG_ARCHIVE_SET = 0x8

#: EVENTLOGRECORD fixed part, 0x38 bytes; variable data follows, the record ends with a copy of Length.
RECORD_FIELDS = (
    "length", "signature", "record_number", "time_generated", "time_written", "event_id",
    "event_type", "num_strings", "event_category", "reserved_flags", "closing_record_number",
    "string_offset", "user_sid_length", "user_sid_offset", "data_length", "data_offset",
)  # fmt: skip
RECORD = Layout("EventLogRecord", "<I4s4I4H6I", RECORD_FIELDS)
RECORD_FIXED = RECORD.size  # 0x38
MIN_RECORD = RECORD_FIXED + 4  # fixed part plus the trailing length copy
MAX_RECORD = 16 * 1024 * 1024  # far above anything the EventLog service writes; bounds bogus lengths
_NUMBER_AT = RECORD.offset_of("record_number")  # 8: the scans read it alone
_RECORD_DECODED = RECORD.picker(
    "record_number", "time_generated", "time_written", "event_id", "event_type", "num_strings", "event_category",
    "string_offset", "user_sid_length", "user_sid_offset", "data_length", "data_offset",
)  # fmt: skip

#: ELF_EOF_RECORD, 0x28 bytes: RecordSizeBeginning, four magic words, BeginRecord, EndRecord,
#: CurrentRecordNumber, OldestRecordNumber, RecordSizeEnd.
EOF_FIELDS = (
    "size_beginning", "one", "two", "three", "four", "begin_record", "end_record",
    "current_record_number", "oldest_record_number", "size_end",
)  # fmt: skip
EOF_RECORD = Layout("ElfEofRecord", "<10I", EOF_FIELDS)
EOF_SIZE = EOF_RECORD.size  # 0x28
EOF_MAGIC = (0x11111111, 0x22222222, 0x33333333, 0x44444444)
EOF_MAGIC_BYTES = struct.pack("<4I", *EOF_MAGIC)

WINDOW = 1 << 20  # bytes read per read_at; bounds memory whatever the file size
_U32 = struct.Struct("<I")
# A record candidate: a length that is a multiple of 4 and at most MAX_RECORD (so its top byte is 0,
# or 1 for exactly 16 MiB), then the signature.  Searched at C speed, so a region full of bare
# "LfLe" bytes costs no Python work per signature.
_CANDIDATE = re.compile(
    b"[" + b"".join(re.escape(bytes([b])) for b in range(0, 256, 4)) + b"][\x00-\xff]{2}[\x00\x01]" + SIGNATURE,
    re.DOTALL,
)
#: Candidates that fail validation tolerated per 1 MiB window of one damaged region or slack scan;
#: past that the rest of the window is skipped with a warning.  Real records are never failures and
#: a window holds at most WINDOW // MIN_RECORD of them, so intact data is not lost to this bound.
MAX_RESYNC_ATTEMPTS = 4096


@dataclass(frozen=True, slots=True)
class LogHeader:
    """The decoded ELF_LOGFILE_HEADER."""

    header_size: int
    signature: bytes
    major_version: int
    minor_version: int
    start_offset: int
    end_offset: int
    current_record_number: int
    oldest_record_number: int
    max_size: int
    flags: int
    retention: int
    end_header_size: int

    @property
    def dirty(self) -> bool:
        return bool(self.flags & FLAG_DIRTY)


@dataclass(frozen=True, slots=True)
class EofRecord:
    """A decoded ELF_EOF_RECORD and where it was found."""

    offset: int
    begin_record: int
    end_record: int
    current_record_number: int
    oldest_record_number: int


def parse_header(head: bytes) -> LogHeader | None:
    """The header if ``head`` starts with one (signature at +4), else None."""
    if len(head) < HEADER_SIZE or head[4:8] != SIGNATURE:
        return None
    return LogHeader(**HEADER.unpack_from(head, 0)._asdict())


# --------------------------------------------------------------------------- public entry point


def read(
    path: str,
    *,
    filters: EventFilter | None = None,
    options: ReadOptions = DEFAULT_OPTIONS,
    warn: WarningSink = ignore_warning,
    recover: bool = True,
) -> Iterator[Event]:
    """Stream the events of one .evt file: live records in log order, then recovered ones.

    ``recover`` (default True) scans slack space for older records.  No ``options`` apply: .evt
    strings are UTF-16LE and times UTC.
    """
    log = _EvtLog(str(path), filters, warn)
    try:
        yield from log.events(recover=recover)
    finally:
        log.close()


FORMAT = Format("evt", EVENTS, "NT 4.0 - 2003 event log (.evt)", read, magic=lambda head: head[4:8] == SIGNATURE)


# --------------------------------------------------------------------------- helpers


class _NumberSet:
    """Record numbers seen so far, kept as sorted disjoint runs: a normal log is one or two runs, so
    memory stays small while membership still answers the de-duplication of recovered records."""

    __slots__ = ("_his", "_los")

    def __init__(self) -> None:
        self._los: list[int] = []
        self._his: list[int] = []

    def add_run(self, lo: int, hi: int) -> None:
        """Add ``lo..hi`` (inclusive), merging with overlapping or adjacent runs."""
        los, his = self._los, self._his
        i = bisect.bisect_left(his, lo - 1)
        j = bisect.bisect_right(los, hi + 1)
        if i < j:
            lo, hi = min(lo, los[i]), max(hi, his[j - 1])
        los[i:j] = [lo]
        his[i:j] = [hi]

    def add(self, n: int) -> None:
        self.add_run(n, n)

    def __contains__(self, n: int) -> bool:
        i = bisect.bisect_right(self._los, n) - 1
        return i >= 0 and n <= self._his[i]


def sid_to_text(raw: bytes) -> str | None:
    """Binary SID -> ``S-1-5-21-…``; None when the bytes are not a plausible SID."""
    if len(raw) < 8:
        return None
    revision, count = raw[0], raw[1]
    if len(raw) < 8 + 4 * count:
        return None
    authority = int.from_bytes(raw[2:8], "big")
    auth = str(authority) if authority < 1 << 32 else f"0x{authority:012X}"
    subs = struct.unpack_from(f"<{count}I", raw, 8)
    return "-".join(("S", str(revision), auth, *map(str, subs)))


def _strings(parts: list[str], count: int) -> tuple[str, ...]:
    """The first ``count`` NUL-separated strings (``parts`` from ``split("\\0", count)``)."""
    if len(parts) > count:
        del parts[count:]
    elif parts and not parts[-1]:
        parts.pop()  # the text ended at a terminator: fewer strings than NumStrings claims
    return tuple(parts)


_utf16 = codecs.utf_16_le_decode  # the codec function itself: bytes.decode() adds a registry lookup per call


def _source_name(buf: bytes, rel: int, end: int) -> str:
    """The SourceName right after a record's fixed part (UTF-16, NUL-terminated), decoded alone."""
    start = rel + RECORD_FIXED
    stop = rel + end
    at = buf.find(b"\0\0", start, stop)
    while at != -1 and (at - start) & 1:
        at = buf.find(b"\0\0", at + 1, stop)
    return _utf16(buf[start : stop if at == -1 else at], "replace", True)[0]


_TYPES = {code: EventType.from_code(code) for code in (0, 1, 2, 4, 8, 0x10)}


# --------------------------------------------------------------------------- the reader


def read_at(fd: int, n: int, off: int) -> bytes:
    """Up to ``n`` bytes of ``fd`` at ``off``.

    ``os.pread`` where the platform has it; Windows has not, so there the reader seeks and reads (each
    reader owns its descriptor, so moving its position disturbs nothing else).
    """
    pread = getattr(os, "pread", None)
    if pread is not None:
        return pread(fd, n, off)
    os.lseek(fd, off, os.SEEK_SET)
    chunks: list[bytes] = []
    while n > 0:
        chunk = os.read(fd, n)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class _EvtLog:
    """One open .evt file.  Offsets are absolute file offsets; the ring is [HEADER_SIZE, ring_end)."""

    def __init__(self, path: str, filters: EventFilter | None, warn: WarningSink) -> None:
        self.path = path
        self.warn = warn
        self.filters = None if filters is None or filters.empty else filters
        self.fd = -1
        self.size = 0
        self.ring_end = 0
        self._buf = b""
        self._base = 0
        self._times: dict[int, datetime] = {}
        self._sids: dict[bytes, str | None] = {}
        self.seen = _NumberSet()
        self._warned: set[int] = set()

    # -- low-level I/O ---------------------------------------------------------------------------

    def open(self) -> LogHeader:
        path = self.path
        st = regular_file(path)
        if st.st_size == 0:
            raise InputError(path, "empty file")
        try:
            self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            head = read_at(self.fd, HEADER_SIZE, 0)
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
        self.size = st.st_size
        header = parse_header(head)
        if header is None:
            if len(head) >= 8 and head[4:8] == SIGNATURE:
                raise InputError(path, "not an event log (file shorter than the 0x30-byte header)")
            what = "only zero bytes at the start" if not head.strip(b"\0") else "no 'LfLe' signature at offset 4"
            raise InputError(path, f"not an event log ({what})")
        self.ring_end = self.size - (self.size % 4)
        if header.header_size != HEADER_SIZE or header.end_header_size != HEADER_SIZE:
            self._warn("damaged file header (header size fields are not 0x30)", 0)
        elif (header.major_version, header.minor_version) != (1, 1):
            self._warn(f"unexpected format version {header.major_version}.{header.minor_version}", 8)
        return header

    def _warn(self, message: str, offset: int) -> None:
        """Report damage once per offset (a missing end record and the damage there are one region)."""
        if offset not in self._warned:
            self._warned.add(offset)
            self.warn(ReadWarning(self.path, message, offset))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def span(self, off: int, n: int) -> tuple[bytes, int]:
        """A buffer and index ``rel`` with ``buf[rel:rel+n]`` = file bytes at ``off`` (shorter at EOF)."""
        rel = off - self._base
        buf = self._buf
        if rel < 0 or rel + n > len(buf):
            if rel >= 0 and self._base + len(buf) >= self.size:
                return buf, rel  # the window already reaches the end of the file
            buf = self._buf = read_at(self.fd, max(WINDOW, n), off)
            self._base = off
            rel = 0
        return buf, rel

    def pread(self, off: int, n: int) -> bytes:
        buf, rel = self.span(off, n)
        return buf[rel : rel + n]

    def ring_read(self, off: int, n: int) -> bytes:
        """``n`` bytes of the ring at ``off``, continuing behind the header past the file end."""
        if off >= self.ring_end:  # a candidate offset past the end names a place behind the header
            off = HEADER_SIZE + (off - self.ring_end) % max(1, self.ring_end - HEADER_SIZE)
        first = self.ring_end - off
        if n <= first:
            return self.pread(off, n)
        return self.pread(off, first) + self.pread(HEADER_SIZE, n - first)

    def ring_advance(self, off: int, n: int) -> int:
        off += n
        if off >= self.ring_end:
            off = HEADER_SIZE + (off - self.ring_end)
        return off

    def ring_distance(self, a: int, b: int) -> int:
        """Bytes from ``a`` forward to ``b`` inside the ring."""
        return b - a if b >= a else (self.ring_end - a) + (b - HEADER_SIZE)

    def next_data(self, off: int) -> int:
        """First offset >= off that may hold data (skips sparse holes); ``size`` when none."""
        if off >= self.size:
            return self.size
        try:
            return os.lseek(self.fd, off, os.SEEK_DATA)
        except OSError as exc:
            return self.size if exc.errno == errno.ENXIO else off  # ENXIO: only a hole follows
        except (AttributeError, ValueError):
            return off  # no SEEK_DATA on this platform

    # -- validation ------------------------------------------------------------------------------

    def record_length_at(self, off: int, limit: int | None = None) -> int:
        """Length of a valid record at ``off`` (wrap-aware), or 0.  ``limit`` bounds its length."""
        head = self.ring_read(off, 8)
        if len(head) < 8 or head[4:8] != SIGNATURE:
            return 0
        length = _U32.unpack_from(head)[0]
        bound = min(MAX_RECORD, self.ring_end - HEADER_SIZE if limit is None else limit)
        if length < MIN_RECORD or length > bound or length & 3:
            return 0
        tail = self._peek4(self.ring_advance(off, length - 4))
        if len(tail) < 4 or _U32.unpack(tail)[0] != length:
            return 0
        return length

    def _peek4(self, off: int) -> bytes:
        """4 bytes at ``off``: from the window when there, else one small read (the window stays put,
        so checking a candidate whose claimed length points far away does not re-read a megabyte)."""
        rel = off - self._base
        if rel >= 0 and rel + 4 <= len(self._buf):
            return self._buf[rel : rel + 4]
        return read_at(self.fd, 4, off)

    def eof_at(self, off: int) -> EofRecord | None:
        raw = self.ring_read(off, EOF_SIZE)
        if len(raw) != EOF_SIZE:
            return None
        f = EOF_RECORD.unpack(raw)
        if f.size_beginning != EOF_SIZE or f.size_end != EOF_SIZE or (f.one, f.two, f.three, f.four) != EOF_MAGIC:
            return None
        return EofRecord(off, f.begin_record, f.end_record, f.current_record_number, f.oldest_record_number)

    def find_eof(self, header: LogHeader) -> EofRecord | None:
        """The end-of-file record that describes the live log (searched when the header is stale)."""
        candidates: list[EofRecord] = []
        pos = HEADER_SIZE
        while pos < self.size:
            pos = self.next_data(pos)
            if pos >= self.size:
                break
            buf = read_at(self.fd, WINDOW + 16, pos)
            if not buf:
                break
            i = buf.find(EOF_MAGIC_BYTES)
            while i >= 0:
                off = pos + i - 4
                if off >= HEADER_SIZE and off % 4 == 0:
                    eof = self.eof_at(off)
                    if eof is not None:
                        candidates.append(eof)
                i = buf.find(EOF_MAGIC_BYTES, i + 1)
            pos += WINDOW
        # An end record split across the file end: look at the seam of the ring.
        seam = self.pread(self.ring_end - EOF_SIZE, EOF_SIZE) + self.pread(HEADER_SIZE, EOF_SIZE)
        i = seam.find(EOF_MAGIC_BYTES)
        while i >= 0:
            off = self.ring_end - EOF_SIZE + i - 4
            if off % 4 == 0 and off + EOF_SIZE > self.ring_end and (eof := self.eof_at(off)) is not None:
                candidates.append(eof)
            i = seam.find(EOF_MAGIC_BYTES, i + 1)
        if not candidates:
            return None

        def score(e: EofRecord) -> tuple[bool, bool, int]:
            consistent = e.end_record == e.offset and (
                e.begin_record == e.offset or self.record_length_at(e.begin_record) > 0
            )
            return consistent, e.current_record_number >= header.current_record_number, e.current_record_number

        return max(candidates, key=score)

    # -- decoding --------------------------------------------------------------------------------

    def _time(self, seconds: int) -> datetime:
        value = self._times.get(seconds)
        if value is None:
            if len(self._times) > 8192:
                self._times.clear()
            value = self._times[seconds] = datetime.fromtimestamp(seconds, UTC)
        return value

    def decode(self, buf: bytes, rel: int, length: int, offset: int, recovered: bool) -> Event | None:
        """Event of the valid record at ``buf[rel:rel+length]``, or None when filtered out."""
        (number, t_gen, t_wr, event_id_full, type_code, num_strings, category,
         str_off, sid_len, sid_off, data_len, data_off) = _RECORD_DECODED(buf, rel)  # fmt: skip
        event_id = event_id_full & 0xFFFF
        etype = _TYPES.get(type_code) or EventType.from_code(type_code)
        times = self._times
        generated = times.get(t_gen) or self._time(t_gen)
        written = times.get(t_wr) or self._time(t_wr)
        flt = self.filters
        if flt is not None and not (flt.wants_id(event_id) and flt.wants_type(etype) and flt.wants_time(generated)):
            return None
        end = length - 4
        named = None
        if flt is not None and flt.pairs and not flt.wants_pair(event_id, named := _source_name(buf, rel, end)):
            return None  # decided from the fixed header and the source name, before any string
        strings: tuple[str, ...] = ()
        sid = None
        # Strings run from StringOffset to the data (or the record end); decode them lazily.
        s_end = data_off if str_off <= data_off <= end else end
        if num_strings and RECORD_FIXED <= str_off < end:
            s_end -= (s_end - str_off) & 1
        else:
            num_strings = 0
        if not sid_len and num_strings and str_off < s_end:
            # Usual layout without a SID: names and strings are one run of NUL-terminated text.
            parts = _utf16(buf[rel + RECORD_FIXED : rel + s_end], "replace", True)[0].split("\0", num_strings + 2)
            if len(parts) >= 2 and RECORD_FIXED + 2 * (len(parts[0]) + len(parts[1]) + 2) == str_off:
                source, computer = parts[0], parts[1]
                del parts[:2]
                strings = _strings(parts, num_strings)
                num_strings = -1  # done
            else:
                source = computer = ""
        if num_strings >= 0:
            # SourceName and Computername: two NUL-terminated strings up to the SID (or the strings).
            names_end = sid_off if sid_len else str_off
            if not RECORD_FIXED <= names_end <= end:
                names_end = str_off if RECORD_FIXED <= str_off <= end else end
            names_end -= (names_end - RECORD_FIXED) & 1
            names = _utf16(buf[rel + RECORD_FIXED : rel + names_end], "replace", True)[0].split("\0", 2)
            source = names[0]
            computer = names[1] if len(names) > 1 else ""
            if num_strings:
                strings = _strings(
                    _utf16(buf[rel + str_off : rel + s_end], "replace", True)[0].split("\0", num_strings), num_strings
                )
        if sid_len and RECORD_FIXED <= sid_off <= end - sid_len:
            raw = buf[rel + sid_off : rel + sid_off + sid_len]
            sid = self._sids.get(raw)
            if sid is None:
                if len(self._sids) > 4096:
                    self._sids.clear()
                sid = self._sids[raw] = sid_to_text(raw)
        data = b""
        if data_len and RECORD_FIXED <= data_off < end:
            data = buf[rel + data_off : rel + min(data_off + data_len, end)]
        event = Event(
            self.path, number, offset, generated, written, event_id, event_id_full, etype, category,
            source, computer, sid, strings, data, None, None, recovered,
        )  # fmt: skip
        if flt is not None and (
            (flt.sources and not flt.wants_source(source))
            or (named is not None and source != named and not flt.wants_pair(event_id, source))
        ):
            return None  # the other conditions were decided before decoding
        return event

    # -- walking ---------------------------------------------------------------------------------

    def events(self, *, recover: bool = True) -> Iterator[Event]:
        header = self.open()
        if self.ring_end < HEADER_SIZE + EOF_SIZE:
            self._warn("no records: the file ends right after the header", HEADER_SIZE)
            return
        eof = self.eof_at(header.end_offset) if self._in_ring(header.end_offset) else None
        if eof is None:
            # Dirty (live copy) headers are stale by design; otherwise the header itself is wrong.
            eof = self.find_eof(header)
            if eof is None:
                beyond = " (beyond the end of the file: truncated copy?)" if header.end_offset >= self.size else ""
                self._warn(f"no end-of-file record found{beyond}; reading what is intact", header.end_offset)
            elif not header.dirty:
                self._warn(f"header end offset 0x{header.end_offset:x} is wrong; end-of-file record used", eof.offset)
        if eof is not None and self._in_ring(eof.begin_record):
            start = eof.begin_record
        else:
            start = header.start_offset if self._in_ring(header.start_offset) else HEADER_SIZE
        end = eof.offset if eof is not None else None
        live_stop = yield from self._walk_live(start, end)
        if not recover:
            return
        if end is not None:
            live_stop = self.ring_advance(end, EOF_SIZE)
        if start == live_stop:
            # Nothing walked (no end record and no readable start) -> everything is slack; or the
            # live range fills the whole ring -> there is no slack.
            regions = [(HEADER_SIZE, self.ring_end)] if end is None else []
        elif start < live_stop:
            regions = [(HEADER_SIZE, start), (live_stop, self.ring_end)]
        else:
            regions = [(live_stop, start)]
        for lo, hi in regions:
            yield from self._scan_region(lo, hi)

    def _in_ring(self, off: int) -> bool:
        return HEADER_SIZE <= off < self.ring_end and off % 4 == 0

    def _walk_live(self, start: int, end: int | None) -> Iterator[Event]:
        """Yield live records from ``start`` to the end-of-file record at ``end`` (or, with no end
        known, until the record numbers stop increasing); returns where the live range stops."""
        decode, seen = self.decode, self.seen
        ring_end = self.ring_end
        if end == start:
            return start  # an empty log
        budget = self.ring_distance(start, end) if end is not None else ring_end - HEADER_SIZE
        pos, walked, prev, run_lo = start, 0, -1, -1
        unpack_u32 = _U32.unpack_from
        while walked < budget:
            rest = budget - walked
            buf = self._buf
            rel = pos - self._base
            if not (  # fast path: the whole record is in the current window and valid
                rel >= 0
                and buf.startswith(SIGNATURE, rel + 4)
                and MIN_RECORD <= (length := unpack_u32(buf, rel)[0]) <= rest
                and not length & 3
                and rel + length <= len(buf)
                and pos + length <= ring_end
                and unpack_u32(buf, rel + length - 4)[0] == length
            ):
                length = self.record_length_at(pos, rest)  # refill, split record or damage
                if length:
                    buf, rel = self.span(pos, length) if pos + length <= ring_end else (self.ring_read(pos, length), 0)
            if length:
                number = unpack_u32(buf, rel + _NUMBER_AT)[0]
                if number != prev + 1 or run_lo < 0:
                    if end is None and number <= prev:
                        break  # older data: the live range ended here
                    if run_lo >= 0:
                        seen.add_run(run_lo, prev)
                    run_lo = number
                prev = number
                event = decode(buf, rel, length, pos, False)
                if event is not None:
                    yield event
                pos += length
                if pos >= ring_end:
                    pos = HEADER_SIZE + pos - ring_end
                walked += length
                continue
            # Damaged region: resynchronise on the next valid record inside the live range.
            found = self._resync(pos, rest)
            if found is None:
                if end is not None:
                    self._warn(f"damaged region, {rest} bytes up to the end-of-file record skipped", pos)
                elif self.ring_read(pos, 8).strip(b"\0"):
                    self._warn("damaged or truncated data after the last readable record", pos)
                break
            skipped = self.ring_distance(pos, found)
            self._warn(f"damaged region, {skipped} bytes skipped", pos)
            pos, walked = found, walked + skipped
        if run_lo >= 0:
            seen.add_run(run_lo, prev)
        return pos

    def _resync(self, pos: int, rest: int) -> int | None:
        """Next offset after ``pos`` (within ``rest`` ring bytes) holding a valid record."""
        walked = 4
        attempts = 0
        cand = self.ring_advance(pos, 4)
        while walked < rest:
            # Look for the signature in a window, then validate the candidate.
            stop = self._in_window(cand, min(self.ring_end, cand + min(rest - walked, WINDOW)))
            if cand < stop:
                nxt = self.next_data(cand) & ~3
                if nxt >= stop:
                    walked += stop - cand
                    cand = self.ring_advance(cand, stop - cand)
                    continue
                if nxt > cand:
                    walked += nxt - cand
                    cand = nxt
            buf, rel = self.span(cand, stop - cand + 8)
            i = self._candidate(buf, rel, rel + (stop - cand) + 8)
            if i < 0:
                walked += stop - cand
                cand = self.ring_advance(cand, stop - cand)
                continue
            off = self._base + i - 4
            walked += off - cand
            if walked >= rest:
                return None
            if self.record_length_at(off, rest - walked):
                return off
            attempts += 1
            if attempts >= MAX_RESYNC_ATTEMPTS:  # a region built of false signatures: skip the window
                self._warn(f"{attempts} false record signatures in one window; the rest of it skipped", off)
                attempts = 0
                walked += stop - off
                cand = self.ring_advance(off, stop - off)
                continue
            walked += 4
            cand = self.ring_advance(off, 4)
        return None

    def _in_window(self, pos: int, stop: int) -> int:
        """``stop`` cut to the bytes already read, when ``pos`` lies well inside them: searching on
        after a false candidate must not re-read a whole window for every 4 bytes it moves."""
        end = self._base + len(self._buf) - 8
        return min(stop, end) if self._base <= pos and end > pos + 64 else stop

    def _candidate(self, buf: bytes, lo: int, hi: int) -> int:
        """Index in ``buf`` of the next 4-byte-aligned signature in [lo + 4, hi) whose length field is
        plausible, or -1."""
        pos = lo
        while (m := _CANDIDATE.search(buf, pos, hi)) is not None:
            if (self._base + m.start()) % 4 == 0:
                return m.start() + 4
            pos = m.start() + 1
        return -1

    def _scan_region(self, lo: int, hi: int) -> Iterator[Event]:
        seen, decode = self.seen, self.decode
        pos = lo
        attempts, window_end = 0, -1
        while pos + MIN_RECORD <= hi:
            if pos >= window_end:
                nxt = self.next_data(pos) & ~3
                if nxt >= hi:
                    return
                pos = max(pos, nxt)
                attempts, window_end = 0, min(hi, pos + WINDOW)
            stop = self._in_window(pos, min(hi, pos + WINDOW))
            buf, rel = self.span(pos, stop - pos + 8)
            i = self._candidate(buf, rel, rel + (stop - pos) + 8)
            if i < 0:
                pos = stop
                continue
            off = self._base + i - 4
            length = self.record_length_at(off, hi - off) if off + 8 <= hi else 0
            if not length:
                attempts += 1
                if attempts >= MAX_RESYNC_ATTEMPTS:  # false signatures only: skip the rest of the window
                    self._warn(
                        f"{attempts} false record signatures in one window of slack; the rest of it skipped", off
                    )
                    pos = max(off + 4, window_end)
                    continue
                pos = off + 4
                continue
            buf, rel = self.span(off, length)
            number = _U32.unpack_from(buf, rel + _NUMBER_AT)[0]
            if number not in seen:
                seen.add(number)
                event = decode(buf, rel, length, off, True)
                if event is not None:
                    yield event
            pos = off + length
