"""The project's .evtx writer: its files must be read alike by libevtx, the Rust parser, python-evtx and
our reader (both backends), and random events must survive write -> read unchanged."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model import Event, EventType
from analyzer.readers import evtx as reader
from tests.writers.evtx_writer import CHUNK_SIZE, FILE_HEADER_SIZE, write_evtx

BASE = datetime(2001, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
DN = "/o=Org/ou=Site/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft Private MDB"


def make_events(count: int, start: int = 1) -> list[Event]:
    """Varied legacy-style events: every type, with and without SID, strings, binary data, message."""
    events = []
    for i in range(start, start + count):
        when = BASE + timedelta(seconds=37 * i, microseconds=i)
        events.append(
            Event(
                path="",
                record=i,
                offset=None,
                time_generated=when,
                time_written=when,
                event_id=(1023, 4018, 9176)[i % 3],
                event_id_full=(0xC00003FF, 0xC0000FB2, 0x80000000 | 9176)[i % 3],
                type=list(EventType)[i % 5],
                category=i % 11,
                source=("MSExchangeIS Private", "MSExchangeIMC", "MSExchangeSA")[i % 3],
                computer=f"EXCH{i % 4:02d}",
                sid="S-1-5-21-1004336348-1177238915-682003330-500" if i % 2 else None,
                strings=tuple(f"{DN} #{i}.{k}" if k == 0 else f"value {k} ü€" for k in range(i % 5)),
                data=bytes((i * k) & 0xFF for k in range(i % 4)),
                message="The logon was refused." if i % 7 == 0 else None,
                log="Application",
            )
        )
    return events


def comparable(event: Event) -> Event:
    """What the writer keeps of an event: everything except where it was read from."""
    return replace(event, path="", offset=None)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Event]]:
    events = make_events(60)
    path = tmp_path_factory.mktemp("evtx") / "written.evtx"
    write_evtx(path, events, records_per_chunk=25)
    return path, events


def header_id(path: Path, offset: int) -> int:
    with open(path, "rb") as fh:
        fh.seek(offset + 8)
        return struct.unpack("<Q", fh.read(8))[0]


def test_file_layout(written: tuple[Path, list[Event]]) -> None:
    path, _ = written
    data = path.read_bytes()
    assert data[:8] == b"ElfFile\x00"
    assert len(data) == FILE_HEADER_SIZE + 3 * CHUNK_SIZE  # 60 records, 25 per chunk
    assert struct.unpack_from("<H", data, 42)[0] == 3
    assert all(data[FILE_HEADER_SIZE + i * CHUNK_SIZE :][:8] == b"ElfChnk\x00" for i in range(3))


def test_libevtx_reads_writer_output(written: tuple[Path, list[Event]]) -> None:
    pyevtx = pytest.importorskip("pyevtx")
    path, events = written
    log = pyevtx.file()
    log.open(str(path))
    try:
        assert log.number_of_records == len(events)
        assert log.number_of_recovered_records == 0
        for i, event in enumerate(events):
            rec = log.get_record(i)
            assert rec.identifier == event.record
            assert rec.event_identifier == event.event_id
            assert (rec.event_identifier_qualifiers or 0) == event.event_id_full >> 16
            assert rec.source_name == event.source
            assert rec.computer_name == event.computer
            assert rec.user_security_identifier == event.sid
            assert rec.creation_time == event.time_generated.replace(tzinfo=None)
            strings = [rec.get_string(k) or "" for k in range(rec.number_of_strings)]
            # libevtx lists the <Binary> item as one more (hex) string.
            expected = list(event.strings) + ([event.data.hex().upper()] if event.data else [])
            assert strings == expected
    finally:
        log.close()


def test_rust_evtx_reads_writer_output(written: tuple[Path, list[Event]]) -> None:
    evtx = pytest.importorskip("evtx")
    path, events = written
    records = list(evtx.PyEvtxParser(str(path)).records_json())
    assert [r["event_record_id"] for r in records] == [e.record for e in events]
    for rec, event in zip(records, events, strict=True):
        system = json.loads(rec["data"])["Event"]["System"]
        assert system["EventID"]["#text"] == event.event_id
        assert system["EventID"]["#attributes"]["Qualifiers"] == event.event_id_full >> 16
        assert system["Provider"]["#attributes"]["Name"] == event.source
        assert system["Task"] == event.category
        assert system["TimeCreated"]["#attributes"]["SystemTime"] == event.time_generated.strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
        assert (system["Security"] or {}).get("#attributes", {}).get("UserID") == event.sid


def test_python_evtx_reads_writer_output(written: tuple[Path, list[Event]]) -> None:
    evtx_module = pytest.importorskip("Evtx.Evtx")
    path, events = written
    with evtx_module.Evtx(str(path)) as log:
        records = list(log.records())
        assert [r.record_num() for r in records] == [e.record for e in events]
        xml = records[1].xml()  # record 2: no SID, two strings, binary data
    assert '<EventID Qualifiers="32768">9176</EventID>' in xml
    assert '<Provider Name="MSExchangeSA"></Provider>' in xml
    assert f"<Data>{DN} #2.0</Data>" in xml
    assert "<Binary>AAI=</Binary>" in xml  # python-evtx shows binary as base64: bytes 00 02
    assert 'UserID="S-' not in xml  # optional substitution left empty


@pytest.mark.parametrize("backend", reader.BACKENDS)
def test_reader_round_trip(written: tuple[Path, list[Event]], backend: str) -> None:
    path, events = written
    warnings: list[object] = []
    got = list(reader.read(str(path), backend=backend, warn=warnings.append))
    assert warnings == []
    assert [comparable(e) for e in got] == events
    assert all(e.path == str(path) for e in got)
    # offsets point at the record headers
    assert [header_id(path, e.offset) for e in got] == [e.record for e in events]


def test_templates_are_shared_within_a_chunk(tmp_path: Path) -> None:
    """Records of one shape reuse one template: small records, many per chunk, all parsers agree."""
    events = [replace(e, strings=("a", "b"), data=b"", message=None) for e in make_events(200)]
    path = tmp_path / "shared.evtx"
    write_evtx(path, events)
    assert path.stat().st_size == FILE_HEADER_SIZE + CHUNK_SIZE  # 200 records fit one chunk
    assert [comparable(e) for e in reader.read(str(path), backend="rust")] == events
    pyevtx = pytest.importorskip("pyevtx")
    log = pyevtx.file()
    log.open(str(path))
    assert log.number_of_records == 200
    assert log.get_record(199).get_string(1) == "b"
    log.close()
    python_events = list(reader.read(str(path), backend="python"))
    assert [comparable(e) for e in python_events[-3:]] == events[-3:]


def test_writer_rejects_unknown_options(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        write_evtx(tmp_path / "x.evtx", make_events(1), no_such_option=True)


def test_typed_values_render_alike_in_both_backends(tmp_path: Path) -> None:
    """Substitution types beyond strings: both backends give the Rust parser's text for each."""
    typed = [
        (0x10, struct.pack("<Q", 0x1234)),  # SizeT
        (0x0F, bytes(range(16))),  # GUID
        (0x0B, struct.pack("<f", 0.1)),  # Real32
        (0x0C, struct.pack("<d", 2.5)),  # Real64
        (0x0D, struct.pack("<I", 1)),  # Bool
        (0x0D, struct.pack("<I", 16)),  # Bool with an irregular value
        (0x12, struct.pack("<8H", 2020, 3, 2, 4, 5, 6, 7, 890)),  # SYSTEMTIME
        (0x14, struct.pack("<I", 0x3E7)),  # HexInt32
        (0x03, struct.pack("<b", -5)),  # Int8
        (0x02, b"ansi\xe9"),  # AnsiString (python-evtx alone would fail on the 0xE9)
        (0x00, b""),  # Null
        (0x11, struct.pack("<Q", 0)),  # FILETIME zero
        (0x81, "a\0\0b\0".encode("utf-16-le")),  # string array: one item each
    ]
    path = tmp_path / "typed.evtx"
    event = replace(make_events(1)[0], strings=("plain",), data=b"")
    write_evtx(path, [event], typed_data=typed)
    expected = (
        "plain",
        "0x1234",
        "03020100-0504-0706-0809-0A0B0C0D0E0F",
        "0.1",
        "2.5",
        "true",
        "16",
        "2020-03-04T05:06:07.890000Z",
        "0x3e7",
        "-5",
        "ansié",
        "",
        "1601-01-01T00:00:00.000000Z",
        "a",
        "",
        "b",
    )
    for backend in reader.BACKENDS:
        (got,) = reader.read(str(path), backend=backend)
        assert got.strings == expected, backend


