"""Zip archives (stdlib ``zipfile``): the central directory declares every member upfront."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from analyzer.archives.safety import Extraction, Member, Refused, Unsupported
from analyzer.model import exception_line

_KINDS = {stat.S_IFLNK: "symlink", stat.S_IFCHR: "device", stat.S_IFBLK: "device", stat.S_IFIFO: "fifo"}


def extract(path: str, x: Extraction) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise Refused(f"corrupt zip archive ({exception_line(exc)})") from None
    with zf:
        members = [_member(zf, info) for info in sorted(zf.infolist(), key=lambda i: i.filename)]
        x.check_declared(members)
        for m in members:
            x.copy(m)


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Member:
    ftype = stat.S_IFMT(info.external_attr >> 16)  # Unix file type bits; 0 for DOS/Windows zips
    if info.filename.endswith("/") or ftype == stat.S_IFDIR:  # not info.is_dir(): IndexError on an empty name
        kind = "dir"
    elif ftype and ftype != stat.S_IFREG:
        kind = _KINDS.get(ftype, "socket")
    else:
        kind = "file"

    @contextmanager
    def opener() -> Iterator[BinaryIO]:
        try:
            src = zf.open(info)
        except NotImplementedError as exc:  # an unknown compression method: this member only
            raise Unsupported(exception_line(exc)) from None
        with src:
            # zipfile checks the CRC on the read that returns the last bytes and then drops them;
            # damaged evidence is still evidence, so the safety layer checks the CRC instead.
            if hasattr(src, "_expected_crc"):
                src._expected_crc = None
            yield src  # type: ignore[misc]

    return Member(
        info.filename,
        info.file_size,
        info.compress_size,
        kind=kind,
        encrypted=bool(info.flag_bits & 0x1),
        crc32=info.CRC,
        open=opener,
    )
