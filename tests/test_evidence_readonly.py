"""Evidence is never modified: diagnose and triage on read-only copies leave every byte and name as found.

The case folders are chmod 0444 (files) / 0555 (folders).  Tests usually run as root, for whom those
modes do not stop a write, so the guards are independent of permissions: a snapshot (names, sizes,
modes, SHA-256) of the whole evidence tree before and after, and a Python audit hook that fails on any
open() for writing, os.open with write/create flags, rename, remove or mkdir under the evidence.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.diagnosis import diagnose
from fuzz.seeds import IMC_DN, case_zip, loa_tree, sample_events
from tests.writers.evt_writer import write_evt
from tests.writers.evtext_writer import write_evtxt
from tests.writers.evtx_writer import write_evtx
from tests.writers.hive_writer import build_hive, multi_sz, offline_system, write_dirt_log
from tests.writers.regtext_writers import write_reg

PS = r"Services\MSExchangeIS\ParametersSystem"
OLD_DN = IMC_DN.replace("EXCH01", "EXCH99")  # same length: the replayed sectors differ only in data
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_guarded: list[str] = []  # evidence roots the audit hook protects (the hook itself cannot be removed)
_violations: list[str] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if not _guarded:
        return
    paths: list[object] = []
    if event == "open" and len(args) >= 3:
        path, mode, flags = args[0], args[1], args[2]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS
        )
        if writing:
            paths.append(path)
    elif event in ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.utime"):
        paths.extend(a for a in args[:2] if isinstance(a, str | bytes | os.PathLike))
    for p in paths:
        if isinstance(p, int):
            continue
        real = os.path.realpath(os.fsdecode(p))  # type: ignore[arg-type]
        if any(real == g or real.startswith(g + os.sep) for g in _guarded):
            _violations.append(f"{event} {real}")


sys.addaudithook(_audit)


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """relative path -> (mode, size, sha256) of every file and folder under ``root`` (and root itself)."""
    out: dict[str, tuple[int, int, str]] = {".": (stat.S_IMODE(root.stat().st_mode), 0, "")}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
            out[str(p.relative_to(root))] = (stat.S_IMODE(st.st_mode), st.st_size, digest)
    return out


def _make_read_only(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o555)
    os.chmod(root, 0o555)


def _make_writable(root: Path) -> None:
    os.chmod(root, 0o755)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)


def _dirty_system_pair() -> tuple[bytes, bytes]:
    """A dirty SYSTEM hive naming OLD_DN and the bytes its DIRT log turns it into (naming IMC_DN)."""
    old = offline_system({1: {PS: [multi_sz("Logon Only As", [OLD_DN])]}})
    new = offline_system({1: {PS: [multi_sz("Logon Only As", [IMC_DN])]}})
    dirty = build_hive(old, dirty=True, version=(1, 3), sequence=9)
    wanted = build_hive(new, version=(1, 3), sequence=9)
    assert len(dirty) == len(wanted)
    return dirty, wanted


def _build_evidence(root: Path) -> None:
    """One folder case (every format family, a dirty hive with its log) and one zip case."""
    events = sample_events(120)
    folder = root / "EXCH01"
    (folder / "logs").mkdir(parents=True)
    write_evt(folder / "logs" / "AppEvent.Evt", events)
    write_evtx(folder / "logs" / "Application.evtx", events)
    write_evtxt(folder / "logs" / "app.txt", events[:20])
    write_reg(folder / "loa.reg", loa_tree(), version=4)
    dirty, wanted = _dirty_system_pair()
    (folder / "SYSTEM").write_bytes(dirty)
    write_dirt_log(folder / "SYSTEM.LOG", dirty, wanted)
    (folder / "readme.txt").write_text("notes from the customer\n")
    evt_bytes = (folder / "logs" / "AppEvent.Evt").read_bytes()
    (root / "EXCH02.zip").write_bytes(case_zip({"AppEvent.Evt": evt_bytes, "SYSTEM": dirty}))


@pytest.fixture
def evidence(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "evidence"
    _build_evidence(root)
    _make_read_only(root)
    before = _snapshot(root)
    _guarded.append(os.path.realpath(root))
    _violations.clear()
    try:
        yield root
        assert _violations == [], f"writes under the evidence: {_violations[:5]}"
        assert _snapshot(root) == before, "evidence changed (a byte, a mode, or a new file/folder)"
    finally:
        _guarded.clear()
        _make_writable(root)


def test_diagnose_reads_a_read_only_case_folder_and_replays_the_hive_log_without_writing(evidence: Path) -> None:
    dx = diagnose(str(evidence / "EXCH01"))
    d = dx.to_dict()
    formats = sorted(i["format"] or "-" for i in d["inputs"])
    assert {"evt", "evtx", "evtxt", "hive", "reg"} <= set(formats)
    hive_input = next(i for i in d["inputs"] if i["format"] == "hive")
    assert any("applied 1 log" in w for w in hive_input["warnings"]), hive_input["warnings"]
    assert hive_input["records"] > 0
    by_path = {i["path"]: i for i in d["inputs"]}
    for rel, item in by_path.items():
        if rel == "readme.txt":  # documentation, not evidence: deliberately not hashed
            assert item["sha256"] == ""
            continue
        real = evidence / "EXCH01" / rel
        assert item["sha256"] == hashlib.sha256(real.read_bytes()).hexdigest(), rel
    # the replayed list (from the log) is what the diagnosis saw in the hive
    assert any(IMC_DN in (v or "") for v in [*d["logon_only_as"]["entries"], *d["dns_to_add"]])


def test_diagnose_of_a_read_only_zip_case_extracts_elsewhere(evidence: Path) -> None:
    dx = diagnose(str(evidence / "EXCH02.zip"))
    assert {i["format"] for i in dx.to_dict()["inputs"]} >= {"evt", "hive"}


def test_triage_of_read_only_cases_writes_only_to_its_output_folder(evidence: Path, tmp_path: Path) -> None:
    from analyzer.triage import triage

    out = tmp_path / "out"
    frame = triage(str(evidence), out=str(out), jobs=1)
    assert sorted(frame["case"]) == ["EXCH01", "EXCH02"]
    assert set(frame["status"]) <= {"clean", "findings"}, frame[["case", "status", "error"]].to_dict("records")
    assert (out / "summary.csv").is_file()
    assert sorted(p.name for p in (out / "cases").iterdir()) == ["EXCH01.json", "EXCH02.json"]


def test_the_guards_notice_a_write(tmp_path: Path) -> None:
    """The audit hook and the snapshot would catch a reader that wrote beside its input."""
    root = tmp_path / "ev"
    root.mkdir()
    (root / "a.evt").write_bytes(b"x")
    before = _snapshot(root)
    _guarded.append(os.path.realpath(root))
    _violations.clear()
    try:
        (root / "a.evt.lock").write_bytes(b"")
        os.rename(root / "a.evt.lock", root / "b")
    finally:
        _guarded.clear()
    assert [v.split()[0] for v in _violations] == ["open", "os.rename", "os.rename"]
    assert _snapshot(root) != before
    _violations.clear()
