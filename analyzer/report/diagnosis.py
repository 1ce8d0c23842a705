"""Render a diagnosis (the ``Diagnosis.to_dict()`` contract dict) as text, Markdown, HTML or JSON.

Rendering happens at the edge and works on the plain dict, so that triage, the CLI and notebooks
all show the same thing, and a JSON file written yesterday can be rendered again today.

Everything in the dict that came from a customer file (DNs, accounts, paths, registry entries,
reader warnings) is untrusted: a crafted event can hold terminal escape sequences, Markdown table
syntax, HTML, or Unicode bidi overrides that make a DN read differently from what it is.  Every
human format therefore (1) makes control and bidi-control characters visible as ``\\xNN`` /
``\\uNNNN``, (2) shortens strings longer than ``MAX_CHARS`` with a note, and (3) escapes for its
markup (Markdown punctuation, ``html.escape(quote=True)``).  JSON keeps the exact strings.

The verdict always comes first: it is what the support engineer reads and acts on.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

MAX_CHARS = 10_000  # longer strings are cut for display (JSON keeps them whole)
MAX_TEXT_CELL = 1_000  # text tables pad every row to the widest cell: keep cells shorter there
MAX_EVIDENCE_ROWS = 50  # per finding, in the human formats
MAX_WARNING_LINES = 200

FINDING_COLUMNS = ["severity", "rule", "component", "DN", "count", "first seen", "last seen"]
EVIDENCE_COLUMNS = ["time", "log / path", "record", "event", "account", "DN"]
LOGON_COLUMNS = ["field", "value"]
INPUT_COLUMNS = ["path", "format", "records", "size", "sha256", "warnings / error"]

# C0/C1 controls, DEL, and the bidi embedding/override/isolate marks plus other invisible
# direction and zero-width characters that can disguise text.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]")
_UNSAFE_CELL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#$!{}])")
_SEVERITIES = ("error", "warning", "info")


# --------------------------------------------------------------------------- shared helpers


def visible(text: object, *, cell: bool = False, limit: int = MAX_CHARS) -> str:
    """Untrusted text made safe to show: controls and bidi marks as escapes, long text cut.

    ``cell=True`` also escapes newlines and tabs (table cells are one line each)."""
    if text is None:
        return ""
    s = str(text)
    note = ""
    if len(s) > limit:
        note = f" … [truncated: {len(s):,} characters in all; the JSON output has the full text]"
        s = s[:limit]
    pattern = _UNSAFE_CELL if cell else _UNSAFE
    s = pattern.sub(_escape_char, s)
    return s + note


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def entry_display(entry: str) -> str:
    """A list entry whose edges would vanish in a table (empty, leading/trailing blanks) is quoted."""
    if entry == "":
        return "(empty string)"
    if entry != entry.strip():
        return json.dumps(entry, ensure_ascii=False)
    return entry


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
                str(ev.get("path") or ""),
                "" if record is None else str(record),
                event,
                str(finding.get("account") or "") if names else "",
                str(finding.get("dn") or "") if names else "",
            ]
        )
    events.sort(key=lambda row: (row[0], row[1], int(row[2]) if row[2].isdigit() else 0))
    return events + registry


def evidence_table(d: Mapping[str, Any]) -> tuple[list[list[str]], int]:
    """All evidence rows (capped per finding) and how many rows were left out."""
    rows: list[list[str]] = []
    left_out = 0
    for finding in d.get("findings") or []:
        for n, row in enumerate(_evidence_rows(finding)):
            if n < MAX_EVIDENCE_ROWS:
                rows.append(row)
            else:
                left_out += 1
    return rows, left_out


MAX_MESSAGE_LINES = 30
RECONSTRUCTED = "[reconstructed] "
MESSAGE_LEGEND = (
    "Lines marked [reconstructed] were rebuilt offline from the insertion strings with the analyzer's own "
    "catalog (analyzer/messages.py, a paraphrase of the KB articles), not the wording of the Exchange message "
    "files; unmarked lines are the description as the export holds it."
)


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


def _finding_details(f: Mapping[str, Any], d: Mapping[str, Any]) -> list[tuple[str, str]]:
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


# --------------------------------------------------------------------------- text


def render_text(d: Mapping[str, Any], *, patch_path: str | None = None) -> str:
    """Terminal output: verdict paragraph, DNs to add, then tabulate tables and the steps."""

    def t(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
        safe = [[visible(c, cell=True, limit=MAX_TEXT_CELL) for c in row] for row in rows]
        return tabulate(safe, headers=list(headers), tablefmt="simple", disable_numparse=True)

    out: list[str] = [visible(verdict_of(d)), ""]
    dns = d.get("dns_to_add") or []
    if dns:
        out.append("DNs to add to Logon Only As (copied verbatim from the events):")
        out.extend(f"  {visible(dn, cell=True)}" for dn in dns)
        out.append("")
    out.append(f"Case: {visible(d.get('case'), cell=True)}    needs action: {'yes' if d.get('needs_action') else 'no'}")
    warnings = all_warnings(d)
    if warnings:
        out.append(f"Warnings: {len(warnings)} (see the end of this report)")
    out.append("")

    findings = d.get("findings") or []
    out.append("Findings")
    if findings:
        out.append(t(finding_rows(d), FINDING_COLUMNS))
        out.append("")
        for n, f in enumerate(findings, 1):
            for i, (label, text) in enumerate(_finding_details(f, d)):
                lead = f"{n:>2}. " if i == 0 else "    "
                out.append(f"{lead}{label}: {visible(text)}")
    else:
        out.append("  (none)")
    out.append("")

    rows, left_out = evidence_table(d)
    if rows:
        out.append("Evidence")
        out.append(t(rows, EVIDENCE_COLUMNS))
        if left_out:
            out.append(f"  … {left_out} more evidence rows (see --format json)")
        out.append("")

    messages, more = message_lines(d)
    if messages:
        out.append("Event messages (as Event Viewer would show them)")
        out.extend(f"  {visible(m, cell=True)}" for m in messages)
        if more:
            out.append(f"  … {more} more (see --format json)")
        if any(RECONSTRUCTED in m for m in messages):
            out.append(f"  {MESSAGE_LEGEND}")
        out.append("")

    out.append("Logon Only As")
    out.append(t(logon_rows(d), LOGON_COLUMNS))
    out.append("")

    out.append("Inputs")
    out.append(t(input_rows(d), INPUT_COLUMNS) if d.get("inputs") else "  (none)")
    out.append("")

    rem = d.get("remediation")
    if rem:
        out.append(f"Remediation (.reg version {rem.get('version')})")
        for n, step in enumerate(rem.get("steps") or [], 1):
            out.append(f"{n:>2}. {visible(step)}")
        if patch_path:
            out.append(f"Patch written to: {visible(patch_path, cell=True)} (rollback beside it)")
        else:
            out.append("Write the patch and its rollback with --reg-patch FILE.")
        out.append("")

    if warnings:
        out.append("Warnings")
        out.extend(f"  - {visible(w, cell=True)}" for w in warnings[:MAX_WARNING_LINES])
        if len(warnings) > MAX_WARNING_LINES:
            out.append(f"  … {len(warnings) - MAX_WARNING_LINES} more (see --format json)")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- Markdown


def md(text: object, *, cell: bool = False) -> str:
    """Markdown-escaped untrusted text (backslash before every character Markdown could act on)."""
    return _MD_SPECIAL.sub(r"\\\1", visible(text, cell=cell))


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(md(h, cell=True) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(md(c, cell=True) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def render_markdown(d: Mapping[str, Any], *, patch_path: str | None = None) -> str:
    """GitHub-flavoured Markdown: the same content as the text report, every string escaped."""
    out: list[str] = [f"# Diagnosis: {md(d.get('case'), cell=True)}", "", f"**{md(verdict_of(d))}**", ""]
    dns = d.get("dns_to_add") or []
    if dns:
        out.append("DNs to add to `Logon Only As` (copied verbatim from the events):")
        out.append("")
        out.extend(f"- {md(dn, cell=True)}" for dn in dns)
        out.append("")
    out.append(f"Needs action: **{'yes' if d.get('needs_action') else 'no'}**")
    out.append("")
    warnings = all_warnings(d)
    if warnings:
        out.append("> **Warnings:**")
        out.extend(f"> - {md(w, cell=True)}" for w in warnings[:MAX_WARNING_LINES])
        if len(warnings) > MAX_WARNING_LINES:
            out.append(f"> - … {len(warnings) - MAX_WARNING_LINES} more (see the JSON output)")
        out.append("")

    out.append("## Findings")
    out.append("")
    findings = d.get("findings") or []
    if findings:
        out.append(md_table(FINDING_COLUMNS, finding_rows(d)))
        out.append("")
        for n, f in enumerate(findings, 1):
            details = _finding_details(f, d)
            out.append(f"{n}. **{md(details[0][1])}**")
            out.extend(f"   - {label}: {md(text)}" for label, text in details[1:])
        out.append("")
    else:
        out.extend(["None.", ""])

    rows, left_out = evidence_table(d)
    if rows:
        out.extend(["## Evidence", "", md_table(EVIDENCE_COLUMNS, rows), ""])
        if left_out:
            out.extend([f"… {left_out} more evidence rows (see the JSON output).", ""])

    out.extend(["## Logon Only As", "", md_table(LOGON_COLUMNS, logon_rows(d)), ""])
    out.extend(["## Inputs", ""])
    out.extend([md_table(INPUT_COLUMNS, input_rows(d)) if d.get("inputs") else "None.", ""])

    rem = d.get("remediation")
    if rem:
        out.extend([f"## Remediation (.reg version {md(rem.get('version'))})", ""])
        out.extend(f"{n}. {md(step)}" for n, step in enumerate(rem.get("steps") or [], 1))
        out.append("")
        if patch_path:
            out.extend([f"Patch written to: {md(patch_path, cell=True)} (rollback beside it).", ""])
        for title, key in (("Patch", "reg"), ("Rollback", "rollback")):
            if rem.get(key):
                out.extend([f"{title}:", "", fence(visible(rem[key]), "reg"), ""])
    return "\n".join(out).rstrip("\n") + "\n"


def fence(text: str, lang: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside the text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip(chr(10))}\n{ticks}"


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1b1b1b;line-height:1.4}
h1{font-size:1.3rem}
h2{font-size:1.1rem;margin-top:1.6rem}
.verdict{font-size:1.05rem;padding:.6rem .9rem;border-left:.35rem solid #2e7d32;background:#f1f8f1}
.verdict.action{border-color:#c62828;background:#fdf1f1}
.warnings{padding:.4rem .9rem;border-left:.35rem solid #ef6c00;background:#fff6ec}
table{border-collapse:collapse;margin:.4rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td,code,pre{overflow-wrap:anywhere;word-break:break-word}
code,pre,.mono{font-family:ui-monospace,Consolas,monospace;font-size:.88rem}
pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;max-height:30rem;overflow:auto}
tr.sev-error td:first-child{color:#c62828;font-weight:bold}
tr.sev-warning td:first-child{color:#ef6c00;font-weight:bold}
tr.sev-info td:first-child{color:#1565c0}
"""


