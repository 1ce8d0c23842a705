"""Triage of the operator's archive folder (``--archive``), one run at a time, in a background thread.

The run is ``analyzer.triage.triage`` itself (same pool, limits and files): its output folder is
``DATA/triage/<run id>/`` with ``cases/*.json``, ``summary.csv`` and ``summary.parquet``.  Progress is
the number of cases recorded so far against the number of cases found.

A run outlives the server process that started it.  A shutdown stops it after the case being recorded
(status ``interrupted``); a server that was killed leaves it ``running`` in the database.  Either way the
next start resumes it with triage's ``--resume``: the cases already written are kept (checked against
their inputs' hashes, not diagnosed again) and the rest is run, so the summary holds every case once.
"""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path
from typing import Any

from analyzer.serve.config import ServeConfig
from analyzer.serve.store import Store, new_id
from analyzer.triage import triage
from analyzer.triage.cases import discover


class RunStopped(BaseException):
    """Raised from the per-case callback to stop a run at shutdown (a BaseException, like Ctrl-C, so no
    ``except Exception`` on the way swallows it); the run stays resumable."""


class TriageRuns:
    """Starts, stops and resumes runs and reports on them; refuses a second run while one is going."""

    def __init__(self, store: Store, config: ServeConfig) -> None:
        self.store = store
        self.config = config
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.recorded: dict[str, int] = {}  # run id -> cases recorded by this process (resumed ones included)

    def folder(self, run_id: str) -> Path:
        if not run_id.isalnum():
            raise KeyError(run_id)
        return self.store.data / "triage" / run_id

    def start(self) -> str:
        """Start a run of the archive folder; raises RuntimeError when none is configured or one is going."""
        if self.config.archive is None:
            raise RuntimeError("no archive folder configured (start the server with --archive DIR)")
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                raise RuntimeError("a triage run is already going")
            found, _notes = discover([self.config.archive])
            if not found:
                raise RuntimeError("the archive folder holds no cases (one sub-folder or .zip per case)")
            run_id = new_id()
            self.store.add_run(run_id, len(found), archive=str(self.config.archive))
            self._launch(run_id, resume=False)
        return run_id

    def resume_unfinished(self) -> str | None:
        """On start: resume the run a previous process left unfinished (the newest; older ones end as errors).

        A run whose archive folder is not this server's ``--archive`` cannot be resumed here: it ends as
        an error saying so (its folder keeps what was written)."""
        unfinished = self.store.unfinished_runs()
        for old in unfinished[1:]:
            self.store.finish_run(old["id"], error="interrupted by a restart; a newer run was resumed instead")
        if not unfinished:
            return None
        run = unfinished[0]
        archive = self.config.archive
        if archive is None or (run["archive"] and not _same_folder(run["archive"], archive)):
            now = f"the server now triages {archive}" if archive else "the server has no --archive now"
            self.store.finish_run(run["id"], error=f"interrupted by a restart and not resumed: {now}")
            return None
        with self.lock:
            self.store.set_run_status(run["id"], "running", "resumed after a restart")
            self._launch(run["id"], resume=True)
        return str(run["id"])

    def stop(self, wait: float = 10.0) -> None:
        """Shutdown: the running run stops after the case it is recording and stays resumable."""
        self.stopping.set()
        thread = self.thread
        if thread is not None and thread.is_alive():
            thread.join(wait)

    def request_stop(self) -> None:
        """Ask the running run to stop after the case it is recording (what ``stop`` does, without waiting)."""
        self.stopping.set()

    def _launch(self, run_id: str, *, resume: bool) -> None:
        self.stopping.clear()
        self.recorded[run_id] = 0
        self.thread = threading.Thread(
            target=self._run, args=(run_id, resume), name="analyzer-serve-triage", daemon=True
        )
        self.thread.start()

    def _run(self, run_id: str, resume: bool) -> None:
        def recorded(row: dict[str, Any], resumed: bool) -> None:
            self.recorded[run_id] = self.recorded.get(run_id, 0) + 1
            if self.config.on_triage_case is not None:
                self.config.on_triage_case(run_id, row, resumed)
            if self.stopping.is_set():
                raise RunStopped

        try:
            triage(
                [str(self.config.archive)],
                out=str(self.folder(run_id)),
                jobs=self.config.jobs,
                resume=resume,
                case_timeout=self.config.case_timeout,
                memory_limit=self.config.memory_limit,
                kill_grace=self.config.kill_grace,
                on_case=recorded,
            )
        except RunStopped:
            self.store.set_run_status(run_id, "interrupted", f"stopped by a shutdown after {self.recorded[run_id]}")
            return
        except Exception as exc:
            self.store.finish_run(run_id, error=f"{type(exc).__name__}: {exc}")
            return
        self.store.finish_run(run_id)

    def status(self, run_id: str) -> dict[str, Any] | None:
        """The run's record plus ``done`` (cases recorded) and, when finished, the summary rows."""
        run = self.store.run(run_id)
        if run is None:
            return None
        run.pop("archive", None)  # the server's folders are nobody's business
        folder = self.folder(run_id)
        cases = folder / "cases"
        written = len(list(cases.glob("*.json"))) if cases.is_dir() else 0
        run["done"] = max(written, self.recorded.get(run_id, 0))
        summary = folder / "summary.csv"
        run["rows"] = []
        if run["status"] == "done" and summary.is_file():
            with open(summary, encoding="utf-8", newline="") as fh:
                run["rows"] = [{k: v for k, v in row.items() if k != "json"} for row in csv.DictReader(fh)]
            run["done"] = len(run["rows"])
        return run


def _same_folder(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)
