"""A small pure-Python .evtx writer for tests and benchmarks (no maintained package writes evtx).

Each record is the BinXML a converted legacy event would carry: a template instance whose template is
defined inline in that record, with typed substitution values (UInt16 EventID and Qualifiers, UInt8
Level, HexInt64 Keywords, FILETIME TimeCreated, SID UserID, unnamed ``<Data>`` strings, ``<Binary>``).
Names are written inline each time (no chunk string table), which every parser accepts.  The output
is read correctly by libevtx (``pyevtx``), the Rust ``evtx`` package and python-evtx: chunk header and
event-records CRC32s are right, an end-of-stream token follows each record's BinXML, and every chunk
keeps at least 4 bytes free (libevtx drops the last record otherwise).

Damage for tests is opt-in: ``dirty``, ``stale_chunk_count``, ``bad_chunk_magic``, ``bad_crc``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from analyzer.model import Event, EventType

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
MIN_FREE = 4  # libevtx drops the last record of a chunk with less room left
EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"

# BinXML tokens and value types
_OPEN, _OPEN_ATTRS, _CLOSE_START, _CLOSE_EMPTY, _END = 0x01, 0x41, 0x02, 0x03, 0x04
_VALUE, _ATTR, _ATTR_MORE, _TEMPLATE, _SUB, _OPT_SUB, _EOS = 0x05, 0x06, 0x46, 0x0C, 0x0D, 0x0E, 0x00
_FRAGMENT = b"\x0f\x01\x01\x00"
T_BINXML = 0x21
T_NULL, T_WSTRING, T_UINT8, T_UINT16, T_UINT64, T_BINARY, T_FILETIME, T_SID, T_HEX64 = (
    0x00,
    0x01,
    0x04,
    0x06,
    0x0A,
    0x0E,
    0x11,
    0x13,
    0x15,
)

_AUDIT_SUCCESS = 0x8020000000000000
_AUDIT_FAILURE = 0x8010000000000000
_CLASSIC = 0x0080000000000000
_LEVEL = {EventType.ERROR: 2, EventType.WARNING: 3, EventType.INFORMATION: 4}
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def write_evtx(path: str | Path, events: Iterable[Event], **options: object) -> None:
    """Write ``events`` (in order) to a new .evtx file.

    Options: ``records_per_chunk`` (int, default: as many as fit), ``dirty`` (set the header's dirty
    flag), ``stale_chunk_count`` (header claims one chunk only, as in a log copied while in use),
    ``bad_chunk_magic`` / ``bad_crc`` (iterables of chunk indexes to damage), ``channel`` (default
    channel for events whose ``log`` is None, "Application"), ``typed_data`` ((value type, raw bytes)
    pairs added to every record as further ``<Data>`` items), ``nested_event_data`` (the ``<EventData>``
    element is one BinXML-typed substitution value holding its own template instance, as Windows writes
    many events; the inner templates are shared within a chunk like the outer ones).
    """
    per_chunk = int(options.pop("records_per_chunk", 0) or 0)  # type: ignore[call-overload]
    dirty = bool(options.pop("dirty", False))
    stale = bool(options.pop("stale_chunk_count", False))
    bad_magic = set(options.pop("bad_chunk_magic", ()) or ())  # type: ignore[call-overload]
    bad_crc = set(options.pop("bad_crc", ()) or ())  # type: ignore[call-overload]
    channel = str(options.pop("channel", "Application"))
    typed = tuple(options.pop("typed_data", ()) or ())  # type: ignore[call-overload]
    nested = bool(options.pop("nested_event_data", False))
    if options:
        raise TypeError(f"unknown write_evtx options: {', '.join(sorted(options))}")

    chunks = 0
    next_id = 1
    with open(path, "wb") as fh:
        fh.write(bytes(FILE_HEADER_SIZE))
        for index, (records, templates) in enumerate(_pack(events, channel, per_chunk, typed, nested)):
            chunk = _chunk(records, templates)
            if index in bad_crc:
                chunk[52] ^= 0xFF  # event-records CRC32
                chunk[124] ^= 0xFF  # header CRC32
            if index in bad_magic:
                chunk[0:8] = b"ElfJunk\x00"
            fh.write(chunk)
            chunks += 1
            next_id = records[-1][0] + 1
        header = _file_header(chunks, next_id, dirty=dirty, stale=stale)
        fh.seek(0)
        fh.write(header)


def _pack(
    events: Iterable[Event],
    channel: str,
    per_chunk: int,
    typed: tuple[tuple[int, bytes], ...] = (),
    nested: bool = False,
) -> Iterator[tuple[list[tuple[int, bytes]], list[int]]]:
    """Group encoded records into chunks: ([(record id, bytes)], [template definition offsets])."""
    limit = CHUNK_SIZE - MIN_FREE
    current: list[tuple[int, bytes]] = []
    templates: dict[tuple[int, bool, bool], int] = {}
    pos = CHUNK_HEADER_SIZE
    for event in events:
        inner: list[tuple[tuple[int, bool, bool], int]] = []
        record, new = encode_record(event, channel, pos, templates, typed, nested=nested, inner=inner)
        if current and (pos + len(record) > limit or (per_chunk and len(current) >= per_chunk)):
            yield current, list(templates.values())
            current, pos, templates = [], CHUNK_HEADER_SIZE, {}
            inner = []
            record, new = encode_record(event, channel, pos, templates, typed, nested=nested, inner=inner)
        if pos + len(record) > limit:
            raise ValueError(f"event record {event.record} is too large for one chunk ({len(record)} bytes)")
        if new is not None:
            templates[new[0]] = new[1]
        for shape, defined_at in inner:
            templates[shape] = defined_at
        current.append((event.record, record))
        pos += len(record)
    if current:
        yield current, list(templates.values())


def _chunk(records: list[tuple[int, bytes]], templates: list[int]) -> bytearray:
    """A chunk with its template pointer table filled (python-evtx finds shared templates there)."""
    data = bytearray(CHUNK_SIZE)
    for slot, offset in enumerate(templates[:32]):
        struct.pack_into("<I", data, 384 + 4 * slot, offset)
    pos = CHUNK_HEADER_SIZE
    last = pos
    for _, record in records:
        data[pos : pos + len(record)] = record
        last = pos
        pos += len(record)
    first_id, last_id = records[0][0], records[-1][0]
    data[0:8] = b"ElfChnk\x00"
    struct.pack_into("<QQQQIII", data, 8, first_id, last_id, first_id, last_id, 128, last, pos)
    struct.pack_into("<I", data, 52, zlib.crc32(data[CHUNK_HEADER_SIZE:pos]))
    struct.pack_into("<I", data, 124, zlib.crc32(data[128:512], zlib.crc32(data[:120])))
    return data


def _file_header(chunks: int, next_id: int, *, dirty: bool, stale: bool) -> bytes:
    hdr = bytearray(FILE_HEADER_SIZE)
    hdr[0:8] = b"ElfFile\x00"
    shown = min(chunks, 1) if stale else chunks
    struct.pack_into("<QQQIHHHH", hdr, 8, 0, max(shown - 1, 0), next_id, 128, 1, 3, FILE_HEADER_SIZE, shown)
    struct.pack_into("<I", hdr, 120, 1 if dirty or stale else 0)
    struct.pack_into("<I", hdr, 124, zlib.crc32(hdr[:120]))
    return bytes(hdr)


# --------------------------------------------------------------------------- one record


def filetime(value: datetime | None) -> int:
    """100-ns ticks since 1601 (naive times are taken as UTC)."""
    if value is None:
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def level_and_keywords(event_type: EventType) -> tuple[int, int]:
    """How a converted legacy event type is shown in evtx (audits by keyword, the rest by level)."""
    if event_type is EventType.SUCCESS_AUDIT:
        return 0, _AUDIT_SUCCESS
    if event_type is EventType.FAILURE_AUDIT:
        return 0, _AUDIT_FAILURE
    return _LEVEL[event_type], _CLASSIC


def encode_record(
    event: Event,
    channel: str = "Application",
    offset: int = CHUNK_HEADER_SIZE,
    templates: dict[tuple[int, bool, bool], int] | None = None,
    typed: tuple[tuple[int, bytes], ...] = (),
    *,
    nested: bool = False,
    inner: list[tuple[tuple[int, bool, bool], int]] | None = None,
) -> tuple[bytes, tuple[tuple[int, bool, bool], int] | None]:
    """Record header + BinXML (template instance, substitution values, end of stream) + size copy.

    ``offset`` is where the record starts in its chunk (BinXML offsets are chunk-relative).  Records of
    the same shape (number of strings, binary data, message) share one template per chunk, as Windows
    does: ``templates`` maps shape -> definition offset of the templates already in the chunk.  ``typed``
    adds (value type, raw bytes) substitutions as further ``<Data>`` items (tests of value rendering).  Returns
    the record and, when it defines a new template, (shape, definition offset) for the caller to keep.
    With ``nested``, ``<EventData>`` is one BinXML value holding its own template instance; an inner
    template defined by this record is appended to ``inner`` as (shape, definition offset).
    """
    level, keywords = level_and_keywords(event.type)
    values: list[tuple[int, bytes]] = [
        (T_UINT16, struct.pack("<H", (event.event_id_full >> 16) & 0xFFFF)),  # 0 Qualifiers
        (T_UINT16, struct.pack("<H", event.event_id & 0xFFFF)),  # 1 EventID
        (T_UINT8, struct.pack("<B", level)),  # 2 Level
        (T_UINT16, struct.pack("<H", event.category & 0xFFFF)),  # 3 Task
        (T_HEX64, struct.pack("<Q", keywords)),  # 4 Keywords
        (T_FILETIME, struct.pack("<Q", filetime(event.time_generated))),  # 5 TimeCreated
        (T_UINT64, struct.pack("<Q", event.record)),  # 6 EventRecordID
        (T_WSTRING, _utf16(event.log or channel)),  # 7 Channel
        (T_WSTRING, _utf16(event.computer)),  # 8 Computer
        (T_SID, _sid(event.sid)) if event.sid else (T_NULL, b""),  # 9 UserID
        (T_WSTRING, _utf16(event.source)),  # 10 Provider Name
    ]
    shape = (len(event.strings) + 1000 * len(typed) + 1_000_000 * nested, bool(event.data), event.message is not None)
    known = (templates or {}).get(shape)
    t = _Template()
    t.open("Event", [("xmlns", t.text(EVENT_NS))])
    t.open("System")
    t.empty("Provider", [("Name", t.sub(10, T_WSTRING))])
    t.element("EventID", t.sub(1, T_UINT16), [("Qualifiers", t.sub(0, T_UINT16))])
    t.element("Level", t.sub(2, T_UINT8))
    t.element("Task", t.sub(3, T_UINT16))
    t.element("Keywords", t.sub(4, T_HEX64))
    t.empty("TimeCreated", [("SystemTime", t.sub(5, T_FILETIME))])
    t.element("EventRecordID", t.sub(6, T_UINT64))
    t.element("Channel", t.sub(7, T_WSTRING))
    t.element("Computer", t.sub(8, T_WSTRING))
    t.empty("Security", [("UserID", t.sub(9, T_SID, optional=True))])
    t.close()
    if nested:
        t.parts.extend(t.sub(len(values), T_BINXML))
        values.append((T_BINXML, _NestedEventData(event, typed, shape, templates or {}, inner)))  # type: ignore[arg-type]
    else:
        _event_data(t, values, event, typed)
    if event.message is not None:
        t.open("RenderingInfo", [("Culture", t.text("en-US"))])
        t.element("Message", t.sub(len(values), T_WSTRING))
        values.append((T_WSTRING, _utf16(event.message)))
        t.close()
    t.close()
    template_id = zlib.crc32(repr(shape).encode())
    body, defined_at = _instance_at(t, values, template_id, offset + 24, known)
    size = 24 + len(body) + 4
    header = struct.pack("<4sIQQ", b"\x2a\x2a\x00\x00", size, event.record, filetime(event.time_written))
    new = (shape, defined_at) if known is None else None
    return header + body + struct.pack("<I", size), new


def _event_data(
    t: _Template, values: list[tuple[int, bytes]], event: Event, typed: tuple[tuple[int, bytes], ...]
) -> None:
    """``<EventData>`` with the event's strings, typed values and binary data as substitutions."""
    t.open("EventData")  # always present: libevtx cannot count the strings of a record without it
    for text in event.strings:
        t.element("Data", t.sub(len(values), T_WSTRING))
        values.append((T_WSTRING, _utf16(text)))
    for vtype, raw in typed:
        t.element("Data", t.sub(len(values), vtype, optional=True))
        values.append((vtype, raw))
    if event.data:
        t.element("Binary", t.sub(len(values), T_BINARY))
        values.append((T_BINARY, bytes(event.data)))
    t.close()


