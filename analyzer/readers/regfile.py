""".reg reader (REGEDIT4, "Windows Registry Editor Version 5.00" and the Windows 3.1 ``REGEDIT``
format), written for this project.

Why our own: regparse corrupts value names holding ':' or '=' and decodes every file as UTF-16, and
other parsers read hex(b) big-endian or hex(7) always as UTF-16.  The result must be what regedit
would put into the registry from the file, line by line -- no more, no less -- because a .reg is
often the only registry evidence and our own patches are .reg files.  What matters:

* The header, not the file's encoding, decides how hex(2)/hex(7) bytes are decoded: single-byte
  ANSI in REGEDIT4 files, UTF-16LE in 5.00 files (real 5.00 files are often plain ASCII text).
  regedit takes exactly ``REGEDIT4`` or ``Windows Registry Editor Version 5.00`` (case and version
  matter) and imports nothing from a file with any other header.
* ``"Logon Only As"=hex(7):00`` (or ``00,00`` or nothing) is an *empty* list, which blocks every
  logon; it must never be confused with an absent value.
* Continuation: ``\\`` at the end of a line joins the next line only inside hex data and only right
  after a comma.  Blank lines and ``;`` comment lines between the parts are skipped; any other line
  (a ``#`` line, a value, a ``[key]``) is taken as hex data and rejects the value.  ``\\`` anywhere
  else (after a string, a dword, a value name, ``65\\`` without the comma) joins nothing.
* Comments: a line starting with ``;`` or ``#`` is a comment; after a value's data (string, dword,
  hex, ``=-``) only ``;`` starts one.
* Strictness: text after a string's closing quote, escapes other than ``\\`` and ``\"``, ``dword:``
  with ``0x`` or more than 8 digits, a blank right after ``[`` or ``[-`` make regedit skip that value
  or key (and the values below a rejected key).  Key names keep trailing blanks; ``/`` is an
  ordinary character in them.
* Every line regedit skips or rejects is skipped here too and reported with its line number and why.

The file is streamed line by line, a long line in 1 Mi-character chunks; only the resulting tree
(and at most ``max_value_bytes`` of one value) is kept in memory.
"""

from __future__ import annotations

import re
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
HEADER_V31 = "REGEDIT"  # Windows 3.1: HKEY_CLASSES_ROOT\\key = value
_HEADER_LIKE = re.compile(r"^\s*(?:regedit\b|regedit\s*\d|windows registry editor\b)", re.IGNORECASE)

LINE_CHUNK = 1 << 20  # characters of one physical line held at a time
MAX_VALUE_BYTES = 16 << 20  # default cap of one value's data (regedit has none; memory has)
MAX_VALUE_NAME = 16383  # characters (registry element size limits)
MAX_KEY_NAME = 255
MAX_KEY_DEPTH = 512

STRING_TYPES = frozenset({"REG_SZ", "REG_EXPAND_SZ", "REG_LINK"})

_QUOTED = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"')
_HEX_TYPE = re.compile(r"hex(?:\(([0-9a-fA-F]{1,8})\))?:", re.IGNORECASE)
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2},)*(?:[0-9a-fA-F]{2})?")
_HEX_BYTE = re.compile(r"^[0-9a-fA-F]{1,2}$")
_TERMINATOR = re.compile(r"[;\\]")
# A whole hex line in regedit's layout: items ending in a comma then a continuation, or a last item.
_HEX_FAST = re.compile(r"((?:[0-9a-fA-F]{2},)*(?:[0-9a-fA-F]{2},?)?)[ \t]*(\\[ \t]*)?")
_DWORD = re.compile(r"[ \t]*([0-9a-fA-F]{1,8})(?![0-9a-fA-F])")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_V31_LINE = re.compile(r"HKEY_CLASSES_ROOT((?:\\[^ \t]*)?)((?:[ \t=].*)?)$")


