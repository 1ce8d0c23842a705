"""Worker side of triage: find the cases under the roots, run one case under its limits, make its row.

* ``discover`` lists one case per immediate sub-folder or archive (any kind, by content) of each root, in sorted order.
* ``CaseSpec`` is the small picklable order a worker gets; ``run_case`` / ``run_cases`` (module-level, so
  both a spawned local worker and a Dask worker can import them by name) open and diagnose the case under
  ``time_limit`` and never raise: anything that goes wrong comes back as a one-line ``error``.
* ``summary_row`` turns the diagnose JSON plus what the worker saw into one summary row (run in the parent).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from analyzer.archives import is_archive
from analyzer.case import CaseLimits, case_name, open_case
from analyzer.diagnosis import diagnose_case
from analyzer.model import InputError, exception_line

if TYPE_CHECKING:
    from analyzer.case import Case

DEFAULT_CASE_TIMEOUT = 600.0
CaseFunction = Callable[..., dict[str, Any]]


class CaseTimeout(BaseException):
    """Raised inside a worker when a case runs past its time limit.

    A BaseException on purpose: readers that catch ``Exception`` to carry on past damage must not
    swallow it.
    """


class TriageError(Exception):
    """A usage problem of the whole run (ROOT missing, no cases): exit code 2."""


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class CaseSpec:
    """What a worker needs to run one case (picklable, small)."""

    index: int
    name: str
    source: str
    json_name: str
    options: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = DEFAULT_CASE_TIMEOUT
    expect: tuple[tuple[str, str], ...] | None = None  # resume: (path, sha256) of the inputs last time
    limits: CaseLimits | None = None
    function: CaseFunction | None = None


def discover(
    roots: Iterable[str | os.PathLike[str]], exclude: str | os.PathLike[str] | None = None
) -> tuple[list[tuple[str, str]], list[str]]:
    """(case name, path) for every immediate sub-folder or zip of each root, and notes on what was skipped.

    Hidden entries (``.name``), symbolic links and the output folder ``exclude`` are not cases.  Raises TriageError
    when a root does not exist or is not a folder.
    """
    cases: list[tuple[str, str]] = []
    notes: list[str] = []
    for root in roots:
        root = os.fspath(root)
        if not os.path.exists(root):
            raise TriageError(f"{root}: no such folder")
        if not os.path.isdir(root):
            raise TriageError(f"{root}: not a folder (give the folder that holds one sub-folder or archive per case)")
        for entry in sorted(os.listdir(root)):
            path = os.path.join(root, entry)
            if entry.startswith(".") or entry == "__pycache__":  # hidden entries and Python caches are no cases
                continue
            if os.path.islink(path):  # as inside a case: a link could pull in anything on the machine
                notes.append(f"{path}: symbolic link, not followed (a case must be a real folder or zip under ROOT)")
                continue
            if exclude is not None and os.path.exists(exclude) and os.path.samefile(path, exclude):
                notes.append(f"{path}: the output folder; skipped")
                continue
            if os.path.isdir(path) or (os.path.isfile(path) and is_archive(path)):
                cases.append((case_name(path), path))
            else:
                notes.append(f"{path}: not a folder or archive; skipped")
    return cases, notes


# --------------------------------------------------------------------------- the per-case function


def run_case(spec: CaseSpec) -> dict[str, Any]:
    """Open and diagnose one case under its time limit; never raises (except interpreter shutdown).

    Returns ``{"index", "doc", "resumed", "error", "case_errors", "case_warnings", "inputs", "seconds"}``;
    ``doc`` is the diagnose JSON dict (None when resumed or failed).
    """
    started = time.perf_counter()
    result: dict[str, Any] = {
        "index": spec.index,
        "doc": None,
        "resumed": False,
        "error": None,
        "case_errors": [],
        "case_warnings": [],
        "inputs": 0,
    }
    try:
        with time_limit(spec.timeout), open_case(spec.source, limits=spec.limits) as case:
            result["case_errors"] = list(case.errors)
            result["case_warnings"] = list(case.warnings)
            result["inputs"] = len(case.inputs)
            hashes = tuple((i.path, i.sha256) for i in case.inputs)
            if spec.expect is not None and hashes == spec.expect:
                result["resumed"] = True
            elif not case.usable:
                result["error"] = _no_usable_input(case)
            else:
                function = spec.function or _diagnose_case
                result["doc"] = function(case, **spec.options)
    except CaseTimeout:
        result["error"] = f"timed out after {spec.timeout:g} s"
    except MemoryError:
        result["error"] = "out of memory (worker memory limit reached)"
    except InputError as exc:
        result["error"] = str(exc)
    except RecursionError:
        result["error"] = "internal error: recursion too deep"
    except Exception as exc:
        result["error"] = f"internal error: {type(exc).__name__}: {exception_line(exc)}"
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["pid"] = os.getpid()
    result["peak_rss"] = _peak_rss()
    return result


def run_cases(specs: Sequence[CaseSpec]) -> list[dict[str, Any]]:
    """``run_case`` for a batch (one Dask task); each case keeps its own time limit."""
    return [run_case(spec) for spec in specs]


def _diagnose_case(case: Case, **options: Any) -> dict[str, Any]:
    return diagnose_case(case, **options).to_dict()


def _no_usable_input(case: Case) -> str:
    if not case.inputs:
        return "no usable input: the case holds no files"
    reasons = [f"{i.path}: {i.error or i.note}" for i in case.inputs[:3]]
    more = f" (+{len(case.inputs) - 3} more)" if len(case.inputs) > 3 else ""
    return "no usable input: " + "; ".join(reasons) + more


class time_limit:
    """Raise CaseTimeout in the current thread after ``seconds`` (None or <= 0: no limit).

    In a main thread (local worker processes) a real-time interval timer delivers SIGALRM, which also
    interrupts blocking system calls.  In other threads (Dask runs tasks in a thread pool) a timer
    thread sets an asynchronous exception that fires at the next Python bytecode; a lock makes sure
    it can never land after the block has been left.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds if seconds and seconds > 0 else None
        self.main = threading.current_thread() is threading.main_thread()
        self.lock = threading.Lock()
        self.done = False
        self.fired = False
        self.target = threading.get_ident()
        self.timer: threading.Timer | None = None
        self.previous: Any = None

    def __enter__(self) -> time_limit:
        if self.seconds is None:
            return self
        if self.main:
            self.previous = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        else:
            self.timer = threading.Timer(self.seconds, self._fire)
            self.timer.daemon = True
            self.timer.start()
        return self

    def _fire(self) -> None:
        with self.lock:
            if not self.done:
                self.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.target), ctypes.py_object(CaseTimeout))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if self.seconds is None:
            return False
        if self.main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
            return False
        with self.lock:
            self.done = True
        assert self.timer is not None
        self.timer.cancel()
        if self.fired:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.target), None)  # drop it if still pending
            if exc_type is None or not issubclass(exc_type, CaseTimeout):
                raise CaseTimeout
        return False


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes.

    Linux: ``VmHWM`` of /proc/self/status -- ``ru_maxrss`` survives exec and so would report the
    parent's peak for a freshly spawned worker.  Elsewhere ``ru_maxrss`` (KiB; bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# --------------------------------------------------------------------------- rows


