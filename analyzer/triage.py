"""Batch triage: diagnose every case under one or more archive roots, in isolation, and summarise.

Why it is built this way:

* **One case = one immediate sub-folder or .zip of a ROOT** (a zip inside a case folder belongs
  to that case).  Cases are discovered in sorted order so that summaries are deterministic.
* **Isolation.**  Each case runs in a worker process under a time limit (a ``SIGALRM`` in the
  worker's main thread, or an asynchronous exception in a Dask worker thread) and, on the local
  engine, under an address-space limit; a worker that still does not answer is killed and replaced.
  Whatever goes wrong becomes an *error row* with a one-line reason -- the run goes on.
* **The parent writes every file** (``DIR/cases/<case>.json`` atomically via a temp name and
  ``os.replace``, then ``summary.csv`` and ``summary.parquet``), so workers -- possibly on a Dask
  cluster elsewhere -- never write into DIR and an interrupted run leaves no half-written JSON.
* **Resume** re-opens each case (hashing is cheap next to diagnosing) and skips it when the JSON
  exists and its recorded input paths and SHA-256 hashes are unchanged.

Summary columns (DESIGN.md): case, status (clean|findings|error), rules, dns_to_add (``; ``-joined),
logon_only_as, inputs, warnings, seconds, error; plus ``json`` (path of the case JSON under DIR).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.case import CaseLimits, case_name, is_zip, open_case
from analyzer.model import InputError

if TYPE_CHECKING:
    import pandas as pd

    from analyzer.case import Case

SUMMARY_COLUMNS = ["case", "status", "rules", "dns_to_add", "logon_only_as", "inputs", "warnings", "seconds", "error"]
EXTRA_COLUMNS = ["json"]
DEFAULT_MEMORY_LIMIT = 3 << 30  # address space per local worker; a case that needs more is an error row
DEFAULT_CASE_TIMEOUT = 600.0
DASK_BATCH = 16  # most cases per Dask task
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
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

    Hidden entries (``.name``) and the output folder ``exclude`` are not cases.  Raises TriageError
    when a root does not exist or is not a folder.
    """
    cases: list[tuple[str, str]] = []
    notes: list[str] = []
    for root in roots:
        root = os.fspath(root)
        if not os.path.exists(root):
            raise TriageError(f"{root}: no such folder")
        if not os.path.isdir(root):
            raise TriageError(f"{root}: not a folder (give the folder that holds one sub-folder or .zip per case)")
        for entry in sorted(os.listdir(root)):
            path = os.path.join(root, entry)
            if entry.startswith(".") or entry == "__pycache__":  # hidden entries and Python caches are no cases
                continue
            if exclude is not None and os.path.exists(exclude) and os.path.samefile(path, exclude):
                notes.append(f"{path}: the output folder; skipped")
                continue
            if os.path.isdir(path) or (os.path.isfile(path) and is_zip(path)):
                cases.append((case_name(path), path))
            else:
                notes.append(f"{path}: not a folder or zip archive; skipped")
    return cases, notes


def safe_file_name(name: str, used: set[str]) -> str:
    """A file name for a case that cannot leave the output folder and does not clash (case-insensitively)."""
    base = _UNSAFE_NAME.sub("_", name).strip().lstrip(".").strip() or "case"
    base = base[:120]
    if base.split(".")[0].casefold() in _RESERVED:
        base = "_" + base
    candidate, n = base, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{base}~{n}"
    used.add(candidate.casefold())
    return candidate + ".json"


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
        result["error"] = f"internal error: {type(exc).__name__}: {_one_line(exc)}"
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["pid"] = os.getpid()
    result["peak_rss"] = _peak_rss()
    return result


def run_cases(specs: Sequence[CaseSpec]) -> list[dict[str, Any]]:
    """``run_case`` for a batch (one Dask task); each case keeps its own time limit."""
    return [run_case(spec) for spec in specs]


def _diagnose_case(case: Case, **options: Any) -> dict[str, Any]:
    from analyzer.diagnosis import diagnose_case

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


# --------------------------------------------------------------------------- engines


