"""Ctrl-C and SIGTERM stop a triage run the same way, once, quietly.

Why: SIGTERM (a scheduler, ``timeout``, ``systemctl stop``) used to kill the parent outright, leaving
gigabytes of extracted evidence in the temp folder and workers running.  Raised as an exception in
the main thread instead, it unwinds through every ``finally`` of the run: the local pool kills its
workers and removes their temp folders, the Dask client closes.  Repeats of either signal are
ignored while that cleanup runs, so a second Ctrl-C cannot cut it short with a traceback.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived: unwinds like KeyboardInterrupt, so every ``finally`` cleans up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.word = "interrupted" if signum == signal.SIGINT else "terminated"


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Stopped`` once; repeats are ignored while the run cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])

    def stop(signum: int, frame: Any) -> None:
        for sig in wanted:
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["Stopped", "stop_signals"]
