r"""Which server each artefact of a case belongs to.

Why: ``Logon Only As`` is a per-server value.  A case may hold the logs and registry exports of
several servers (``EXCH01_AppEvent.Evt``, ``EXCH02_ParametersSystem.reg`` …); a refusal logged on
EXCH02 must be checked against EXCH02's list, never against whichever export came first.

What names a server, strongest first:

* an event's own computer name (each event is routed by it, so a merged log splits correctly);
* a SYSTEM hive's or export's ``Control\ComputerName\ActiveComputerName`` / ``ComputerName``;
* MPS Reports' file name prefix (``EXCH01_Application.evt``, recognised by ``analyzer.archives.mps``
  with the log files beside it): it introduces its server, like content does;
* the file name, then the folder names (nearest first), when they name a server the content of the
  case knows (``EXCH01_AppEvent.Evt``, MPS Reports' ``EXCH01_Application.evt``, ``EXCH02/SYSTEM``);
* when the case knows a single server, every artefact naming none is that server's (as before);
* the list's own System Attendant / DSA DNs (``cn=Servers/cn=NAME/…``) when they name exactly one
  of the servers the case knows.  This signal is the weakest on purpose: a list that names another
  server's components is the misconfiguration the diagnosis must find, so it never introduces a
  server and never overrides a stronger signal.

An artefact none of these decide is *undecided*: with several servers it is not used for any of
them, and the report says so (no patch is written from an export that may be another server's).
Names compare case-insensitively on their first label (``exch01.contoso.com`` is ``EXCH01``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from analyzer.dn import classify

COMPUTER_NAME_KEYS = (
    r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ActiveComputerName",
    r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName",
)
COMPUTER_NAME_VALUE = "ComputerName"
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_SPLIT_PATH = re.compile(r"[/\\]+")


def server_key(name: str | None) -> str:
    """Comparison key of a computer name: trimmed, first DNS label, casefolded ("" for none)."""
    text = (name or "").strip().strip("\\")
    if not text:
        return ""
    if not _IPV4.match(text):
        text = text.split(".", 1)[0]
    return text.casefold()


def display_name(name: str) -> str:
    """The name as shown: trimmed, first DNS label (an IP address stays whole)."""
    text = name.strip().strip("\\")
    return text if _IPV4.match(text) else text.split(".", 1)[0]


@dataclass
class Artefact:
    """What one input says about its server (filled while the case is read)."""

    path: str  # display path, relative to the case
    kind: str  # "events" | "registry"
    computers: Counter[str] = field(default_factory=Counter)  # events: computer names of the kept events
    computer_names: list[str] = field(default_factory=list)  # registry: ActiveComputerName, ComputerName
    list_servers: list[str] = field(default_factory=list)  # registry: servers its Logon Only As entries name
    orgs: set[str] = field(default_factory=set)  # casefolded /o= values of the DNs it holds
    org_names: dict[str, str] = field(default_factory=dict)  # casefolded -> as written
    holds_list: bool = False  # registry: it holds the ParametersSystem key
    named_server: str | None = None  # the server MPS Reports' file name prefix gives (``EXCH01_System.evt``)


@dataclass
class Pairing:
    """The servers of a case and the server of each artefact (``None`` = undecided)."""

    names: dict[str, str] = field(default_factory=dict)  # server key -> display name, in order of discovery
    of_path: dict[str, str | None] = field(default_factory=dict)  # display path -> server key
    how: dict[str, str] = field(default_factory=dict)  # display path -> why it was paired so
    notes: list[str] = field(default_factory=list)

    @property
    def several(self) -> bool:
        return len(self.names) > 1

    def server_of_event(self, computer: str | None, path: str) -> str | None:
        """The server of one event: its computer name when the case knows it, else its file's server."""
        key = server_key(computer)
        if key and key in self.names:
            return key
        return self.of_path.get(path)

    def undecided(self, kind: str | None = None, artefacts: list[Artefact] | None = None) -> list[str]:
        """Paths not paired with any server (optionally only those of one kind)."""
        kinds = {a.path: a.kind for a in artefacts or []}
        return [p for p, s in self.of_path.items() if s is None and (kind is None or kinds.get(p) == kind)]


def list_servers(entries: list[str]) -> list[str]:
    """Servers named by ``cn=Servers/cn=NAME/…`` entries of a Logon Only As list, in order, once each."""
    out: dict[str, str] = {}
    for entry in entries:
        info = classify(entry)
        if info.kind in ("server_component", "configuration") and info.server:
            out.setdefault(server_key(info.server), info.server.strip())
    return list(out.values())


def _named_in_path(path: str, names: dict[str, str]) -> tuple[str | None, str | None]:
    """(server key, "file name" | "folder name") when the path names exactly one known server.

    The file name is looked at first, then the folders from the nearest; a part that names two
    servers decides nothing and the search goes on."""
    parts = [p for p in _SPLIT_PATH.split(path) if p]
    for depth, part in enumerate(reversed(parts)):
        hits = {key for key in names if _token_in(key, part)}
        # A longer name wins over a name it contains ("EXCH01" in "EXCH01-OLD" is not "EXCH01-OLD").
        hits = {k for k in hits if not any(k != o and k in o for o in hits)}
        if len(hits) == 1:
            return hits.pop(), "file name" if depth == 0 else "folder name"
    return None, None


