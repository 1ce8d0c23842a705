"""Single compressed files: ``AppEvent.Evt.gz``, ``SYSTEM.bz2``, ``SYSTEM.xz`` (stdlib gzip, bz2, lzma).

The stream declares no size, so the safety layer caps it while it is decompressed (member size,
case total, and the ratio to the compressed file: a 1 KiB .gz that inflates to gigabytes is a bomb).
The member is named after the file without its compression suffix.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from analyzer.archives.safety import Extraction, Member, Refused

SUFFIXES = {"gzip": (".gz", ".z", ".gzip"), "bzip2": (".bz2", ".bz"), "xz": (".xz", ".lzma")}
_TAR_SUFFIXES = {".tgz": ".tar", ".tbz": ".tar", ".tbz2": ".tar", ".txz": ".tar"}


@contextmanager
def open_stream(path: str, compression: str) -> Iterator[BinaryIO]:
    """The decompressed byte stream of a gzip, bzip2 or xz file."""
    opener = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[compression]
    with opener(path, "rb") as stream:
        yield stream  # type: ignore[misc]


def member_name(path: str, compression: str) -> str:
    """``AppEvent.Evt.gz`` -> ``AppEvent.Evt``; ``case.tgz`` -> ``case.tar``; no suffix: the name itself."""
    name = os.path.basename(path)
    stem, ext = os.path.splitext(name)
    if ext.lower() in SUFFIXES[compression] and stem:
        return stem
    if ext.lower() in _TAR_SUFFIXES and stem:
        return stem + _TAR_SUFFIXES[ext.lower()]
    return name


def extract(path: str, x: Extraction, compression: str) -> None:
    m = Member(member_name(path, compression), None, open=lambda: open_stream(path, compression))
    x.count(m)
    x.copy(m)
    if not x.files:  # the one member could not be read at all (said above): the file is damaged
        raise Refused(f"corrupt {x.label} file: nothing could be decompressed")
