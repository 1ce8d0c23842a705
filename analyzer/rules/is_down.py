"""IS-DOWN: the Information Store did not run — Logon Only As only matters while the IS runs.

SCM 7000/7023/7024/7031 for "Microsoft Exchange Information Store" mean the store's own start failed; a 7001
"the Information Store depends on the System Attendant (or Directory), which failed to start" means the store
is the victim of that service's failure, and the finding names the failing service as the cause; a 7001 "X
depends on the Information Store" alone says only that the store was not running.  The log-sequence stop
(7024 with service-specific error 4294966781) is KB 262375's own finding.
"""

from __future__ import annotations

from analyzer.evidence import EXCHANGE_SERVICES, SCM_FAILURES, CaseFacts
from analyzer.model import Finding, Severity
from analyzer.rules.factories import IMS_DN, e1023, scm
from analyzer.rules.logic import span
from analyzer.rules.records import Fixture, Rule

ID = "IS-DOWN"
JET_INVALID_LOG_SEQUENCE = 4294966781


#: Services the store needs (it logs 7001 naming them when they fail first).
DEPENDENCIES = ("MSExchangeSA", "MSExchangeDS")


def check(facts: CaseFacts) -> list[Finding]:
    ev = facts.evidence
    own_all = [s for s in ev.services if s.service == "MSExchangeIS" and s.event_id in (7000, 7023, 7024, 7031)]
    log_seq = [s for s in own_all if s.event_id == 7024 and s.code == JET_INVALID_LOG_SEQUENCE]
    own = [s for s in own_all if s not in log_seq]  # the log-sequence stop is KB 262375's own finding
    victim = [s for s in ev.services if s.event_id == 7001 and s.service == "MSExchangeIS" and s.depends_on]
    dependants = [s for s in ev.services if s.event_id == 7001 and s.depends_on == "MSExchangeIS"]
    if log_seq and not own and not victim:
        return []  # KB262375 names the cause; the services that needed the store are its corroboration
    if not own and not victim and not dependants:
        return []
    causes = list(dict.fromkeys(s.depends_on for s in victim if s.depends_on))
    failed = [s for s in ev.services if s.service in causes and s.event_id in (7000, 7001, 7023, 7024, 7031)]
    events = list(dict.fromkeys([*own, *victim, *failed, *dependants]))
    listed = ", ".join(dict.fromkeys(f"{s.event_id} {s.service_name}" for s in events))
    lead = "Logon Only As cannot be the cause: it only decides who may log on while the IS runs."
    if own:
        title = "The Information Store itself failed (not Logon Only As)"
        component = "Information Store"
        text = (
            f"The Service Control Manager reports that the Information Store itself failed ({listed}). Services "
            f"that need it (the IMS, the Event Service) cannot start either. {lead}"
        )
    elif victim:
        names = [EXCHANGE_SERVICES[c][0] if c in EXCHANGE_SERVICES else c for c in causes]
        cause = " and the ".join(names)
        title = f"The Information Store did not start because the {cause} failed (not Logon Only As)"
        component = names[0]
        text = (
            f"The Service Control Manager logged that the Information Store depends on the {cause}, which failed to "
            f"start ({listed}): the store is a victim of that failure, not its cause, and so are the services that "
            f"need the store. Find why the {cause} failed first (its own SCM events and its events in the "
            f"Application log); the store and the services after it start once it runs. {lead}"
        )
    else:
        title = "The Information Store was not running (not Logon Only As)"
        component = "Information Store"
        text = (
            f"Services that need the Information Store could not start because it did not ({listed}); the logs "
            "show no failure of the store's own start, so look in the System log for why it did not run. " + lead
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
            title=title,
            explanation=text,
            component=component,
            count=len(events),
            first_seen=first,
            last_seen=last,
            evidence=tuple(s.ref for s in events),
            references=(),
        )
    ]


def advice(finding: Finding) -> str:
    """The verdict's next step: the failing dependency first, else why the store itself stopped."""
    if finding.component and finding.component != "Information Store":
        return f" Fix the {finding.component} first; the store and the services that need it start after it."
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
    title="Information Store down (its own failure, or a failed dependency): not Logon Only As",
    references=("KB262375",),
    status="documented",
    level="error",
    diagnoses=(
        "SCM 7000/7023/7024/7031 for the Information Store (its own failure), 7001 for the store naming the System "
        "Attendant or Directory (the dependency's failure), or 7001 naming the store as the failed dependency."
    ),
    assumptions=("(inferred) the SCM events are in the System log even where KB 262375 shows 7024 under MSExchangeIS",),
    check=check,
    events=SCM_FAILURES,
    advice=advice,
    rank=60,
    fixtures=(
        Fixture("7024 4294966781 + 7001 is KB 262375's", False, _DOWN, (IMS_DN,)),
        Fixture(
            "store's own start failed",
            True,
            (scm(7000, "Microsoft Exchange Information Store", "%%1069"), *_DOWN[1:]),
            (IMS_DN,),
            contains=("itself failed",),
        ),
        Fixture(
            "store victim of the System Attendant",
            True,
            (
                scm(7000, "Microsoft Exchange System Attendant", "%%2140"),
                scm(7001, "Microsoft Exchange Information Store", "Microsoft Exchange System Attendant", "%%2140",
                    seconds=5),
                scm(7001, "Microsoft Exchange Internet Mail Service", "Microsoft Exchange Information Store", "%%1068",
                    seconds=9),
            ),
            None,
            contains=("because the System Attendant failed", "victim"),
        ),
        Fixture(
            "7001 only",
            True,
            (scm(7001, "Microsoft Exchange Event Service", "Microsoft Exchange Information Store"),),
            None,
            contains=("was not running",),
        ),
        Fixture("IMS failure only", False, (scm(7023, "Microsoft Exchange Internet Mail Service", "%%2140"),), None),
        Fixture("refusal, IS running", False, (e1023(IMS_DN),), (IMS_DN,)),
    ),
)  # fmt: skip
