"""``-o`` to a device or FIFO writes into it; the atomic rename must never replace the node.

Found when the suite ran as root: ``events ... -o /dev/null`` renamed a temp file over ``/dev/null``,
which became a plain file on the small ``/dev`` file system, and later runs that wrote to
"/dev/null" failed with "No space left on device".  These tests use a FIFO of their own, never a
real device, so a regression cannot damage the machine that runs them.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from analyzer import output
from analyzer.cli import main
from tests.conftest import REPO

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
SAMPLE_LOG = REPO / "samples" / "nt4-kb306308" / "AppEvent.Evt"


def _drain(fifo: Path, into: list[bytes]) -> threading.Thread:
    def run() -> None:
        with open(fifo, "rb") as fh:
            into.append(fh.read())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@needs_fifo
def test_atomic_write_into_a_fifo_keeps_the_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    with output.atomic_write(fifo) as fh:
        fh.write("through the pipe\n")
    reader.join(30)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temp left beside it


@needs_fifo
def test_write_files_into_a_fifo_and_a_file(tmp_path: Path) -> None:
    fifo, plain = tmp_path / "patch", tmp_path / "rollback.reg"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    output.write_files([(fifo, b"patch bytes"), (plain, b"rollback bytes")])
    reader.join(30)
    assert got == [b"patch bytes"] and plain.read_bytes() == b"rollback bytes"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@needs_fifo
def test_events_output_to_a_fifo_keeps_the_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    assert main(["events", str(SAMPLE_LOG), "--format", "jsonl", "-o", str(fifo)]) == 0
    reader.join(30)
    plain = tmp_path / "plain.jsonl"
    assert main(["events", str(SAMPLE_LOG), "--format", "jsonl", "-o", str(plain)]) == 0
    assert got == [plain.read_bytes()] and got[0].count(b"\n") >= 5
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_regular_files_and_missing_targets_are_not_devices(tmp_path: Path) -> None:
    plain = tmp_path / "r.txt"
    plain.write_text("x")
    assert not output.is_device(plain)
    assert not output.is_device(tmp_path / "missing.txt")


def test_windows_reserved_names_are_devices() -> None:
    assert output.windows_device_name("NUL")
    assert output.windows_device_name("nul.txt")  # Windows ignores the extension of a device name
    assert output.windows_device_name("COM3") and output.windows_device_name("conout$")
    assert not output.windows_device_name("null.txt") and not output.windows_device_name("report.html")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX device node")
def test_dev_null_is_still_a_device() -> None:
    """Guards the machine the suite runs on: earlier tests write ``-o /dev/null``."""
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_temp_names_are_hidden_beside_the_target_and_apart(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    names = {output.temp_name(target) for _ in range(50)}
    assert len(names) == 50  # 8 random hex digits: two writers of one process never share a temp file
    for name in names:
        assert name.parent == tmp_path
        head, pid, suffix, ext = name.name.rsplit(".", 3)
        assert (head, pid, ext) == (".report.txt", str(os.getpid()), "tmp")
        assert len(suffix) == 8 and set(suffix) <= set("0123456789abcdef")


def test_writing_a_report_loads_neither_uuid_nor_platform(tmp_path: Path) -> None:
    """``diagnose -o`` writes through a temp file: naming it costs no ``uuid`` (which loads ``platform``)."""
    probe = (
        "import contextlib, io, json, sys\nfrom analyzer.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(sys.argv[1:])\n    except SystemExit:\n        pass\n"
        "print(json.dumps([m for m in ('uuid', 'platform') if m in sys.modules]))"
    )
    out = tmp_path / "report.txt"
    sample = os.path.join("samples", "nt4-kb306308")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", probe, "diagnose", sample, "-o", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.read_text(encoding="utf-8").strip()
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
