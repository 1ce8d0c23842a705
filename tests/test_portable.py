"""Runs where the Unix-only APIs are missing (Windows): each one is taken away here and the code still works.

The local triage pool's portable paths with real worker processes are in test_triage.py (a manual clock
drives the watchdog time limit; the parent's memory watch replaces the address-space cap).
"""

from __future__ import annotations

import ast
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from analyzer import memcap
from analyzer.case import case_name
from analyzer.events import iter_file
from analyzer.readers import evt
from analyzer.triage import budget, safe_file_name
from analyzer.triage.budget import CaseTimeout, time_limit
from tests.conftest import REPO

SAMPLE_EVT = REPO / "samples" / "nt4-kb306308" / "AppEvent.Evt"


def _records(path: Path) -> list[tuple[int | None, int, tuple[str, ...]]]:
    return [(e.record, e.event_id, tuple(e.strings)) for e in iter_file(str(path), fmt="evt")]


def test_evt_reader_without_pread_reads_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _records(SAMPLE_EVT)
    assert expected
    monkeypatch.delattr(os, "pread", raising=False)
    seen: list[tuple[int, int]] = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: seen.append((fd, n)) or real_read(fd, n))
    assert _records(SAMPLE_EVT) == expected
    assert seen  # the seek-and-read path did the reading


def test_evt_read_at_returns_short_reads_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pread", raising=False)
    f = tmp_path / "f"
    f.write_bytes(bytes(range(100)))
    fd = os.open(f, os.O_RDONLY)
    try:
        assert evt.read_at(fd, 10, 95) == bytes(range(95, 100))
        assert evt.read_at(fd, 3, 0) == b"\x00\x01\x02"
        assert evt.read_at(fd, 5, 200) == b""
    finally:
        os.close(fd)


def test_time_limit_without_sigalrm_uses_the_watchdog_in_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(signal, "setitimer", raising=False)
    monkeypatch.delattr(signal, "SIGALRM", raising=False)
    assert not budget.has_interval_timer()
    limit = time_limit(0.1)
    assert not limit.use_alarm
    with pytest.raises(CaseTimeout), limit:
        while True:  # ends only by the time limit, whatever the machine's load
            time.sleep(0.01)


def test_time_limit_on_an_injected_clock_fires_when_the_clock_says() -> None:
    clock = [0.0]
    steps = 0
    with pytest.raises(CaseTimeout), time_limit(5.0, lambda: clock[0]):
        while True:
            time.sleep(0.01)
            steps += 1
            if steps == 30:  # 0.3 s of real time have not moved this clock: no timeout yet
                clock[0] = 5.0
    assert steps >= 30


def test_time_limit_that_did_not_fire_leaves_nothing_pending() -> None:
    with time_limit(60.0, lambda: 0.0):
        pass
    time.sleep(0.1)  # a stray asynchronous exception would land here


def test_without_resource_no_address_space_cap_and_peak_rss_still_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "resource", None)  # import resource -> ImportError, as on Windows
    assert not budget.has_address_space_limit()
    assert memcap.apply(1 << 30) is not None  # the cap says it cannot, and the run goes on
    assert budget.peak_rss() >= 0
    assert (budget.resident_bytes(os.getpid()) or 0) > 0


def test_windows_paths_in_case_names() -> None:
    assert case_name(r"C:\cases\CASE-7.zip") == "CASE-7"
    assert case_name(r"\\server\share\2026\Contoso case.evt") == "Contoso case"
    used: set[str] = set()
    assert safe_file_name(r"C:\cases\CASE-7", used) not in ("", ".json")
    assert "\\" not in safe_file_name(r"C:\cases\CASE-7", used) and ":" not in safe_file_name("a:b", used)


UNIX_ONLY = {
    ("os", "pread"),
    ("os", "pwrite"),
    ("os", "fork"),
    ("os", "forkpty"),
    ("signal", "SIGALRM"),
    ("signal", "setitimer"),
    ("signal", "alarm"),
    ("signal", "pthread_kill"),
}
#: Where a Unix-only API is used behind a check of its presence (the portable path is next to it).
GUARDED = {"analyzer/triage/budget.py", "analyzer/memcap.py"}  # evt.py reads through read_at (getattr)


def test_unix_only_apis_appear_only_behind_a_fallback() -> None:
    offenders = []
    for path in sorted((REPO / "analyzer").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            used = None
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in UNIX_ONLY:
                    used = f"{node.value.id}.{node.attr}"
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if {"resource", "fcntl", "termios", "pwd", "grp"} & set(names):
                    used = "import " + ", ".join(names)
            if used and rel not in GUARDED:
                offenders.append(f"{rel}:{node.lineno}: {used}")
    assert not offenders, "Unix-only API without a portable path:\n" + "\n".join(offenders)


def test_evt_resync_peek_without_pread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check of a record's trailing length far from the read window used ``os.pread`` directly."""
    from tests.writers.evt_writer import sample_events, write_evt

    layout = write_evt(tmp_path / "big.evt", sample_events(14_000))
    size = layout.path.stat().st_size
    assert size > 2 * evt.WINDOW
    monkeypatch.delattr(os, "pread", raising=False)
    log = evt._EvtLog(str(layout.path), None, lambda w: None)
    log.open()
    try:
        far = size - 64
        assert log._peek4(far) == layout.path.read_bytes()[far : far + 4]  # outside the window: a fresh read
    finally:
        os.close(log.fd)