def detect(text: str) -> bool:
    """True when the decoded head starts with a regedit header (blank lines before it tolerated).

    Headers regedit refuses (``regedit4``, ``REGEDIT 4``, Version 4.00 ...) are detected too, so
    that reading names the header instead of calling the file unknown."""
    for line in text.lstrip("\ufeff").splitlines():
        if not line.strip():
            continue
        return _HEADER_LIKE.match(line) is not None
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


class _Lines:
    """Physical lines of the decoded stream, at most ``chunk`` characters held at a time.

    A line longer than ``chunk`` comes in pieces (``more()``), so one 272 MB line of hex data costs
    a chunk of memory, not the whole line.  ``line_no`` counts physical lines from 1.
    """

    def __init__(self, stream: TextIO, chunk: int = LINE_CHUNK) -> None:
        self.stream = stream
        self.chunk = chunk
        self.line_no = 0
        self.open = False  # more of the current line is still unread

    def next(self) -> str | None:
        """The next line (its first chunk when it is long), without its line end; None at the end."""
        if self.open:
            self.skip_rest()
        piece = self.stream.readline(self.chunk)
        if not piece:
            return None
        self.line_no += 1
        return self._cut(piece)

    def more(self) -> str | None:
        """The next chunk of the current line, or None when it has no more."""
        if not self.open:
            return None
        piece = self.stream.readline(self.chunk)
        if not piece:
            self.open = False
            return None
        return self._cut(piece)

    def skip_rest(self) -> None:
        while self.more() is not None:
            pass

    def _cut(self, piece: str) -> str:
        if piece.endswith("\n"):
            self.open = False
            return piece[:-1]
        self.open = len(piece) >= self.chunk  # shorter without a line end: the file ends here
        return piece


class _Reject(Exception):
    """regedit rejects the value being read (the message says why)."""

    verdict = "regedit does not import it"


class _OverLimit(_Reject):
    """A limit of this reader (memory), not of regedit: the value is skipped although regedit takes it."""

    verdict = "skipped by this reader (regedit would import it)"


class _HexData:
    """Bytes of one ``hex:`` value as regedit joins them, line by line and chunk by chunk.

    Rules (see the module docstring): items are 1-2 hex digits separated by commas; ``;`` starts a
    comment; ``\\`` continues the value on the next line only right after a comma (or right after
    ``hex:``), followed by nothing but blanks or a comment.
    """

    def __init__(self, cap: int) -> None:
        self.out = bytearray()
        self.size = 0
        self.cap = cap
        self.after_comma = True  # at data start a continuation is allowed (``hex(2):\``)
        self.pending: list[str] = []  # whole lines in regedit's layout, not decoded yet
        self.pending_chars = 0

    def flush(self) -> None:
        if self.pending:
            self._run("".join(self.pending))
            self.pending, self.pending_chars = [], 0

    def _run(self, items: str) -> None:
        """Items already known to be well-formed (``xx,xx,…``): decoded, or only counted past the cap."""
        if self.size > self.cap:
            self.size += items.count(",") + (0 if items.endswith(",") else 1)
        else:
            self._append(bytes.fromhex(items.replace(",", "")))

    def add(self, body: str) -> None:
        """Parse complete items of ``body`` (no ``;`` or ``\\`` inside)."""
        if not body:
            return
        if _HEX_RUN.fullmatch(body):
            self._run(body)
            self.after_comma = body.endswith(",")
            return
        parts = body.split(",")
        for part in parts[:-1]:
            self._append(bytes((_byte(part),)))
        last = parts[-1].strip(" \t")
        if last:
            self._append(bytes((_byte(last),)))
            self.after_comma = False
        elif len(parts) > 1:
            self.after_comma = True

    def _append(self, data: bytes) -> None:
        self.size += len(data)
        if self.size <= self.cap:
            self.out += data
        elif self.out:
            self.out = bytearray()  # over the cap: stop holding the bytes, keep counting

    def line(self, text: str, lines: _Lines, first: bool) -> bool:
        """Consume one physical line of data (``text`` = its first chunk).  True when the value
        continues on a following line; raises ``_Reject`` when regedit would reject the value."""
        self.after_comma = first
        carry = ""
        while True:
            buf = carry + text
            cut = _first_of(buf)
            if cut < 0 and lines.open:
                comma = buf.rfind(",")
                self.add(buf[: comma + 1])
                carry = buf[comma + 1 :]
                if len(carry) > 256:
                    raise _Reject(f"not a hex byte: {carry.strip()[:12]!r}")
                text = lines.more() or ""
                continue
            body = buf if cut < 0 else buf[:cut]
            self.add(body)
            if cut < 0 or buf[cut] == ";":
                return False  # end of the value (a ';' comment ends the line)
            if not self.after_comma:
                raise _Reject("'\\' without a comma before it does not continue hex data; regedit rejects the value")
            self._only_comment_after(buf[cut + 1 :], lines)
            return True

    @staticmethod
    def _only_comment_after(rest: str, lines: _Lines) -> None:
        while True:
            stripped = rest.lstrip(" \t")
            if stripped:
                if stripped[0] != ";":
                    raise _Reject(f"text after the continuation '\\': {stripped[:20]!r}")
                return
            more = lines.more()
            if more is None:
                return
            rest = more


