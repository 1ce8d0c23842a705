"""Every file the tool writes goes through here: whole or not at all.

Why: a report, a .reg patch or a summary cut short by a full disk looks whole to the next reader
(our own .reg reader accepted a patch whose last DN was cut in half).  So each output is written to
a temp file in the target folder, flushed, fsynced and renamed over the target; on any error the
temp file is removed, the target is left as it was, and ``OutputError`` says which file and why in
one line (the commands turn it into exit code 2).

* ``atomic_write(path)`` -- a context manager yielding a text (or binary) file object.
* ``write_files([(path, data), ...])`` -- several files as a group (the patch and its rollback):
  all are written and synced before any is renamed; on an error none is left behind.
* ``open_temp`` -- the seam that opens the temp file; tests replace it with a file object that
  fails like a full disk after N bytes.
* A target that is not a regular file (``-o /dev/null``, ``/dev/stdout``, a FIFO, Windows' ``NUL``) is
  written in place: renaming a temp over it would replace the device with a plain file (as root, a
  ``/dev/null`` that fills up).  Whole-or-nothing has no meaning for a device anyway.
* ``stdout_failed(exc)`` -- after a write error on standard output (``/dev/full``, a closed pipe):
  point the stream at the null device so that the interpreter's final flush cannot fail again.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from analyzer.model import InputError


class OutputError(InputError):
    """An output file could not be written; nothing partial was left.  ``str()`` is the one-line message.

    A subclass of InputError so that every command already reports it as one line with exit code 2."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        from analyzer.terminal import shown_name  # a write failed: a report that writes fine never loads it

        super().__init__(shown_name(os.fspath(path)), f"cannot write: {reason}")


def open_temp(path: str) -> BinaryIO:
    """Create the temp file exclusively (never follows or reuses someone else's file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o666)
    return os.fdopen(fd, "wb")


def temp_name(target: Path) -> Path:
    """A hidden name beside ``target`` (same folder, so the rename stays on one file system); 8 random hex
    digits keep two writers of one process apart (``os.urandom``: ``uuid`` would load ``platform`` too)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


def sync_folder(folder: Path) -> None:
    """Make the renames into ``folder`` durable where the platform allows opening a folder (not on Windows)."""
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def _temp_for(target: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """The open temp file for ``target``; removed again unless the caller renamed it."""
    tmp = temp_name(target)
    try:
        raw = open_temp(str(tmp))
    except OSError as exc:
        raise OutputError(target, _reason(exc)) from None
    try:
        yield tmp, raw
    finally:
        with contextlib.suppress(Exception):
            raw.close()
        with contextlib.suppress(FileNotFoundError, OSError):
            os.unlink(tmp)


_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"] + [f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)]
)


def windows_device_name(name: str) -> bool:
    """Windows treats ``NUL``, ``nul.txt``, ``COM3`` ... as devices in any folder (the extension is ignored)."""
    return name.split(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES


def is_device(target: Path) -> bool:
    """True when ``target`` exists and is not a regular file (a device, FIFO or socket), or is one of
    Windows' reserved device names: such a target is written in place, never renamed over."""
    if os.name == "nt" and windows_device_name(target.name):
        return True
    try:
        mode = os.stat(target).st_mode
    except (OSError, ValueError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


@contextmanager
def _device_for(target: Path) -> Iterator[tuple[None, BinaryIO]]:
    """The device itself, opened for writing: no temp (None), no rename."""
    try:
        raw = open(target, "wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise OutputError(target, _reason(exc)) from None
    try:
        yield None, raw
    finally:
        with contextlib.suppress(Exception):
            raw.close()


def _finish(raw: BinaryIO) -> None:
    raw.flush()
    os.fsync(raw.fileno())
    raw.close()


@contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    *,
    binary: bool = False,
    encoding: str = "utf-8",
    newline: str | None = "",
    folder_sync: bool = True,
) -> Iterator[IO[Any]]:
    """Write ``path`` whole or not at all (see the module docstring); raises ``OutputError``.

    Text mode writes UTF-8 with the newlines given (``newline=""``: exactly as written).  An exception
    raised by the caller's block also removes the temp file and is re-raised unchanged.
    ``folder_sync=False``: the caller syncs the folder itself (``sync_folder``) once after many files
    (triage writes one per case); each file is still whole or absent, only the renames' durability
    waits for that sync."""
    target = Path(path)
    device = is_device(target)
    with _device_for(target) if device else _temp_for(target) as (tmp, raw):
        stream: IO[Any] = raw if binary else io.TextIOWrapper(raw, encoding=encoding, newline=newline)
        try:
            yield stream
            stream.flush()
            if tmp is not None:  # a file: synced, then renamed over the target
                _finish(raw)
                os.replace(tmp, target)
        except OSError as exc:
            raise OutputError(target, _reason(exc)) from None
        except UnicodeEncodeError as exc:
            raise OutputError(target, f"text cannot be encoded as {encoding} ({exc.reason})") from None
        finally:
            if not binary:
                with contextlib.suppress(Exception):
                    stream.detach()  # type: ignore[attr-defined]  # the raw file is closed by its opener
    if not device and folder_sync:
        sync_folder(target.parent)


def write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    with atomic_write(path, encoding=encoding) as fh:
        fh.write(text)


def write_files(files: Sequence[tuple[str | os.PathLike[str], bytes]]) -> None:
    """Write several files as a group: every one, or (on an error) none of them.

    All temps are written and synced first, then renamed in reverse order, so the first file (the
    patch) appears last: if a rename fails, the files already renamed are removed again."""
    with contextlib.ExitStack() as stack:
        temps: list[tuple[Path, Path]] = []
        devices: list[tuple[Path, bytes]] = []
        for path, data in files:
            target = Path(path)
            if is_device(target):
                devices.append((target, data))
                continue
            tmp, raw = stack.enter_context(_temp_for(target))
            try:
                raw.write(data)
                _finish(raw)
            except OSError as exc:
                raise OutputError(target, _reason(exc)) from None
            temps.append((tmp, target))
        done: list[Path] = []
        for tmp, target in reversed(temps):
            try:
                os.replace(tmp, target)
            except OSError as exc:
                for written in done:
                    with contextlib.suppress(OSError):
                        os.unlink(written)
                raise OutputError(target, _reason(exc)) from None
            done.append(target)
        for target, data in devices:  # last: a regular file of the group is never left without its mate
            with _device_for(target) as (_, raw):
                try:
                    raw.write(data)
                    raw.flush()
                except OSError as exc:
                    raise OutputError(target, _reason(exc)) from None
    for folder in {t.parent for _, t in temps}:
        sync_folder(folder)


def stdout_failed(exc: OSError) -> str:
    """The one-line error for a failed write to standard output; stdout is then silenced.

    A closed pipe (``| head -1``) is normal and returns "" (nothing to report)."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    if isinstance(exc, BrokenPipeError):
        return ""
    return f"<stdout>: cannot write: {_reason(exc)}"


__all__ = ["OutputError", "atomic_write", "is_device", "open_temp", "stdout_failed", "write_files", "write_text"]
