"""KB 173776: IMAP4/POP3 logon to a custom recipient (no mailbox) — 1023 with IMAP4 13003, by design."""

from __future__ import annotations

from analyzer.evidence import CaseFacts
from analyzer.model import EventType, Finding
from analyzer.rules.base import Fixture, Rule, e1023, event, user_dn
from analyzer.rules.lookalikes import lookalike_findings

ID = "KB173776"
TITLE = "IMAP4/POP3 logon to a custom recipient (1023 by design, not Logon Only As)"


def check(facts: CaseFacts) -> list[Finding]:
    return lookalike_findings(facts, ID, TITLE)


_IMAP = event(13003, "IMAP4Svc", ("jdoe",), type=EventType.ERROR, seconds=1)
RULE = Rule(
    id=ID,
    title=TITLE,
    references=(ID,),
    status="documented",
    level="info",
    diagnoses="1023 for a recipient with an IMAP4 13003 logged at the same time.",
    assumptions=("(inferred) the IMAP4 event source is named IMAP4Svc / IMAP4",),
    check=check,
    fixtures=(
        Fixture("1023 + 13003", True, (e1023(user_dn("custom")), _IMAP), "absent"),
        Fixture("1023 alone", False, (e1023(user_dn("custom")),), "absent"),
    ),
)
