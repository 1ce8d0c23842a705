"""Every real .evt in ../shared/corpus/evt against libevt (pyevt): counts and every field.

libevt lists slack records without de-duplicating them against live ones (plaso__SysEvent.Evt:
438 "recovered" records, 181 of which carry the numbers of live records and one of which is cut
short); we yield a recovered record only when its number is new, so the expected recovered set is
libevt's numbers minus the live numbers, restricted to records whose data libevt can read.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from analyzer.model import Event, ReadWarning
from analyzer.readers import evt
from tests.conftest import corpus_file, corpus_files
from tests.writers.evt_writer import TYPE_CODES

pyevt = pytest.importorskip("pyevt")

EVT_FILES = corpus_files("evt")


def libevt_fields(record: object) -> tuple[object, ...]:
    """The fields libevt exposes, in the order of ``our_fields``; None when libevt cannot read them."""
    r = record
    try:
        data = r.data or b""  # type: ignore[attr-defined]
    except OSError:
        data = b""
    try:
        sid = r.user_security_identifier  # type: ignore[attr-defined]
    except OSError:
        sid = None
    return (
        r.identifier,  # type: ignore[attr-defined]
        r.offset,  # type: ignore[attr-defined]
        r.creation_time.replace(tzinfo=UTC),  # type: ignore[attr-defined]
        r.written_time.replace(tzinfo=UTC),  # type: ignore[attr-defined]
        r.event_identifier,  # type: ignore[attr-defined]
        r.event_type,  # type: ignore[attr-defined]
        r.event_category,  # type: ignore[attr-defined]
        r.source_name,  # type: ignore[attr-defined]
        r.computer_name,  # type: ignore[attr-defined]
        sid,
        tuple(r.strings),  # type: ignore[attr-defined]
        data,
    )


def our_fields(e: Event) -> tuple[object, ...]:
    return (
        e.record, e.offset, e.time_generated, e.time_written, e.event_id_full, TYPE_CODES[e.type], e.category,
        e.source, e.computer, e.sid, e.strings, e.data,
    )  # fmt: skip


@pytest.mark.parametrize("path", EVT_FILES, ids=[p.name for p in EVT_FILES])
def test_corpus_file_matches_libevt(path: Path) -> None:
    warnings: list[ReadWarning] = []
    events = list(evt.read(str(path), warn=warnings.append))
    live = [e for e in events if not e.recovered]
    recovered = [e for e in events if e.recovered]
    f = pyevt.file()
    f.open(str(path))
    try:
        assert len(live) == f.number_of_records
        # Every live record, every field (libevt gives naive UTC times and the type code).
        for i, e in enumerate(live):
            assert our_fields(e) == libevt_fields(f.get_record(i)), f"record {e.record} at 0x{e.offset:x}"
            assert e.event_id == e.event_id_full & 0xFFFF and e.path == str(path)
        theirs: dict[int, tuple[object, ...] | None] = {}
        for i in range(f.number_of_recovered_records):
            r = f.get_recovered_record(i)
            try:
                theirs.setdefault(r.identifier, libevt_fields(r))
            except OSError:
                theirs.setdefault(r.identifier, None)  # libevt lists it but cannot read it
    finally:
        f.close()
    live_numbers = {e.record for e in live}
    expected = {n for n, fields in theirs.items() if n not in live_numbers and fields is not None}
    assert {e.record for e in recovered} == expected
    for e in recovered:
        assert our_fields(e) == theirs[e.record]
    assert warnings == []  # the corpus logs are dirty or wrapped, not damaged


def test_plaso_syslog_is_wrapped_dirty_and_has_slack() -> None:
    """The one real wrapped log: live range 1392..7454 across the file end, 257 new slack records."""
    path = corpus_file("evt", "plaso__SysEvent.Evt")
    header = evt.parse_header(path.read_bytes()[:0x30])
    assert header is not None and header.dirty and header.start_offset > header.end_offset
    events = list(evt.read(str(path)))
    live = [e.record for e in events if not e.recovered]
    assert live == list(range(1392, 7455))
    split = next(e for e in events if e.record == 1572 and not e.recovered)
    assert split.offset == 0x1EFF10  # the record that straddles the file end
    assert sorted(e.record for e in events if e.recovered) == list(range(1135, 1392))


def test_dissect_dirty_log_equals_its_clean_twin() -> None:
    """TestLog-dirty.evt: dirty flag, header offsets still those of an empty log, a floating end
    record; it holds the same 5 records as the cleanly closed TestLog.evt."""
    dirty = corpus_file("evt", "dissect__TestLog-dirty.evt")
    clean = corpus_file("evt", "dissect__TestLog.evt")
    header = evt.parse_header(dirty.read_bytes()[:0x30])
    assert header is not None and header.dirty and header.start_offset == header.end_offset == 0x30
    warnings: list[ReadWarning] = []
    got = list(evt.read(str(dirty), warn=warnings.append))
    want = list(evt.read(str(clean)))
    assert warnings == [] and len(got) == 5
    assert [our_fields(e) for e in got] == [our_fields(e) for e in want]
    assert [e.type.value for e in got] == ["information", "error", "warning", "failure_audit", "success_audit"]
    assert got[3].event_id == 0xFFFE and got[3].data == "Test Binary Data".encode("utf-16-le")


def test_goevt_application_log() -> None:
    path = corpus_file("evt", "goevt__AppEvent.Evt")
    events = list(evt.read(str(path)))
    assert [e.record for e in events] == list(range(1, 122))
    assert {e.computer for e in events} == {"CHENBIN-17299A5"}
    assert {"ESENT", "LoadPerf", "MSDTC"} <= {e.source for e in events}


def test_damaged_copy_of_a_real_log(tmp_path: Path) -> None:
    """4 KiB of zeros inside the live range of the real wrapped log: one warning at the start of the
    damage, the 20 records that overlapped it lost, every other record (live and recovered) intact."""
    src = corpus_file("evt", "plaso__SysEvent.Evt")
    clean = list(evt.read(str(src)))
    raw = bytearray(src.read_bytes())
    raw[0x100000 : 0x100000 + 4096] = bytes(4096)
    damaged = tmp_path / "SysEvent-zeroed.Evt"
    damaged.write_bytes(raw)
    warnings: list[ReadWarning] = []
    got = list(evt.read(str(damaged), warn=warnings.append))
    first_lost = max(e.offset for e in clean if not e.recovered and e.offset is not None and e.offset <= 0x100000)
    assert [(w.offset, w.message) for w in warnings] == [(first_lost, "damaged region, 4428 bytes skipped")]
    lost = {(e.record, e.recovered) for e in clean} - {(e.record, e.recovered) for e in got}
    assert lost == {(n, False) for n in range(4121, 4141)}
    by_key = {(e.record, e.recovered): e for e in clean}
    assert all(our_fields(e) == our_fields(by_key[(e.record, e.recovered)]) for e in got)


def test_truncated_copy_of_a_real_log(tmp_path: Path) -> None:
    """The real log cut at 1.5 MB: its end-of-file record and the head of the record split at the old
    file end are gone; every whole record before the cut is read, with warnings naming the offsets."""
    src = corpus_file("evt", "plaso__SysEvent.Evt")
    cut = tmp_path / "SysEvent-cut.Evt"
    cut.write_bytes(src.read_bytes()[:0x180000])
    warnings: list[ReadWarning] = []
    got = list(evt.read(str(cut), warn=warnings.append))
    assert [e.record for e in got] == list(range(1573, 1573 + 4831))
    assert not any(e.recovered for e in got)
    assert [w.offset for w in warnings[:2]] == [0x1B81F0, 0x30]  # header end offset; the split record's tail
    assert "truncated" in warnings[0].message
    last = got[-1].offset
    assert len(warnings) == 3 and last is not None and last < warnings[2].offset < 0x180000  # the cut record
