"""Every rule's own fixtures, the fixture runner itself, ordering, and ``analyzer rules``."""

from __future__ import annotations

import dataclasses
import json

import pytest

from analyzer.cli import main
from analyzer.evidence import CaseFacts, collect
from analyzer.model import Severity
from analyzer.rules import all_rules, get_rule
from analyzer.rules.factories import ADMIN_DN, IMS_DN, e1023, imc, logon_only_as_of, sa_dn, user_dn
from analyzer.rules.run import run_rules
from analyzer.rules.selftest import run_fixture

RULES = all_rules()
FIXTURES = [pytest.param(r, f, id=f"{r.id}-{f.name}") for r in RULES for f in r.fixtures]


@pytest.mark.parametrize(("rule", "fixture"), FIXTURES)
def test_fixture(rule, fixture) -> None:
    result = run_fixture(rule, fixture)
    assert result.passed, result.problems


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_metadata_and_both_kinds_of_fixture(rule) -> None:
    assert rule.id and rule.title and rule.diagnoses
    assert rule.status in ("documented", "inferred")
    assert rule.level in ("error", "warning", "info")
    assert any(f.fires for f in rule.fixtures), "needs a positive fixture"
    assert any(not f.fires for f in rule.fixtures), "needs a negative fixture"
    for ref in rule.references:
        assert ref.startswith("KB") and ref[2:].isdigit()


def test_rule_ids_unique() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))


def test_runner_detects_wrong_expectations() -> None:
    rule = get_rule("KB306308")
    assert rule is not None
    good = rule.fixtures[0]
    assert run_fixture(rule, good).passed
    for change in ({"fires": False}, {"dns": ()}, {"replaces": "x"}, {"contains": ("no such words",)}):
        bad = dataclasses.replace(good, **change)
        assert not run_fixture(rule, bad).passed, change


def test_get_rule_accepts_number() -> None:
    assert get_rule("306308") is get_rule("kb306308") is not None
    assert get_rule("nope") is None


def test_findings_ordered_by_strength() -> None:
    facts = CaseFacts(
        collect([e1023(user_dn("jdoe")), e1023(IMS_DN, seconds=5), imc(4018, seconds=6)]),
        logon_only_as_of((sa_dn(1), ADMIN_DN)),
    )
    findings = run_rules(facts)
    severities = [f.severity for f in findings]
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    assert severities == sorted(severities, key=order.__getitem__)
    assert findings[0].rule == "KB306308" and findings[0].add_dn


def test_rules_are_pure() -> None:
    facts = CaseFacts(collect([e1023(IMS_DN)]), logon_only_as_of((sa_dn(1),)))
    first = [f.to_dict() for f in run_rules(facts)]
    assert [f.to_dict() for f in run_rules(facts)] == first
    assert facts.logon_only_as.entries == [sa_dn(1)]


def test_cli_list_show_test(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert all(r.id in out for r in RULES)
    assert main(["rules", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["id"] for d in data} == {r.id for r in RULES}
    assert main(["rules", "--show", "KB306308"]) == 0
    out = capsys.readouterr().out
    assert "Fixtures:" in out and "Internet Mail Connector (EXCH01)" in out
    assert main(["rules", "--show", "KB218920", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["fixtures"]
    assert main(["rules", "--show", "KB000001"]) == 2
    assert "unknown rule" in capsys.readouterr().err
    assert main(["rules", "--test"]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out and "FAIL" not in out


def test_cli_test_exit_1_on_failure(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import analyzer.rules.selftest as selftest

    rule = RULES[0]
    broken = dataclasses.replace(rule, fixtures=(dataclasses.replace(rule.fixtures[0], fires=False),))
    monkeypatch.setattr(selftest, "all_rules", lambda: [broken])
    assert main(["rules", "--test"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_failing_rule_is_reported_not_fatal() -> None:
    broken = dataclasses.replace(RULES[0], check=lambda facts: 1 / 0)
    facts = CaseFacts(collect([e1023(IMS_DN)]), logon_only_as_of((sa_dn(1),)))
    errors: list[str] = []
    assert run_rules(facts, [broken, get_rule("KB262225")], errors) != []
    assert errors and "ZeroDivisionError" in errors[0]
    with pytest.raises(ZeroDivisionError):
        run_rules(facts, [broken])