class _NestedEventData:
    """A BinXML substitution value holding ``<EventData>`` as its own template instance.  Its bytes depend
    on where the value lands in the chunk (the definition offset is chunk-relative), so it is rendered
    once that is known; its size does not depend on it."""

    def __init__(
        self,
        event: Event,
        typed: tuple[tuple[int, bytes], ...],
        shape: tuple[int, bool, bool],
        templates: dict[tuple[int, bool, bool], int],
        inner: list[tuple[tuple[int, bool, bool], int]] | None,
    ) -> None:
        self.t = _Template()
        self.values: list[tuple[int, bytes]] = []
        _event_data(self.t, self.values, event, typed)
        self.shape = (-1 - shape[0], shape[1], shape[2])  # its own key among the chunk's templates
        self.known = templates.get(self.shape)
        self.inner = inner
        self.size = len(self.render(0, keep=False))

    def render(self, base: int, keep: bool = True) -> bytes:
        body, defined_at = _instance_at(self.t, self.values, zlib.crc32(repr(self.shape).encode()), base, self.known)
        if keep and self.known is None and self.inner is not None:
            self.inner.append((self.shape, defined_at))
        return body

    def __len__(self) -> int:
        return self.size


def _utf16(text: str) -> bytes:
    data = text.encode("utf-16-le", errors="surrogatepass")
    if len(data) > 0xFFFF:
        raise ValueError(f"string of {len(text)} characters is too long for one substitution value")
    return data


