"""KB 146764: what the state of Logon Only As means for the 1023s in the logs.

* absent  -> no restriction: the 1023s are not caused by it; name a documented look-alike or say the
  cause is elsewhere.  An ``Enable Tracing`` value instead of Logon Only As is the late revision's defect.
* empty   -> nobody may log on; list what was refused; delete the value after maintenance, or list
  the DNs that must keep working.
* set     -> refused mailboxes are the restriction working as designed (maintenance lock-out);
  a refused DN that *is* listed is not a Logon Only As problem.
"""

from __future__ import annotations

from analyzer.evidence import LOGONS, CaseFacts
from analyzer.model import Finding, FindingKind, Severity
from analyzer.rules.factories import ADMIN_DN, IMS_DN, e1023, sa_dn, user_dn
from analyzer.rules.logic import RefusalGroup, match_list, refusal_groups, span
from analyzer.rules.lookalikes import explain
from analyzer.rules.records import Fixture, Rule

ID = "KB146764"


def _finding(
    severity: Severity, kind: FindingKind, title: str, text: str, groups: list[RefusalGroup], **kw: object
) -> Finding:
    events = [e for g in groups for e in g.events]
    first, last = span(e.time for e in events)
    accounts = sorted({e.account for e in events if e.account})
    return Finding(
        rule=ID,
        severity=severity,
        title=title,
        explanation=text,
        account=", ".join(accounts) or None,
        count=len(events),
        first_seen=first,
        last_seen=last,
        evidence=tuple(e.ref for e in events),
        references=kw.pop("references", ("KB146764",)),  # type: ignore[arg-type]
        kind=kind,
        **kw,  # type: ignore[arg-type]
    )


