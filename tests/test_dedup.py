"""Each event once: the same event in several artefacts (a .evt and its text export, overlapping copies, a log
loose and in a zip) is counted once and listed with every file it was seen in."""

from __future__ import annotations

import dataclasses
import shutil
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analyzer.dedup import merge_duplicates
from analyzer.diagnosis import diagnose
from analyzer.evidence import Evidence
from analyzer.model import Event, EventType
from analyzer.rules.factories import IMS_DN, sa_dn
from fuzz.seeds import loa_tree
from tests.writers.evt_writer import write_evt
from tests.writers.evtext_writer import write_evtxt
from tests.writers.regtext_writers import write_reg

T0 = datetime(2002, 6, 14, 13, 4, 5, tzinfo=UTC)


def e1023(dn: str, seconds: int, record: int = 0) -> Event:
    when = T0 + timedelta(seconds=seconds)
    return Event(
        path="x", record=record, offset=None, time_generated=when, time_written=when, event_id=1023,
        event_id_full=1023, type=EventType.FAILURE_AUDIT, category=1, source="MSExchangeIS Private",
        computer="EXCH01", sid=None, strings=("CONTOSO\\exsvc", dn, dn),
    )  # fmt: skip


def imc4018(seconds: int) -> Event:
    return dataclasses.replace(
        e1023(IMS_DN, seconds), event_id=4018, event_id_full=0xC0000FB2, type=EventType.ERROR,
        source="MSExchangeIMC", strings=(),
    )  # fmt: skip


LOG = [e1023(IMS_DN, 0), imc4018(2), e1023(IMS_DN, 60), imc4018(62), e1023(sa_dn(1), 120)]


def local(events: list[Event], hours: float) -> list[Event]:
    """The events as a text export made on a machine ``hours`` east of UTC shows them: naive local time."""
    shift = timedelta(hours=hours)
    return [
        dataclasses.replace(e, time_generated=(e.time_generated + shift).replace(tzinfo=None), time_written=None)
        for e in events
    ]


def case(tmp_path: Path, **files: list[Event] | str) -> Path:
    folder = tmp_path / "case"
    folder.mkdir(parents=True)
    for name, content in files.items():
        if name.endswith("_evt"):
            write_evt(folder / name.replace("_evt", ".Evt"), content)  # type: ignore[arg-type]
        elif name.endswith("_txt"):
            write_evtxt(folder / name.replace("_txt", ".txt"), content, encoding="utf-16")  # type: ignore[arg-type]
    write_reg(folder / "loa.reg", loa_tree(["/o=Contoso/ou=Berlin/cn=Recipients/cn=admin"]), version=5)
    return folder


def refused_count(dx: dict) -> int:
    return sum(f["count"] for f in dx["findings"] if f["rule"] == "KB306308")


def test_evt_and_its_text_export_in_another_zone_count_once(tmp_path: Path) -> None:
    single = diagnose(str(case(tmp_path / "a", AppEvent_evt=LOG))).to_dict()
    both = diagnose(str(case(tmp_path / "b", AppEvent_evt=LOG, AppEvent_txt=local(LOG, 5.5)))).to_dict()
    assert refused_count(both) == refused_count(single) == 2
    assert both["dns_to_add"] == single["dns_to_add"]
    assert any("5 event(s) appear in more than one file (AppEvent.Evt, AppEvent.txt)" in w for w in both["warnings"])
    refs = [e for f in both["findings"] if f["rule"] == "KB306308" for e in f["evidence"] if e["event_id"] == 1023]
    assert refs and all(e["path"] == "AppEvent.Evt" and e["also_in"] == ["AppEvent.txt"] for e in refs)


def test_overlapping_copies_of_a_log(tmp_path: Path) -> None:
    monday = [dataclasses.replace(e, record=i + 1) for i, e in enumerate(LOG[:3])]
    tuesday = [dataclasses.replace(e, record=i + 1) for i, e in enumerate(LOG)]
    dx = diagnose(str(case(tmp_path, Monday_evt=monday, Tuesday_evt=tuesday))).to_dict()
    assert refused_count(dx) == 2
    assert any("3 event(s) appear in more than one file" in w for w in dx["warnings"])


