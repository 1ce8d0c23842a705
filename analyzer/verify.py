"""Did the fix work?  Compare the exports taken before a change (BEFORE) with fresh ones (AFTER).

The store reads ``Logon Only As`` only when it starts, so a changed list proves nothing until the store
has restarted; and a component that was refused proves the fix only by logging on (or starting) after
that.  The status is decided in this order (schema ``analyzer.verify/1``):

1. ``not_fixed``     -- a component DN refused in BEFORE is refused again after the store re-read the list
                        (or the list never changed and it is still refused);
2. ``not_effective`` -- the list changed but no store restart after the change is in the logs (and the
                        component has not logged on since);
3. ``new_problem``   -- a component DN not refused before is refused now;
4. ``fixed``         -- none of these, and the component logged on after the change, or the store restarted
                        after it with the DN listed;
5. ``inconclusive``  -- AFTER lacks what decides it (no logs, or no way to order the change and the restarts).

Refusals of mailboxes (``cn=Recipients``) are intended by the list and never count.  A store restart is
the Service Control Manager's 7036 "running" for MSExchangeIS (Windows 2000 and later; its use is
inferred).  NT 4.0 logs no service state changes, so there the evidence is the component's own
successful logon (1009/1013/1016 for its DN) after the change -- the result says which evidence it used.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analyzer.case import Case, open_case
from analyzer.diagnosis.reading import read_case
from analyzer.events import read_options
from analyzer.evidence import CaseFacts, Logon, before
from analyzer.limits import DEFAULT_LIMITS
from analyzer.model import InputError

SCHEMA = "analyzer.verify/1"
STATUSES = ("fixed", "not_effective", "not_fixed", "new_problem", "inconclusive")
VERDICTS = {
    "fixed": "Fixed: {detail}",
    "not_effective": "Not yet effective: {detail}",
    "not_fixed": "Not fixed: {detail}",
    "new_problem": "New problem: {detail}",
    "inconclusive": "Inconclusive: {detail}",
}


class VerifyError(InputError):
    """BEFORE and AFTER cannot be compared (no usable input, AFTER older, another server): exit 2."""


@dataclass
class Side:
    """What one side (BEFORE or AFTER) shows."""

    label: str
    facts: CaseFacts
    usable: bool
    computers: set[str]
    newest: datetime | None
    errors: list[str] = field(default_factory=list)

    @property
    def entries(self) -> list[str]:
        return list(self.facts.logon_only_as.entries)

    @property
    def state(self) -> str:
        return self.facts.logon_only_as.state


def _component(dn: str | None) -> bool:
    """A DN of an Exchange component (refusals of mailboxes are what the list is for)."""
    return bool(dn) and "/cn=recipients/" not in str(dn).casefold() + "/"


def _newest(times: Iterable[datetime | None]) -> datetime | None:
    found = None
    for t in times:
        if t is not None and (found is None or before(found, t)):
            found = t
    return found


def read_side(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], label: str) -> Side:
    """Open and read one side as ``diagnose`` reads a case (same readers, filters and limits)."""
    with open_case(paths) as case:
        return side_of(case, label)


def side_of(case: Case, label: str) -> Side:
    """Read one side from a case that is already open (the web server's worker gets the AFTER case opened)."""
    reading = read_case(case, read_options(limits=DEFAULT_LIMITS))
    facts = reading.facts
    ev = facts.evidence
    computers = {c.upper() for a in reading.artefacts for c in a.computers if c}
    times = [x.time for x in [*ev.refusals, *ev.logons, *ev.services, *ev.imc]]
    times.append(facts.logon_only_as.last_write)
    return Side(label, facts, reading.usable, computers, _newest(times), list(reading.errors))


def _key(dn: str) -> str:
    return dn.casefold()


def verify_sides(before_side: Side, after_side: Side) -> dict[str, Any]:
    """The ``analyzer.verify/1`` dict for two read sides (raises VerifyError when they cannot be compared)."""
    for side in (before_side, after_side):
        if not side.usable:
            why = "; ".join(side.errors[:3]) or "nothing readable"
            raise VerifyError(side.label, f"no usable input ({why})")
    if before_side.computers and after_side.computers and not (before_side.computers & after_side.computers):
        raise VerifyError(
            after_side.label,
            f"another server: BEFORE is {', '.join(sorted(before_side.computers))}, "
            f"AFTER is {', '.join(sorted(after_side.computers))}",
        )
    if before_side.newest and after_side.newest and before(after_side.newest, before_side.newest):
        raise VerifyError(
            after_side.label,
            f"AFTER is older than BEFORE (its newest record {_iso(after_side.newest)} is before "
            f"{_iso(before_side.newest)}); give the older exports first",
        )
    ev_before, ev_after = before_side.facts.evidence, after_side.facts.evidence
    refused_before = {_key(r.dn_a): r.dn_a for r in ev_before.refusals if _component(r.dn_a) and r.dn_a}
    loa_after = after_side.facts.logon_only_as
    listed_after = {_key(e) for e in after_side.entries}
    changed = _changed(before_side, after_side)
    change_time = loa_after.last_write if changed else None
    if changed and change_time is None:  # not recorded (.reg): the change happened between the two exports
        change_time = before_side.newest
    is_starts = sorted(
        (s for s in ev_after.services if s.service == "MSExchangeIS" and s.state == "running" and s.time),
        key=lambda s: _iso(s.time),
    )
    restart = next((s for s in is_starts if change_time is not None and before(change_time, s.time)), None)
    reread = restart.time if restart else None
    # successful logons of the previously refused components, after the change
    logons_after = [
        lg for lg in ev_after.logons if lg.dn_a and _key(lg.dn_a) in refused_before and _after(lg.time, change_time)
    ]
    refusals_after = [r for r in ev_after.refusals if _component(r.dn_a) and r.dn_a]
    since = reread or (change_time if logons_after else None)
    again = [r for r in refusals_after if _key(str(r.dn_a)) in refused_before and _after(r.time, since)]
    new = [r for r in refusals_after if _key(str(r.dn_a)) not in refused_before and _after(r.time, reread)]
    still_missing = [dn for k, dn in refused_before.items() if k not in listed_after]
    evidence: list[dict[str, Any]] = []
    restart_evidence = (
        "SCM 7036: the Information Store entered the running state"
        if restart
        else ("the component's own successful logon after the change" if logons_after else "none")
    )
    if restart:
        evidence.append(_ref("store restart after the change", restart.ref, restart.time))
    for lg in logons_after[:5]:
        evidence.append(_ref(f"{lg.dn_a} logged on (event {lg.event_id})", lg.ref, lg.time))
    for r in (again or new)[:5]:
        evidence.append(_ref(f"{r.dn_a} refused (1023)", r.ref, r.time))

    if not ev_after.logs:
        status, detail = "inconclusive", "AFTER holds no event log: nothing shows whether the store accepts the DNs."
    elif again and (reread is not None or not changed or (still_missing and not logons_after)):
        names = sorted({str(r.dn_a) for r in again})
        detail = f"refused again after the store re-read the list: {'; '.join(names)}."
        if not changed:
            detail = f"the list did not change and these are still refused: {'; '.join(names)}."
        status = "not_fixed"
    elif changed and reread is None and not logons_after:
        status = "not_effective"
        detail = (
            f"the list changed ({_iso(change_time) or 'between the exports'}) but no store restart after the change "
            "is in the logs: restart the Information Store, then the refused components."
        )
    elif new:
        status = "new_problem"
        detail = f"refused now, not before: {'; '.join(sorted({str(r.dn_a) for r in new}))}."
    elif refused_before and not still_missing and (reread is not None or logons_after):
        status = "fixed"
        how = (
            "logged on after the change" if logons_after else "the store restarted after the change with the DN listed"
        )
        detail = f"{'; '.join(sorted(refused_before.values()))}: {how}."
    elif not refused_before and not refusals_after:
        status, detail = "fixed", "no component refusal before or after."
    else:
        status = "inconclusive"
        detail = "AFTER does not show whether the store re-read the list (no restart or logon after the change)."
    return {
        "schema": SCHEMA,
        "status": status,
        "verdict": VERDICTS[status].format(detail=detail),
        "before": _side_dict(before_side),
        "after": _side_dict(after_side),
        "list_changed": changed,
        "change_time": _iso(change_time),
        "added": [e for e in after_side.entries if _key(e) not in {_key(x) for x in before_side.entries}],
        "removed": [e for e in before_side.entries if _key(e) not in listed_after],
        "refused_before": sorted(refused_before.values()),
        "still_missing": still_missing,
        "refused_again": sorted({str(r.dn_a) for r in again}),
        "newly_refused": sorted({str(r.dn_a) for r in new}),
        "store_restart": _iso(reread),
        "restart_evidence": restart_evidence,
        "evidence": evidence,
    }


def verify(
    before_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    after_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> dict[str, Any]:
    """Compare BEFORE and AFTER (files, folders, zips each); the ``analyzer.verify/1`` dict."""
    return verify_sides(read_side(before_paths, "BEFORE"), read_side(after_paths, "AFTER"))


def _changed(b: Side, a: Side) -> bool:
    if a.state != b.state:
        return a.state != "unknown" and b.state != "unknown"
    return [_key(e) for e in a.entries] != [_key(e) for e in b.entries]


def _after(when: datetime | None, since: datetime | None) -> bool:
    return since is None or (when is not None and before(since, when))


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        return when.isoformat(timespec="seconds")
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ref(what: str, ref: Any, when: datetime | None) -> dict[str, Any]:
    return {"what": what, "path": ref.path, "record": ref.record, "time": _iso(when)}


def _side_dict(side: Side) -> dict[str, Any]:
    loa = side.facts.logon_only_as
    return {
        "logon_only_as": {"state": loa.state, "entries": list(loa.entries), "last_write": _iso(loa.last_write)},
        "computers": sorted(side.computers),
        "newest": _iso(side.newest),
        "refusals": sum(1 for r in side.facts.evidence.refusals if _component(r.dn_a)),
    }


def exit_code(result: dict[str, Any]) -> int:
    """0 fixed, 1 otherwise (the CLI's exit code; 2 is raised as VerifyError before)."""
    return 0 if result["status"] == "fixed" else 1


def render_text(result: dict[str, Any]) -> list[str]:
    """The facts behind the status as lines (the verdict is printed first by the caller)."""
    lines = [
        f"List changed: {'yes' if result['list_changed'] else 'no'}"
        + (f" (at {result['change_time']})" if result["change_time"] else ""),
    ]
    lines.extend(f"  added:   {dn}" for dn in result["added"])
    lines.extend(f"  removed: {dn}" for dn in result["removed"])
    lines.append(
        f"Store restart after the change: {result['store_restart'] or 'none in the logs'}"
        f" (evidence: {result['restart_evidence']})"
    )
    lines.append("Refused before:" + ("" if result["refused_before"] else " none"))
    lines.extend(f"  {dn}" for dn in result["refused_before"])
    for label, key in (("Refused again", "refused_again"), ("Newly refused", "newly_refused")):
        if result[key]:
            lines.append(f"{label}:")
            lines.extend(f"  {dn}" for dn in result[key])
    if result["evidence"]:
        lines.append("Evidence:")
        lines.extend(f"  {e['time'] or '-'}  {e['path']} #{e['record']}: {e['what']}" for e in result["evidence"])
    return lines


def logons_of(facts: CaseFacts) -> list[Logon]:
    """The successful component logons of a side (for notebooks)."""
    return [lg for lg in facts.evidence.logons if _component(lg.dn_a)]
