"""Reports of a case with several servers: the verdict line of each server first, then one section
per server, rendered by the single-server renderers from that server's part of the diagnosis dict.

Why compose rather than duplicate: a server's section is exactly what a single-server case prints
(findings, evidence, messages, its Logon Only As, its inputs, its remediation), so the same report
model (``sections.build``) and back ends draw it, and every safety rule of theirs (escaping, caps) holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from analyzer.report.diagnosis import html as html_backend
from analyzer.report.diagnosis import markdown as markdown_backend
from analyzer.report.diagnosis import text as text_backend
from analyzer.report.diagnosis.html import h
from analyzer.report.diagnosis.links import prose
from analyzer.report.diagnosis.markdown import md
from analyzer.report.diagnosis.sections import MAX_WARNING_LINES, all_warnings, build
from analyzer.report.diagnosis.untrusted import visible
from analyzer.report.terminal import Layout

_H_TAG = re.compile(r"<(/?)h([1-5])\b")


def server_dict(d: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """The single-server diagnosis dict of one ``servers[i]`` entry (findings and inputs filtered)."""
    name = entry.get("server")
    own = set(entry.get("inputs") or [])
    return {
        "schema": d.get("schema"),
        "case": f"{d.get('case')} / {name}",
        "verdict": entry.get("verdict"),
        "needs_action": entry.get("needs_action"),
        "inputs": [i for i in d.get("inputs") or [] if i.get("path") in own],
        "logon_only_as": entry.get("logon_only_as") or {},
        "findings": [f for f in d.get("findings") or [] if f.get("server") == name],
        "dns_to_add": list(entry.get("dns_to_add") or []),
        "unconfirmed": list(entry.get("unconfirmed") or []),
        "advice": list(entry.get("advice") or []),
        "remediation": entry.get("remediation"),
        "warnings": [],
    }


def _headline(d: Mapping[str, Any]) -> str:
    servers = d.get("servers") or []
    return f"{len(servers)} servers in this case, each diagnosed against its own Logon Only As list:"


def _patch_of(patch_path: str | Mapping[str, str] | None, server: str) -> str | None:
    if isinstance(patch_path, Mapping):
        return patch_path.get(server)
    return None


def _unpaired(d: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Inputs paired with no server (and read without error)."""
    used = {p for s in d.get("servers") or [] for p in s.get("inputs") or []}
    return [i for i in d.get("inputs") or [] if i.get("path") not in used]


def _case_warnings(d: Mapping[str, Any]) -> dict[str, Any]:
    """The case-level part: warnings and the inputs no server section shows."""
    return {"warnings": d.get("warnings") or [], "inputs": _unpaired(d)}


def render_text(
    d: Mapping[str, Any], *, patch_path: str | Mapping[str, str] | None = None, layout: Layout | None = None
) -> str:
    servers = d.get("servers") or []
    out = [_headline(d)]
    out.extend(f"  {visible(s.get('server'), cell=True)}: {visible(s.get('verdict'))}" for s in servers)
    out.append("")
    if d.get("dns_to_add"):
        out.append("DNs to add to Logon Only As (copied verbatim from the events), per server:")
        for s in servers:
            out.extend(
                f"  {visible(s.get('server'), cell=True)}: {visible(dn, cell=True)}" for dn in s.get("dns_to_add") or []
            )
        out.append("")
    names = ", ".join(visible(s.get("server"), cell=True) for s in servers)
    out.append(
        f"Case: {visible(d.get('case'), cell=True)}    servers: {names}    "
        f"needs action: {'yes' if d.get('needs_action') else 'no'}"
    )
    rest = _case_warnings(d)
    warnings = all_warnings(rest)
    if warnings:
        out.append(f"Warnings: {len(warnings)} (see the end of this report)")
    out.append("")
    for s in servers:
        title = f"Server {visible(s.get('server'), cell=True)}"
        out.extend([f"=== {title} " + "=" * max(3, 72 - len(title)), ""])
        for path, why in _paired(s):
            out.append(f"  input: {visible(path, cell=True)}" + (f" ({visible(why, cell=True)})" if why else ""))
        out.append("")
        one = build(server_dict(d, s), patch_path=_patch_of(patch_path, str(s.get("server"))))
        section = text_backend.render(one, layout)
        out.append(section.rstrip("\n"))
        out.append("")
    if rest["inputs"]:
        out.append("Inputs paired with no server")
        out.extend(f"  {visible(i.get('path'), cell=True)}" for i in rest["inputs"])
        out.append("")
    if warnings:
        out.append("Warnings")
        out.extend(f"  - {visible(w, cell=True)}" for w in warnings[:MAX_WARNING_LINES])
        if len(warnings) > MAX_WARNING_LINES:
            out.append(f"  … {len(warnings) - MAX_WARNING_LINES} more (see --format json)")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _demote_markdown(text: str) -> list[str]:
    """A server section: its title line dropped, every heading one level deeper (not inside fences)."""
    lines = text.rstrip("\n").split("\n")
    out: list[str] = []
    fence: str | None = None
    for n, line in enumerate(lines):
        if n == 0 and line.startswith("# "):
            continue
        m = re.match(r"^(`{3,})", line)
        if m:
            fence = None if fence is not None and line.strip() == fence else (fence or m.group(1))
        elif fence is None and line.startswith("#"):
            line = "#" + line
        if out or line.strip():  # no blank lines between the server heading and the section
            out.append(line)
    return out


