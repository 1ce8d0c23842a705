"""LOA-TIMING: the list changed after the refusals — it may already be fixed, but only an IS restart applies it.

The IS reads Logon Only As when it starts (KB 146764, 218920, 199954).  When the key's last-write time
(hives, regedt32 text) is later than the last refusal, the export shows the list *after* a change the
logs do not reflect.  IS (re)starts are placed with SCM 7036 "entered the running state" events —
their use here is (inferred): no KB article used here documents an MSExchangeIS start/stop event ID.
"""

from __future__ import annotations

from datetime import timedelta

from analyzer.evidence import LOGONS, SCM_STATES, CaseFacts, before, comparable
from analyzer.model import EvidenceRef, Finding, FindingKind, Severity
from analyzer.rules.factories import IMS_DN, T0, e1023, sa_dn, scm
from analyzer.rules.logic import (
    by_dn_a,
    fmt_time,
    is_start_before,
    is_starts,
    match_list,
    refusal_groups,
    restricted,
    span,
)
from analyzer.rules.records import Fixture, Rule

ID = "LOA-TIMING"
ASSUMPTION = "(inferred) SCM 7036 'entered the running state' marks an IS start (Windows 2000 and later)"


def check(facts: CaseFacts) -> list[Finding]:
    loa = facts.logon_only_as
    written = loa.last_write
    refusals = facts.evidence.refusals
    if loa.state not in ("set", "empty", "absent") or written is None or not refusals:
        return []
    times = [r.time for r in refusals if comparable(r.time, written)]
    if not times:
        return []
    first, last = span(times)
    starts = is_starts(facts)
    run = is_start_before(facts, first)
    run_text = (
        f"These refusals belong to the IS run that started at {fmt_time(run.time)} (SCM 7036, record {run.ref.record})."
        if run
        else "No IS start is in the logs before them: they belong to an IS run that started before the logs begin."
    )
    restarted_after = [s for s in starts if before(written, s.time)]
    key_ref = EvidenceRef(path=loa.source or "registry", key=loa.key, value="Logon Only As", time=written)
    if before(last, written):
        if restarted_after:
            applied = (
                f" The IS was restarted at {fmt_time(restarted_after[0].time)}, after the change, so the list "
                "shown is the one in effect now; check for refusals after that restart."
            )
        else:
            applied = (
                " No IS restart after the change is in the logs: the value only takes effect when the IS restarts, "
                "so restart the IS (then the IMS) if that has not happened."
            )
        missing = _still_missing(facts)
        verdict = (
            f"yet it still does not hold {'; '.join(missing)}: the change did not fix these refusals"
            if missing
            else "so the list in the export may already hold the fix: the refusals were judged against an older list"
        )
        text = (
            f"The ParametersSystem key was last written at {fmt_time(written)}, after the last refusal "
            f"({fmt_time(last)}), {verdict}. {run_text}" + applied
        )
        return [
            Finding(
                rule=ID,
                severity=Severity.WARNING,
                title="Logon Only As changed after the last refusal",
                explanation=text,
                count=len(times),
                first_seen=first,
                last_seen=last,
                evidence=(key_ref, *(r.ref for r in refusals[-3:]), *((run.ref,) if run else ())),
                references=("KB146764",),
                kind=FindingKind.TIMING,
                assumptions=(ASSUMPTION,) if starts else (),
            )
        ]
    later = [t for t in times if before(written, t)]
    if later and starts and not restarted_after:
        return [
            Finding(
                rule=ID,
                severity=Severity.WARNING,
                title="Logon Only As changed while the IS was running",
                explanation=(
                    f"The key was last written at {fmt_time(written)}, but the last IS start in the logs is earlier "
                    f"({fmt_time(starts[-1].time)}): the running IS still uses the list it read at that start, so "
                    "refusals after the change were judged against the old list. Restart the IS to apply it."
                ),
                count=len(later),
                first_seen=span(later)[0],
                last_seen=span(later)[1],
                evidence=(key_ref, starts[-1].ref),
                references=("KB146764",),
                kind=FindingKind.TIMING,
                assumptions=(ASSUMPTION,),
            )
        ]
    return []


def _still_missing(facts: CaseFacts) -> list[str]:
    """Refused component DNs that the exported list still does not hold."""
    out = []
    for groups in by_dn_a(refusal_groups(facts)).values():
        g = groups[0]
        if g.info.is_component and restricted(facts) and not match_list(facts, g.dn_a).held:
            out.append(g.dn_a)
    return out


_IS_START = scm(7036, "Microsoft Exchange Information Store", "running", seconds=-600)
RULE = Rule(
    id=ID,
    title="Registry changed after the refusals: fixed already? takes effect only after an IS restart",
    references=("KB146764",),
    status="inferred",
    level="warning",
    diagnoses="The key's last-write time is after the last 1023, or after the last IS start seen in the logs.",
    assumptions=(ASSUMPTION,),
    check=check,
    events=LOGONS + SCM_STATES,
    rank=90,
    fixtures=(
        Fixture(
            "written after the refusal",
            True,
            (_IS_START, e1023(IMS_DN)),
            (IMS_DN, sa_dn(1)),
            last_write=T0 + timedelta(hours=1),
            contains=("IS run that started", "may already hold the fix"),
        ),
        Fixture(
            "written after the refusal, DN still missing",
            True,
            (e1023(IMS_DN),),
            (sa_dn(1),),
            last_write=T0 + timedelta(hours=1),
            contains=("still does not hold", "before the logs begin"),
        ),
        Fixture("written before the refusal", False, (e1023(IMS_DN),), (sa_dn(1),), last_write=T0 - timedelta(days=1)),
        Fixture("no last-write time", False, (e1023(IMS_DN),), (sa_dn(1),)),
    ),
)
