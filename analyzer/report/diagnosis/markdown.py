"""The Markdown back end (GitHub-flavoured): the same content as the text report, every string escaped.

Like the text and HTML reports it has the Event messages section; it shows the warnings first."""

from __future__ import annotations

import re
from collections.abc import Sequence

from analyzer.report.diagnosis.sections import Report, Section
from analyzer.report.diagnosis.untrusted import visible

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#$!{}])")
MORE = "(see the JSON output)"
SHOWN = ("findings", "advice", "timeline", "evidence", "messages", "logon", "inputs", "remediation")


def md(text: object, *, cell: bool = False) -> str:
    """Markdown-escaped untrusted text (backslash before every character Markdown could act on)."""
    return _MD_SPECIAL.sub(r"\\\1", visible(text, cell=cell))


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(md(h, cell=True) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(md(c, cell=True) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def fence(text: str, lang: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside the text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip(chr(10))}\n{ticks}"


def section(s: Section, report: Report) -> list[str]:
    out = [f"## {md(s.title)}", ""]
    if s.key == "remediation":
        out.extend(f"{n}. {md(item.heading)}" for n, item in enumerate(s.items, 1))
        out.append("")
        if report.patch_path:
            out.extend([f"Patch written to: {md(report.patch_path, cell=True)} (rollback beside it).", ""])
        for label, text in s.code:
            out.extend([f"{label}:", "", fence(visible(text), "reg"), ""])
        return out
    if s.empty:
        return [*out, "None.", ""]
    if s.table is not None:
        out.extend([md_table(s.table.headers, s.table.rows), ""])
    if s.items:
        for n, item in enumerate(s.items, 1):
            out.append(f"{n}. **{md(item.heading)}**")
            out.extend(f"   - {label}: {md(text)}" for label, text in item.details)
        out.append("")
    if s.lines:
        out.extend(f"- {md(line, cell=True)}" for line in s.lines)
        out.append("")
    if s.left_out:
        noun = f" {s.left_out_noun}" if s.left_out_noun else ""
        out.extend([f"… {s.left_out} more{noun} {MORE}.", ""])
    for note in s.notes:
        out.extend([md(note), ""])
    return out


def render(report: Report) -> str:
    out: list[str] = [f"# Diagnosis: {md(report.case, cell=True)}", "", f"**{md(report.verdict)}**", ""]
    if report.dns:
        out.append("DNs to add to `Logon Only As` (copied verbatim from the events):")
        out.append("")
        out.extend(f"- {md(dn, cell=True)}" for dn in report.dns)
        out.append("")
    out.append(f"Needs action: **{'yes' if report.needs_action else 'no'}**")
    out.append("")
    warnings = report.warnings
    if warnings is not None:
        out.append("> **Warnings:**")
        out.extend(f"> - {md(w, cell=True)}" for w in warnings.lines)
        if warnings.left_out:
            out.append(f"> - … {warnings.left_out} more {MORE}")
        out.append("")
    for s in report.sections:
        if s.key in SHOWN:
            out.extend(section(s, report))
    return "\n".join(out).rstrip("\n") + "\n"
