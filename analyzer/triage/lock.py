"""One triage run per output folder: a lock file created exclusively, with the owner's pid.

Why: two runs writing into one ``--out`` (from different roots, or the same one twice) interleave
case files and summaries, and the summary then contradicts the case files.  ``O_CREAT | O_EXCL``
works the same on every platform and file system (no ``fcntl``); a lock left behind by a run that
was killed (``kill -9``, a power cut) is recognised because its process no longer exists on this
machine, and is taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_NAME = ".analyzer-triage.lock"


class LockedError(Exception):
    """Another run holds the output folder; ``str()`` is the one-line message."""


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a permission error still means it exists)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill would terminate the process there
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class OutputLock:
    """Context manager holding ``DIR/.analyzer-triage.lock`` for the run; raises ``LockedError``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.held = False

    def __enter__(self) -> OutputLock:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for _attempt in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and self._stale(owner):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.path)  # the run that held it is gone
                    continue
                who = f"process {owner.get('pid')} on {owner.get('host')}" if owner else "another run"
                since = f" since {owner.get('started')}" if owner and owner.get("started") else ""
                raise LockedError(
                    f"{self.path.parent}: output folder in use by {who}{since} "
                    f"(another triage writes there; if none does, remove {self.path})"
                ) from None
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            self.held = True
            return self
        raise LockedError(f"{self.path.parent}: could not take the output folder's lock ({self.path})")

    def _owner(self) -> dict[str, object] | None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                owner = json.load(fh)
            return owner if isinstance(owner, dict) else None
        except (OSError, ValueError):
            return None

    @staticmethod
    def _stale(owner: dict[str, object]) -> bool:
        """Only a lock of this machine whose process is gone is stale (another host's pid says nothing)."""
        pid = owner.get("pid")
        return owner.get("host") == socket.gethostname() and isinstance(pid, int) and not process_alive(pid)

    def __exit__(self, *exc: object) -> None:
        if self.held:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.held = False


__all__ = ["LOCK_NAME", "LockedError", "OutputLock", "process_alive"]
