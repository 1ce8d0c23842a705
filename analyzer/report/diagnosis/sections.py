"""The report model: a diagnosis as a list of sections (title, table rows, numbered items, lines), built
once from the contract dict; the text, Markdown and HTML back ends only lay it out.

Rendering happens at the edge and works on the plain dict (``Diagnosis.to_dict()``), so that triage,
the CLI and notebooks all show the same thing, and a JSON file written yesterday can be rendered again
today.  The strings of the model are raw (untrusted): each back end makes them visible and escapes
them for its markup.  The verdict always comes first: it is what the support engineer reads and acts on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analyzer.report.diagnosis.untrusted import entry_display

MAX_EVIDENCE_ROWS = 50  # per finding, in the human formats
MAX_WARNING_LINES = 200
MAX_MESSAGE_LINES = 30

FINDING_COLUMNS = ["severity", "rule", "component", "DN", "count", "first seen", "last seen"]
EVIDENCE_COLUMNS = ["time", "log / path", "record", "event", "account", "DN"]
LOGON_COLUMNS = ["field", "value"]
INPUT_COLUMNS = ["path", "format", "records", "size", "sha256", "warnings / error"]
SEVERITIES = ("error", "warning", "info")

RECONSTRUCTED = "[reconstructed] "
MESSAGE_LEGEND = (
    "Lines marked [reconstructed] were rebuilt offline from the insertion strings with the analyzer's own "
    "catalog (analyzer/messages.py, a paraphrase of the KB articles), not the wording of the Exchange message "
    "files; unmarked lines are the description as the export holds it."
)


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_classes: tuple[str, ...] = ()  # one per row when given: how HTML marks it ("sev-error")


@dataclass(frozen=True)
class Item:
    """A numbered entry: a heading and label/text pairs under it (a finding; a remediation step alone)."""

    heading: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Section:
    """One part of the report.  ``key`` lets a back end place or leave out a section (the text report
    puts the warnings last; the Markdown and HTML reports put them first)."""

    key: str
    title: str
    table: Table | None = None
    items: tuple[Item, ...] = ()
    lines: tuple[str, ...] = ()
    left_out: int = 0  # rows or lines not shown (the JSON output has them)
    left_out_noun: str = ""  # what was left out ("evidence rows"), when the line needs saying
    notes: tuple[str, ...] = ()  # paragraphs after the content
    code: tuple[tuple[str, str], ...] = ()  # (label, text): the patch and its rollback
    reg_version: int | None = None  # REGEDIT version of ``code`` (how its download is encoded)

    @property
    def empty(self) -> bool:
        return self.table is None and not self.items and not self.lines


@dataclass(frozen=True)
class Report:
    case: str
    verdict: str
    needs_action: bool
    dns: tuple[str, ...]
    warnings: Section | None  # None: no warnings
    sections: tuple[Section, ...]
    patch_path: str | None = None


def build(d: Mapping[str, Any], *, patch_path: str | None = None) -> Report:
    """The report of one diagnosis dict: verdict, DNs, then findings, evidence, event messages, Logon Only
    As, inputs and remediation (a section is left out when it has nothing to show, except findings and
    inputs, which say "none")."""
    sections = [_findings(d)]
    advice = d.get("advice") or []
    if advice:
        items = tuple(
            Item(
                str(a.get("title")),
                (("advice", str(a.get("text"))), ("references", ", ".join(a.get("references") or []))),
            )
            for a in advice
        )
        sections.append(Section("advice", "Advice (true of every case where Logon Only As exists)", items=items))
    timeline, more_events = timeline_rows(d)
    if timeline:
        table = Table(
            tuple(TIMELINE_COLUMNS),
            tuple(tuple(r) for r in timeline),
            tuple(_TIMELINE_CLASS.get(r[1], "") for r in timeline),
        )
        sections.append(Section("timeline", "Timeline", table, left_out=more_events, left_out_noun="events"))
    evidence, left_out = evidence_table(d)
    if evidence:
        table = Table(tuple(EVIDENCE_COLUMNS), tuple(tuple(r) for r in evidence))
        sections.append(Section("evidence", "Evidence", table, left_out=left_out, left_out_noun="evidence rows"))
    messages, more = message_lines(d)
    if messages:
        legend = (MESSAGE_LEGEND,) if any(RECONSTRUCTED in m for m in messages) else ()
        title = "Event messages (as Event Viewer would show them)"
        sections.append(Section("messages", title, lines=tuple(messages), left_out=more, notes=legend))
    sections.append(Section("logon", "Logon Only As", Table(tuple(LOGON_COLUMNS), _rows(logon_rows(d)))))
    inputs = d.get("inputs") or []
    table = None
    if inputs:
        classes = tuple("sev-error" if i.get("error") else "" for i in inputs)
        table = Table(tuple(INPUT_COLUMNS), _rows(input_rows(d)), classes)
    sections.append(Section("inputs", "Inputs", table))
    rem = d.get("remediation")
    if rem:
        steps = tuple(Item(str(step)) for step in rem.get("steps") or [])
        code = tuple(
            (label, str(rem[key])) for label, key in (("Patch", "reg"), ("Rollback", "rollback")) if rem.get(key)
        )
        version = rem.get("version")
        sections.append(
            Section(
                "remediation",
                f"Remediation (.reg version {version})",
                items=steps,
                code=code,
                reg_version=version if isinstance(version, int) else None,
            )
        )
    warnings = all_warnings(d)
    shown = tuple(warnings[:MAX_WARNING_LINES])
    warning_section = (
        Section("warnings", "Warnings", lines=shown, left_out=len(warnings) - len(shown)) if warnings else None
    )
    return Report(
        case=str(d.get("case")) if d.get("case") is not None else "",
        verdict=verdict_of(d),
        needs_action=bool(d.get("needs_action")),
        dns=tuple(str(dn) for dn in d.get("dns_to_add") or []),
        warnings=warning_section,
        sections=tuple(sections),
        patch_path=patch_path,
    )


def _rows(rows: list[list[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(r) for r in rows)


def _findings(d: Mapping[str, Any]) -> Section:
    findings = d.get("findings") or []
    if not findings:
        return Section("findings", "Findings")
    classes = tuple(f"sev-{f.get('severity')}" if str(f.get("severity") or "") in SEVERITIES else "" for f in findings)
    items = []
    for f in findings:
        details = finding_details(f, d)
        items.append(Item(details[0][1], tuple(details[1:])))
    return Section("findings", "Findings", Table(tuple(FINDING_COLUMNS), _rows(finding_rows(d)), classes), tuple(items))


def verdict_of(d: Mapping[str, Any]) -> str:
    """The verdict paragraph; a fallback is built from ``dns_to_add`` for dicts without one."""
    verdict = d.get("verdict")
    if verdict:
        return str(verdict)
    dns = d.get("dns_to_add") or []
    if dns:
        return "Add to Logon Only As: " + "; ".join(dns)
    return "Nothing to change in Logon Only As." if not d.get("needs_action") else "Findings need action (below)."


def all_warnings(d: Mapping[str, Any]) -> list[str]:
    """Case warnings, then unusable inputs, then each input's reader warnings (prefixed with its path)."""
    out: list[str] = [str(w) for w in d.get("warnings") or []]
    seen = set(out)
    for inp in d.get("inputs") or []:
        path = str(inp.get("path", "?"))
        if inp.get("error"):
            line = f"{path}: not used: {inp['error']}"
            if line not in seen and not any(str(inp["error"]) in w and path in w for w in seen):
                out.append(line)
                seen.add(line)
        for w in inp.get("warnings") or []:
            line = str(w) if str(w).startswith(path) else f"{path}: {w}"
            if line not in seen:
                out.append(line)
                seen.add(line)
    return out


