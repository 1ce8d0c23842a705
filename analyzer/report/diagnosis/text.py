"""The terminal back end: verdict paragraph, DNs to add, then tables, the steps and the warnings.

Everything is laid out for the width of a ``Layout`` (``analyzer.report.terminal``): paragraphs wrap,
table cells wrap, DNs stay whole on their own lines, and only the verdict and severities are coloured.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzer.report.diagnosis.sections import Report, Section, Table
from analyzer.report.diagnosis.untrusted import visible
from analyzer.report.terminal import Layout, wrap
from analyzer.report.terminal import table as layout_table

MAX_TEXT_CELL = 1_000  # a cell wraps over many lines: keep cells shorter there
MORE = "(see --format json)"
WHOLE_COLUMNS = ("DN", "value")  # never wrapped: printed under the row when they do not fit
PROSE_COLUMNS = ("warnings / error", "explanation")  # their longest words may break rather than overflow


def table(t: Table, layout: Layout) -> list[str]:
    safe = [[visible(c, cell=True, limit=MAX_TEXT_CELL) for c in row] for row in t.rows]
    styles = [c.removeprefix("sev-") for c in t.row_classes]
    return list(
        layout_table(
            t.headers, safe, layout.width, whole=WHOLE_COLUMNS, styles=styles, layout=layout, breakable=PROSE_COLUMNS
        )
    )


def _lines(lines: Sequence[str], bullet: str, layout: Layout, keep: Sequence[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        out.extend(wrap(visible(line, cell=True), layout.width, "  " + " " * len(bullet), "  " + bullet, keep))
    return out


def _whole_strings(report: Report) -> list[str]:
    """The DNs of the report (to add, in tables): wrapped paragraphs keep each on one line."""
    found = [visible(dn, cell=True) for dn in report.dns]
    for s in report.sections:
        if s.table is not None:
            cols = [i for i, h in enumerate(s.table.headers) if h in WHOLE_COLUMNS]
            found.extend(visible(row[i], cell=True) for row in s.table.rows for i in cols if "=" in row[i])
    return found


def _more(section: Section) -> list[str]:
    if not section.left_out:
        return []
    noun = f" {section.left_out_noun}" if section.left_out_noun else ""
    return [f"  … {section.left_out} more{noun} {MORE}"]


def section(s: Section, report: Report, layout: Layout, keep: Sequence[str] = ()) -> list[str]:
    out = [s.title]
    width = layout.width
    if s.key == "remediation":
        for n, item in enumerate(s.items, 1):
            out.extend(wrap(visible(item.heading), width, "    ", f"{n:>2}. ", keep))
        if report.patch_path:
            out.extend(wrap(f"Patch written to: {visible(report.patch_path, cell=True)} (rollback beside it)", width))
        else:
            out.append("Write the patch and its rollback with --reg-patch FILE.")
        return [*out, ""]
    if s.empty:
        return [*out, "  (none)", ""]
    if s.table is not None:
        out.extend(table(s.table, layout))
    if s.items:
        out.append("")
        for n, item in enumerate(s.items, 1):
            out.extend(wrap(visible(item.heading), width, "           ", f"{n:>2}. title: ", keep))
            for label, text in item.details:
                out.extend(wrap(visible(text), width, "      ", f"    {label}: ", keep))
    out.extend(_lines(s.lines, "- " if s.key == "warnings" else "", layout, keep))
    out.extend(_more(s))
    for note in s.notes:
        out.extend(wrap(note, width, "  "))
    return [*out, ""]


def render(report: Report, layout: Layout | None = None) -> str:
    layout = layout or Layout()
    width = layout.width
    keep = _whole_strings(report)
    verdict = wrap(visible(report.verdict), width, keep=keep)
    style = "action" if report.needs_action else "ok"
    out: list[str] = [layout.paint(line, style) for line in verdict] + [""]
    if report.dns:
        out.extend(wrap("DNs to add to Logon Only As (copied verbatim from the events):", width))
        out.extend(f"  {visible(dn, cell=True)}" for dn in report.dns)  # whole, however long
        out.append("")
    out.append(f"Case: {visible(report.case, cell=True)}    needs action: {'yes' if report.needs_action else 'no'}")
    warnings = report.warnings
    if warnings is not None:
        out.append(f"Warnings: {len(warnings.lines) + warnings.left_out} (see the end of this report)")
    out.append("")
    for s in report.sections:
        out.extend(section(s, report, layout, keep))
    if warnings is not None:
        out.extend(section(warnings, report, layout, keep))
    return "\n".join(out).rstrip("\n") + "\n"
