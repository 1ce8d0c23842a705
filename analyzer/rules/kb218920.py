"""KB 218920: moving mailboxes between two servers while logons are limited — the peer's SA/DSA refused."""

from __future__ import annotations

from analyzer.evidence import LOGONS, CaseFacts
from analyzer.model import Finding
from analyzer.rules.factories import dsa_dn, e1023, sa_dn
from analyzer.rules.kb_sa_dsa import sa_dsa_findings
from analyzer.rules.records import Fixture, Rule

ID = "KB218920"


def check(facts: CaseFacts) -> list[Finding]:
    return sa_dsa_findings(facts, peer=True, rule=ID)


_MOVE = (e1023(sa_dn(2)), e1023(dsa_dn(2), seconds=1))
RULE = Rule(
    id=ID,
    title="Move mailbox with limited logons: the other server's System Attendant / DSA is not listed",
    references=("KB218920", "KB146764"),
    status="inferred",
    level="error",
    diagnoses=(
        "1023 on one server validated as the System Attendant or DSA DN of another server while Logon Only As is "
        "set: add those DNs (both servers' SA and DSA belong on each server doing the move)."
    ),
    assumptions=("(inferred) the failed move surfaces as a 1023 with the peer's SA/DSA DN; KB 218920 gives no event",),
    check=check,
    events=LOGONS,
    rank=20,
    fixtures=(
        Fixture("peer SA and DSA refused", True, _MOVE, (sa_dn(1), dsa_dn(1)), dns=(sa_dn(2), dsa_dn(2))),
        Fixture(
            "peer SA only: the DSA is named, not invented",
            True,
            (e1023(sa_dn(2)),),
            (sa_dn(1), dsa_dn(1)),
            dns=(sa_dn(2),),
            contains=("Obj-Dist-Name",),
        ),
        Fixture("peer DNs listed", False, _MOVE, (sa_dn(1), dsa_dn(1), sa_dn(2), dsa_dn(2))),
        Fixture("own SA refused is KB199954's", False, (e1023(sa_dn(1)),), (dsa_dn(1),)),
        Fixture("value absent", False, _MOVE, "absent"),
    ),
)
