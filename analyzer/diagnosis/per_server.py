"""A case with several servers: each server's refusals diagnosed against that server's own list.

Why a module of its own: the single-server diagnosis (``diagnose_facts``) stays exactly as it is;
this module only cuts the case's facts into one ``CaseFacts`` per server (``analyzer.servers`` decides
who is who), runs that diagnosis once per server, and puts the results together.  Nothing is ever
merged across servers: no list, no ``dns_to_add`` decision and no patch.

The combined result (``Combined``, made into a ``Diagnosis`` by the caller) keeps the diagnosis
contract: ``dns_to_add`` holds the DNs of all servers, ``findings`` carry a ``server`` field, the
top-level ``remediation`` is null (one patch per server lives in ``servers[i].remediation``),
``logon_only_as.state`` is ``per_server``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from analyzer.dn import classify, parse_dn
from analyzer.evidence import (
    PARAMETERS_SYSTEM,
    CaseFacts,
    Evidence,
    LogonOnlyAs,
    RegistryFacts,
    choose_logon_only_as,
    describe,
)
from analyzer.model import Finding
from analyzer.servers import Artefact, Pairing, undecided_note

if TYPE_CHECKING:
    from analyzer.diagnosis.result import Diagnosis

PER_SERVER = "per_server"  # top-level logon_only_as.state of a case with several servers


@dataclass
class ServerDiagnosis:
    """One server's diagnosis inside a case (``servers[i]`` of the JSON contract)."""

    server: str  # display name, e.g. "EXCH01"
    diagnosis: Diagnosis
    inputs: list[str]  # display paths of the artefacts paired with this server
    paired_by: dict[str, str] = dataclasses.field(default_factory=dict)  # path -> why it is this server's

    def to_dict(self) -> dict[str, Any]:
        full = self.diagnosis.to_dict()  # the single-server contract: the same shapes, built once
        return {
            "server": self.server,
            "verdict": full["verdict"],
            "needs_action": full["needs_action"],
            "dns_to_add": full["dns_to_add"],
            "logon_only_as": full["logon_only_as"],
            "inputs": list(self.inputs),
            "paired_by": dict(self.paired_by),
            "unconfirmed": full.get("unconfirmed", []),
            "advice": full.get("advice", []),
            "remediation": full["remediation"],
        }


@dataclass
class Combined:
    """The case-level result of several servers (the Diagnosis fields that are not per server)."""

    servers: list[ServerDiagnosis]
    logon_only_as: LogonOnlyAs  # state "per_server"; notes: one line per server
    findings: list[Finding]  # every server's, in server order
    unconfirmed: list[dict[str, Any]]  # every server's refusals without a safely read DN
    advice: list[Finding]  # every server's advice, once per rule
    dns_to_add: list[str]  # every server's, once each
    verdict: str
    warnings: list[str]
    needs_action: bool


@dataclass
class RegistryReading:
    """One registry export as read: its Logon Only As reading and the watched keys it holds."""

    path: str
    logon_only_as: LogonOnlyAs
    keys: RegistryFacts


def split_evidence(evidence: Evidence, route: Callable[[str | None, str], str | None]) -> dict[str | None, Evidence]:
    """One Evidence per server.  ``route(computer, path)`` names the server of an item.

    Generic over ``Evidence``'s fields, so that fields added later are split too: lists of parsed
    events (items with ``computer`` and ``ref``) go by their own computer name, lists of references
    and per-path counters by their path; anything else is copied to every part."""
    parts: dict[str | None, Evidence] = {}

    def part(key: str | None) -> Evidence:
        if key not in parts:
            parts[key] = Evidence()
            parts[key].logs = 0
        return parts[key]

    for f in dataclasses.fields(evidence):
        value = getattr(evidence, f.name)
        if isinstance(value, Counter):
            for path, n in value.items():
                getattr(part(route(None, path)), f.name)[path] += n
        elif isinstance(value, list):
            for item in value:
                getattr(part(_route_item(item, route)), f.name).append(item)
    for f in dataclasses.fields(evidence):
        value = getattr(evidence, f.name)
        if not isinstance(value, Counter | list):
            for ev in parts.values():
                setattr(ev, f.name, value)
    for ev in parts.values():  # logs of this server: the event inputs it saw events of
        ev.logs = len(ev.seen) or (1 if evidence.logs else 0)
    return parts


def _route_item(item: object, route: Callable[[str | None, str], str | None]) -> str | None:
    """The server of one kept item: by its own computer name, else by the path of its reference (a
    reference itself, or a tuple holding one, e.g. ``(dn, ref)``)."""
    ref = getattr(item, "ref", None)
    if ref is None and isinstance(item, tuple):
        ref = next((x for x in item if hasattr(x, "path")), None)
    if ref is None and hasattr(item, "path"):
        ref = item
    path = getattr(ref, "path", None)
    if not isinstance(path, str):
        return None
    return route(getattr(item, "computer", None), path)


def orgs_of(entries: Sequence[str]) -> set[str]:
    """Casefolded organisation names of DNs (``/o=NAME/…``)."""
    out: set[str] = set()
    for e in entries:
        dn = parse_dn(e)
        if dn is not None and dn.org:
            out.add(dn.org.strip().casefold())
    return out


