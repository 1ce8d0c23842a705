""".reg reader (REGEDIT4 and "Windows Registry Editor Version 5.00"), written for this project.

Why our own: regparse corrupts value names holding ':' or '=' and decodes every file as UTF-16, and
other parsers read hex(b) big-endian or hex(7) always as UTF-16.  What matters for the diagnosis:

* The header, not the file's encoding, decides how hex(2)/hex(7) bytes are decoded: single-byte
  ANSI in REGEDIT4 files, UTF-16LE in 5.00 files (real 5.00 files are often plain ASCII text).
* ``"Logon Only As"=hex(7):00`` (or ``00,00`` or nothing) is an *empty* list, which blocks every
  logon; it must never be confused with an absent value.
* Damage (bad hex, unknown type, unterminated quote, stray text) is reported with its line number
  and the rest of the file is still read.

The file is streamed line by line; only the resulting tree is kept in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TextIO

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
from analyzer.readers.text import DEFAULT_ANSI, open_text
from analyzer.wintypes import TYPE_NUMBERS, canonical_root, split_multi_sz, type_name

HEADER_V4 = "REGEDIT4"
HEADER_V5 = "Windows Registry Editor Version 5.00"
_HEADER_V5_RE = re.compile(r"^Windows Registry Editor Version (\d+\.\d+)\s*$", re.IGNORECASE)

STRING_TYPES = frozenset({"REG_SZ", "REG_EXPAND_SZ", "REG_LINK"})

_QUOTED_NAME = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=\s*(.*)$', re.DOTALL)
_QUOTED_DATA = re.compile(r'"((?:[^"\\]|\\.)*)"(.*)$', re.DOTALL)
_HEX_TYPE = re.compile(r"hex(?:\(([0-9a-fA-F]{1,8})\))?:", re.IGNORECASE)
_HEX_BYTE = re.compile(r"^[0-9a-fA-F]{1,2}$")
_CLOSED_NAME = re.compile(r'"(?:[^"\\]|\\.)*"')
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def detect(text: str) -> bool:
    """True when the decoded head starts with a regedit header (blank lines before it tolerated)."""
    for line in text.lstrip("\ufeff").splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        return stripped.upper() == HEADER_V4 or _HEADER_V5_RE.match(stripped) is not None
    return False


def unescape(text: str) -> str:
    """Undo regedit's quoting: ``\\\\`` -> ``\\`` and ``\\"`` -> ``"``; other escapes stay as written."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: m.group(1) if m.group(1) in '\\"' else m.group(0), text)


def decode_string_bytes(raw: bytes, wide: bool, ansi: str) -> tuple[str, str | None]:
    """Bytes of a string value -> (text, problem).  Wide = UTF-16LE; otherwise the ANSI code page.

    The header decides the width; bytes that plainly have the other width (a hand-edited header)
    are still decoded per the header, but reported.
    """
    problem = None
    body = raw.rstrip(b"\0")
    if wide:
        if len(raw) % 2:
            if raw[-1] != 0:
                problem = f"odd number of bytes ({len(raw)}) for UTF-16LE string data; last byte dropped"
            raw = raw[:-1]
        if len(body) >= 16 and body[1::2].count(0) == 0 and all(b == 0 or 0x20 <= b < 0x7F for b in body):
            problem = "bytes look like single-byte text although the 5.00 header means UTF-16LE; decoded as UTF-16LE"
        return raw.decode("utf-16-le", errors="replace"), problem
    if len(body) >= 16 and body[1::2].count(0) == len(body[1::2]) and body[0::2].count(0) == 0:
        problem = "bytes look like UTF-16LE although the REGEDIT4 header means ANSI; decoded as ANSI"
    return raw.decode(ansi, errors="replace"), problem


def decode_typed_bytes(
    vtype: str, raw: bytes, wide: bool, ansi: str
) -> tuple[str | int | list[str] | bytes, list[str]]:
    """Decode hex data of a given type; returns (data, problems).  Unknown/binary types stay bytes."""
    problems: list[str] = []
    if vtype in STRING_TYPES:
        text, problem = decode_string_bytes(raw, wide, ansi)
        if problem:
            problems.append(problem)
        end = text.find("\0")
        return (text if end < 0 else text[:end]), problems
    if vtype == "REG_MULTI_SZ":
        if not raw.strip(b"\0"):
            return [], problems
        text, problem = decode_string_bytes(raw, wide, ansi)
        if problem:
            problems.append(problem)
        strings, embedded_empty = split_multi_sz(text)
        if embedded_empty:
            problems.append("REG_MULTI_SZ holds an empty string between entries (kept)")
        return strings, problems
    if vtype in ("REG_DWORD", "REG_DWORD_BIG_ENDIAN", "REG_QWORD"):
        size = 8 if vtype == "REG_QWORD" else 4
        if len(raw) != size:
            problems.append(f"{vtype} needs {size} bytes, found {len(raw)}; kept as bytes")
            return raw, problems
        return int.from_bytes(raw, "big" if vtype == "REG_DWORD_BIG_ENDIAN" else "little"), problems
    return raw, problems


