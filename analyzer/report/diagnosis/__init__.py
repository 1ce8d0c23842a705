"""Render a diagnosis (the ``Diagnosis.to_dict()`` contract dict) as text, Markdown, HTML or JSON.

``sections.build`` turns the dict into the report model once (a list of sections: title, table rows,
numbered items, lines); ``text``, ``markdown`` and ``html`` are small back ends that lay it out, each
making untrusted strings visible and escaping them for its markup (``untrusted``).  A new section is
one function in ``sections``; the back ends place it by its key.

The HTML and Markdown back ends and the several-servers layout (``servers``) load when a report needs
them: a one-server text or JSON report never pays for them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from analyzer.report.diagnosis import text as text_backend
from analyzer.report.diagnosis.links import DEFAULT_KB_URL, KbUrlError, kb_url_template
from analyzer.report.diagnosis.sections import FINDING_COLUMNS, all_warnings, build, finding_rows, verdict_of
from analyzer.report.diagnosis.untrusted import MAX_CHARS, visible
from analyzer.report.terminal import Layout
from analyzer.terminal import json_safe

__all__ = [
    "DEFAULT_KB_URL",
    "MAX_CHARS",
    "RENDERERS",
    "SCHEMA_FILE",
    "KbUrlError",
    "all_warnings",
    "load_schema",
    "render",
    "render_csv",
    "render_html",
    "render_json",
    "render_markdown",
    "render_text",
    "verdict_of",
    "visible",
]

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "diagnosis.schema.json"


#: ``--reg-patch``'s file for one server, or server -> file when the case holds several servers
PatchPath = str | Mapping[str, str] | None


def render_text(d: Mapping[str, Any], *, patch_path: PatchPath = None, layout: Layout | None = None) -> str:
    """Terminal output laid out for ``layout`` (width, colour; default 80 columns, no colour): verdict
    paragraph, DNs to add, then tables and the steps.  Several servers: a verdict line per server, then
    one section per server (``servers``)."""
    if d.get("servers"):
        from analyzer.report.diagnosis import servers

        return servers.render_text(d, patch_path=patch_path, layout=layout)
    return text_backend.render(build(d, patch_path=_one(patch_path)), layout)


def render_markdown(d: Mapping[str, Any], *, patch_path: PatchPath = None) -> str:
    """GitHub-flavoured Markdown: the same content as the text report, every string escaped."""
    from analyzer.report.diagnosis import markdown as markdown_backend

    if d.get("servers"):
        from analyzer.report.diagnosis import servers

        return servers.render_markdown(d, patch_path=patch_path)
    return markdown_backend.render(build(d, patch_path=_one(patch_path)))


def render_html(
    d: Mapping[str, Any], *, patch_path: PatchPath = None, fragment: bool = False, kb_url: str | None = None
) -> str:
    """A self-contained page (inline CSS, the copy-button script allowed by its hash, nothing fetched);
    ``fragment=True`` gives a ``<div>`` for notebooks (``_repr_html_``).  KB numbers link to ``kb_url``
    (a template with ``{number}``; default: ``ANALYZER_KB_URL``, else an archive of the old KB site;
    ``"none"``: no links) -- raises ``KbUrlError`` for an unusable template."""
    from analyzer.report.diagnosis import html as html_backend

    links = kb_url_template(kb_url)
    if d.get("servers"):
        from analyzer.report.diagnosis import servers

        return servers.render_html(d, patch_path=patch_path, fragment=fragment, links=links)
    return html_backend.render(build(d, patch_path=_one(patch_path)), fragment=fragment, links=links)


def _one(patch_path: PatchPath) -> str | None:
    """The patch of a single-server case (a mapping names one file per server: none is "the" patch)."""
    return patch_path if isinstance(patch_path, str) else None


def load_schema() -> dict[str, Any]:
    """The committed JSON Schema (draft 2020-12) of the diagnosis dict."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def render_json(d: Mapping[str, Any]) -> str:
    """The contract dict as UTF-8 JSON (strings exact, non-ASCII kept; names that were not valid UTF-8
    shown as ``\\xNN`` with ``path_raw`` beside them, so the output is always valid UTF-8)."""
    return json.dumps(json_safe(d), ensure_ascii=False, indent=2) + "\n"


def render_csv(d: Mapping[str, Any], *, patch_path: PatchPath = None) -> str:
    """The findings as CSV rows (one per finding; several servers: a ``server`` column first).

    For spreadsheets that collect the outcome of many cases; cells starting like a formula are neutralised.
    """
    import csv

    from analyzer.report.events import safe_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    several = bool(d.get("servers"))  # then each finding names its server
    writer.writerow(["server", *FINDING_COLUMNS] if several else FINDING_COLUMNS)
    for finding, row in zip(d.get("findings") or [], finding_rows(d), strict=True):
        cells = [str(finding.get("server") or ""), *row] if several else row
        writer.writerow([safe_cell(c) for c in cells])
    return buf.getvalue()


RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
    "csv": render_csv,
}


def render(
    d: Mapping[str, Any],
    fmt: str = "text",
    *,
    patch_path: PatchPath = None,
    layout: Layout | None = None,
    kb_url: str | None = None,
) -> str:
    """Render in the CLI's ``--format`` (text | json | markdown | html | csv); ``layout`` is the text's,
    ``kb_url`` the HTML's (see ``render_html``)."""
    if fmt == "json":
        return render_json(d)
    if fmt == "text":
        return render_text(d, patch_path=patch_path, layout=layout)
    if fmt == "html":
        return render_html(d, patch_path=patch_path, kb_url=kb_url)
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(RENDERERS)})") from None
    return renderer(d, patch_path=patch_path)
