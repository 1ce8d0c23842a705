r"""Evidence extraction: from a stream of Events and registry views to the few facts the rules read.

Why a separate step: readers yield every record of a log, rules need only a handful of event kinds,
each parsed into fields (account, validated-as DN, target DN, service name, error code).  This module
keeps just those (``Evidence.feed`` counts everything else), so memory does not grow with log size.

* 1023 / 1009 / 1013 / 1016 of MSExchangeIS Private/Public: the account and the DNs are taken by
  shape, not by position, because the insertion-string order is undocumented: the
  ``DOMAIN\account`` string is the account, the ``/o=`` strings in order of appearance are DN-A
  (validated as) and DN-B (target).  Without strings (text exports) the rendered description is used,
  including the "description … could not be found … insertion string(s):" wrapper.
* MSExchangeIMC start failures (4018, 4116, 4086, …), MSExchangeES 11, IMAP4 13003.
* Service Control Manager 7000/7001/7023/7024/7031 naming Exchange services, and 7036 (service
  entered the running/stopped state) to place IS restarts — no KB article used here names 7036: its use is
  **(inferred)** from the standard Windows 2000+ SCM messages; NT 4.0 does not log it.
* The ``Logon Only As`` value of each registry export: state, entries, key, control set, last write.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from analyzer import messages
from analyzer.dn_source import Unreadable, logon_dns
from analyzer.model import Event, EventFilter, EvidenceRef, RegistryValue, iso_time
from analyzer.registry import LOGON_ONLY_AS, display_path
from analyzer.registry import PARAMETERS_SYSTEM as _PARAMETERS_SYSTEM_PARTS

# --------------------------------------------------------------------------- what the rules need

LOGON_IDS = frozenset({1023, 1009, 1013, 1016})
#: The logons the rules read: 1016 names a display name, not a DN, so no rule reads it (it is still
#: parsed when fed, e.g. through ``collect``).
READ_LOGON_IDS = frozenset({1023, 1009, 1013})
IS_SOURCES = frozenset({"msexchangeis private", "msexchangeis public"})
#: MSExchangeIMC start/processing failures.
IMC_IDS = frozenset({4018, 4116, 4086, 4023, 4182, 3039, 4087, 4074, 4007, 4020, 4014, 4032, 4057})
SCM_FAILURE_IDS = frozenset({7000, 7001, 7023, 7024, 7031})
SCM_STATE_ID = 7036  # (inferred) "The X service entered the running/stopped state."
SCM_SOURCE = "service control manager"
ES_IDS = frozenset({11})
IMAP_IDS = frozenset({13003})


@dataclass(frozen=True)
class EventNeed:
    """Events a rule reads: a source (compared ignoring case) and event IDs (low 16 bits).

    ``whole=False``: events this module parses into typed evidence (logons, IMC, SCM, ES, IMAP);
    ``whole=True``: events kept whole (strings and description, ``Evidence.raw``) for the data rules.
    The pushdown filter and the whole-kept events of a case are derived from the loaded rules' needs
    (``evidence_filter``, ``watched_of``), so a new rule's events are never filtered away."""

    source: str
    ids: frozenset[int]
    whole: bool = False


#: The typed evidence this module extracts; rules name the ones they read.
LOGONS = tuple(EventNeed(s, READ_LOGON_IDS) for s in ("MSExchangeIS Private", "MSExchangeIS Public"))
IMC_FAILURES = (EventNeed("MSExchangeIMC", IMC_IDS),)
SCM_FAILURES = (EventNeed("Service Control Manager", SCM_FAILURE_IDS),)
SCM_STATES = (EventNeed("Service Control Manager", frozenset({SCM_STATE_ID})),)
EVENT_SERVICE = (EventNeed("MSExchangeES", ES_IDS),)
IMAP_LOGONS = (EventNeed("IMAP4", IMAP_IDS),)


def watched_of(needs: Iterable[EventNeed]) -> dict[str, frozenset[int]]:
    """Casefolded source -> event IDs kept whole (``Evidence.raw``), from the needs with ``whole``."""
    out: dict[str, frozenset[int]] = {}
    for need in needs:
        if need.whole:
            key = need.source.strip().casefold()
            out[key] = out.get(key, frozenset()) | need.ids
    return out


def evidence_filter(needs: Iterable[EventNeed]) -> EventFilter:
    """The pushdown filter: readers skip every record whose (source, ID) no rule needs, deciding from the
    cheapest fields they have (the ID first, then the source) before any string is decoded."""
    needs = list(needs)
    return EventFilter.build(
        ids=sorted({i for need in needs for i in need.ids}),
        pairs={(need.source, i) for need in needs for i in need.ids},
    )


