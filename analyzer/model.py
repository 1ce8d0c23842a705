"""The normalized record model every reader yields and every rule reads.

One ``Event`` for .evt, .evtx and text exports; one ``RegistryKey``/``RegistryValue`` tree for
hives, .reg files, regedt32 text and ``reg query`` output; ``ReadWarning``/``InputError`` for damage
and unusable input.  Rendering to text/JSON/DataFrames lives at the edge (``report/``), never here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime


class InputError(Exception):
    """An input that cannot be used at all.  ``str()`` is the one-line message shown to the user."""

    def __init__(self, path: str, reason: str, offset: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.offset = offset
        where = f" at offset 0x{offset:x}" if offset is not None else ""
        super().__init__(f"{path}: {reason}{where}")


@dataclass(frozen=True, slots=True)
class ReadWarning:
    """Damage or doubt found while reading; the reader carried on."""

    path: str
    message: str
    offset: int | None = None

    def __str__(self) -> str:
        where = f" (offset 0x{self.offset:x})" if self.offset is not None else ""
        return f"{self.path}: {self.message}{where}"


WarningSink = Callable[[ReadWarning], None]


def ignore_warning(_: ReadWarning) -> None:
    """Default sink for callers that do not care about damage reports."""


def exception_line(exc: BaseException, *, whole: bool = False) -> str:
    """One line saying what went wrong, for a warning, an error row or an error message.

    By default the first line of the exception's message (its type name when it has none).
    ``whole=True`` is for parser exceptions whose messages span lines: every line joined, the type
    name in front unless it is a RuntimeError or ValueError (a bare ``KeyError('3153')`` says
    little), at most 300 characters.
    """
    if not whole:
        lines = str(exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__
    text = " ".join(str(exc).split())
    if not isinstance(exc, RuntimeError | ValueError) or not text:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:300]


class EventType(enum.StrEnum):
    """Event types of the legacy EVENTLOGRECORD.EventType word (and evtx Level mapped onto them)."""

    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"
    SUCCESS_AUDIT = "success_audit"
    FAILURE_AUDIT = "failure_audit"

    @classmethod
    def from_code(cls, code: int) -> EventType:
        """Map the on-disk EventType word (1, 2, 4, 8, 0x10; 0 = success = information)."""
        return _TYPE_BY_CODE.get(code, cls.INFORMATION)

    @classmethod
    def parse(cls, text: str) -> EventType:
        """Accept 'Failure Audit', 'failure_audit', 'FailureAudit', 'Error', ... (raises ValueError)."""
        key = "".join(ch for ch in text.casefold() if ch.isalpha())
        try:
            return _TYPE_BY_WORD[key]
        except KeyError:
            raise ValueError(f"unknown event type {text!r}") from None

    @property
    def label(self) -> str:
        """Event Viewer's wording, e.g. 'Failure Audit'."""
        return self.value.replace("_", " ").title()


_TYPE_BY_CODE = {
    0: EventType.INFORMATION,
    1: EventType.ERROR,
    2: EventType.WARNING,
    4: EventType.INFORMATION,
    8: EventType.SUCCESS_AUDIT,
    0x10: EventType.FAILURE_AUDIT,
}
_TYPE_BY_WORD = {
    "error": EventType.ERROR,
    "warning": EventType.WARNING,
    "information": EventType.INFORMATION,
    "info": EventType.INFORMATION,
    "successaudit": EventType.SUCCESS_AUDIT,
    "auditsuccess": EventType.SUCCESS_AUDIT,
    "failureaudit": EventType.FAILURE_AUDIT,
    "auditfailure": EventType.FAILURE_AUDIT,
}


