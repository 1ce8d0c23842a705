"""The .evtx reader on real corpus files (against libevtx), on damaged and bad input, with filters, and
the equivalence of its two backends."""

from __future__ import annotations

import itertools
import random
import shutil
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analyzer.model import Event, EventFilter, EventType, InputError, ReadWarning
from analyzer.readers import evtx as reader
from analyzer.sniff import sniff
from tests.conftest import corpus_file, corpus_files
from tests.test_evtx_writer import comparable, make_events
from tests.writers.evtx_writer import CHUNK_SIZE, FILE_HEADER_SIZE, write_evtx

CORPUS_EVTX = corpus_files("evtx", "*.evtx")
PYTHON_SAMPLE = 60  # python-evtx needs ~5 ms per record: compare a prefix of the big files


def read_all(path: Path | str, backend: str = "rust", **kwargs: object) -> tuple[list[Event], list[ReadWarning]]:
    warnings: list[ReadWarning] = []
    events = list(reader.read(str(path), backend=backend, warn=warnings.append, **kwargs))  # type: ignore[arg-type]
    return events, warnings


def header_id(data: bytes, offset: int) -> int:
    return struct.unpack_from("<Q", data, offset + 8)[0]


# --------------------------------------------------------------------------- corpus vs libevtx


@pytest.mark.parametrize("path", CORPUS_EVTX, ids=lambda p: p.name)
def test_corpus_matches_libevtx(path: Path) -> None:
    """Every corpus file: our records include every record libevtx reads, with the same fields.

    Matched by the record header's identifier (exported logs renumber it; EventRecordID is kept in
    ``Event.record``).  libevtx's recovered records (from slack space) are not ours to find.
    """
    pyevtx = pytest.importorskip("pyevtx")
    data = path.read_bytes()
    events, warnings = read_all(path)
    ours = {header_id(data, e.offset): e for e in events if e.offset is not None}
    assert len(ours) == len(events)
    log = pyevtx.file()
    log.open(str(path))
    try:
        lib_ids = [log.get_record(i).identifier for i in range(log.number_of_records)]
        assert set(lib_ids) <= set(ours), f"libevtx found records we did not: {sorted(set(lib_ids) - set(ours))[:5]}"
        extra = len(ours) - len(lib_ids)
        if extra:  # only the damaged file, where libevtx gives up on a record with a zeroed tail
            assert path.name == "rsevtx__sample_with_a_bad_chunk_magic.evtx", (extra, warnings)
        step = max(1, len(lib_ids) // 40)
        for i in range(0, len(lib_ids), step):
            rec = log.get_record(i)
            event = ours[rec.identifier]
            try:
                lib_event_id = rec.event_identifier
            except OSError:  # libevtx cannot read some forwarded (WEC) records' EventID
                continue
            assert event.event_id == lib_event_id
            assert event.event_id_full >> 16 == (rec.event_identifier_qualifiers or 0)
            assert event.time_generated is not None
            assert event.time_generated.replace(tzinfo=None) == rec.creation_time
            assert event.computer == rec.computer_name
            assert event.sid == rec.user_security_identifier
            if "EventSourceName" not in rec.xml_string:  # libevtx prefers EventSourceName; we keep Provider Name
                assert event.source == rec.source_name
    finally:
        log.close()


# Counts from libevtx (SOURCES.md) and what we read; the bad-chunk file gives us 3 more than libevtx's 267.
EXPECTED_COUNTS = {
    "pyevtx__system.evtx": 1601,
    "pyevtx__security.evtx": 2261,
    "pyevtx__dns_log_malformed.evtx": 5,
    "rsevtx__2-vss_7-System.evtx": 1160,
    "rsevtx__Application_no_crc32.evtx": 17,
    "rsevtx__MSExchange_Management_wec.evtx": 1,
    "rsevtx__sample-with-irregular-bool-values.evtx": 3028,
    # 267 live records in libevtx plus 3 it cannot decode, plus 31 behind damaged records (resync).
    "rsevtx__sample_with_a_bad_chunk_magic.evtx": 301,
    "rsevtx__security_bad_string_cache.evtx": 2261,
    "attack__rogue_msi_url_1040_1042.evtx": 351,
    "attack__DE_1102_security_log_cleared.evtx": 112,
    "dissect__TestLogX.evtx": 5,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_corpus_record_counts(name: str) -> None:
    events, _ = read_all(corpus_file("evtx", name))
    assert len(events) == EXPECTED_COUNTS[name]
    assert all(e.time_generated is not None and e.time_generated.tzinfo is UTC for e in events)
    assert all(e.time_written == e.time_generated for e in events)


def test_security_log_fields() -> None:
    events, warnings = read_all(corpus_file("evtx", "pyevtx__security.evtx"))
    assert warnings == []
    first = events[0]
    assert (first.record, first.event_id, first.category, first.offset) == (1, 4608, 12288, FILE_HEADER_SIZE + 512)
    assert first.log == "Security" and first.computer == "37L4247F27-25"
    audits = [e for e in events if e.event_id == 4731]
    assert audits and all(e.type is EventType.SUCCESS_AUDIT for e in audits)
    e = next(e for e in audits if e.record == 6)
    assert e.strings[:3] == ("Replicator", "Builtin", "S-1-5-32-552")
    assert e.source == "Microsoft-Windows-Security-Auditing"
    assert e.time_generated == datetime(2016, 7, 8, 18, 12, 51, 775240, tzinfo=UTC)


def test_legacy_event_with_qualifiers_and_binary() -> None:
    """Converted legacy events: Qualifiers form the high word, <Binary> becomes data."""
    events, _ = read_all(corpus_file("evtx", "pyevtx__system.evtx"))
    e = next(e for e in events if e.record == 12091)
    assert (e.event_id, e.event_id_full) == (6013, (32768 << 16) | 6013)
    assert e.source == "EventLog"
    assert e.strings == ("", "", "", "", "1039089", "60", "300 Eastern Standard Time")
    assert e.data.startswith("1.1".encode("utf-16-le"))
    assert e.type is EventType.INFORMATION


def test_userdata_is_flattened() -> None:
    events, _ = read_all(corpus_file("evtx", "pyevtx__system.evtx"))
    first = events[0]
    assert first.record == 12049
    assert first.strings == (
        "System",
        "C:\\Windows\\System32\\Winevt\\Logs\\Archive-System-2012-03-14-04-17-39-932.evtx",
    )


# --------------------------------------------------------------------------- backend equivalence


@pytest.mark.parametrize("path", CORPUS_EVTX, ids=lambda p: p.name)
def test_backends_agree_on_corpus(path: Path) -> None:
    """The python backend yields the very same events (a prefix of the big files); whatever it cannot
    parse is a warning naming the record's offset, never a silent loss."""
    py_warnings: list[ReadWarning] = []
    python = list(itertools.islice(reader.read(str(path), backend="python", warn=py_warnings.append), PYTHON_SAMPLE))
    rust = list(itertools.islice(reader.read(str(path), backend="rust"), PYTHON_SAMPLE + len(py_warnings)))
    by_offset = {e.offset: e for e in python}
    last = python[-1].offset if len(python) == PYTHON_SAMPLE else None  # None: python read the whole file
    warned = {w.offset for w in py_warnings}
    for event in rust:
        if last is not None and event.offset is not None and event.offset > last:
            break
        if event.offset in by_offset:
            assert by_offset[event.offset] == event
        else:
            assert event.offset in warned, f"python backend lost record {event.record} silently"


def test_backends_agree_on_damaged_file() -> None:
    path = corpus_file("evtx", "rsevtx__sample_with_a_bad_chunk_magic.evtx")
    rust, rust_warnings = read_all(path)
    python, python_warnings = read_all(path, "python")
    assert python == rust
    switched = [w for w in rust_warnings if "read with python-evtx" in w.message]
    assert switched  # chunks with damaged records go through python-evtx, and the rust backend says so
    assert [str(w) for w in python_warnings] == [str(w) for w in rust_warnings if w not in switched]


def test_python_backend_survives_malformed_strings() -> None:
    """python-evtx alone fails on 4 of the 5 records (ANSI strings decoded as ASCII); we read all 5."""
    path = corpus_file("evtx", "pyevtx__dns_log_malformed.evtx")
    python, warnings = read_all(path, "python")
    assert (len(python), warnings) == (5, [])
    assert python == read_all(path)[0]


def test_python_backend_warns_per_record() -> None:
    """A record python-evtx cannot parse (a BXml substitution it mishandles) is a warning with its offset."""
    path = corpus_file("evtx", "rsevtx__MSExchange_Management_wec.evtx")
    events, warnings = read_all(path, "python")
    rust, _ = read_all(path)
    assert len(rust) == 1 and rust[0].log == "MSExchange Management"
    if events:  # a fixed python-evtx reads it; then it must agree
        assert events == rust
    else:
        assert len(warnings) == 1 and "record 1" in warnings[0].message and warnings[0].offset == rust[0].offset


# --------------------------------------------------------------------------- damage


def test_corpus_bad_chunk_magic() -> None:
    events, warnings = read_all(corpus_file("evtx", "rsevtx__sample_with_a_bad_chunk_magic.evtx"))
    assert len(events) == 301
    texts = [w.message for w in warnings]
    assert any("bytes skipped" in t for t in texts)  # resynchronised past a damaged record
    assert any("chunk 6: bad chunk magic" in t for t in texts)
    bad = next(w for w in warnings if "chunk 6:" in w.message)
    assert bad.offset == FILE_HEADER_SIZE + 6 * CHUNK_SIZE


def test_corpus_crc_and_stale_header_warnings() -> None:
    _, warnings = read_all(corpus_file("evtx", "rsevtx__Application_no_crc32.evtx"))
    assert any("header CRC32 mismatch" in w.message for w in warnings)
    _, warnings = read_all(corpus_file("evtx", "rsevtx__2-vss_7-System.evtx"))
    assert [w.message for w in warnings] == ["file header says 4 chunks but 7 more follow (stale header)"]


@pytest.fixture
def three_chunks(tmp_path: Path) -> tuple[Path, list[Event]]:
    events = make_events(30)
    path = tmp_path / "three.evtx"
    write_evtx(path, events, records_per_chunk=10)
    return path, events


@pytest.mark.parametrize("backend", reader.BACKENDS)
def test_stale_chunk_count_and_dirty(tmp_path: Path, backend: str) -> None:
    events = make_events(30)
    path = tmp_path / "stale.evtx"
    write_evtx(path, events, records_per_chunk=10, stale_chunk_count=True, dirty=True)
    got, warnings = read_all(path, backend)
    assert [comparable(e) for e in got] == events
    assert [w.message for w in warnings] == ["file header says 1 chunks but 2 more follow (stale header)"]


def test_dirty_header_alone_is_not_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "dirty.evtx"
    write_evtx(path, make_events(5), dirty=True)
    assert read_all(path) == (read_all(path)[0], [])


@pytest.mark.parametrize("backend", reader.BACKENDS)
def test_bad_chunk_magic_skips_only_that_chunk(tmp_path: Path, backend: str) -> None:
    events = make_events(30)
    path = tmp_path / "badmagic.evtx"
    write_evtx(path, events, records_per_chunk=10, bad_chunk_magic=[1])
    got, warnings = read_all(path, backend)
    assert [e.record for e in got] == [e.record for e in events[:10] + events[20:]]
    assert len(warnings) == 1 and "chunk 1: bad chunk magic" in warnings[0].message
    assert warnings[0].offset == FILE_HEADER_SIZE + CHUNK_SIZE


@pytest.mark.parametrize("backend", reader.BACKENDS)
def test_crc_mismatch_warns_and_reads(tmp_path: Path, backend: str) -> None:
    events = make_events(20)
    path = tmp_path / "crc.evtx"
    write_evtx(path, events, records_per_chunk=10, bad_crc=[0])
    got, warnings = read_all(path, backend)
    assert [comparable(e) for e in got] == events
    assert sorted(w.message for w in warnings) == [
        "chunk 0: event records CRC32 mismatch",
        "chunk 0: header CRC32 mismatch",
    ]


@pytest.mark.parametrize("backend", reader.BACKENDS)
def test_truncated_file(tmp_path: Path, backend: str, three_chunks: tuple[Path, list[Event]]) -> None:
    source, events = three_chunks
    data = source.read_bytes()
    path = tmp_path / "cut.evtx"
    path.write_bytes(data[: FILE_HEADER_SIZE + CHUNK_SIZE + 3000])  # second chunk cut after a few records
    got, warnings = read_all(path, backend)
    assert [comparable(e) for e in got] == events[: len(got)]
    assert 10 < len(got) < 20
    assert any("chunk 1: truncated" in w.message for w in warnings)


@pytest.mark.parametrize("backend", reader.BACKENDS)
def test_damaged_record_is_a_warning_and_the_rest_is_read(
    tmp_path: Path, backend: str, three_chunks: tuple[Path, list[Event]]
) -> None:
    source, _ = three_chunks
    data = bytearray(source.read_bytes())
    # Record 13 (third in chunk 1): keep its header, garble its substitution values' descriptors.
    offsets = [e.offset for e in reader.read(str(source))]
    victim = offsets[12]
    assert victim is not None
    data[victim + 24 : victim + 24 + 64] = bytes([0xEE]) * 64
    path = tmp_path / "garbled.evtx"
    path.write_bytes(bytes(data))
    got, warnings = read_all(path, backend)
    assert 13 not in [e.record for e in got]
    assert [e.record for e in got if e.record != 13][-1] == 30  # reading went on
    assert len(got) >= 28
    named = [w for w in warnings if "chunk 1 record 13: not parsed" in w.message]
    assert len(named) == 1 and named[0].offset == victim


# --------------------------------------------------------------------------- bad input


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.evtx"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        reader.read(str(path))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"hello, this is not an event log\r\n" * 20, "not an evtx"),
        (bytes(range(256)) * 300, "not an evtx"),
        (b"ElfFile\x00" + bytes(100), "truncated evtx file"),
        (b"ElfFile\x00" + bytes(FILE_HEADER_SIZE - 8) + b"garbage!" * 9000, "no readable chunk"),
    ],
)
def test_not_evtx(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.evtx"
    path.write_bytes(content)
    for backend in reader.BACKENDS:
        with pytest.raises(InputError, match=reason) as info:
            reader.read(str(path), backend=backend)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_header_only_log_is_empty_and_says_it_was_cut(tmp_path: Path, three_chunks: tuple[Path, list[Event]]) -> None:
    source, _ = three_chunks
    path = tmp_path / "header_only.evtx"
    path.write_bytes(source.read_bytes()[:FILE_HEADER_SIZE])
    events, warnings = read_all(path)
    assert events == []
    assert [(w.message, w.offset) for w in warnings] == [
        (
            "file is truncated: the header says 3 chunks, the file holds 0 (4,096 bytes); "
            "the events of the missing chunks are lost",
            FILE_HEADER_SIZE,
        )
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        reader.read(str(tmp_path / "nope.evtx"))


def test_unknown_backend(three_chunks: tuple[Path, list[Event]]) -> None:
    with pytest.raises(ValueError, match="unknown evtx backend"):
        reader.read(str(three_chunks[0]), backend="java")


def test_default_backend_is_rust(three_chunks: tuple[Path, list[Event]]) -> None:
    assert reader.available_backends()[0] == "rust"
    assert list(reader.read(str(three_chunks[0]))) == read_all(three_chunks[0], "rust")[0]


def test_random_damage_never_raises(tmp_path: Path, three_chunks: tuple[Path, list[Event]]) -> None:
    """Flip bytes all over a file: only events, warnings or InputError, with either backend."""
    source, _ = three_chunks
    original = source.read_bytes()
    rng = random.Random(306308)
    path = tmp_path / "fuzz.evtx"
    for round_ in range(24):
        data = bytearray(original)
        for _ in range(rng.choice([1, 8, 64, 512])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if round_ % 6 == 5:
            data = data[: rng.randrange(len(data))]
        path.write_bytes(bytes(data))
        for backend in ("rust", "python") if round_ < 8 else ("rust",):
            try:
                events, _ = read_all(path, backend)
            except InputError:
                continue
            assert all(isinstance(e, Event) for e in events)


# --------------------------------------------------------------------------- filters, sniffing


@pytest.mark.parametrize("backend", reader.BACKENDS)
def test_filters_pushed_down(tmp_path: Path, backend: str) -> None:
    events = make_events(30)
    path = tmp_path / "filters.evtx"
    write_evtx(path, events)
    everything, _ = read_all(path, backend)
    since = events[10].time_generated
    assert since is not None
    for flt in (
        EventFilter.build(ids=[1023]),
        EventFilter.build(ids=[0xC0000FB2]),  # full legacy ID: low 16 bits compared
        EventFilter.build(types=["failure_audit", "error"]),
        EventFilter.build(sources=["msexchangeimc"]),
        EventFilter.build(since=since, until=since + timedelta(minutes=5)),
        EventFilter.build(ids=[1023], sources=["MSExchangeIS Private"], types=["Failure Audit"]),
    ):
        got, _ = read_all(path, backend, filters=flt)
        assert got == [e for e in everything if flt.matches(e)]
        assert got, flt


def test_evtx_named_evt_is_sniffed_as_evtx(tmp_path: Path, three_chunks: tuple[Path, list[Event]]) -> None:
    source, events = three_chunks
    renamed = tmp_path / "AppEvent.Evt"
    shutil.copyfile(source, renamed)
    assert sniff(str(renamed)) == "evtx"
    got, _ = read_all(renamed)
    assert [replace(e, path="", offset=None) for e in got] == events
    assert all(e.path == str(renamed) for e in got)


def test_input_file_is_not_modified(three_chunks: tuple[Path, list[Event]]) -> None:
    source, _ = three_chunks
    before = (source.read_bytes(), source.stat().st_mtime_ns)
    read_all(source)
    read_all(source, "python")
    assert (source.read_bytes(), source.stat().st_mtime_ns) == before


def test_times_are_aware_utc(three_chunks: tuple[Path, list[Event]]) -> None:
    got, _ = read_all(three_chunks[0])
    assert all(e.time_generated is not None and e.time_generated.utcoffset() == timedelta(0) for e in got)
    assert got[0].time_generated == datetime(2001, 5, 6, 7, 8, 46, 123457, tzinfo=UTC)


@pytest.mark.parametrize("backend", reader.BACKENDS)
def test_bare_chunks_and_damaged_file_header(
    tmp_path: Path, backend: str, three_chunks: tuple[Path, list[Event]]
) -> None:
    """A carved chunk run (no file header) and a file whose header magic is gone are still read."""
    source, events = three_chunks
    data = source.read_bytes()
    bare = tmp_path / "bare.bin"
    bare.write_bytes(data[FILE_HEADER_SIZE:])
    assert sniff(str(bare)) == "evtx"
    got, warnings = read_all(bare, backend)
    assert [replace(e, path="", offset=None) for e in got] == events
    assert got[0].offset == 512
    assert [w.message for w in warnings] == ["no file header: reading bare chunks"]
    broken = tmp_path / "broken_header.evtx"
    broken.write_bytes(b"\x00" * 8 + data[8:])
    got, warnings = read_all(broken, backend)
    assert [comparable(e) for e in got] == events
    assert "file header damaged" in warnings[0].message


def test_repeated_record_ids_are_not_lost_on_the_rust_backend(tmp_path: Path) -> None:
    """Regression: the Rust parser yields one record per EventRecordID, so a chunk whose records
    all carry the same ID came back as a single event without any warning."""
    events = [replace(e, record=0) for e in make_events(20)]
    path = tmp_path / "dup.evtx"
    write_evtx(path, events)
    warnings: list[ReadWarning] = []
    rust = list(reader.read(str(path), backend="rust", warn=warnings.append))
    python = list(reader.read(str(path), backend="python"))
    assert len(rust) == 20
    assert rust == python
    assert any("repeated record ID" in w.message for w in warnings)


def test_records_behind_a_damaged_record_are_read(tmp_path: Path) -> None:
    """A damaged record's size field used to end the chunk: every later record of it was lost,
    although libevtx still reads them.  The walk now resynchronises on the next record magic, and
    later records that use a template defined inside the damaged record still resolve it."""
    path = tmp_path / "damaged.evtx"
    write_evtx(path, make_events(40))
    data = bytearray(path.read_bytes())
    first = FILE_HEADER_SIZE + 512  # records start after the 512-byte chunk header
    size = struct.unpack_from("<I", data, first + 4)[0]
    struct.pack_into("<I", data, first + size + 4, 0x7FFFFFF0)  # the second record's size field
    path.write_bytes(bytes(data))
    for backend in ("rust", "python"):
        events, warnings = read_all(path, backend)
        assert [e.record for e in events] == [1, *range(3, 41)], backend
        assert any("bytes skipped" in w.message for w in warnings), backend