def test_a_log_loose_and_in_a_zip(tmp_path: Path) -> None:
    folder = case(tmp_path, AppEvent_evt=LOG)
    with zipfile.ZipFile(folder / "upload.zip", "w") as z:
        z.write(folder / "AppEvent.Evt", "AppEvent.Evt")
    dx = diagnose(str(folder)).to_dict()
    assert refused_count(dx) == 2
    (warning,) = [w for w in dx["warnings"] if "more than one file" in w]
    assert warning.startswith("5 event(s)") and "upload.zip" in warning


def test_same_events_at_different_times_are_not_merged(tmp_path: Path) -> None:
    """A second log with the same kinds of events at other times (not an offset of whole half hours)."""
    later = [dataclasses.replace(e, time_generated=e.time_generated + timedelta(minutes=17)) for e in LOG]
    dx = diagnose(str(case(tmp_path, A_evt=LOG, B_evt=later))).to_dict()
    assert refused_count(dx) == 4 and not any("more than one file" in w for w in dx["warnings"])


def test_two_binary_logs_are_not_merged_across_a_zone_offset(tmp_path: Path) -> None:
    """Both carry UTC: an hour apart is another event, not the same one in another zone."""
    later = [dataclasses.replace(e, time_generated=e.time_generated + timedelta(hours=1)) for e in LOG]
    dx = diagnose(str(case(tmp_path, A_evt=LOG, B_evt=later))).to_dict()
    assert refused_count(dx) == 4


def test_record_numbers_must_agree_between_binary_logs() -> None:
    ev = Evidence()
    ev.feed(e1023(IMS_DN, 0, record=7), "A.Evt")
    ev.feed(e1023(IMS_DN, 0, record=8), "B.Evt")
    assert merge_duplicates(ev) == 0 and len(ev.refusals) == 2
    ev.feed(e1023(IMS_DN, 0, record=7), "C.Evt")
    assert merge_duplicates(ev) == 1 and len(ev.refusals) == 2


def test_the_offset_is_one_per_file_pair() -> None:
    """Most events of the pair agree on +2 h; an event that would match only at +1 h is not merged."""
    ev = Evidence()
    for e in [*LOG, e1023(IMS_DN, 5 * 3600)]:
        ev.feed(e, "AppEvent.Evt")
    stray = local([e1023(IMS_DN, 5 * 3600)], 1)  # the .evt's last event, as a +1 h export would show it
    for e in [*local(LOG, 2), *stray]:
        ev.feed(e, "AppEvent.txt")
    assert merge_duplicates(ev) == 5
    assert len(ev.refusals) == 5  # four of the .evt, and the stray one


def test_german_export_confirms_nothing_but_the_evt_names_the_dn(tmp_path: Path) -> None:
    """A German text export of the same log: its refusals are unconfirmed alone, and merged into the
    .evt's refusals (whose DN occurs in their text) when both are given."""
    german = [
        dataclasses.replace(
            e,
            strings=(),
            message=f"CONTOSO\\exsvc wurde als {e.strings[1]} bestätigt, konnte sich aber nicht bei "
            f"/o=Contoso/ou=Berlin/cn=Recipients/cn=postmaster anmelden.",
        )
        for e in local(LOG, 1)
        if e.event_id == 1023
    ]
    alone = diagnose(str(case(tmp_path / "a", AppEvent_txt=german))).to_dict()
    assert alone["dns_to_add"] == [] and len(alone["unconfirmed"]) == 3
    both = diagnose(str(case(tmp_path / "b", AppEvent_evt=LOG, AppEvent_txt=german))).to_dict()
    assert both["unconfirmed"] == [] and both["dns_to_add"] == [IMS_DN, sa_dn(1)]


def test_linear_index_not_pairwise() -> None:
    """Many events in two files: merging stays a handful of dict lookups per event (no pairwise loop)."""
    ev = Evidence()
    log = [e1023(f"/o=Contoso/ou=Berlin/cn=Recipients/cn=u{i}", i) for i in range(3000)]
    for e in log:
        ev.feed(e, "A.Evt")
    for e in local(log, -3):
        ev.feed(e, "A.txt")
    assert merge_duplicates(ev) == 3000 and len(ev.refusals) == 3000


def test_copying_a_case_file_keeps_it_one(tmp_path: Path) -> None:
    folder = case(tmp_path, AppEvent_evt=LOG)
    shutil.copy(folder / "AppEvent.Evt", folder / "AppEvent (2).Evt")
    dx = diagnose(str(folder)).to_dict()
    assert refused_count(dx) == 2