def _first_of(text: str) -> int:
    """Index of the first ';' (comment) or '\\' (continuation), -1 when there is none."""
    m = _TERMINATOR.search(text)
    return -1 if m is None else m.start()


def _byte(item: str) -> int:
    item = item.strip(" \t")
    if _HEX_BYTE.match(item) is None:
        raise _Reject(f"not a hex byte: {item[:12]!r}" if item else "empty item between commas")
    return int(item, 16)


def _quoted(text: str, start: int, what: str) -> tuple[str, int]:
    """``text[start]`` is ``"``: the unescaped string and the index after its closing quote.

    Only ``\\\\`` and ``\\"`` are escapes regedit knows; anything else after a backslash rejects
    the line, as regedit does with ``"\\0"``.
    """
    m = _QUOTED.match(text, start)
    if m is None:
        raise _Reject(f"{what} has no closing quote")
    body = m.group(1)
    if "\\" in body:
        for escape in _ESCAPE.finditer(body):
            if escape.group(1) not in '\\"':
                raise _Reject(f'{what} holds the escape {escape.group(0)!r}; regedit knows only \\\\ and \\"')
        body = _ESCAPE.sub(r"\1", body)
    return body, m.end()


def _rest_is_comment(rest: str) -> bool:
    """After a value's data only blanks and a ``;`` comment may follow."""
    rest = rest.lstrip(" \t")
    return not rest or rest[0] == ";"