#: Exchange services: registry key -> (short human name, display names as SCM prints them).
EXCHANGE_SERVICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "MSExchangeIS": ("Information Store", ("Microsoft Exchange Information Store",)),
    "MSExchangeIMC": (
        "Internet Mail Service",
        ("Microsoft Exchange Internet Mail Service", "Microsoft Exchange Internet Mail Connector"),
    ),
    "MSExchangeSA": ("System Attendant", ("Microsoft Exchange System Attendant",)),
    "MSExchangeDS": ("Directory", ("Microsoft Exchange Directory",)),
    "MSExchangeMTA": ("Message Transfer Agent", ("Microsoft Exchange Message Transfer Agent",)),
    "MSExchangeES": ("Event Service", ("Microsoft Exchange Event Service",)),
}
_SERVICE_NAMES: list[tuple[str, str]] = sorted(
    [(name.casefold(), key) for key, (_, names) in EXCHANGE_SERVICES.items() for name in names]
    + [(key.casefold(), key) for key in EXCHANGE_SERVICES],
    key=lambda p: -len(p[0]),
)

#: How far apart two events of one start attempt may be (1023 -> 4018/4116/SCM).
CORROBORATION_WINDOW = timedelta(minutes=5)

_HEX_CODE = re.compile(r"(?i)0x[0-9a-f]{6,8}")


# The patterns below are compiled on first use: many cases (a log without the events they read) never
# need them, and compiling at import is start-up every run pays.
@functools.cache
def _wrapper() -> re.Pattern[str]:
    """A "description … could not be found" wrapper around the insertion strings."""
    return re.compile(r"(?is)could\s+not\s+be\s+found.*?insertion\s+strings?\s*(?:\(s\))?\s*:\s*(?P<rest>.*)$")


@functools.cache
def _int() -> re.Pattern[str]:
    """A 3- to 10-digit number standing alone (a service-specific error code)."""
    return re.compile(r"(?<![\w.])(\d{3,10})(?![\w.])")


def _event_time(event: Event) -> datetime | None:
    return event.time_generated or event.time_written


#: Longest message kept on an evidence reference (the report shows it; JSON stays small).
MESSAGE_CAP = 600
#: Longest raw text kept for a refusal whose DN could not be read safely (the user reads the DN off it).
UNCONFIRMED_CAP = 2000


def viewer_message(event: Event) -> str | None:
    """The description an engineer would have seen in Event Viewer, for the evidence reference.

    The exported description when the input has one (text exports); otherwise the analyzer's own
    catalog filled with the insertion strings, prefixed ``[reconstructed] `` (``messages.render``): a
    paraphrase, never presented as Microsoft's wording.  A "description … could not be found" wrapper
    is not a description: the reconstruction replaces it.
    """
    text = event.message or ""
    if text and (text.startswith(messages.RECONSTRUCTED_PREFIX) or not _wrapper().search(text)):
        folded = re.sub(r"\s*[\r\n]+\s*", " ", text).strip()
        return folded[:MESSAGE_CAP] or None
    rendered = messages.render(event.source, event.event_id & 0xFFFF, tuple(event.strings), event.event_id_full)
    return rendered.shown[:MESSAGE_CAP] if rendered is not None else None


def _text_of(event: Event) -> str:
    """The description, without the message catalog's reconstruction label, newlines folded."""
    text = event.message
    if not text:  # binary logs carry no description
        return ""
    if text.startswith("[reconstructed] "):
        text = text[len("[reconstructed] ") :]
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def parse_logon_strings(strings: tuple[str, ...] | list[str], text: str = "") -> tuple[str | None, list[str], str]:
    """(account, DNs in order, where they came from) of a 1023/1013 under the DN-safety invariant
    (``analyzer.dn_source``); origin "none" and no DNs when they cannot be taken safely."""
    found = logon_dns("MSExchangeIS Private", 1023, strings, text)
    if isinstance(found, Unreadable):
        return None, [], "none"
    return found.account, list(found.dns), found.origin


def service_key(name: str) -> str | None:
    """``Microsoft Exchange Internet Mail Service`` / ``MSExchangeIMC`` -> ``MSExchangeIMC``; None otherwise."""
    folded = " ".join(name.casefold().split())
    if folded.startswith("the "):
        folded = folded[4:]
    if folded.endswith(" service"):
        folded = folded[: -len(" service")]
    for display, key in _SERVICE_NAMES:
        if folded == display:
            return key
    return None


@functools.cache
def _service_at() -> re.Pattern[str]:
    """Every Exchange service name at once; the lookahead reports the longest name starting at each position."""
    return re.compile("(?=(" + "|".join(re.escape(display) for display, _ in _SERVICE_NAMES) + "))")


_SERVICE_RANK = {display: rank for rank, (display, _) in enumerate(_SERVICE_NAMES)}


