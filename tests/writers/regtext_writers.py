"""Test writers for the text registry exports: .reg (REGEDIT4 / 5.00), Regedt32 text, ``reg query``.

They take a ``RegistryKey`` tree whose nameless root holds ``HKEY_LOCAL_MACHINE`` etc. (what the
text readers return) and reproduce each tool's layout, so the readers can be tested on files shaped
like the customer's and round-trip tests can compare tree -> file -> tree.

regedit's hex wrapping, as observed in real exports (see tests/test_regfile.py, which checks it
against the corpus): the running line length starts at the length of ``"name"=hex(n):``; after
each byte but the last, ``xx,`` is written and 3 added; when the count reaches 77 the line ends
with ``\\`` and the next one starts with two spaces (count 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer import languages
from analyzer.model import RegistryKey, RegistryValue
from analyzer.readers.regfile import TYPE_NUMBERS

WRAP_AT = 77
SHORT_ROOT = {"HKEY_LOCAL_MACHINE": "HKLM", "HKEY_CURRENT_USER": "HKCU", "HKEY_USERS": "HKU"}


def iter_tree(root: RegistryKey) -> Iterator[tuple[list[str], RegistryKey]]:
    """Every key below the nameless root, parents first, in insertion order, with its path parts."""
    stack: list[tuple[list[str], RegistryKey]] = [([k.name], k) for k in reversed(root.subkeys())]
    while stack:
        parts, node = stack.pop()
        yield parts, node
        stack.extend(([*parts, k.name], k) for k in reversed(node.subkeys()))


def tree_dict(root: RegistryKey, *, with_times: bool = False) -> dict[str, Any]:
    """Comparable form of a tree: {casefolded path: {"values": {name: (type, data)}, ...}}."""
    out: dict[str, Any] = {}
    for parts, node in iter_tree(root):
        entry: dict[str, Any] = {
            "name": parts[-1],
            "values": {v.name.casefold(): (v.name, v.type, _comparable(v.data)) for v in node.values()},
        }
        if with_times:
            entry["last_write"] = node.last_write
        out["\\".join(parts).casefold()] = entry
    return out


def _comparable(data: Any) -> Any:
    return bytes(data) if isinstance(data, bytearray) else data


# --------------------------------------------------------------------------- .reg


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _value_bytes(value: RegistryValue, wide: bool, ansi: str) -> tuple[int, bytes]:
    """(type number, bytes) of a value that .reg writes as hex."""
    vtype, data = value.type, value.data
    number = TYPE_NUMBERS.get(vtype)
    if number is None:
        number = int(vtype[6:], 16) if vtype.startswith("REG_0x") else 3
    codec = "utf-16-le" if wide else ansi
    if vtype in ("REG_SZ", "REG_EXPAND_SZ") and isinstance(data, str):
        return number, (data + "\0").encode(codec)
    if vtype == "REG_LINK" and isinstance(data, str):
        return number, data.encode("utf-16-le")
    if vtype == "REG_MULTI_SZ" and isinstance(data, list):
        return number, ("".join(s + "\0" for s in data) + "\0").encode(codec)
    if vtype in ("REG_DWORD", "REG_DWORD_BIG_ENDIAN", "REG_QWORD") and isinstance(data, int):
        size = 8 if vtype == "REG_QWORD" else 4
        return number, data.to_bytes(size, "big" if vtype == "REG_DWORD_BIG_ENDIAN" else "little")
    if isinstance(data, bytes | bytearray):
        return number, bytes(data)
    if data is None:
        return number, b""
    raise ValueError(f"cannot write {vtype} data {data!r}")


def hex_value_text(prefix: str, type_number: int, data: bytes) -> str:
    """``prefix`` (``"name"=``) + ``hex(n):`` + bytes wrapped the way regedit does (CRLF-free)."""
    tag = "hex:" if type_number == 3 else f"hex({type_number:x}):"
    out = [prefix, tag]
    line_len = len(prefix) + len(tag)
    last = len(data) - 1
    for i, byte in enumerate(data):
        out.append(f"{byte:02x}")
        if i == last:
            break
        out.append(",")
        line_len += 3
        if line_len >= WRAP_AT:
            out.append("\\\n  ")
            line_len = 2
    return "".join(out)


def reg_value_text(value: RegistryValue, version: int = 5, ansi: str = "cp1252") -> str:
    """One value as regedit writes it (``\\n`` line ends inside wrapped hex)."""
    wide = version == 5
    prefix = "@=" if value.name == "" else f'"{_escape(value.name)}"='
    if value.type == "REG_SZ" and isinstance(value.data, str) and _plain_string(value.data, wide, ansi):
        return f'{prefix}"{_escape(value.data)}"'
    if value.type == "REG_DWORD" and isinstance(value.data, int):
        return f"{prefix}dword:{value.data:08x}"
    number, raw = _value_bytes(value, wide, ansi)
    return hex_value_text(prefix, number, raw)


def _plain_string(text: str, wide: bool, ansi: str) -> bool:
    """Strings regedit can write between quotes (no line breaks or NULs; encodable in ANSI for v4)."""
    if any(ch in text for ch in "\0\r\n"):
        return False
    if wide:
        return True
    try:
        text.encode(ansi)
    except UnicodeEncodeError:
        return False
    return True


def reg_text(root: RegistryKey, version: int = 5, ansi: str = "cp1252") -> str:
    """The whole .reg file as text with ``\\n`` line ends."""
    lines = ["REGEDIT4" if version == 4 else "Windows Registry Editor Version 5.00", ""]
    for parts, node in iter_tree(root):
        key_path = "\\".join(parts)
        lines.append(f"[{key_path}]")
        lines.extend(reg_value_text(v, version, ansi) for v in node.values())
        lines.append("")
    return "\n".join(lines) + "\n"


def write_reg(path: str | Path, root: RegistryKey, version: int = 5, ansi: str = "cp1252") -> Path:
    """REGEDIT4: ANSI, CRLF.  5.00: UTF-16LE with BOM, CRLF (what regedit writes)."""
    text = reg_text(root, version, ansi).replace("\n", "\r\n")
    data = text.encode(ansi) if version == 4 else b"\xff\xfe" + text.encode("utf-16-le")
    Path(path).write_bytes(data)
    return Path(path)


# --------------------------------------------------------------------------- regedt32 text

LABEL_WIDTH = 19  # "Key Name:" padded so the text starts in column 19, as in the exports


def regedt32_time(when: datetime, language: str = "en") -> str:
    """NT 4.0 short date/time: US ``6/16/00 - 10:13 AM``; German ``16.06.2000 - 10:13``; French, Spanish,
    Italian ``16/06/2000 - 10:13``; Japanese ``2000/06/16 - 10:13`` (24-hour outside English)."""
    order = languages.get(language).dates.order
    clock = f"{when.hour}:{when.minute:02d}"
    if language == "de":
        return f"{when.day:02d}.{when.month:02d}.{when.year} - {clock}"
    if order == "dmy":
        return f"{when.day:02d}/{when.month:02d}/{when.year} - {clock}"
    if order == "ymd":
        return f"{when.year}/{when.month:02d}/{when.day:02d} - {clock}"
    hour = when.hour % 12 or 12
    return (
        f"{when.month}/{when.day}/{when.year % 100:02d} - {hour}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"
    )


def _relative_to_hive(parts: list[str]) -> str:
    """Regedt32 names keys relative to the hive root window: drop HKEY_LOCAL_MACHINE / HKEY_USERS."""
    if parts[0] in ("HKEY_LOCAL_MACHINE", "HKEY_USERS") and len(parts) > 1:
        return "\\".join(parts[1:])
    return "\\".join(parts)


def regedt32_text(root: RegistryKey, multi_sz: str = "lines", language: str = "en") -> str:
    """Save Subtree As report (``\\n`` line ends).  ``multi_sz``: "lines" (one string per line) or "joined";
    ``language``: the labels of a localised Regedt32 (from ``analyzer.languages``)."""
    words = {key: phrases[0].text for key, phrases in languages.get(language).regedt32.items()}
    pad = max(LABEL_WIDTH, max(len(words[k]) for k in ("key_name", "class_name", "last_write_time")) + 1)
    out: list[str] = []
    for parts, node in iter_tree(root):
        if len(parts) == 1:
            continue  # the root windows themselves are never saved as a key
        out.append(f"{words['key_name']:<{pad}}{_relative_to_hive(parts)}")
        out.append(f"{words['class_name']:<{pad}}{node.class_name or words['no_class']}")
        stamp = regedt32_time(node.last_write, language) if node.last_write else ""
        out.append(f"{words['last_write_time']:<{pad}}{stamp}")
        out.append("")
        for i, v in enumerate(node.values()):
            out.append(words["value"].replace("{n}", str(i)))
            out.append(f"{'  ' + words['name']:<{pad}}{v.name or words['no_name']}")
            out.append(f"{'  ' + words['type']:<{pad}}{v.type}")
            out.extend(_regedt32_data(v, pad, multi_sz, "  " + words["data"]))
            out.append("")
    return "\n".join(out) + "\n"


def _regedt32_data(v: RegistryValue, pad: int, multi_sz: str, data_label: str = "  Data:") -> list[str]:
    label = f"{data_label:<{pad}}"
    data = v.data
    if isinstance(data, str):
        return [label + data]
    if isinstance(data, int):
        return [f"{label}0x{data:x}"]
    if isinstance(data, list):
        if multi_sz == "joined":
            return [label + "".join(s + "\\0" for s in data) + "\\0"] if data else [label]
        if not data:
            return [label]
        return [label + data[0], *(" " * pad + s for s in data[1:])]
    raw = bytes(data or b"")
    lines = [label]
    for offset in range(0, len(raw), 16):
        chunk = raw[offset : offset + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        hexpart = left + (" - " + right if right else "")
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}   {hexpart:<49}  {text}")
    return lines


def write_regedt32(
    path: str | Path, root: RegistryKey, encoding: str = "cp1252", multi_sz: str = "lines", language: str = "en"
) -> Path:
    """Regedt32 wrote ANSI text with CRLF line ends (``language``: a localised Regedt32's labels)."""
    text = regedt32_text(root, multi_sz, language).replace("\n", "\r\n")
    bom = b"\xff\xfe" if encoding.lower().replace("-", "") == "utf16le" else b""
    Path(path).write_bytes(bom + text.encode(encoding))
    return Path(path)


# --------------------------------------------------------------------------- reg query


def _query_data(v: RegistryValue, style: str) -> str:
    data = v.data
    if isinstance(data, str):
        return data
    if isinstance(data, int):
        return f"0x{data:x}"
    if isinstance(data, list):
        joined = "\\0".join(data)
        return joined + "\\0\\0" if style == "3.0" and data else joined
    return bytes(data or b"").hex().upper()


def regquery_text(root: RegistryKey, style: str = "vista") -> str:
    """``reg query KEY /s`` output for every key that has values or no subkeys (``\\n`` line ends)."""
    out: list[str] = ["", "! REG.EXE VERSION 3.0"] if style == "3.0" else []
    for parts, node in iter_tree(root):
        out.append("")
        out.append("\\".join(parts))
        for v in node.values():
            if style == "3.0":
                out.append(f"    {v.name or '<NO NAME>'}\t{v.type}\t{_query_data(v, style)}")
            else:
                out.append(f"    {v.name or '(Default)'}    {v.type}    {_query_data(v, style)}")
    out.append("")
    return "\n".join(out) + "\n"


def write_regquery(path: str | Path, root: RegistryKey, style: str = "vista", encoding: str = "cp1252") -> Path:
    """reg.exe output redirected to a file: ANSI (OEM) text with CRLF."""
    if style not in ("3.0", "vista"):
        raise ValueError(f"unknown reg query style {style!r}")
    Path(path).write_bytes(regquery_text(root, style).replace("\n", "\r\n").encode(encoding))
    return Path(path)


def build_tree(spec: dict[str, dict[str, tuple[str, Any]]]) -> RegistryKey:
    """Small trees for tests: {r"HKLM\\A\\B": {"name": ("REG_SZ", "x")}} -> nameless root."""
    from analyzer.readers.regfile import canonical_root

    root = RegistryKey("")
    for path, values in spec.items():
        parts = [p for p in path.split("\\") if p]
        parts[0] = canonical_root(parts[0]) or parts[0]
        node = root.ensure_path(parts)
        for name, (vtype, data) in values.items():
            node.set_value(RegistryValue(name, vtype, data))
    return root


__all__ = [
    "build_tree",
    "hex_value_text",
    "iter_tree",
    "reg_text",
    "reg_value_text",
    "regedt32_text",
    "regquery_text",
    "tree_dict",
    "write_reg",
    "write_regedt32",
    "write_regquery",
]
