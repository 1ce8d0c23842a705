"""IS-DOWN: the Information Store itself failed — Logon Only As only matters while the IS runs.

SCM 7000/7023/7024/7031 for "Microsoft Exchange Information Store", or 7001 "X depends on the
Information Store", mean the store did not run.  With 7024 and service-specific error 4294966781
(JET_errInvalidLogSequence) KB 262375 names transaction logs out of sequence, typically antivirus
scanning the Exchsrvr folders.
"""

from __future__ import annotations

from analyzer.evidence import SCM_FAILURES, CaseFacts
from analyzer.model import Finding, Severity
from analyzer.rules.factories import IMS_DN, e1023, scm
from analyzer.rules.logic import span
from analyzer.rules.records import Fixture, Rule

ID = "IS-DOWN"
JET_INVALID_LOG_SEQUENCE = 4294966781


def check(facts: CaseFacts) -> list[Finding]:
    ev = facts.evidence
    own = [s for s in ev.services if s.service == "MSExchangeIS" and s.event_id in (7000, 7023, 7024, 7031)]
    dependants = [s for s in ev.services if s.event_id == 7001 and s.depends_on == "MSExchangeIS"]
    if not own and not dependants:
        return []
    events = own + dependants
    log_seq = [s for s in own if s.event_id == 7024 and s.code == JET_INVALID_LOG_SEQUENCE]
    text = (
        "The Service Control Manager reports that the Information Store itself failed ("
        + ", ".join(dict.fromkeys(f"{s.event_id} {s.service_name}" for s in events))
        + "). Services that need it (the IMS, the Event Service) cannot start either. Logon Only As cannot be the "
        "cause: it only decides who may log on while the IS runs."
    )
    refs = ["KB262375"] if log_seq else []
    if log_seq:
        text += (
            " Service-specific error 4294966781 (JET_errInvalidLogSequence): the transaction logs are out of "
            "sequence, typically because antivirus software scanned the Exchsrvr folders (KB 262375)."
        )
    if ev.refusals:
        text += (
            f" {len(ev.refusals)} 1023 refusal(s) were also logged, so the IS ran at other times; judge them against "
            "the IS runs they belong to."
        )
    first, last = span(s.time for s in events)
    return [
        Finding(
            rule=ID,
            severity=Severity.ERROR,
            title="The Information Store itself is down (not Logon Only As)",
            explanation=text,
            component="Information Store",
            count=len(events),
            first_seen=first,
            last_seen=last,
            evidence=tuple(s.ref for s in events),
            references=tuple(refs),
        )
    ]


def advice(finding: Finding) -> str:
    """The verdict's next step: repair the store first (KB 262375's cause when its error code was logged)."""
    if "KB262375" in finding.references:
        return (
            " Service-specific error 4294966781: transaction logs out of sequence, typically antivirus scanning "
            "Exchsrvr (KB 262375); repair the store first."
        )
    return " Find why the store stopped (System log, SCM events) before looking at logons."


_DOWN = (
    scm(7024, "Microsoft Exchange Information Store", "4294966781"),
    scm(
        7001,
        "Microsoft Exchange Internet Mail Service",
        "Microsoft Exchange Information Store",
        "%%4294966781",
        seconds=40,
    ),
)
RULE = Rule(
    id=ID,
    title="Information Store down: the cause is the IS, not Logon Only As",
    references=("KB262375",),
    status="documented",
    level="error",
    diagnoses="SCM 7000/7023/7024/7031 for the Information Store or 7001 naming it as the failed dependency.",
    assumptions=("(inferred) the SCM events are in the System log even where KB 262375 shows 7024 under MSExchangeIS",),
    check=check,
    events=SCM_FAILURES,
    advice=advice,
    rank=60,
    fixtures=(
        Fixture("7024 4294966781 + 7001", True, _DOWN, (IMS_DN,), contains=("KB 262375",)),
        Fixture(
            "7001 only",
            True,
            (scm(7001, "Microsoft Exchange Event Service", "Microsoft Exchange Information Store"),),
            None,
        ),
        Fixture("IMS failure only", False, (scm(7023, "Microsoft Exchange Internet Mail Service", "%%2140"),), None),
        Fixture("refusal, IS running", False, (e1023(IMS_DN),), (IMS_DN,)),
    ),
)
