"""Evidence that changes, shrinks, is huge, sparse, deep or built to waste time (issue 13)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from analyzer.case import CaseLimits, open_case
from analyzer.model import ReadWarning
from analyzer.readers import evt
from analyzer.walk import sha256_file, walk_folder
from tests.conftest import REPO, corpus_file

SAMPLE = REPO / "samples" / "nt4-kb306308"


def test_a_hive_truncated_while_open_does_not_kill_the_process(tmp_path: Path, corpus_xz) -> None:
    """Through a memory map this died of SIGBUS (exit 135); the bytes are read once now."""
    hive = tmp_path / "SYSTEM"
    hive.write_bytes(corpus_xz("hive", "regipy__SYSTEM.xz").read_bytes())
    script = textwrap.dedent(
        f"""
        import os
        from analyzer.registry import read_registry
        reg = read_registry({str(hive)!r})
        os.truncate({str(hive)!r}, 8192)  # another process cuts the file while we still walk it
        keys = sum(1 for _ in reg.walk())
        print(keys)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 1000


def test_an_event_log_shrinking_while_read_gives_a_warning_with_the_offset(tmp_path: Path) -> None:
    from analyzer.events import iter_file

    log = tmp_path / "AppEvent.Evt"
    log.write_bytes((SAMPLE / "AppEvent.Evt").read_bytes())
    warnings: list[ReadWarning] = []
    events = iter_file(str(log), warn=warnings.append)
    first = next(events)
    cutter = threading.Thread(target=os.truncate, args=(log, 0x30))  # a second thread cuts the file
    cutter.start()
    cutter.join()
    rest = list(events)
    assert first.record is not None and len(rest) >= 0
    shrank = [w for w in warnings if "shrank while being read" in w.message]
    assert shrank and shrank[0].offset == 0x30
    assert "partial" in shrank[0].message


def test_a_truncated_evtx_says_so(tmp_path: Path) -> None:
    from analyzer.events import iter_file

    src = corpus_file("evtx", "attack__DE_1102_security_log_cleared.evtx")
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(src.read_bytes()[: 4096 + 65536])  # the header declares two chunks
    warnings: list[ReadWarning] = []
    list(iter_file(str(cut), warn=warnings.append))
    (w,) = [w for w in warnings if "file is truncated" in w.message]
    assert w.offset == 4096 + 65536 and "2 chunks" in w.message


def test_size_limit_is_checked_from_stat_before_hashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "case" / "huge.evt"
    big.parent.mkdir()
    with open(big, "wb") as fh:  # 50 GB, sparse: costs nothing on disk
        fh.truncate(50 << 30)
    hashed: list[str] = []
    import analyzer.case as case_module

    monkeypatch.setattr(case_module, "sha256_file", lambda p: hashed.append(p) or ("", 0))
    with open_case(str(big.parent), limits=CaseLimits(max_file_size=10 << 20)) as case:
        (item,) = case.inputs
    assert hashed == []
    assert item.error == "file is 50 GiB, over the 10 MiB limit (raise it with --max-file-size)"
    assert item.size == 50 << 30


def test_hashing_skips_holes_and_gives_the_same_digest(tmp_path: Path) -> None:
    f = tmp_path / "sparse.bin"
    with open(f, "wb") as fh:
        fh.write(b"head" * 1000)
        fh.seek(64 << 20)
        fh.write(b"middle")
        fh.truncate(130 << 20)
    digest, size = sha256_file(str(f))
    expected = hashlib.sha256()
    with open(f, "rb") as fh:
        while chunk := fh.read(1 << 20):
            expected.update(chunk)
    assert (digest, size) == (expected.hexdigest(), 130 << 20)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(str(empty)) == (hashlib.sha256().hexdigest(), 0)


def _deep(base: Path, levels: int) -> None:
    """``levels`` nested folders named ``d`` with a file at the bottom (made relative to a folder fd,
    since the full path is longer than the OS allows)."""
    fds = [os.open(base, os.O_RDONLY)]
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fds[-1])
            fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
        fd = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fds[-1])
        os.write(fd, b"x")
        os.close(fd)
    finally:
        for fd in fds:
            os.close(fd)


def _undeep(base: Path, levels: int) -> None:
    """Remove what ``_deep`` made, bottom up (shutil.rmtree would recurse 3,000 times)."""
    fds = [os.open(base, os.O_RDONLY)]
    try:
        for _ in range(levels):
            fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
        os.unlink("bottom.txt", dir_fd=fds[-1])
        for parent in reversed(fds[:-1]):
            os.close(fds.pop())
            os.rmdir("d", dir_fd=parent)
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.skipif(os.name != "posix" or not hasattr(os, "O_DIRECTORY"), reason="builds the tree with dir_fd")
def test_a_folder_3000_levels_deep_is_walked_without_recursion_errors(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    (case / "AppEvent.Evt").write_bytes((SAMPLE / "AppEvent.Evt").read_bytes())
    _deep(case, 3000)
    try:
        _check_deep(case)
    finally:
        _undeep(case, 3000)


def _check_deep(case: Path) -> None:
    listing = walk_folder(str(case))
    assert listing.files[0][0] == "AppEvent.Evt"
    assert listing.unreadable  # past the OS path limit: reported, not a crash
    with open_case(str(case)) as opened:
        assert any("folder not read" in w for w in opened.warnings)
        assert [i.path for i in opened.usable] == ["AppEvent.Evt"]


def test_an_unreadable_sub_folder_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = tmp_path / "case"
    (case / "locked").mkdir(parents=True)
    (case / "locked" / "SYSTEM").write_bytes(b"regf")
    (case / "AppEvent.Evt").write_bytes((SAMPLE / "AppEvent.Evt").read_bytes())
    real_scandir = os.scandir

    def scandir(path: str):  # root ignores permissions, so the refusal is injected at the call
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with open_case(str(case)) as opened:
        assert "locked: folder not read (Permission denied); files in it are missing" in opened.warnings


def _records_checked(path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    calls = 0
    real = evt._EvtLog.record_length_at

    def counting(self, off: int, limit: int | None = None) -> int:
        nonlocal calls
        calls += 1
        return real(self, off, limit)

    monkeypatch.setattr(evt._EvtLog, "record_length_at", counting)
    list(evt.read(str(path)))
    monkeypatch.setattr(evt._EvtLog, "record_length_at", real)
    return calls


@pytest.mark.parametrize(
    "pattern",
    [b"LfLe", b"\x38\x00\x00\x00LfLe", b"\x38\x00\x00\x00LfLe\x00\x00\x00\x00"],
    ids=["bare-signatures", "plausible-lengths", "plausible-with-gaps"],
)
def test_a_file_of_false_signatures_costs_a_bounded_number_of_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pattern: bytes
) -> None:
    """Checks per megabyte stay below a constant however many signatures the file holds."""
    size = 4 << 20
    f = tmp_path / "bogus.evt"
    f.write_bytes(b"\x30\x00\x00\x00LfLe" + bytes(0x28) + pattern * (size // len(pattern)))
    checks = _records_checked(f, monkeypatch)
    windows = size // evt.WINDOW + 2
    assert checks <= 2 * windows * evt.MAX_RESYNC_ATTEMPTS + 100