def diagnose_servers(
    *,
    case_name: str,
    inputs: list[Any],
    pairing: Pairing,
    artefacts: list[Artefact],
    evidence: Evidence,
    readings: list[RegistryReading],
    warnings: list[str],
    version_of: Callable[[LogonOnlyAs], int],
    diagnose_one: Callable[..., Diagnosis],
) -> Combined:
    """Diagnose every server of ``pairing`` on its own evidence and its own registry exports.

    ``diagnose_one(facts, case=, inputs=, reg_version=)`` is the single-server diagnosis
    (``diagnosis.diagnose_facts``), passed in so that this module stays below the diagnosis in the layers."""
    names = pairing.names
    split = split_evidence(evidence, pairing.server_of_event)
    undecided_exports = [r for r in readings if pairing.of_path.get(r.path) is None]
    undecided_lists = [r.path for r in undecided_exports if r.logon_only_as.state != "unknown"]
    all_warnings = list(warnings) + list(pairing.notes)
    for a in artefacts:  # a log with no Exchange event in it has nothing to pair
        if pairing.of_path.get(a.path) is None and (a.kind == "registry" or a.computers):
            all_warnings.append(undecided_note(a.path, pairing))
    stray = split.get(None)
    if stray is not None and _paths_of(stray):
        paths = ", ".join(sorted(_paths_of(stray)))
        all_warnings.append(
            f"event(s) of {paths} name no server the case knows and their file names none "
            "either: they were not diagnosed"
        )
    results: list[ServerDiagnosis] = []
    for key, name in names.items():
        mine = [r for r in readings if pairing.of_path.get(r.path) == key]
        loa = choose_logon_only_as([r.logon_only_as for r in mine])
        keys = RegistryFacts()
        for r in mine:
            keys.hives |= r.keys.hives
            for state in r.keys.keys.values():
                keys.add(state)
        ev = split.get(key) or Evidence()
        facts = CaseFacts(ev, loa, registry_read=bool(mine), registry=keys)
        own_inputs = [i for i in inputs if _serves(i.path, key, pairing, split)]
        dx = diagnose_one(
            facts,
            case=f"{case_name} / {name}",
            inputs=own_inputs,
            reg_version=version_of(loa) if mine else None,
        )
        if loa.state == "unknown" and not undecided_lists and dx.verdict.startswith("No registry export:"):
            dx.verdict = f"No registry export of {name}:" + dx.verdict[len("No registry export:") :]
        if loa.state == "unknown" and undecided_lists:
            dx.verdict = _undecided_verdict(name, undecided_lists, facts) + (
                f" Other findings: {dx.verdict}" if dx.finding_list and not dx.verdict.startswith("No registry") else ""
            )
        paths = [i.path for i in own_inputs]
        why = {p: _why(p, key, pairing) for p in paths}
        results.append(ServerDiagnosis(name, dx, paths, why))
    for r in results:
        all_warnings.extend(f"{r.server}: {w}" for w in r.diagnosis.warnings)
    dns: list[str] = []
    for r in results:
        for d in r.diagnosis.dns_to_add:
            if d.casefold() not in {x.casefold() for x in dns}:
                dns.append(d)
    verdict = f"{len(results)} servers in this case, each diagnosed against its own Logon Only As list. " + " ".join(
        f"{r.server}: {r.diagnosis.verdict}" for r in results
    )
    top = LogonOnlyAs(PER_SERVER)
    top.notes = [f"{r.server}: {_state_line(r.diagnosis.logon_only_as)}" for r in results]
    return Combined(
        servers=results,
        logon_only_as=top,
        findings=[f for r in results for f in r.diagnosis.finding_list],
        unconfirmed=[u for r in results for u in getattr(r.diagnosis, "unconfirmed", [])],
        advice=list({a.rule: a for r in results for a in getattr(r.diagnosis, "advice", [])}.values()),
        dns_to_add=dns,
        verdict=verdict,
        warnings=all_warnings,
        needs_action=any(r.diagnosis.needs_action for r in results) or bool(undecided_lists),
    )


def _serves(path: str, key: str, pairing: Pairing, split: dict[str | None, Evidence]) -> bool:
    """An input serves a server when it is paired with it or holds events of it (a merged log serves
    every server whose events it holds)."""
    if pairing.of_path.get(path) == key:
        return True
    part = split.get(key)
    return part is not None and path in _paths_of(part)


def _why(path: str, key: str, pairing: Pairing) -> str:
    if pairing.of_path.get(path) == key:
        return pairing.how.get(path, "")
    return "some of its events name this server"


def _paths_of(evidence: Evidence) -> set[str]:
    """Display paths of every item kept in ``evidence``."""
    out: set[str] = set()
    for f in dataclasses.fields(evidence):
        value = getattr(evidence, f.name)
        if isinstance(value, list):
            for item in value:
                ref = getattr(item, "ref", item)
                if isinstance(ref, tuple):
                    ref = next((x for x in ref if hasattr(x, "path")), None)
                path = getattr(ref, "path", None)
                if isinstance(path, str):
                    out.add(path)
    return out


def _state_line(loa: LogonOnlyAs) -> str:
    where = f" ({loa.source})" if loa.source else ""
    return f"{describe(loa) if loa.state != 'unknown' else 'no export of this server'}{where}"


def _undecided_verdict(server: str, lists: list[str], facts: CaseFacts) -> str:
    refused = sorted({r.dn_a for r in facts.evidence.refusals if r.dn_a and classify(r.dn_a).is_component})
    seen = f" Refused on {server}: " + "; ".join(refused) + "." if refused else ""
    return (
        f"Cannot tell whether {', '.join(lists)} is {server}'s Logon Only As (nothing in it names its server), "
        f"so it was not used for {server} and no patch is written.{seen} Collect {PARAMETERS_SYSTEM} of "
        f"{server} in a file named after the server (e.g. {server}_ParametersSystem.reg) or its SYSTEM hive."
    )
