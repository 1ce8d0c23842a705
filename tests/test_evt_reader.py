"""The legacy .evt reader on files made by tests/writers/evt_writer.py: layouts, damage, bad input.

Every scenario writes real bytes, reads them back with ``analyzer.readers.evt`` and, where libevt
(pyevt) is a fair referee, checks that it agrees.  Corpus files are covered in test_evt_corpus.py.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analyzer.model import Event, EventFilter, EventType, InputError, ReadWarning
from analyzer.readers import evt
from tests.conftest import REPO
from tests.writers.evt_writer import encode_record, sample_events, write_evt

pyevt = pytest.importorskip("pyevt")

T0 = datetime(2002, 6, 3, 8, 15, 0, tzinfo=UTC)


def ev(i: int = 0, **kw: object) -> Event:
    base = Event(
        "", 0, None, T0, T0, 1023, 1023, EventType.FAILURE_AUDIT, 2, "MSExchangeIS Private", "EXCH01",
        "S-1-5-21-1-2-3-1105", (f"ORG\\svc{i}", "/o=Org/ou=Site/cn=Configuration/cn=Servers/cn=X"), b"",
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def varied(n: int) -> list[Event]:
    """Events of varied sizes (strings, SID or not, data) so ring positions differ record by record."""
    out = []
    for i in range(n):
        out.append(
            ev(
                i,
                sid="S-1-5-18" if i % 3 == 0 else None,
                strings=tuple(f"s{i}-{j}" * (1 + i % 5) for j in range(i % 4)),
                data=bytes(range(i % 13)),
                event_id=i % 5000,
                event_id_full=(0xC0000000 if i % 2 else 0) | (i % 5000),
                type=list(EventType)[i % 5],
            )
        )
    return out


def read_all(path: Path, **kw: object) -> tuple[list[Event], list[ReadWarning]]:
    warnings: list[ReadWarning] = []
    events = list(evt.read(str(path), warn=warnings.append, **kw))  # type: ignore[arg-type]
    return events, warnings


def same_content(got: Event, want: Event) -> bool:
    """Fields the writer stores (times are whole seconds on disk)."""
    return (
        got.time_generated,
        got.time_written,
        got.event_id,
        got.event_id_full,
        got.type,
        got.category,
        got.source,
        got.computer,
        got.sid,
        got.strings,
        got.data,
    ) == (
        want.time_generated,
        want.time_written,
        want.event_id_full & 0xFFFF,
        want.event_id_full,
        want.type,
        want.category,
        want.source,
        want.computer,
        want.sid,
        want.strings,
        want.data,
    )


def pyevt_records(path: Path) -> tuple[list[tuple[int, int]], int]:
    """(record number, offset) of libevt's live records, and its recovered count."""
    f = pyevt.file()
    f.open(str(path))
    try:
        live = [(r.identifier, r.offset) for r in (f.get_record(i) for i in range(f.number_of_records))]
        return live, f.number_of_recovered_records
    finally:
        f.close()


# --------------------------------------------------------------------------- clean layouts


def test_plain_log_round_trip(tmp_path: Path) -> None:
    events = varied(40)
    layout = write_evt(tmp_path / "a.evt", events, first_record=100)
    got, warnings = read_all(layout.path)
    assert warnings == []
    assert [(e.record, e.offset) for e in got] == [(n, off) for n, (off, _) in layout.records.items()]
    assert [e.record for e in got] == list(range(100, 140))
    assert all(same_content(g, w) for g, w in zip(got, events, strict=True))
    assert all(e.path == str(layout.path) and not e.recovered and e.message is None for e in got)
    assert pyevt_records(layout.path) == ([(e.record, e.offset) for e in got], 0)


def test_event_id_keeps_the_full_32_bits(tmp_path: Path) -> None:
    layout = write_evt(tmp_path / "imc.evt", [ev(event_id=4018, event_id_full=0xC0000FB2, type=EventType.ERROR)])
    (got,), _ = read_all(layout.path)
    assert (got.event_id, got.event_id_full, got.type) == (4018, 0xC0000FB2, EventType.ERROR)


