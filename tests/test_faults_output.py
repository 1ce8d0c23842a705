"""Disk full and friends: every output file is whole or absent, and the error is one line (issue 13).

The fault is injected for real: ``analyzer.output.open_temp`` is replaced by a real file whose writes
fail with ENOSPC after N bytes (as a full disk does), and stdout is the real ``/dev/full``.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analyzer import output
from analyzer.output import OutputError, atomic_write, write_files
from tests.conftest import REPO

SAMPLE = REPO / "samples" / "nt4-kb306308"


class _FullDisk:
    """A real temp file that accepts ``room`` bytes, then fails like a full device."""

    def __init__(self, raw: Any, room: int) -> None:
        self.raw, self.room = raw, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.raw.write(bytes(data[: self.room]))
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.raw.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch):
    """``disk_full(room)``: from then on each output temp file takes at most ``room`` bytes."""
    real = output.open_temp

    def arm(room: int | None) -> None:
        if room is None:
            monkeypatch.setattr(output, "open_temp", real)
        else:
            monkeypatch.setattr(output, "open_temp", lambda path: _FullDisk(real(path), room))

    return arm


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_on_a_full_disk_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, disk_full) -> None:
    target = tmp_path / "report.txt"
    target.write_text("old report\n")
    disk_full(100)
    with pytest.raises(OutputError) as err, atomic_write(target) as fh:
        for _ in range(1000):
            fh.write("a line of the new report\n")
    assert str(err.value) == f"{target}: cannot write: No space left on device"
    assert target.read_text() == "old report\n"
    assert leftovers(tmp_path) == ["report.txt"]


def test_an_error_in_the_callers_block_removes_the_temp_and_propagates(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    with pytest.raises(KeyError), atomic_write(target) as fh:
        fh.write("{")
        raise KeyError("boom")
    assert leftovers(tmp_path) == []


def test_pair_is_written_whole_or_not_at_all(tmp_path: Path, disk_full) -> None:
    patch, back = tmp_path / "fix.reg", tmp_path / "fix-rollback.reg"
    disk_full(10_000)  # the patch fits, the rollback does not (each temp gets its own room)
    big = b"x" * 20_000
    with pytest.raises(OutputError) as err:
        write_files([(patch, b"REGEDIT4\r\n"), (back, big)])
    assert "fix-rollback.reg: cannot write: No space left on device" in str(err.value)
    assert leftovers(tmp_path) == []
    disk_full(None)  # with room, both appear
    write_files([(patch, b"a"), (back, b"b")])
    assert patch.read_bytes() == b"a" and back.read_bytes() == b"b"


def test_diagnose_reg_patch_and_output_on_a_full_disk(tmp_path: Path, disk_full, capsys) -> None:
    from analyzer import cli

    disk_full(300)  # a few hundred bytes: the patch would be cut mid-DN
    patch = tmp_path / "fix.reg"
    report = tmp_path / "report.txt"
    code = cli.main(["diagnose", str(SAMPLE), "--reg-patch", str(patch), "--output", str(report)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"analyzer: {patch}: cannot write: No space left on device"]
    assert leftovers(tmp_path) == []  # no patch, no rollback, no report, no temp


def test_triage_summary_on_a_full_disk_leaves_no_partial_summary(tmp_path: Path, disk_full) -> None:
    import pandas as pd

    from analyzer.triage.output import write_summary

    cols = ["case", "rules", "dns_to_add", "logon_only_as", "error", "json"]
    frame = pd.DataFrame({c: ["x" * 50] * 200 for c in cols})
    (tmp_path / "summary.csv").write_text("old\n")
    disk_full(1000)
    with pytest.raises(OutputError):
        write_summary(frame, tmp_path)
    assert leftovers(tmp_path) == ["summary.csv"]
    assert (tmp_path / "summary.csv").read_text() == "old\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)")
@pytest.mark.parametrize(
    "argv",
    [
        ["diagnose", str(SAMPLE)],
        ["diagnose", str(SAMPLE), "--format", "json"],
        ["events", str(SAMPLE / "AppEvent.Evt")],
        ["events", str(SAMPLE / "AppEvent.Evt"), "--format", "jsonl"],
        ["registry", str(SAMPLE / "ParametersSystem.reg"), "--recursive"],
    ],
)
def test_stdout_on_a_full_device_is_one_line_and_exit_2(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "analyzer", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=120,
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "analyzer: <stdout>: cannot write: No space left on device"
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


def test_events_and_registry_output_files_on_a_full_disk(tmp_path: Path, disk_full, capsys) -> None:
    from analyzer import cli

    disk_full(200)
    out = tmp_path / "events.jsonl"
    assert cli.main(["events", str(SAMPLE / "AppEvent.Evt"), "--format", "jsonl", "--output", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"analyzer: {out}: cannot write: No space left on device"
    reg = tmp_path / "reg.csv"
    assert cli.main(["registry", str(SAMPLE / "ParametersSystem.reg"), "-r", "--format", "csv", "-o", str(reg)]) == 2
    assert capsys.readouterr().err.strip() == f"analyzer: {reg}: cannot write: No space left on device"
    assert leftovers(tmp_path) == []


def test_diagnose_output_alone_on_a_full_disk(tmp_path: Path, disk_full, capsys) -> None:
    from analyzer import cli

    report = tmp_path / "report.html"
    report.write_text("yesterday's report")
    disk_full(500)
    assert cli.main(["diagnose", str(SAMPLE), "--format", "html", "--output", str(report)]) == 2
    assert (
        capsys.readouterr().err.strip().splitlines()[-1] == f"analyzer: {report}: cannot write: No space left on device"
    )
    assert report.read_text() == "yesterday's report" and leftovers(tmp_path) == ["report.html"]