def h(text: object, *, cell: bool = False) -> str:
    """HTML-escaped untrusted text (also safe inside double- or single-quoted attributes)."""
    return html.escape(visible(text, cell=cell), quote=True)


def html_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, row_class: Callable[[int], str] | None = None
) -> str:
    parts = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{h(x, cell=True)}</th>" for x in headers) + "</tr></thead><tbody>",
    ]
    for i, row in enumerate(rows):
        cls = row_class(i) if row_class else ""
        attr = f' class="{h(cls, cell=True)}"' if cls else ""
        parts.append(f"<tr{attr}>" + "".join(f'<td class="mono">{h(c, cell=True)}</td>' for c in row) + "</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def render_html(d: Mapping[str, Any], *, patch_path: str | None = None, fragment: bool = False) -> str:
    """A self-contained page (inline CSS, no script, nothing fetched); ``fragment=True`` gives a
    ``<div>`` for notebooks (``_repr_html_``)."""
    body: list[str] = []
    case = h(d.get("case"), cell=True)
    action = bool(d.get("needs_action"))
    body.append(f"<h1>Diagnosis: {case}</h1>")
    body.append(f'<p class="verdict{" action" if action else ""}">{h(verdict_of(d))}</p>')
    dns = d.get("dns_to_add") or []
    if dns:
        body.append("<p>DNs to add to <code>Logon Only As</code> (copied verbatim from the events):</p><ul>")
        body.extend(f"<li><code>{h(dn, cell=True)}</code></li>" for dn in dns)
        body.append("</ul>")
    body.append(f"<p>Needs action: <strong>{'yes' if action else 'no'}</strong></p>")
    warnings = all_warnings(d)
    if warnings:
        body.append('<div class="warnings"><strong>Warnings</strong><ul>')
        body.extend(f"<li>{h(w, cell=True)}</li>" for w in warnings[:MAX_WARNING_LINES])
        if len(warnings) > MAX_WARNING_LINES:
            body.append(f"<li>… {len(warnings) - MAX_WARNING_LINES} more (see the JSON output)</li>")
        body.append("</ul></div>")

    findings = d.get("findings") or []
    body.append("<h2>Findings</h2>")
    if findings:
        severities = [str(f.get("severity") or "") for f in findings]
        body.append(
            html_table(
                FINDING_COLUMNS,
                finding_rows(d),
                row_class=lambda i: f"sev-{severities[i]}" if severities[i] in _SEVERITIES else "",
            )
        )
        body.append("<ol>")
        for f in findings:
            details = _finding_details(f, d)
            items = "".join(f"<li>{h(label)}: {h(text)}</li>" for label, text in details[1:])
            body.append(f"<li><strong>{h(details[0][1])}</strong><ul>{items}</ul></li>")
        body.append("</ol>")
    else:
        body.append("<p>None.</p>")

    rows, left_out = evidence_table(d)
    if rows:
        body.append("<h2>Evidence</h2>")
        body.append(html_table(EVIDENCE_COLUMNS, rows))
        if left_out:
            body.append(f"<p>… {left_out} more evidence rows (see the JSON output).</p>")

    body.append("<h2>Logon Only As</h2>")
    body.append(html_table(LOGON_COLUMNS, logon_rows(d)))
    body.append("<h2>Inputs</h2>")
    inputs = d.get("inputs") or []
    if inputs:
        body.append(
            html_table(INPUT_COLUMNS, input_rows(d), row_class=lambda i: "sev-error" if inputs[i].get("error") else "")
        )
    else:
        body.append("<p>None.</p>")

    rem = d.get("remediation")
    if rem:
        body.append(f"<h2>Remediation (.reg version {h(rem.get('version'))})</h2><ol>")
        body.extend(f"<li>{h(step)}</li>" for step in rem.get("steps") or [])
        body.append("</ol>")
        if patch_path:
            body.append(f"<p>Patch written to: <code>{h(patch_path, cell=True)}</code> (rollback beside it).</p>")
        for title, key in (("Patch (.reg)", "reg"), ("Rollback (.reg)", "rollback")):
            if rem.get(key):
                body.append(f"<details><summary>{title}</summary><pre>{h(rem[key])}</pre></details>")

    content = "\n".join(body)
    if fragment:
        return f'<div class="analyzer-diagnosis"><style>{_scoped_css()}</style>\n{content}\n</div>\n'
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>analyzer diagnosis: {case}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{content}\n</body>\n</html>\n"
    )


