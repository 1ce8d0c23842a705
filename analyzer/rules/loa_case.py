"""LOA-CASE: the refused DN is listed, but with different letter case.

Counted as listed (DNs appear in mixed and upper case interchangeably in Exchange's own events), but
how the IS compares entries is undocumented, so the finding says so and suggests retyping the entry
exactly if the refusals happened after an IS restart with this list.
"""

from __future__ import annotations

from analyzer.evidence import LOGONS, CaseFacts
from analyzer.model import Finding, FindingKind, Severity
from analyzer.rules.factories import IMS_DN, e1023, imc
from analyzer.rules.logic import by_dn_a, match_list, refusal_groups, span
from analyzer.rules.records import Fixture, Rule

ID = "LOA-CASE"
ASSUMPTION = "(unverified) the IS compares Logon Only As entries ignoring letter case"


def check(facts: CaseFacts) -> list[Finding]:
    if facts.logon_only_as.state != "set":
        return []
    out: list[Finding] = []
    for groups in by_dn_a(refusal_groups(facts)).values():
        first = groups[0]
        match = match_list(facts, first.dn_a, near=False)
        if not match.case_only:
            continue
        events = [e for g in groups for e in g.events]
        begin, end = span(e.time for e in events)
        out.append(
            Finding(
                rule=ID,
                severity=Severity.WARNING,
                title=f"{first.info.label} is listed, but in different letter case",
                explanation=(
                    f"The list holds {match.held_by!r}, which differs from the refused DN {first.dn_a!r} only in "
                    "letter case; it counts as listed, so no DN is added. How the IS compares entries is not "
                    "documented. The value only takes effect when the IS restarts: if the refusals happened after "
                    "an IS restart with this entry, retype it exactly as the event writes it, then restart the IS"
                    + (" and then the IMS." if first.info.key == "internet mail connector" else ".")
                ),
                component=first.info.label,
                dn=first.dn_a,
                account=", ".join(sorted({e.account for e in events if e.account})) or None,
                count=len(events),
                first_seen=begin,
                last_seen=end,
                evidence=tuple(e.ref for e in events),
                references=("KB146764", "KB306308"),
                assumptions=(ASSUMPTION,),
                kind=FindingKind.CASE_ONLY,
            )
        )
    return out


RULE = Rule(
    id=ID,
    title="Refused DN listed with different letter case (counted as listed)",
    references=("KB146764",),
    status="inferred",
    level="warning",
    diagnoses="A 1023's validated-as DN equals a list entry except for letter case.",
    assumptions=(ASSUMPTION,),
    check=check,
    events=LOGONS,
    rank=40,
    fixtures=(
        Fixture("upper-cased entry", True, (e1023(IMS_DN), imc(4018, seconds=1)), (IMS_DN.upper(),)),
        Fixture("exact entry", False, (e1023(IMS_DN),), (IMS_DN,)),
        Fixture("blank-space near miss is not case", False, (e1023(IMS_DN),), (IMS_DN.replace(" Mail", "  Mail"),)),
    ),
)
