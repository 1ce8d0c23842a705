"""Progress while reading: ``diagnose`` draws one tqdm bar on stderr for the whole case when stderr is a
terminal (a real pseudo-terminal here), never otherwise, and its output is the same with or without one.

The bar is driven by the case-reading hook (``analyzer.case.ReadProgress``: bytes read across files),
tested on its own first.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.commands.progress import MIN_BYTES, CaseBar, wanted
from analyzer.diagnosis import diagnose
from tests.conftest import REPO

SAMPLE = REPO / "samples" / "nt4-kb306308"  # a binary log (records at offsets) and a .reg export


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_hook_counts_the_bytes_of_every_file() -> None:
    calls: list[tuple[int, int]] = []
    dx = diagnose(str(SAMPLE), progress=lambda done, total: calls.append((done, total)))
    used = [i for i in dx.inputs if i.format is not None and i.error is None]
    total = sum(i.size for i in used)
    assert len(used) == 2 and total > 0
    assert {t for _, t in calls} == {total}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == total  # forward only, ends full
    ends, running = set(), 0
    for item in dx.inputs:
        if item in used:
            running += item.size
            ends.add(running)
    assert ends <= set(done)  # reported after each file
    assert len(set(done) - ends) > 0  # and within binary logs, at record offsets


@pytest.mark.parametrize(
    ("choice", "size", "tty", "shown"),
    [
        (None, MIN_BYTES, True, True),
        (None, MIN_BYTES - 1, True, False),
        (True, 10, True, True),
        (False, MIN_BYTES * 4, True, False),
        (True, MIN_BYTES * 4, False, False),  # never off a terminal, even when asked
        (None, MIN_BYTES * 4, False, False),
    ],
)
def test_when_a_bar_is_shown(choice: bool | None, size: int, tty: bool, shown: bool) -> None:
    stream = FakeTerminal() if tty else io.StringIO()
    assert wanted(choice, size, stream) is shown
    bar = CaseBar(choice, "case", stream)
    bar(size // 2, size)
    bar(size, size)
    bar.close()
    assert (stream.getvalue() != "") is shown
    if shown:
        assert "case" in stream.getvalue() and "100%" in stream.getvalue()


def _run_on_pty(args: list[str], tmp: Path) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr on a pseudo-terminal and stdout to a file: (exit code, stdout, terminal bytes).

    stdout goes to a file, not a pipe: the terminal is read until the child exits, and a pipe nobody reads
    would block a child with a long report."""
    pty = pytest.importorskip("pty", reason="pseudo-terminals are a POSIX facility")
    import fcntl
    import struct
    import termios

    primary, secondary = pty.openpty()
    # a terminal of 30 rows x 100 columns (a new pseudo-terminal has 0 x 0, where tqdm draws nothing)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    out_path = tmp / "stdout"
    with out_path.open("wb") as out_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "analyzer", *args],
            cwd=REPO,
            stdout=out_file,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(secondary)
        seen = bytearray()
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(timeout=300)
    os.close(primary)
    return code, out_path.read_bytes(), bytes(seen)


def test_a_bar_on_a_terminal_and_the_same_output(tmp_path: Path) -> None:
    code, out, term = _run_on_pty(["diagnose", str(SAMPLE), "--format", "json", "--progress"], tmp_path)
    assert code == 1
    assert b"nt4-kb306308" in term and b"100%" in term and b"|" in term, term[-500:]
    assert out.startswith(b"{") and b"%|" not in out  # JSON on stdout, untouched by the bar
    plain = subprocess.run(
        [sys.executable, "-m", "analyzer", "diagnose", str(SAMPLE), "--format", "json", "--progress"],
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert plain.returncode == 1 and plain.stdout == out  # same report whether a bar was drawn or not
    assert plain.stderr == b""  # not a terminal: no bar, even with --progress


@pytest.mark.parametrize("flag", ["--no-progress", None])
def test_no_bar_when_switched_off_or_the_case_is_small(flag: str | None, tmp_path: Path) -> None:
    args = ["diagnose", str(SAMPLE), "--format", "json", *([flag] if flag else [])]
    code, out, term = _run_on_pty(args, tmp_path)
    assert code == 1 and out.startswith(b"{")
    assert b"%|" not in term and b"it/s" not in term and b"B/s" not in term, term[-500:]


def test_non_terminal_output_is_unchanged_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    """In the test process stderr is not a terminal: the flags change nothing in what is printed."""
    outputs = []
    for extra in ([], ["--progress"], ["--no-progress"]):
        assert main(["diagnose", str(SAMPLE), "--width", "100", *extra]) == 1
        outputs.append(capsys.readouterr())
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0].err == ""


def test_events_takes_the_same_flags(capsys: pytest.CaptureFixture[str]) -> None:
    log = SAMPLE / "AppEvent.Evt"
    results = []
    for extra in ([], ["--progress"], ["--no-progress"]):
        assert main(["events", str(log), "--format", "jsonl", *extra]) == 0
        results.append(capsys.readouterr())
    assert results[0] == results[1] == results[2] and results[0].out
