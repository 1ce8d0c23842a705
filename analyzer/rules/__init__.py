"""The knowledge: Python modules (one per KB article or inferred check) and YAML data rules, each a
``Rule`` with fixtures.

``run_rules(facts)`` applies every rule (pure functions of ``CaseFacts``), orders the findings by
strength of evidence and, when Exchange errors were logged but nothing explains them, adds the
NO-MATCH summary of what was checked; and ``run_fixture``/``self_test`` check each rule against its own
fixtures (``analyzer.commands.rules`` is ``analyzer rules``: list, ``--show ID``, ``--test``).  Data rules live
in ``analyzer/rules/data/*.yaml`` (format: docs/rules.md), evaluated by ``analyzer.rules.engine``.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from analyzer.evidence import CaseFacts
from analyzer.model import Finding, Severity
from analyzer.rules.base import Fixture, Rule

#: Order matters only for display; findings are sorted afterwards.
RULE_MODULES = (
    "kb306308",
    "kb218920",
    "kb199954",
    "loa_case",
    "kb146764",
    "is_down",
    "kb163243",
    "loa_unknown",
    "loa_timing",
    "kb259578",
    "kb188594",
    "kb237481",
    "kb158028",
    "kb173776",
    "kb262225",
    "no_match",
)


@functools.cache
def _loaded() -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """Python rules, then data rules (sorted by file name), and the load errors of broken data files."""
    from analyzer.rules.engine import load_data_rules

    errors: list[str] = []
    rules = [importlib.import_module(f"analyzer.rules.{name}").RULE for name in RULE_MODULES]
    rules.extend(load_data_rules(errors))
    seen: set[str] = set()
    unique = []
    for rule in rules:
        if rule.id.casefold() in seen:
            errors.append(f"{rule.origin or rule.id}: rule id {rule.id} is already used; this copy was skipped")
            continue
        seen.add(rule.id.casefold())
        unique.append(rule)
    return tuple(unique), tuple(errors)


def all_rules() -> list[Rule]:
    return list(_loaded()[0])


def load_errors() -> list[str]:
    """One line per data rule file that could not be loaded (it is skipped, the others still run)."""
    return list(_loaded()[1])


def watched_keys(rules: list[Rule] | None = None) -> list[str]:
    """Registry keys beyond Logon Only As that some rule reads (snapshotted from each export)."""
    return list(dict.fromkeys(k for r in rules or all_rules() for k in r.registry_keys))


def get_rule(rule_id: str) -> Rule | None:
    wanted = rule_id.strip().casefold().replace(" ", "")
    for rule in all_rules():
        if rule.id.casefold() == wanted or rule.id.casefold().replace("kb", "") == wanted:
            return rule
    return None


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def corroboration(f: Finding) -> int:
    """0: events and registry agree; 1: events alone; 2: registry alone; 3: neither (advice)."""
    events = any(e.key is None and e.event_id is not None for e in f.evidence)
    registry = any(e.key is not None for e in f.evidence)
    return 0 if events and registry else 1 if events else 2 if registry else 3


def _strength(f: Finding) -> tuple[int, int, int, int, int]:
    """Errors first; then findings that change the list; then event + registry corroboration before
    events alone before registry alone; then more evidence; then more events."""
    return (_SEVERITY_ORDER[f.severity], 0 if f.add_dn else 1, corroboration(f), -len(f.evidence), -f.count)


def run_rules(facts: CaseFacts, rules: list[Rule] | None = None, errors: list[str] | None = None) -> list[Finding]:
    """Every rule's findings, strongest evidence first (stable within equal strength).

    A rule that fails on unexpected input is skipped and reported in ``errors`` (when given) so that
    one bad rule never costs the user the whole diagnosis; without ``errors`` the exception propagates.
    Data rule files that could not be loaded are reported in ``errors`` too.  The NO-MATCH summary runs
    last, on the other rules' findings.
    """
    from analyzer.rules.no_match import ID as NO_MATCH
    from analyzer.rules.no_match import summarize

    chosen = rules or all_rules()
    if errors is not None and rules is None:
        errors.extend(load_errors())
    findings: list[Finding] = []
    for rule in chosen:
        if rule.id == NO_MATCH:
            continue
        try:
            findings.extend(rule.check(facts))
        except Exception as exc:
            if errors is None:
                raise
            errors.append(f"rule {rule.id} failed and was skipped ({type(exc).__name__}: {exc})")
    if any(r.id == NO_MATCH for r in chosen):
        findings.extend(summarize(facts, findings, [r for r in chosen if r.id != NO_MATCH]))
    return sorted(findings, key=_strength)


@dataclass(frozen=True)
class FixtureResult:
    rule: str
    fixture: str
    passed: bool
    problems: tuple[str, ...]


def run_fixture(rule: Rule, fixture: Fixture) -> FixtureResult:
    """Run one fixture: did the rule fire as expected, with exactly the expected DNs and replacement?"""
    problems: list[str] = []
    try:
        findings = rule.check(fixture.facts())
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
