"""KB 259578: Event Service script on a deleted mailbox — 1023 System Attendant -> mailbox, harmless."""

from __future__ import annotations

from analyzer.evidence import CaseFacts
from analyzer.model import Finding
from analyzer.rules.base import IMS_DN, Fixture, Rule, e1023, es11, sa_dn, user_dn
from analyzer.rules.lookalikes import lookalike_findings

ID = "KB259578"
TITLE = "Event Service script points at a deleted mailbox (harmless 1023, not Logon Only As)"


def check(facts: CaseFacts) -> list[Finding]:
    return lookalike_findings(facts, ID, TITLE)


_EVENTS = (e1023(sa_dn(1), user_dn("user-3")), es11(seconds=1))
RULE = Rule(
    id=ID,
    title=TITLE,
    references=(ID,),
    status="documented",
    level="info",
    diagnoses="1023 validated as the System Attendant, target a mailbox, with MSExchangeES 11 0x8004011d.",
    assumptions=("(inferred) the Event Service logs on as the System Attendant DN (DOMAIN.md §1.6)",),
    check=check,
    fixtures=(
        Fixture("SA listed, user target, ES 11", True, _EVENTS, (sa_dn(1), IMS_DN), contains=("MSExchangeES 11",)),
        Fixture("value absent", True, _EVENTS, "absent"),
        Fixture("SA self-logon is not this", False, (e1023(sa_dn(1)),), "absent"),
        Fixture("SA not listed: Logon Only As first", False, _EVENTS, (IMS_DN,)),
    ),
)
