"""Each event once: the same event seen in several artefacts is counted once and listed with every file.

Why: customers hand over the .evt and a text export of it, two copies of a log taken a day apart, or a log
both loose and inside a zip.  Counting each copy would double every count and every "refused N times".

What survives an export is compared, not bytes: the computer, the event's identity (source, ID) and what
the evidence took from it (the refused DNs, the service and its state or error code, the hex code of an
IMC event), the record number when both files are binary logs, and the time.  Binary logs carry UTC; text
exports carry the exporting machine's local time with no zone, so between two files the times may differ
by a whole number of half hours — the same offset for every event of that pair of files.  The offset of a
pair is the one most of their matching events agree on (votes through a hash index: linear in the number
of kept events, never pairwise over events).

A refusal (1023) whose DN could not be read safely from one file is dropped as a duplicate when another
file holds the same refusal (same computer, store and time under the pair's offset) with a safely read DN
that occurs verbatim in its raw text: the DN is then confirmed by that other file.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Offsets tried between two files: whole and half hours from -14 h to +14 h (every zone in use).
HALF_HOUR = 1800
OFFSETS = tuple(k * HALF_HOUR for k in range(-28, 29))
_EPOCH = datetime(1970, 1, 1)

# The Evidence lists that hold events, each with its own content key.
LISTS = ("refusals", "logons", "imc", "services", "event_service", "imap", "raw", "unconfirmed")


@dataclass(eq=False, slots=True)
class _Entry:
    """One kept event that may have a copy in another file (slots: a restart-loop log has tens of thousands)."""

    list_name: str
    index: int
    file: int  # order of the file in the case
    key: Hashable  # what an export keeps of the event
    alias: Hashable | None  # refusals and unconfirmed refusals: computer, 1023, store
    second: int
    aware: bool
    record: int | None  # only when the file is a binary log
    duplicate_of: _Entry | None = None
    also_in: tuple[str, ...] = ()  # the files of the copies this entry absorbed (few: built on demand)
    absorbed_from: frozenset[int] = frozenset()  # files whose copy this entry took


_Index = dict[tuple[Hashable, int], list[_Entry]]


def _second(when: datetime) -> int:
    """Seconds on the event's own clock: UTC for aware times, the local clock for naive ones."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return int((when - _EPOCH).total_seconds())


def content_key(list_name: str, item: Any) -> Hashable:
    """What an export keeps of the event, as the evidence parsed it."""
    computer = (item.computer or "").casefold()
    if list_name in ("refusals", "logons"):
        return (
            "logon",
            computer,
            item.event_id,
            item.store,
            (item.dn_a or "").casefold(),
            (item.dn_b or "").casefold(),
        )
    if list_name == "services":
        return ("scm", computer, item.event_id, item.service, item.depends_on, item.code, item.state)
    if list_name == "raw":
        return ("raw", computer, item.source.casefold(), item.event_id, item.type)
    if list_name == "unconfirmed":
        return ("unconfirmed", computer, item.text)
    return (list_name, computer, item.source.casefold(), item.event_id, item.code)


def _alias(list_name: str, item: Any) -> Hashable | None:
    if list_name == "refusals":
        return ("1023", (item.computer or "").casefold(), item.store)
    if list_name == "unconfirmed":
        return ("1023", (item.computer or "").casefold(), item.store)
    return None


def merge_duplicates(evidence: Any) -> int:
    """Drop the events of ``evidence`` already seen in another file (in place); the survivor's evidence
    reference lists the other files (``EvidenceRef.also_in``).  Returns how many events were dropped.

    Memory: nothing is built for a case of one file, and an entry (with its index slots) only for an event
    whose content occurs in another file too; only those can be copies, and only they are ever looked up."""
    files: dict[str, int] = {}
    for _, _, item in _candidates(evidence):
        files.setdefault(item.ref.path, len(files))
    if len(files) < 2:
        return 0
    # Only events whose key occurs in two files or more can be copies: the others need no entry at all.
    files_of: dict[Hashable, set[int]] = defaultdict(set)
    for list_name, _, item in _candidates(evidence):
        file = files[item.ref.path]
        files_of[content_key(list_name, item)].add(file)
        alias = _alias(list_name, item)
        if alias is not None:
            files_of[(list_name, alias)].add(file)
    entries: list[_Entry] = []
    index: _Index = defaultdict(list)
    aliases: _Index = defaultdict(list)
    same: dict[Hashable, Hashable] = {}  # one copy of each key: a restart loop repeats the same few thousands of times
    for list_name, i, item in _candidates(evidence):
        path = item.ref.path
        alias = _alias(list_name, item)
        entry = _Entry(
            list_name, i, files[path], same.setdefault(key := content_key(list_name, item), key),
            None if alias is None else same.setdefault(alias, alias), _second(item.time),
            item.time.tzinfo is not None, item.ref.record if path in evidence.binary_paths else None,
        )  # fmt: skip
        if not _may_have_copies(entry, files_of):
            continue
        entries.append(entry)
        index[(entry.key, entry.second)].append(entry)
        if entry.alias is not None:
            aliases[((entry.list_name, entry.alias), entry.second)].append(entry)
    offsets = _pair_offsets(entries, index, aliases)
    paths = {n: p for p, n in files.items()}
    for entry in sorted(entries, key=lambda e: (e.file, LISTS.index(e.list_name), e.index)):
        for (earlier, later), offset in offsets.items():
            if later == entry.file and entry.duplicate_of is None:
                _match(entry, earlier, offset, evidence, index, aliases, paths)
    dropped = [e for e in entries if e.duplicate_of is not None]
    # One event may sit in two lists (an IMC 4018 is kept whole for the data rules too): count events.
    events = {(e.file, getattr(evidence, e.list_name)[e.index].ref.record, e.second) for e in dropped}
    if dropped:
        _rebuild(evidence, entries)
        evidence.duplicates_merged += len(events)
        for e in dropped:
            evidence.merged_files.update((paths[e.file], paths[e.duplicate_of.file]))  # type: ignore[union-attr]
    return len(events)


def _candidates(evidence: Any) -> Iterator[tuple[str, int, Any]]:
    """(list, index, item) of every kept event that can be matched: it has a time and was not merged already."""
    for list_name in LISTS:
        for i, item in enumerate(getattr(evidence, list_name)):
            if item.time is not None and not item.ref.also_in:
                yield list_name, i, item


def _may_have_copies(entry: _Entry, files_of: dict[Hashable, set[int]]) -> bool:
    """Whether another file holds an event with the same content (or, for refusals, its partner's alias).

    Every entry a lookup of ``_pair_offsets`` or ``_match`` can return passes this test too (it shares the
    key, or its partner alias names the asking entry's file), so indexing only these changes no answer."""
    if len(files_of[entry.key]) > 1:
        return True
    partner = _partner(entry)
    return partner is not None and bool(files_of.get(partner, set()) - {entry.file})


def _partner(entry: _Entry) -> Hashable | None:
    """The alias index an entry is matched against: a refusal whose DN could not be read in one file is a copy
    of a safely read refusal of another file, and the other way round (never two safely read ones: their DNs
    decide)."""
    if entry.alias is None:
        return None
    return ("unconfirmed" if entry.list_name == "refusals" else "refusals", entry.alias)


def _compatible(a: _Entry, b: _Entry, offset: int) -> bool:
    if a.aware and b.aware and offset != 0:
        return False  # two UTC clocks: no zone offset between them
    return a.record is None or b.record is None or a.record == b.record


def _pair_offsets(entries: list[_Entry], index: _Index, aliases: _Index) -> dict[tuple[int, int], int]:
    """(earlier file, later file) -> seconds between their clocks (later minus earlier), the offset most
    of their matching events agree on (ties: the smaller offset)."""
    votes: Counter[tuple[int, int, int]] = Counter()
    for entry in entries:
        for offset in OFFSETS:
            second = entry.second - offset
            found = index.get((entry.key, second))
            partner = _partner(entry)
            alias = aliases.get((partner, second)) if partner is not None else None
            if not found and not alias:
                continue
            candidates = {id(o): o for o in (*(found or ()), *(alias or ()))}
            for other in candidates.values():
                if other.file < entry.file and _compatible(entry, other, offset):
                    votes[(other.file, entry.file, offset)] += 1
    best: dict[tuple[int, int], tuple[int, int, int]] = {}
    for (a, b, offset), count in votes.items():
        rank = (count, -abs(offset), offset)
        if (a, b) not in best or rank > best[(a, b)]:
            best[(a, b)] = rank
    return {pair: rank[2] for pair, rank in best.items()}


def _match(
    entry: _Entry, earlier: int, offset: int, evidence: Any, index: _Index, aliases: _Index, paths: dict[int, str]
) -> None:
    """Make ``entry`` (of a later file) a duplicate of its copy in file ``earlier``, if there is one."""
    for other in index.get((entry.key, entry.second - offset), ()):
        if (
            other.file == earlier
            and other.list_name == entry.list_name
            and other.duplicate_of is None
            and entry.file not in other.absorbed_from
            and _compatible(entry, other, offset)
        ):
            _absorb(other, entry, paths)
            return
    partner = _partner(entry)
    if partner is None:
        return
    for other in aliases.get((partner, entry.second - offset), ()):
        if other.file != earlier or other.duplicate_of is not None or entry.file in other.absorbed_from:
            continue
        if entry.list_name == "unconfirmed" and other.list_name == "refusals" and _confirms(other, entry, evidence):
            _absorb(other, entry, paths)
            return
        if entry.list_name == "refusals" and other.list_name == "unconfirmed" and _confirms(entry, other, evidence):
            _absorb(entry, other, paths)  # the later file names the DN: keep its refusal instead
            return


def _absorb(survivor: _Entry, copy: _Entry, paths: dict[int, str]) -> None:
    copy.duplicate_of = survivor
    survivor.absorbed_from = survivor.absorbed_from | {copy.file}
    survivor.also_in = (*survivor.also_in, paths[copy.file], *copy.also_in)


def _confirms(refusal: _Entry, unconfirmed: _Entry, evidence: Any) -> bool:
    """The safely read DN of ``refusal`` occurs verbatim in the raw text of the unconfirmed refusal."""
    dn = evidence.refusals[refusal.index].dn_a
    return bool(dn) and dn in evidence.unconfirmed[unconfirmed.index].text


def _rebuild(evidence: Any, entries: list[_Entry]) -> None:
    by_list: dict[str, dict[int, _Entry]] = defaultdict(dict)
    for entry in entries:
        by_list[entry.list_name][entry.index] = entry
    for list_name in LISTS:
        items = getattr(evidence, list_name)
        kept = []
        for i, item in enumerate(items):
            entry = by_list[list_name].get(i)
            if entry is not None and entry.duplicate_of is not None:
                continue
            if entry is not None and entry.also_in:
                also = tuple(dict.fromkeys(p for p in entry.also_in if p != item.ref.path))
                item = dataclasses.replace(item, ref=dataclasses.replace(item.ref, also_in=also))
            kept.append(item)
        items[:] = kept
