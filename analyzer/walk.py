"""Listing a case folder and hashing its files without recursion, link-following or wasted reads.

Why not ``os.walk``: before Python 3.12 it recurses once per folder level, so a folder nested a few
thousand levels deep ends in a ``RecursionError``; and its ``onerror`` is easy to leave out, so a
sub-folder the process may not read is skipped silently (a hive in it would be missed unseen).
``walk_folder`` uses an explicit stack and reports every folder it could not read.

``sha256_file`` skips reading the holes of sparse files (``SEEK_DATA``/``SEEK_HOLE`` where the
platform has them; a plain read everywhere else): a hole reads as zeros, so zeros are hashed for it
without touching the disk.

``BackgroundHasher`` hashes big files on one worker thread while the caller goes on (sniffing, then
reading the same file): file reads and ``hashlib`` release the GIL; the digest is the same
``sha256_file`` gives.

A job can be *tapped* so that a file is read from disk once: the reader that reads the whole file
anyway (the .evtx reader, finding the digest of its file with ``tap_for``) hashes each piece it read
(``PendingDigest.attach``/``feed``/``detach``).  In the reader's thread, not handed to the worker:
measured on an 80 MB log, the worker thread hashing beside a reader that is busy in Python costs
~60 ms more CPU (the two take the GIL from each other at every call) for no gain in wall time, while
``update`` on the reader's buffer adds ~45 ms and no copy.  The tap is a shortcut, never trusted for
the answer: a piece is taken only where it continues what was fed, and once the reader is done --
finished, stopped early, failed, or never came -- the worker hashes from disk the rest of the file
(all of it when the file changed meanwhile).
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
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
    size = _hash_from(fh, digest, 0, stop)
    return digest.hexdigest(), size


def _hash_from(fh: BinaryIO, digest: hashlib._Hash, start: int, stop: threading.Event | None) -> int:
    """Hash the file from offset ``start`` to its end into ``digest``; the offset reached (= the size when
    ``digest`` held the bytes before ``start``).  Holes are hashed as the zeros they read as."""
    pos = start

    def feed(chunk: bytes) -> None:
        nonlocal pos
        if stop is not None and stop.is_set():
            raise HashStopped("hashing stopped")
        digest.update(chunk)
        pos += len(chunk)

    for region_start, end, is_data in _regions(fh):
        if end <= pos:
            continue
        if is_data:
            fh.seek(pos)
            remaining = end - pos
            while remaining > 0 and (chunk := fh.read(min(CHUNK, remaining))):
                feed(chunk)
                remaining -= len(chunk)
            if remaining > 0:  # the file shrank while being hashed: hash what is there
                break
        else:
            for at in range(max(region_start, pos), end, CHUNK):
                n = min(CHUNK, end - at)
                feed(_ZEROS if n == CHUNK else _ZEROS[:n])
    else:
        fh.seek(pos)
        while chunk := fh.read(CHUNK):  # anything appended meanwhile, or the whole file without SEEK_DATA
            feed(chunk)
    return pos


class PendingDigest:
    """The SHA-256 and size of a file a ``BackgroundHasher`` is hashing; ``result`` waits for them.

    A tapped job (``BackgroundHasher.submit(fh, tap=True)``) is held for the file's one reader:
    ``attach`` the reader's own handle (True when it is this very file), ``feed`` each piece read, in
    file order, ``detach`` when done.  Only then does the worker take the job, and hash from disk what
    the reader did not feed: the rest of the file, or all of it when the file changed meanwhile (or
    ``detach`` came without ``attach``: no reader will come).  Anyone waiting in ``result`` (for any job
    of the hasher) or ``BackgroundHasher.close`` ends the wait for the reader.
    """

    __slots__ = ("_attached", "_digest", "_done", "_error", "_fed_to", "_hasher", "_open", "_seen", "_value", "fh")

    def __init__(self, fh: BinaryIO, hasher: BackgroundHasher | None = None, *, tap: bool = False) -> None:
        self.fh = fh
        self._hasher = hasher
        self._done = threading.Event()
        self._value: tuple[str, int] = ("", 0)
        self._error: OSError | None = None
        # Held for its reader (the worker leaves it alone until this is False); changed under hasher._cond.
        self._open = tap and hasher is not None
        self._seen: os.stat_result | None = os.fstat(fh.fileno()) if self._open else None
        self._attached = False
        self._digest = hashlib.sha256()  # of the bytes fed, file offsets 0 to _fed_to
        self._fed_to = 0

    def result(self) -> tuple[str, int]:
        """(hex digest, size) as ``sha256_file`` gives them; the OSError of a failed or stopped hash."""
        hasher = self._hasher if not self._done.is_set() else None
        counted = False
        try:
            if hasher is not None:
                with hasher._cond:  # held jobs are no longer held for their readers
                    hasher._waiting += 1
                    counted = True
                    hasher._cond.notify_all()
            while not self._done.wait(0.05):  # in steps: a time limit's asynchronous exception can land meanwhile
                pass
        finally:
            if counted:
                with hasher._cond:  # type: ignore[union-attr]
                    hasher._waiting -= 1  # type: ignore[union-attr]
        if self._error is not None:
            raise self._error
        return self._value

    # -- the reader's side of a tap --
    def attach(self, fh: BinaryIO) -> bool:
        """The reader opened ``fh`` to read the file from its start: True when what it reads is to be
        fed (the job is held for a reader, none came before, and ``fh`` is the very file hashed)."""
        hasher, held = self._hasher, self._seen
        if hasher is None or held is None:
            return False
        mine = os.fstat(fh.fileno())
        with hasher._cond:
            if not self._open or self._attached or not os.path.samestat(mine, held):
                return False
            self._attached = True
            self._seen = mine  # the file as the reader began: a change after this means hashing anew
            return True

    def feed(self, offset: int, data: memoryview | bytes | bytearray) -> None:
        """The reader read ``data`` at ``offset``: hashed at once when it continues what was fed (else
        ignored), so ``data`` may be a buffer the reader reuses.  ``update`` lets go of the GIL."""
        hasher = self._hasher
        if hasher is None:
            return
        with hasher._cond:
            if self._open and self._attached and offset == self._fed_to:
                self._digest.update(data)
                self._fed_to += len(data)

    def detach(self) -> None:
        """The reader is done with the file (finished, stopped or failed), or none will come: the worker
        takes the job and hashes from disk whatever was not fed."""
        hasher = self._hasher
        if hasher is None:
            return
        with hasher._cond:
            if self._open:
                self._open = False
                hasher._cond.notify_all()

    # -- the worker's side (the job is no longer held: nothing is fed any more) --
    def _run(self, stop: threading.Event) -> None:
        try:
            with self.fh:
                self._value = self._finish(stop) if self._attached else sha256_open(self.fh, stop)
        except OSError as exc:
            self._error = exc
        finally:
            self._done.set()

    def _finish(self, stop: threading.Event) -> tuple[str, int]:
        """The digest of the fed bytes completed from disk; from scratch when the file changed (size or
        modification time) since the reader attached, as its bytes may then be stale."""
        digest, pos, seen = self._digest, self._fed_to, self._seen
        now = os.fstat(self.fh.fileno())
        if seen is None or now.st_size < pos or (now.st_size, now.st_mtime_ns) != (seen.st_size, seen.st_mtime_ns):
            digest, pos = hashlib.sha256(), 0
        pos = _hash_from(self.fh, digest, pos, stop)
        return digest.hexdigest(), pos


class BackgroundHasher:
    """Hashes files on one worker thread while the caller goes on.

    ``submit`` takes a file the caller has opened (so that a file that cannot be opened fails at once, in
    the caller); jobs are hashed in the order given, except that one held for its reader (``tap``) waits
    while the jobs after it go ahead.  ``close`` stops the worker: a hash not finished by then is
    abandoned (its ``result`` raises ``HashStopped``) and the thread is joined, so nothing keeps reading
    after the caller is done.
    """

    def __init__(self) -> None:
        self._jobs: deque[PendingDigest] = deque()
        self._cond = threading.Condition()  # guards the jobs and every job's tap state
        self._waiting = 0  # threads in ``PendingDigest.result`` of a job not done: no job is held then
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, fh: BinaryIO, *, tap: bool = False) -> PendingDigest:
        """Hash ``fh`` (closed once hashed); ``tap``: held for a reader to feed it (``PendingDigest``)."""
        pending = PendingDigest(fh, self, tap=tap)
        with self._cond:
            self._jobs.append(pending)
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="analyzer-hash", daemon=True)
                self._thread.start()
        return pending

    def _next(self) -> PendingDigest | None:
        """The first job not held for its reader (the first of all while someone awaits a digest); None
        when there are no jobs or the hasher is stopped."""
        with self._cond:
            while self._jobs and not self._stop.is_set():
                job = next((j for j in self._jobs if not j._open), None)
                if job is None and self._waiting:
                    job = self._jobs[0]
                    job._open = False  # its reader's later bytes are ignored: the rest is read here
                if job is not None:
                    self._jobs.remove(job)
                    return job
                self._cond.wait()
            self._thread = None
            return None

    def _work(self) -> None:
        while (pending := self._next()) is not None:
            pending._run(self._stop)

    def close(self) -> None:
        """Stop hashing and wait for the worker (abandoned hashes raise ``HashStopped``)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            thread = self._thread
            abandoned = list(self._jobs)
            self._jobs.clear()
            for pending in abandoned:
                pending._open = False
        for pending in abandoned:
            pending._error = HashStopped("hashing stopped")
            pending.fh.close()
            pending._done.set()
        if thread is not None:
            thread.join()


_TAPS: ContextVar[Mapping[str, PendingDigest] | None] = ContextVar("analyzer_hash_taps", default=None)


@contextmanager
def offering_taps(taps: Mapping[str, PendingDigest]) -> Iterator[None]:
    """Within the block, ``tap_for`` finds the tapped digests of ``taps`` (file path -> digest) --
    in this thread (or task) only, so cases read side by side never see each other's."""
    previous = _TAPS.get()
    _TAPS.set({**previous, **taps} if previous else taps)
    try:
        yield
    finally:
        _TAPS.set(previous)


def tap_for(path: str) -> PendingDigest | None:
    """The digest waiting for a reader of ``path``, offered by the case being read (``offering_taps``)."""
    taps = _TAPS.get()
    return taps.get(path) if taps else None


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


__all__ = [
    "BackgroundHasher",
    "HashStopped",
    "Listing",
    "PendingDigest",
    "offering_taps",
    "sha256_file",
    "sha256_open",
    "tap_for",
    "walk_folder",
]
