"""The HTML back end: a self-contained page (inline CSS, no script, nothing fetched), or a ``<div>``
fragment for notebooks.  Like the Markdown report it shows the warnings first and no event messages."""

from __future__ import annotations

import html

from analyzer.report.diagnosis import timeline_svg
from analyzer.report.diagnosis.sections import Report, Section, Table
from analyzer.report.diagnosis.untrusted import visible

MORE = "(see the JSON output)"
SHOWN = ("findings", "advice", "timeline", "evidence", "logon", "inputs", "remediation")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1b1b1b;line-height:1.4}
h1{font-size:1.3rem}
h2{font-size:1.1rem;margin-top:1.6rem}
.verdict{font-size:1.05rem;padding:.6rem .9rem;border-left:.35rem solid #2e7d32;background:#f1f8f1}
.verdict.action{border-color:#c62828;background:#fdf1f1}
.warnings{padding:.4rem .9rem;border-left:.35rem solid #ef6c00;background:#fff6ec}
table{border-collapse:collapse;margin:.4rem 0;font-size:.9rem;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td,code,pre{overflow-wrap:normal;word-break:normal}
td.mono{white-space:nowrap}
pre{white-space:pre-wrap}
code,pre,.mono{font-family:ui-monospace,Consolas,monospace;font-size:.88rem}
pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;max-height:30rem;overflow:auto}
tr.sev-error td:first-child{color:#c62828;font-weight:bold}
tr.sev-warning td:first-child{color:#ef6c00;font-weight:bold}
tr.sev-info td:first-child{color:#1565c0}
svg.timeline{display:block;margin:.4rem 0}
@media print{body{margin:0;font-size:10pt}table{display:table;overflow:visible}td.mono{white-space:normal}details{display:block}pre{max-height:none;overflow:visible}}
"""


def h(text: object, *, cell: bool = False) -> str:
    """HTML-escaped untrusted text (also safe inside double- or single-quoted attributes)."""
    return html.escape(visible(text, cell=cell), quote=True)


def html_table(t: Table) -> str:
    parts = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{h(x, cell=True)}</th>" for x in t.headers) + "</tr></thead><tbody>",
    ]
    for i, row in enumerate(t.rows):
        cls = t.row_classes[i] if t.row_classes else ""
        attr = f' class="{h(cls, cell=True)}"' if cls else ""
        parts.append(f"<tr{attr}>" + "".join(f'<td class="mono">{h(c, cell=True)}</td>' for c in row) + "</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def section(s: Section, report: Report) -> list[str]:
    if s.key == "remediation":
        out = [f"<h2>{h(s.title)}</h2><ol>"]
        out.extend(f"<li>{h(item.heading)}</li>" for item in s.items)
        out.append("</ol>")
        if report.patch_path:
            out.append(f"<p>Patch written to: <code>{h(report.patch_path, cell=True)}</code> (rollback beside it).</p>")
        out.extend(
            f"<details><summary>{label} (.reg)</summary><pre>{h(text)}</pre></details>" for label, text in s.code
        )
        return out
    out = [f"<h2>{h(s.title)}</h2>"]
    if s.empty:
        return [*out, "<p>None.</p>"]
    if s.key == "timeline" and s.table is not None:
        out.append(timeline_svg.render(s.table.rows))
    if s.table is not None:
        out.append(html_table(s.table))
    if s.items:
        out.append("<ol>")
        for item in s.items:
            details = "".join(f"<li>{h(label)}: {h(text)}</li>" for label, text in item.details)
            out.append(f"<li><strong>{h(item.heading)}</strong><ul>{details}</ul></li>")
        out.append("</ol>")
    if s.left_out:
        noun = f" {s.left_out_noun}" if s.left_out_noun else ""
        out.append(f"<p>… {s.left_out} more{noun} {MORE}.</p>")
    return out


def render(report: Report, *, fragment: bool = False) -> str:
    """The page; ``fragment=True`` gives a ``<div>`` for notebooks (``Diagnosis._repr_html_``)."""
    body: list[str] = []
    case = h(report.case, cell=True)
    action = report.needs_action
    body.append(f"<h1>Diagnosis: {case}</h1>")
    body.append(f'<p class="verdict{" action" if action else ""}">{h(report.verdict)}</p>')
    if report.dns:
        body.append("<p>DNs to add to <code>Logon Only As</code> (copied verbatim from the events):</p><ul>")
        body.extend(f"<li><code>{h(dn, cell=True)}</code></li>" for dn in report.dns)
        body.append("</ul>")
    body.append(f"<p>Needs action: <strong>{'yes' if action else 'no'}</strong></p>")
    warnings = report.warnings
    if warnings is not None:
        body.append('<div class="warnings"><strong>Warnings</strong><ul>')
        body.extend(f"<li>{h(w, cell=True)}</li>" for w in warnings.lines)
        if warnings.left_out:
            body.append(f"<li>… {warnings.left_out} more {MORE}</li>")
        body.append("</ul></div>")
    for s in report.sections:
        if s.key in SHOWN:
            body.extend(section(s, report))
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
        if line.startswith("@media"):  # print rules belong to the page, not to a notebook
            continue
        selectors, _, rest = line.partition("{")
        scoped = ",".join(
            ".analyzer-diagnosis" if sel.strip() == "body" else f".analyzer-diagnosis {sel.strip()}"
            for sel in selectors.split(",")
        )
        rules.append(f"{scoped}{{{rest}")
    return "\n".join(rules)
