"""The test .evt writer against the independent parser libevt, and hypothesis round trips.

If the writer and our reader shared a misunderstanding of the format, round trips alone would not
notice; libevt (pyevt) is the referee for the writer, the round trips then pin the reader.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model import Event, EventType
from analyzer.readers import evt
from tests.test_evt_corpus import libevt_fields, our_fields
from tests.writers.evt_writer import sample_events, sid_to_bytes, write_evt

pyevt = pytest.importorskip("pyevt")

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=40)
sids = st.one_of(
    st.none(),
    st.builds(
        lambda auth, subs: "-".join(["S", "1", str(auth) if auth < 1 << 32 else f"0x{auth:012X}", *map(str, subs)]),
        st.one_of(st.sampled_from([0, 1, 5, 16]), st.integers(0, (1 << 48) - 1)),
        st.lists(st.integers(0, 0xFFFFFFFF), max_size=8),
    ),
)
times = st.integers(0, 0xFFFFFFFF).map(lambda s: datetime.fromtimestamp(s, UTC))


@st.composite
def events(draw: st.DrawFn) -> Event:
    full = draw(st.integers(0, 0xFFFFFFFF))
    generated = draw(times)
    return Event(
        "", 0, None, generated, draw(st.one_of(st.just(generated), times)), full & 0xFFFF, full,
        draw(st.sampled_from(list(EventType))), draw(st.integers(0, 0xFFFF)), draw(text), draw(text), draw(sids),
        tuple(draw(st.lists(text, max_size=6))), draw(st.binary(max_size=48)),
    )  # fmt: skip


def libevt_accepts(e: Event) -> bool:
    """Whether libevt is a fair referee for this event: it rejects a record with a SID but neither
    strings nor data, prints an identifier authority >= 2**32 in decimal where Windows (MS-DTYP
    2.4.2.1) writes hexadecimal ``0x…`` as we do, and drops a U+FEFF at the start of an insertion
    string (it takes it for a byte-order mark; the record holds it as a character, and so do we)."""
    return (
        not (e.sid and not e.strings and not e.data)
        and not (e.sid and "0x" in e.sid)
        and not any(s.startswith("\ufeff") for s in e.strings)
    )


def check_against_libevt(path: Path, ours: list[Event]) -> None:
    f = pyevt.file()
    f.open(str(path))
    try:
        theirs = [libevt_fields(f.get_record(i)) for i in range(f.number_of_records)]
    finally:
        f.close()
    assert theirs == [our_fields(e) for e in ours]


def expected_fields(e: Event, number: int, offset: int) -> tuple[object, ...]:
    from tests.writers.evt_writer import TYPE_CODES

    return (
        number, offset, e.time_generated, e.time_written, e.event_id_full, TYPE_CODES[e.type], e.category,
        e.source, e.computer, e.sid, e.strings, e.data,
    )  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(events(), min_size=0, max_size=12))
def test_round_trip_random_events(tmp_path: Path, batch: list[Event]) -> None:
    layout = write_evt(tmp_path / "rt.evt", batch, first_record=7)
    got = list(evt.read(str(layout.path)))
    assert [our_fields(e) for e in got] == [
        expected_fields(e, 7 + i, layout.records[7 + i][0]) for i, e in enumerate(batch)
    ]
    if all(map(libevt_accepts, batch)):
        check_against_libevt(layout.path, got)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(events(), min_size=5, max_size=40), max_size=st.integers(0x200, 0x800), dirty=st.booleans())
def test_round_trip_wrapped_ring(tmp_path: Path, batch: list[Event], max_size: int, dirty: bool) -> None:
    """Random events through a small ring: whatever survives the wrap reads back exactly."""
    max_size -= max_size % 4
    if max(len(e.source) + len(e.computer) + sum(map(len, e.strings)) for e in batch) * 4 + 0x200 > max_size:
        max_size = 0x1000 * 4  # keep every single record small enough for the ring
    layout = write_evt(tmp_path / "ring.evt", batch, max_size=max_size, wrap=True, dirty=dirty)
    got = list(evt.read(str(layout.path), recover=False))
    assert [our_fields(e) for e in got] == [
        expected_fields(batch[n - 1], n, off) for n, (off, _) in layout.records.items()
    ]
    if not dirty and all(map(libevt_accepts, batch)):
        check_against_libevt(layout.path, got)


def test_writer_output_is_read_by_libevt_field_for_field(tmp_path: Path) -> None:
    layout = write_evt(tmp_path / "app.evt", sample_events(3000), max_size=0x40000, wrap=True)
    got = list(evt.read(str(layout.path), recover=False))
    assert layout.wrapped and layout.split_record is not None
    assert len(got) == len(layout.records)
    check_against_libevt(layout.path, got)


def test_sid_to_bytes_layout() -> None:
    assert sid_to_bytes("S-1-5-18") == bytes([1, 1, 0, 0, 0, 0, 0, 5]) + (18).to_bytes(4, "little")
    assert evt.sid_to_text(sid_to_bytes("S-1-5-21-1-2-3-500")) == "S-1-5-21-1-2-3-500"
    assert evt.sid_to_text(b"\x01\x05\x00") is None  # cut short


def test_writer_refuses_a_full_log_without_wrap(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log full"):
        write_evt(tmp_path / "full.evt", sample_events(100), max_size=0x1000)
