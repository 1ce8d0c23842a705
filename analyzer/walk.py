"""Listing a case folder and hashing its files without recursion, link-following or wasted reads.

Why not ``os.walk``: before Python 3.12 it recurses once per folder level, so a folder nested a few
thousand levels deep ends in a ``RecursionError``; and its ``onerror`` is easy to leave out, so a
sub-folder the process may not read is skipped silently (a hive in it would be missed unseen).
``walk_folder`` uses an explicit stack and reports every folder it could not read.

``sha256_file`` skips reading the holes of sparse files (``SEEK_DATA``/``SEEK_HOLE`` where the
platform has them; a plain read everywhere else): a hole reads as zeros, so zeros are hashed for it
without touching the disk.

``BackgroundHasher`` hashes big files on one worker thread while the caller goes on (sniffing, then
reading the same file): file reads and ``hashlib`` release the GIL, so with a spare core the hash of a
big log costs no wall time; the digest is the same ``sha256_file`` gives.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import BinaryIO

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
    with open(path, "rb") as fh:
        return sha256_open(fh)


class HashStopped(OSError):
    """A background hash was abandoned (``BackgroundHasher.close`` before it finished)."""


def sha256_open(fh: BinaryIO, stop: threading.Event | None = None) -> tuple[str, int]:
    """``sha256_file`` of a file already open; raises ``HashStopped`` between chunks once ``stop`` is set."""
    digest = hashlib.sha256()
    size = 0

    def feed(chunk: bytes) -> None:
        nonlocal size
        if stop is not None and stop.is_set():
            raise HashStopped("hashing stopped")
        digest.update(chunk)
        size += len(chunk)

    for start, end, is_data in _regions(fh):
        if is_data:
            fh.seek(start)
            remaining = end - start
            while remaining > 0 and (chunk := fh.read(min(CHUNK, remaining))):
                feed(chunk)
                remaining -= len(chunk)
            if remaining > 0:  # the file shrank while being hashed: hash what is there
                break
        else:
            for pos in range(start, end, CHUNK):
                n = min(CHUNK, end - pos)
                feed(_ZEROS if n == CHUNK else _ZEROS[:n])
    else:
        fh.seek(size)
        while chunk := fh.read(CHUNK):  # anything appended meanwhile, or the whole file without SEEK_DATA
            feed(chunk)
    return digest.hexdigest(), size


class PendingDigest:
    """The SHA-256 and size of a file a ``BackgroundHasher`` is hashing; ``result`` waits for them."""

    __slots__ = ("_done", "_error", "_value", "fh")

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self._done = threading.Event()
        self._value: tuple[str, int] = ("", 0)
        self._error: OSError | None = None

    def result(self) -> tuple[str, int]:
        """(hex digest, size) as ``sha256_file`` gives them; the OSError of a failed or stopped hash."""
        while not self._done.wait(0.05):  # in steps: a time limit's asynchronous exception can land meanwhile
            pass
        if self._error is not None:
            raise self._error
        return self._value

    def _run(self, stop: threading.Event) -> None:
        try:
            with self.fh:
                self._value = sha256_open(self.fh, stop)
        except OSError as exc:
            self._error = exc
        finally:
            self._done.set()


class BackgroundHasher:
    """Hashes files on one worker thread, in the order given, while the caller goes on.

    ``submit`` takes a file the caller has opened (so that a file that cannot be opened fails at once, in
    the caller); ``close`` stops the worker: a hash not finished by then is abandoned (its ``result``
    raises ``HashStopped``) and the thread is joined, so nothing keeps reading after the caller is done.
    """

    def __init__(self) -> None:
        self._jobs: deque[PendingDigest] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, fh: BinaryIO) -> PendingDigest:
        pending = PendingDigest(fh)
        with self._lock:
            self._jobs.append(pending)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="analyzer-hash", daemon=True)
                self._thread.start()
        return pending

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._thread = None
                    return
                pending = self._jobs.popleft()
            pending._run(self._stop)

    def close(self) -> None:
        """Stop hashing and wait for the worker (abandoned hashes raise ``HashStopped``)."""
        self._stop.set()
        with self._lock:
            thread = self._thread
            abandoned = list(self._jobs)
            self._jobs.clear()
        for pending in abandoned:
            pending._error = HashStopped("hashing stopped")
            pending.fh.close()
            pending._done.set()
        if thread is not None:
            thread.join()


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


__all__ = ["BackgroundHasher", "HashStopped", "Listing", "PendingDigest", "sha256_file", "sha256_open", "walk_folder"]