def services_in_text(text: str) -> list[str]:
    """Exchange service keys named in free text, in order of appearance (longest names first).

    One compiled pattern finds the candidates; a name starting inside a longer (or same-length,
    earlier-listed) name already taken is skipped."""
    folded = " ".join(text.casefold().split())
    found = [(_SERVICE_RANK[m.group(1)], m.start(), m.group(1)) for m in _service_at().finditer(folded)]
    if not found:
        return []
    if len(found) > 1:
        found.sort()
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for rank, start, display in found:
        if any(a <= start < b for a, b in taken):
            continue
        taken.append((start, start + len(display)))
        hits.append((start, _SERVICE_NAMES[rank][1]))
    return [key for _, key in sorted(hits)]


def _services_in_text_pairwise(text: str) -> list[str]:
    """The name-by-name search ``services_in_text`` replaces (kept to test that both agree)."""
    folded = " ".join(text.casefold().split())
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for display, key in _SERVICE_NAMES:
        for m in re.finditer(re.escape(display), folded):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            hits.append((m.start(), key))
    return [key for _, key in sorted(hits)]


# --------------------------------------------------------------------------- parsed records


@dataclass(frozen=True, slots=True)
class Logon:
    """An IS logon audit: 1023 (refused) or 1009/1013/1016 (succeeded)."""

    event_id: int
    store: str  # "Private" | "Public"
    account: str | None
    dn_a: str | None  # validated-as DN (1023, 1013) or the DN logged on as (1009)
    dn_b: str | None  # target DN (1023, 1013)
    time: datetime | None
    computer: str
    ref: EvidenceRef
    parsed_from: str  # "strings" | "template:<language>" | "structure" (analyzer.dn_source)

    @property
    def refused(self) -> bool:
        return self.event_id == 1023


@dataclass(frozen=True, slots=True)
class UnconfirmedRefusal:
    """A refused logon (1023) whose DN could not be taken safely from the input (``analyzer.dn_source``):
    reported with its raw text, never turned into a DN to add."""

    ref: EvidenceRef
    text: str  # the description or insertion strings as the input holds them (capped)
    reason: str  # why no DN was taken
    time: datetime | None
    computer: str
    store: str = "Private"

    def to_dict(self) -> dict[str, object]:
        """The JSON object of ``unconfirmed`` (path, record, text)."""
        return {"path": self.ref.path, "record": self.ref.record, "text": self.text}


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """An SCM event about an Exchange service."""

    event_id: int
    service: str | None  # registry key, e.g. "MSExchangeIMC"; None when not an Exchange service
    service_name: str  # as written in the event
    depends_on: str | None  # 7001: the service it needed (registry key when Exchange)
    code: int | None  # 7024: service-specific error; 7000/7023: error number when given
    state: str | None  # 7036: "running" | "stopped"
    time: datetime | None
    computer: str
    ref: EvidenceRef
    text: str


