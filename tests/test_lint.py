"""The code base stays ruff-clean and ruff-formatted (part of the suite so CI enforces it)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

CODE = ["analyzer", "tests", "benchmarks", "fuzz", "samples", "tools"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_clean(command: list[str]) -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is in requirements-test.txt)")
    result = subprocess.run([ruff, *command, *CODE], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
