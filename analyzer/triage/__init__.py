"""Batch triage: diagnose every case under one or more archive roots, in isolation, and summarise.

Why it is built this way:

* **One case = one immediate sub-folder or .zip of a ROOT** (a zip inside a case folder belongs
  to that case).  Cases are discovered in sorted order so that summaries are deterministic.
* **Isolation.**  Each case runs in a worker process under a time limit (a ``SIGALRM`` in the
  worker's main thread where the platform has one, else an asynchronous exception from a watchdog
  thread) and, on the local engine, under a memory limit (the worker's address space where it can be
  capped, else the parent watches its resident memory: ``budget``); a worker that still does not
  answer is killed and replaced.
  Whatever goes wrong becomes an *error row* with a one-line reason -- the run goes on.
* **The parent writes every file** (``DIR/cases/<case>.json`` atomically via a temp name and
  ``os.replace``, then ``summary.csv`` and ``summary.parquet``), so workers -- possibly on a Dask
  cluster elsewhere -- never write into DIR and an interrupted run leaves no half-written JSON.
* **Resume** re-opens each case (hashing is cheap next to diagnosing) and skips it when the JSON
  exists and its recorded input paths and SHA-256 hashes are unchanged.

Summary columns (README.md): case, status (clean|findings|error), rules, dns_to_add (``; ``-joined),
logon_only_as, inputs, warnings, seconds, error; plus ``json`` (path of the case JSON under DIR).

Where the pieces live:

* ``budget``  -- clocks, the time limit and the memory cap, with portable paths for Unix-only APIs.
* ``cases``   -- discovery under the roots, ``CaseSpec``, the worker-side ``run_case`` with its time
  limit, and ``summary_row``.
* ``engines`` -- the local process pool (``LocalPool``, one replaceable worker per job) and the Dask engine.
* ``output``  -- case JSON (atomic writes, resume check), summary.csv/parquet, progress, the printed summary.
* this module -- ``triage()`` which ties them together (``analyzer.commands.triage`` is ``analyzer triage``).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.case import CaseLimits
from analyzer.output import sync_folder
from analyzer.triage.budget import CaseClock, WallClock
from analyzer.triage.budget import peak_rss as _peak_rss  # noqa: F401 (benchmarks/triage_speed.py)
from analyzer.triage.cases import (
    DEFAULT_CASE_TIMEOUT,
    CaseFunction,
    CaseSpec,
    CaseTimeout,
    TriageError,
    discover,
    run_case,
    run_cases,
    summary_row,
    time_limit,
)
from analyzer.triage.engines import DASK_BATCH, DEFAULT_MEMORY_LIMIT, LocalPool, _run_dask, _run_local
from analyzer.triage.lock import LockedError, OutputLock
from analyzer.triage.output import (
    EXTRA_COLUMNS,
    SUMMARY_COLUMNS,
    _expected_hashes,
    _frame,
    _load,
    _log,
    _Progress,
    remove_stale,
    render_summary,
    safe_file_name,
    write_json_atomic,
    write_summary,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DASK_BATCH",
    "DEFAULT_CASE_TIMEOUT",
    "DEFAULT_MEMORY_LIMIT",
    "EXTRA_COLUMNS",
    "SUMMARY_COLUMNS",
    "CaseClock",
    "CaseFunction",
    "CaseSpec",
    "CaseTimeout",
    "LocalPool",
    "LockedError",
    "TriageError",
    "WallClock",
    "discover",
    "render_summary",
    "run_case",
    "run_cases",
    "safe_file_name",
    "summary_row",
    "time_limit",
    "triage",
    "write_json_atomic",
    "write_summary",
]

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
    clock: CaseClock | None = None,
    on_case: Callable[[dict[str, Any], bool], None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Diagnose every case (immediate sub-folder or .zip) under ``paths``; return the summary DataFrame.

    ``out`` receives cases/<case>.json, summary.csv and summary.parquet (None: a temp folder that is
    removed afterwards -- only the DataFrame is kept).  ``options`` go to ``diagnose_case`` (tz, …).
    ``progress``: "bar" (tqdm), "log" (one line per case on stderr) or "none".  ``case_function``
    replaces the diagnosis (a module-level ``f(case, **options) -> dict`` in the JSON contract shape).
    ``clock`` measures the case time limits (default: the wall clock; tests inject one they control).
    ``on_case(row, resumed)`` is called in this process with each summary row once its case is recorded
    (the web server counts progress with it); an exception it raises stops the run like Ctrl-C does
    (workers killed, no summary written), and ``resume`` later keeps the cases written so far.
    Raises TriageError when a root is missing or holds no case.
    """
    roots = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    check_timeout(case_timeout)
    found, notes = discover(roots, exclude=out)
    if not found:
        raise TriageError(f"{', '.join(map(str, roots))}: no cases found (expected one sub-folder or archive per case)")
    if engine not in ("local", "dask"):
        raise TriageError(f"unknown engine {engine!r} (local or dask)")
    check_main_module()
    jobs = jobs or os.cpu_count() or 1
    keep = out is not None
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="analyzer-triage-out-"))
    cases_dir = out_dir / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    with OutputLock(out_dir):
        try:
            return _run(
                specs_for(found, cases_dir, resume, options, case_timeout, limits, case_function, clock),
                notes,
                out_dir,
                cases_dir,
                jobs,
                engine,
                scheduler,
                memory_limit,
                kill_grace,
                progress,
                on_case,
            )
        finally:
            if not keep:
                shutil.rmtree(out_dir, ignore_errors=True)