@dataclass(frozen=True, slots=True)
class SimpleEvent:
    """An IMC, Event Service or IMAP4 event: only its identity, time and any hex code in it."""

    event_id: int
    source: str
    code: str | None
    time: datetime | None
    computer: str
    ref: EvidenceRef


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A watched event kept with its strings and description (both capped) for the data rules."""

    event_id: int
    source: str
    type: str  # EventType value ("error", "warning", ...)
    strings: tuple[str, ...]
    text: str
    time: datetime | None
    computer: str
    ref: EvidenceRef

    @property
    def blob(self) -> str:
        """Strings and description in one string: what ``contains``/``regex`` conditions search, so a
        condition does not depend on the (unverified) insertion-string layout."""
        return " | ".join(self.strings) + " | " + self.text


#: Caps that keep a hostile or huge event from growing memory (per string, per description, per event).
_RAW_STRING_CAP, _RAW_TEXT_CAP, _RAW_STRINGS = 1024, 2048, 16


@dataclass
class Evidence:
    """What the rules read from the logs.  ``feed`` keeps relevant events and counts the rest."""

    refusals: list[Logon] = field(default_factory=list)
    logons: list[Logon] = field(default_factory=list)
    imc: list[SimpleEvent] = field(default_factory=list)
    services: list[ServiceEvent] = field(default_factory=list)
    event_service: list[SimpleEvent] = field(default_factory=list)
    imap: list[SimpleEvent] = field(default_factory=list)
    raw: list[RawEvent] = field(default_factory=list)  # ``watched`` events, whole (data rules)
    seen: Counter[str] = field(default_factory=Counter)  # events fed, per display path
    kept: Counter[str] = field(default_factory=Counter)  # events kept, per display path
    unconfirmed: list[UnconfirmedRefusal] = field(default_factory=list)  # 1023s whose DNs could not be taken safely
    logs: int = 0  # event inputs that were read
    #: casefolded source -> IDs kept whole for the data rules (``watched_of`` the loaded rules' needs)
    watched: Mapping[str, frozenset[int]] = field(default_factory=dict)
    other_dns: list[tuple[str, EvidenceRef]] = field(default_factory=list)  # DNs of 1016s (org/site cross-checks)
    binary_paths: set[str] = field(default_factory=set)  # inputs that are binary logs (real record numbers)
    duplicates_merged: int = 0  # events dropped because another file held the same event (analyzer.dedup)
    merged_files: set[str] = field(default_factory=set)  # the files those events were seen in
    #: one copy of each text the kept records hold (see ``_same``)
    _texts: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @overload
    def _same(self, text: str) -> str: ...
    @overload
    def _same(self, text: None) -> None: ...
    @overload
    def _same(self, text: str | None) -> str | None: ...
    def _same(self, text: str | None) -> str | None:
        """The one kept copy of ``text``.

        Why: a restart-loop log repeats the same refusal tens of thousands of times, and every record
        decoded its own copies of the source, computer, account, DNs and description.  Keeping one copy
        per distinct text makes the kept evidence grow by a record's few references, not by its text."""
        if text is None:
            return None
        return self._texts.setdefault(text, text)

    def feed(self, event: Event, path: str | None = None) -> bool:
        """Parse one event; True when it was kept.  ``path`` is the display path (default event.path)."""
        shown = path or event.path
        self.seen[shown] += 1
        if event.time_written is not None:  # only binary logs carry a written time (and real record numbers)
            self.binary_paths.add(shown)
        kept = self._parse(event, shown)
        if kept:
            self.kept[shown] += 1
        return kept

    def feed_all(self, events: Any, path: str | None = None) -> int:
        """Feed an iterable of events (streamed); returns how many were fed."""
        n = 0
        for event in events:
            self.feed(event, path)
            n += 1
        return n

    @property
    def event_count(self) -> int:
        return sum(self.seen.values())

    def _ref(self, event: Event, path: str, text: str | None = None) -> EvidenceRef:
        return EvidenceRef(
            path=self._same(path),
            record=event.record,
            event_id=event.event_id,
            source=self._same(event.source),
            time=_event_time(event),
            text=self._same(text),
        )

    def _parse(self, event: Event, path: str) -> bool:
        eid = event.event_id & 0xFFFF
        source = event.source.strip().casefold()
        watched = eid in self.watched.get(source, ())
        if watched:
            self.raw.append(self._raw(event, path, eid))
        return self._parse_known(event, path, eid, source) or watched

    def _raw(self, event: Event, path: str, eid: int) -> RawEvent:
        same = self._same
        strings = tuple(same((s or "")[:_RAW_STRING_CAP]) for s in event.strings[:_RAW_STRINGS])
        return RawEvent(
            eid,
            same(event.source),
            event.type.value,
            strings,
            same(_text_of(event)[:_RAW_TEXT_CAP]),
            _event_time(event),
            same(event.computer),
            self._ref(event, path, viewer_message(event) or " | ".join(strings)[:300] or None),
        )

    def _parse_known(self, event: Event, path: str, eid: int, source: str) -> bool:
        if eid in LOGON_IDS and source in IS_SOURCES:
            return self._logon(event, path, eid, source)
        if eid in IMC_IDS and source == "msexchangeimc":
            self.imc.append(self._simple(event, path, eid))
            return True
        if source == SCM_SOURCE and (eid in SCM_FAILURE_IDS or eid == SCM_STATE_ID):
            return self._scm(event, path, eid)
        if eid in ES_IDS and source == "msexchangees":
            self.event_service.append(self._simple(event, path, eid))
            return True
        if eid in IMAP_IDS and "imap4" in source:
            self.imap.append(self._simple(event, path, eid))
            return True
        return False

    def _simple(self, event: Event, path: str, eid: int) -> SimpleEvent:
        blob = " ".join(event.strings) + " " + (event.message or "")
        code = _HEX_CODE.search(blob)
        return SimpleEvent(
            eid,
            self._same(event.source),
            self._same(code.group(0).lower()) if code else None,
            _event_time(event),
            self._same(event.computer),
            self._ref(event, path, viewer_message(event)),
        )

    def _logon(self, event: Event, path: str, eid: int, source: str) -> bool:
        text = _text_of(event)
        found = logon_dns(event.source, eid, event.strings, text, expect=1 if eid == 1009 else 2)
        store = "Public" if source.endswith("public") else "Private"
        if isinstance(found, Unreadable):
            if eid == 1023:
                raw = self._same(found.text[:UNCONFIRMED_CAP])
                ref = self._ref(event, path, raw[:MESSAGE_CAP] or None)
                self.unconfirmed.append(
                    UnconfirmedRefusal(
                        ref, raw, self._same(found.reason), _event_time(event), self._same(event.computer), store
                    )
                )
            return True
        account, dns = self._same(found.account), [self._same(d) for d in found.dns]
        if eid == 1016:  # %2 is the mailbox's display name; a DN there only serves org/site cross-checks
            self.other_dns.extend((d, self._ref(event, path)) for d in dns)
            dns = []
        dn_a = dns[0] if dns else None
        dn_b = dns[1] if len(dns) > 1 else (dn_a if eid == 1009 else None)
        line = f"{account or '?'}: {dn_a or '?'}" + (f" -> {dn_b}" if dn_b and dn_b != dn_a else "")
        ref = self._ref(event, path, viewer_message(event) or line)
        record = Logon(
            eid,
            store,
            account,
            dn_a,
            dn_b,
            _event_time(event),
            self._same(event.computer),
            ref,
            self._same(found.origin),
        )
        if eid == 1023:
            self.refusals.append(record)
        else:
            self.logons.append(record)
        return True

    def _scm(self, event: Event, path: str, eid: int) -> bool:
        strings = [s for s in event.strings if s is not None]
        text = _text_of(event)
        first = strings[0] if strings else ""
        key = service_key(first) if first else None
        named = services_in_text(" ".join(strings) + " " + text)
        if key is None and named:
            key = named[0]
        if key is None:
            return False  # not an Exchange service: counted, not kept
        name = first or EXCHANGE_SERVICES[key][1][0]
        depends = None
        if eid == 7001:
            second = strings[1] if len(strings) > 1 else ""
            depends = service_key(second) if second else None
            if depends is None:
                others = [k for k in named if k != key]
                depends = others[0] if others else (second or None)
        code = None
        if eid in (7024, 7000, 7023, 7031):
            blob = " ".join(strings[1:]) + " " + text
            m = _int().search(blob)
            code = int(m.group(1)) if m else None
        state = None
        if eid == SCM_STATE_ID:
            blob = (" ".join(strings[1:]) + " " + text).casefold()
            state = "running" if "running" in blob else "stopped" if "stopped" in blob else None
            if state is None:
                return False
        shown = viewer_message(event) or f"{EXCHANGE_SERVICES[key][0]}: {text or ' | '.join(strings)}"[:300]
        ref = self._ref(event, path, shown)
        same = self._same
        self.services.append(
            ServiceEvent(
                eid,
                key,
                same(name),
                same(depends),
                code,
                state,
                _event_time(event),
                same(event.computer),
                ref,
                same(text),
            )
        )
        return True


