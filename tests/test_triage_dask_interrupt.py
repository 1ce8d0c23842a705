"""Ctrl-C while the Dask engine's LocalCluster starts: not lost, quiet, nothing left behind (issue 13).

A real ``python -m analyzer triage --engine dask`` in a session of its own; the Ctrl-C is a real
SIGINT to its whole process group, as a terminal sends it, injected at a named point of the start-up
(``ANALYZER_TEST_SIGINT_AT``) rather than after a sleep: once just before the cluster starts (the
signal arrives while no worker exists yet), once when its worker processes are up (they receive it
too).  No assertion on time; every wait is bounded by a generous timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyzer.triage.stopping import SIGNAL_AT_ENV
from tests.conftest import REPO
from tests.test_triage import make_case

pytest.importorskip("dask.distributed")
psutil = pytest.importorskip("psutil")

POSIX = os.name == "posix"


def _left_in_session(sid: int) -> list[str]:
    """Processes still alive in the session the run led (its workers, had they outlived it)."""
    left = []
    for proc in psutil.process_iter(["pid", "status", "cmdline"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(" ".join(proc.info["cmdline"] or []))
        except (OSError, psutil.Error):
            continue
    return left


@pytest.mark.skipif(not POSIX, reason="sends POSIX signals to a process group")
@pytest.mark.timeout(600)
@pytest.mark.parametrize("point", ["dask-cluster-start", "dask-cluster-started"])
def test_ctrl_c_during_the_cluster_start_stops_the_run_quietly(tmp_path: Path, point: str) -> None:
    root, out, tmpdir = tmp_path / "root", tmp_path / "out", tmp_path / "tmp"
    make_case(root / "one", "nt4-kb306308")
    make_case(root / "two", "harmless-1023")
    tmpdir.mkdir()
    env = {
        **os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir), "TEMP": str(tmpdir), "TMP": str(tmpdir),
        SIGNAL_AT_ENV: point,
    }  # fmt: skip
    run = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "triage", str(root), "--out", str(out), "--engine", "dask", "-j", "2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = run.communicate(timeout=540)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(30)
    assert run.returncode == 130, stderr
    assert stderr.strip().splitlines() == [
        "analyzer: interrupted: run stopped, workers ended and temp folders removed; no summary written"
    ]
    assert stdout == ""
    # The worker processes were ended and joined before the run exited...
    assert [cmd for cmd in _left_in_session(run.pid) if "multiprocessing-fork" in cmd] == []
    # ...and multiprocessing's resource tracker, which ends by itself once the run has, follows it.
    deadline = time.monotonic() + 120
    while _left_in_session(run.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _left_in_session(run.pid) == []
    assert list(tmpdir.iterdir()) == []  # no worker folder, no scratch space
    assert not (out / "summary.csv").exists() and list((out / "cases").iterdir()) == []
