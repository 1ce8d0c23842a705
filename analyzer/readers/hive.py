"""Binary registry hives (regf): lazy keys, untrimmed values, dirty-hive log replay.

Why this shape:

* Customers hand over whole SYSTEM hives (12+ MB) but the diagnosis needs a handful of values, so
  nothing is read at open time beyond the base block: keys are parsed when a lookup or walk reaches
  them, values only when ``values()``/``value()`` is called on a key.
* Point lookups (``subkey(name)``) go through regipy's Rust core (``regipy_rs``) when it is
  installed: a binary search in Rust instead of parsing every sibling (Services has ~600).
  Listing subkeys for walks is done by the small cell parser below: measured on the corpus'
  11.8 MB SYSTEM hive it is as fast as listing through regipy_rs, since the key cells are parsed
  here anyway, and it reports damage precisely.  ``backend="python"`` (or no regipy_rs) uses the
  parser for lookups too.  regipy's pure-Python value walk is never used (about six minutes for
  that hive).
* Values are always decoded here from the raw bytes, not by regipy: regipy trims data by default,
  reads one-character REG_SZ values as integers (regipy#267), drops empty strings inside
  REG_MULTI_SZ, skips some value types, and regipy_rs returns megabytes of junk for the
  DriverDatabase ``0x20004`` types.  ``RegistryValue.raw`` holds the bytes as stored.
* Damage never ends a walk: every cell access is bounds-checked, a bad subkey list yields the
  subkeys that can be read plus those found by scanning the hive bins for cells naming the key
  as parent (a truncated hive still shows what it holds), cycles are cut, all with warnings.
* A dirty hive (primary != secondary sequence number) is replayed with the ``.LOG``/``.LOG1``/
  ``.LOG2`` files beside it into a private in-memory copy; the input is never written.  New-format
  (HvLE) entries of both logs are applied in sequence order from the hive's secondary sequence
  number, stopping at a gap (for the corpus' SYSTEM_B this gives byte for byte what yarp
  recovers); old-format (DIRT) logs go through regipy.recovery.  Without logs the reader warns
  that recent changes may be missing.  Header facts are on ``root.header`` (HiveHeader).
The default value (a value with an empty name) is named ``""``; ``value("")`` and
``value("(default)")`` both return it (an actual value named "(default)" wins for the latter).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analyzer.model import (
    EventFilter,
    InputError,
    ReadWarning,
    RegistryFile,
    RegistryValue,
    WarningSink,
    ignore_warning,
)
from analyzer.readers.format import DEFAULT_OPTIONS, REGISTRY, Format, ReadOptions
from analyzer.readers.layout import Layout
from analyzer.wintypes import REG_TYPE_NAMES, type_name
from analyzer.wintypes import filetime_or_none as filetime

BASE_BLOCK = 4096
HBIN_HEADER = 32
BIG_DATA_THRESHOLD = 16344  # data larger than this is split into "db" segments (regf >= 1.4)
MAX_DEPTH = 512  # Windows' own limit on key nesting; a deeper chain is damage

STRING_TYPES = frozenset({1, 2, 6})
_STRING_NAMES = {code: REG_TYPE_NAMES[code] for code in STRING_TYPES}
_PLAIN_NAMES = {code: REG_TYPE_NAMES[code] for code in (0, 3, 8, 9, 10)}  # data stays bytes

#: Key node (nk cell after its size), 76 bytes; the key name follows.
NK = Layout(
    "KeyNode",
    "<2sHQ15IHH",
    ("signature", "flags", "last_write", "access_bits", "parent", "subkey_count", "volatile_subkey_count",
     "subkey_list", "volatile_subkey_list", "value_count", "value_list", "security", "class_name_offset",
     "max_subkey_name_length", "max_class_name_length", "max_value_name_length", "max_value_data_size",
     "work_var", "name_length", "class_name_length"),
)  # fmt: skip
#: Value key (vk cell after its size), 20 bytes; the value name follows.
VK = Layout(
    "ValueKey", "<2sHIIIHH", ("signature", "name_length", "data_size", "data_offset", "data_type", "flags", "spare")
)
#: The same value key read with its cell size in front (the inlined value loop).
CELL_VK = Layout(
    "ValueCell",
    "<i2sHIIIH",
    ("cell_size", "signature", "name_length", "data_size", "data_offset", "data_type", "flags"),
)
#: Subkey list (lf, lh, li, ri) header; the offsets follow.
LIST_HEAD = Layout("SubkeyListHead", "<2sH", ("signature", "count"))
#: Big data (db) cell: segment count and the offset of the segment list.
DB = Layout("BigData", "<2sHI", ("signature", "segment_count", "segment_list"))
_I32 = struct.Struct("<i")
_PARENT_AT = NK.offset_of("parent")  # 16: the scan for lost keys reads it alone
# A HiveKey keeps the plain nk tuple (one per key of a walk) and reads these fields by their index.
_NK_LAST_WRITE, _NK_SUBKEY_COUNT, _NK_SUBKEY_LIST, _NK_VALUE_COUNT, _NK_VALUE_LIST = map(
    NK.index, ("last_write", "subkey_count", "subkey_list", "value_count", "value_list")
)
_NK_CLASS_NAME_LENGTH, _NK_CLASS_NAME_OFFSET = NK.index("class_name_length"), NK.index("class_name_offset")
_NK_SIGNATURE, _NK_FLAGS, _NK_NAME_LENGTH = map(NK.index, ("signature", "flags", "name_length"))
# Hot loops read plain tuples of the fields they name (a named tuple per cell would cost more than the decoding).
_LIST_HEAD_READ = LIST_HEAD.picker("signature", "count")
_CELL_VK_READ = CELL_VK.picker(
    "cell_size", "signature", "name_length", "data_size", "data_offset", "data_type", "flags"
)
_VK_READ = VK.picker("signature", "name_length", "data_size", "data_offset", "data_type", "flags")
#: Base block (regf), first 48 bytes; the file name follows at 48.
BASE = Layout(
    "BaseBlock",
    "<4sIIQIIIIIII",
    ("signature", "primary_sequence", "secondary_sequence", "last_written", "major", "minor", "file_type",
     "file_format", "root_cell", "hbins_size", "clustering_factor"),
)  # fmt: skip


class HiveDamage(Exception):
    """A cell that cannot be read (outside the hive bins, wrong signature, bad size)."""


def decode_string(raw: bytes) -> str:
    """REG_SZ/EXPAND_SZ/LINK: UTF-16LE up to the first NUL; an odd trailing byte is ignored."""
    if len(raw) % 2:
        raw = raw[:-1]
    text = raw.decode("utf-16-le", errors="replace")
    end = text.find("\x00")
    return text if end < 0 else text[:end]


def decode_multi_sz(raw: bytes, complain: Callable[[str], None] | None = None) -> list[str]:
    """REG_MULTI_SZ bytes -> list of strings, tolerant of what real hives hold.

    * zero bytes, or only NULs -> ``[]`` (the value is present but empty: a "blank" list);
    * the canonical ending (last string's NUL + the list's extra NUL) is removed, a missing final
      terminator is accepted;
    * an odd byte count drops the last byte (complaint only when that byte is not NUL);
    * empty strings anywhere else are KEPT and reported through ``complain`` - whether the
      Information Store ignores them is unverified, so the diagnosis must see them.
    """
    if len(raw) % 2:
        if raw[-1] and complain:
            complain("odd byte count; last byte ignored")
        raw = raw[:-1]
    text = raw.decode("utf-16-le", errors="replace")
    if not text.strip("\x00"):
        return []
    if text.endswith("\x00\x00"):
        text = text[:-2]
    elif text.endswith("\x00"):
        text = text[:-1]
    parts = text.split("\x00")
    if complain and "" in parts:
        complain("embedded empty string")
    return parts


def decode_value(
    code: int, raw: bytes, complain: Callable[[str], None] | None = None
) -> str | int | list[str] | bytes | None:
    """Decode raw value bytes by type; anything unexpected stays bytes (never raises)."""
    if code in STRING_TYPES:
        return decode_string(raw)
    if code == 7:
        return decode_multi_sz(raw, complain)
    if code == 4 or code == 5:
        if not raw:
            return None
        if len(raw) != 4 and complain:
            complain(f"DWORD of {len(raw)} bytes")
        return int.from_bytes(raw[:4], "little" if code == 4 else "big")
    if code == 11:
        if not raw:
            return None
        if len(raw) != 8 and complain:
            complain(f"QWORD of {len(raw)} bytes")
        return int.from_bytes(raw[:8], "little")
    return bytes(raw)


@dataclass(frozen=True, slots=True)
class HiveHeader:
    """Facts from the base block, kept on the root node as ``root.header``."""

    file_name: str
    major: int
    minor: int
    primary_sequence: int
    secondary_sequence: int
    last_written: datetime | None
    file_type: int
    root_offset: int
    hbins_size: int
    checksum_ok: bool

    @property
    def dirty(self) -> bool:
        return self.primary_sequence != self.secondary_sequence

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"


def parse_base_block(data: bytes, path: str) -> HiveHeader:
    """Read the 4 KiB base block; raises InputError when it is not a regf header at all."""
    if len(data) < 512 or data[:4] != b"regf":
        raise InputError(path, "not a regf registry hive", 0)
    b = BASE.unpack_from(data, 0)
    name = bytes(data[BASE.size : BASE.size + 64]).decode("utf-16-le", errors="replace").split("\x00", 1)[0]
    return HiveHeader(
        name, b.major, b.minor, b.primary_sequence, b.secondary_sequence, filetime(b.last_written), b.file_type,
        b.root_cell, b.hbins_size, checksum(data) == _u32(data, 508),
    )  # fmt: skip


def checksum(data: bytes) -> int:
    """XOR of the base block's first 127 dwords; 0 and -1 are replaced as Windows does."""
    value = 0
    for (word,) in struct.iter_unpack("<I", bytes(data[:508])):
        value ^= word
    if value == 0xFFFFFFFF:
        return 0xFFFFFFFE
    return value or 1


