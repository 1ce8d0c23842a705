"""Regedt32 "Save Subtree As" text reader (also reads regedit's later "Text files" export).

Layout (KB 243342 / 267573 / 183015)::

    Key Name:          SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem
    Class Name:        <NO CLASS>
    Last Write Time:   6/16/00 - 10:13 AM

    Value 0
      Name:            Logon Only As
      Type:            REG_MULTI_SZ
      Data:            /o=Contoso/ou=Berlin/cn=...
                       /o=Contoso/ou=Berlin/cn=...

Key paths are relative to the hive root (``SYSTEM\\…``), so they are placed under
``HKEY_LOCAL_MACHINE``; newer exports name the root themselves.  Long key paths may wrap onto the
next line.  REG_BINARY is a hex dump (``00000000   06 00 … - 2d 00 …  ascii``); REG_DWORD is
``0x4``.  How REG_MULTI_SZ is rendered is undocumented: each string on its own continuation line
and the ``\\0``-joined form are both read, and anything this reader cannot place is *reported*
with its line number instead of being guessed at silently.

"Last Write Time" is local time without a zone: it stays a naive datetime.

Localised Regedt32 wrote its labels in the system's language (German ``Schlüsselname:``, ``Klassenname:``,
``Letzter Schreibzugriff:``, ``Wert 0``, ``Name:``, ``Typ:``, ``Daten:``); the labels of every language in
``analyzer/languages`` are read, value type names (``REG_MULTI_SZ``) are the same in every language, and
the ANSI code page is chosen by content (``readers.text.choose_encoding``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from analyzer import languages
from analyzer.languages.words import INDEX
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
from analyzer.readers.text import ReadNote, choose_encoding, open_text
from analyzer.wintypes import canonical_root, split_multi_sz


def _label_table() -> dict[str, tuple[str, frozenset[str]]]:
    """normalised localised label (without its colon) -> (English label, codes of the languages using it).

    From the languages' index (``analyzer.languages.words``): importing this reader, as sniffing a text
    file does, loads no language file."""
    return {label: (english, frozenset(codes)) for label, (english, codes) in INDEX["regedt32_labels"].items()}


def _words(key: str) -> list[str]:
    """The Regedt32 words of every language for ``key`` (value, no_name, no_class), longest first."""
    return list(INDEX["regedt32_words"][key])


_LABELS = _label_table()
_LABEL = re.compile(
    r"^\s*("
    + "|".join(r"\s+".join(map(re.escape, k.split())) for k in sorted(_LABELS, key=len, reverse=True))
    + r")\s*:(.*)$",
    re.IGNORECASE,
)
_VALUE_N = re.compile(r"^\s*(?:" + "|".join(map(re.escape, _words("value"))) + r")\s*(\d+)\s*$", re.IGNORECASE)
_NO_NAMES = frozenset(languages.normalise(w) for w in _words("no_name"))
_NO_CLASSES = frozenset(languages.normalise(w) for w in _words("no_class"))
_DUMP = re.compile(r"^\s*([0-9a-fA-F]{8})\s{2,}([0-9a-fA-F]{2}(?: (?:- )?[0-9a-fA-F]{2})*)(?: -)?(?:\s{2,}.*)?\s*$")
_INLINE_HEX = re.compile(r"^(?:[0-9a-fA-F]{2}[ ,]?)+$")
_TIME = re.compile(
    r"^\s*(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})\s*-?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?\s*$"
)
HKLM_HIVES = frozenset({"system", "software", "sam", "security", "hardware"})
NO_NAME = "<NO NAME>"
NO_CLASS = "<NO CLASS>"
STRUCTURE_LABELS = frozenset({"key name", "class name", "last write time"})


def detect(text: str) -> bool:
    """A ``Key Name:`` line followed by ``Class Name:`` or ``Last Write Time:`` near the start."""
    lines = text.lstrip("\ufeff").splitlines()[:50]
    for i, line in enumerate(lines):
        m = _LABEL.match(line)
        if m and _label(m) == "key name":
            return any((n := _LABEL.match(nxt)) and _label(n) in STRUCTURE_LABELS for nxt in lines[i + 1 : i + 6])
    return False


def _label(match: re.Match[str]) -> str:
    """The English label of a matched (possibly localised) label."""
    return _LABELS[languages.normalise(match.group(1))][0]


@dataclass(slots=True)
class _PendingValue:
    line_no: int
    name: str | None = None
    type: str | None = None
    first: str | None = None  # text on the Data: line
    data_line: int = 0
    data_col: int | None = None  # column where the Type/Data text starts (padding of the labels)
    more: list[tuple[int, str]] = field(default_factory=list)  # continuation lines


@dataclass(slots=True)
class _Stamp:
    key: RegistryKey
    line_no: int
    a: int
    sep: str
    b: int
    c: int
    hour: int
    minute: int
    second: int


class _Reader:
    def __init__(self, path: str, warn: WarningSink) -> None:
        self.path = path
        self.sink = warn
        self.warnings: list[ReadWarning] = []
        self.root = RegistryKey("")
        self.key: RegistryKey | None = None
        self.key_parts: list[str] | None = None  # key name being collected (may wrap)
        self.key_line = 0
        self.value: _PendingValue | None = None
        self.stamps: list[_Stamp] = []
        self.unknown_roots: set[str] = set()

    def warn(self, line_no: int | None, message: str) -> None:
        where = f"line {line_no}: " if line_no else ""
        w = ReadWarning(self.path, where + message)
        self.warnings.append(w)
        self.sink(w)

    # -- keys ---------------------------------------------------------------------------
    def start_key(self, line_no: int, text: str) -> None:
        self.finish_value()
        self.finish_key_name()
        self.key = None
        self.key_parts = [text.lstrip()]  # blanks after the name are part of it
        self.key_line = line_no

    def finish_key_name(self) -> None:
        """Join a wrapped key name and create the key."""
        if self.key_parts is None:
            return
        pieces, self.key_parts = self.key_parts, None
        joined = pieces[0]
        for piece in pieces[1:]:
            if joined.endswith("\\") or piece.startswith("\\"):
                joined += piece
            else:
                self.warn(
                    self.key_line,
                    f"key name wraps onto the next line; joined with a space: {joined[-30:]!r} + {piece[:30]!r}",
                )
                joined += " " + piece
        parts = [p for p in joined.split("\\") if p]
        if not parts:
            self.warn(self.key_line, "empty Key Name; values up to the next key are skipped")
            return
        root = canonical_root(parts[0])
        if root is not None:
            parts[0] = root
        elif parts[0].casefold() in HKLM_HIVES:
            parts.insert(0, "HKEY_LOCAL_MACHINE")
        elif parts[0].casefold() == ".default" or parts[0].upper().startswith("S-1-"):
            parts.insert(0, "HKEY_USERS")
        else:
            if parts[0].casefold() not in self.unknown_roots:
                self.unknown_roots.add(parts[0].casefold())
                self.warn(
                    self.key_line,
                    f"key path starts with {parts[0]!r}, not a known hive; placed under HKEY_LOCAL_MACHINE",
                )
            parts.insert(0, "HKEY_LOCAL_MACHINE")
        self.key = self.root.ensure_path(parts)

    def class_name(self, text: str) -> None:
        self.finish_key_name()
        if self.key is not None and text.strip() and languages.normalise(text) not in _NO_CLASSES:
            self.key.class_name = text.strip()

    def last_write(self, line_no: int, text: str) -> None:
        self.finish_key_name()
        if self.key is None:
            return
        if not text.strip():
            return  # no time recorded
        m = _TIME.match(text)
        if m is None:
            self.warn(line_no, f"unreadable Last Write Time {text.strip()[:40]!r}; left empty")
            return
        a, sep, b, c, hour, minute = int(m[1]), m[2], int(m[3]), int(m[4]), int(m[5]), int(m[6])
        second = int(m[7] or 0)
        ampm = (m[8] or "").replace(".", "").upper()
        if ampm:
            if not 1 <= hour <= 12:
                self.warn(line_no, f"hour {hour} with {ampm}; Last Write Time left empty")
                return
            hour = hour % 12 + (12 if ampm == "PM" else 0)
        self.stamps.append(_Stamp(self.key, line_no, a, sep, b, c, hour, minute, second))

    def resolve_times(self) -> None:
        """Pick the date order once per file: M/D unless a day > 12 proves D/M (locale-dependent)."""
        slash = [s for s in self.stamps if s.sep == "/" and s.a < 100]
        day_first = any(s.a > 12 for s in slash)
        month_first = any(s.b > 12 for s in slash)
        if day_first and month_first:
            self.warn(None, "Last Write Time dates mix day/month orders; read as month/day where possible")
            day_first = False
        elif slash and not day_first and not month_first:
            self.warn(None, "Last Write Time dates are ambiguous (day and month both <= 12); read as month/day")
        for s in self.stamps:
            if s.a >= 100:  # 2024-09-19
                year, month, day = s.a, s.b, s.c
            elif s.sep == "." or (s.sep == "/" and day_first):
                day, month, year = s.a, s.b, s.c
            else:
                month, day, year = s.a, s.b, s.c
            if year < 100:
                year += 2000 if year < 80 else 1900
            try:
                s.key.last_write = datetime(year, month, day, s.hour, s.minute, s.second)
            except ValueError as exc:
                self.warn(s.line_no, f"impossible Last Write Time ({exc}); left empty")

    # -- values -------------------------------------------------------------------------
    def start_value(self, line_no: int) -> None:
        self.finish_key_name()
        self.finish_value()
        if self.key is None:
            self.warn(line_no, "value block outside any key; skipped")
        self.value = _PendingValue(line_no)

    def label(self, line_no: int, label: str, line: str, rest: str) -> None:
        v = self.value
        if v is None:
            self.warn(line_no, f"{label}: line outside a Value block: {line.strip()[:80]!r}")
            return
        col = len(line) - len(rest) + (len(rest) - len(rest.lstrip()))
        if label in ("name", "type") and (v.name if label == "name" else v.type) is not None:
            self.warn(line_no, f"second {label.title()}: line in one value block; this one is used")
        if label == "name":
            v.name = rest.strip()
        elif label == "type":
            vtype = rest.strip().upper()
            v.type = "REG_0x" + vtype[6:].lower() if vtype.startswith("REG_0X") else vtype
            v.data_col = col
        elif v.first is not None:
            self.warn(line_no, "second Data: line in one value; ignored")
        else:
            v.data_line = line_no
            if (
                v.data_col is not None
                and len(line) > v.data_col
                and not line[len(line) - len(rest) : v.data_col].strip()
            ):
                v.first = line[v.data_col :]
            else:
                v.first = rest.strip()

    def continuation(self, line_no: int, line: str) -> None:
        v = self.value
        if self.key_parts is not None and v is None:
            self.key_parts.append(line.strip())
            return
        if v is None or v.first is None:
            self.warn(line_no, f"line not understood, skipped: {line.strip()[:80]!r}")
            return
        v.more.append((line_no, line))

    def blank(self) -> None:
        if self.value is not None and self.value.first is not None:
            self.finish_value()

    def finish_value(self) -> None:
        v, self.value = self.value, None
        if v is None or self.key is None:
            return
        if v.name is None or v.type is None or v.first is None:
            missing = ", ".join(n for n, x in (("Name", v.name), ("Type", v.type), ("Data", v.first)) if x is None)
            self.warn(v.line_no, f"value block without {missing}; skipped")
            return
        name = "" if languages.normalise(v.name) in _NO_NAMES else v.name
        decoded = self.decode(v)
        if decoded is None:
            return
        data, raw = decoded
        self.key.set_value(RegistryValue(name, v.type, data, raw))

    def _strip_indent(self, v: _PendingValue, line: str) -> str:
        col = v.data_col or 0
        if col and len(line) >= col and not line[:col].strip():
            return line[col:]
        return line.strip()

    def decode(self, v: _PendingValue) -> tuple[str | int | list[str] | bytes, bytes | None] | None:
        shown = v.name or NO_NAME
        first = v.first or ""
        if v.type in ("REG_SZ", "REG_EXPAND_SZ", "REG_LINK"):
            if v.more:
                self.warn(
                    v.line_no, f"value {shown!r}: {v.type} data spans {len(v.more) + 1} lines; joined with newlines"
                )
            return "\n".join([first, *(self._strip_indent(v, line) for _, line in v.more)]), None
        if v.type == "REG_MULTI_SZ":
            if not v.more:
                if "\\0" in first:
                    strings, empty = split_multi_sz(first.replace("\\0", "\0"))
                else:
                    strings, empty = ([first] if first else []), False
                    if first.lower().count("/o=") > 1:
                        self.warn(
                            v.line_no,
                            f"value {shown!r}: REG_MULTI_SZ shown on one line may hold several DNs; kept as one string",
                        )
            else:
                strings = ([first] if first.strip() else []) + [self._strip_indent(v, line) for _, line in v.more]
                empty = "" in strings
            if empty:
                self.warn(v.line_no, f"value {shown!r}: REG_MULTI_SZ holds an empty string between entries (kept)")
            return strings, None
        if v.type in ("REG_DWORD", "REG_QWORD", "REG_DWORD_BIG_ENDIAN", "REG_DWORD_LITTLE_ENDIAN"):
            token = first.strip().split(" ")[0] if first.strip() else ""
            try:
                number = int(token, 16)
            except ValueError:
                self.warn(v.line_no, f"value {shown!r}: unreadable {v.type} data {first.strip()[:30]!r}; skipped")
                return None
            if not token.lower().startswith("0x"):
                self.warn(v.line_no, f"value {shown!r}: {v.type} {token!r} without 0x read as hex")
            if v.more:
                self.warn(v.line_no, f"value {shown!r}: extra lines after {v.type} data ignored")
            return number, None
        raw = self.hex_bytes(v, shown)
        if raw is None:
            return None
        if v.type not in _BYTE_TYPES and not v.type.startswith("REG_0x"):
            self.warn(v.line_no, f"value {shown!r}: unknown type {v.type!r}; data kept as bytes")
        return raw, raw

    def hex_bytes(self, v: _PendingValue, shown: str) -> bytes | None:
        out = bytearray()
        lines = ([(v.data_line, v.first)] if (v.first or "").strip() else []) + v.more
        for line_no, line in lines:
            text = line or ""
            m = _DUMP.match(text)
            if m is not None:
                offset = int(m[1], 16)
                if offset != len(out):
                    self.warn(line_no, f"value {shown!r}: hex dump offset 0x{offset:x}, expected 0x{len(out):x}")
                out += bytes.fromhex(m[2].replace("-", "").replace(" ", ""))
                continue
            compact = text.strip()
            if _INLINE_HEX.match(compact):
                out += bytes.fromhex(compact.replace(",", "").replace(" ", ""))
                continue
            self.warn(line_no, f"value {shown!r}: {v.type} data line not understood: {compact[:60]!r}; value skipped")
            return None
        return bytes(out)


_BYTE_TYPES = frozenset(
    {
        "REG_BINARY",
        "REG_NONE",
        "REG_RESOURCE_LIST",
        "REG_FULL_RESOURCE_DESCRIPTOR",
        "REG_RESOURCE_REQUIREMENTS_LIST",
    }
)


def read(path: str, *, warn: WarningSink = ignore_warning, encoding: str | None = None) -> RegistryFile:
    """Read a Save Subtree As report into a nameless root whose subkeys are ``HKEY_LOCAL_MACHINE`` etc."""
    path = str(path)
    reader = _Reader(path, warn)
    saw_key = False
    seen: set[frozenset[str]] = set()  # the languages of the labels read
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
        chosen = choose_encoding(head, encoding, languages.signature_words())
        stream = open_text(path, chosen.codec)
    except (OSError, LookupError) as exc:
        raise InputError(path, f"cannot open: {exc}") from None
    with stream:
        for line_no, raw in enumerate(stream, 1):
            line = raw.rstrip("\r\n").lstrip("\ufeff")
            if not line.strip():
                reader.blank()
                continue
            if _VALUE_N.match(line):
                reader.start_value(line_no)
                continue
            m = _LABEL.match(line)
            if m is None:
                reader.continuation(line_no, line)
                continue
            label, rest = _label(m), m.group(2)
            seen.add(_LABELS[languages.normalise(m.group(1))][1])
            if label == "key name":
                saw_key = True
                reader.start_key(line_no, rest)
            elif label == "class name":
                reader.finish_value()
                reader.class_name(rest)
            elif label == "last write time":
                reader.finish_value()
                reader.last_write(line_no, rest)
            else:
                reader.label(line_no, label, line, rest)
    reader.finish_value()
    reader.finish_key_name()
    if not saw_key:
        raise InputError(path, "not a Regedt32 text report (no 'Key Name:' line)")
    reader.resolve_times()
    spoken = frozenset.intersection(*seen) if seen else frozenset()
    if (spoken and "en" not in spoken) or not chosen.plain:
        name = languages.get(sorted(spoken)[0]).name + " " if spoken and "en" not in spoken else ""
        warn(ReadNote(path, f"read as {name}Regedt32 report, {chosen.describe()}"))
    keys, values = count_tree(reader.root)
    return RegistryFile(path=path, format="regedt32", root=reader.root, root_path="", warnings=reader.warnings,
                        keys_read=keys, values_read=values)  # fmt: skip


FORMAT = Format("regedt32", REGISTRY, "Regedt32 Save Subtree As text report", encoding_reader(read), detect=detect)


__all__ = ["detect", "read"]