@dataclass(frozen=True, slots=True)
class Event:
    """One event, whatever file it came from.

    Times are timezone-aware UTC for binary logs; text exports carry naive local times unless the
    caller gave a time zone.  ``event_id`` is the low 16 bits that Event Viewer shows;
    ``event_id_full`` keeps the legacy severity/customer/facility bits (evtx: Qualifiers << 16).
    """

    path: str
    record: int
    offset: int | None
    time_generated: datetime | None
    time_written: datetime | None
    event_id: int
    event_id_full: int
    type: EventType
    category: int
    source: str
    computer: str
    sid: str | None
    strings: tuple[str, ...]
    data: bytes = b""
    message: str | None = None
    log: str | None = None
    recovered: bool = False

    def to_dict(self) -> dict[str, object]:
        """The JSON object of ``events --format jsonl`` (the JSON contract in README.md)."""
        return {
            "path": self.path,
            "record": self.record,
            "offset": self.offset,
            "time_generated": iso_time(self.time_generated),
            "time_written": iso_time(self.time_written),
            "event_id": self.event_id,
            "event_id_full": self.event_id_full,
            "type": self.type.value,
            "category": self.category,
            "source": self.source,
            "computer": self.computer,
            "sid": self.sid,
            "strings": list(self.strings),
            "message": self.message,
            "recovered": self.recovered,
        }


def iso_time(value: datetime | None) -> str | None:
    """ISO-8601 with ``Z`` for UTC; naive (local, zone unknown) times get no suffix."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Filters pushed down into readers so that skipped records are not fully decoded.

    Readers call the cheap checks (``wants_id``, ``wants_type``, ``wants_time``) on header fields
    before decoding strings, then ``matches`` on the finished event.
    """

    ids: frozenset[int] = frozenset()
    sources: frozenset[str] = frozenset()  # casefolded
    types: frozenset[EventType] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    #: (casefolded source, event ID) pairs some consumer reads; a record passes when its ID is paired
    #: with a source its own (casefolded) source contains.  Empty: no pair condition.
    pairs: frozenset[tuple[str, int]] = frozenset()
    _sources_of: dict[int, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False, repr=False)
    _pair_seen: dict[tuple[int, str], bool] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[int, tuple[str, ...]] = {}
        for source, event_id in sorted(self.pairs):
            index[event_id] = (*index.get(event_id, ()), source)
        object.__setattr__(self, "_sources_of", index)

    @classmethod
    def build(
        cls,
        ids: Iterable[int] = (),
        sources: Iterable[str] = (),
        types: Iterable[EventType | str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        pairs: Iterable[tuple[str, int]] = (),
    ) -> EventFilter:
        return cls(
            ids=frozenset(int(i) & 0xFFFF for i in ids),
            sources=frozenset(s.casefold() for s in sources),
            types=frozenset(t if isinstance(t, EventType) else EventType.parse(t) for t in types),
            since=since,
            until=until,
            pairs=frozenset((s.strip().casefold(), int(i) & 0xFFFF) for s, i in pairs),
        )

    @property
    def empty(self) -> bool:
        return not (self.ids or self.sources or self.types or self.since or self.until or self.pairs)

    def wants_pair(self, event_id: int, source: str) -> bool:
        """Whether some consumer reads this (source, ID): the ID is paired with a source name that the
        record's source contains (ignoring case), e.g. ``imap4`` in ``MSExchangeIMAP4``."""
        if not self.pairs:
            return True
        key = (event_id & 0xFFFF, source)
        known = self._pair_seen.get(key)
        if known is None:
            wanted = self._sources_of.get(key[0])
            folded = source.casefold()
            known = bool(wanted) and any(s in folded for s in wanted)
            if len(self._pair_seen) > 4096:  # a hostile log with endless source names stays bounded
                self._pair_seen.clear()
            self._pair_seen[key] = known
        return known

    def wants_id(self, event_id: int) -> bool:
        return not self.ids or (event_id & 0xFFFF) in self.ids

    def wants_type(self, event_type: EventType) -> bool:
        return not self.types or event_type in self.types

    def wants_source(self, source: str) -> bool:
        return not self.sources or source.casefold() in self.sources

    def wants_time(self, when: datetime | None) -> bool:
        if when is None or (self.since is None and self.until is None):
            return True
        when_cmp, since, until = _comparable(when, self.since, self.until)
        if since is not None and when_cmp < since:
            return False
        return not (until is not None and when_cmp > until)

    def matches(self, event: Event) -> bool:
        return (
            self.wants_id(event.event_id)
            and self.wants_type(event.type)
            and self.wants_source(event.source)
            and self.wants_pair(event.event_id, event.source)
            and self.wants_time(event.time_generated)
        )


def _comparable(
    when: datetime, since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime | None, datetime | None]:
    """Compare naive with naive and aware with aware: a naive bound is read as UTC for aware times."""

    def align(bound: datetime | None) -> datetime | None:
        if bound is None:
            return None
        if when.tzinfo is None:
            return bound.replace(tzinfo=None) if bound.tzinfo is None else bound.astimezone(UTC).replace(tzinfo=None)
        return bound if bound.tzinfo is not None else bound.replace(tzinfo=UTC)

    return when, align(since), align(until)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True, slots=True)
