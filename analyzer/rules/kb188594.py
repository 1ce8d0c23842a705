"""KB 188594: MBClean run against another server's mailboxes logs harmless 1023s."""

from __future__ import annotations

from analyzer.evidence import CaseFacts
from analyzer.model import Finding
from analyzer.rules.base import ORG, Fixture, Rule, e1023, user_dn
from analyzer.rules.lookalikes import lookalike_findings

ID = "KB188594"
TITLE = "MBClean acting on remote mailboxes (harmless 1023, not Logon Only As)"
MBCLEAN_DN = f"{ORG}/cn=Recipients, Utility/cn=MSExchangeMCA"


def check(facts: CaseFacts) -> list[Finding]:
    return lookalike_findings(facts, ID, TITLE)


RULE = Rule(
    id=ID,
    title=TITLE,
    references=(ID,),
    status="inferred",
    level="info",
    diagnoses="1023 validated as cn=Recipients, Utility/cn=MSExchangeMCA (MBClean) while no restriction applies.",
    assumptions=("(inferred) MBClean's identity is the DN printed in KB 188594",),
    check=check,
    fixtures=(
        Fixture("MBClean DN, value absent", True, (e1023(MBCLEAN_DN, user_dn("jdoe")),), "absent"),
        Fixture("ordinary mailbox", False, (e1023(user_dn("jdoe")),), "absent"),
    ),
)
