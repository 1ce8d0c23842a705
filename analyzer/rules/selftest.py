"""The rules' self-test: run each fixture and say what differs from the expected outcome."""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.rules import all_rules, watched_events
from analyzer.rules.records import Fixture, Rule


@dataclass(frozen=True)
class FixtureResult:
    rule: str
    fixture: str
    passed: bool
    problems: tuple[str, ...]


def run_fixture(rule: Rule, fixture: Fixture) -> FixtureResult:
    """Run one fixture: did the rule fire as expected, with exactly the expected DNs and replacement?

    The fixture's case keeps the events every loaded rule reads (and the rule's own), as a diagnosis does."""
    problems: list[str] = []
    try:
        findings = rule.check(fixture.facts(watched_events([*all_rules(), rule])))
    except Exception as exc:  # a failing rule is a failed fixture, not a crash of the self-test
        return FixtureResult(rule.id, fixture.name, False, (f"raised {type(exc).__name__}: {exc}",))
    mine = [f for f in findings if f.rule == rule.id]
    fired = bool(mine)
    if fired != fixture.fires:
        problems.append(
            f"expected the rule {'to fire' if fixture.fires else 'not to fire'}, it {'did' if fired else 'did not'}"
        )
    dns = [f.dn for f in mine if f.add_dn]
    if sorted(d or "" for d in dns) != sorted(fixture.dns):
        problems.append(f"dns_to_add {dns} != expected {list(fixture.dns)}")
    replaces = next((f.replaces for f in mine if f.replaces), None)
    if replaces != fixture.replaces:
        problems.append(f"replaces {replaces!r} != expected {fixture.replaces!r}")
    if fixture.severity is not None and mine and not any(f.severity.value == fixture.severity for f in mine):
        problems.append(f"severity {[f.severity.value for f in mine]} != expected {fixture.severity!r}")
    text = " ".join(f.explanation + " " + f.title for f in mine)
    for word in fixture.contains:
        if word.casefold() not in text.casefold():
            problems.append(f"explanation lacks {word!r}")
    return FixtureResult(rule.id, fixture.name, not problems, tuple(problems))


def self_test(rules: list[Rule] | None = None) -> list[FixtureResult]:
    return [run_fixture(rule, fx) for rule in rules or all_rules() for fx in rule.fixtures]
