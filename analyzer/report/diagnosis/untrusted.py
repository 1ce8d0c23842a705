"""Untrusted text made safe to show, whatever the format.

Everything in the diagnosis dict that came from a customer file (DNs, accounts, paths, registry
entries, reader warnings) is untrusted: a crafted event can hold terminal escape sequences, Markdown
table syntax, HTML, or Unicode bidi overrides that make a DN read differently from what it is.  Every
human format therefore (1) makes control and bidi-control characters visible as ``\\xNN`` /
``\\uNNNN`` and (2) shortens strings longer than ``MAX_CHARS`` with a note (``visible``), then (3)
escapes for its own markup (in its back end).  JSON keeps the exact strings.
"""

from __future__ import annotations

import json

# The escaping itself is shared by every command (analyzer.terminal); re-exported for the back ends.
from analyzer.terminal import MAX_CHARS as MAX_CHARS
from analyzer.terminal import visible as visible


def entry_display(entry: str) -> str:
    """A list entry whose edges would vanish in a table (empty, leading/trailing blanks) is quoted."""
    if entry == "":
        return "(empty string)"
    if entry != entry.strip():
        return json.dumps(entry, ensure_ascii=False)
    return entry