_LOGON_EVENTS = frozenset({1009, 1013, 1016, 1023})  # IS logon audits: they name the account and the DN


def _evidence_rows(finding: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the evidence table for one finding (raw strings), events by time, registry last.

    The account and DN columns repeat the finding's account and DN on the IS logon events that name
    them; a corroborating event (4018, SCM, MSExchangeES ...) carries neither, so its cells stay
    empty rather than suggest it does.  A registry row names the export and key in the path column."""
    events: list[list[str]] = []
    registry: list[list[str]] = []
    for ev in finding.get("evidence") or []:
        record = ev.get("record")
        if ev.get("key") or ev.get("value"):
            path = ": ".join(str(x) for x in (ev.get("path"), ev.get("key")) if x)
            event = f"registry value {ev.get('value')}" if ev.get("value") else "registry key"
            registry.append([str(ev.get("time") or ""), path, "" if record is None else str(record), event, "", ""])
            continue
        event_id = ev.get("event_id")
        event = " ".join(str(x) for x in (event_id, ev.get("source")) if x not in (None, ""))
        names = event_id in _LOGON_EVENTS and str(ev.get("source") or "").casefold().startswith("msexchangeis")
        events.append(
            [
                str(ev.get("time") or ""),
                str(ev.get("path") or "") + (f" (also in {', '.join(ev['also_in'])})" if ev.get("also_in") else ""),
                "" if record is None else str(record),
                event,
                str(finding.get("account") or "") if names else "",
                str(finding.get("dn") or "") if names else "",
            ]
        )
    events.sort(key=lambda row: (row[0], row[1], int(row[2]) if row[2].isdigit() else 0))
    return events + registry


TIMELINE_COLUMNS = ["time", "what", "detail"]
MAX_TIMELINE_ROWS = 40
_TIMELINE_CLASS = {"refusal (1023)": "sev-error", "component error": "sev-warning", "Logon Only As written": "sev-info"}
_SCM = "service control manager"
#: Service Control Manager events that report a service that failed to start or stopped abnormally.
SCM_FAILURES = frozenset({7000, 7001, 7009, 7011, 7022, 7023, 7024, 7026, 7031, 7034})


def what_of(ev: Mapping[str, Any]) -> str:
    """The kind of a timeline entry: what the engineer looks for when asking "what happened when".

    Service Control Manager entries are told apart: failures by event ID, 7036 by the state its (English)
    text names; anything else of the SCM stays a "service event"."""
    eid, source = ev.get("event_id"), str(ev.get("source") or "").casefold()
    text = str(ev.get("text") or "").casefold()
    if eid == 1023:
        return "refusal (1023)"
    if source == _SCM:
        if eid == 7036 and "information store" in text and "running" in text:
            return "IS start"
        if eid in SCM_FAILURES:
            return "service failure"
        if eid == 7036 and "stopped" in text:
            return "service stop"
        if eid == 7036 and "running" in text:
            return "service start"
        return "service event"
    if eid in _LOGON_EVENTS:
        return "logon"
    return "component error"


def timeline_rows(d: Mapping[str, Any]) -> tuple[list[list[str]], int]:
    """The case in time order: refusals, component errors, service stops/starts/failures and IS starts cited by the
    findings, and when ``Logon Only As`` was last written (hives and Regedt32 reports record it).

    Seeing the write between refusals (or after the last one) is what LOA-TIMING findings are about.
    """
    rows: dict[tuple[object, ...], list[str]] = {}
    for f in d.get("findings") or []:
        for ev in f.get("evidence") or []:
            if ev.get("key") or ev.get("value") or not ev.get("time"):
                continue
            key = (ev.get("path"), ev.get("record"), ev.get("event_id"), ev.get("time"))
            detail = " ".join(str(x) for x in (ev.get("event_id"), ev.get("source")) if x not in (None, ""))
            if ev.get("event_id") == 1023 and f.get("component"):
                detail += f" refuses {f.get('component')}"
            rows.setdefault(key, [str(ev.get("time")), what_of(ev), detail])
    ordered = sorted(rows.values(), key=lambda r: r[0])
    left_out = max(0, len(ordered) - MAX_TIMELINE_ROWS)
    ordered = ordered[:MAX_TIMELINE_ROWS]
    loa = d.get("logon_only_as") or {}
    if loa.get("last_write"):
        where = " ".join(str(x) for x in (loa.get("source"), loa.get("key")) if x)
        ordered.append([str(loa["last_write"]), "Logon Only As written", f"last write of the key ({where})"])
        ordered.sort(key=lambda r: r[0])
    return (ordered if any(r[1] != "Logon Only As written" for r in ordered) else []), left_out


def evidence_table(d: Mapping[str, Any]) -> tuple[list[list[str]], int]:
    """All evidence rows (capped per finding) and how many rows were left out.

    An event cited by two findings is one row: the engineer counts refusals from this table, and a
    second copy without the DN read as a second, different event.  Empty account/DN cells of the
    first copy are filled from a later one that names them."""
    rows: list[list[str]] = []
    seen: dict[tuple[str, ...], list[str]] = {}
    left_out = 0
    for finding in d.get("findings") or []:
        kept = 0
        for row in _evidence_rows(finding):
            key = tuple(row[:4])
            first = seen.get(key)
            if first is not None:
                for col in (4, 5):
                    first[col] = first[col] or row[col]
                continue
            if kept < MAX_EVIDENCE_ROWS:
                seen[key] = row
                rows.append(row)
                kept += 1
            else:
                left_out += 1
    return rows, left_out


def message_lines(d: Mapping[str, Any]) -> tuple[list[str], int]:
    """One line per distinct event of the evidence that carries a description: "time  id source: text"
    (the evidence reference's ``text``; see ``analyzer.evidence.viewer_message``), and how many were left out."""
    lines: list[str] = []
    seen: set[tuple[object, ...]] = set()
    left_out = 0
    for f in d.get("findings") or []:
        for ev in f.get("evidence") or []:
            text = ev.get("text")
            if not text or ev.get("key") or ev.get("event_id") is None:
                continue
            k = (ev.get("path"), ev.get("record"), ev.get("event_id"), text)
            if k in seen:
                continue
            seen.add(k)
            if len(lines) >= MAX_MESSAGE_LINES:
                left_out += 1
                continue
            lines.append(f"{ev.get('time') or '?'}  {ev.get('event_id')} {ev.get('source') or ''}: {text}")
    return sorted(lines), left_out


def finding_rows(d: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for f in d.get("findings") or []:
        rows.append(
            [
                str(f.get("severity") or ""),
                str(f.get("rule") or ""),
                str(f.get("component") or ""),
                str(f.get("dn") or ""),
                str(f.get("count") if f.get("count") is not None else ""),
                str(f.get("first_seen") or ""),
                str(f.get("last_seen") or ""),
            ]
        )
    return rows


def logon_rows(d: Mapping[str, Any]) -> list[list[str]]:
    """The Logon Only As state as label/value pairs (entries one row each)."""
    loa = d.get("logon_only_as") or {}
    rows = [["state", str(loa.get("state") or "unknown")]]
    entries = loa.get("entries") or []
    if entries:
        for i, entry in enumerate(entries, 1):
            rows.append([f"entry {i}", entry_display(str(entry))])
    elif loa.get("state") == "empty":
        rows.append(["entries", "(none: the value is blank, nobody may log on)"])
    for label, name in (("source", "source"), ("key", "key"), ("control set", "control_set")):
        rows.append([label, str(loa.get(name) or "—")])
    rows.append(["last write", str(loa.get("last_write") or "—")])
    for note in loa.get("notes") or []:
        rows.append(["note", str(note)])
    return rows


def input_rows(d: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for inp in d.get("inputs") or []:
        problems = []
        if inp.get("error"):
            problems.append(f"UNUSABLE: {inp['error']}")
        elif inp.get("note"):
            problems.append(str(inp["note"]))
        warns = [str(w) for w in inp.get("warnings") or []]
        if warns:
            problems.append(warns[0] + (f" (+{len(warns) - 1} more)" if len(warns) > 1 else ""))
        rows.append(
            [
                str(inp.get("path") or ""),
                str(inp.get("format") or "—"),
                str(inp.get("records") if inp.get("records") is not None else ""),
                str(inp.get("size") if inp.get("size") is not None else ""),
                str(inp.get("sha256") or "")[:12],
                "; ".join(problems),
            ]
        )
    return rows


def _near_miss_action(d: Mapping[str, Any], entry: str) -> str:
    """What the patch did with a near-miss entry: "kept" (the default), "replaced", or "" (no patch)."""
    for m in (d.get("remediation") or {}).get("near_misses") or []:
        if m.get("entry") == entry:
            return str(m.get("action") or "")
    return ""


def finding_details(f: Mapping[str, Any], d: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Label/text pairs below the findings table: title, explanation, near miss, references."""
    out = [("title", str(f.get("title") or "")), ("explanation", str(f.get("explanation") or ""))]
    if f.get("replaces"):
        entry = str(f["replaces"])
        action = _near_miss_action(d, entry)
        if action == "replaced":
            out.append(("near miss replaced by the patch", entry_display(entry)))
        else:
            out.append(
                ("probably mistyped entry (remove it after the fix works)", json.dumps(entry, ensure_ascii=False))
            )
    refs = f.get("references") or []
    if refs:
        out.append(("references", ", ".join(str(r) for r in refs)))
    for a in f.get("assumptions") or []:
        out.append(("assumption", str(a)))
    return out
