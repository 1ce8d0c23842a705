"""``reg query`` output reader: the REG.EXE 3.0 layout and the later Vista+ four-space layout.

REG.EXE 3.0 (Windows 2000 Support Tools / XP) prints ``! REG.EXE VERSION 3.0``, a blank line, then
per key its full path and lines ``<indent><name><TAB><REG_TYPE><TAB><data>``; the default value is
``<NO NAME>``.  Vista and later drop the header and separate the columns with four spaces; the
default value is ``(Default)``.  With ``/s`` many keys follow each other.

Value names can contain spaces ("Logon Only As"), so a value line is split on its *type token*,
never on whitespace.  REG_MULTI_SZ data is joined with the two characters ``\\0``.
"""

from __future__ import annotations

import re

from analyzer.model import (
    InputError,
    ReadWarning,
    RegistryFile,
    RegistryKey,
    RegistryValue,
    WarningSink,
    ignore_warning,
)
from analyzer.readers.format import REGISTRY, Format, encoding_reader
from analyzer.readers.regfile import count_tree
from analyzer.readers.text import open_text
from analyzer.wintypes import canonical_root, split_multi_sz, type_name

HEADER = "! REG.EXE VERSION"
_TYPE = r"REG_[A-Z_]+|REG_0x[0-9a-fA-F]+"
# REG.EXE 3.0: <indent>name<TAB>type<TAB>data.  Vista+: <indent>name<4 spaces>type<4 spaces>data (_split_spaces).
_VALUE_TAB = re.compile(rf"^\s+(.*?)\t+({_TYPE})(?:\t(.*))?$")
_TYPE_AT = re.compile(rf"({_TYPE})(?: {{4}}(.*)| *)$")
_KEY_LINE = re.compile(r"^(?:\\\\[^\\]+\\)?(HKEY_[A-Z_]+|HK(?:LM|CU|U|CR|CC))(\\.*)?$", re.IGNORECASE)
DEFAULT_NAMES = frozenset({"<NO NAME>", "(Default)"})
_MULTI_SEP = "\\0"


def detect(text: str) -> bool:
    """The 3.0 header, or a bare ``HKEY_…`` line followed by a typed value line."""
    lines = text.lstrip("\ufeff").splitlines()
    for line in lines[:5]:
        if line.strip().upper().startswith(HEADER):
            return True
    saw_key = False
    for line in lines[:200]:
        if not line.strip():
            continue
        if _KEY_LINE.match(line.strip()) and not line[0].isspace():
            saw_key = True
            continue
        if saw_key and split_value_line(line):
            return True
        if not saw_key and not line.startswith(("!", "HKEY")):
            return False
    return False


def _split_spaces(line: str) -> tuple[str, str, str | None] | None:
    """Split a four-space value line on the first ``    REG_…`` that is a whole type token."""
    body = line.lstrip()
    if not body or body is line:
        return None
    idx = body.find("    REG_")
    while idx > 0:
        m = _TYPE_AT.match(body, idx + 4)
        if m is not None:
            return body[:idx], m.group(1), m.group(2)
        idx = body.find("    REG_", idx + 1)
    return None


def split_value_line(line: str) -> tuple[str, str, str | None] | None:
    """(name, type, data) of an indented value line in either layout, or None."""
    m = _VALUE_TAB.match(line)
    if m is not None:
        return m.group(1), m.group(2), m.group(3)
    return _split_spaces(line)


def parse_data(vtype: str, data: str) -> tuple[str | int | list[str] | bytes | None, str | None]:
    """Data column -> (decoded data, problem).  Types reg prints as hex bytes become bytes."""
    if vtype in ("REG_SZ", "REG_EXPAND_SZ", "REG_LINK"):
        return data, None
    if vtype == "REG_MULTI_SZ":
        strings, embedded_empty = split_multi_sz(data.replace(_MULTI_SEP, "\0"))
        return strings, ("REG_MULTI_SZ holds an empty string between entries (kept)" if embedded_empty else None)
    if vtype in ("REG_DWORD", "REG_QWORD", "REG_DWORD_BIG_ENDIAN", "REG_DWORD_LITTLE_ENDIAN"):
        text = data.strip()
        try:
            return int(text, 16 if text.lower().startswith("0x") else 10), None
        except ValueError:
            return None, f"bad {vtype} data {text[:20]!r}"
    text = data.strip().replace(" ", "")
    try:
        return bytes.fromhex(text), None
    except ValueError:
        return None, f"bad hex data for {vtype}: {text[:20]!r}"


