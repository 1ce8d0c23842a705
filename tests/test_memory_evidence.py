"""Memory of the kept evidence: a restart-loop log (the IS refusing a component every minute for weeks) keeps
tens of thousands of identical refusals.  What they cost is measured with tracemalloc (bytes Python
allocates, not time), on events the .evt reader decodes from a file the project's writer produced, so
every event arrives with its own copies of its strings, as in a real run."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from analyzer.dedup import merge_duplicates
from analyzer.events import iter_file
from analyzer.evidence import Evidence
from analyzer.rules import evidence_filter, watched_events
from tests.writers.evt_writer import sample_events, write_evt

RECORDS = 10_000  # every 50th a 1023, every 97th an IMC 4018 (see ``sample_events``)
#: Bytes per kept event: the record objects and their references, not their texts.  The texts were
#: kept once per event before (1,170 bytes per kept event on this stream).
PER_KEPT_EVENT = 700
#: Bytes ``merge_duplicates`` may allocate on a case of one file, whatever its size (816 KB before).
DEDUP_ONE_FILE = 16_384


@pytest.fixture(scope="module")
def loop_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("memory") / "restart-loop.evt"
    write_evt(path, sample_events(RECORDS))
    return path


def _fed(path: Path, name: str, evidence: Evidence | None = None) -> Evidence:
    evidence = evidence or Evidence(watched=watched_events())
    for event in iter_file(str(path), filters=evidence_filter()):
        evidence.feed(event, name)
    return evidence


def test_identical_refusals_share_their_texts(loop_log: Path) -> None:
    path = loop_log
    ev = _fed(path, "restart-loop.evt")
    assert len(ev.refusals) == RECORDS // 50 and len(ev.imc) == len(ev.raw) > 0
    first = ev.refusals[0]
    for other in ev.refusals[1:]:
        assert other.dn_a is first.dn_a and other.account is first.account and other.computer is first.computer
        assert other.ref.text is first.ref.text and other.ref.source is first.ref.source
        assert other.ref.record != first.ref.record and other.time != first.time  # each event is still its own
    raw = ev.raw[0]
    assert all(r.strings[0] is raw.strings[0] and r.text is raw.text for r in ev.raw[1:])


def test_kept_evidence_grows_by_references_not_texts(loop_log: Path) -> None:
    path = loop_log
    list(iter_file(str(path), filters=evidence_filter()))  # caches of the reader and the rules warmed up
    evidence = Evidence(watched=watched_events())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _fed(path, "restart-loop.evt", evidence)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    kept = sum(evidence.kept.values())
    assert kept == RECORDS // 50 + len(evidence.imc)
    assert grown / kept < PER_KEPT_EVENT, f"{grown / kept:.0f} bytes per kept event"


def test_merge_duplicates_allocates_nothing_for_one_file(loop_log: Path) -> None:
    path = loop_log
    evidence = _fed(path, "restart-loop.evt")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert merge_duplicates(evidence) == 0
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < DEDUP_ONE_FILE, f"{peak:,} bytes for {sum(evidence.kept.values())} kept events of one file"


def test_merge_duplicates_still_finds_the_copies_of_another_file(loop_log: Path, tmp_path: Path) -> None:
    """Two logs that share their first 500 events: the copies are found and counted once (entries are built
    only for events whose content another file holds, which here is every refusal and IMC event)."""
    events = list(sample_events(RECORDS))
    write_evt(tmp_path / "b.evt", events[:500])
    shared_refusals = sum(1 for e in events[:500] if e.event_id == 1023)  # 10
    shared_imc = sum(1 for e in events[:500] if e.event_id == 4018)  # 5
    evidence = _fed(loop_log, "a.evt")
    _fed(tmp_path / "b.evt", "b.evt", evidence)
    refusals, imc = len(evidence.refusals), len(evidence.imc)
    assert merge_duplicates(evidence) == shared_refusals + shared_imc
    assert len(evidence.refusals) == refusals - shared_refusals and len(evidence.imc) == imc - shared_imc
    assert [r.ref.also_in for r in evidence.refusals[:shared_refusals]] == [("b.evt",)] * shared_refusals
    assert all(not r.ref.also_in for r in evidence.refusals[shared_refusals:])


def test_merging_two_copies_of_a_log_costs_less_than_a_kilobyte_per_event(loop_log: Path) -> None:
    """The .evt and a copy of it: every kept event is a duplicate, so each gets its entry; the entries share
    their content keys (one per distinct refusal) and build their lists of other files only on a match.
    (1,670 bytes per kept event before: a key of casefolded copies and two empty containers per entry.)"""
    evidence = _fed(loop_log, "a.evt")
    _fed(loop_log, "b.evt", evidence)
    kept = sum(evidence.kept.values())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        dropped = merge_duplicates(evidence)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert dropped == kept // 2 and all(r.ref.also_in == ("b.evt",) for r in evidence.refusals)
    assert peak / kept < 1_200, f"{peak / kept:.0f} bytes per kept event"
