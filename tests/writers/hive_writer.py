"""A small pure-Python regf (registry hive) writer, so tests can build hives from a model.

No maintained Python package creates hives (hivex only edits existing ones), so the tests make
their own.  The layout follows the public regf format description: a 4 KiB base block (XOR
checksum at 0x1FC), hive bins of 4 KiB multiples holding 8-byte aligned cells (negative size =
allocated), key nodes (nk), value keys (vk), value lists, subkey lists (lf / lh / li, split under
an ri when long), one shared security record (sk) and "db" big-data records for values over 16344
bytes in format 1.4+.  Written hives are checked against regipy, python-registry and libregf in
tests/test_hive_writer.py.

``write_dirt_log`` writes an old-format (Windows XP/7, "DIRT") transaction log, so tests can
check that a dirty hive is replayed to known content.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from analyzer.model import RegistryKey, RegistryValue

TYPE_CODES = {
    "REG_NONE": 0,
    "REG_SZ": 1,
    "REG_EXPAND_SZ": 2,
    "REG_BINARY": 3,
    "REG_DWORD": 4,
    "REG_DWORD_BIG_ENDIAN": 5,
    "REG_LINK": 6,
    "REG_MULTI_SZ": 7,
    "REG_RESOURCE_LIST": 8,
    "REG_FULL_RESOURCE_DESCRIPTOR": 9,
    "REG_RESOURCE_REQUIREMENTS_LIST": 10,
    "REG_QWORD": 11,
}
BIG_DATA = 16344
NONE = 0xFFFFFFFF
DEFAULT_TIME = datetime(2001, 6, 15, 10, 13, 0, tzinfo=UTC)
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def filetime(when: datetime | None) -> int:
    when = when or DEFAULT_TIME
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def type_code(name: str) -> int:
    if name in TYPE_CODES:
        return TYPE_CODES[name]
    if name.upper().startswith("REG_0X"):
        return int(name[6:], 16)
    raise ValueError(f"unknown value type {name!r}")


def encode_data(value: RegistryValue) -> bytes:
    """The bytes stored for a value: ``raw`` when given, else the data encoded by type."""
    if value.raw is not None:
        return bytes(value.raw)
    data, kind = value.data, value.type
    if data is None:
        return b""
    if kind in ("REG_SZ", "REG_EXPAND_SZ"):
        return (str(data) + "\x00").encode("utf-16-le")
    if kind == "REG_LINK":
        return str(data).encode("utf-16-le")
    if kind == "REG_MULTI_SZ":
        items = list(data)  # type: ignore[arg-type]
        return ("".join(s + "\x00" for s in items) + "\x00").encode("utf-16-le")
    if kind == "REG_DWORD":
        return struct.pack("<I", int(data))  # type: ignore[arg-type]
    if kind == "REG_DWORD_BIG_ENDIAN":
        return struct.pack(">I", int(data))  # type: ignore[arg-type]
    if kind == "REG_QWORD":
        return struct.pack("<Q", int(data))  # type: ignore[arg-type]
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    raise ValueError(f"cannot encode {kind} data {data!r} without raw bytes")


def lh_hash(name: str) -> int:
    value = 0
    for ch in name.upper():
        value = (value * 37 + ord(ch)) & 0xFFFFFFFF
    return value


def _name_bytes(name: str) -> tuple[bytes, bool]:
    """Compressed (Latin-1, flag 0x20) when possible, otherwise UTF-16LE."""
    try:
        return name.encode("latin-1"), True
    except UnicodeEncodeError:
        return name.encode("utf-16-le"), False


def _sid(authority: int, *subs: int) -> bytes:
    return (
        struct.pack("<BB", 1, len(subs)) + authority.to_bytes(6, "big") + b"".join(struct.pack("<I", s) for s in subs)
    )


def security_descriptor() -> bytes:
    """Self-relative SD: owner Administrators, group SYSTEM, DACL Everyone full control."""
    everyone = _sid(1, 0)
    ace = struct.pack("<BBHI", 0, 0x03, 8 + len(everyone), 0x000F003F) + everyone
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(ace), 1, 0) + ace
    owner, group = _sid(5, 32, 544), _sid(5, 18)
    dacl_at = 20
    owner_at = dacl_at + len(acl)
    group_at = owner_at + len(owner)
    head = struct.pack("<BBHIIII", 1, 0, 0x8004, owner_at, group_at, 0, dacl_at)
    return head + acl + owner + group


class _Bins:
    """Cell allocator: 4 KiB hive bins (bigger for big cells), cells never cross a bin."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.bin_start = 0
        self.bin_end = 0

    def alloc(self, payload: bytes) -> int:
        size = (len(payload) + 4 + 7) & ~7
        if self.data and len(self.data) + size > self.bin_end:
            free = self.bin_end - len(self.data)
            if free:
                self.data += struct.pack("<i", free) + b"\x00" * (free - 4)
        if not self.data or len(self.data) + size > self.bin_end:
            self._new_bin(size)
        offset = len(self.data)
        self.data += struct.pack("<i", -size) + payload + b"\x00" * (size - 4 - len(payload))
        return offset

    def _new_bin(self, need: int) -> None:
        bin_size = max(4096, (need + 32 + 4095) & ~4095)
        self.bin_start = len(self.data)
        self.bin_end = self.bin_start + bin_size
        self.data += b"hbin" + struct.pack("<III", self.bin_start, bin_size, 0) + b"\x00" * 16

    def patch(self, offset: int, pos: int, payload: bytes) -> None:
        start = offset + 4 + pos
        self.data[start : start + len(payload)] = payload

    def finish(self, when: int) -> bytes:
        if len(self.data) < self.bin_end:
            free = self.bin_end - len(self.data)
            self.data += struct.pack("<i", free) + b"\x00" * (free - 4)
        # First bin carries the timestamp (offset 0x14 of the bin header).
        self.data[20:28] = struct.pack("<Q", when)
        return bytes(self.data)


