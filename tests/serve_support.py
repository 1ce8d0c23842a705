"""Helpers of the ``analyzer serve`` tests: an app on a temp data folder, sample zips, waiting for cases."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path
from typing import Any

from analyzer.serve.config import ServeConfig

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
WAIT = 240.0  # a bound on waiting for background work, not a speed requirement


def sample_zip(folder: Path, sample: str = "nt4-kb306308", name: str | None = None) -> Path:
    """Zip a sample case's evidence (not its README) as a customer would send it."""
    target = folder / (name or f"{sample}.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((SAMPLES / sample).iterdir()):
            if path.name != "README.md":
                zf.write(path, path.name)
    return target


def config(tmp: Path, **kw: Any) -> ServeConfig:
    kw.setdefault("jobs", 1)
    kw.setdefault("poll_seconds", 0.2)
    kw.setdefault("kill_grace", 2.0)
    return ServeConfig(data=tmp / "data", **kw)


def wait_for(get: Any, case_id: str, states: tuple[str, ...] = ("done", "error")) -> dict[str, Any]:
    """Poll GET /api/cases/{id} until the case reaches one of ``states``."""
    deadline = time.monotonic() + WAIT
    while True:
        answer = get(f"/api/cases/{case_id}").json()
        if answer["status"] in states:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"case {case_id} still {answer['status']} after {WAIT:g} s")
        time.sleep(0.2)


def die(case: Any, **options: Any) -> dict[str, Any]:
    """A diagnosis stand-in whose worker process dies (a crash in C code or the OOM killer)."""
    os._exit(3)
