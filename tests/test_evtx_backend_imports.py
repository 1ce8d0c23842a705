"""Reading an .evtx on the Rust backend imports neither python-evtx (whose XML views pull in urllib, email
and ssl) nor importlib.metadata: each costs more start-up time than a small log takes to read."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from analyzer.model import Event, EventType
from analyzer.readers import evtx as evtx_reader
from tests.writers.evtx_writer import write_evtx

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import analyzer
before = set(sys.modules)
analyzer.diagnose(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_diagnosing_an_evtx_imports_only_the_backend_it_reads_with(tmp_path: Path) -> None:
    when = datetime(2001, 3, 1, tzinfo=UTC)
    log = tmp_path / "one.evtx"
    write_evtx(log, [Event("", 1, None, when, when, 1023, 1023, EventType.FAILURE_AUDIT, 0, "X", "S", None, ())])
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(log)], capture_output=True, text=True, cwd=REPO, check=True, timeout=120
    )
    loaded = json.loads(out.stdout)
    assert "evtx" in loaded  # the Rust backend did the reading
    assert not [m for m in loaded if m == "Evtx" or m.startswith("Evtx.")], loaded
    assert "importlib.metadata" not in loaded


def test_the_proven_release_check_agrees_with_importlib_metadata() -> None:
    from importlib.metadata import version

    assert evtx_reader._installed_evtx_version() == version("evtx")