class HiveWriter:
    """Serialise a ``RegistryKey`` tree.  Options mirror what real hives vary in."""

    def __init__(
        self,
        *,
        version: tuple[int, int] = (1, 5),
        list_kind: str | None = None,
        ri_threshold: int = 512,
        big_data: bool | None = None,
    ) -> None:
        self.version = version
        self.list_kind = list_kind or ("lh" if version >= (1, 5) else "lf")
        self.ri_threshold = ri_threshold
        self.big_data = version >= (1, 4) if big_data is None else big_data
        self.bins = _Bins()
        self.sk = 0
        self.keys = 0

    def build(self, root: RegistryKey) -> tuple[bytes, int]:
        """(hive bins bytes, root cell offset)."""
        root_offset = self._key(root, parent=NONE, is_root=True)
        self.bins.patch(self.sk, 4, struct.pack("<III", self.sk, self.sk, self.keys))
        return self.bins.finish(filetime(root.last_write)), root_offset

    def _key(self, key: RegistryKey, parent: int, is_root: bool = False) -> int:
        self.keys += 1
        name, compressed = _name_bytes(key.name)
        flags = (0x20 if compressed else 0) | (0x0C if is_root else 0)
        class_bytes = (key.class_name or "").encode("utf-16-le")
        # Reserve the nk cell first so the root sits at the start of the first bin, like Windows.
        nk_payload_len = 76 + len(name)
        nk = self.bins.alloc(b"\x00" * nk_payload_len)
        if is_root:  # regipy takes the first cell of the first bin as the root, as Windows lays it out
            sd = security_descriptor()
            self.sk = self.bins.alloc(b"sk" + struct.pack("<HIIII", 0, 0, 0, 0, len(sd)) + sd)
        class_off = self.bins.alloc(class_bytes) if class_bytes else NONE

        values = key.values()
        value_list = NONE
        max_vname = max_vdata = 0
        if values:
            offsets = []
            for v in values:
                data = encode_data(v)
                max_vname = max(max_vname, len(v.name) * 2)
                max_vdata = max(max_vdata, len(data))
                offsets.append(self._value(v, data))
            value_list = self.bins.alloc(struct.pack(f"<{len(offsets)}I", *offsets))

        children = sorted(key.subkeys(), key=lambda k: k.name.upper())
        child_offsets = [(c.name, self._key(c, nk)) for c in children]
        subkey_list = self._subkey_list(child_offsets) if child_offsets else NONE
        max_sub = max((len(c.name) * 2 for c in children), default=0)
        max_class = max((len((c.class_name or "").encode("utf-16-le")) for c in children), default=0)

        payload = b"nk" + struct.pack(
            "<HQ15IHH",
            flags,
            filetime(key.last_write),
            0,
            parent if not is_root else 0,
            len(children),
            0,
            subkey_list,
            NONE,
            len(values),
            value_list,
            self.sk,
            class_off,
            max_sub,
            max_class,
            max_vname,
            max_vdata,
            0,
            len(name),
            len(class_bytes),
        )
        self.bins.patch(nk, 0, payload + name)
        return nk

    def _value(self, value: RegistryValue, data: bytes) -> int:
        name, compressed = _name_bytes(value.name)
        code = type_code(value.type)
        if 0 < len(data) <= 4:
            size, where = len(data) | 0x80000000, int.from_bytes(data.ljust(4, b"\x00"), "little")
        elif not data:
            size, where = 0, NONE
        elif len(data) > BIG_DATA and self.big_data:
            size, where = len(data), self._big(data)
        else:
            size, where = len(data), self.bins.alloc(data)
        payload = b"vk" + struct.pack("<HIIIHH", len(name), size, where, code, 1 if compressed else 0, 0) + name
        return self.bins.alloc(payload)

    def _big(self, data: bytes) -> int:
        segments = [self.bins.alloc(data[i : i + BIG_DATA]) for i in range(0, len(data), BIG_DATA)]
        seg_list = self.bins.alloc(struct.pack(f"<{len(segments)}I", *segments))
        return self.bins.alloc(b"db" + struct.pack("<HI", len(segments), seg_list))

    def _subkey_list(self, children: list[tuple[str, int]]) -> int:
        if len(children) > self.ri_threshold:
            chunks = [children[i : i + self.ri_threshold] for i in range(0, len(children), self.ri_threshold)]
            leaves = [self._leaf(chunk) for chunk in chunks]
            return self.bins.alloc(b"ri" + struct.pack(f"<H{len(leaves)}I", len(leaves), *leaves))
        return self._leaf(children)

    def _leaf(self, children: list[tuple[str, int]]) -> int:
        kind = self.list_kind
        body = bytearray(kind.encode() + struct.pack("<H", len(children)))
        for name, offset in children:
            if kind == "li":
                body += struct.pack("<I", offset)
            elif kind == "lh":
                body += struct.pack("<II", offset, lh_hash(name))
            else:
                hint = name.encode("latin-1", errors="replace")[:4].ljust(4, b"\x00")
                body += struct.pack("<I", offset) + hint
        return self.bins.alloc(bytes(body))