@pytest.mark.parametrize("max_size", range(2048, 2048 + 64 * 4, 4))
def test_wrapped_ring_every_split_position(tmp_path: Path, max_size: int) -> None:
    """64 file sizes put the file end at every position inside the records around it, including
    splits inside the fixed header and the signature; libevt agrees on every one."""
    events = varied(60)
    layout = write_evt(tmp_path / "w.evt", events, max_size=max_size, wrap=True)
    assert layout.wrapped and layout.overwritten
    got, warnings = read_all(layout.path, recover=False)
    assert warnings == []
    assert [(e.record, e.offset) for e in got] == [(n, off) for n, (off, _) in layout.records.items()]
    assert all(same_content(g, events[g.record - 1]) for g in got)
    assert pyevt_records(layout.path)[0] == [(e.record, e.offset) for e in got]


def test_record_split_at_file_end_is_read_whole(tmp_path: Path) -> None:
    events = varied(60)
    layout = write_evt(tmp_path / "w.evt", events, max_size=2100, wrap=True)
    assert layout.split_record is not None
    got, _ = read_all(layout.path)
    split = next(e for e in got if e.record == layout.split_record)
    off, length = layout.records[layout.split_record]
    assert off + length > layout.size  # really straddles the end
    assert same_content(split, events[split.record - 1])


def test_empty_log(tmp_path: Path) -> None:
    layout = write_evt(tmp_path / "e.evt", [])
    assert layout.size == 0x58
    assert read_all(layout.path) == ([], [])


# --------------------------------------------------------------------------- dirty header


def test_dirty_header_uses_the_floating_eof(tmp_path: Path) -> None:
    events = varied(30)
    layout = write_evt(tmp_path / "d.evt", events, dirty=True, stale_after=7, max_size=16384)
    raw = layout.path.read_bytes()
    assert struct.unpack_from("<I", raw, 0x24)[0] & 1  # dirty flag
    assert struct.unpack_from("<I", raw, 0x14)[0] != layout.end  # stale end offset
    got, warnings = read_all(layout.path)
    assert warnings == []
    assert [e.record for e in got] == list(range(1, 31))
    assert pyevt_records(layout.path)[0] == [(e.record, e.offset) for e in got]


def test_dirty_wrapped_log_is_walked_from_the_eof_record(tmp_path: Path) -> None:
    """libevt stops at the physical end when the header is dirty; the end-of-file record says the
    live range continues behind the header, and we follow it."""
    events = varied(200)
    layout = write_evt(tmp_path / "dw.evt", events, dirty=True, stale_after=150, max_size=4000, wrap=True)
    got, warnings = read_all(layout.path, recover=False)
    assert warnings == []
    assert [(e.record, e.offset) for e in got] == [(n, off) for n, (off, _) in layout.records.items()]
    theirs = pyevt_records(layout.path)[0]
    assert set(theirs) <= {(e.record, e.offset) for e in got}


# --------------------------------------------------------------------------- damage


