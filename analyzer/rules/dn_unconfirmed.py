"""DN-UNCONFIRMED: the store refused a logon (1023) but the refused DN cannot be read safely from the input.

Why a rule of its own: a DN the analyzer proposes is pasted into the customer's registry, so it is only
ever taken verbatim from insertion strings, through a message template known to match the message, or
when the message names the same component twice (``analyzer.dn_source``).  A localised text export with
no matching template, or strings cut apart by a tool, gives none of these: the refusal is reported with
its raw text, no DN is proposed, and the user is told what to collect to get the exact DN.
"""

from __future__ import annotations

import dataclasses

from analyzer.evidence import LOGONS, CaseFacts
from analyzer.model import Event, Finding, FindingKind, Severity
from analyzer.rules.factories import IMS_DN, e1023
from analyzer.rules.logic import span
from analyzer.rules.records import Fixture, Rule

ID = "DN-UNCONFIRMED"
COLLECT = (
    "To get the exact DN, collect the Application log itself (%SystemRoot%\\System32\\Config\\AppEvent.Evt, "
    "copied or saved as .evt from Event Viewer), or a text export made on a machine that has the Exchange "
    "message files (the Exchange server itself)."
)


def check(facts: CaseFacts) -> list[Finding]:
    pending = facts.evidence.unconfirmed
    if not pending:
        return []
    first, last = span(u.time for u in pending)
    texts = list(dict.fromkeys(u.text for u in pending if u.text))
    shown = "; ".join(f"“{t}”" for t in texts[:3]) + (f" and {len(texts) - 3} more" if len(texts) > 3 else "")
    reasons = list(dict.fromkeys(u.reason for u in pending))
    return [
        Finding(
            rule=ID,
            severity=Severity.WARNING,
            title="Logon refused (1023), but the refused DN cannot be read safely",
            explanation=(
                f"The IS refused {len(pending)} logon(s) (1023) whose DN could not be taken from the input without "
                f"guessing where it ends ({reasons[0]}). As found: {shown}. No DN is proposed for them. " + COLLECT
            ),
            count=len(pending),
            first_seen=first,
            last_seen=last,
            evidence=tuple(u.ref for u in pending),
            references=("KB306308",),
            kind=FindingKind.DN_UNCONFIRMED,
        )
    ]


def _rendered_1023(message: str) -> Event:
    """A 1023 as a localised text export holds it: the rendered description and no insertion strings."""
    return dataclasses.replace(e1023(IMS_DN), strings=(), message=message)


_GERMAN_DN = "/o=Contoso/ou=Koeln/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCHKOELN)"

RULE = Rule(
    id=ID,
    title="Refused logon whose DN cannot be read safely: what to collect",
    references=("KB306308",),
    status="inferred",
    level="warning",
    diagnoses="1023 refusals in a text export whose description no known message template matches.",
    assumptions=(
        "(inferred) a description that no known template matches cannot show where a DN ends; only the "
        "insertion strings of the record, or a rendering with the Exchange message files, can",
    ),
    check=check,
    events=LOGONS,
    rank=85,
    fixtures=(
        Fixture(
            "German description, two different DNs",
            True,
            (
                _rendered_1023(
                    f"CONTOSO\\exsvc wurde als {_GERMAN_DN} bestätigt, konnte sich aber nicht bei "
                    "/o=Contoso/ou=Koeln/cn=Recipients/cn=jdoe anmelden."
                ),
            ),
            None,
            contains=("AppEvent.Evt", "bestätigt", "message files"),
        ),
        Fixture(
            "German description naming one component twice",
            False,
            (
                _rendered_1023(
                    f"CONTOSO\\exsvc wurde als {_GERMAN_DN} bestätigt, konnte sich aber nicht bei {_GERMAN_DN} "
                    "anmelden."
                ),
            ),
            None,
        ),
        Fixture("insertion strings", False, (e1023(IMS_DN),), None),
    ),
)