def _names(groups: list[RefusalGroup], limit: int = 8) -> str:
    names = [f"{g.info.label} ({g.dn_a})" if g.info.is_component else g.info.label for g in groups]
    names = list(dict.fromkeys(names))
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check(facts: CaseFacts) -> list[Finding]:
    loa = facts.logon_only_as
    groups = refusal_groups(facts)
    out: list[Finding] = []
    if loa.state == "absent":
        if loa.enable_tracing:
            out.append(
                _finding(
                    Severity.WARNING,
                    FindingKind.STATE,
                    "'Enable Tracing' exists but Logon Only As does not",
                    "ParametersSystem holds an 'Enable Tracing' value and no 'Logon Only As'. Late revisions of "
                    "KB 146764 show 'Enable Tracing' (REG_DWORD) in the step that should create 'Logon Only As' "
                    "(REG_MULTI_SZ): if logons were meant to be limited, the restriction is not active.",
                    [],
                )
            )
        if groups:
            causes = [(g, explain(facts, g)) for g in groups]
            named = list(dict.fromkeys(f"{g.info.label}: {rule}" for g, found in causes for rule, _ in found))
            rest = [g for g, found in causes if not found]
            text = (
                f"{sum(len(g.events) for g in groups)} failure audit(s) 1023 were logged, but Logon Only As does "
                "not exist, so the IS does not limit logons and these refusals have another cause."
            )
            if named:
                text += " Documented causes that fit: " + "; ".join(named) + "."
            if rest:
                text += (
                    " No documented pattern fits "
                    + _names(rest)
                    + ": look at mailbox permissions, the service account and the client profiles."
                )
            out.append(
                _finding(
                    Severity.INFO,
                    FindingKind.STATE,
                    "The 1023s are not caused by Logon Only As (value absent)",
                    text,
                    groups,
                )
            )
        return out
    if loa.state == "empty":
        if groups:
            text = (
                "Logon Only As exists but is blank: nobody may log on to the IS, not even the Exchange services "
                f"or the Administrator program (KB 146764, 199954). Refused here: {_names(groups)}. If the "
                "blank value was meant for maintenance, delete the value when it is over (stop IS, delete, start "
                "IS); to keep the restriction, list the DNs that must keep working instead — the component DNs "
                "refused above and an administrator's mailbox."
            )
            out.append(
                _finding(
                    Severity.ERROR, FindingKind.BLANK_LIST, "Logon Only As is blank: nobody can log on", text, groups
                )
            )
        else:
            out.append(
                _finding(
                    Severity.WARNING,
                    FindingKind.BLANK_LIST,
                    "Logon Only As is blank: nobody can log on",
                    "The value exists but is blank, which blocks every logon to the IS once it restarts (KB 146764). "
                    "Delete it after maintenance.",
                    [],
                )
            )
        return out
    if loa.state != "set":
        return out
    lockout: list[RefusalGroup] = []
    listed: dict[str, list[tuple[RefusalGroup, list[tuple[str, str]]]]] = {}
    for g in groups:
        match = match_list(facts, g.dn_a, near=False)
        if match.held and not match.case_only:
            listed.setdefault(g.dn_a.casefold(), []).append((g, explain(facts, g)))
        elif not match.held and not g.info.is_component:
            lockout.append(g)
    for hits in listed.values():  # one finding per refused identity: it names its DN once
        g = hits[0][0]
        found = list(dict.fromkeys(item for _, items in hits for item in items))
        targets = list(dict.fromkeys(h.dn_b for h, _ in hits if h.dn_b and h.dn_b.casefold() != g.dn_a.casefold()))
        opening = (
            f" opening {'; '.join(targets[:5])}" + (f" and {len(targets) - 5} more" if len(targets) > 5 else "")
            if targets
            else ""
        )
        if found:
            text = (
                f"{g.info.label} ({g.dn_a}) is listed in Logon Only As and was still refused{opening}: not a "
                "Logon Only As problem. " + " ".join(dict.fromkeys(sentence for _, sentence in found))
            )
            sev = Severity.INFO
        else:
            text = (
                f"{g.info.label} ({g.dn_a}) is listed in Logon Only As exactly as the event writes it, yet the IS "
                f"refused it{opening}: Logon Only As is not the cause — unless the entry was added after the refusal "
                "and the IS has not been restarted since (the value is read when the IS starts)."
            )
            sev = Severity.WARNING
        out.append(
            _finding(
                sev,
                FindingKind.LISTED_REFUSED,
                "Refused although listed: not a Logon Only As problem",
                text,
                [h for h, _ in hits],
                component=g.info.label,
                dn=g.dn_a,
                references=("KB146764", *dict.fromkeys(r for r, _ in found)),
            )
        )
    if lockout:
        out.append(
            _finding(
                Severity.INFO,
                FindingKind.LOCKOUT,
                "Mailboxes refused while logons are limited (maintenance lock-out by design)",
                f"Logon Only As admits only its {len(loa.entries)} entr{'y' if len(loa.entries) == 1 else 'ies'}; "
                f"the IS refused {_names(lockout)} as designed (KB 146764). Remember to delete the value after the "
                "maintenance (stop IS, delete Logon Only As, start IS) so users can log on again.",
                lockout,
            )
        )
    return out


RULE = Rule(
    id=ID,
    title="What the Logon Only As state means for the 1023s (absent, blank, set)",
    references=("KB146764", "KB199954", "KB218920"),
    status="documented",
    level="info",
    diagnoses=(
        "Value absent -> 1023s have another cause (named when a documented pattern fits); blank -> nobody can log "
        "on; set -> refused mailboxes are by design, a listed DN that is refused is not a Logon Only As problem; "
        "an 'Enable Tracing' value without Logon Only As is the KB's late-revision defect."
    ),
    assumptions=("(inferred) the validated-as DN (DN-A) is the one compared with the list",),
    check=check,
    events=LOGONS,
    rank=50,
    fixtures=(
        Fixture("absent with 1023", True, (e1023(user_dn("jdoe")),), "absent", contains=("another cause",)),
        Fixture("absent, no 1023", False, (), "absent"),
        Fixture("blank list", True, (e1023(IMS_DN), e1023(user_dn("jdoe"))), "empty", contains=("nobody",)),
        Fixture("maintenance lock-out", True, (e1023(user_dn("jdoe")),), (sa_dn(1), ADMIN_DN), contains=("delete",)),
        Fixture("listed but refused", True, (e1023(IMS_DN),), (IMS_DN,), contains=("not the cause",)),
        Fixture(
            "Enable Tracing instead of Logon Only As", True, (), "absent", enable_tracing=True, contains=("Tracing",)
        ),
        Fixture("component not listed is KB306308's", False, (e1023(IMS_DN),), (sa_dn(1),)),
        Fixture("no registry export", False, (e1023(user_dn("jdoe")),), None),
    ),
)
