"""Triage of the operator's archive folder (``--archive``), one run at a time, in a background thread.

The run is ``analyzer.triage.triage`` itself (same pool, limits and files): its output folder is
``DATA/triage/<run id>/`` with ``cases/*.json``, ``summary.csv`` and ``summary.parquet``.  Progress is
the number of case JSON files written so far against the number of cases found.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

from analyzer.serve.config import ServeConfig
from analyzer.serve.store import Store, new_id
from analyzer.triage import triage
from analyzer.triage.cases import discover


class TriageRuns:
    """Starts runs and reports on them; refuses a second run while one is going."""

    def __init__(self, store: Store, config: ServeConfig) -> None:
        self.store = store
        self.config = config
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        store.fail_unfinished_runs()

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
            self.store.add_run(run_id, len(found))
            self.thread = threading.Thread(target=self._run, args=(run_id,), name="analyzer-serve-triage", daemon=True)
            self.thread.start()
        return run_id

    def _run(self, run_id: str) -> None:
        try:
            triage(
                [str(self.config.archive)],
                out=str(self.folder(run_id)),
                jobs=self.config.jobs,
                case_timeout=self.config.case_timeout,
                memory_limit=self.config.memory_limit,
                kill_grace=self.config.kill_grace,
            )
        except Exception as exc:
            self.store.finish_run(run_id, error=f"{type(exc).__name__}: {exc}")
            return
        self.store.finish_run(run_id)

    def status(self, run_id: str) -> dict[str, Any] | None:
        """The run's record plus ``done`` (cases written) and, when finished, the summary rows."""
        run = self.store.run(run_id)
        if run is None:
            return None
        folder = self.folder(run_id)
        cases = folder / "cases"
        run["done"] = len(list(cases.glob("*.json"))) if cases.is_dir() else 0
        summary = folder / "summary.csv"
        run["rows"] = []
        if summary.is_file():
            with open(summary, encoding="utf-8", newline="") as fh:
                run["rows"] = [{k: v for k, v in row.items() if k != "json"} for row in csv.DictReader(fh)]
            run["done"] = len(run["rows"])
        return run
