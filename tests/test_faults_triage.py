"""Triage under faults: signals, a second run, closed pipes, links at ROOT, stale results (issue 13).

Signals are real signals to a real ``python -m analyzer``-equivalent subprocess (bounded waits,
generous timeouts, no assertion on how long anything took).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from analyzer import cli
from analyzer.triage import triage
from analyzer.triage.lock import LOCK_NAME
from tests.conftest import REPO
from tests.test_triage import make_case, standin_diagnose

POSIX = os.name == "posix"

# cli.main with the test stand-in diagnosis (whose SLOW marker keeps a case busy until killed).
_RUNNER = textwrap.dedent(
    """
    import functools, sys
    import analyzer.triage as t
    from analyzer import cli
    from tests.test_triage import standin_diagnose
    t.triage = functools.partial(t.triage, case_function=standin_diagnose)
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def _env(tmpdir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir), "TEMP": str(tmpdir), "TMP": str(tmpdir)}


def _start(argv: list[str], tmpdir: Path, **kw) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _RUNNER, *argv], cwd=REPO, env=_env(tmpdir), text=True, **kw)


def _wait_for(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def _slow_zip_root(tmp_path: Path) -> Path:
    """ROOT with one good case and one zipped case that never finishes (until killed)."""
    root = tmp_path / "root"
    good = make_case(root / "good", "nt4-kb306308")
    with zipfile.ZipFile(root / "slow.zip", "w") as zf:
        zf.writestr("SLOW", good.joinpath("AppEvent.Evt").read_bytes())
        zf.writestr("filler.bin", os.urandom(1 << 20))
    return root


def _extracted(tmpdir: Path) -> list[Path]:
    return list(tmpdir.glob("analyzer-triage-*/w*/analyzer-case-*"))


@pytest.mark.skipif(not POSIX, reason="sends POSIX signals")
@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_stops_the_run_cleanly_and_a_second_run_is_locked_out(
    tmp_path: Path, sig: int, code: int, word: str
) -> None:
    root, out, tmpdir = _slow_zip_root(tmp_path), tmp_path / "out", tmp_path / "tmp"
    tmpdir.mkdir()
    first = _start(["triage", str(root), "--out", str(out), "-j", "1"], tmpdir, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: bool(_extracted(tmpdir)), "the slow case's extracted evidence")
        assert (out / LOCK_NAME).exists()
        second = subprocess.run(
            [sys.executable, "-m", "analyzer", "triage", str(root), "--out", str(out)],
            cwd=REPO, env=_env(tmpdir), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 2
        assert f"output folder in use by process {first.pid}" in second.stderr
        first.send_signal(sig)
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(30)
    assert first.returncode == code, err
    assert err.strip().splitlines()[-1].startswith(f"analyzer: {word}: run stopped")
    assert "Traceback" not in err
    assert list(tmpdir.iterdir()) == []  # extracted evidence and worker folders removed
    assert not (out / LOCK_NAME).exists()


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    root, out = tmp_path / "root", tmp_path / "out"
    make_case(root / "good", "nt4-kb306308")
    out.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / LOCK_NAME).write_text(json.dumps({"pid": int(gone.stdout), "host": socket.gethostname()}))
    frame = triage([root], out=out, jobs=1, case_function=standin_diagnose)
    assert list(frame["status"]) == ["findings"]
    assert not (out / LOCK_NAME).exists()
    # a live owner (this very process) keeps it
    (out / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    assert cli.main(["triage", str(root), "--out", str(out)]) == 2
    assert f"output folder in use by process {os.getpid()}" in capsys.readouterr().err
    assert (out / LOCK_NAME).exists()  # not ours to remove


def test_closed_stdout_and_stderr_still_write_the_summary(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    make_case(root / "good", "nt4-kb306308")
    make_case(root / "other", "harmless-1023")
    proc = _start(
        ["triage", str(root), "--out", str(out), "-j", "1"], tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # as `| head -0` would
    proc.stderr.close()
    assert proc.wait(timeout=300) == 1  # findings: the run's own verdict, not a pipe error
    summary = (out / "summary.csv").read_text(encoding="utf-8")
    assert summary.count("\n") == 3
    assert (out / "summary.parquet").exists()


def test_a_symlink_at_root_level_is_not_followed(tmp_path: Path) -> None:
    outside = make_case(tmp_path / "outside" / "secret", "nt4-kb306308")
    root = tmp_path / "root"
    make_case(root / "good", "nt4-kb306308")
    try:
        os.symlink(outside, root / "linked", target_is_directory=True)
        os.symlink(outside / "AppEvent.Evt", root / "linked.zip")
    except OSError as exc:  # Windows without the privilege
        pytest.skip(f"cannot create symbolic links here: {exc}")
    frame = triage([root], jobs=1, case_function=standin_diagnose)
    assert list(frame["case"]) == ["good"]


def test_a_case_that_now_fails_loses_its_old_json(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    case = make_case(root / "flaky", "nt4-kb306308")
    triage([root], out=out, jobs=1, case_function=standin_diagnose)
    assert (out / "cases" / "flaky.json").exists()
    for f in case.iterdir():
        f.write_bytes(b"\x00\x01 not evidence any more")
    frame = triage([root], out=out, jobs=1, case_function=standin_diagnose)
    assert frame.loc[0, "status"] == "error" and frame.loc[0, "json"] == ""
    assert not (out / "cases" / "flaky.json").exists()


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-5", "0"])
def test_case_timeout_must_be_a_positive_finite_number(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    make_case(root / "good", "nt4-kb306308")
    code = cli.main(["triage", str(root), "--out", str(tmp_path / "out"), f"--case-timeout={value}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "--case-timeout must be a number of seconds above 0" in err[0]
    assert not (tmp_path / "out").exists()


def test_worker_folders_of_a_killed_run_are_swept_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 of the parent cannot clean up; the next run removes what a dead run left."""
    import tempfile

    from analyzer.triage.engines import OWNER_FILE, TEMP_PREFIX, sweep_stale_temp

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale, live, foreign = tmp_path / f"{TEMP_PREFIX}old", tmp_path / f"{TEMP_PREFIX}live", tmp_path / f"{TEMP_PREFIX}x"
    for folder, owner in ((stale, gone.stdout.strip()), (live, str(os.getpid()))):
        (folder / "w0" / "analyzer-case-1").mkdir(parents=True)
        (folder / OWNER_FILE).write_text(owner)
    foreign.mkdir()  # no owner file: not ours to judge
    assert sweep_stale_temp() == [str(stale)]
    assert not stale.exists() and live.exists() and foreign.exists()