def _paired(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(path, why it is this server's) for each input of a server entry."""
    why = entry.get("paired_by") or {}
    return [(str(p), str(why.get(p) or "")) for p in entry.get("inputs") or []]


def render_markdown(d: Mapping[str, Any], *, patch_path: str | Mapping[str, str] | None = None) -> str:
    servers = d.get("servers") or []
    out = [f"# Diagnosis: {md(d.get('case'), cell=True)}", "", f"**{md(_headline(d))}**", ""]
    out.extend(f"- **{md(s.get('server'), cell=True)}**: {md(s.get('verdict'))}" for s in servers)
    out.append("")
    out.append(f"Needs action: **{'yes' if d.get('needs_action') else 'no'}**")
    out.append("")
    rest = _case_warnings(d)
    warnings = all_warnings(rest)
    if warnings:
        out.append("> **Warnings:**")
        out.extend(f"> - {md(w, cell=True)}" for w in warnings[:MAX_WARNING_LINES])
        out.append("")
    for s in servers:
        out.extend([f"## Server {md(s.get('server'), cell=True)}", ""])
        out.extend(f"- input: {md(p, cell=True)}" + (f" ({md(w, cell=True)})" if w else "") for p, w in _paired(s))
        out.append("")
        section = markdown_backend.render(
            build(server_dict(d, s), patch_path=_patch_of(patch_path, str(s.get("server"))))
        )
        out.extend(_demote_markdown(section))
        out.append("")
    if rest["inputs"]:
        out.extend(["## Inputs paired with no server", ""])
        out.extend(f"- {md(i.get('path'), cell=True)}" for i in rest["inputs"])
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _html_body(page: str) -> str:
    """The body of a page from ``render_html``, its title dropped and headings one level deeper."""
    start = page.index("<body>") + len("<body>")
    body = page[start : page.rindex("</body>")].strip("\n")
    body = re.sub(r"^<h1>.*?</h1>\n?", "", body, count=1)
    return _H_TAG.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}", body)


def render_html(
    d: Mapping[str, Any],
    *,
    patch_path: str | Mapping[str, str] | None = None,
    fragment: bool = False,
    links: str | None = None,
) -> str:
    """The page of a case with several servers; ``links``: the KB URL template (None: no links)."""
    servers = d.get("servers") or []
    action = bool(d.get("needs_action"))
    case = h(d.get("case"), cell=True)
    parts = [f"<h1>Diagnosis: {case}</h1>", f'<div class="verdict{" action" if action else ""}">']
    parts.append(f"<p>{h(_headline(d))}</p><ul>")
    parts.extend(
        f"<li><strong>{h(s.get('server'), cell=True)}</strong>: {prose(s.get('verdict'), links)}</li>" for s in servers
    )
    parts.append("</ul></div>")
    parts.append(f"<p>Needs action: <strong>{'yes' if action else 'no'}</strong></p>")
    rest = _case_warnings(d)
    warnings = all_warnings(rest)
    if warnings:
        parts.append('<div class="warnings"><strong>Warnings</strong><ul>')
        parts.extend(f"<li>{h(w, cell=True)}</li>" for w in warnings[:MAX_WARNING_LINES])
        parts.append("</ul></div>")
    for s in servers:
        name = h(s.get("server"), cell=True)
        one = build(server_dict(d, s), patch_path=_patch_of(patch_path, str(s.get("server"))))
        page = html_backend.render(one, links=links)
        inputs = "".join(
            f"<li><code>{h(p, cell=True)}</code>" + (f" ({h(w, cell=True)})" if w else "") + "</li>"
            for p, w in _paired(s)
        )
        parts.append(
            f'<section class="server"><h2>Server {name}</h2>\n<ul>{inputs}</ul>\n{_html_body(page)}\n</section>'
        )
    if rest["inputs"]:
        parts.append("<h2>Inputs paired with no server</h2><ul>")
        parts.extend(f"<li><code>{h(i.get('path'), cell=True)}</code></li>" for i in rest["inputs"])
        parts.append("</ul>")
    content = "\n".join(parts)
    return html_backend.fragment_of(content) if fragment else html_backend.page(case, content)
