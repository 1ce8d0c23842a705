"""Big inputs are hashed on a background thread while the case is read, with the same digests.

``open_case`` hands every file of at least ``case.BACKGROUND_HASH_MIN`` bytes to a ``walk.BackgroundHasher``;
``CaseInput.sha256`` waits for the hash when first read.  These tests pin that the digests, sizes and the
whole JSON report are those of the synchronous hash, that the thread is gone when the case closes (also
after an error) and that a hash failing after the file was opened becomes a warning, never a traceback.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import threading
from pathlib import Path

import pytest

from analyzer import case as case_module
from analyzer.case import CaseInput, open_case
from analyzer.diagnosis import diagnose
from analyzer.walk import BackgroundHasher, HashStopped, PendingDigest, sha256_file

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "nt4-kb306308"


def _hash_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "analyzer-hash"]


def test_a_big_file_is_hashed_in_the_background_with_the_same_digest(tmp_path: Path) -> None:
    log = tmp_path / "big.bin"
    log.write_bytes(bytes(range(256)) * ((case_module.BACKGROUND_HASH_MIN >> 8) + 3))
    with open_case(str(log)) as case:
        (item,) = case.inputs
        assert isinstance(item.__dict__["_sha256"], PendingDigest)  # the background path was taken
        assert item.sha256 == hashlib.sha256(log.read_bytes()).hexdigest()
        assert item.size == log.stat().st_size
    assert (item.sha256, item.size) == sha256_file(str(log))
    assert _hash_threads() == []


def test_every_digest_is_settled_when_the_case_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_module, "BACKGROUND_HASH_MIN", 1)
    with open_case(str(SAMPLE)) as case:
        assert any(isinstance(i.__dict__["_sha256"], PendingDigest) for i in case.inputs)
    assert all(isinstance(i.__dict__["_sha256"], str) for i in case.inputs)
    assert [(i.sha256, i.size) for i in case.inputs if i.sha256] == [
        sha256_file(i.real_path) for i in case.inputs if i.sha256
    ]
    assert _hash_threads() == []


def test_the_report_is_the_same_with_every_file_hashed_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    before = diagnose(str(SAMPLE)).to_json()
    monkeypatch.setattr(case_module, "BACKGROUND_HASH_MIN", 1)
    assert diagnose(str(SAMPLE)).to_json() == before
    assert json.loads(before)["inputs"][0]["sha256"]


def test_an_error_inside_the_case_stops_the_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_module, "BACKGROUND_HASH_MIN", 1)
    with pytest.raises(RuntimeError, match="reading failed"), open_case(str(SAMPLE)):
        raise RuntimeError("reading failed")
    assert _hash_threads() == []


class _FailingFile(io.FileIO):
    """A file that opened fine and fails on read (a disk error in the middle of a log)."""

    def read(self, size: int | None = -1) -> bytes:
        raise OSError(errno.EIO, "Input/output error")


def test_a_read_error_while_hashing_is_a_warning_on_the_input(tmp_path: Path) -> None:
    log = tmp_path / "log.evt"
    log.write_bytes(b"x" * 10)
    hasher = BackgroundHasher()
    try:
        pending = hasher.submit(_FailingFile(str(log), "rb"))
        item = CaseInput("log.evt", "log.evt", "evt", pending, 10)  # type: ignore[arg-type]
        assert item.sha256 == ""
        assert item.warnings == ["cannot read to hash: Input/output error"]
        assert item.sha256 == "" and len(item.warnings) == 1  # settled once
    finally:
        hasher.close()


def test_close_abandons_what_is_not_hashed_and_joins_the_thread(tmp_path: Path) -> None:
    paths = []
    for n in range(20):
        p = tmp_path / f"f{n}.bin"
        p.write_bytes(bytes([n]) * (1 << 20))
        paths.append(p)
    hasher = BackgroundHasher()
    pending = [hasher.submit(open(p, "rb")) for p in paths]  # noqa: SIM115 - the hasher closes them
    hasher.close()
    assert _hash_threads() == []
    outcomes: list[bool | None] = []  # True: hashed right; None: abandoned
    for p, job in zip(paths, pending, strict=True):
        try:
            outcomes.append(job.result() == sha256_file(str(p)))
        except HashStopped:
            outcomes.append(None)
        assert job.fh.closed
    assert False not in outcomes


def test_waiting_for_a_hash_gives_way_to_a_case_time_limit(tmp_path: Path) -> None:
    """The watchdog of ``triage.budget.time_limit`` (Windows, Dask threads) raises in the waiting thread."""
    from analyzer.triage.budget import CaseTimeout, time_limit

    log = tmp_path / "log.evt"
    log.write_bytes(b"x")
    ticks = iter(range(1_000_000))
    with open(log, "rb") as fh:
        never = PendingDigest(fh)  # submitted to no hasher: it never finishes
        with pytest.raises(CaseTimeout), time_limit(3, now=lambda: float(next(ticks))):
            never.result()