def test_truncated_file_yields_intact_records_and_one_warning_per_problem(tmp_path: Path) -> None:
    full = write_evt(tmp_path / "full.evt", varied(50))
    off, length = full.records[21]
    layout = write_evt(tmp_path / "t.evt", varied(50), truncate=off + length // 2)
    got, warnings = read_all(layout.path)
    assert [e.record for e in got] == list(range(1, 21))
    assert len(warnings) == 2
    assert warnings[0].offset == full.end and "end-of-file record" in warnings[0].message
    assert warnings[1].offset == off
    assert len(pyevt_records(layout.path)[0]) == 20


@pytest.mark.parametrize("where", [0, 4, 5, 8, "tail"])
def test_bit_flip_in_one_record_skips_only_that_record(tmp_path: Path, where: int | str) -> None:
    layout = write_evt(tmp_path / "f.evt", varied(50))
    off, length = layout.records[20]
    raw = bytearray(layout.path.read_bytes())
    pos = off + length - 2 if where == "tail" else off + int(where)
    raw[pos] ^= 0x40
    layout.path.write_bytes(raw)
    got, warnings = read_all(layout.path)
    numbers = [e.record for e in got]
    if where == 8:  # record number changed: the record is intact and read (with the new number)
        assert len(got) == 50 and warnings == []
        return
    assert numbers == [n for n in range(1, 51) if n != 20]
    assert [(w.offset, "damaged region" in w.message) for w in warnings] == [(off, True)]


def test_two_damaged_regions_give_two_warnings(tmp_path: Path) -> None:
    layout = write_evt(tmp_path / "f2.evt", varied(50))
    raw = bytearray(layout.path.read_bytes())
    for n in (10, 11, 30):  # 10 and 11 are adjacent: one region
        off, _ = layout.records[n]
        raw[off + 4 : off + 8] = b"XXXX"
    layout.path.write_bytes(raw)
    got, warnings = read_all(layout.path)
    assert [e.record for e in got] == [n for n in range(1, 51) if n not in (10, 11, 30)]
    assert [w.offset for w in warnings] == [layout.records[10][0], layout.records[30][0]]


def test_zero_length_and_self_referencing_records(tmp_path: Path) -> None:
    layout = write_evt(tmp_path / "z.evt", varied(12))
    raw = bytearray(layout.path.read_bytes())
    off5, _ = layout.records[5]
    struct.pack_into("<I", raw, off5, 0)  # Length 0 with a valid signature
    off8, _ = layout.records[8]
    struct.pack_into("<I", raw, off8, 0x38)  # Length points back into itself
    struct.pack_into("<I", raw, off8 + 0x34, 0x38)
    layout.path.write_bytes(raw)
    got, warnings = read_all(layout.path)
    assert [e.record for e in got] == [n for n in range(1, 13) if n not in (5, 8)]
    assert [w.offset for w in warnings] == [off5, off8]


def test_length_past_the_end_of_file(tmp_path: Path) -> None:
    layout = write_evt(tmp_path / "p.evt", varied(6))
    raw = bytearray(layout.path.read_bytes())
    off, _ = layout.records[6]
    struct.pack_into("<I", raw, off, 0x7FFFFFF0)
    layout.path.write_bytes(raw)
    got, warnings = read_all(layout.path)
    assert [e.record for e in got] == [1, 2, 3, 4, 5]
    assert [w.offset for w in warnings] == [off]


# --------------------------------------------------------------------------- slack / recovery


def test_slack_records_are_recovered_and_deduplicated(tmp_path: Path) -> None:
    live = varied(20)
    slack = [replace(ev(99, strings=("old",)), record=n) for n in (3, 700, 701)]
    layout = write_evt(tmp_path / "s.evt", live, slack=slack, slack_gap=96, max_size=16384)
    got, warnings = read_all(layout.path)
    assert warnings == []
    assert [e.record for e in got if not e.recovered] == list(range(1, 21))
    recovered = [e for e in got if e.recovered]
    assert [(e.record, e.offset) for e in recovered] == [(700, layout.slack[700][0]), (701, layout.slack[701][0])]
    assert same_content(recovered[0], slack[1])
    assert pyevt_records(layout.path)[1] == 3  # libevt does not de-duplicate: record 3 twice
    assert [e.record for e in evt.read(str(layout.path), recover=False)] == list(range(1, 21))


def test_no_eof_record_still_reads_everything_intact(tmp_path: Path) -> None:
    layout = write_evt(tmp_path / "n.evt", varied(15))
    raw = bytearray(layout.path.read_bytes())
    raw[layout.end + 4 : layout.end + 20] = bytes(16)  # wipe the end-of-file record's magic
    layout.path.write_bytes(raw)
    got, warnings = read_all(layout.path)
    assert [e.record for e in got] == list(range(1, 16))
    assert [w.offset for w in warnings] == [layout.end]


# --------------------------------------------------------------------------- odd records


def _one_record_file(tmp_path: Path, record: bytes) -> Path:
    """A clean single-record log around hand-made record bytes."""
    layout = write_evt(tmp_path / "one.evt", [ev()])
    raw = bytearray(layout.path.read_bytes())
    old = layout.records[1][1]
    body = raw[:0x30] + record + raw[0x30 + old :]
    struct.pack_into("<I", body, 0x14, 0x30 + len(record))  # header EndOffset
    struct.pack_into("<I", body, 0x30 + len(record) + 0x18, 0x30 + len(record))  # EOF EndRecord
    path = tmp_path / "odd.evt"
    path.write_bytes(bytes(body))
    return path


def test_missing_terminator_on_last_string(tmp_path: Path) -> None:
    path = _one_record_file(tmp_path, encode_record(ev(strings=("first", "last")), 1, terminate_strings=False))
    (got,), warnings = read_all(path)
    assert got.strings == ("first", "last") and warnings == []


def test_zero_strings_and_no_sid(tmp_path: Path) -> None:
    path = _one_record_file(tmp_path, encode_record(ev(strings=(), sid=None, data=b"\x01\x02"), 1))
    (got,), _ = read_all(path)
    assert (got.strings, got.sid, got.data) == ((), None, b"\x01\x02")
    assert pyevt_records(path)[0] == [(1, 0x30)]


def test_empty_strings_survive(tmp_path: Path) -> None:
    path = _one_record_file(tmp_path, encode_record(ev(strings=("", "x", "")), 1))
    (got,), _ = read_all(path)
    assert got.strings == ("", "x", "")


def test_sid_text_forms(tmp_path: Path) -> None:
    for sid in ("S-1-5-18", "S-1-5-21-1004336348-1177238915-682003330-512", "S-1-0x123456789ABC-7"):
        path = _one_record_file(tmp_path, encode_record(ev(sid=sid), 1))
        (got,), _ = read_all(path)
        assert got.sid == sid  # authorities >= 2**32 in hex, as Windows writes them


def test_huge_bogus_counts_and_offsets_are_bounded(tmp_path: Path) -> None:
    good = encode_record(ev(strings=("a", "b")), 1, num_strings=0xFFFF)
    (got,), _ = read_all(_one_record_file(tmp_path, good))
    assert got.strings[:2] == ("a", "b") and len(got.strings) < 10
    bad = bytearray(encode_record(ev(strings=("a", "b"), data=b"xyz"), 1))
    # StringOffset, UserSidLength, UserSidOffset, DataLength, DataOffset all nonsense.
    struct.pack_into("<5I", bad, 0x24, 0xFFFFFFF0, 0xFFFF, 0xFFFFFF00, 0x7FFFFFFF, 0x40)
    (got,), _ = read_all(_one_record_file(tmp_path, bytes(bad)))
    assert got.strings == () and got.sid is None and got.source == "MSExchangeIS Private"
    assert len(got.data) < len(bad)


def test_sid_without_strings_or_data_is_read(tmp_path: Path) -> None:
    """libevt rejects this combination (DESIGN.md facts); it is a valid record all the same."""
    path = _one_record_file(tmp_path, encode_record(ev(strings=(), data=b"", sid="S-1-5-19"), 1))
    (got,), _ = read_all(path)
    assert (got.sid, got.strings, got.data) == ("S-1-5-19", (), b"")


# --------------------------------------------------------------------------- filters


def test_filters_pushed_down_before_strings_are_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = write_evt(tmp_path / "flt.evt", sample_events(500))
    everything = list(evt.read(str(layout.path)))
    calls = 0
    real = evt._utf16

    def counting(*args: object) -> tuple[str, int]:
        nonlocal calls
        calls += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(evt, "_utf16", counting)
    flt = EventFilter.build(ids=[1023])
    got = list(evt.read(str(layout.path), filters=flt))
    assert got == [e for e in everything if e.event_id == 1023] and len(got) == 10
    assert calls <= 2 * len(got)  # only wanted records had their strings decoded
    since = EventFilter.build(since=everything[100].time_generated, types=["error"])
    assert list(evt.read(str(layout.path), filters=since)) == [e for e in everything[100:] if e.type is EventType.ERROR]


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_input_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.evt"
    empty.write_bytes(b"")
    short = tmp_path / "short.evt"
    short.write_bytes(b"\x30\0\0\0LfLe\x01\0\0\0")
    text = tmp_path / "text.evt"
    text.write_bytes(b"Date,Time,Source\r\n")
    for path, reason in [
        (empty, "empty file"),
        (tmp_path, "is a directory"),
        (short, "shorter than the 0x30-byte header"),
        (text, "no 'LfLe' signature"),
        (tmp_path / "missing.evt", "cannot open"),
    ]:
        with pytest.raises(InputError, match=reason):
            list(evt.read(str(path)))


@pytest.mark.timeout(60)
def test_two_gigabyte_sparse_files_do_not_hang(tmp_path: Path) -> None:
    zeros = tmp_path / "zeros.evt"
    with open(zeros, "wb") as fh:
        fh.truncate(2 << 30)
    started = time.process_time()  # CPU time: a loaded machine does not make it longer
    with pytest.raises(InputError, match="not an event log"):
        list(evt.read(str(zeros)))
    # A valid log followed by ~2 GB of holes: read without reading the holes.
    layout = write_evt(tmp_path / "sparse.evt", varied(5), dirty=True, max_size=8192)
    with open(layout.path, "r+b") as fh:
        fh.truncate(2 << 30)
        fh.seek(0x20)
        fh.write(struct.pack("<I", 2 << 30))
    got, _ = read_all(layout.path)
    assert [e.record for e in got] == [1, 2, 3, 4, 5]
    assert time.process_time() - started < 30


@pytest.mark.parametrize(
    "options",
    [
        {"max_size": 6000, "wrap": True},
        {"max_size": 6000, "wrap": True, "dirty": True, "stale_after": 30},
        {"max_size": 16384, "slack": [replace(ev(), record=n) for n in (2, 500, 501)], "slack_gap": 40},
    ],
    ids=["wrapped", "dirty-wrapped", "slack"],
)
def test_random_damage_never_raises(tmp_path: Path, options: dict[str, object]) -> None:
    """Overwrite random spans (header included) and truncate at random: only Events, warnings or
    InputError come out, and no record number is yielded twice."""
    import random

    rng = random.Random(306308)
    layout = write_evt(tmp_path / "r.evt", varied(80), **options)  # type: ignore[arg-type]
    clean = layout.path.read_bytes()
    for _ in range(120):
        raw = bytearray(clean)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(0, len(raw))
            span = rng.choice([1, 4, 16, 200])
            raw[at : at + span] = bytes(rng.randrange(256) for _ in range(len(raw[at : at + span])))
        if rng.random() < 0.2:
            raw = raw[: rng.randrange(0x30, len(raw))]
        path = tmp_path / "rd.evt"
        path.write_bytes(bytes(raw))
        try:
            got, warnings = read_all(path)
        except InputError:
            continue
        assert all(isinstance(e, Event) for e in got)
        numbers = [e.record for e in got]
        assert len(numbers) == len(set(numbers))
        assert all(isinstance(w.offset, int) for w in warnings)


# --------------------------------------------------------------------------- CLI end to end


def test_cli_events_jsonl(tmp_path: Path) -> None:
    layout = write_evt(tmp_path / "AppEvent.Evt", list(sample_events(60)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "analyzer", "events", str(layout.path), "--format", "jsonl", "--id", "1023"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["record"] for r in rows] == [1, 51]
    assert rows[0]["type"] == "failure_audit" and rows[0]["source"] == "MSExchangeIS Private"
    assert rows[0]["time_generated"].endswith("Z") and rows[0]["sid"].startswith("S-1-5-21-")
    assert rows[0]["strings"][0] == "ORG\\exchsvc" and rows[0]["recovered"] is False
    # A damaged copy: still exit 0, records on stdout, one warning line naming file and offset.
    raw = bytearray(layout.path.read_bytes())
    off = layout.records[51][0]
    raw[off + 4 : off + 8] = b"\0\0\0\0"
    layout.path.write_bytes(raw)
    result = subprocess.run(
        [sys.executable, "-m", "analyzer", "events", str(layout.path), "--format", "jsonl", "--id", "1023"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert result.returncode == 0
    assert [json.loads(line)["record"] for line in result.stdout.splitlines()] == [1]
    assert result.stderr.strip().splitlines() == [
        f"analyzer: warning: {layout.path}: damaged region, {layout.records[51][1]} bytes skipped (offset 0x{off:x})"
    ]


@pytest.mark.parametrize("dirty", [False, True])
def test_eof_record_split_at_the_file_end(tmp_path: Path, dirty: bool) -> None:
    events = varied(60)
    for max_size in range(2048, 2048 + 400, 4):
        layout = write_evt(tmp_path / "se.evt", events, max_size=max_size, wrap=True, dirty=dirty, keep_eof_whole=False)
        if layout.end + 0x28 > layout.size:
            break
    else:
        pytest.fail("no file size split the end-of-file record")
    got, warnings = read_all(layout.path)
    assert warnings == []
    assert [(e.record, e.offset) for e in got] == [(n, off) for n, (off, _) in layout.records.items()]


@pytest.mark.parametrize("max_size", [1204, 1208])
def test_dirty_ring_whose_eof_search_runs_past_the_file_end(tmp_path: Path, max_size: int) -> None:
    """Regression: searching a dirty wrapped log for its floating end-of-file record tried offsets
    past the physical end and crashed with struct.error instead of wrapping behind the header."""
    layout = write_evt(tmp_path / "ring.evt", sample_events(5), max_size=max_size, wrap=True, dirty=True)
    got = list(evt.read(str(layout.path), recover=False))
    assert [e.record for e in got] == sorted(layout.records)