class _Parser:
    """State of one streaming parse: current key, header version, warnings."""

    def __init__(
        self, path: str, warn: WarningSink, ansi: str, max_value_bytes: int, root: RegistryKey | None = None
    ) -> None:
        self.path = path
        self.warn_sink = warn
        self.ansi = ansi
        self.max_value_bytes = max_value_bytes
        self.wide = True
        self.root = RegistryKey("") if root is None else root
        self.current: RegistryKey | None = None
        self.section_line = 0  # line of the key line the values below belong to
        self.section_state = "none"  # "key" | "none" (before any) | "rejected" | "deleted"
        self.sections = 0
        self.warnings: list[ReadWarning] = []
        self.names: dict[str, str] = {}  # one string object per distinct value name (exports repeat them)

    def warn(self, line_no: int, message: str) -> None:
        w = ReadWarning(self.path, f"line {line_no}: {message}")
        self.warnings.append(w)
        self.warn_sink(w)

    # -- the file ----------------------------------------------------------------------
    def run(self, lines: _Lines) -> None:
        header = None
        while header is None:
            text = lines.next()
            if text is None:
                raise InputError(self.path, "empty .reg file (no header)")
            while lines.open and len(text) < 256:  # a header is short: gather it whatever the chunk size
                text += lines.more() or ""
            header = text.lstrip("\ufeff").strip(" \t") or None
        if lines.open:
            raise InputError(self.path, "not a .reg file (first line is not a regedit header)")
        if header == HEADER_V31:
            self.run_v31(lines)
            return
        if header == HEADER_V4:
            self.wide = False
        elif header != HEADER_V5:
            if detect(header):
                raise InputError(
                    self.path,
                    f"header {header[:60]!r} is not one regedit accepts (exactly {HEADER_V4!r} or {HEADER_V5!r}): "
                    "regedit imports nothing from this file",
                )
            raise InputError(self.path, "not a .reg file (no REGEDIT4 / Version 5.00 header)")
        while (text := lines.next()) is not None:
            text = text.lstrip(" \t")
            if not text:
                continue
            first = text[0]
            if first in ";#":
                continue
            if first == "[":
                self.sections += 1
                self.key_line(lines.line_no, text, lines.open)
            elif first in '"@':
                self.value_line(lines, text)
            else:
                self.warn(lines.line_no, f"line not understood, regedit ignores it: {text[:60]!r}")

    # -- keys --------------------------------------------------------------------------
    def key_line(self, line_no: int, text: str, truncated: bool) -> None:
        self.current, self.section_line, self.section_state = None, line_no, "rejected"
        problem, parts, delete = _key_path(text.rstrip(" \t"), truncated)
        if problem is not None:
            verdict = "skipped by this reader" if truncated else "regedit ignores this key line"
            self.warn(line_no, f"{problem}: {verdict} and the values below it")
            return
        if delete:
            self.section_state = "deleted"
            parent: RegistryKey | None = self.root
            for part in parts[:-1]:
                parent = parent.subkey(part) if parent is not None else None
            if parent is not None:
                parent.delete_subkey(parts[-1])
            return
        self.section_state = "key"
        self.current = self.root.ensure_path(parts)

    # -- values ------------------------------------------------------------------------
    def value_line(self, lines: _Lines, text: str) -> None:
        line_no = lines.line_no
        shown = "@"
        try:
            if text[0] == "@":
                name, pos = "", 1
            else:
                name, pos = _quoted(text, 0, "the value name")
                shown = name
            name = self.names.setdefault(name, name) if len(self.names) < 65536 else name
            if len(name) > MAX_VALUE_NAME:
                raise _Reject(f"value name longer than {MAX_VALUE_NAME} characters")
            rest = text[pos:].lstrip(" \t")
            if not rest.startswith("="):
                raise _Reject("no '=' after the value name")
            data = rest[1:].lstrip(" \t")
            value = self.parse_data(lines, name, data)
        except _Reject as reason:
            where = "" if lines.line_no == line_no else f" (value starts on line {line_no})"
            self.warn(lines.line_no, f"value {shown!r}{where}: {reason}; {reason.verdict}")
            return
        if self.current is None:
            why = {
                "none": "comes before any [key] line",
                "deleted": f"follows the key deletion on line {self.section_line}",
                "rejected": f"belongs to the rejected key line {self.section_line}",
            }[self.section_state]
            self.warn(line_no, f"value {shown!r} {why}; regedit ignores it")
            return
        if value is None:
            self.current.delete_value(name)
        else:
            self.current.set_value(value)

    def parse_data(self, lines: _Lines, name: str, data: str) -> RegistryValue | None:
        """The value a data part sets (None for ``=-``, a deletion); raises ``_Reject``."""
        if data.startswith("-"):
            if _rest_is_comment(data[1:]):
                return None
            raise _Reject(f"text after '=-': {data[1:].strip()[:20]!r}")
        if data.startswith('"'):
            if lines.open:
                raise _OverLimit(f"string longer than {LINE_CHUNK} characters")
            text, end = _quoted(data, 0, "the string")
            if not _rest_is_comment(data[end:]):
                raise _Reject(f"text after the closing quote: {data[end:].strip()[:20]!r}")
            return RegistryValue(name, "REG_SZ", text, encode_string(text, self.wide, self.ansi))
        if data[:6].lower() == "dword:":
            m = _DWORD.match(data, 6)
            if m is None or not _rest_is_comment(data[m.end() :]):
                raise _Reject(f"dword data must be 1 to 8 hex digits: {data[6:].strip()[:20]!r}")
            number = int(m.group(1), 16)
            return RegistryValue(name, "REG_DWORD", number, number.to_bytes(4, "little"))
        m = _HEX_TYPE.match(data)
        if m is None:
            kind = data.split(":", 1)[0][:20] if ":" in data else data[:20]
            raise _Reject(f"unknown data type {kind!r}" if kind else "no data after '='")
        number = int(m.group(1), 16) if m.group(1) else 3
        raw = self.hex_bytes(lines, data[m.end() :])
        vtype = type_name(number)
        raw = _terminated(vtype, raw, self.wide)
        decoded, problems = decode_typed_bytes(vtype, raw, self.wide, self.ansi)
        for problem in problems:
            self.warn(lines.line_no, f"value {name or '@'!r}: {problem}")
        return RegistryValue(name, vtype, decoded, raw)

    def hex_bytes(self, lines: _Lines, text: str) -> bytes:
        """Join the hex data of a value over its continuation lines (blank and ``;`` lines between
        them are skipped, as regedit does)."""
        data = _HexData(self.max_value_bytes)
        first = True
        while True:
            fast = None if lines.open else _HEX_FAST.fullmatch(text)
            items = fast.group(1) if fast is not None else ""
            if items and (not fast.group(2) or items[-1] == ","):  # type: ignore[union-attr]
                # regedit's own layout, "xx,xx,...,xx,\" or "...,xx": collected, decoded in bulk
                data.pending.append(items)
                data.pending_chars += len(items)
                if data.pending_chars > LINE_CHUNK:
                    data.flush()
                if not fast.group(2):  # type: ignore[union-attr]
                    break
            else:
                data.flush()
                if not self._hex_line(data, text, lines, first):
                    break
            first = False
            while True:
                nxt = lines.next()
                if nxt is None:
                    text = ""  # the file ends inside the value: regedit keeps what it has
                    break
                text = nxt.lstrip(" \t")
                if text and text[0] != ";":
                    break
            if nxt is None:
                break
        data.flush()
        if data.size > self.max_value_bytes:
            raise _OverLimit(
                f"{data.size:,} bytes of data, over this reader's limit of {self.max_value_bytes:,} bytes per value"
            )
        return bytes(data.out)

    @staticmethod
    def _hex_line(data: _HexData, text: str, lines: _Lines, first: bool) -> bool:
        try:
            return data.line(text, lines, first)
        except _Reject as reason:
            raise _Reject(f"bad hex data ({reason})") from None

    # -- the Windows 3.1 REGEDIT format --------------------------------------------------
    def run_v31(self, lines: _Lines) -> None:
        """``HKEY_CLASSES_ROOT\\key = value`` lines set the key's default value (REG_SZ)."""
        self.wide = False
        while (text := lines.next()) is not None:
            if not text.strip(" \t"):
                continue
            line_no = lines.line_no
            if text[0] in ";#":
                continue
            m = _V31_LINE.match(text)
            if m is None or lines.open:
                why = "does not start with HKEY_CLASSES_ROOT (upper case, in the first column)"
                self.warn(line_no, f"REGEDIT line {why}; regedit ignores it: {text[:60]!r}")
                continue
            self.sections += 1
            parts = [p for p in m.group(1).split("\\") if p]
            value = m.group(2).lstrip(" \t")
            if value.startswith("="):
                value = value[2:] if value[1:2] == " " else value[1:]
            key = self.root.ensure_path(["HKEY_CLASSES_ROOT", *parts])
            key.set_value(RegistryValue("", "REG_SZ", value, encode_string(value, False, self.ansi)))


