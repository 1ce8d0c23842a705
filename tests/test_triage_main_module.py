"""``analyzer.triage`` from a script piped on stdin: one clear error instead of workers dying at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

SCRIPT = """
import analyzer
from analyzer.triage import TriageError
try:
    analyzer.triage([{root!r}], jobs=1)
except TriageError as exc:
    print("TriageError:", exc)
"""


def test_triage_from_a_script_on_stdin_says_why_it_cannot_start_workers(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "case1").mkdir(parents=True)
    (root / "case1" / "x.reg").write_text("REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n", encoding="ascii")
    proc = subprocess.run(
        [sys.executable, "-"], input=SCRIPT.format(root=str(root)), capture_output=True, text=True,
        cwd=tmp_path, env={"PYTHONPATH": str(REPO)}, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("TriageError: triage cannot start worker processes from a script read from <stdin>")
    assert "Traceback" not in proc.stderr
