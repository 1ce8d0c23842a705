"""A case's time and memory budget in triage, with a portable path for every Unix-only API.

Why a module of its own:

* **Clocks are injectable.**  The local pool and the worker ask a ``CaseClock`` how long a case has
  been running.  ``WallClock`` (the default) is ``time.monotonic``; a test gives a clock whose time
  only moves when the test says so, which makes "this case timed out, that one did not" independent
  of how loaded the machine is.
* **The time limit works everywhere.**  ``time_limit`` uses a ``SIGALRM`` interval timer in a main
  thread where the platform has one (it also interrupts blocking system calls); elsewhere -- Windows,
  a non-main thread (Dask), or an injected clock -- a watchdog thread raises ``CaseTimeout`` in the
  case's thread as an asynchronous exception at its next Python bytecode.  A case stuck inside C code
  is then ended by the parent, which kills the worker once the grace period has passed too.
* **The memory cap works everywhere.**  Where ``resource.setrlimit`` exists a worker caps its own
  address space (``analyzer.memcap``), so an oversized allocation fails at once with ``MemoryError``.
  Elsewhere the parent watches each busy worker's resident memory (psutil, or /proc) and kills a
  worker above the cap.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

WATCH_STEP = 0.05  # seconds between two looks of a watchdog thread at its clock


class CaseTimeout(BaseException):
    """Raised inside a worker when a case runs past its time limit.

    A BaseException on purpose: readers that catch ``Exception`` to carry on past damage must not
    swallow it.
    """


class CaseClock(Protocol):
    """Seconds on a clock that never goes back, per case (``index`` of the CaseSpec).

    Implementations must be picklable: the local pool sends them to spawned worker processes.
    """

    def now(self, index: int) -> float: ...


@dataclass(frozen=True)
class WallClock:
    """``time.monotonic`` for every case: the clock of real runs."""

    def now(self, index: int) -> float:
        return time.monotonic()


# --------------------------------------------------------------------------- which Unix APIs exist


def has_interval_timer() -> bool:
    """True where ``signal.setitimer`` and ``SIGALRM`` exist (not on Windows)."""
    return hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")


def has_address_space_limit() -> bool:
    """True where ``resource.setrlimit(RLIMIT_AS, …)`` exists (not on Windows)."""
    try:
        import resource
    except ImportError:
        return False
    return hasattr(resource, "setrlimit") and hasattr(resource, "RLIMIT_AS")


# --------------------------------------------------------------------------- time


class time_limit:
    """Raise CaseTimeout in the current thread after ``seconds`` (None or <= 0: no limit).

    ``now`` is the clock to measure with (default ``time.monotonic``).  With the default clock in a
    main thread of a platform that has ``SIGALRM``, a real-time interval timer delivers the signal,
    which also interrupts blocking system calls.  Otherwise a watchdog thread looks at the clock
    every ``WATCH_STEP`` seconds and sets an asynchronous exception in this thread; a lock makes sure
    it can never land after the block has been left.
    """

    def __init__(self, seconds: float | None, now: Callable[[], float] | None = None) -> None:
        self.seconds = seconds if seconds and seconds > 0 else None
        self.now = now
        self.use_alarm = now is None and has_interval_timer() and threading.current_thread() is threading.main_thread()
        self.lock = threading.Lock()
        self.done = False
        self.fired = False
        self.target = threading.get_ident()
        self.stop = threading.Event()
        self.watchdog: threading.Thread | None = None
        self.deadline = 0.0
        self.previous: Any = None

    def __enter__(self) -> time_limit:
        if self.seconds is None:
            return self
        if self.use_alarm:
            self.previous = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        else:
            # The deadline is taken here, in the case's thread: the watchdog may start late on a busy machine.
            self.deadline = (self.now or time.monotonic)() + self.seconds
            self.watchdog = threading.Thread(target=self._watch, name="analyzer-time-limit", daemon=True)
            self.watchdog.start()
        return self

    def _watch(self) -> None:
        now = self.now or time.monotonic
        assert self.seconds is not None
        while not self.stop.wait(min(WATCH_STEP, self.seconds)):
            if now() >= self.deadline:
                self._fire()
                return

    def _fire(self) -> None:
        with self.lock:
            if not self.done:
                self.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.target), ctypes.py_object(CaseTimeout))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if self.seconds is None:
            return False
        if self.use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
            return False
        with self.lock:
            self.done = True
        self.stop.set()
        if self.fired:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.target), None)  # drop it if still pending
            if exc_type is None or not issubclass(exc_type, CaseTimeout):
                raise CaseTimeout
        return False


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


# --------------------------------------------------------------------------- memory


def resident_bytes(pid: int) -> int | None:
    """Resident memory of process ``pid`` in bytes (psutil, else /proc); None when it cannot be known."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return int(psutil.Process(pid).memory_info().rss)
        except (psutil.Error, OSError):
            return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss() -> int:
    """Peak resident set size of this process in bytes (0 when the platform does not say).

    Linux: ``VmHWM`` of /proc/self/status -- ``ru_maxrss`` survives exec and so would report the
    parent's peak for a freshly spawned worker.  Other Unix: ``ru_maxrss`` (KiB; bytes on macOS).
    Elsewhere psutil's peak working set (Windows) or the current resident size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:
        info: Any = None
        with contextlib.suppress(Exception):
            import psutil

            info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", 0) or getattr(info, "rss", 0) or 0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
