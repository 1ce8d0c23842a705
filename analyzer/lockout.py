"""The lock-out check: a patch may only be offered when everything that works today still works after it.

Why a module of its own: the remediation exists to let a refused component log on again; a patch
that drops or replaces the entry of a component that logs on today causes a new outage after the
next IS restart (a refused MTA taken for a "near miss" of the listed DSA once replaced the DSA
entry).  ``remedy.build_remediation`` runs ``lockout_problems`` on every patch it builds, whoever
calls it, and refuses the patch when the list would stop admitting:

* every entry of the current list that names a known component (System Attendant, DSA, MTA,
  private/public MDB, DXA of any server; a connector by its RDN form) — such an entry is kept
  verbatim, or replaced only by a DN of the same object (``dn.same_object``);
* every DN the case shows logging on successfully (1009, 1013) that the current list admits;
* every Exchange service the case shows started (SCM 7036 "running") whose component the current
  list names for the server that logged the start.

Case reading lives here too (``working_components``): which components the case shows working.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzer.dn import CONNECTORS, SERVER_COMPONENTS, classify, object_key

if TYPE_CHECKING:
    from analyzer.evidence import CaseFacts

#: SCM service key -> the component key (``dn.classify(...).key``) of the DN that service logs on with.
SERVICE_COMPONENTS = {
    "MSExchangeIMC": "internet mail connector",
    "MSExchangeSA": "microsoft system attendant",
    "MSExchangeDS": "microsoft dsa",
    "MSExchangeMTA": "microsoft mta",
}
#: Successful IS logon audits that name the DN that logged on (1016 names a display name, not a DN).
SUCCESS_LOGONS = frozenset({1009, 1013})


@dataclass(frozen=True)
class Working:
    """A component (or mailbox) the case shows working, which the patched list must go on admitting.

    ``dn`` is the DN it logged on with (a successful logon audit); a started service carries no DN,
    only its component ``key`` (``dn.classify`` key) and the ``computer`` that logged the start."""

    label: str
    evidence: str  # "1009 in AppEvent.Evt record 12" / "SCM 7036 in SysEvent.Evt record 3"
    computer: str | None = None
    dn: str | None = None
    key: str | None = None


def working_components(facts: CaseFacts) -> list[Working]:
    """What ``facts`` (``evidence.CaseFacts``) shows working: successful logons with a DN, and Exchange
    services that entered the running state.  One item per DN / per (service, computer)."""
    evidence = facts.evidence
    out: list[Working] = []
    seen: set[tuple[str, str]] = set()
    for logon in evidence.logons:
        if logon.event_id not in SUCCESS_LOGONS or not logon.dn_a:
            continue
        k = ("dn", logon.dn_a.casefold())
        if k in seen:
            continue
        seen.add(k)
        where = f"{logon.event_id} in {logon.ref.path} record {logon.ref.record}"
        out.append(Working(classify(logon.dn_a).label, where, logon.computer or None, dn=logon.dn_a))
    for s in evidence.services:
        key = SERVICE_COMPONENTS.get(s.service or "")
        if s.event_id != 7036 or s.state != "running" or key is None:
            continue
        k = ("service", f"{s.service}@{(s.computer or '').casefold()}")
        if k in seen:
            continue
        seen.add(k)
        where = f"SCM 7036 (running) in {s.ref.path} record {s.ref.record}"
        out.append(Working(f"{s.service} on {s.computer or 'this server'}", where, s.computer or None, key=key))
    return out


def names_known_component(entry: str) -> bool:
    """The entry is the DN of a known component (by its RDN form): a server component or a connector."""
    info = classify(entry)
    if info.kind == "server_component":
        return info.key in SERVER_COMPONENTS
    return info.kind == "connector" and info.key in CONNECTORS


def _names(entries: Iterable[str], key: str, computer: str | None) -> list[str]:
    """The entries that name component ``key`` (of ``computer`` when given)."""
    out = []
    for e in entries:
        info = classify(e)
        if info.key != key or info.kind not in ("server_component", "connector"):
            continue
        if computer is None or (info.server or "").casefold() == computer.casefold():
            out.append(e)
    return out


def lockout_problems(
    found: Sequence[str],
    patched: Sequence[str],
    *,
    delete_value: bool = False,
    working: Iterable[Working] = (),
    admits_all: bool = False,
) -> list[str]:
    """One sentence per thing the patched list would stop admitting (empty: the patch is safe).

    ``found``: the list as found; ``patched``: the list the patch writes; ``delete_value``: the patch
    deletes the value (no restriction left, nothing can be locked out); ``admits_all``: the value is
    absent today, so everything is admitted and everything working must be in the patched list."""
    if delete_value:
        return []
    current = [e for e in found if e.strip()]
    # Sets, not pairwise scans: a list of thousands of entries is checked in linear time.
    current_folded = {e.casefold() for e in current}
    patched_folded = {p.casefold() for p in patched}
    patched_objects = {k for p in patched if (k := object_key(p)) is not None}
    problems: list[str] = []
    for entry in current:
        if entry.casefold() in patched_folded or not names_known_component(entry):
            continue
        if object_key(entry) not in patched_objects:  # not even the same object, written exactly
            problems.append(
                f"the entry {entry!r} names the {classify(entry).label}; the patched list no longer holds it"
            )
    for w in working:
        if w.dn is not None:
            if (admits_all or w.dn.casefold() in current_folded) and w.dn.casefold() not in patched_folded:
                problems.append(f"{w.label} logs on today as {w.dn!r} ({w.evidence}); the patched list would refuse it")
        elif w.key is not None:
            listed = _names(current, w.key, w.computer)
            if listed and not _names(patched, w.key, w.computer):
                problems.append(
                    f"{w.label} is running ({w.evidence}) and the list names it as {listed[0]!r}; "
                    "the patched list no longer does"
                )
            elif admits_all and not _names(patched, w.key, w.computer):
                problems.append(
                    f"{w.label} is running ({w.evidence}) with no Logon Only As value; the list the patch "
                    "creates does not name it"
                )
    return list(dict.fromkeys(problems))