# --------------------------------------------------------------------------- round trips

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
_sid = st.one_of(
    st.none(),
    st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=5).map(lambda subs: "-".join(["S-1-5", *map(str, subs)])),
)
_time = st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@st.composite
def _events(draw: st.DrawFn, max_events: int = 40) -> list[Event]:
    count = draw(st.integers(1, max_events))
    first = draw(st.integers(1, 2**40))
    out = []
    for i in range(count):
        event_id = draw(st.integers(0, 0xFFFF))
        when = draw(_time)
        out.append(
            Event(
                path="",
                record=first + i,
                offset=None,
                time_generated=when,
                time_written=when,
                event_id=event_id,
                event_id_full=(draw(st.integers(0, 0xFFFF)) << 16) | event_id,
                type=draw(st.sampled_from(list(EventType))),
                category=draw(st.integers(0, 0xFFFF)),
                source=draw(_text),
                computer=draw(_text),
                sid=draw(_sid),
                strings=tuple(draw(st.lists(_text, max_size=6))),
                data=draw(st.binary(max_size=20)),
                message=draw(st.one_of(st.none(), _text.filter(bool))),
                log=draw(st.one_of(st.none(), st.sampled_from(["Application", "System", "Security"]))),
            )
        )
    return out


def _expected(events: list[Event]) -> list[Event]:
    """The writer's defaults: a missing channel is "Application"."""
    return [replace(e, log=e.log or "Application") for e in events]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events(), per_chunk=st.sampled_from([0, 1, 3, 17]))