def encode_string(text: str, wide: bool, ansi: str) -> bytes:
    """How regedit stores a string value: UTF-16LE (5.00) or ANSI (REGEDIT4), NUL-terminated."""
    if wide:
        return (text + "\0").encode("utf-16-le", errors="replace")
    return (text + "\0").encode(ansi, errors="replace")


class _Parser:
    """State of one streaming parse: current key, header version, warnings."""

    def __init__(self, path: str, warn: WarningSink, ansi: str) -> None:
        self.path = path
        self.warn_sink = warn
        self.ansi = ansi
        self.wide = True
        self.root = RegistryKey("")
        self.current: RegistryKey | None = None
        self.skipping_section = False
        self.warnings: list[ReadWarning] = []

    def warn(self, line_no: int, message: str) -> None:
        w = ReadWarning(self.path, f"line {line_no}: {message}")
        self.warnings.append(w)
        self.warn_sink(w)

    # -- sections ----------------------------------------------------------------------
    def section(self, line_no: int, line: str) -> None:
        if not line.endswith("]"):
            self.warn(line_no, f"key line without closing ']': {line[:80]!r}; its values are skipped")
            self.current, self.skipping_section = None, True
            return
        inner = line[1:-1]
        delete = inner.startswith("-")
        if delete:
            inner = inner[1:]
        parts = [p for p in inner.strip().split("\\") if p]
        if not parts:
            self.warn(line_no, "empty key name []; its values are skipped")
            self.current, self.skipping_section = None, True
            return
        root = canonical_root(parts[0])
        if root is None:
            self.warn(line_no, f"unknown root key {parts[0]!r}; this section is skipped")
            self.current, self.skipping_section = None, True
            return
        parts[0] = root
        self.skipping_section = False
        if delete:
            self.current = None
            self.skipping_section = True  # values after [-key] belong to nothing
            parent = self.root
            for part in parts[:-1]:
                found = parent.subkey(part)
                if found is None:
                    return
                parent = found
            parent.delete_subkey(parts[-1])
            return
        self.current = self.root.ensure_path(parts)

    # -- values ------------------------------------------------------------------------
    def value_line(self, line_no: int, line: str) -> None:
        if line.startswith("@"):
            rest = line[1:].lstrip()
            if not rest.startswith("="):
                self.warn(line_no, f"unreadable default-value line: {line[:80]!r}")
                return
            name, data = "", rest[1:].lstrip()
        else:
            m = _QUOTED_NAME.match(line)
            if m is None:
                if _CLOSED_NAME.match(line) is None:
                    self.warn(line_no, f"unterminated quote in value name: {line[:80]!r}")
                else:
                    self.warn(line_no, f"value line without '=': {line[:80]!r}")
                return
            name, data = unescape(m.group(1)), m.group(2)
        if self.current is None:
            if not self.skipping_section:
                self.warn(line_no, f"value {name!r} before any [key] line; skipped")
            return
        if data == "-":
            self.current.delete_value(name)
            return
        value = self.parse_data(line_no, name, data)
        if value is not None:
            self.current.set_value(value)

    def parse_data(self, line_no: int, name: str, data: str) -> RegistryValue | None:
        shown = name or "@"
        if data.startswith('"'):
            m = _QUOTED_DATA.match(data)
            if m is None:
                self.warn(line_no, f"value {shown!r}: unterminated string")
                return None
            if m.group(2).strip():
                self.warn(
                    line_no, f"value {shown!r}: text after the closing quote ignored: {m.group(2).strip()[:40]!r}"
                )
            text = unescape(m.group(1))
            return RegistryValue(name, "REG_SZ", text, encode_string(text, self.wide, self.ansi))
        lowered = data[:6].lower()
        if lowered.startswith("dword:"):
            digits = data[6:].strip()
            try:
                number = int(digits, 16) if digits and len(digits) <= 16 else -1
            except ValueError:
                number = -1
            if not 0 <= number <= 0xFFFFFFFF:
                self.warn(line_no, f"value {shown!r}: bad dword {digits[:20]!r}")
                return None
            return RegistryValue(name, "REG_DWORD", number, number.to_bytes(4, "little"))
        m = _HEX_TYPE.match(data)
        if m is None:
            kind = data.split(":", 1)[0][:20] if ":" in data else data[:20]
            self.warn(line_no, f"value {shown!r}: unknown data type {kind!r}")
            return None
        number = int(m.group(1), 16) if m.group(1) else 3
        raw = self.parse_hex(line_no, shown, data[m.end() :])
        if raw is None:
            return None
        vtype = type_name(number)
        decoded, problems = decode_typed_bytes(vtype, raw, self.wide, self.ansi)
        for problem in problems:
            self.warn(line_no, f"value {shown!r}: {problem}")
        return RegistryValue(name, vtype, decoded, raw)

    def parse_hex(self, line_no: int, shown: str, text: str) -> bytes | None:
        text = text.strip()
        if not text:
            return b""
        compact = text.replace(",", "")
        if len(compact) == 2 * (len(text) - len(compact) + 1) and " " not in compact and "\t" not in compact:
            try:  # fast path: regedit's own "xx,xx,…" layout
                return bytes.fromhex(compact)
            except ValueError:
                pass  # the exact culprit is found below
        items = text.split(",")
        if items[-1].strip() == "":
            items.pop()  # a trailing comma is harmless
        out = bytearray()
        for item in items:
            item = item.strip()
            if _HEX_BYTE.match(item) is None:
                self.warn(line_no, f"value {shown!r}: bad hex data (not a hex byte: {item[:12]!r})")
                return None
            out.append(int(item, 16))
        return bytes(out)


