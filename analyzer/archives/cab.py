"""Microsoft cabinets (.cab, as MPS Reports writes them), read with ``cabarchive``.

Why a header walk of our own before the library: ``cabarchive`` decompresses a whole cabinet in
memory, so the caps must be applied to what the cabinet declares -- its files and, per folder, the
uncompressed size of every data block -- before it is handed over.  The walk also names what the
library cannot read (LZX and Quantum compression, cabinets spanning several files) in one line.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from analyzer.archives.safety import Extraction, Member, Opener, Refused, Unsupported, size_text
from analyzer.model import exception_line

_HEADER = struct.Struct("<4sIIIIIBBHHHHH")
_FOLDER = struct.Struct("<IHH")
_FILE = struct.Struct("<IIHHHH")
_DATA = struct.Struct("<IHH")
_METHODS = {0: "none", 1: "MSZIP", 2: "Quantum", 3: "LZX"}
_READABLE = {0, 1}


@dataclass
class CabLayout:
    """What a cabinet declares: its files and the uncompressed bytes of all its folders."""

    members: list[Member]
    folder_bytes: int
    methods: set[int]


def extract(path: str, x: Extraction) -> None:
    limit = x.limits.max_cab_size
    if x.archive_size > limit:
        raise Refused(f"cabinet of {size_text(x.archive_size)} is read in memory; limit {size_text(limit)}")
    with open(path, "rb") as fh:
        buf = fh.read()
    layout = read_layout(buf)
    unreadable = sorted(layout.methods - _READABLE)
    if unreadable:
        names = ", ".join(_METHODS.get(m, f"method {m}") for m in unreadable)
        raise Unsupported(f"{names}-compressed cabinet: not supported (only uncompressed and MSZIP cabinets are read)")
    x.check_declared(layout.members)
    lim = x.limits
    if x.budget.extracted + layout.folder_bytes > lim.max_total_size:
        raise Refused(f"uncompressed size {size_text(layout.folder_bytes)} exceeds the case limit")
    if layout.folder_bytes > lim.ratio_min_size and layout.folder_bytes > lim.max_ratio * max(x.archive_size, 1):
        raise Refused(
            f"cab bomb suspected: expands {layout.folder_bytes / max(x.archive_size, 1):.0f}x "
            f"(limit {lim.max_ratio:g}x)"
        )
    from cabarchive import CabArchive  # imported on use: start-up stays fast for cases without cabinets

    try:
        archive = CabArchive(buf)
    except Exception as exc:  # CorruptionError, NotSupportedError, a bad name's UnicodeDecodeError …
        raise Refused(f"corrupt cab archive ({exception_line(exc)})") from None
    del buf
    declared = {m.name: m for m in layout.members}
    for name in sorted(archive):
        data = archive[name].buf or b""
        m = declared.get(name) or Member(name, len(data))
        x.copy(Member(name, len(data), kind=m.kind, open=_opener(data)))


def _opener(data: bytes) -> Opener:
    @contextmanager
    def opener() -> Iterator[BinaryIO]:
        yield io.BytesIO(data)

    return opener


def read_layout(buf: bytes) -> CabLayout:
    """Walk the CFHEADER, CFFOLDER, CFFILE and CFDATA headers (no decompression)."""
    try:
        (sig, _r1, size, _r2, off_files, _r3, minor, major, n_folders, n_files, flags, _set, index) = (
            _HEADER.unpack_from(buf, 0)
        )
    except struct.error:
        raise Refused("corrupt cab archive (truncated header)") from None
    if sig != b"MSCF":
        raise Refused("corrupt cab archive (no MSCF signature)")
    if flags & 0x3 or index != 0:
        raise Unsupported("cabinet spanning several files: not supported (give the single-file cabinet)")
    offset = _HEADER.size
    reserve_folder = reserve_block = 0
    try:
        if flags & 0x4:
            reserve_header, reserve_folder, reserve_block = struct.unpack_from("<HBB", buf, offset)
            offset += 4 + reserve_header
        folders: list[tuple[int, int, int]] = []
        for _ in range(n_folders):
            folders.append(_FOLDER.unpack_from(buf, offset))
            offset += _FOLDER.size + reserve_folder
        folder_bytes = 0
        methods: set[int] = set()
        for start, blocks, method in folders:
            methods.add(method & 0xF)
            pos = start
            for _ in range(blocks):
                _sum, packed, unpacked = _DATA.unpack_from(buf, pos)
                folder_bytes += unpacked
                pos += _DATA.size + reserve_block + packed
        members: list[Member] = []
        pos = off_files
        for _ in range(n_files):
            file_size, _start, _folder, _date, _time, _attr = _FILE.unpack_from(buf, pos)
            pos += _FILE.size
            end = buf.index(b"\x00", pos, pos + 256)
            name = buf[pos:end].decode("utf-8", "replace")
            pos = end + 1
            members.append(Member(name, file_size))
    except (struct.error, ValueError):
        raise Refused("corrupt cab archive (truncated or inconsistent headers)") from None
    if major != 1 or minor != 3 or size > len(buf):
        raise Refused(f"corrupt cab archive (version {major}.{minor}, {size} of {len(buf)} bytes declared)")
    return CabLayout(members, folder_bytes, methods)