def specs_for(
    found: list[tuple[str, str]],
    cases_dir: Path,
    resume: bool,
    options: dict[str, Any],
    case_timeout: float | None,
    limits: CaseLimits | None,
    case_function: CaseFunction | None,
    clock: CaseClock | None = None,
) -> list[CaseSpec]:
    """One CaseSpec per case, with a unique JSON name and (resume) the hashes recorded last time."""
    used: set[str] = set()
    specs = []
    for index, (name, source) in enumerate(found):
        json_name = safe_file_name(name, used)
        expect = _expected_hashes(cases_dir / json_name) if resume else None
        specs.append(
            CaseSpec(index, name, source, json_name, dict(options), case_timeout, expect, limits, case_function, clock)
        )
    return specs


def check_main_module() -> None:
    """Workers are started as Windows starts them (spawn): each one re-imports the caller's main script
    by its path.  A script piped on standard input has no path (``python - <<EOF``), so every worker would
    die at start; say so instead of "a worker process could not start".  Notebooks and ``python -c`` have
    no main script to import and work."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and main_file.startswith("<") and main_file.endswith(">"):
        raise TriageError(
            f"triage cannot start worker processes from a script read from {main_file}: save the script to a "
            "file (calling triage under 'if __name__ == \"__main__\":') or run it in a notebook"
        )


def check_timeout(case_timeout: float | None) -> None:
    """None means no limit; anything else must be a finite number of seconds above zero."""
    if case_timeout is None:
        return
    if not isinstance(case_timeout, int | float) or not math.isfinite(case_timeout) or case_timeout <= 0:
        raise TriageError(
            f"--case-timeout must be a number of seconds above 0 (got {case_timeout!r}); "
            "a case always needs a limit so that a hung parser cannot stall the run"
        )


def _run(
    specs: list[CaseSpec],
    notes: list[str],
    out_dir: Path,
    cases_dir: Path,
    jobs: int,
    engine: str,
    scheduler: str | None,
    memory_limit: int | None,
    kill_grace: float,
    progress: str,
    on_case: Callable[[dict[str, Any], bool], None] | None = None,
) -> pd.DataFrame:
    for note in notes:
        _log(progress, note)
    rows: list[dict[str, Any] | None] = [None] * len(specs)
    peak: dict[int, int] = {}  # worker pid -> peak RSS (bytes), for benchmarks
    results = (
        _run_dask(specs, jobs=jobs, scheduler=scheduler, memory_limit=memory_limit)
        if engine == "dask"
        else _run_local(specs, jobs, memory_limit, kill_grace, specs[0].clock if specs else None)
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
                # the folder is synced once, after the last case (a sync per file cost more than its write)
                write_json_atomic(cases_dir / spec.json_name, doc, result.get("json"), folder_sync=False)
            elif remove_stale(cases_dir / spec.json_name):  # an old result would contradict this error row
                result.setdefault("case_warnings", []).append("the case JSON of an earlier run was removed")
            row = summary_row(spec.name, spec.json_name, doc, result)
            rows[spec.index] = row
            bar.update(row, resumed=result["resumed"])
            if on_case is not None:
                on_case(row, bool(result["resumed"]))
    sync_folder(cases_dir)  # every case file's rename made durable at once
    frame = _frame([r for r in rows if r is not None])
    frame.attrs["peak_rss"] = peak
    write_summary(frame, out_dir)
    return frame


class _CallableTriageModule(types.ModuleType):
    """``analyzer.triage(...)`` is the notebook API, but importing this package makes Python bind
    ``analyzer.triage`` to the package itself, replacing the function after its first use.  Making
    the package callable keeps ``analyzer.triage(...)`` working however it was reached."""

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return triage(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableTriageModule
