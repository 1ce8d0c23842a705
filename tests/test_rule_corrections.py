"""Rule corrections of issue 10 through the whole diagnosis (the rules' own fixtures check each rule alone)."""

from __future__ import annotations

import pytest

from analyzer.diagnosis import diagnose_objects
from analyzer.evidence import LogonOnlyAs
from analyzer.rules.factories import IMS_DN, ORG, e1023, sa_dn, scm, user_dn
from fuzz.seeds import loa_tree

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


# --------------------------------------------------------------------------- a finding names each DN once

MBCLEAN = ORG + "/cn=Recipients, Utility/cn=MSExchangeMCA"


def _names_each_dn_once(dx: object, dns: list[str]) -> None:
    for f in dx.finding_list:  # type: ignore[attr-defined]
        for dn in dns:
            assert f.explanation.count(dn) <= 1, (f.rule, dn, f.explanation)
    verdict = dx.verdict  # type: ignore[attr-defined]
    assert len(verdict) < 1000, verdict


@pytest.mark.parametrize("state", ["absent", "set", "unknown"])
def test_a_utility_refused_opening_24_mailboxes_is_named_once(state: str) -> None:
    events = [e1023(MBCLEAN, user_dn(f"u{i}"), seconds=i) for i in range(24)]
    loa = [] if state == "unknown" else [LogonOnlyAs(state, [MBCLEAN] if state == "set" else [], key="k", source="r")]
    dx = diagnose_objects(events, loa)
    _names_each_dn_once(dx, [MBCLEAN])
    per_rule = [f.rule for f in dx.finding_list]
    assert per_rule.count("KB188594") == 1  # one finding for the one identity, not one per mailbox
    (mbclean,) = [f for f in dx.finding_list if f.rule == "KB188594"]
    assert mbclean.count == 24


def test_every_rule_fixture_names_each_dn_once() -> None:
    from analyzer.rules import all_rules

    for rule in all_rules():
        for fixture in rule.fixtures:
            facts = fixture.facts()
            dns = {d for r in [*facts.evidence.refusals, *facts.evidence.logons] for d in (r.dn_a, r.dn_b) if d}
            for f in rule.check(facts):
                for dn in dns:
                    assert f.explanation.count(dn) <= 1, (rule.id, fixture.name, dn, f.explanation)


# --------------------------------------------------------------------------- advice is not a finding


def test_exmerge_is_advice_not_a_finding(tmp_path) -> None:
    dx = diagnose_objects([e1023(IMS_DN)], [LogonOnlyAs("set", [sa_dn(1)], key="k", source="loa.reg")])
    assert "KB262225" not in dx.rules_fired
    out = dx.to_dict()
    assert all(f["rule"] != "KB262225" for f in out["findings"])
    (advice,) = out["advice"]
    assert advice["rule"] == "KB262225" and "ExMerge" in advice["text"] and "KB262225" in advice["references"]
    assert "ExMerge" in dx.to_text() and "Advice" in dx.to_markdown()


def test_advice_alone_needs_no_action_and_triage_does_not_count_it(tmp_path) -> None:
    """A case with the value set and nothing wrong: no finding, no rule in triage's counts, advice kept."""
    from analyzer.triage import triage
    from tests.writers.regtext_writers import write_reg

    case = tmp_path / "cases" / "quiet"
    case.mkdir(parents=True)
    write_reg(case / "loa.reg", loa_tree([IMS_DN]), version=5)
    dx = diagnose_objects([], [LogonOnlyAs("set", [IMS_DN], key="k", source="loa.reg")])
    assert dx.finding_list == [] and not dx.needs_action and [a.rule for a in dx.advice] == ["KB262225"]
    frame = triage([tmp_path / "cases"], out=tmp_path / "out", jobs=1)
    assert "KB262225" not in str(frame.loc[0, "rules"])