def _sid(text: str) -> bytes:
    """S-R-I-S1-S2... -> binary SID (revision, count, 48-bit big-endian authority, LE sub-authorities)."""
    parts = text.split("-")
    if len(parts) < 3 or parts[0].upper() != "S":
        raise ValueError(f"not a SID: {text!r}")
    subs = [int(p) for p in parts[3:]]
    return (
        struct.pack("<BB", int(parts[1]), len(subs))
        + int(parts[2]).to_bytes(6, "big")
        + struct.pack(f"<{len(subs)}I", *subs)
    )


def _name(name: str) -> bytes:
    """Inline name: next-string offset, hash, character count, UTF-16 text, NUL."""
    h = 0
    for ch in name:
        h = (h * 65599 + ord(ch)) & 0xFFFFFFFF
    return struct.pack("<IHH", 0, h & 0xFFFF, len(name)) + name.encode("utf-16-le") + b"\x00\x00"


class _Template:
    """Builds one template definition as a list of parts, rendered once the record's chunk offset is
    known: BinXML name offsets are chunk-relative, and an inline name is recognised by its offset
    pointing just past the offset field."""

    def __init__(self) -> None:
        # Parts: bytes, or ("name", text) placeholders resolved at render time.
        self.parts: list[object] = []

    # value fragments (lists of parts)
    @staticmethod
    def text(value: str) -> list[object]:
        data = value.encode("utf-16-le")
        return [bytes([_VALUE, T_WSTRING]) + struct.pack("<H", len(value)) + data]

    @staticmethod
    def sub(index: int, vtype: int, optional: bool = False) -> list[object]:
        return [struct.pack("<BHB", _OPT_SUB if optional else _SUB, index, vtype)]

    def _start(self, name: str, attrs: list[tuple[str, list[object]]]) -> None:
        token = _OPEN_ATTRS if attrs else _OPEN
        self.parts.append(("start", token, name, attrs))

    def open(self, name: str, attrs: list[tuple[str, list[object]]] | None = None) -> None:
        self._start(name, attrs or [])
        self.parts.append(bytes([_CLOSE_START]))

    def close(self) -> None:
        self.parts.append(("end",))

    def element(self, name: str, content: list[object], attrs: list[tuple[str, list[object]]] | None = None) -> None:
        self.open(name, attrs)
        self.parts.extend(content)
        self.close()

    def empty(self, name: str, attrs: list[tuple[str, list[object]]]) -> None:
        self._start(name, attrs)
        self.parts.append(bytes([_CLOSE_EMPTY]))
        self.parts.append(("end_empty",))

    def _render(self, base: int) -> bytes:
        """Serialise with chunk offset ``base`` of the first byte; fills element sizes and name offsets."""
        out = bytearray()
        open_at: list[int] = []
        for part in self.parts:
            if isinstance(part, bytes):
                out += part
                continue
            kind = part[0]  # type: ignore[index]
            if kind == "start":
                _, token, name, attrs = part  # type: ignore[misc]
                open_at.append(len(out))
                out += struct.pack("<BHI", token, 0xFFFF, 0)
                out += struct.pack("<I", base + len(out) + 4) + _name(name)
                if attrs:
                    size_at = len(out)
                    out += b"\x00\x00\x00\x00"
                    for i, (attr, value) in enumerate(attrs):
                        out.append(_ATTR_MORE if i < len(attrs) - 1 else _ATTR)
                        out += struct.pack("<I", base + len(out) + 4) + _name(attr)
                        for piece in value:
                            out += piece  # type: ignore[operator]
                    struct.pack_into("<I", out, size_at, len(out) - size_at - 4)
            else:  # "end" (needs an end token) or "end_empty" (closed by the close-empty token)
                if kind == "end":
                    out.append(_END)
                start = open_at.pop()
                struct.pack_into("<I", out, start + 3, len(out) - start - 7)
        return bytes(out)