def test_round_trip_rust_backend(tmp_path: Path, events: list[Event], per_chunk: int) -> None:
    path = tmp_path / "rt.evtx"
    write_evtx(path, events, records_per_chunk=per_chunk)
    warnings: list[object] = []
    got = list(reader.read(str(path), backend="rust", warn=warnings.append))
    assert warnings == []
    assert [comparable(e) for e in got] == _expected(events)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events(max_events=4), per_chunk=st.sampled_from([0, 1]))
def test_round_trip_python_backend(tmp_path: Path, events: list[Event], per_chunk: int) -> None:
    path = tmp_path / "rt.evtx"
    write_evtx(path, events, records_per_chunk=per_chunk)
    got = list(reader.read(str(path), backend="python"))
    assert [comparable(e) for e in got] == _expected(events)
    assert got == list(reader.read(str(path), backend="rust"))


def test_python_backend_keeps_a_leading_byte_order_mark(tmp_path: Path) -> None:
    """python-evtx's own string decoding eats a leading U+FEFF; the reader decodes the UTF-16LE bytes itself."""
    when = datetime(2002, 6, 12, 9, 14, 3, tzinfo=UTC)
    strings = ("\ufeff", "\ufeffCONTOSO\\exsvc", "a\ufeff", "")
    event = Event(
        path="", record=1, offset=None, time_generated=when, time_written=when, event_id=1023,
        event_id_full=1023, type=EventType.FAILURE_AUDIT, category=0, source="MSExchangeIS Private",
        computer="EXCH01", sid=None, strings=strings, data=b"", message=None, log="Application",
    )  # fmt: skip
    path = tmp_path / "bom.evtx"
    write_evtx(path, [event])
    assert [e.strings for e in reader.read(str(path), backend="python")] == [strings]
    assert [e.strings for e in reader.read(str(path), backend="rust")] == [strings]
