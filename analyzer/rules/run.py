"""Running the rules on one case: every rule's findings, strongest evidence first.

The NO-MATCH summary (``analyzer.rules.no_match``) runs last, on the other rules' findings, so that
Exchange errors no rule explains are never reported as "nothing found".
"""

from __future__ import annotations

from analyzer.evidence import CaseFacts
from analyzer.model import Finding, Severity
from analyzer.rules import all_rules, load_errors
from analyzer.rules.no_match import ID as NO_MATCH
from analyzer.rules.no_match import summarize
from analyzer.rules.records import Rule

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def corroboration(f: Finding) -> int:
    """0: events and registry agree; 1: events alone; 2: registry alone; 3: neither (advice)."""
    events = any(e.key is None and e.event_id is not None for e in f.evidence)
    registry = any(e.key is not None for e in f.evidence)
    return 0 if events and registry else 1 if events else 2 if registry else 3


def strength(f: Finding) -> tuple[int, int, int, int, int]:
    """Errors first; then findings that change the list; then event + registry corroboration before
    events alone before registry alone; then more evidence; then more events."""
    return (_SEVERITY_ORDER[f.severity], 0 if f.add_dn else 1, corroboration(f), -len(f.evidence), -f.count)


def run_rules(facts: CaseFacts, rules: list[Rule] | None = None, errors: list[str] | None = None) -> list[Finding]:
    """Every rule's findings, strongest evidence first (stable within equal strength).

    A rule that fails on unexpected input is skipped and reported in ``errors`` (when given) so that
    one bad rule never costs the user the whole diagnosis; without ``errors`` the exception propagates.
    Rule files that could not be loaded are reported in ``errors`` too.
    """
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
    return sorted(findings, key=strength)