def _key_path(text: str, truncated: bool) -> tuple[str | None, list[str], bool]:
    """(problem, parts, delete) of a ``[key]`` / ``[-key]`` line; problem None when regedit takes it."""
    if truncated:
        return f"key line longer than {LINE_CHUNK} characters", [], False
    end = text.rfind("]")
    if end < 0:
        return f"no closing ']' in {text[:60]!r}", [], False
    if end != len(text) - 1:
        return f"text after ']': {text[end + 1 :].strip()[:30]!r}", [], False
    inner = text[1:end]
    delete = inner.startswith("-")
    if delete:
        inner = inner[1:]
    if inner[:1] in (" ", "\t"):
        return f"blank after '{'[-' if delete else '['}'", [], delete
    parts = [p for p in inner.split("\\") if p]  # a trailing '\\' names the same key
    if not parts:
        return "empty key name", [], delete
    root = canonical_root(parts[0])
    if root is None:
        return f"unknown root key {parts[0][:40]!r}", [], delete
    long = next((p for p in parts if len(p) > MAX_KEY_NAME), None)
    if long is not None:
        return f"key name longer than {MAX_KEY_NAME} characters ({long[:20]!r}…)", [], delete
    if len(parts) > MAX_KEY_DEPTH:
        return f"key path deeper than {MAX_KEY_DEPTH} levels", [], delete
    parts[0] = root
    return None, parts, delete


