"""NO-MATCH: Exchange errors were logged but no rule explains them — say what was checked.

Why: a report that lists nothing when the logs hold 4018s or SCM failures reads like "all is well".
This summary runs after every other rule (``run_rules`` calls ``summarize`` with their findings) and
fires only when none of them produced an error or a warning while Exchange errors exist in the kept
evidence.  It names the rules that were checked, the errors seen, and the artefacts that are missing
and would settle the question.  Only events of the IDs the rules read are kept (the pushdown filter),
so errors of other IDs are not seen: the finding says so.
"""

from __future__ import annotations

from analyzer.evidence import IMC_FAILURES, SCM_FAILURE_IDS, SCM_FAILURES, SCM_STATES, CaseFacts, EventNeed
from analyzer.model import EvidenceRef, Finding, FindingKind, Severity
from analyzer.rules import all_rules
from analyzer.rules.factories import IMS_DN, e1023, es11, event, imc, sa_dn, scm, user_dn
from analyzer.rules.logic import span
from analyzer.rules.records import Fixture, Rule

ID = "NO-MATCH"


def exchange_errors(facts: CaseFacts) -> list[EvidenceRef]:
    """Error events about Exchange in the kept evidence (IMC failures, SCM failures, watched errors);
    ones that a finding already cites are removed by ``summarize``."""
    ev = facts.evidence
    refs = [e.ref for e in ev.imc]
    refs += [s.ref for s in ev.services if s.event_id in SCM_FAILURE_IDS]
    refs += [e.ref for e in ev.raw if e.type == "error"]
    return list({(r.path, r.record, r.event_id, r.source): r for r in refs}.values())


def summarize(facts: CaseFacts, findings: list[Finding], rules: list[Rule]) -> list[Finding]:
    if any(f.severity in (Severity.ERROR, Severity.WARNING) for f in findings):
        return []
    explained = {(r.path, r.record, r.event_id) for f in findings for r in f.evidence}
    errors = [r for r in exchange_errors(facts) if (r.path, r.record, r.event_id) not in explained]
    if not errors:
        return []
    labels: dict[str, int] = {}
    for r in errors:
        label = f"{'SCM' if (r.source or '').casefold() == 'service control manager' else r.source} {r.event_id}"
        labels[label] = labels.get(label, 0) + 1
    seen = ", ".join(f"{k} ({n}×)" if n > 1 else k for k, n in labels.items())
    checked = ", ".join(r.id for r in rules)
    missing: list[str] = []
    if not any(s.event_id in SCM_FAILURE_IDS or s.state for s in facts.evidence.services):
        missing.append(
            "no Service Control Manager event about an Exchange service was seen: if the System log was not "
            "included, send it (SysEvent.Evt)"
        )
    if not facts.registry_read:
        missing.append(
            "no registry export was read: send the SYSTEM hive (and the SOFTWARE hive for the RPC check of KB 267573)"
        )
    else:
        uncovered = [k.requested for k in facts.registry.keys.values() if k.present is None]
        if uncovered:
            missing.append("the registry exports do not cover " + "; ".join(uncovered))
    text = (
        f"Exchange errors were logged ({seen}) but none of the {len(rules)} rules matches them, so the "
        f"analyzer cannot name a cause. Checked: {checked}; Logon Only As is "
        f"{facts.logon_only_as.state if facts.logon_only_as.state != 'empty' else 'blank'}. Only the event IDs "
        "the rules read are kept from the logs, so errors of other IDs were not examined."
    )
    if missing:
        text += " Missing artefacts: " + "; ".join(missing) + "."
    first, last = span(r.time for r in errors)
    return [
        Finding(
            rule=ID,
            severity=Severity.INFO,
            title="Exchange errors found, but no known cause matches (what was checked)",
            explanation=text,
            count=len(errors),
            first_seen=first,
            last_seen=last,
            evidence=tuple(errors),
            kind=FindingKind.NO_MATCH,
        )
    ]


def check(facts: CaseFacts) -> list[Finding]:
    """Stand-alone form (fixtures, ``analyzer rules --test``): run the other rules first."""
    others = [r for r in all_rules() if r.id != ID]
    return summarize(facts, [f for r in others for f in r.check(facts)], others)


#: Errors kept whole so that the summary counts them and names where they were logged (the data rules'
#: events are kept whole too): the IMC start failures and the Event Service's script errors.
WHOLE = (
    EventNeed("MSExchangeIMC", frozenset({4018, 4086, 4116}), whole=True),
    EventNeed("MSExchangeES", frozenset({5, 11}), whole=True),
)
_UNKNOWN_MTA = event(9999, "MSExchangeMTA", ("x",))  # an MTA error no rule knows (and not watched: not kept)
RULE = Rule(
    id=ID,
    title="Exchange errors that no rule explains: what was checked, what is missing",
    references=(),
    status="inferred",
    level="info",
    diagnoses="An Exchange error (IMC, SCM failure of an Exchange service, watched MTA/SA/DS/ES error) with no "
    "error or warning finding from any other rule.",
    assumptions=(),
    check=check,
    events=IMC_FAILURES + SCM_FAILURES + SCM_STATES + WHOLE,
    rank=160,
    fixtures=(
        Fixture(
            "SCM failure of the MTA, nothing else",
            True,
            (scm(7023, "Microsoft Exchange Message Transfer Agent", "%%2140"),),
            None,
            contains=("send the SYSTEM hive", "Checked:"),
        ),
        Fixture(
            "IMC 4116 alone, registry read",
            True,
            (imc(4116),),
            "absent",
            contains=("System log",),
        ),
        Fixture("a rule explains it", False, (e1023(IMS_DN), imc(4018, seconds=1)), ("x",)),
        Fixture(
            "an info finding cites the error (KB 259578)", False, (e1023(sa_dn(1), user_dn("u")), es11()), "absent"
        ),
        Fixture("no Exchange error", False, (_UNKNOWN_MTA,), "absent"),
    ),
)