def summary_row(name: str, json_name: str, doc: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    """One summary row from the diagnose JSON (``doc``) and what the worker saw of the case."""
    case_errors = [e for e in result.get("case_errors", []) if e]
    error = result.get("error")
    if error and case_errors and str(error).startswith("no usable input"):
        error = None  # the archive problem already says why nothing was usable
    errors = [e for e in [error, *case_errors] if e]
    row: dict[str, Any] = {
        "case": name,
        "status": "error",
        "rules": "",
        "dns_to_add": "",
        "logon_only_as": "",
        "inputs": int(result.get("inputs", 0)),
        "warnings": len(result.get("case_warnings", [])),
        "seconds": float(result.get("seconds", 0.0)),
        "error": "; ".join(errors),
        "json": "",
    }
    if doc is not None:
        findings = doc.get("findings") or []
        rules = list(dict.fromkeys(str(f.get("rule")) for f in findings if f.get("rule")))
        needs = doc.get("needs_action")
        if needs is None:
            needs = bool(doc.get("dns_to_add")) or any(f.get("severity") == "error" for f in findings)
        inputs = doc.get("inputs") or []
        top = doc.get("warnings")
        n_warn = len(top) if top is not None else len(result.get("case_warnings", []))
        row.update(
            rules="; ".join(rules),
            dns_to_add="; ".join(str(d) for d in doc.get("dns_to_add") or []),
            logon_only_as=str((doc.get("logon_only_as") or {}).get("state") or ""),
            inputs=len(inputs),
            warnings=n_warn + sum(len(i.get("warnings") or []) for i in inputs),
            status="error" if errors else ("findings" if needs else "clean"),
            json=f"cases/{json_name}",
        )
    return row