def collect(events: Any, path: str | None = None, watched: Mapping[str, frozenset[int]] | None = None) -> Evidence:
    """Evidence of one event stream (convenience for tests and notebooks); ``watched``: see ``Evidence``."""
    evidence = Evidence(watched=dict(watched or {}))
    evidence.feed_all(events, path)
    return evidence


# --------------------------------------------------------------------------- time helpers


def comparable(a: datetime | None, b: datetime | None) -> bool:
    """Both known and both aware or both naive (naive = local time of a text export, zone unknown)."""
    return a is not None and b is not None and (a.tzinfo is None) == (b.tzinfo is None)


def within(a: datetime | None, b: datetime | None, window: timedelta = CORROBORATION_WINDOW) -> bool:
    return comparable(a, b) and abs(a - b) <= window  # type: ignore[operator]


class TimeIndex:
    """Times sorted once so that "is any of them within the window of t" costs a bisection, not a scan.

    Why: the rules ask it for every event of a start attempt against every other; pairwise ``within``
    made a restart loop's log cost quadratic.  Same answers as ``any(within(t, u) for u in times)``:
    aware and naive times are kept apart, as ``comparable`` demands."""

    __slots__ = ("_aware", "_naive")

    def __init__(self, times: Iterable[datetime | None]) -> None:
        aware: list[datetime] = []
        naive: list[datetime] = []
        for t in times:
            if t is not None:
                (naive if t.tzinfo is None else aware).append(t)
        aware.sort()
        naive.sort()
        self._aware, self._naive = aware, naive

    def near(self, when: datetime | None, window: timedelta = CORROBORATION_WINDOW) -> bool:
        """Whether some indexed time lies within ``window`` of ``when`` (both ends included)."""
        if when is None:
            return False
        times = self._naive if when.tzinfo is None else self._aware
        at = bisect_left(times, when - window)
        return at < len(times) and times[at] <= when + window


def before(a: datetime | None, b: datetime | None) -> bool:
    """True when both times are comparable and ``a`` is earlier than ``b``."""
    return comparable(a, b) and a < b  # type: ignore[operator]


