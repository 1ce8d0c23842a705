"""Memory stays bounded in every command and format; evidence text is escaped on the terminal (issue 13).

Peak RSS is measured in a child process (``os.wait4``: that child's own rusage), never by time.  The
default run keeps moderate checks; the ~300 MB inputs run with ``ANALYZER_SLOW=1`` (marked slow).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.model import Event, EventType
from tests.conftest import REPO
from tests.writers.evt_writer import sample_events, write_evt

MiB = 1 << 20
SLOW = pytest.mark.skipif(not os.environ.get("ANALYZER_SLOW"), reason="~300 MB inputs: set ANALYZER_SLOW=1")
needs_wait4 = pytest.mark.skipif(not hasattr(os, "wait4"), reason="peak RSS of a child needs os.wait4")


# The command runs as the grandchild of this test process, under a small Python parent that reports
# its rusage.  Why: on exec, Linux carries the forking process's high-water RSS into the child's
# ru_maxrss, so a child forked straight from a pytest process that has grown to hundreds of MB after
# thousands of tests would "peak" at the size of pytest, not of the command.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen([sys.executable, "-m", "analyzer", *sys.argv[1:]], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss(*argv: str) -> tuple[int, int, bytes]:
    """(exit code, peak RSS in bytes, stderr) of ``python -m analyzer argv`` with stdout discarded."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    code, maxrss = (int(x) for x in proc.stdout.split())
    rss = maxrss * (1 if sys.platform == "darwin" else 1024)
    return code, rss, proc.stderr


@needs_wait4
def test_registry_recursive_table_of_a_real_system_hive_stays_small(corpus_xz) -> None:
    """Every row used to be padded to the widest REG_BINARY: 24 GB before it was killed."""
    hive = corpus_xz("hive", "regipy__SYSTEM.xz")
    code, rss, err = peak_rss("registry", str(hive), "--recursive")
    assert code == 0, err
    assert rss < 400 * MiB


@needs_wait4
def test_events_table_streams(tmp_path: Path) -> None:
    log, small = tmp_path / "big.evt", tmp_path / "small.evt"
    write_evt(log, sample_events(60_000))
    write_evt(small, sample_events(2_000))
    assert log.stat().st_size > 8 * MiB
    code_big, rss_big, err = peak_rss("events", str(log))
    assert code_big == 0, err
    code_small, rss_small, _ = peak_rss("events", str(small))
    assert code_small == 0
    assert rss_big < rss_small + 60 * MiB  # 30x the records, about the same memory


def test_evidence_text_is_escaped_in_events_and_registry(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    when = datetime(2001, 3, 1, tzinfo=UTC)
    evil = Event(
        "", 1, None, when, when, 1023, 1023, EventType.FAILURE_AUDIT, 2, "Src\x1b]0;owned\x07", "PC\x9b2J",
        None, ("a\r\nforged line", "\u202eevil"),
    )  # fmt: skip
    log = tmp_path / "evil.evt"
    write_evt(log, [evil])
    reg = tmp_path / "evil.reg"
    reg.write_text(
        'REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X\x1b[31m]\r\n"Name\x1b]8;;http://x\x07"="data\x1b[2J"\r\n',
        encoding="cp1252",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    for argv in (
        ["events", str(log)],
        ["registry", str(reg), "--recursive"],
        ["registry", str(reg), "--key", "HKLM\\SOFTWARE\\X\x1b[31m"],
        ["registry", str(reg)],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "analyzer", *argv], capture_output=True, cwd=REPO, env=env, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        for stream in (proc.stdout, proc.stderr):
            text = stream.decode("utf-8")
            assert not any(c in text for c in "\x1b\x07\x9b\u202e\r"), (argv, text)
        if argv[0] == "events":
            out = proc.stdout.decode()
            assert "Src\\x1b]0;owned\\x07" in out and "a\\x0d\\x0aforged line" in out
            # header, rule, one event, its strings on a line of their own, the count: no forged line
            assert len(out.strip().splitlines()) == 5
            assert not any(line.startswith("forged line") for line in out.splitlines())
    err = subprocess.run(
        [sys.executable, "-m", "analyzer", "registry", str(reg), "--key", "HKLM\\No\x1b[2J"],
        capture_output=True, cwd=REPO, env=env, timeout=120,
    ).stderr.decode()  # fmt: skip
    assert "\x1b" not in err and "\\x1b[2J" in err


@needs_wait4
def test_diagnose_under_its_memory_limit_fails_in_one_line() -> None:
    code, _, err = peak_rss("diagnose", str(REPO / "samples" / "nt4-kb306308"), "--memory-limit", "20M")
    if sys.platform == "win32":
        pytest.skip("no memory cap on Windows")
    assert code == 2
    assert err.decode().strip().splitlines() == [
        "analyzer: out of memory: the input needs more than the memory limit (raise it with --memory-limit)"
    ]


# --------------------------------------------------------------------------- ~300 MB inputs (slow)


@pytest.mark.slow
@SLOW
@needs_wait4
@pytest.mark.parametrize("fmt", ["table", "csv", "jsonl", "json"])
def test_events_of_a_300_mb_log_in_every_format(tmp_path_factory: pytest.TempPathFactory, fmt: str) -> None:
    log = tmp_path_factory.getbasetemp() / "big300.evt"
    if not log.exists():
        write_evt(log, sample_events(1_500_000))
    assert log.stat().st_size > 250 * MiB
    code, rss, err = peak_rss("events", str(log), "--format", fmt)
    assert code == 0, err
    assert rss < 300 * MiB, f"{fmt}: peak RSS {rss / MiB:.0f} MiB"


def test_diagnose_in_process_leaves_no_memory_cap_behind(capsys: pytest.CaptureFixture[str]) -> None:
    """cli.main runs inside tests, notebooks and the web server too: the cap holds only while it runs."""
    resource = pytest.importorskip("resource")
    from analyzer import memcap
    from analyzer.cli import main

    before = resource.getrlimit(resource.RLIMIT_AS)
    seen: list[tuple[int, int]] = []
    real_apply = memcap.apply

    def spy(limit: int | None) -> str | None:
        note = real_apply(limit)
        seen.append(resource.getrlimit(resource.RLIMIT_AS))
        return note

    memcap.apply = spy  # type: ignore[assignment]
    try:
        code = main(["diagnose", str(REPO / "samples" / "nt4-kb306308"), "--memory-limit", "2G"])
    finally:
        memcap.apply = real_apply  # type: ignore[assignment]
    capsys.readouterr()
    assert code == 1
    assert seen and seen[0][0] == 2 << 30  # the cap was in force during the run
    assert resource.getrlimit(resource.RLIMIT_AS) == before  # and is gone afterwards
