"""The HTML back end: a self-contained page (inline CSS, one small inline script allowed by its hash in
the CSP, nothing fetched), or a ``<div>`` for notebooks.  Like the Markdown report it shows the warnings
first; like the text report it has the Event messages section.

What the page adds for the engineer: `code spans` of the steps as ``<code>``, KB numbers linked to an
archive (``links``), a copy button beside each DN to add (without JavaScript a click selects the whole DN),
and the patch and its rollback as downloads (``data:`` URLs holding the bytes ``--reg-patch`` writes).
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re

from analyzer.remedy import RemediationError, reg_file_bytes, rollback_path
from analyzer.report.diagnosis import timeline_svg
from analyzer.report.diagnosis.links import prose
from analyzer.report.diagnosis.sections import Report, Section, Table
from analyzer.report.diagnosis.untrusted import visible

MORE = "(see the JSON output)"
SHOWN = ("findings", "advice", "timeline", "evidence", "messages", "logon", "inputs", "remediation")
DN_COLUMN = "DN"

#: Adds a Copy button after each ``code.dn`` (so a page without JavaScript shows no dead button).  The CSP
#: allows exactly this text, by its SHA-256; the clipboard API where the browser grants it, else the
#: selection is copied.
COPY_SCRIPT = (
    'document.addEventListener("DOMContentLoaded",function(){'
    'document.querySelectorAll("code.dn").forEach(function(c){'
    'var b=document.createElement("button");b.type="button";b.className="copy";b.textContent="Copy";'
    'b.setAttribute("aria-label","Copy this DN");'
    "function done(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy';},1500);}"
    "function select(){var r=document.createRange();r.selectNodeContents(c);var s=window.getSelection();"
    "s.removeAllRanges();s.addRange(r);try{if(document.execCommand('copy')){done();}}catch(e){}}"
    'b.addEventListener("click",function(){'
    "if(navigator.clipboard&&navigator.clipboard.writeText){"
    "navigator.clipboard.writeText(c.textContent).then(done,select);}else{select();}});"
    'c.insertAdjacentElement("afterend",b);});});'
)
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(COPY_SCRIPT.encode("utf-8")).digest()).decode("ascii")
CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'"

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
code.dn{user-select:all;-webkit-user-select:all;cursor:text}
button.copy{margin-left:.4rem;font-size:.75rem;padding:0 .4rem;cursor:pointer}
ul.messages{padding-left:1.2rem;overflow-x:auto}
ul.messages li{margin:.15rem 0}
p.downloads a{margin-right:1rem}
@media print{body{margin:0;font-size:10pt}table{display:table;overflow:visible}td.mono{white-space:normal}details{display:block}pre{max-height:none;overflow:visible}button.copy{display:none}}
"""


def h(text: object, *, cell: bool = False) -> str:
    """HTML-escaped untrusted text (also safe inside double- or single-quoted attributes)."""
    return html.escape(visible(text, cell=cell), quote=True)


def dn_code(dn: object) -> str:
    """A DN the engineer copies: a click selects it whole (CSS), the page's script adds a Copy button."""
    return f'<code class="dn">{h(dn, cell=True)}</code>'