def _token_in(key: str, part: str) -> bool:
    pattern = r"(?<![0-9a-z])" + re.escape(key) + r"(?![0-9a-z])"
    return re.search(pattern, part.casefold()) is not None


def pair(artefacts: list[Artefact]) -> Pairing:
    """Decide the server of every artefact (see the module docstring for the order of the signals)."""
    result = Pairing()

    def know(name: str) -> str:
        key = server_key(name)
        if key and key not in result.names:
            result.names[key] = display_name(name)
        return key

    # 1. content: computer names of events and of registry exports define the servers of the case
    for a in artefacts:
        if a.kind == "events" and a.computers:
            for name, _ in a.computers.most_common():
                know(name)
            top = [server_key(n) for n, _ in a.computers.most_common()]
            top = [k for k in dict.fromkeys(top) if k]
            if top:
                result.of_path[a.path] = top[0]
                result.how[a.path] = (
                    "computer name of its events"
                    if len(top) == 1
                    else "computer name of most of its events (each event counts for its own server)"
                )
        elif a.kind == "registry" and a.computer_names:
            keys = [know(n) for n in a.computer_names if server_key(n)]
            if keys:
                result.of_path[a.path] = keys[0]
                result.how[a.path] = "its own ComputerName key"
                if len(set(keys)) > 1:
                    result.notes.append(
                        f"{a.path}: ActiveComputerName and ComputerName differ ({' / '.join(a.computer_names)}); "
                        f"the active name {display_name(a.computer_names[0])} was used (a rename is pending)"
                    )
    # 1b. MPS Reports output names the server of each of its files (``EXCH01_Application.evt``), also of
    # the exports whose content names none; the file's own content still wins where it names a server
    for a in artefacts:
        if a.named_server and a.path not in result.of_path:
            result.of_path[a.path] = know(a.named_server)
            result.how[a.path] = "its MPS Reports name prefix"
    # 2. names, 3. the only server, 4. the list's own server DNs
    for a in artefacts:
        if a.path in result.of_path:
            named, where = _named_in_path(a.path, result.names)
            if named is not None and named != result.of_path[a.path] and a.kind == "registry":
                result.notes.append(
                    f"{a.path}: its {where} names {result.names[named]}, but its content names "
                    f"{result.names[result.of_path[a.path] or '']}; the content was followed"
                )
            continue
        named, where = _named_in_path(a.path, result.names)
        if named is not None:
            result.of_path[a.path], result.how[a.path] = named, f"its {where}"
            continue
        if len(result.names) == 1:
            only = next(iter(result.names))
            result.of_path[a.path], result.how[a.path] = only, "the only server in the case"
            continue
        listed = {server_key(s) for s in a.list_servers} & set(result.names)
        if len(listed) == 1:
            result.of_path[a.path] = listed.pop()
            result.how[a.path] = "its Logon Only As names that server's own components"
            continue
        result.of_path[a.path] = None
        result.how[a.path] = "nothing in it names its server"
    if not result.names:  # no server named anywhere: everything belongs to the one, nameless server
        for a in artefacts:
            result.of_path[a.path] = ""
            result.how[a.path] = "no server is named in the case"
    return result


def undecided_note(path: str, pairing: Pairing) -> str:
    """One sentence for an artefact that could not be paired."""
    names = ", ".join(pairing.names.values())
    return (
        f"{path}: cannot tell which server it belongs to (nothing in it names its server; the case holds "
        f"{names}); it was not used for any server. Name the file after its server (e.g. "
        f"{next(iter(pairing.names.values()), 'SERVER')}_{path.replace(chr(92), '/').rsplit('/', 1)[-1]}) "
        "or add the server's SYSTEM hive, and run again"
    )


def describe_registry(artefact: Artefact, registry: Any, reading: Any) -> None:
    """Fill a registry artefact from its view (``registry.Registry``) and its Logon Only As reading."""
    for key in COMPUTER_NAME_KEYS:
        try:
            value = registry.value(key, COMPUTER_NAME_VALUE)
        except Exception:  # a damaged key: the other signals still decide
            value = None
        data = value.data if value is not None else None
        if isinstance(data, str) and server_key(data) and data.strip() not in artefact.computer_names:
            artefact.computer_names.append(data.strip())
    artefact.holds_list = reading.state != "unknown"
    artefact.list_servers = list_servers(list(reading.entries))
    found = _orgs(reading.entries)
    artefact.orgs |= set(found)
    artefact.org_names.update(found)


def _orgs(dns: Iterable[str | None]) -> dict[str, str]:
    """Organisations (``/o=NAME``) of DNs: casefolded -> as written."""
    out: dict[str, str] = {}
    for dn in dns:
        org = classify(dn).org if dn else None
        if org and org.strip():
            out.setdefault(org.strip().casefold(), org.strip())
    return out


def orgs_by_path(evidence: Any, artefacts: list[Artefact]) -> dict[str, dict[str, str]]:
    """Display path -> organisations named by the DNs of its logon events or Logon Only As entries."""
    out: dict[str, dict[str, str]] = {}
    for logon in [*evidence.refusals, *evidence.logons]:
        found = _orgs([logon.dn_a, logon.dn_b])
        if found:
            out.setdefault(logon.ref.path, {}).update(found)
    for a in artefacts:
        if a.kind == "events":
            a.orgs |= set(out.get(a.path, {}))
        elif a.orgs:
            out.setdefault(a.path, {}).update(a.org_names or {o: o for o in a.orgs})
    return out
