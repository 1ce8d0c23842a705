"""In-memory cases for fixtures and tests: events, the Logon Only As reading, other registry keys.

The record number of a built event is derived from its content (unless given), so a fixture builds
the same events whatever was imported before it: no counter shared across modules.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from analyzer.evidence import CaseFacts, KeyState, LogonOnlyAs, RegistryFacts, collect
from analyzer.model import Event, EventType, RegistryValue

T0 = datetime(2002, 6, 3, 9, 15, 0, tzinfo=UTC)
#: The ParametersSystem key as fixtures show it (ControlSet001: what a binary SYSTEM hive holds).
FIXTURE_KEY = r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem"

# Placeholder organisation, site and DNs of the fixture scenarios.
ORG = "/o=Contoso/ou=Berlin"
IMS_DN = f"{ORG}/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
ADMIN_DN = f"{ORG}/cn=Recipients/cn=admin"


def sa_dn(n: int) -> str:
    return f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH0{n}/cn=Microsoft System Attendant"


def dsa_dn(n: int) -> str:
    return f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH0{n}/cn=Microsoft DSA"


def user_dn(alias: str) -> str:
    return f"{ORG}/cn=Recipients/cn={alias}"


def event(
    event_id: int,
    source: str,
    strings: tuple[str, ...] = (),
    *,
    type: EventType = EventType.ERROR,
    seconds: float = 0,
    computer: str = "EXCH01",
    category: int = 0,
    event_id_full: int | None = None,
    path: str = "AppEvent.Evt",
    record: int | None = None,
) -> Event:
    """An in-memory Event for fixtures and tests (time = T0 + seconds; record derived from the content)."""
    when = T0 + timedelta(seconds=seconds)
    if record is None:
        key = repr((event_id, source, strings, type.value, seconds, computer, category, path))
        record = zlib.crc32(key.encode("utf-8")) % 1_000_000 + 1
    return Event(
        path=path,
        record=record,
        offset=None,
        time_generated=when,
        time_written=when,
        event_id=event_id,
        event_id_full=event_id if event_id_full is None else event_id_full,
        type=type,
        category=category,
        source=source,
        computer=computer,
        sid=None,
        strings=strings,
    )


def e1023(dn_a: str, dn_b: str | None = None, *, account: str = "CONTOSO\\exsvc", **kw: Any) -> Event:
    """MSExchangeIS Private 1023 (Failure Audit, Logons) with strings account, DN-A, DN-B."""
    return event(
        1023, "MSExchangeIS Private", (account, dn_a, dn_b or dn_a), type=EventType.FAILURE_AUDIT, category=1, **kw
    )


def imc(event_id: int, **kw: Any) -> Event:
    return event(event_id, "MSExchangeIMC", (), **kw)


def scm(event_id: int, *strings: str, **kw: Any) -> Event:
    kw.setdefault("path", "SysEvent.Evt")
    return event(event_id, "Service Control Manager", tuple(strings), **kw)


def es11(code: str = "0x8004011d", **kw: Any) -> Event:
    return event(11, "MSExchangeES", (code,), **kw)


def event_line(e: Event) -> str:
    """One line per fixture event for ``analyzer rules --show``."""
    when = e.time_generated.isoformat() if e.time_generated else "?"
    return f"{when} {e.computer} {e.source} {e.event_id} {e.type.value}: " + (" | ".join(e.strings) or e.message or "")


def logon_only_as_of(
    registry: tuple[str, ...] | str | None, last_write: datetime | None = None, tracing: bool = False
) -> LogonOnlyAs:
    """A ``LogonOnlyAs`` reading: None = no export, "absent", "empty", or the entries."""
    if registry is None:
        return LogonOnlyAs("unknown")
    where = {"key": FIXTURE_KEY, "source": "fixture", "last_write": last_write, "enable_tracing": tracing}
    if registry in ("absent", "empty"):
        return LogonOnlyAs(str(registry), **where)  # type: ignore[arg-type]
    return LogonOnlyAs("set", list(registry), **where)  # type: ignore[arg-type]


def registry_facts_of(keys: Mapping[str, Mapping[str, Any] | str]) -> RegistryFacts:
    """``RegistryFacts`` for fixtures: {path: {value: data} | "absent"}.  Data types follow the value:
    str -> REG_SZ, int -> REG_DWORD, list -> REG_MULTI_SZ."""
    out = RegistryFacts()
    for path, spec in keys.items():
        if isinstance(spec, str):
            if spec != "absent":
                raise ValueError(f"fixture key {path!r}: expected a mapping of values or 'absent', got {spec!r}")
            out.add(KeyState(path, False, None, "fixture"))
            continue
        values: dict[str, RegistryValue] = {}
        for name, data in spec.items():
            kind = "REG_DWORD" if isinstance(data, int) else "REG_MULTI_SZ" if isinstance(data, list) else "REG_SZ"
            values[str(name).casefold()] = RegistryValue(str(name), kind, data)
        out.add(KeyState(path, True, path, "fixture", None, values))
        hive = path.split("\\")[1].upper() if path.count("\\") >= 1 else ""
        if hive in ("SYSTEM", "SOFTWARE"):
            out.hives.add(hive)
    return out


def fixture_facts(
    events: Iterable[Event],
    registry: tuple[str, ...] | str | None,
    keys: Mapping[str, Mapping[str, Any] | str],
    last_write: datetime | None = None,
    tracing: bool = False,
    watched: Mapping[str, frozenset[int]] | None = None,
) -> CaseFacts:
    """The ``CaseFacts`` of an in-memory case (what ``Fixture.facts`` builds)."""
    loa = logon_only_as_of(registry, last_write, tracing)
    facts = registry_facts_of(keys)
    return CaseFacts(
        collect(events, watched=watched), loa, registry_read=registry is not None or bool(facts.keys), registry=facts
    )