def _instance_at(
    t: _Template, values: list[tuple[int, bytes]], template_id: int, base: int, known: int | None
) -> tuple[bytes, int]:
    """BinXML of one record whose first BinXML byte sits at chunk offset ``base``.

    With ``known`` (offset of an identical template earlier in the chunk) only the reference is
    written; otherwise the definition follows inline.  Returns the bytes and the definition offset.
    """
    out = bytearray(_FRAGMENT)
    out += struct.pack("<BBI", _TEMPLATE, 0x01, template_id)
    if known is not None:
        definition_at = known
        out += struct.pack("<I", definition_at)
    else:
        definition_at = base + len(out) + 4
        out += struct.pack("<I", definition_at)
        body = _FRAGMENT + t._render(definition_at + 24 + len(_FRAGMENT)) + bytes([_EOS])
        guid = struct.pack("<IIII", template_id, 0x5A5A5A5A, 0xA5A5A5A5, len(body))
        out += struct.pack("<I", 0) + guid + struct.pack("<I", len(body)) + body
    out += struct.pack("<I", len(values))
    for vtype, raw in values:
        out += struct.pack("<HBB", len(raw), vtype, 0)
    for _, raw in values:
        out += raw.render(base + len(out)) if isinstance(raw, _NestedEventData) else raw
    out.append(_EOS)
    return bytes(out), definition_at
