"""triage reads each case as diagnose would: the reading options reach the workers, and a case whose
every evidence file failed while being read is an error row, not "clean"."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from analyzer.cli import main
from tests.conftest import REPO

GERMAN = REPO / "samples" / "de-nt4-kb306308"


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return {row["case"]: row for row in csv.DictReader(fh)}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(GERMAN, tmp_path / "root" / "de")
    return tmp_path / "root"


def test_encoding_reaches_the_workers_and_nothing_read_is_an_error(root: Path, tmp_path: Path) -> None:
    assert main(["triage", str(root), "-o", str(tmp_path / "plain"), "--jobs", "1"]) == 1
    assert _rows(tmp_path / "plain")["de"]["status"] == "findings"
    # every text export of the case is ANSI: read as UTF-16 nothing can be read
    assert main(["triage", str(root), "-o", str(tmp_path / "utf16"), "--jobs", "1", "--encoding", "utf-16"]) == 1
    row = _rows(tmp_path / "utf16")["de"]
    assert row["status"] == "error"
    assert row["error"].startswith("no usable input: AppEvent.txt: cannot read")


def test_an_unknown_language_is_a_usage_error(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", str(root), "-o", str(tmp_path / "x"), "--language", "xx"]) == 2
    assert "unknown language 'xx'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
