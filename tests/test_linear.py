"""The linear replacements give the answers of the pairwise code they replace, and the readers' (source, ID)
pushdown keeps exactly the events a full read followed by the filter keeps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analyzer.evidence import _SERVICE_NAMES, TimeIndex, _services_in_text_pairwise, services_in_text, within
from analyzer.model import Event, EventFilter, EventType
from analyzer.readers import evt, evtx
from analyzer.rules import evidence_filter
from tests.conftest import corpus_files
from tests.writers.evt_writer import write_evt
from tests.writers.evtx_writer import write_evtx


def test_time_index_answers_as_pairwise_within() -> None:
    rng = random.Random(16)
    base = datetime(2001, 3, 1, tzinfo=UTC)
    for _ in range(300):

        def moment() -> datetime | None:
            roll = rng.random()
            if roll < 0.1:
                return None
            when = base + timedelta(seconds=rng.randrange(0, 3600))
            return when.replace(tzinfo=None) if roll < 0.3 else when

        times = [moment() for _ in range(rng.randrange(0, 12))]
        index = TimeIndex(times)
        for _ in range(10):
            probe = moment()
            assert index.near(probe) == any(within(probe, t) for t in times)
    edge = base + timedelta(minutes=5)
    assert TimeIndex([base]).near(edge) and not TimeIndex([base]).near(edge + timedelta(microseconds=1))


def test_services_in_text_as_the_name_by_name_search() -> None:
    rng = random.Random(16)
    names = [display for display, _ in _SERVICE_NAMES]
    bits = [*names, *(n[:7] for n in names), " ", "the ", " service", "x", "MSExchangeIS", "\t"]
    for _ in range(20000):
        text = "".join(rng.choice(bits) for _ in range(rng.randrange(0, 7)))
        assert services_in_text(text) == _services_in_text_pairwise(text), text
    assert services_in_text("Microsoft Exchange Information Store depends on MSExchangeSA") == [
        "MSExchangeIS",
        "MSExchangeSA",
    ]


def _mixed_events(count: int) -> list[Event]:
    """IDs the rules read, logged by the sources they read them from and by others (same IDs)."""
    t0 = datetime(2001, 3, 1, tzinfo=UTC)
    kinds = [
        (1023, "MSExchangeIS Private", EventType.FAILURE_AUDIT),
        (1023, "Winlogon", EventType.INFORMATION),
        (1016, "MSExchangeIS Private", EventType.SUCCESS_AUDIT),
        (1005, "Winlogon", EventType.INFORMATION),
        (1005, "MSExchangeSA", EventType.ERROR),
        (4018, "MSExchangeIMC", EventType.ERROR),
        (4018, "Userenv", EventType.ERROR),
        (7024, "Service Control Manager", EventType.ERROR),
        (13003, "MSExchangeIMAP4", EventType.WARNING),
        (6005, "EventLog", EventType.INFORMATION),
    ]
    out = []
    for i in range(count):
        event_id, source, etype = kinds[i % len(kinds)]
        when = t0 + timedelta(seconds=7 * i)
        out.append(
            Event("", i + 1, None, when, when, event_id, event_id, etype, 0, source, "EXCH01", None, (f"s{i}", "t"))
        )
    return out


def _same(reader, path: Path, flt: EventFilter) -> None:  # type: ignore[no-untyped-def]
    """Filtered read == full read followed by the filter (every field)."""
    pushed = list(reader(str(path), filters=flt))
    full = [e for e in reader(str(path)) if flt.matches(e)]
    assert pushed == full


@pytest.mark.parametrize("fmt", ["evt", "evtx"])
def test_pair_pushdown_equals_full_read_then_filter(tmp_path: Path, fmt: str) -> None:
    events = _mixed_events(400)
    path = tmp_path / f"mixed.{fmt}"
    (write_evt if fmt == "evt" else write_evtx)(path, events)
    reader = evt.read if fmt == "evt" else evtx.read
    flt = evidence_filter()
    kept = list(reader(str(path), filters=flt))
    assert {(e.source, e.event_id) for e in kept} == {
        ("MSExchangeIS Private", 1023),
        ("MSExchangeSA", 1005),
        ("MSExchangeIMC", 4018),
        ("Service Control Manager", 7024),
        ("MSExchangeIMAP4", 13003),
    }
    _same(reader, path, flt)


@pytest.mark.parametrize("path", corpus_files("evt"), ids=lambda p: p.name)
def test_pair_pushdown_on_corpus_evt(path: Path) -> None:
    for flt in (evidence_filter(), EventFilter.build(ids=[6005, 7035], pairs=[("eventlog", 6005), ("service", 7035)])):
        _same(evt.read, path, flt)


@pytest.mark.parametrize("path", corpus_files("evtx"), ids=lambda p: p.name)
def test_pair_pushdown_on_corpus_evtx(path: Path) -> None:
    """Every corpus .evtx (damaged ones too): the rules' filter and one on IDs the corpus holds."""
    if path.suffix != ".evtx":
        pytest.skip("not an .evtx file")
    full = list(evtx.read(str(path)))
    common = sorted(
        {(e.source, e.event_id) for e in full}, key=lambda p: -sum(1 for e in full if (e.source, e.event_id) == p)
    )
    half = common[: max(1, len(common) // 2)]
    own = EventFilter.build(ids={i for _, i in half}, pairs=half)
    for flt in (evidence_filter(), own):
        assert list(evtx.read(str(path), filters=flt)) == [e for e in full if flt.matches(e)]