def _terminated(vtype: str, raw: bytes, wide: bool) -> bytes:
    """regedit ends hex(2) / hex(7) data with a NUL when the file does not."""
    if vtype not in ("REG_EXPAND_SZ", "REG_MULTI_SZ") or not raw:
        return raw
    if wide:
        return raw if len(raw) % 2 or raw[-2:] == b"\0\0" else raw + b"\0\0"
    return raw if raw[-1] == 0 else raw + b"\0"


def _ansi_for(encoding: str | None) -> str:
    """Code page for REGEDIT4 hex string data: the file's ANSI encoding when one was given."""
    if encoding and not encoding.lower().replace("_", "-").startswith(("utf", "ucs")):
        return encoding
    return DEFAULT_ANSI


def read(
    path: str,
    *,
    warn: WarningSink = ignore_warning,
    encoding: str | None = None,
    max_value_bytes: int = MAX_VALUE_BYTES,
) -> RegistryFile:
    """Read a .reg file into a nameless root whose subkeys are ``HKEY_LOCAL_MACHINE`` etc.

    The tree is what regedit would put into the registry from this file; every line regedit skips
    or rejects is reported through ``warn`` with its line number and the reason."""
    return import_into(RegistryKey(""), path, warn=warn, encoding=encoding, max_value_bytes=max_value_bytes)


def import_into(
    root: RegistryKey,
    path: str,
    *,
    warn: WarningSink = ignore_warning,
    encoding: str | None = None,
    max_value_bytes: int = MAX_VALUE_BYTES,
) -> RegistryFile:
    """Import a .reg file into an existing tree (a nameless root), as regedit imports into the registry.

    ``"name"=-`` and ``[-key]`` delete what ``root`` holds, so a patch and its rollback can be
    applied to the state found and the result checked.  ``root`` is changed in place."""
    path = str(path)
    parser = _Parser(path, warn, _ansi_for(encoding), max_value_bytes, root)
    try:
        stream = open_text(path, encoding)
    except (OSError, LookupError) as exc:
        raise InputError(path, f"cannot open: {exc}") from None
    with stream:
        try:
            parser.run(_Lines(stream, LINE_CHUNK))
        except UnicodeError as exc:  # a wrong --encoding; errors='replace' covers bad bytes
            raise InputError(path, f"cannot decode: {exc}") from None
    if not parser.sections:
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
    "import_into",
    "read",
    "split_multi_sz",
    "type_name",
    "unescape",
]
