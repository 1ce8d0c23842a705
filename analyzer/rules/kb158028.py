"""KB 158028: validated-as and target DN in different organisations/sites — a stale profile after a rename."""

from __future__ import annotations

from analyzer.evidence import CaseFacts
from analyzer.model import Finding
from analyzer.rules.base import Fixture, Rule, e1023, user_dn
from analyzer.rules.lookalikes import lookalike_findings

ID = "KB158028"
TITLE = "Client profile from before an organisation/site rename (1023, not Logon Only As)"
OLD_DN = "/o=OldOrg/ou=Berlin/cn=Recipients/cn=jdoe"


def check(facts: CaseFacts) -> list[Finding]:
    return lookalike_findings(facts, ID, TITLE)


RULE = Rule(
    id=ID,
    title=TITLE,
    references=(ID,),
    status="documented",
    level="info",
    diagnoses="1023 whose DN-A and DN-B differ in /o or /ou.",
    assumptions=(),
    check=check,
    fixtures=(
        Fixture("different /o", True, (e1023(user_dn("jdoe"), OLD_DN),), "absent", contains=("profile",)),
        Fixture("same org and site", False, (e1023(user_dn("jdoe"), user_dn("boss")),), "absent"),
    ),
)