# --------------------------------------------------------------------------- Logon Only As

PARAMETERS_SYSTEM = display_path(_PARAMETERS_SYSTEM_PARTS)  # HKLM\SYSTEM\CurrentControlSet\…\ParametersSystem
ENABLE_TRACING = "Enable Tracing"


@dataclass
class LogonOnlyAs:
    """The ``Logon Only As`` value as found (contract of diagnosis.py).

    ``state``: ``absent`` (key read, no value: no restriction), ``empty`` (blank value: nobody may log
    on), ``set`` (only the entries may log on), ``unknown`` (no export holds the key).  ``entries``
    are the non-blank strings in order; blank elements are reported in ``notes``.
    """

    state: str = "unknown"
    entries: list[str] = field(default_factory=list)
    source: str | None = None
    key: str | None = None
    last_write: datetime | None = None
    control_set: str | None = None
    notes: list[str] = field(default_factory=list)
    enable_tracing: bool = False  # an "Enable Tracing" value sits in ParametersSystem (KB 146764 late revision)
    format: str | None = None  # format of the export used
    values_read: int = 0  # values of the ParametersSystem key that were read
    raw_entries: list[str] | None = None  # the strings as stored, blanks included (for an exact rollback)
    choice: str | None = None  # one sentence for the verdict when exports disagree
    # (entry, source): entries another export of this list holds and this one does not.  A patch built
    # on this export must not silently drop them (the lock-out check refuses a patch that would).
    elsewhere: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "entries": list(self.entries),
            "source": self.source,
            "key": self.key,
            "last_write": iso_time(self.last_write),
            "control_set": self.control_set,
            "notes": list(self.notes),
        }


def _entries_of(value: RegistryValue) -> tuple[list[str], list[str], list[str]]:
    """(non-blank entries, notes, every string as stored) of the value whatever its type."""
    notes: list[str] = []
    data = value.data
    if isinstance(data, list):
        raw = [str(s) for s in data]
    elif isinstance(data, str):
        notes.append(
            f"Logon Only As has type {value.type}, not REG_MULTI_SZ as KB 146764 says; read as one entry "
            "(how the IS reads another type is unverified)"
        )
        raw = [data] if data else []
    elif isinstance(data, bytes | bytearray):
        notes.append(f"Logon Only As has type {value.type}; its bytes were decoded as UTF-16 strings")
        raw = [s for s in bytes(data).decode("utf-16-le", errors="replace").split("\0")]
        while raw and raw[-1] == "":
            raw.pop()
    elif data is None:
        raw = []
    else:
        notes.append(f"Logon Only As has type {value.type} ({data!r}); ignored as a list")
        raw = []
    entries = [s for s in raw if s.strip()]
    blanks = len(raw) - len(entries)
    if blanks and entries:
        notes.append(
            f"the list holds {blanks} blank element(s) (e.g. an ENTER after the last line, KB 199954); "
            "their effect is unverified"
        )
    padded = [s for s in entries if s != s.strip()]
    if padded:
        notes.append(f"{len(padded)} entr{'y has' if len(padded) == 1 else 'ies have'} leading/trailing blanks: "
                     + "; ".join(repr(s) for s in padded))  # fmt: skip
    return entries, notes, raw


def read_logon_only_as(registry: Any, source: str | None = None) -> LogonOnlyAs:
    """State of ``Logon Only As`` in one registry view (``registry.Registry``); ``source`` = display path."""
    shown = source or registry.path
    found = registry.key(PARAMETERS_SYSTEM)
    if found is None:
        return LogonOnlyAs(
            "unknown",
            source=shown,
            notes=[f"{shown}: the export does not contain {PARAMETERS_SYSTEM}"],
            format=registry.format,
        )
    node = found.node
    value = node.value(LOGON_ONLY_AS)
    tracing = node.value(ENABLE_TRACING) is not None
    try:
        count = len(list(node.values()))
    except Exception:  # a damaged value list: the lookups above still told what they could
        count = 0
    result = LogonOnlyAs(
        "absent",
        source=shown,
        key=found.path,
        last_write=found.last_write,
        control_set=found.control_set,
        enable_tracing=tracing,
        format=registry.format,
        values_read=count,
    )
    if found.mapping:
        result.notes.append(f"{shown}: {found.mapping}")
    if value is not None:
        entries, notes, raw = _entries_of(value)
        result.entries = entries
        result.raw_entries = raw
        result.state = "set" if entries else "empty"
        result.notes.extend(notes)
    elif (rejected := _rejected_value_line(registry)) is not None:
        # The export holds the value, but in a form the import (or the reader) rejects: absent would
        # read as "no restriction", which nothing shows.
        result.state = "unknown"
        result.notes.append(
            f"{shown}: a Logon Only As line is in the export but cannot be read ({rejected}); "
            "what the registry holds cannot be told from this file"
        )
    # Other control sets (offline SYSTEM hive): say when they differ from the one in use.
    if found.control_set:
        for cs, other in registry.values_by_control_set(PARAMETERS_SYSTEM, LOGON_ONLY_AS).items():
            if cs.casefold() == found.control_set.casefold():
                continue
            other_entries = _entries_of(other)[0] if other is not None else None
            if other is None and value is None:
                continue
            if other_entries is not None and value is not None and other_entries == result.entries:
                continue
            shown_other = "absent" if other_entries is None else (repr(other_entries) if other_entries else "blank")
            result.notes.append(
                f"{cs} differs from {found.control_set} (in use, Select\\Current): there Logon Only As is {shown_other}"
            )
    return result


