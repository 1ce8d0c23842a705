"""Ctrl-C and SIGTERM stop a triage run the same way, once, quietly.

Why: SIGTERM (a scheduler, ``timeout``, ``systemctl stop``) used to kill the parent outright, leaving
gigabytes of extracted evidence in the temp folder and workers running.  Raised as an exception in
the main thread instead, it unwinds through every ``finally`` of the run: the local pool kills its
workers and removes their temp folders, the Dask client closes.  Repeats of either signal are
ignored while that cleanup runs, so a second Ctrl-C cannot cut it short with a traceback.
"""

from __future__ import annotations

import contextlib
import os
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
    wanted = _stop_signals()

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


def _stop_signals() -> list[int]:
    return [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block has finished, then arrive as they would have.

    For a start-up that must not be cut in half -- a Dask LocalCluster starting its worker processes
    from threads of its own -- and whose children must not see a terminal's Ctrl-C:

    * Meanwhile the signals are *recorded*, not ignored: an ignored signal is lost whichever thread
      the kernel hands it to, and a library thread (BLAS, Arrow) may well be the one.  When the block
      ends (normally or not), the first recorded signal is raised again with the handlers that were in
      place before, so ``stop_signals`` turns it into ``Stopped`` and the caller can clean up what
      the block started (its ``except``/``finally`` run).
    * Where it can (POSIX), SIGINT is also *blocked* in this thread meanwhile.  Threads started
      inside the block inherit that mask, and so do processes they spawn, and it survives ``exec``:
      the worker processes (and those a nanny restarts later) never receive the terminal's Ctrl-C,
      so they print no traceback.  SIGTERM stays unblocked in children, so they can still be ended.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = _stop_signals()
    arrived: list[int] = []

    def record(signum: int, frame: Any) -> None:
        arrived.append(signum)

    previous = {sig: signal.signal(sig, record) for sig in wanted}
    block = hasattr(signal, "pthread_sigmask")
    if block:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if block:  # a Ctrl-C pending on this thread is delivered now, to ``record``
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if arrived:
            signal.raise_signal(arrived[0])  # the handler in place before decides (Stopped, KeyboardInterrupt)


#: Test seam: when this environment variable names a point of the run (``signal_point``), the process
#: sends SIGINT to its own process group there, as a terminal's Ctrl-C does.  Tests only.
SIGNAL_AT_ENV = "ANALYZER_TEST_SIGINT_AT"


def signal_point(point: str) -> None:
    """A place where a test may inject a Ctrl-C (see ``SIGNAL_AT_ENV``); nothing otherwise."""
    if os.environ.get(SIGNAL_AT_ENV) == point and hasattr(os, "killpg"):
        os.killpg(os.getpgrp(), signal.SIGINT)


__all__ = ["SIGNAL_AT_ENV", "Stopped", "held_signals", "signal_point", "stop_signals"]
