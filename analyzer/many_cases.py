"""Is a folder one case or an archive of many?  Decided from what its sub-folders hold.

Why: ``analyzer diagnose ARCHIVE`` on a folder of twenty cases would read them as one case: one
verdict for many servers and organisations, one patch with DNs of several customers.  Counting
sub-folders cannot tell an archive from a case folder with ``logs/`` and ``registry/`` in it, so the
decision rests on identity the reading found anyway (no extra reading):

* each top-level unit (sub-folder or zip; loose files at the top together form one unit) gets the
  servers and organisations its artefacts name: events' computer names, registry ComputerName, the
  ``/o=`` of the DNs in its refusals, logons and Logon Only As entries, the servers those entries name;
* units that share any server or organisation are one case (``logs/`` and ``registry/`` of EXCH01;
  EXCH01/ and EXCH02/ of one organisation); units naming nothing join no one and separate no one;
* the folder is many cases when at least two such groups remain and they name different
  organisations, or each of them holds logs and a registry export of its own (a complete case).

Common leading folders are skipped first, so a zip whose members all sit under ``case1234/`` is
judged by the sub-folders of ``case1234/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.servers import Artefact, server_key


@dataclass
class CaseGroup:
    """Top-level units of a folder that name the same servers or organisations."""

    units: list[str] = field(default_factory=list)
    servers: dict[str, str] = field(default_factory=dict)  # key -> name as written
    orgs: dict[str, str] = field(default_factory=dict)  # casefolded -> as written
    kinds: set[str] = field(default_factory=set)  # "events" / "registry" artefacts that name something

    def label(self) -> str:
        names = [f"/o={o}" for o in self.orgs.values()] + list(self.servers.values())
        return f"{', '.join(self.units)}: {' '.join(names[:4])}{' …' if len(names) > 4 else ''}"


def _units(paths: list[str]) -> dict[str, str]:
    """Display path -> top-level unit, after skipping leading folders every path shares."""
    split = {p: [x for x in p.replace("\\", "/").split("/") if x] for p in paths}
    skip = 0
    while True:
        heads = {parts[skip] if len(parts) > skip + 1 else None for parts in split.values()}
        if len(heads) == 1 and None not in heads:
            skip += 1
            continue
        break
    return {p: (parts[skip] if len(parts) > skip + 1 else ".") for p, parts in split.items()}


def separate_cases(artefacts: list[Artefact], orgs_by_path: dict[str, dict[str, str]]) -> list[CaseGroup]:
    """The groups of units that look like separate cases; fewer than two means one case.

    ``orgs_by_path``: display path -> {casefolded org: org as written} found in that artefact."""
    units = _units([a.path for a in artefacts])
    groups: list[CaseGroup] = []
    token_group: dict[tuple[str, str], CaseGroup] = {}
    by_unit: dict[str, CaseGroup] = {}
    for a in artefacts:
        unit = units[a.path]
        servers = {server_key(n): n for n in [*a.computers, *a.computer_names, *a.list_servers] if server_key(n)}
        orgs = orgs_by_path.get(a.path, {})
        tokens = [("server", k) for k in servers] + [("org", o) for o in orgs]
        if not tokens:
            continue
        touched = {id(g): g for g in (token_group.get(t) for t in tokens) if g is not None}
        if unit in by_unit:
            touched[id(by_unit[unit])] = by_unit[unit]
        if touched:
            target, *others = touched.values()
        else:
            target, others = CaseGroup(), []
            groups.append(target)
        for other in others:  # merge: the same server or organisation appears in both
            target.units.extend(u for u in other.units if u not in target.units)
            target.servers.update(other.servers)
            target.orgs.update(other.orgs)
            target.kinds |= other.kinds
            groups.remove(other)
            for t, g in list(token_group.items()):
                if g is other:
                    token_group[t] = target
            for u, g in list(by_unit.items()):
                if g is other:
                    by_unit[u] = target
        if unit not in target.units:
            target.units.append(unit)
        by_unit[unit] = target
        target.servers.update({k: v for k, v in servers.items() if k not in target.servers})
        target.orgs.update({k: v for k, v in orgs.items() if k not in target.orgs})
        target.kinds.add(a.kind)
        for t in tokens:
            token_group[t] = target
    if len(groups) < 2:
        return []
    with_orgs = [g for g in groups if g.orgs]
    complete = [g for g in groups if {"events", "registry"} <= g.kinds]
    if len(with_orgs) >= 2 or len(complete) == len(groups):
        return groups
    return []


def many_cases_message(root: str, groups: list[CaseGroup]) -> str:
    """The one-line refusal: what was seen, and what to run instead."""
    shown = "; ".join(g.label() for g in groups[:3]) + ("; …" if len(groups) > 3 else "")
    return (
        f"looks like {len(groups)} separate cases, not one ({shown}); run 'analyzer triage {root} --out DIR' "
        f"to diagnose each, or 'analyzer diagnose --one-case {root}' to read it as one case"
    )
