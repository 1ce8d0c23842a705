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
import re

MAX_CHARS = 10_000  # longer strings are cut for display (JSON keeps them whole)

# C0/C1 controls, DEL, and the bidi embedding/override/isolate marks plus other invisible
# direction and zero-width characters that can disguise text.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]")
_UNSAFE_CELL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]")


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