def _worker_main(conn: multiprocessing.connection.Connection, tmpdir: str, memory_limit: int | None) -> None:
    """Loop of a local worker process: receive a CaseSpec, send back run_case's result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    tempfile.tempdir = tmpdir
    if memory_limit:
        import resource

        with contextlib.suppress(ValueError, OSError):
            _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    for module in ("analyzer.events", "analyzer.registry", "analyzer.diagnosis"):  # before the clock starts
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    try:
        conn.send("ready")
    except (OSError, ValueError):
        return
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        result = run_case(spec)
        try:
            conn.send(result)
        except (OSError, ValueError):
            return


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


@dataclass
class _Worker:
    proc: Any
    conn: multiprocessing.connection.Connection
    tmpdir: str
    spec: CaseSpec | None = None
    deadline: float = 0.0
    ready: bool = False  # the worker has started up and imported the diagnosis


class LocalPool:
    """A few worker processes that can each be killed and replaced without disturbing the others.

    ``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies and cannot kill
    a single hung task; a case that hangs in C code or gets OOM-killed must only cost its own row.
    """

    def __init__(self, jobs: int, *, memory_limit: int | None, kill_grace: float) -> None:
        self.jobs = max(1, jobs)
        self.memory_limit = memory_limit
        self.kill_grace = kill_grace
        self.ctx = multiprocessing.get_context("spawn")  # safe from threaded parents (notebooks)
        self.tmproot = tempfile.mkdtemp(prefix="analyzer-triage-")
        self.workers: list[_Worker] = []

    def _start(self, n: int) -> _Worker:
        tmpdir = os.path.join(self.tmproot, f"w{n}")
        os.makedirs(tmpdir, exist_ok=True)
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(
            target=_worker_main, args=(child, tmpdir, self.memory_limit), name=f"analyzer-triage-{n}", daemon=True
        )
        proc.start()
        child.close()
        return _Worker(proc, parent, tmpdir)

    def _replace(self, w: _Worker) -> _Worker:
        """Kill a worker, clear its temp folder (a killed case cannot clean up) and start a new one."""
        with contextlib.suppress(Exception):
            w.proc.kill()
            w.proc.join(5)
        w.conn.close()
        shutil.rmtree(w.tmpdir, ignore_errors=True)
        idx = self.workers.index(w)
        fresh = self._start(idx)
        self.workers[idx] = fresh
        return fresh

    def run(self, specs: Sequence[CaseSpec]) -> Iterator[dict[str, Any]]:
        """Yield one result per spec, in completion order.

        Finished workers get their next case before results are handed on, so a worker never waits
        while the caller writes JSON.
        """
        pending = deque(specs)
        try:
            self.workers = [self._start(i) for i in range(min(self.jobs, max(1, len(specs))))]
            while pending or any(w.spec is not None for w in self.workers):
                done = self._dispatch(pending)
                starting = [w for w in self.workers if not w.ready]
                busy = [w for w in self.workers if w.spec is not None]
                if busy or starting:
                    wait_for = min((w.deadline for w in busy), default=float("inf")) - time.monotonic()
                    ready = multiprocessing.connection.wait(
                        [w.conn for w in busy + starting] + [w.proc.sentinel for w in busy + starting],
                        timeout=max(0.0, min(wait_for, 1.0)),
                    )
                    self._started(starting, ready)
                    done += self._collect(busy, ready)
                    done += self._dispatch(pending)
                yield from done
        finally:
            self.close()

    def _dispatch(self, pending: deque[CaseSpec]) -> list[dict[str, Any]]:
        """Give every idle, started worker its next case; results of cases that could not be sent."""
        failed = []
        for w in list(self.workers):
            if w.spec is None and w.ready and pending:
                spec = pending.popleft()
                w.spec = spec
                limit = spec.timeout if spec.timeout and spec.timeout > 0 else None
                w.deadline = time.monotonic() + limit + self.kill_grace if limit else float("inf")
                try:
                    w.conn.send(spec)
                except (OSError, ValueError) as exc:
                    failed.append(_failed(spec, f"internal error: cannot start the case ({exc})"))
                    self._replace(w)
        return failed

    def _started(self, starting: list[_Worker], ready: list[Any]) -> None:
        for w in starting:
            if w.conn in ready:
                try:
                    w.ready = w.conn.recv() == "ready"
                except (EOFError, OSError):
                    w.ready = False
            if not w.ready and (w.proc.sentinel in ready or w.conn in ready):
                w.proc.join(5)
                raise TriageError(f"a worker process could not start (exit code {w.proc.exitcode})")

    def _collect(self, busy: list[_Worker], ready: list[Any]) -> list[dict[str, Any]]:
        """Results of finished cases; dead or overdue workers are replaced and their case fails."""
        done = []
        for w in busy:
            spec = w.spec
            assert spec is not None
            if w.conn in ready:
                try:
                    result = w.conn.recv()
                except (EOFError, OSError):
                    result = None
                if result is not None:
                    w.spec = None
                    done.append(result)
                    continue
            if w.conn in ready or w.proc.sentinel in ready or not w.proc.is_alive():
                w.proc.join(5)  # the pipe closed: the process is ending, collect its exit code
                code = w.proc.exitcode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                done.append(_failed(spec, f"worker process died ({why}); out of memory or a crash in a parser"))
                self._replace(w)
            elif time.monotonic() > w.deadline:
                done.append(_failed(spec, f"timed out after {spec.timeout:g} s (worker killed)"))
                self._replace(w)
        return done

    def close(self) -> None:
        """Idle workers are asked to stop; busy ones (Ctrl-C, an error in the caller) are killed at once."""
        for w in self.workers:
            with contextlib.suppress(Exception):
                if w.spec is None:
                    w.conn.send(None)
                else:
                    w.proc.kill()
        for w in self.workers:
            w.proc.join(2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(2)
            w.conn.close()
        self.workers = []
        shutil.rmtree(self.tmproot, ignore_errors=True)


def _failed(spec: CaseSpec, reason: str) -> dict[str, Any]:
    return {
        "index": spec.index,
        "doc": None,
        "resumed": False,
        "error": reason,
        "case_errors": [],
        "case_warnings": [],
        "inputs": 0,
        "seconds": float(spec.timeout or 0.0) if "timed out" in reason else 0.0,
    }


def _run_dask(
    specs: Sequence[CaseSpec], *, jobs: int, scheduler: str | None, memory_limit: int | None
) -> Iterator[dict[str, Any]]:
    """The same ``run_case`` on dask.distributed: the given scheduler, else a LocalCluster of processes.

    On a remote cluster the workers open the case paths themselves, so ROOT must be on a file system
    they share; results come back to this process, which alone writes into DIR.  The time limit is
    the in-thread asynchronous exception (a case stuck inside C code is not interrupted there);
    memory is bounded by the workers' ``memory_limit`` (the nanny restarts a worker that exceeds it).
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise TriageError("the dask engine needs dask[distributed] (pip install 'analyzer[triage]')") from None
    import dask

    cluster = None
    settings = {"distributed.scheduler.allowed-failures": 1}  # a case that kills its worker is retried once, not 3x
    with dask.config.set(settings):
        if scheduler:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise TriageError(f"cannot reach the Dask scheduler at {scheduler}: {_one_line(exc)}") from None
        else:
            cluster = LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                memory_limit=memory_limit or "auto",
                dashboard_address=None,
                silence_logs=50,
            )
            client = Client(cluster)
        try:
            token = uuid.uuid4().hex[:12]
            # A few cases per task: a case takes milliseconds, a scheduled task costs about as much.
            size = max(1, min(DASK_BATCH, len(specs) // (4 * max(1, jobs))))
            batches = [tuple(specs[i : i + size]) for i in range(0, len(specs), size)]
            futures = [
                client.submit(run_cases, batch, pure=False, key=f"analyzer-cases-{token}-{n}")
                for n, batch in enumerate(batches)
            ]
            by_key = {f.key: batch for f, batch in zip(futures, batches, strict=True)}
            for future in as_completed(futures):
                batch = by_key[future.key]
                try:
                    results = future.result()
                except Exception as exc:  # a worker lost (killed for memory) or a task error
                    why = f"dask task failed: {type(exc).__name__}: {_one_line(exc)}"
                    results = [_failed(spec, why) for spec in batch]
                yield from results
                future.release()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


# --------------------------------------------------------------------------- rows and outputs


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


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write to a temp name in the same folder, then rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, indent=2, default=str)
            fh.write("\n")
        os.replace(tmp, path)  # atomic on the same file system; no fsync: a crash of the run, not of the OS
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _expected_hashes(path: Path) -> tuple[tuple[str, str], ...] | None:
    """(path, sha256) of the inputs recorded in an existing case JSON, or None when unusable."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        return tuple((str(i["path"]), str(i["sha256"])) for i in doc["inputs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _csv_safe(value: Any) -> Any:
    """Spreadsheets run cells that start with = + - @ (and tab/CR) as formulas: neutralise them."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def write_summary(frame: pd.DataFrame, out: Path) -> None:
    """summary.csv (formula-safe) and summary.parquet, each written atomically."""
    csv_tmp = out / f".summary.csv.{os.getpid()}.tmp"
    safe = frame.copy()
    for col in ("case", "rules", "dns_to_add", "logon_only_as", "error", "json"):
        safe[col] = safe[col].map(_csv_safe)
    safe.to_csv(csv_tmp, index=False)
    os.replace(csv_tmp, out / "summary.csv")
    try:
        pq_tmp = out / f".summary.parquet.{os.getpid()}.tmp"
        frame.to_parquet(pq_tmp, index=False)
        os.replace(pq_tmp, out / "summary.parquet")
    except ImportError:
        print("analyzer: warning: pyarrow is not installed; summary.parquet not written", file=sys.stderr)


# --------------------------------------------------------------------------- the run


def triage(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    engine: str = "local",
    *,
    resume: bool = False,
    scheduler: str | None = None,
    case_timeout: float | None = DEFAULT_CASE_TIMEOUT,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    limits: CaseLimits | None = None,
    progress: str = "none",
    kill_grace: float = 10.0,
    case_function: CaseFunction | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Diagnose every case (immediate sub-folder or .zip) under ``paths``; return the summary DataFrame.

    ``out`` receives cases/<case>.json, summary.csv and summary.parquet (None: a temp folder that is
    removed afterwards -- only the DataFrame is kept).  ``options`` go to ``diagnose_case`` (tz, …).
    ``progress``: "bar" (tqdm), "log" (one line per case on stderr) or "none".  ``case_function``
    replaces the diagnosis (a module-level ``f(case, **options) -> dict`` in the JSON contract shape).
    Raises TriageError when a root is missing or holds no case.
    """
    roots = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    found, notes = discover(roots, exclude=out)
    if not found:
        raise TriageError(f"{', '.join(map(str, roots))}: no cases found (expected one sub-folder or .zip per case)")
    if engine not in ("local", "dask"):
        raise TriageError(f"unknown engine {engine!r} (local or dask)")
    jobs = jobs or os.cpu_count() or 1
    keep = out is not None
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="analyzer-triage-out-"))
    cases_dir = out_dir / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    for note in notes:
        _log(progress, note)
    used: set[str] = set()
    specs = []
    for index, (name, source) in enumerate(found):
        json_name = safe_file_name(name, used)
        expect = _expected_hashes(cases_dir / json_name) if resume else None
        specs.append(
            CaseSpec(index, name, source, json_name, dict(options), case_timeout, expect, limits, case_function)
        )
    rows: list[dict[str, Any] | None] = [None] * len(specs)
    peak: dict[int, int] = {}  # worker pid -> peak RSS (bytes), for benchmarks
    try:
        results = (
            _run_dask(specs, jobs=jobs, scheduler=scheduler, memory_limit=memory_limit)
            if engine == "dask"
            else _run_local(specs, jobs, memory_limit, kill_grace)
        )
        with _Progress(progress, len(specs)) as bar, contextlib.closing(results):
            for result in results:
                if result.get("pid"):
                    peak[result["pid"]] = max(peak.get(result["pid"], 0), int(result.get("peak_rss", 0)))
                spec = specs[result["index"]]
                doc = result["doc"]
                if result["resumed"]:
                    doc = _load(cases_dir / spec.json_name)
                    if doc is None:  # vanished or damaged since the check: not resumable after all
                        result["error"] = "resume: the case JSON could not be read again; run without --resume"
                elif doc is not None:
                    write_json_atomic(cases_dir / spec.json_name, doc)
                row = summary_row(spec.name, spec.json_name, doc, result)
                rows[spec.index] = row
                bar.update(row, resumed=result["resumed"])
        frame = _frame([r for r in rows if r is not None])
        frame.attrs["peak_rss"] = peak
        write_summary(frame, out_dir)
        return frame
    finally:
        if not keep:
            shutil.rmtree(out_dir, ignore_errors=True)


def _run_local(
    specs: Sequence[CaseSpec], jobs: int, memory_limit: int | None, kill_grace: float
) -> Iterator[dict[str, Any]]:
    pool = LocalPool(jobs, memory_limit=memory_limit, kill_grace=kill_grace)
    try:
        yield from pool.run(specs)
    finally:
        pool.close()


def _load(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=SUMMARY_COLUMNS + EXTRA_COLUMNS)
    return frame.astype({"inputs": "int64", "warnings": "int64", "seconds": "float64"})


class _Progress:
    """tqdm bar on a terminal, one log line per case otherwise, or nothing."""

    def __init__(self, mode: str, total: int) -> None:
        self.mode, self.total, self.done, self.bar = mode, total, 0, None

    def __enter__(self) -> _Progress:
        if self.mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="case", file=sys.stderr, dynamic_ncols=True)
        return self

    def update(self, row: dict[str, Any], *, resumed: bool) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{row['case'][:30]}: {row['status']}")
        elif self.mode == "log":
            what = row["status"] + (f" {row['rules']}" if row["rules"] else "")
            if row["error"]:
                what += f" ({row['error'][:200]})"
            how = "resumed" if resumed else f"{row['seconds']:.1f} s"
            _log(self.mode, f"triage [{self.done}/{self.total}] {row['case']}: {what} [{how}]")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _log(mode: str, message: str) -> None:
    if mode != "none":
        print(f"analyzer: {message}", file=sys.stderr, flush=True)


def render_summary(frame: pd.DataFrame) -> str:
    """Counts by status and by rule, then the cases that need action (tabulate text)."""
    from tabulate import tabulate

    parts = []
    by_status = frame["status"].value_counts().reindex(["findings", "error", "clean"], fill_value=0)
    parts.append(tabulate([(s, int(n)) for s, n in by_status.items()], headers=["status", "cases"]))
    rules = frame["rules"].str.split("; ").explode()
    rules = rules[rules.astype(bool)].value_counts()
    if len(rules):
        parts.append(tabulate([(r, int(n)) for r, n in rules.items()], headers=["rule", "cases"]))
    action = frame[frame["status"] != "clean"]
    if len(action):
        table = [
            (r.case, r.status, r.logon_only_as, r.rules, r.dns_to_add.replace("; ", "\n"), _cut(r.error, 100))
            for r in action.itertuples()
        ]
        parts.append(
            "Cases needing action:\n"
            + tabulate(table, headers=["case", "status", "logon only as", "rules", "dns to add", "error"])
        )
    else:
        parts.append("No case needs action.")
    return "\n\n".join(parts)


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def cli_triage(args: argparse.Namespace) -> int:
    """``analyzer triage ROOT... --out DIR``: exit 1 if any case needs action or failed, else 0; 2 for usage."""
    progress = "bar" if sys.stderr.isatty() else "log"
    if args.jobs is not None and args.jobs < 1:
        print("analyzer: --jobs must be at least 1", file=sys.stderr)
        return 2
    from analyzer.limits import case_limits_from, read_limits_from

    options: dict[str, Any] = {"read_limits": read_limits_from(args)}
    if getattr(args, "tz", None) is not None:
        options["tz"] = args.tz
    try:
        frame = triage(
            args.root,
            out=args.out,
            jobs=args.jobs,
            engine=args.engine,
            resume=args.resume,
            scheduler=args.scheduler,
            case_timeout=args.case_timeout,
            progress=progress,
            limits=case_limits_from(args),
            **options,
        )
    except TriageError as exc:
        print(f"analyzer: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"analyzer: {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(render_summary(frame))
    print(f"\nWrote {len(frame)} case(s) to {os.path.join(args.out, 'summary.csv')} (+ .parquet, cases/*.json)")
    return 1 if (frame["status"] != "clean").any() else 0
