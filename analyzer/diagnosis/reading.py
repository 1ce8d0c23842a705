"""Case reading: every input of an opened case into the facts the rules read.

Events are streamed through the pushdown filter derived from the loaded rules (only the event IDs some
rule reads are decoded) into ``Evidence``; every registry export gives its ``Logon Only As`` reading
and a snapshot of the keys the rules read.  A file that cannot be read becomes a warning (or, when
nothing at all could be read, an error per file); a reader bug never ends the case.  Several registry
exports are all read and the one used is chosen by ``evidence.choose_logon_only_as``.  What each input
says about its server (computer names of its kept events, a registry ComputerName, its list's own
server DNs) is kept for ``analyzer.servers``, and each export on its own for the per-server lists.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from analyzer.case import Case, ReadProgress
from analyzer.diagnosis.per_server import RegistryReading
from analyzer.events import iter_file
from analyzer.evidence import CaseFacts, Evidence, LogonOnlyAs, RegistryFacts, choose_logon_only_as, read_logon_only_as
from analyzer.model import InputError, ReadWarning
from analyzer.readers import ReadOptions
from analyzer.readers.text import ReadNote
from analyzer.registry import read_registry
from analyzer.rules import evidence_filter, watched_events, watched_keys
from analyzer.servers import Artefact, describe_registry
from analyzer.sniff import EVENT_FORMATS, REGISTRY_FORMATS


@dataclass
class CaseReading:
    """What reading a case gave: the facts, and what went wrong on the way."""

    facts: CaseFacts
    warnings: list[str] = field(default_factory=list)  # case-level lines, then "path: not used: why"
    errors: list[str] = field(default_factory=list)  # one line per unusable file ("path: why")
    usable: bool = True  # at least one input could be read
    reg_version: int = 4  # REGEDIT version of the patch (see ``patch_version``)
    #: what each read input says about its server (``analyzer.servers``), in input order
    artefacts: list[Artefact] = field(default_factory=list)
    #: every registry export on its own (a server's list is chosen among that server's exports only)
    exports: list[RegistryReading] = field(default_factory=list)
    #: display path -> file on disk of each registry export (the patch version of each server's export)
    real_by_source: dict[str, str] = field(default_factory=dict)


def warning_text(w: ReadWarning) -> str:
    where = f" (offset 0x{w.offset:x})" if w.offset is not None else ""
    return f"{w.message}{where}"


def read_case(
    case: Case, options: ReadOptions, *, reg_version: int | str | None = None, progress: ReadProgress | None = None
) -> CaseReading:
    """Read every usable input of an opened case (events streamed, filtered by ID).

    ``options`` says how to read (``events.read_options``); its ``limits`` bound each file's size,
    records and strings.  Registry exports are read with its code page and limits only.  ``progress`` is
    told how many of the case's bytes were read (``case.ReadProgress``)."""
    total = case.usable_bytes
    done = 0  # bytes of the inputs finished

    def report(now: int) -> None:
        if progress is not None:
            progress(min(now, total), total)

    registry_options = ReadOptions(encoding=options.encoding, limits=options.limits)
    evidence = Evidence(watched=watched_events())
    wanted = evidence_filter()
    readings: list[LogonOnlyAs] = []
    watched = watched_keys()
    keys = RegistryFacts()
    real_by_source: dict[str, str] = {}
    errors: list[str] = []
    read_ok = 0
    artefacts: dict[str, Artefact] = {}
    exports: list[RegistryReading] = []

    def artefact(path: str, kind: str) -> Artefact:
        return artefacts.setdefault(path, Artefact(path, kind))

    for item in case.inputs:
        if item.format is None or item.error is not None:
            if item.error is not None:
                errors.append(f"{item.path}: {item.error}")
            continue
        sink_list: list[ReadWarning] = []
        if item.format in EVENT_FORMATS:
            before = evidence.event_count
            try:
                stream = iter_file(
                    item.real_path, fmt=item.format, filters=wanted, warn=sink_list.append, options=options
                )
                computers = artefact(item.path, "events").computers
                for event in stream:  # computer names of the kept events tell the server (analyzer.servers)
                    if evidence.feed(event, item.path):
                        computers[event.computer] += 1
                    if progress is not None and event.offset is not None:
                        report(done + min(event.offset, item.size))
                evidence.logs += 1
                read_ok += 1
            except InputError as exc:
                got = evidence.event_count - before
                if got:
                    item.warnings.append(f"reading stopped: {exc.reason}")
                    read_ok += 1
                else:
                    item.error = exc.reason
            except Exception as exc:  # a reader bug must not end the case: the file becomes a warning
                reason = f"cannot read ({type(exc).__name__}: {exc})"
                if evidence.event_count - before:
                    item.warnings.append(f"reading stopped: {reason}")
                    read_ok += 1
                else:
                    item.error = reason
            item.records = evidence.event_count - before
        elif item.format in REGISTRY_FORMATS:
            try:
                registry = read_registry(
                    item.real_path, fmt=item.format, warn=sink_list.append, options=registry_options
                )
                reading = read_logon_only_as(registry, item.path)
                readings.append(reading)
                merged = RegistryFacts.from_registries([(registry, item.path)], watched)
                # a pristine copy: choosing among several exports writes notes into the readings
                exports.append(
                    RegistryReading(item.path, dataclasses.replace(reading, notes=list(reading.notes)), merged)
                )
                describe_registry(artefact(item.path, "registry"), registry, reading)
                keys.hives |= merged.hives
                for state in merged.keys.values():
                    keys.add(state)
                real_by_source[item.path] = item.real_path
                item.records = registry.file.values_read or reading.values_read
                read_ok += 1
                sink_list.extend(w for w in registry.warnings if w not in sink_list)
            except InputError as exc:
                item.error = exc.reason
            except Exception as exc:
                item.error = f"cannot read ({type(exc).__name__}: {exc})"
        else:
            item.error = item.error or f"not an event log or registry export ({item.format})"
        for w in sink_list:
            if isinstance(w, ReadNote):  # how the file was read (language, code page): not a problem
                item.note = item.note or w.message
                continue
            text = warning_text(w)
            if text not in item.warnings:
                item.warnings.append(text)
        if item.error is not None:
            errors.append(f"{item.path}: {item.error}")
        done += item.size
        report(done)
    loa = choose_logon_only_as(readings)
    facts = CaseFacts(evidence, loa, registry_read=bool(readings), registry=keys)
    warnings = list(case.warnings)
    if read_ok:
        warnings.extend(f"{item.path}: not used: {item.error}" for item in case.inputs if item.error is not None)
    if not case.inputs:
        errors.append(f"{case.root}: no files in the case")
    used = {item.path for item in case.inputs if item.error is None}
    for item in case.inputs:  # MPS Reports' SERVER_ prefix names the server of each of its files
        if item.server and item.path in artefacts:
            artefacts[item.path].named_server = item.server
    return CaseReading(
        facts,
        warnings,
        errors,
        read_ok > 0,
        patch_version(reg_version, loa, real_by_source),
        [a for a in artefacts.values() if a.path in used],
        [r for r in exports if r.path in used],
        real_by_source,
    )


def patch_version(explicit: int | str | None, loa: LogonOnlyAs, real_by_source: dict[str, str]) -> int:
    """Patch version: as asked; else as the .reg export used (5.00 is UTF-16 with BOM); else REGEDIT4,
    which regedit imports on NT 4.0 and Windows 2000 alike."""
    if explicit:
        return int(explicit)
    if loa.format == "reg" and loa.source in real_by_source:
        return _reg_file_version(real_by_source[loa.source])
    if loa.format == "regquery":
        return 5
    return 4


def _reg_file_version(path: str) -> int:
    """5 for a "Windows Registry Editor Version 5.00" file, else 4 (also when it cannot be read again)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return 4
    text = head.decode("utf-16", errors="ignore") if head[:2] in (b"\xff\xfe", b"\xfe\xff") else head.decode("latin-1")
    return 5 if "Windows Registry Editor Version 5" in text else 4