def html_table(t: Table, *, copy_dns: bool = False) -> str:
    """The table; ``copy_dns``: the DN column's cells are copyable (``dn_code``)."""
    dn_col = t.headers.index(DN_COLUMN) if copy_dns and DN_COLUMN in t.headers else -1
    parts = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{h(x, cell=True)}</th>" for x in t.headers) + "</tr></thead><tbody>",
    ]
    for i, row in enumerate(t.rows):
        cls = t.row_classes[i] if t.row_classes else ""
        attr = f' class="{h(cls, cell=True)}"' if cls else ""
        cells = (
            f'<td class="mono">{dn_code(c) if n == dn_col and c else h(c, cell=True)}</td>' for n, c in enumerate(row)
        )
        parts.append(f"<tr{attr}>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def data_url(data: bytes) -> str:
    """``data:`` URL of a download (octet-stream: the browser saves the bytes as they are)."""
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode("ascii")


def download_names(report: Report) -> tuple[str, str]:
    """File names of the patch and its rollback: as ``--reg-patch`` wrote them, else from the case name."""
    if report.patch_path:
        patch = os.path.basename(report.patch_path.replace("\\", "/")) or "logon-only-as.reg"
    else:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", report.case).strip("-.") or "case"
        patch = f"{stem}-logon-only-as.reg"
    return patch, rollback_path(patch).name


def downloads(s: Section, report: Report) -> list[str]:
    """Links that save the patch and its rollback: the same bytes ``--reg-patch`` writes (CRLF; REGEDIT4 in
    the ANSI code page, 5.00 as UTF-16LE with BOM).  None when the text cannot be encoded so."""
    if s.reg_version is None:
        return []
    texts = dict(s.code)
    names = dict(zip(("Patch", "Rollback"), download_names(report), strict=True))
    links = []
    for label in ("Patch", "Rollback"):
        if label not in texts:
            continue
        try:
            data = reg_file_bytes(texts[label], s.reg_version)
        except (RemediationError, UnicodeEncodeError):
            continue
        name = h(names[label], cell=True)
        links.append(f'<a class="download" download="{name}" href="{data_url(data)}">{label}: {name}</a>')
    if not links:
        return []
    return [f'<p class="downloads">Download (.reg, as <code>--reg-patch</code> writes it): {" ".join(links)}</p>']


def section(s: Section, report: Report, links: str | None = None) -> list[str]:
    """One section; ``links``: the KB URL template (``links.kb_url_template``), None for no links."""
    if s.key == "remediation":
        out = [f"<h2>{h(s.title)}</h2><ol>"]
        out.extend(f"<li>{prose(item.heading, links)}</li>" for item in s.items)
        out.append("</ol>")
        out.extend(downloads(s, report))
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
        out.append(html_table(s.table, copy_dns=s.key == "findings"))
    if s.items:
        out.append("<ol>")
        for item in s.items:
            details = "".join(f"<li>{h(label)}: {prose(text, links)}</li>" for label, text in item.details)
            out.append(f"<li><strong>{prose(item.heading, links)}</strong><ul>{details}</ul></li>")
        out.append("</ol>")
    if s.lines:
        out.append('<ul class="messages">')
        out.extend(f"<li>{h(line, cell=True)}</li>" for line in s.lines)
        out.append("</ul>")
    if s.left_out:
        noun = f" {s.left_out_noun}" if s.left_out_noun else ""
        out.append(f"<p>… {s.left_out} more{noun} {MORE}.</p>")
    out.extend(f"<p>{prose(note, links)}</p>" for note in s.notes)
    return out


def render(report: Report, *, fragment: bool = False, links: str | None = None) -> str:
    """The page; ``fragment=True`` gives a ``<div>`` for notebooks (``Diagnosis._repr_html_``).
    ``links``: the KB URL template, None for none."""
    body: list[str] = []
    case = h(report.case, cell=True)
    action = report.needs_action
    body.append(f"<h1>Diagnosis: {case}</h1>")
    body.append(f'<p class="verdict{" action" if action else ""}">{prose(report.verdict, links)}</p>')
    if report.dns:
        body.append(
            "<p>DNs to add to <code>Logon Only As</code> (copied verbatim from the events; a click selects a "
            "whole DN):</p><ul>"
        )
        body.extend(f"<li>{dn_code(dn)}</li>" for dn in report.dns)
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
            body.extend(section(s, report, links))
    content = "\n".join(body)
    if fragment:
        return fragment_of(content)
    return page(case, content)


def page(case: str, content: str) -> str:
    """The whole document around ``content`` (``case`` already escaped): CSS, the copy script, the CSP that
    allows that script alone and fetches nothing."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>analyzer diagnosis: {case}</title>\n<style>{_CSS}</style>\n<script>{COPY_SCRIPT}</script>\n"
        f"</head>\n<body>\n{content}\n</body>\n</html>\n"
    )


def fragment_of(content: str) -> str:
    """A ``<div>`` for a notebook cell: scoped CSS and no script (notebooks do not run scripts of untrusted
    outputs; a click still selects a whole DN)."""
    return f'<div class="analyzer-diagnosis"><style>{_scoped_css()}</style>\n{content}\n</div>\n'


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