def _logical_lines(stream: TextIO) -> Iterator[tuple[int, str]]:
    """(first line number, text) with ``\\``-continuations joined; CR/LF already folded by the stream."""
    pending: list[str] = []
    start = 0
    for line_no, raw in enumerate(stream, 1):
        line = raw.strip()
        if not pending:
            start = line_no
        if line.endswith("\\") and not line.startswith((";", "[")):
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(line)
            line = "".join(pending)
            pending = []
        yield start, line
    if pending:
        yield start, "".join(pending)


def _ansi_for(encoding: str | None) -> str:
    """Code page for REGEDIT4 hex string data: the file's ANSI encoding when one was given."""
    if encoding and not encoding.lower().replace("_", "-").startswith(("utf", "ucs")):
        return encoding
    return DEFAULT_ANSI


def read(path: str, *, warn: WarningSink = ignore_warning, encoding: str | None = None) -> RegistryFile:
    """Read a .reg file into a nameless root whose subkeys are ``HKEY_LOCAL_MACHINE`` etc."""
    path = str(path)
    parser = _Parser(path, warn, _ansi_for(encoding))
    try:
        stream = open_text(path, encoding)
    except (OSError, LookupError) as exc:
        raise InputError(path, f"cannot open: {exc}") from None
    with stream:
        lines = _logical_lines(stream)
        header_seen = False
        sections = 0
        try:
            for line_no, line in lines:
                if not line:
                    continue
                if not header_seen:
                    line = line.lstrip("\ufeff")
                    if line.upper() == HEADER_V4:
                        parser.wide = False
                    elif (m := _HEADER_V5_RE.match(line)) is not None:
                        if m.group(1) != "5.00":
                            parser.warn(line_no, f"unusual header version {m.group(1)}; read as 5.00")
                    else:
                        raise InputError(path, "not a .reg file (no REGEDIT4 / Version 5.00 header)")
                    header_seen = True
                    continue
                first = line[0]
                if first == ";":
                    continue
                if first == "[":
                    sections += 1
                    parser.section(line_no, line)
                elif first in '"@':
                    parser.value_line(line_no, line)
                else:
                    parser.warn(line_no, f"unreadable line skipped: {line[:80]!r}")
        except UnicodeError as exc:  # a wrong --encoding; errors='replace' covers bad bytes
            raise InputError(path, f"cannot decode: {exc}") from None
        if not header_seen:
            raise InputError(path, "empty .reg file (no header)")
        if not sections:
            raise InputError(path, "no [key] lines after the .reg header: nothing to read")
    keys, values = count_tree(parser.root)
    return RegistryFile(
        path=path,
        format="reg",
        root=parser.root,
        root_path="",
        warnings=parser.warnings,
        keys_read=keys,
        values_read=values,
    )


FORMAT = Format("reg", REGISTRY, "regedit export (.reg, REGEDIT4 or 5.00)", encoding_reader(read), detect=detect)


def count_tree(root: RegistryKey) -> tuple[int, int]:
    """(keys below the nameless root, values in them): what the file put into the tree."""
    keys = values = 0
    stack = list(root.subkeys())
    while stack:
        node = stack.pop()
        keys += 1
        values += len(node.values())
        stack.extend(node.subkeys())
    return keys, values


__all__ = [
    "HEADER_V4",
    "HEADER_V5",
    "TYPE_NUMBERS",
    "canonical_root",
    "count_tree",
    "decode_typed_bytes",
    "detect",
    "encode_string",
    "read",
    "split_multi_sz",
    "type_name",
    "unescape",
]