def _scoped_css() -> str:
    """The page CSS limited to the notebook fragment (one rule per line in ``_CSS``), so that it
    does not restyle the rest of the notebook."""
    rules = []
    for line in _CSS.strip().splitlines():
        selectors, _, rest = line.partition("{")
        scoped = ",".join(
            ".analyzer-diagnosis" if sel.strip() == "body" else f".analyzer-diagnosis {sel.strip()}"
            for sel in selectors.split(",")
        )
        rules.append(f"{scoped}{{{rest}")
    return "\n".join(rules)


# --------------------------------------------------------------------------- JSON and dispatch

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "diagnosis.schema.json"


def load_schema() -> dict[str, Any]:
    """The committed JSON Schema (draft 2020-12) of the diagnosis dict."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def render_json(d: Mapping[str, Any]) -> str:
    """The contract dict as UTF-8 JSON (strings exact, non-ASCII kept)."""
    return json.dumps(d, ensure_ascii=False, indent=2) + "\n"


RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
}


def render(d: Mapping[str, Any], fmt: str = "text", *, patch_path: str | None = None) -> str:
    """Render in the CLI's ``--format`` (text | json | markdown | html)."""
    if fmt == "json":
        return render_json(d)
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(RENDERERS)})") from None
    return renderer(d, patch_path=patch_path)
