"""KB 199954: the server's own System Attendant (or DSA) is not listed — Admin cannot open the store."""

from __future__ import annotations

from analyzer.evidence import LOGONS, CaseFacts
from analyzer.model import Finding
from analyzer.rules.factories import ADMIN_DN, IMS_DN, e1023, sa_dn
from analyzer.rules.kb_sa_dsa import sa_dsa_findings
from analyzer.rules.records import Fixture, Rule

ID = "KB199954"


def check(facts: CaseFacts) -> list[Finding]:
    return sa_dsa_findings(facts, peer=False, rule=ID)


RULE = Rule(
    id=ID,
    title="System Attendant of the server not listed: the Administrator program cannot reach the store",
    references=("KB199954", "KB218920", "KB146764"),
    status="documented",
    level="error",
    diagnoses=(
        "1023 validated as the logging server's own System Attendant (or DSA) DN while Logon Only As is set or "
        "blank: add that DN (the SA must be listed for the Administrator program, KB 199954)."
    ),
    assumptions=("(inferred) the refusal shows as a 1023 with DN-A = DN-B = the SA DN",),
    check=check,
    events=LOGONS,
    rank=30,
    fixtures=(
        Fixture("own SA refused", True, (e1023(sa_dn(1)),), (IMS_DN, ADMIN_DN), dns=(sa_dn(1),)),
        Fixture("own SA refused, blank list", True, (e1023(sa_dn(1)),), "empty", dns=(sa_dn(1),)),
        Fixture("own SA listed", False, (e1023(sa_dn(1)),), (sa_dn(1), IMS_DN)),
        Fixture("peer SA is KB218920's", False, (e1023(sa_dn(2)),), (IMS_DN,)),
        Fixture("value absent", False, (e1023(sa_dn(1)),), "absent"),
    ),
)
