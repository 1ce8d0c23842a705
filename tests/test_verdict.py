"""The verdict is composed from the findings' kinds and their rules' advice, never from titles: rewording
every title leaves the verdict's decisions unchanged."""

from __future__ import annotations

import dataclasses

import pytest

from analyzer.diagnosis.verdict import compose_verdict, needs_action
from analyzer.evidence import CaseFacts
from analyzer.model import Finding, FindingKind
from analyzer.rules.factories import IMS_DN, ORG, e1023, es11, fixture_facts, sa_dn, scm, user_dn
from analyzer.rules.run import run_rules


def _reworded(findings: list[Finding]) -> list[Finding]:
    return [dataclasses.replace(f, title=f"Reworded {n}") for n, f in enumerate(findings)]


CASES = {
    "lock-out": (fixture_facts([e1023(user_dn("jdoe"))], (sa_dn(1), IMS_DN), {}), "Nothing to fix: only mailboxes"),
    "listed but refused": (
        fixture_facts([e1023(sa_dn(1), user_dn("u")), es11(seconds=1)], (sa_dn(1), IMS_DN), {}),
        "Not a Logon Only As problem: the refused identities are listed.",
    ),
    "look-alike, value absent": (
        fixture_facts([e1023(f"{ORG}/cn=Recipients, Utility/cn=MSExchangeMCA", user_dn("j"))], "absent", {}),
        "Documented cause: KB 188594.",
    ),
    "no registry export": (fixture_facts([e1023(IMS_DN)], None, {}), "No registry export: cannot tell"),
    "case only": (fixture_facts([e1023(IMS_DN)], (IMS_DN.upper(),), {}), "Nothing to add:"),
    "IS down": (  # the log-sequence stop is KB 262375's finding (its next step), not IS-DOWN's
        fixture_facts([scm(7024, "Microsoft Exchange Information Store", "4294966781")], None, {}),
        "recover the store's log sequence",
    ),
    "IS victim of the System Attendant": (
        fixture_facts(
            [
                scm(7000, "Microsoft Exchange System Attendant", "%%2140"),
                scm(7001, "Microsoft Exchange Information Store", "Microsoft Exchange System Attendant", seconds=5),
            ],
            None,
            {},
        ),
        "Fix the System Attendant first",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rewording_titles_keeps_the_verdict(name: str) -> None:
    facts, expected = CASES[name]
    findings = run_rules(facts)
    verdict = compose_verdict(facts, findings, [])
    assert expected in verdict
    reworded = _reworded(findings)
    again = compose_verdict(facts, reworded, [])
    for old, new in zip(findings, reworded, strict=True):  # titles are only echoed, never matched
        again = again.replace(new.title, old.title)
    assert again == verdict
    assert needs_action(reworded, []) == needs_action(findings, [])


def test_kinds_decide_needs_action() -> None:
    facts: CaseFacts = fixture_facts([e1023(IMS_DN)], None, {})
    findings = run_rules(facts)
    assert any(f.kind is FindingKind.REGISTRY_NEEDED for f in findings) and needs_action(findings, [])
    plain = [dataclasses.replace(f, kind=FindingKind.CAUSE) for f in findings]
    assert not needs_action(plain, [])
