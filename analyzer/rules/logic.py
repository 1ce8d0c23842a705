"""Logic the rules share: refusals grouped by DN, how a DN stands against the list, corroborating
events of the same start attempt, IS restarts, and time helpers.

Pure functions of ``CaseFacts``; results that several rules need are cached on the facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analyzer.dn import DnInfo, NearMiss, OtherServerEntry, classify, find_entry, other_server_entries, same_dn
from analyzer.evidence import (
    CORROBORATION_WINDOW,
    CaseFacts,
    Logon,
    ServiceEvent,
    SimpleEvent,
    TimeIndex,
    before,
)
from analyzer.model import EvidenceRef, Finding, FindingKind, Severity

# --------------------------------------------------------------------------- refusal groups


@dataclass
class RefusalGroup:
    """The 1023s that share DN-A and DN-B (compared ignoring case); DNs kept as first written."""

    dn_a: str
    dn_b: str | None
    info: DnInfo
    events: list[Logon]

    @property
    def accounts(self) -> list[str]:
        return sorted({e.account for e in self.events if e.account})

    @property
    def computers(self) -> list[str]:
        return sorted({e.computer for e in self.events if e.computer})

    @property
    def first(self) -> datetime | None:
        return _extreme((e.time for e in self.events), min)

    @property
    def last(self) -> datetime | None:
        return _extreme((e.time for e in self.events), max)

    @property
    def self_logon(self) -> bool:
        """DN-A and DN-B are the same object (the component logs on to its own mailbox)."""
        return self.dn_b is None or self.dn_a.casefold() == self.dn_b.casefold()

    @property
    def refs(self) -> tuple[EvidenceRef, ...]:
        return tuple(e.ref for e in self.events)


def _extreme(times: Iterable[datetime | None], pick: Callable[..., datetime]) -> datetime | None:
    aware = [t for t in times if t is not None and t.tzinfo is not None]
    naive = [t for t in times if t is not None and t.tzinfo is None]
    pool = aware or naive
    return pick(pool) if pool else None


def refusal_groups(facts: CaseFacts) -> list[RefusalGroup]:
    """1023s grouped by (DN-A, DN-B), in order of first appearance (computed once per facts)."""
    cached = facts.cache.get("refusal_groups")
    if cached is None:
        cached = facts.cache["refusal_groups"] = _group(facts)
    return cached  # type: ignore[return-value]


def _group(facts: CaseFacts) -> list[RefusalGroup]:
    groups: dict[tuple[str, str], RefusalGroup] = {}
    for r in facts.evidence.refusals:
        assert r.dn_a is not None
        k = (r.dn_a.casefold(), (r.dn_b or "").casefold())
        if k not in groups:
            groups[k] = RefusalGroup(r.dn_a, r.dn_b, classify(r.dn_a), [])
        groups[k].events.append(r)
    return list(groups.values())


def by_dn_a(groups: list[RefusalGroup]) -> dict[str, list[RefusalGroup]]:
    """Groups keyed by DN-A (casefolded), so one DN is reported once even with several targets."""
    out: dict[str, list[RefusalGroup]] = {}
    for g in groups:
        out.setdefault(g.dn_a.casefold(), []).append(g)
    return out


# --------------------------------------------------------------------------- list matching


@dataclass(frozen=True)
class ListMatch:
    """How a refused DN stands against the list: held (exactly or by case) or not, its near misses
    (the same object written differently, or a typo of it), and the same component of other servers
    (another object: never a near miss, see ``analyzer.dn``)."""

    held_by: str | None
    near: tuple[NearMiss, ...]
    others: tuple[OtherServerEntry, ...] = ()

    @property
    def held(self) -> bool:
        return self.held_by is not None

    @property
    def case_only(self) -> bool:
        return any(m.reason == "case" for m in self.near) and self.held

    @property
    def mistyped(self) -> NearMiss | None:
        """The near-miss entry the finding names as probably mistyped (the patch keeps it unless asked
        to replace it, ``--replace-near-misses``)."""
        return next((m for m in self.near if m.reason != "case"), None)


def match_list(facts: CaseFacts, dn: str, *, near: bool = True) -> ListMatch:
    """How ``dn`` stands against the list.  ``near=False`` only answers "held?" (exactly or by case),
    which is all the state rules need and stays cheap for thousands of refused mailboxes.

    An entry that the case shows working (a successful logon, 1009/1013, with exactly that DN) is
    never a near miss: it is a DN the store admits, whatever its spelling."""
    key = ("match", dn, near)
    found = facts.cache.get(key)
    if found is None:
        entries = facts.logon_only_as.entries
        if near:
            held, misses = find_entry(dn, entries)
            working = working_dns(facts)
            misses = [m for m in misses if m.reason == "case" or m.entry.casefold() not in working]
            found = ListMatch(held, tuple(misses), tuple(other_server_entries(dn, entries)) if held is None else ())
        else:
            exact = next((e for e in entries if e == dn), None)
            folded = None if exact else next((e for e in entries if same_dn(e, dn)), None)
            case = (NearMiss(folded, dn, "case", "the entry differs from the refused DN only in letter case"),)
            found = ListMatch(exact or folded, case if folded else ())
        facts.cache[key] = found
    return found  # type: ignore[return-value]


def working_dns(facts: CaseFacts) -> frozenset[str]:
    """Casefolded DNs that logged on successfully in the case (1009 / 1013 validated-as DN)."""
    cached = facts.cache.get("working_dns")
    if cached is None:
        cached = facts.cache["working_dns"] = frozenset(
            r.dn_a.casefold() for r in facts.evidence.logons if r.dn_a and r.event_id in (1009, 1013)
        )
    return cached  # type: ignore[return-value]


def restricted(facts: CaseFacts) -> bool:
    """The value exists (blank or with entries): the IS only admits what is listed."""
    return facts.logon_only_as.state in ("set", "empty")


def near_miss_sentence(match: ListMatch) -> str:
    parts = []
    for m in match.near:
        if m.reason == "case":
            continue
        parts.append(f"the entry {m.entry!r} is not a match: {m.detail}")
    for o in match.others:
        parts.append(f"the entry {o.entry!r} is not a match: {o.detail}")
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."  # a sentence of its own: it follows a full stop


# --------------------------------------------------------------------------- corroboration


@dataclass(frozen=True)
class Corroboration:
    """Events of the same start attempt near a group of refusals."""

    imc: tuple[SimpleEvent, ...]
    scm: tuple[ServiceEvent, ...]

    @property
    def refs(self) -> tuple[EvidenceRef, ...]:
        return tuple(e.ref for e in self.imc) + tuple(e.ref for e in self.scm)

    def sentence(self, component: str, window: timedelta = CORROBORATION_WINDOW) -> str:
        minutes = int(window.total_seconds() // 60)
        if not self.imc and not self.scm:
            return (
                f"No MSExchangeIMC 4018/4116 or Service Control Manager event for the {component} lies within "
                f"{minutes} minutes of these refusals: either that log was not provided or the attempt left no "
                "trace there; the 1023 alone identifies the DN."
            )
        bits = [f"{e.source} {e.event_id}" for e in self.imc] + [
            f"SCM {e.event_id} ({e.service_name})" for e in self.scm
        ]
        unique = list(dict.fromkeys(bits))
        return (
            f"Corroborated by events of the same start attempt within {minutes} minutes: {', '.join(unique)} "
            "(4018 and 2140 alone prove nothing — KB 163243, 186739 — but next to a 1023 for the IMS DN they do)."
        )


def corroborate(facts: CaseFacts, group_times: Iterable[datetime | None], service: str | None) -> Corroboration:
    """IMC failures (when ``service`` is MSExchangeIMC) and SCM failures of ``service`` near the refusals."""
    near = TimeIndex(group_times).near
    imc: list[SimpleEvent] = []
    if service == "MSExchangeIMC":
        imc = [e for e in facts.evidence.imc if near(e.time)]
    scm = [
        s
        for s in facts.evidence.services
        if service is not None and s.service == service and s.event_id in (7000, 7023, 7024, 7031) and near(s.time)
    ]
    return Corroboration(tuple(imc), tuple(scm))


def service_of(info: DnInfo) -> str | None:
    """The SCM service key of a component DN, when there is one."""
    if info.kind == "connector" and info.key == "internet mail connector":
        return "MSExchangeIMC"
    if info.kind == "server_component":
        return {"microsoft system attendant": "MSExchangeSA", "microsoft dsa": "MSExchangeDS"}.get(info.key or "")
    return None


def is_starts(facts: CaseFacts) -> list[ServiceEvent]:
    """SCM 7036 "Information Store … entered the running state" events (inferred use), in time order."""
    starts = [s for s in facts.evidence.services if s.service == "MSExchangeIS" and s.state == "running"]
    return sorted(starts, key=lambda s: (s.time is None, _stamp(s.time)))


def _stamp(when: datetime | None) -> float:
    """Sort key; a naive (local) time is ordered as if it were UTC (they are only compared among themselves)."""
    if when is None:
        return 0.0
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def is_start_before(facts: CaseFacts, when: datetime | None) -> ServiceEvent | None:
    """The last IS start logged before ``when``."""
    found = None
    for s in is_starts(facts):
        if before(s.time, when):
            found = s
    return found


def span(refs: Iterable[datetime | None]) -> tuple[datetime | None, datetime | None]:
    times = list(refs)
    return _extreme(times, min), _extreme(times, max)


def fmt_time(when: datetime | None) -> str:
    if when is None:
        return "an unknown time"
    if when.tzinfo is None:
        return when.strftime("%Y-%m-%d %H:%M:%S") + " (local time of the export)"
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --------------------------------------------------------------------------- refused DNs the list lacks


@dataclass(frozen=True)
class Unlisted:
    """One refused DN (all its refusal groups) that Logon Only As does not hold, and how it stands against
    the list (near misses)."""

    groups: list[RefusalGroup]
    match: ListMatch

    @property
    def first(self) -> RefusalGroup:
        return self.groups[0]

    @property
    def events(self) -> list[Logon]:
        return [e for g in self.groups for e in g.events]

    @property
    def accounts(self) -> list[str]:
        return sorted({e.account for e in self.events if e.account})


def unlisted(facts: CaseFacts, wanted: Callable[[RefusalGroup], bool]) -> list[Unlisted]:
    """The refused DNs ``wanted`` picks (by their first group) that the set or blank list does not hold."""
    if not restricted(facts):
        return []
    out = []
    for groups in by_dn_a(refusal_groups(facts)).values():
        if not wanted(groups[0]):
            continue
        match = match_list(facts, groups[0].dn_a)
        if not match.held:
            out.append(Unlisted(groups, match))
    return out


def missing_entry(
    rule: str,
    dn: Unlisted,
    title: str,
    explanation: str,
    references: tuple[str, ...],
    assumptions: tuple[str, ...],
    extra: tuple[EvidenceRef, ...] = (),
) -> Finding:
    """The error finding that puts a refused DN into dns_to_add (naming its probably mistyped entry, if any)."""
    events = dn.events
    first_seen, last_seen = span(e.time for e in events)
    mistyped = dn.match.mistyped
    return Finding(
        rule=rule,
        severity=Severity.ERROR,
        title=title,
        explanation=explanation,
        component=dn.first.info.label,
        dn=dn.first.dn_a,
        account=", ".join(dn.accounts) or None,
        count=len(events),
        first_seen=first_seen,
        last_seen=last_seen,
        evidence=tuple(e.ref for e in events) + extra,
        references=references,
        replaces=mistyped.entry if mistyped else None,
        add_dn=True,
        kind=FindingKind.MISSING_ENTRY,
        assumptions=assumptions,
    )
