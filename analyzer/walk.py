"""Listing a case folder and hashing its files without recursion, link-following or wasted reads.

Why not ``os.walk``: before Python 3.12 it recurses once per folder level, so a folder nested a few
thousand levels deep ends in a ``RecursionError``; and its ``onerror`` is easy to leave out, so a
sub-folder the process may not read is skipped silently (a hive in it would be missed unseen).
``walk_folder`` uses an explicit stack and reports every folder it could not read.

``sha256_file`` skips reading the holes of sparse files (``SEEK_DATA``/``SEEK_HOLE`` where the
platform has them; a plain read everywhere else): a hole reads as zeros, so zeros are hashed for it
without touching the disk.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field

CHUNK = 1 << 20
_ZEROS = bytes(CHUNK)


@dataclass
class Listing:
    """What ``walk_folder`` found: files as (relative path with ``/``, real path), sorted by relative path."""

    files: list[tuple[str, str]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # relative paths of symbolic links (never followed)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (relative folder, reason)


def walk_folder(folder: str) -> Listing:
    """Every regular entry below ``folder`` (any depth), links and unreadable folders reported."""
    out = Listing()
    stack: list[tuple[str, str]] = [(folder, "")]
    while stack:
        path, rel = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as exc:
            out.unreadable.append((rel or ".", exc.strerror or str(exc)))
            continue
        subfolders = []
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            try:
                if entry.is_symlink():
                    out.links.append(child)
                elif entry.is_dir(follow_symlinks=False):
                    subfolders.append((entry.path, child))
                else:
                    out.files.append((child, entry.path))
            except OSError as exc:
                out.unreadable.append((child, exc.strerror or str(exc)))
        stack.extend(sorted(subfolders, reverse=True))
    out.files.sort()
    out.links.sort()
    return out


def sha256_file(path: str) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, streamed in 1 MiB chunks; holes of sparse files are not read."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for start, end, is_data in _regions(fh):
            if is_data:
                fh.seek(start)
                remaining = end - start
                while remaining > 0 and (chunk := fh.read(min(CHUNK, remaining))):
                    digest.update(chunk)
                    size += len(chunk)
                    remaining -= len(chunk)
                if remaining > 0:  # the file shrank while being hashed: hash what is there
                    break
            else:
                for pos in range(start, end, CHUNK):
                    n = min(CHUNK, end - pos)
                    digest.update(_ZEROS if n == CHUNK else _ZEROS[:n])
                    size += n
        else:
            fh.seek(size)
            while chunk := fh.read(CHUNK):  # anything appended meanwhile, or the whole file without SEEK_DATA
                digest.update(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


def _regions(fh: object) -> list[tuple[int, int, bool]]:
    """(start, end, is_data) spans of the file; one data span when holes cannot be found."""
    fd = fh.fileno()  # type: ignore[attr-defined]
    st = os.fstat(fd)
    size = st.st_size
    seek_data, seek_hole = getattr(os, "SEEK_DATA", None), getattr(os, "SEEK_HOLE", None)
    if not stat.S_ISREG(st.st_mode) or seek_data is None or seek_hole is None or size == 0:
        return []
    spans: list[tuple[int, int, bool]] = []
    pos = 0
    try:
        while pos < size:
            try:
                data = os.lseek(fd, pos, seek_data)
            except OSError:  # ENXIO: only a hole remains up to the end
                data = size
            if data > pos:
                spans.append((pos, min(data, size), False))
            if data >= size:
                break
            hole = min(os.lseek(fd, data, seek_hole), size)
            spans.append((data, hole, True))
            pos = hole
    except OSError:  # the file system cannot say: read everything
        return []
    return spans


__all__ = ["Listing", "sha256_file", "walk_folder"]
