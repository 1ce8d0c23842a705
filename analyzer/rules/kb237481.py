"""KB 237481: Mailbox Manager cleaning remote mailboxes logs harmless 1023s (add-in identity)."""

from __future__ import annotations

from analyzer.evidence import CaseFacts
from analyzer.model import Finding
from analyzer.rules.base import ORG, Fixture, Rule, e1023, user_dn
from analyzer.rules.lookalikes import lookalike_findings

ID = "KB237481"
TITLE = "Mailbox Manager acting on remote mailboxes (harmless 1023, not Logon Only As)"
MCA_DN = f"{ORG}/cn=Configuration/cn=Add-Ins/cn=EXCH02"


def check(facts: CaseFacts) -> list[Finding]:
    return lookalike_findings(facts, ID, TITLE)


RULE = Rule(
    id=ID,
    title=TITLE,
    references=(ID,),
    status="inferred",
    level="info",
    diagnoses="1023 validated as a cn=Add-Ins object with a mailbox as target while no restriction applies.",
    assumptions=("(inferred) Mailbox Manager logs on as cn=Configuration/cn=Add-Ins/cn=<server>",),
    check=check,
    fixtures=(
        Fixture("add-in -> mailbox, value absent", True, (e1023(MCA_DN, user_dn("jdoe")),), "absent"),
        Fixture("add-in self-logon", False, (e1023(MCA_DN),), "absent"),
    ),
)