def read(path: str, *, warn: WarningSink = ignore_warning, encoding: str | None = None) -> RegistryFile:
    """Read ``reg query`` output into a nameless root whose subkeys are ``HKEY_LOCAL_MACHINE`` etc."""
    path = str(path)
    root = RegistryKey("")
    warnings: list[ReadWarning] = []

    def report(line_no: int, message: str) -> None:
        w = ReadWarning(path, f"line {line_no}: {message}")
        warnings.append(w)
        warn(w)

    current: RegistryKey | None = None
    keys = 0
    # A REG_SZ / REG_EXPAND_SZ holding a line break goes on over the next line(s): the last string
    # value set and its line, so such a line is joined to it instead of being lost.
    last: tuple[int, RegistryKey, RegistryValue] | None = None

    def join(line_no: int, line: str) -> bool:
        nonlocal last
        if last is None or last[0] != line_no - 1:
            return False
        _, key, value = last
        joined = RegistryValue(value.name, value.type, f"{value.data}\n{line}", None)
        key.set_value(joined)
        last = (line_no, key, joined)
        report(
            line_no,
            f"value {value.name or '(Default)'!r}: data goes on over this line (a line break in the data); joined",
        )
        return True

    try:
        stream = open_text(path, encoding)
    except (OSError, LookupError) as exc:
        raise InputError(path, f"cannot open: {exc}") from None
    with stream:
        for line_no, raw in enumerate(stream, 1):
            line = raw.rstrip("\r\n")
            stripped = line.strip()
            if not stripped or stripped.upper().startswith(HEADER) or stripped.startswith("End of search"):
                continue
            if not line[0].isspace():
                m = _KEY_LINE.match(line)  # not stripped: blanks after a key name are part of it
                if m is None:
                    if join(line_no, line):
                        continue
                    if stripped.upper().startswith("ERROR:"):
                        report(line_no, f"reg reported: {stripped[:100]}")
                    else:
                        report(line_no, f"unreadable line skipped: {stripped[:80]!r}")
                    current = None
                    continue
                rootname = canonical_root(m.group(1))
                parts = [rootname or m.group(1), *(p for p in (m.group(2) or "").split("\\") if p)]
                current = root.ensure_path(parts)
                keys += 1
                continue
            vm = split_value_line(line)
            if vm is None:
                if join(line_no, line):
                    continue
                report(line_no, f"unreadable value line skipped: {stripped[:80]!r}")
                continue
            if current is None:
                report(line_no, "value line before any key line; skipped")
                continue
            name, vtype, data = vm[0], vm[1].upper(), vm[2] or ""
            if vtype.startswith("REG_0X"):
                vtype = type_name(int(vtype[6:], 16))
            if name in DEFAULT_NAMES:
                if data == "(value not set)":
                    continue  # reg's marker for an unset default value, not data
                name = ""
            decoded, problem = parse_data(vtype, data)
            if problem:
                report(line_no, f"value {name or '(Default)'!r}: {problem}")
                if decoded is None:
                    continue
            value = RegistryValue(name, vtype, decoded, decoded if isinstance(decoded, bytes) else None)
            current.set_value(value)
            last = (line_no, current, value) if vtype in ("REG_SZ", "REG_EXPAND_SZ") else None
    if keys == 0:
        raise InputError(path, "no registry key found in reg query output")
    keys, values = count_tree(root)
    return RegistryFile(path=path, format="regquery", root=root, root_path="", warnings=warnings,
                        keys_read=keys, values_read=values)  # fmt: skip


FORMAT = Format("regquery", REGISTRY, "reg query output", encoding_reader(read), detect=detect)


__all__ = ["detect", "parse_data", "read", "split_value_line"]