class RegistryValue:
    """One value.  ``data`` is decoded: str (REG_SZ/EXPAND_SZ/LINK), int (DWORD/QWORD), list[str]
    (MULTI_SZ), bytes (BINARY and unknown types) or None; ``raw`` keeps the bytes when known."""

    name: str
    type: str  # "REG_SZ", "REG_MULTI_SZ", ... or "REG_0x1234" for unknown type numbers
    data: str | int | list[str] | bytes | None
    raw: bytes | None = None

    def json_data(self) -> str | int | list[str] | None:
        """Data as in the ``registry --format json`` contract (binary as a hex string)."""
        if isinstance(self.data, bytes | bytearray):
            return bytes(self.data).hex()
        return self.data


@dataclass(slots=True, eq=False)
class RegistryKey:
    """An in-memory key: what the text readers build and what tests construct.

    Names are compared case-insensitively and keep their original case for display.  Hive readers
    may offer lazy nodes instead; anything with the same methods works with ``registry.Registry``.
    """

    name: str
    last_write: datetime | None = None
    class_name: str | None = None
    _values: dict[str, RegistryValue] = field(default_factory=dict, repr=False)
    _subkeys: dict[str, RegistryKey] = field(default_factory=dict, repr=False)

    def values(self) -> list[RegistryValue]:
        return list(self._values.values())

    def value(self, name: str) -> RegistryValue | None:
        return self._values.get(name.casefold())

    def subkeys(self) -> list[RegistryKey]:
        return list(self._subkeys.values())

    def subkey(self, name: str) -> RegistryKey | None:
        return self._subkeys.get(name.casefold())

    # -- building (text readers, tests) --
    def set_value(self, value: RegistryValue) -> None:
        self._values[value.name.casefold()] = value

    def delete_value(self, name: str) -> bool:
        return self._values.pop(name.casefold(), None) is not None

    def add_subkey(self, name: str) -> RegistryKey:
        """Return the existing subkey of that name (any case) or create it."""
        found = self._subkeys.get(name.casefold())
        if found is None:
            found = RegistryKey(name)
            self._subkeys[name.casefold()] = found
        return found

    def delete_subkey(self, name: str) -> bool:
        return self._subkeys.pop(name.casefold(), None) is not None

    def ensure_path(self, parts: Iterable[str]) -> RegistryKey:
        node = self
        for part in parts:
            node = node.add_subkey(part)
        return node


@dataclass(slots=True)
class RegistryFile:
    """What a registry reader returns.

    ``root`` is the top of what the file holds.  ``root_path`` says where that root sits in the
    machine's registry when the format says so (.reg, regedt32 text and reg query name full paths:
    their readers use a nameless root whose subkeys are ``HKEY_LOCAL_MACHINE`` etc., and
    ``root_path`` is ``""``); for hives it is ``None`` and ``registry.Registry`` works it out from
    the content (a SYSTEM hive, or a "Save Key" of MSExchangeIS / ParametersSystem).
    """

    path: str
    format: str  # "hive" | "reg" | "regedt32" | "regquery"
    root: RegistryKey  # or a lazy node with the same read methods
    root_path: str | None
    warnings: list[ReadWarning] = field(default_factory=list)
    keys_read: int = 0
    values_read: int = 0