def build_hive(
    root: RegistryKey,
    *,
    dirty: bool = False,
    file_name: str = "",
    version: tuple[int, int] = (1, 5),
    list_kind: str | None = None,
    ri_threshold: int = 512,
    big_data: bool | None = None,
    sequence: int = 7,
    written: datetime | None = None,
) -> bytes:
    """The bytes of a regf hive whose root key is ``root`` (root keeps its name)."""
    writer = HiveWriter(version=version, list_kind=list_kind, ri_threshold=ri_threshold, big_data=big_data)
    bins, root_offset = writer.build(root)
    secondary = sequence - 1 if dirty else sequence
    base = bytearray(4096)
    struct.pack_into(
        "<4sIIQIIIIIII",
        base,
        0,
        b"regf",
        sequence,
        secondary,
        filetime(written or root.last_write),
        version[0],
        version[1],
        0,
        1,
        root_offset,
        len(bins),
        1,
    )
    encoded = file_name.encode("utf-16-le")[-64:]
    base[48 : 48 + len(encoded)] = encoded
    struct.pack_into("<I", base, 508, base_checksum(base))
    return bytes(base) + bins


def base_checksum(base: bytes | bytearray) -> int:
    value = 0
    for (word,) in struct.iter_unpack("<I", bytes(base[:508])):
        value ^= word
    if value == 0xFFFFFFFF:
        return 0xFFFFFFFE
    return value or 1