@functools.cache
def _rejected_value() -> re.Pattern[str]:
    """A text reader's warning that it skipped a ``Logon Only As`` value line."""
    return re.compile(rf"^(line \d+): value {LOGON_ONLY_AS!r}.*(?:does not import it|skipped)")


def _rejected_value_line(registry: Any) -> str | None:
    """The warning of a text reader that skipped a ``Logon Only As`` value line (``line N: …``), if any."""
    for w in getattr(registry, "warnings", ()):
        m = _rejected_value().match(w.message)
        if m is not None:
            return w.message[:160]
    return None


_FORMAT_RANK = {"hive": 0, "reg": 1, "regedt32": 2, "regquery": 3}


def choose_logon_only_as(readings: list[LogonOnlyAs]) -> LogonOnlyAs:
    """One reading out of several exports; disagreements go into ``notes``.

    Preference: an export that holds the key; then the newest last-write time (the latest state of
    the key); then a binary hive over text exports (no transcription by a tool or a person).
    """
    if not readings:
        return LogonOnlyAs("unknown")
    known = [r for r in readings if r.state != "unknown"]
    if not known:
        chosen = LogonOnlyAs("unknown")
        for r in readings:
            chosen.notes.extend(r.notes)
        return chosen

    def rank(r: LogonOnlyAs) -> tuple[float, int]:
        stamp = r.last_write.astimezone(UTC).timestamp() if r.last_write and r.last_write.tzinfo else float("-inf")
        return (-stamp, _FORMAT_RANK.get(r.format or "", 9))

    ordered = sorted(known, key=rank)
    # A copy: the readings are shared (a multi-server case chooses again per server) and must not
    # carry one choice's notes or other exports' entries into the next.
    chosen = replace(ordered[0], notes=list(ordered[0].notes), elsewhere=[])
    notes = list(chosen.notes)
    for other in ordered[1:]:
        notes.extend(n for n in other.notes if n not in notes)
        same = other.state == chosen.state and [e.casefold() for e in other.entries] == [
            e.casefold() for e in chosen.entries
        ]
        if same:
            continue
        held = {e.casefold() for e in chosen.entries}
        chosen.elsewhere.extend(
            (e, other.source or "another export") for e in other.entries if e.casefold() not in held
        )
        why = _why_preferred(chosen, other)
        notes.append(
            f"exports disagree: {other.source} says Logon Only As is {describe(other)}; "
            f"{chosen.source} says {describe(chosen)} and was used because {why}"
        )
        if chosen.choice is None:
            chosen.choice = (
                f"Registry exports disagree: used {chosen.source} ({describe_short(chosen)}) rather than "
                f"{other.source} ({describe_short(other)}) because {why}; both values are in the notes."
            )
    for r in readings:
        if r.state == "unknown":
            notes.extend(n for n in r.notes if n not in notes)
    chosen.notes = notes
    return chosen


def _why_preferred(chosen: LogonOnlyAs, other: LogonOnlyAs) -> str:
    a, b = chosen.last_write, other.last_write
    if comparable(a, b) and a != b:
        return f"its key was written later ({a.isoformat()} vs {b.isoformat()})"  # type: ignore[union-attr]
    if a is not None and b is None:
        return "it carries a last-write time and the other export does not"
    if _FORMAT_RANK.get(chosen.format or "", 9) < _FORMAT_RANK.get(other.format or "", 9):
        return "a binary hive is preferred over a text export"
    return "it was given first"


def describe_short(reading: LogonOnlyAs) -> str:
    """``absent`` / ``blank`` / ``2 entries``."""
    if reading.state == "set":
        return f"{len(reading.entries)} entr{'y' if len(reading.entries) == 1 else 'ies'}"
    return "blank" if reading.state == "empty" else reading.state