def _u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "little")


@dataclass(slots=True)
class _Hive:
    """The open hive: its bytes (read once, or a recovered copy), bounds, warning sink, optional Rust core."""

    path: str
    data: Any  # bytes (never a map of the evidence: a file truncated meanwhile would kill the process)
    header: HiveHeader
    end: int  # end of usable hive bins (file offset)
    emit: Callable[[str, int | None], None]
    rs: Any = None  # regipy_rs.RegistryHive or None
    big_data: bool = True
    scanned: dict[int, list[int]] | None = None

    # -- cells --------------------------------------------------------------------------------
    def cell(self, offset: int) -> tuple[int, int]:
        """(file position of the cell data, usable size) for a cell offset; raises HiveDamage."""
        pos = BASE_BLOCK + offset
        if offset < 0 or offset == 0xFFFFFFFF or pos + 4 > self.end:
            raise HiveDamage(f"cell offset 0x{offset:x} points outside the hive bins")
        (size,) = _I32.unpack_from(self.data, pos)
        size = -size if size < 0 else size  # a free cell is still readable (partial results)
        if size < 8 or pos + size > self.end:
            raise HiveDamage(f"cell at 0x{offset:x} has a bad size ({size})")
        return pos + 4, size - 4

    def subkey_offsets(self, list_offset: int, count: int, where: str, own: int) -> list[int]:
        """Offsets of a key's subkeys from its lf/lh/li/ri list; damage -> warning, partial list.

        When the list itself is damaged (or lies beyond a truncated file's end), the readable hive
        bins are scanned for key cells whose parent is this key, so a truncated hive still shows
        the subkeys it holds.
        """
        out: list[int] = []
        try:
            self._read_list(list_offset, out, where, nested=False)
        except HiveDamage as exc:
            self.emit(f"subkey list of {where or '(root)'} damaged: {exc}; {len(out)} of {count} subkeys read", None)
            listed = set(out)
            extra = [off for off in self.children_by_scan().get(own, []) if off not in listed]
            if extra:
                self.emit(f"{len(extra)} more subkeys of {where or '(root)'} recovered by scanning the hive bins", None)
            return out + extra
        if len(out) != count:
            self.emit(f"subkey list of {where or '(root)'} holds {len(out)} entries, key says {count}", None)
        return out

    def children_by_scan(self) -> dict[int, list[int]]:
        """parent offset -> allocated key cells naming it as parent (built once, only after damage)."""
        if self.scanned is not None:
            return self.scanned
        found: dict[int, list[int]] = {}
        data, end = self.data, self.end
        pos = BASE_BLOCK
        while pos + HBIN_HEADER <= end and data[pos : pos + 4] == b"hbin":
            bin_size = _u32(data, pos + 8)
            if bin_size < 4096 or bin_size % 4096:
                break
            cell, stop = pos + HBIN_HEADER, min(pos + bin_size, end)
            while cell + 8 <= stop:
                (size,) = _I32.unpack_from(data, cell)
                length = -size if size < 0 else size
                if length < 8 or length % 8:
                    break
                if size < 0 and data[cell + 4 : cell + 6] == b"nk" and cell + 4 + NK.size <= stop:
                    parent = _u32(data, cell + 4 + _PARENT_AT)
                    found.setdefault(parent, []).append(cell - BASE_BLOCK)
                cell += length
            pos += bin_size
        self.scanned = found
        return found

    def _read_list(self, list_offset: int, out: list[int], where: str, nested: bool) -> None:
        pos, size = self.cell(list_offset)
        sig, n = _LIST_HEAD_READ(self.data, pos)
        if sig in (b"lf", b"lh"):
            n = min(n, (size - 4) // 8)
            out.extend(struct.unpack_from(f"<{n * 2}I", self.data, pos + 4)[0::2])
        elif sig == b"li":
            n = min(n, (size - 4) // 4)
            out.extend(struct.unpack_from(f"<{n}I", self.data, pos + 4))
        elif sig == b"ri" and not nested:
            n = min(n, (size - 4) // 4)
            for sub in struct.unpack_from(f"<{n}I", self.data, pos + 4):
                self._read_list(sub, out, where, nested=True)
        else:
            raise HiveDamage(f"unknown subkey list {bytes(sig)!r} at 0x{list_offset:x}")

    def values(self, list_offset: int, count: int, where: object) -> list[RegistryValue]:
        """Read every value of a key; a bad value is reported and skipped.

        The loop inlines the common case (sound vk cell, small data, plain type) because a full
        walk of a SYSTEM hive decodes ~70,000 values; anything unusual goes through ``value()``,
        which does the same with every check and warning.
        """
        try:
            pos, size = self.cell(list_offset)
        except HiveDamage as exc:
            self.emit(f"value list of {where} unreadable: {exc}", None)
            return []
        if count * 4 > size:
            self.emit(f"value list of {where} truncated: {size // 4} of {count} values", BASE_BLOCK + list_offset)
            count = size // 4
        data, end = self.data, self.end
        cell_vk, i32 = _CELL_VK_READ, _I32.unpack_from
        strings = _STRING_NAMES
        plain = _PLAIN_NAMES
        out: list[RegistryValue] = []
        append = out.append
        for vk_offset in struct.unpack_from(f"<{count}I", data, pos):
            cpos = BASE_BLOCK + vk_offset
            if cpos + 24 <= end:
                size, sig, name_len, data_size, data_off, code, flags = cell_vk(data, cpos)
                vpos = cpos + 4
                if sig == b"vk" and -size >= 24 + name_len and cpos - size <= end:
                    raw_name = data[vpos + 20 : vpos + 20 + name_len]
                    name = raw_name.decode("latin-1") if flags & 1 else raw_name.decode("utf-16-le", "replace")
                    if data_size == 0x80000004 and code == 4:  # the usual DWORD, stored in the offset field
                        append(RegistryValue(name, "REG_DWORD", data_off, data[vpos + 8 : vpos + 12]))
                        continue
                    raw = None
                    if data_size & 0x80000000:
                        raw = data[vpos + 8 : vpos + 8 + min(data_size & 0x7FFFFFFF, 4)]
                    elif data_size == 0:
                        raw = b""
                    elif data_size <= BIG_DATA_THRESHOLD:
                        dpos = BASE_BLOCK + data_off
                        if dpos + 4 <= end:
                            dsize = -i32(data, dpos)[0]
                            if data_size <= dsize - 4 and dpos + dsize <= end:
                                raw = data[dpos + 4 : dpos + 4 + data_size]
                    if raw is not None:
                        kind = strings.get(code)
                        if kind is not None:
                            text = raw[: len(raw) & ~1].decode("utf-16-le", "replace")
                            append(RegistryValue(name, kind, text.split("\x00", 1)[0], raw))
                            continue
                        kind = plain.get(code)
                        if kind is not None:
                            append(RegistryValue(name, kind, raw, raw))
                            continue
            try:
                append(self.value(vk_offset, where))
            except HiveDamage as exc:
                self.emit(f"value of {where} unreadable: {exc}", BASE_BLOCK + vk_offset)
        return out

    def value(self, vk_offset: int, where: object) -> RegistryValue:
        data = self.data
        pos, size = self.cell(vk_offset)
        if size < VK.size:
            raise HiveDamage(f"value cell at 0x{vk_offset:x} too small")
        sig, name_len, data_size, data_off, code, flags = _VK_READ(data, pos)
        if sig != b"vk":
            raise HiveDamage(f"expected a value (vk) at 0x{vk_offset:x}, found {bytes(sig)!r}")
        raw_name = data[pos + 20 : pos + 20 + min(name_len, size - 20)]
        name = raw_name.decode("latin-1") if flags & 1 else raw_name.decode("utf-16-le", errors="replace")
        if data_size & 0x80000000:  # stored in the offset field itself
            raw = data[pos + 8 : pos + 8 + min(data_size & 0x7FFFFFFF, 4)]
        elif data_size == 0:
            raw = b""
        else:
            raw = self._value_data(data_off, data_size, name, where)
        complain = None
        if code in (4, 5, 7, 11):

            def complain(msg: str, name: str = name) -> None:
                what = "multi-string" if code == 7 else type_name(code)
                self.emit(f"{msg} in {what} value {name!r} of {where}", BASE_BLOCK + vk_offset)

        return RegistryValue(name, type_name(code), decode_value(code, raw, complain), raw)

    def _value_data(self, offset: int, size: int, name: str, where: object) -> bytes:
        pos, cell_size = self.cell(offset)
        data = self.data
        if size > BIG_DATA_THRESHOLD and self.big_data and data[pos : pos + 2] == b"db":
            big = DB.unpack_from(data, pos)
            segments, seg_list = big.segment_count, big.segment_list
            lpos, lsize = self.cell(seg_list)
            segments = min(segments, lsize // 4)
            parts: list[bytes] = []
            left = size
            for seg in struct.unpack_from(f"<{segments}I", data, lpos):
                spos, ssize = self.cell(seg)
                take = min(left, ssize, BIG_DATA_THRESHOLD)
                parts.append(data[spos : spos + take])
                left -= take
                if left <= 0:
                    break
            if left > 0:
                self.emit(f"big value {name!r} of {where} is short by {left} bytes", BASE_BLOCK + offset)
            return b"".join(parts)
        if size > cell_size:
            self.emit(f"value {name!r} of {where} claims {size} bytes, its cell holds {cell_size}", BASE_BLOCK + offset)
            size = cell_size
        return data[pos : pos + size]


class HiveKey:
    """A lazy key of a hive: what ``registry.KeyNode`` needs, parsed on demand.

    ``path`` (hive-relative, ``\\A\\B``; ``""`` for the root) and the set of ancestor cells used
    to cut cycles are computed only when needed: most keys of a walk are leaves.
    """

    __slots__ = ("_chain", "_hive", "_nk", "_parent", "_path", "_rs", "name", "offset")

    def __init__(self, hive: _Hive, offset: int, parent: HiveKey | None = None, rs: Any = None) -> None:
        data = hive.data
        pos = BASE_BLOCK + offset
        if offset < 0 or pos + 4 + NK.size > hive.end:
            raise HiveDamage(f"key cell offset 0x{offset:x} points outside the hive bins")
        (size,) = _I32.unpack_from(data, pos)
        size = -size if size < 0 else size
        if size < NK.size + 4 or pos + size > hive.end:
            if data[pos + 4 : pos + 6] != b"nk":
                raise HiveDamage(f"key cell at 0x{offset:x} has a bad size ({size})")
            # The key node itself is there: read it, its name bounded by the hive bins.
            hive.emit(f"key cell at 0x{offset:x} has a bad size ({size}); read anyway", pos)
            size = min(hive.end - pos, NK.size + 4 + 0xFFFF)
        nk = NK.struct.unpack_from(data, pos + 4)
        signature, flags, name_length = nk[_NK_SIGNATURE], nk[_NK_FLAGS], nk[_NK_NAME_LENGTH]
        if signature != b"nk":
            raise HiveDamage(f"expected a key (nk) at 0x{offset:x}, found {bytes(signature)!r}")
        start = pos + 4 + NK.size
        raw = data[start : start + min(name_length, size - 4 - NK.size)]
        self.name = raw.decode("latin-1") if flags & 0x20 else raw.decode("utf-16-le", "replace")
        self._hive = hive
        self._nk = nk
        self._parent = parent
        self._rs = rs
        self._path: str | None = None if parent is not None else ""
        self._chain: frozenset[int] | None = None
        self.offset = offset

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = f"{self._parent.path}\\{self.name}"  # type: ignore[union-attr]
        return self._path

    def _ancestors(self) -> frozenset[int]:
        if self._chain is None:
            above = self._parent._ancestors() if self._parent is not None else frozenset()
            self._chain = above | {self.offset}
        return self._chain

    @property
    def header(self) -> HiveHeader:
        """Base block facts (file name, version, sequence numbers, dirty, checksum)."""
        return self._hive.header

    @property
    def last_write(self) -> datetime | None:
        return filetime(self._nk[_NK_LAST_WRITE])

    @property
    def class_name(self) -> str | None:
        length, offset = self._nk[_NK_CLASS_NAME_LENGTH], self._nk[_NK_CLASS_NAME_OFFSET]
        if not length or offset == 0xFFFFFFFF:
            return None
        try:
            pos, size = self._hive.cell(offset)
        except HiveDamage as exc:
            self._hive.emit(f"class name of {self.path or '(root)'} unreadable: {exc}", None)
            return None
        return bytes(self._hive.data[pos : pos + min(length, size)]).decode("utf-16-le", errors="replace")

    @property
    def subkey_count(self) -> int:
        return self._nk[_NK_SUBKEY_COUNT]

    @property
    def value_count(self) -> int:
        return self._nk[_NK_VALUE_COUNT]

    @property
    def key_node(self) -> Any:
        """The key's nk cell as a named tuple (``NK`` fields), for inspection and tests."""
        return NK.type._make(self._nk)

    # -- values -------------------------------------------------------------------------------
    def values(self) -> list[RegistryValue]:
        count, values = self._nk[_NK_VALUE_COUNT], self._nk[_NK_VALUE_LIST]
        if not count or values == 0xFFFFFFFF:
            return []
        return self._hive.values(values, count, self)  # str(self) names it in warnings

    def value(self, name: str) -> RegistryValue | None:
        want = name.casefold()
        values = self.values()
        for v in values:
            if v.name.casefold() == want:
                return v
        if want == "(default)":
            return next((v for v in values if v.name == ""), None)
        return None

    # -- subkeys ------------------------------------------------------------------------------
    def subkeys(self) -> list[HiveKey]:
        """Children in stored order; unreadable or cyclic entries are reported and left out."""
        count, subkeys = self._nk[_NK_SUBKEY_COUNT], self._nk[_NK_SUBKEY_LIST]
        if not count or subkeys == 0xFFFFFFFF:
            return []
        if len(self._ancestors()) >= MAX_DEPTH:
            self._hive.emit(f"{self.path}: keys nested deeper than {MAX_DEPTH}; not descending", None)
            return []
        # Listing is done here, not by regipy_rs: measured equally fast on the 11.8 MB SYSTEM hive
        # (the nk cells are parsed here anyway), and damage is reported precisely.
        offsets = self._hive.subkey_offsets(subkeys, count, self.path, self.offset)
        return self._make_children(offsets)

    def _make_children(self, offsets: list[int]) -> list[HiveKey]:
        out: list[HiveKey] = []
        append = out.append
        chain = self._ancestors()
        seen: set[int] = set()
        hive = self._hive
        for off in offsets:
            if off in chain or off in seen:
                where = self.path or "(root)"
                kind = "points back to an ancestor (cycle cut)" if off in chain else "lists the same key twice"
                hive.emit(f"subkey list of {where} {kind}", BASE_BLOCK + off)
                continue
            seen.add(off)
            try:
                append(HiveKey(hive, off, self))
            except HiveDamage as exc:
                hive.emit(f"subkey of {self.path or '(root)'} unreadable: {exc}", BASE_BLOCK + off)
        return out

    def subkey(self, name: str) -> HiveKey | None:
        want = name.casefold()
        if self._rs is not None and want.isascii():
            try:
                found = self._rs.find_subkey(name)
            except Exception:
                found = None  # fall back to the listing, which reports the damage
            if found is not None:
                off = found.offset - 6 - BASE_BLOCK
                if off not in self._ancestors():
                    try:
                        return HiveKey(self._hive, off, self, found)
                    except HiveDamage:
                        pass
        for child in self.subkeys():
            if child.name.casefold() == want:
                return child
        return None

    def __str__(self) -> str:
        return self.path or "(root)"

    def __repr__(self) -> str:
        return f"HiveKey({self.path or '(root)'!r}, subkeys={self.subkey_count}, values={self.value_count})"


# --------------------------------------------------------------------------- opening


def read(
    path: str,
    *,
    filters: EventFilter | None = None,
    options: ReadOptions = DEFAULT_OPTIONS,
    warn: WarningSink = ignore_warning,
    backend: str = "auto",
    logs: bool = True,
) -> RegistryFile:
    """Open a regf hive lazily.  ``backend``: "auto" (regipy_rs when installed), "rs" or "python".

    ``logs=False`` skips the transaction-log replay of dirty hives (the hive is read as it is).
    ``filters`` and ``options`` do not apply (the reader protocol passes them to every reader).
    """
    path = str(path)
    result = RegistryFile(path=path, format="hive", root=None, root_path=None)  # type: ignore[arg-type]
    reported: set[tuple[str, int | None]] = set()

    def emit(message: str, offset: int | None) -> None:
        if (message, offset) in reported or len(reported) > 10000:
            return
        reported.add((message, offset))
        w = ReadWarning(path, message, offset)
        result.warnings.append(w)
        warn(w)

    data, header = _open(path, emit)
    if header.dirty:
        replayed, new_header, source = _replay(path, data, header, emit, logs)
        if replayed is not data:
            try:
                result.root = _root(path, replayed, new_header, source, backend, emit)
                return result
            except InputError as exc:  # log entries are not hash-checked: never let them cost the hive
                emit(f"the replayed hive is unusable ({exc.reason}); read as it is, without its logs", None)
    result.root = _root(path, data, header, path, backend, emit)
    return result


FORMAT = Format(
    "hive",
    REGISTRY,
    "binary registry hive (regf), whole or a Save Key file",
    read,
    magic=lambda head: head.startswith(b"regf"),
)


def _root(
    path: str, data: Any, header: HiveHeader, source: str | None, backend: str, emit: Callable[[str, int | None], None]
) -> HiveKey:
    """The root key of ``data`` (a found stand-in when the header's root cell is damaged)."""
    _check_header(path, data, header, emit)
    end = min(len(data), BASE_BLOCK + header.hbins_size) if header.hbins_size else len(data)
    hive = _Hive(path, data, header, end, emit, big_data=(header.major, header.minor) >= (1, 4))
    hive.rs = _open_rs(data, backend, emit) if source is not None else None
    rs_root = _rs_root(hive.rs, header.root_offset)
    if rs_root is None:
        hive.rs = None
    try:
        return HiveKey(hive, header.root_offset, None, rs_root)
    except HiveDamage as exc:
        root = _find_root(hive)
        if root is None:
            raise InputError(path, f"root key unreadable ({exc})", BASE_BLOCK + header.root_offset) from None
        emit(f"root key unreadable ({exc}); using the key cell found at 0x{root.offset:x}", BASE_BLOCK + root.offset)
        return root


def recover(path: str, *, warn: WarningSink = ignore_warning) -> bytes:
    """The hive's bytes after replaying the transaction logs beside it (unchanged when clean or
    without logs) - e.g. to save a recovered copy for other tools.  The input is never written."""
    path = str(path)

    def emit(message: str, offset: int | None) -> None:
        warn(ReadWarning(path, message, offset))

    data, header = _open(path, emit)
    if header.dirty:
        data, header, _ = _replay(path, data, header, emit, True)
    return bytes(data[:])


def _open(path: str, emit: Callable[[str, int | None], None]) -> tuple[bytes, HiveHeader]:
    """The hive's bytes, read once with plain reads (the caller's size limit bounds them).

    Not a memory map: a map of a file that another process truncates kills the reader with SIGBUS.
    A file that shrinks or grows while being read is reported with the offset where it changed."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(516)
            if head[:4] != b"regf":
                raise InputError(path, "not a regf registry hive", 0)
            file_type = int.from_bytes(head[28:32], "little")
            if file_type in (1, 2, 6) or head[512:516] in (b"HvLE", b"DIRT"):
                raise InputError(
                    path,
                    f"a hive's transaction log (file type {file_type}), not a hive: it is applied when it "
                    "lies beside its hive under the same name + .LOG/.LOG1/.LOG2",
                    0,
                )
            if size < BASE_BLOCK:
                raise InputError(path, f"hive of {size} bytes is shorter than its 4096-byte base block")
            fh.seek(0)
            data = fh.read(size)
            if len(data) < size:
                emit(
                    f"file shrank while being read ({size:,} bytes when opened, {len(data):,} read); "
                    "results are partial",
                    len(data),
                )
            elif fh.read(1):
                emit(f"file grew while being read (read the {size:,} bytes it had when opened)", size)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) < BASE_BLOCK:
        raise InputError(path, f"hive of {len(data)} bytes is shorter than its 4096-byte base block")
    return data, parse_base_block(data, path)


def _check_header(path: str, data: Any, header: HiveHeader, emit: Callable[[str, int | None], None]) -> None:
    if not header.checksum_ok:
        emit("base block checksum is wrong (header may be damaged)", 508)
    if header.file_type != 0:
        emit(f"file type {header.file_type} is not a primary hive (a transaction log?)", 28)
    wanted = BASE_BLOCK + header.hbins_size
    if header.hbins_size and wanted > len(data):
        emit(
            f"hive is truncated: header says {header.hbins_size} bytes of hive bins, file holds {len(data) - BASE_BLOCK}",
            len(data),
        )
    if len(data) >= BASE_BLOCK + 4 and data[BASE_BLOCK : BASE_BLOCK + 4] != b"hbin":
        emit("no hive bin at 0x1000", BASE_BLOCK)


def _open_rs(data: bytes, backend: str, emit: Callable[[str, int | None], None]) -> Any:
    """regipy_rs on a private copy of the bytes already read.

    regipy_rs maps the file it opens; mapping the evidence itself would let another process that
    truncates it kill us with SIGBUS.  Nobody else can touch the private copy; it is unlinked at once
    where the platform allows (the map keeps it alive), otherwise when the process ends."""
    if backend == "python":
        return None
    try:
        import regipy_rs
    except ImportError:
        if backend == "rs":
            emit("regipy_rs is not installed; using the pure-Python key reader", None)
        return None
    fd, copy = tempfile.mkstemp(prefix="analyzer-hive-", suffix=".dat")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return regipy_rs.RegistryHive(copy)
    except Exception as exc:
        emit(f"regipy_rs cannot open the hive ({exc}); using the pure-Python key reader", None)
        return None
    finally:
        try:
            os.unlink(copy)
        except OSError:  # Windows: a mapped file cannot be removed yet
            import atexit

            atexit.register(_remove_quietly, copy)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _rs_root(rs: Any, root_offset: int) -> Any:
    """regipy_rs's root record, but only when it is the header's root cell.

    regipy (both cores) takes the first cell of the first hive bin as the root, as Windows lays
    hives out; a hive built otherwise would be read from the wrong key, so it gets the Python core.
    """
    if rs is None:
        return None
    try:
        root = rs.root()
    except Exception:
        return None
    return root if root.offset - 6 - BASE_BLOCK == root_offset else None


def _find_root(hive: _Hive) -> HiveKey | None:
    """When the header's root cell is unreadable, take the first readable key flagged as hive entry (0x4)."""
    data = hive.data
    pos = BASE_BLOCK + 4
    hive.rs = None  # regipy_rs would start from the damaged cell
    while True:
        pos = data.find(b"nk", pos, hive.end)
        if pos < 0:
            return None
        if int.from_bytes(data[pos + 2 : pos + 4], "little") & 0x4:
            try:
                return HiveKey(hive, pos - 4 - BASE_BLOCK)
            except HiveDamage:
                pass
        pos += 2


# --------------------------------------------------------------------------- dirty hives


def find_logs(path: str) -> list[str]:
    """Transaction logs beside the hive: same name + .LOG, .LOG1, .LOG2 (any letter case)."""
    folder = os.path.dirname(path) or "."
    base = os.path.basename(path).casefold()
    wanted = {base + s for s in (".log", ".log1", ".log2")}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names if n.casefold() in wanted]


@dataclass(frozen=True, slots=True)
class _LogEntry:
    """One HvLE entry of a new-format (Windows 8.1+) transaction log: where it is and what it says."""

    log: str
    pos: int
    size: int
    sequence: int
    hbins_size: int
    pages: int


def scan_log(log: str) -> tuple[str, list[_LogEntry]]:
    """(kind, entries): "HvLE" with its entries, "DIRT" (old format, no entries) or an unknown kind.

    Only entry headers are read here; an entry whose size or page count does not fit ends the scan
    (the rest of the file is stale or damaged).
    """
    with open(log, "rb") as fh:
        head = fh.read(516)
        if len(head) < 516:
            return "short", []
        magic = head[512:516]
        if magic == b"DIRT":
            return "DIRT", []
        if magic != b"HvLE":
            return magic.hex(), []
        size = os.fstat(fh.fileno()).st_size
        entries: list[_LogEntry] = []
        pos = 512
        while pos + 40 <= size:
            fh.seek(pos)
            raw = fh.read(40)
            length, _flags, seq, hbins, pages = struct.unpack_from("<IIIII", raw, 4)
            if raw[:4] != b"HvLE" or length < 40 or length % 512 or pos + length > size or 40 + 8 * pages > length:
                break
            entries.append(_LogEntry(log, pos, length, seq, hbins, pages))
            pos += length
        return "HvLE", entries


def _replay(
    path: str, data: Any, header: HiveHeader, emit: Callable[[str, int | None], None], use_logs: bool
) -> tuple[Any, HiveHeader, str | None]:
    """Apply the logs beside a dirty hive to an in-memory copy; return (bytes, header, file to open or None).

    New-format logs: entries of both logs are applied in sequence-number order, starting at the
    hive's secondary sequence number (or the first later entry when the hive is older than every
    log) and stopping at the first gap - so stale entries of an old log never overwrite newer data
    (the ordering problem of regipy#97).  Old-format (DIRT) logs go through regipy.recovery.
    Entry hashes (Marvin32) are not checked: structure and sequence continuity are.
    """
    seq = f"sequence numbers {header.primary_sequence}/{header.secondary_sequence}"
    logs = find_logs(path) if use_logs else []
    entries: list[_LogEntry] = []
    dirt: list[str] = []
    for log in logs:
        kind, found = scan_log(log)
        if kind == "DIRT":
            dirt.append(log)
        elif found:
            entries.extend(found)
        else:
            emit(f"transaction log {os.path.basename(log)} not understood (no HvLE/DIRT data), ignored", None)
    fixed: bytearray | None = None
    if entries:
        fixed, note = _apply_entries(data, header, entries, emit)
    if fixed is None and dirt:
        fixed, note = _apply_dirt(path, dirt, emit)
    if fixed is None:
        why = "no transaction log was found beside it" if use_logs else "its transaction logs were not applied"
        if logs and use_logs:
            why = "its transaction logs could not be applied"
        emit(f"hive is dirty ({seq}) and {why}: results may miss recent changes", 4)
        return data, header, path
    fixed[508:512] = checksum(fixed).to_bytes(4, "little")
    emit(f"hive is dirty ({seq}); {note}", 4)
    return bytes(fixed), parse_base_block(bytes(fixed[:BASE_BLOCK]), path), None


def _apply_entries(
    data: Any, header: HiveHeader, entries: list[_LogEntry], emit: Callable[[str, int | None], None]
) -> tuple[bytearray | None, str]:
    by_seq: dict[int, _LogEntry] = {}
    for entry in sorted(entries, key=lambda e: e.sequence):
        by_seq.setdefault(entry.sequence, entry)
    later = [s for s in by_seq if s >= header.secondary_sequence]
    if not later:
        emit("transaction logs hold only entries older than the hive, ignored", None)
        return None, ""
    start = header.secondary_sequence if header.secondary_sequence in by_seq else min(later)
    buf = bytearray(data[:])
    applied: list[_LogEntry] = []
    current = start
    while current in by_seq:
        entry = by_seq[current]
        try:
            _apply_entry(buf, entry)
        except (OSError, ValueError) as exc:
            emit(f"log entry {current} in {os.path.basename(entry.log)} not applied: {exc}", entry.pos)
            break
        applied.append(entry)
        current += 1
    if not applied:
        return None, ""
    skipped = [s for s in later if s >= current]
    if skipped:
        emit(f"log entries from sequence {min(skipped)} on not applied (sequence gap after {current - 1})", None)
    last = applied[-1]
    buf[4:12] = struct.pack("<II", last.sequence, last.sequence)
    buf[40:44] = struct.pack("<I", last.hbins_size)
    names = list(dict.fromkeys(os.path.basename(e.log) for e in applied))
    note = f"applied {len(names)} log(s) ({len(applied)} entries, sequence {start}-{last.sequence}): {', '.join(names)}"
    return buf, note


def _apply_entry(buf: bytearray, entry: _LogEntry) -> None:
    with open(entry.log, "rb") as fh:
        fh.seek(entry.pos)
        blob = fh.read(entry.size)
    refs = struct.unpack_from(f"<{2 * entry.pages}I", blob, 40)
    need = BASE_BLOCK + entry.hbins_size
    if need > len(buf):
        buf.extend(bytes(need - len(buf)))  # the hive grew after its last flush
    at = 40 + 8 * entry.pages
    for offset, size in zip(refs[0::2], refs[1::2], strict=True):
        target = BASE_BLOCK + offset
        if at + size > len(blob) or target + size > len(buf) or size % 512:
            raise ValueError(f"dirty page at 0x{offset:x} ({size} bytes) does not fit")
        buf[target : target + size] = blob[at : at + size]
        at += size


def _apply_dirt(path: str, logs: list[str], emit: Callable[[str, int | None], None]) -> tuple[bytearray | None, str]:
    """Old-format logs (a dirty-sector bitmap + sectors) through regipy.recovery, on a temporary copy."""
    try:
        from regipy.recovery import apply_transaction_logs
    except ImportError:
        emit("regipy is not installed: old-format transaction logs cannot be applied", None)
        return None, ""
    with tempfile.TemporaryDirectory(prefix="analyzer-hive-") as tmp:
        current = os.path.join(tmp, "hive0")
        shutil.copyfile(path, current)
        try:
            for i, log in enumerate(logs, 1):
                nxt = os.path.join(tmp, f"hive{i}")
                apply_transaction_logs(current, log, restored_hive_path=nxt)
                current = nxt
            with open(current, "rb") as fh:
                fixed = bytearray(fh.read())
        except Exception as exc:  # regipy's own errors and construct's parse errors alike
            emit(f"replaying {', '.join(os.path.basename(x) for x in logs)} failed ({exc})", None)
            return None, ""
    if len(fixed) < BASE_BLOCK or fixed[:4] != b"regf":
        return None, ""
    seq_now = max(int.from_bytes(fixed[4:8], "little"), int.from_bytes(fixed[8:12], "little"))
    fixed[4:12] = struct.pack("<II", seq_now, seq_now)
    return fixed, f"applied {len(logs)} log(s): {', '.join(os.path.basename(x) for x in logs)}"


__all__ = ["HiveHeader", "HiveKey", "decode_multi_sz", "decode_value", "find_logs", "read", "recover", "scan_log"]
