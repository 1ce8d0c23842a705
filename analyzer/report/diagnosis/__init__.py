"""Render a diagnosis (the ``Diagnosis.to_dict()`` contract dict) as text, Markdown, HTML or JSON.

``sections.build`` turns the dict into the report model once (a list of sections: title, table rows,
numbered items, lines); ``text``, ``markdown`` and ``html`` are small back ends that lay it out, each
making untrusted strings visible and escaping them for its markup (``untrusted``).  A new section is
one function in ``sections``; the back ends place it by its key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from analyzer.report.diagnosis import html as html_backend
from analyzer.report.diagnosis import markdown as markdown_backend
from analyzer.report.diagnosis import servers
from analyzer.report.diagnosis import text as text_backend
from analyzer.report.diagnosis.sections import all_warnings, build, verdict_of
from analyzer.report.diagnosis.untrusted import MAX_CHARS, visible
from analyzer.terminal import json_safe

__all__ = [
    "MAX_CHARS",
    "RENDERERS",
    "SCHEMA_FILE",
    "all_warnings",
    "load_schema",
    "render",
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


def render_text(d: Mapping[str, Any], *, patch_path: PatchPath = None) -> str:
    """Terminal output: verdict paragraph, DNs to add, then tabulate tables and the steps.
    Several servers: a verdict line per server, then one section per server (``servers``)."""
    if d.get("servers"):
        return servers.render_text(d, patch_path=patch_path)
    return text_backend.render(build(d, patch_path=_one(patch_path)))


def render_markdown(d: Mapping[str, Any], *, patch_path: PatchPath = None) -> str:
    """GitHub-flavoured Markdown: the same content as the text report, every string escaped."""
    if d.get("servers"):
        return servers.render_markdown(d, patch_path=patch_path)
    return markdown_backend.render(build(d, patch_path=_one(patch_path)))


def render_html(d: Mapping[str, Any], *, patch_path: PatchPath = None, fragment: bool = False) -> str:
    """A self-contained page (inline CSS, no script, nothing fetched); ``fragment=True`` gives a
    ``<div>`` for notebooks (``_repr_html_``)."""
    if d.get("servers"):
        return servers.render_html(d, patch_path=patch_path, fragment=fragment)
    return html_backend.render(build(d, patch_path=_one(patch_path)), fragment=fragment)


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


RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
}


def render(d: Mapping[str, Any], fmt: str = "text", *, patch_path: PatchPath = None) -> str:
    """Render in the CLI's ``--format`` (text | json | markdown | html)."""
    if fmt == "json":
        return render_json(d)
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(RENDERERS)})") from None
    return renderer(d, patch_path=patch_path)
