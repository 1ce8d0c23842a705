"""The terminal back end: verdict paragraph, DNs to add, then tabulate tables, the steps and the warnings."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from analyzer.report.diagnosis.sections import Report, Section, Table
from analyzer.report.diagnosis.untrusted import visible

MAX_TEXT_CELL = 1_000  # text tables pad every row to the widest cell: keep cells shorter there
MORE = "(see --format json)"


def table(t: Table) -> str:
    safe = [[visible(c, cell=True, limit=MAX_TEXT_CELL) for c in row] for row in t.rows]
    return tabulate(safe, headers=list(t.headers), tablefmt="simple", disable_numparse=True)


def _lines(lines: Sequence[str], bullet: str) -> list[str]:
    return [f"  {bullet}{visible(line, cell=True)}" for line in lines]


def _more(section: Section) -> list[str]:
    if not section.left_out:
        return []
    noun = f" {section.left_out_noun}" if section.left_out_noun else ""
    return [f"  … {section.left_out} more{noun} {MORE}"]


def section(s: Section, report: Report) -> list[str]:
    out = [s.title]
    if s.key == "remediation":
        out.extend(f"{n:>2}. {visible(item.heading)}" for n, item in enumerate(s.items, 1))
        if report.patch_path:
            out.append(f"Patch written to: {visible(report.patch_path, cell=True)} (rollback beside it)")
        else:
            out.append("Write the patch and its rollback with --reg-patch FILE.")
        return [*out, ""]
    if s.empty:
        return [*out, "  (none)", ""]
    if s.table is not None:
        out.append(table(s.table))
    if s.items:
        out.append("")
        for n, item in enumerate(s.items, 1):
            out.append(f"{n:>2}. title: {visible(item.heading)}")
            out.extend(f"    {label}: {visible(text)}" for label, text in item.details)
    out.extend(_lines(s.lines, "- " if s.key == "warnings" else ""))
    out.extend(_more(s))
    out.extend(f"  {note}" for note in s.notes)
    return [*out, ""]


def render(report: Report) -> str:
    out: list[str] = [visible(report.verdict), ""]
    if report.dns:
        out.append("DNs to add to Logon Only As (copied verbatim from the events):")
        out.extend(f"  {visible(dn, cell=True)}" for dn in report.dns)
        out.append("")
    out.append(f"Case: {visible(report.case, cell=True)}    needs action: {'yes' if report.needs_action else 'no'}")
    warnings = report.warnings
    if warnings is not None:
        out.append(f"Warnings: {len(warnings.lines) + warnings.left_out} (see the end of this report)")
    out.append("")
    for s in report.sections:
        out.extend(section(s, report))
    if warnings is not None:
        out.extend(section(warnings, report))
    return "\n".join(out).rstrip("\n") + "\n"
