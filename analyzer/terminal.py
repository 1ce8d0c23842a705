"""Untrusted text made safe to print: the one escaping function every command uses.

Why: case folder names, file names inside customer zips, event insertion strings and registry data
all come from the customer.  Printed raw, an ESC or OSC sequence re-programs the engineer's terminal,
a CR or LF forges an extra table row, and a bidi override makes a DN read differently from what it
is.  File names that are not valid UTF-8 arrive as lone surrogates (Python's ``surrogateescape``) and
would crash a UTF-8 stream.  ``visible`` turns all of these into readable escapes:

* C0 controls (except tab and newline in multi-line text), DEL and C1 controls -> ``\\xNN``;
* bidi embeddings/overrides/isolates, zero-width and line/paragraph separators, BOM -> ``\\uNNNN``;
* a byte that was not valid UTF-8 in a file name (surrogate U+DC80..U+DCFF) -> ``\\xNN`` (the byte);
  any other lone surrogate -> ``\\uNNNN``;
* ``cell=True`` (one table cell, one line) also escapes tab, CR and LF;
* longer than ``limit`` characters: cut, with a note saying how long it was (the JSON keeps it whole).
"""

from __future__ import annotations

import re

MAX_CHARS = 10_000  # longer strings are cut for display (JSON keeps them whole)

_INVISIBLE = "\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}\ud800-\udfff]")
_UNSAFE_CELL = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}\ud800-\udfff]")


def visible(text: object, *, cell: bool = False, limit: int = MAX_CHARS) -> str:
    """``text`` with every control, invisible-direction and undecodable character escaped.

    ``cell=True`` also escapes newlines and tabs (table cells are one line each)."""
    if text is None:
        return ""
    s = str(text)
    note = ""
    if len(s) > limit:
        note = f" … [truncated: {len(s):,} characters in all; the JSON output has the full text]"
        s = s[:limit]
    pattern = _UNSAFE_CELL if cell else _UNSAFE
    return pattern.sub(_escape_char, s) + note


def cell(text: object, limit: int) -> str:
    """One table cell: escaped, on one line, at most ``limit`` characters, cut with a ``…`` marker.

    Tables pad every row to the widest cell, so one long value would make every line that long;
    the JSON and CSV formats keep the full value."""
    s = "" if text is None else str(text)
    cut = len(s) > limit
    s = _UNSAFE_CELL.sub(_escape_char, s[:limit])
    if cut or len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    return s


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte of a non-UTF-8 name
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def has_undecodable(text: str) -> bool:
    """True when ``text`` holds lone surrogates (a name that was not valid UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def shown_name(path: str) -> str:
    """A path for messages and JSON: valid UTF-8, undecodable bytes as ``\\xNN``, nothing else changed."""
    return _SURROGATE.sub(_escape_char, path) if has_undecodable(path) else path


def raw_hex(path: str) -> str:
    """The name's original bytes as hex (how a non-UTF-8 name is kept exactly in JSON)."""
    import os

    return os.fsencode(path).hex()


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_safe(obj: object) -> object:
    """A copy of a JSON-able structure whose strings all encode as UTF-8.

    A string with undecodable bytes is shown as ``\\xNN``; where the string is a ``path`` of an
    object, the object also gets ``path_raw`` (the hex of the original bytes) so nothing is lost."""
    if isinstance(obj, str):
        return shown_name(obj)
    if isinstance(obj, dict):
        out: dict[object, object] = {}
        for key, value in obj.items():
            out[json_safe(key) if isinstance(key, str) else key] = json_safe(value)
            if key == "path" and isinstance(value, str) and has_undecodable(value):
                out["path_raw"] = raw_hex(value)
        return out
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


__all__ = ["MAX_CHARS", "cell", "has_undecodable", "json_safe", "raw_hex", "shown_name", "visible"]