def write_hive(path: str | Path, root: RegistryKey, **options: object) -> Path:
    """Write ``build_hive(root, **options)`` to ``path`` and return the path."""
    path = Path(path)
    path.write_bytes(build_hive(root, **options))  # type: ignore[arg-type]
    return path


def write_dirt_log(path: str | Path, dirty_hive: bytes, wanted_hive: bytes) -> Path:
    """Old-format (DIRT) log that turns ``dirty_hive`` into ``wanted_hive`` (same size).

    Layout: a 512-byte copy of the base block (file type 1), ``DIRT``, one bit per 512-byte
    sector of the hive bins, then the changed sectors at 512-byte alignment.
    """
    if len(dirty_hive) != len(wanted_hive):
        raise ValueError("hives must have the same size")
    hbins = len(wanted_hive) - 4096
    bitmap = bytearray(hbins // 4096)
    sectors = []
    for index in range(hbins // 512):
        at = 4096 + index * 512
        if dirty_hive[at : at + 512] != wanted_hive[at : at + 512]:
            bitmap[index // 8] |= 1 << (index % 8)
            sectors.append(wanted_hive[at : at + 512])
    head = bytearray(dirty_hive[:512])
    struct.pack_into("<I", head, 28, 1)
    struct.pack_into("<I", head, 508, base_checksum(head))
    body = bytes(head) + b"DIRT" + bytes(bitmap)
    body += b"\x00" * (-len(body) % 512)
    out = body + b"".join(sectors)
    path = Path(path)
    path.write_bytes(out)
    return path


# --------------------------------------------------------------------------- model helpers


def key_tree(
    name: str, entries: Mapping[str, Iterable[RegistryValue]], last_write: datetime | None = None
) -> RegistryKey:
    """A tree from ``{"A\\B": [values], ...}`` (paths relative to the root named ``name``)."""
    root = RegistryKey(name, last_write=last_write)
    for path, values in entries.items():
        node = root.ensure_path([p for p in path.split("\\") if p])
        if last_write is not None:
            node.last_write = last_write
        for value in values:
            node.set_value(value)
    return root


def dword(name: str, number: int) -> RegistryValue:
    return RegistryValue(name, "REG_DWORD", number, struct.pack("<I", number))


def multi_sz(name: str, items: list[str]) -> RegistryValue:
    raw = ("".join(s + "\x00" for s in items) + "\x00").encode("utf-16-le")
    return RegistryValue(name, "REG_MULTI_SZ", items, raw)


def offline_system(
    control_sets: Mapping[int, Mapping[str, Iterable[RegistryValue]]],
    *,
    current: int = 1,
    default: int | None = None,
    failed: int = 0,
    last_known_good: int | None = None,
    root_name: str = "CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}",
) -> RegistryKey:
    """An offline SYSTEM hive model: ControlSet00N trees + Select, no CurrentControlSet."""
    root = RegistryKey(root_name, last_write=DEFAULT_TIME)
    for number, entries in control_sets.items():
        cs = key_tree(f"ControlSet{number:03d}", entries, last_write=DEFAULT_TIME)
        root._subkeys[cs.name.casefold()] = cs
        cs.add_subkey("Control")
    select = root.add_subkey("Select")
    lkg = last_known_good if last_known_good is not None else current
    for name, number in (
        ("Current", current),
        ("Default", default or current),
        ("Failed", failed),
        ("LastKnownGood", lkg),
    ):
        select.set_value(dword(name, number))
    return root


__all__ = [
    "HiveWriter",
    "build_hive",
    "dword",
    "key_tree",
    "multi_sz",
    "offline_system",
    "write_dirt_log",
    "write_hive",
]