# --------------------------------------------------------------------------- diagnosis


class Severity(enum.StrEnum):
    ERROR = "error"  # needs action
    WARNING = "warning"  # needs a look
    INFO = "info"  # by design / harmless / context


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """One artefact behind a finding: an event (path, record) or a registry value (path, key)."""

    path: str
    record: int | None = None
    event_id: int | None = None
    source: str | None = None
    time: datetime | None = None
    key: str | None = None  # registry evidence: key path
    value: str | None = None  # registry evidence: value name
    text: str | None = None  # short human description (e.g. the account/DN line)
    also_in: tuple[str, ...] = ()  # other files holding the same event (counted once, analyzer.dedup)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "record": self.record,
            "event_id": self.event_id,
            "source": self.source,
            "time": iso_time(self.time),
        }
        for name in ("key", "value", "text"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.also_in:
            out["also_in"] = list(self.also_in)
        return out


class FindingKind(enum.StrEnum):
    """What a finding says about Logon Only As; the verdict is composed from kinds, never from titles."""

    CAUSE = "cause"  # a cause of the failure (or a documented pattern of one); the default
    MISSING_ENTRY = "missing_entry"  # a refused DN the list must hold (``add_dn``)
    LOOKALIKE = "lookalike"  # a documented 1023 that has nothing to do with Logon Only As
    LOCKOUT = "lockout"  # mailboxes refused by design while logons are limited
    LISTED_REFUSED = "listed_refused"  # a listed DN was refused anyway: not a Logon Only As problem
    CASE_ONLY = "case_only"  # listed, but in different letter case
    BLANK_LIST = "blank_list"  # the value exists and is blank: nobody may log on
    STATE = "state"  # what the state of the value means (absent, Enable Tracing instead)
    REGISTRY_NEEDED = "registry_needed"  # refusals without a registry export that would settle them
    TIMING = "timing"  # the refusals against the value's last write and IS restarts
    NO_MATCH = "no_match"  # Exchange errors that no rule explains
    DN_UNCONFIRMED = "dn_unconfirmed"  # refusals whose DN could not be read safely: raw text, what to collect
    ADVICE = "advice"  # holds for every case with the value set (ExMerge): shown as advice, never as a finding
    PATCH_WITHHELD = "patch_withheld"  # no .reg patch: it would lock out what works today


@dataclass(frozen=True, slots=True)
class Finding:
    """One conclusion of one rule, with its evidence (see the JSON contract in README.md)."""

    rule: str  # e.g. "KB306308"
    severity: Severity
    title: str
    explanation: str
    component: str | None = None  # "Internet Mail Service", "System Attendant (EXCH02)", "mailbox jdoe"
    dn: str | None = None  # verbatim from the event
    account: str | None = None  # DOMAIN\user
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    evidence: tuple[EvidenceRef, ...] = ()
    references: tuple[str, ...] = ()  # "KB306308", ...
    replaces: str | None = None  # near miss: the list entry to replace with ``dn``
    add_dn: bool = False  # this finding puts ``dn`` into dns_to_add
    assumptions: tuple[str, ...] = ()  # (inferred)/(unverified) facts the conclusion rests on
    kind: FindingKind = FindingKind.CAUSE  # typed meaning for the verdict (not part of the JSON contract)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "title": self.title,
            "component": self.component,
            "dn": self.dn,
            "account": self.account,
            "count": self.count,
            "first_seen": iso_time(self.first_seen),
            "last_seen": iso_time(self.last_seen),
            "evidence": [e.to_dict() for e in self.evidence],
            "explanation": self.explanation,
            "references": list(self.references),
        }
        if self.replaces is not None:
            out["replaces"] = self.replaces
        if self.assumptions:
            out["assumptions"] = list(self.assumptions)
        return out
