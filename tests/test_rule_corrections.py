"""Rule corrections of issue 10 through the whole diagnosis (the rules' own fixtures check each rule alone)."""

from __future__ import annotations

from analyzer.diagnosis import diagnose_objects
from analyzer.evidence import LogonOnlyAs
from analyzer.rules.factories import IMS_DN, scm

LIST = LogonOnlyAs("set", [IMS_DN], key="k", source="loa.reg")


def test_store_as_victim_of_the_system_attendant_names_the_attendant() -> None:
    events = [
        scm(7000, "Microsoft Exchange System Attendant", "%%2140"),
        scm(7001, "Microsoft Exchange Information Store", "Microsoft Exchange System Attendant", "%%2140", seconds=5),
        scm(
            7001,
            "Microsoft Exchange Internet Mail Service",
            "Microsoft Exchange Information Store",
            "%%1068",
            seconds=9,
        ),
    ]
    dx = diagnose_objects(events, [LIST])
    (down,) = [f for f in dx.finding_list if f.rule == "IS-DOWN"]
    assert down.component == "System Attendant" and "itself failed" not in down.title
    assert "did not start because the System Attendant failed" in dx.verdict
    assert "Fix the System Attendant first" in dx.verdict
    assert {e.event_id for e in down.evidence} == {7000, 7001}


def test_store_own_failure_says_so() -> None:
    dx = diagnose_objects([scm(7023, "Microsoft Exchange Information Store", "%%2140")], [LIST])
    assert "The Information Store itself failed" in dx.verdict


def test_kb262375_on_the_system_log_form() -> None:
    dx = diagnose_objects([scm(7024, "Microsoft Exchange Information Store", "4294966781")], [LIST])
    assert [f.rule for f in dx.finding_list if f.severity.value == "error"] == ["KB262375"]
    assert "KB 262375" in dx.verdict