def describe(reading: LogonOnlyAs) -> str:
    """``absent`` / ``blank`` / ``set to [a, b]`` for notes and verdicts."""
    if reading.state == "set":
        return "set to [" + "; ".join(reading.entries) + "]"
    if reading.state == "empty":
        return "blank"
    return reading.state


# --------------------------------------------------------------------------- other registry keys


@dataclass
class KeyState:
    """One registry key as the case's exports show it (rules other than Logon Only As read these).

    ``present``: True (found), False (absent, and the export holds its parent key or the whole hive,
    so the absence is conclusive), None (no export covers the key: the case cannot tell).
    ``values`` are keyed by casefolded value name.
    """

    requested: str
    present: bool | None = None
    path: str | None = None  # as the export spells it, control set resolved
    source: str | None = None  # case-relative path of the export
    last_write: datetime | None = None
    values: dict[str, RegistryValue] = field(default_factory=dict)

    def value(self, name: str) -> RegistryValue | None:
        return self.values.get(name.casefold())

    def ref(self, value: str | None = None) -> EvidenceRef:
        """Evidence reference to this key (or one of its values) for a Finding."""
        shown = None
        if value is not None:
            v = self.value(value)
            shown = f"{value} = {_value_text(v)}" if v is not None else f"{value}: no such value"
        elif self.present is False:
            shown = "key absent"
        return EvidenceRef(
            path=self.source or "registry",
            time=self.last_write,
            key=self.path or self.requested,
            value=value,
            text=shown,
        )


def _value_text(value: RegistryValue) -> str:
    data = value.data
    if isinstance(data, list):
        return "[" + "; ".join(data) + "]"
    if isinstance(data, bytes | bytearray):
        return bytes(data[:32]).hex() + ("…" if len(data) > 32 else "")
    return repr(data) if data is not None else "(no data)"


def _parent(path: str) -> str | None:
    head, sep, _ = path.rstrip("\\").rpartition("\\")
    return head if sep and "\\" in head else None


def snapshot_key(registry: Any, path: str, source: str | None = None) -> KeyState:
    """The state of one key in one ``registry.Registry`` view (values copied: the view may be dropped)."""
    shown = source or registry.path
    found = registry.key(path)
    if found is not None:
        values: dict[str, RegistryValue] = {}
        try:
            for v in found.node.values():
                values.setdefault(v.name.casefold(), v)
        except Exception:  # a damaged value list: what was read is kept
            pass
        return KeyState(path, True, found.path, shown, found.last_write, values)
    parent = _parent(path)
    hive = path.split("\\")[:2]
    whole_hive = registry.key("\\".join(hive)) is not None and registry.format == "hive"
    if (parent is not None and registry.key(parent) is not None) or whole_hive:
        return KeyState(path, False, None, shown)
    return KeyState(path, None)


@dataclass
class RegistryFacts:
    """The watched keys (see ``analyzer.rules.watched_keys``) across every registry export of a case."""

    keys: dict[str, KeyState] = field(default_factory=dict)  # casefolded requested path -> state
    hives: set[str] = field(default_factory=set)  # "SYSTEM", "SOFTWARE" when an export holds that hive's keys

    def key(self, path: str) -> KeyState:
        return self.keys.get(path.casefold()) or KeyState(path)

    def add(self, state: KeyState) -> None:
        """Merge one export's reading: a found key beats an absent one (the newest write wins between
        two found ones); a conclusive absence beats "not covered"."""
        k = state.requested.casefold()
        old = self.keys.get(k)
        if old is None or _key_rank(state) < _key_rank(old):
            self.keys[k] = state

    @classmethod
    def from_registries(cls, registries: list[tuple[Any, str | None]], paths: list[str]) -> RegistryFacts:
        facts = cls()
        for registry, source in registries:
            for hive in ("SYSTEM", "SOFTWARE"):
                if registry.key(f"HKLM\\{hive}") is not None:
                    facts.hives.add(hive)
            for path in paths:
                facts.add(snapshot_key(registry, path, source))
        return facts


def _key_rank(state: KeyState) -> tuple[int, float]:
    order = {True: 0, False: 1, None: 2}[state.present]
    when = state.last_write
    stamp = when.astimezone(UTC).timestamp() if when is not None and when.tzinfo is not None else float("-inf")
    return (order, -stamp)


# --------------------------------------------------------------------------- the rules' input


@dataclass
class CaseFacts:
    """Everything a rule may read: the log evidence, the ``Logon Only As`` reading, other watched keys."""

    evidence: Evidence
    logon_only_as: LogonOnlyAs
    registry_read: bool = False  # at least one registry export was read (even without the key)
    registry: RegistryFacts = field(default_factory=RegistryFacts)  # watched keys beyond Logon Only As
    cache: dict[object, object] = field(default_factory=dict, repr=False, compare=False)  # derived data of rules
