"""Batch triage: generated cases, both engines, resume, hostile archives, timeouts and crashes as error rows."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import stat
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analyzer import cli
from analyzer.case import Case, CaseLimits
from analyzer.model import EventFilter
from analyzer.sniff import EVENT_FORMATS, REGISTRY_FORMATS
from analyzer.triage import (
    SUMMARY_COLUMNS,
    TriageError,
    discover,
    safe_file_name,
    time_limit,
    triage,
    write_json_atomic,
)
from analyzer.triage import output as triage_output
from tests.conftest import REPO

HAVE_DIAGNOSIS = any((REPO / "analyzer" / name).exists() for name in ("diagnosis.py", "diagnosis"))
PARAMS = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"


def load_make_samples() -> Any:
    """samples/make_samples.py builds the bundled cases with the test writers (it is a script, not a module)."""
    spec = importlib.util.spec_from_file_location("make_samples", REPO / "samples" / "make_samples.py")
    if spec is None or spec.loader is None or not (REPO / "samples" / "make_samples.py").exists():
        pytest.skip("samples/make_samples.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_case(folder: Path, scenario: str) -> Path:
    """One case folder of a sample scenario (nt4-kb306308, w2k-two-controlsets, move-mailbox, harmless-1023):
    a copy of the bundled sample's evidence files (made by samples/make_samples.py with the test writers)."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = REPO / "samples" / scenario
    if not sample.is_dir():
        load_make_samples().CASES[scenario](folder)
        return folder
    for f in sorted(sample.iterdir()):
        if f.is_file() and f.name != "README.md":
            shutil.copyfile(f, folder / f.name)
    return folder


# --------------------------------------------------------------------------- a stand-in diagnosis
# Test-only: used for isolation tests (sleeping / crashing cases) and while analyzer/diagnosis.py is
# absent.  It reads the real files with the real readers; markers in input names inject misbehaviour.


def standin_diagnose(case: Case, **options: Any) -> dict[str, Any]:
    names = {Path(i.path).name for i in case.inputs}
    if "SLOW" in names:  # Python-level loop: the soft time limit interrupts it
        let_time_pass(case, VIRTUAL_LIMIT + VIRTUAL_GRACE / 2)  # past the limit, not yet past the kill grace
        while True:
            time.sleep(0.02)
    if "STUBBORN" in names:  # stuck in C code that ignores the soft limit: only the parent's kill ends it
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        let_time_pass(case, VIRTUAL_LIMIT + VIRTUAL_GRACE + 1)
        time.sleep(600)
    if "CRASH" in names:
        os._exit(3)
    if "GREEDY" in names:  # 4 GiB of address space, never touched: fails at once under the worker's limit
        import numpy

        return {"hoard": len(numpy.empty(4 << 30, dtype=numpy.uint8))}
    if "HOG" in names:  # really uses memory, then waits: only a watcher of resident memory sees it
        hoard = b"x" * HOG_BYTES
        while hoard:
            time.sleep(0.05)
    from analyzer.events import iter_file
    from analyzer.registry import read_registry

    refused: list[str] = []
    state, entries, source = "unknown", [], None
    for item in case.usable:
        if item.format in EVENT_FORMATS:
            for e in iter_file(item.real_path, fmt=item.format, filters=EventFilter.build(ids=[1023])):
                item.records += 1
                if e.source == "MSExchangeIS Private" and len(e.strings) > 1:
                    refused.append(e.strings[1])
        elif item.format in REGISTRY_FORMATS:
            value = read_registry(item.real_path, fmt=item.format).value(PARAMS, "Logon Only As")
            state = "absent" if value is None else ("set" if value.data else "empty")
            entries, source = (list(value.data) if value and value.data else []), item.path
    held = {e.casefold() for e in entries}
    dns = [] if state in ("absent", "unknown") else sorted({d for d in refused if "/cn=configuration/" in d.casefold()})
    dns = [d for d in dns if d.casefold() not in held]
    findings = [{"rule": "KB306308", "severity": "error", "title": "refused", "dn": d} for d in dns]
    return {
        "schema": "analyzer.diagnosis/1",
        "case": case.name,
        "needs_action": bool(dns),
        "inputs": [
            {
                "path": i.path,
                "format": i.format,
                "sha256": i.sha256,
                "size": i.size,
                "records": i.records,
                "warnings": i.warnings,
                "error": i.error,
            }
            for i in case.inputs
        ],
        "logon_only_as": {"state": state, "entries": entries, "source": source},
        "findings": findings,
        "dns_to_add": dns,
        "warnings": list(case.warnings),
    }


# --------------------------------------------------------------------------- a clock the test moves
# Time limits are measured on an injected clock that stands still until a case moves it, so which case
# times out never depends on how loaded the machine is (CI runs on two shared cores).

VIRTUAL_LIMIT = 2.0  # the case time limit of these tests, in seconds of the manual clock
VIRTUAL_GRACE = 1.0  # the parent's kill grace on the same clock
HOG_BYTES = 384 << 20


@dataclass(frozen=True)
class ManualClock:
    """A CaseClock whose time for case ``names[index]`` is the number in ``folder/<name>`` (0 until written)."""

    folder: str
    names: tuple[str, ...]

    def now(self, index: int) -> float:
        try:
            return float((Path(self.folder) / self.names[index]).read_text(encoding="ascii"))
        except (OSError, ValueError, IndexError):
            return 0.0


def manual_clock(tmp_path: Path, root: Path) -> ManualClock:
    """The clock of the cases under ``root`` (discovery order is sorted names); cases find it beside ``root``."""
    folder = root.parent / "clock"
    folder.mkdir(exist_ok=True)
    return ManualClock(str(folder), tuple(sorted(p.name for p in root.iterdir())))


def let_time_pass(case: Case, seconds: float) -> None:
    """Move the case's manual clock to ``seconds`` (written whole: a reader never sees half a number)."""
    folder = Path(case.root).parent.parent / "clock"
    if folder.is_dir():
        scratch = folder / f".{case.name}.tmp"
        scratch.write_text(repr(seconds), encoding="ascii")
        os.replace(scratch, folder / case.name)


def _input_dict(i: Any) -> dict[str, Any]:
    keys = ("path", "format", "sha256", "size", "records", "warnings", "error")
    return {k: getattr(i, k) for k in keys}


CASE_FN = None if HAVE_DIAGNOSIS else standin_diagnose


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sample scenarios, one of them zipped, plus a damaged and a hostile archive."""
    root = tmp_path_factory.mktemp("archive")
    make_case(root / "case-nt4", "nt4-kb306308")
    make_case(root / "case-w2k", "w2k-two-controlsets")
    make_case(root / "case-harmless", "harmless-1023")
    zipped = make_case(root.parent / "zipsrc", "nt4-kb306308")
    with zipfile.ZipFile(root / "case-zipped.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(zipped.iterdir()):
            zf.write(f, f"export/{f.name}")
    folder = make_case(root / "case-folder-with-zip", "nt4-kb306308")
    with zipfile.ZipFile(folder / "logs.zip", "w", zipfile.ZIP_DEFLATED) as zf:  # a zip inside a case is part of it
        zf.write(folder / "AppEvent.Evt", "AppEvent.Evt")
    (folder / "AppEvent.Evt").unlink()
    (root / "case-corrupt.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with zipfile.ZipFile(root / "case-slip.zip", "w") as zf:
        zf.writestr("../../escaped.Evt", (zipped / "AppEvent.Evt").read_bytes())
    (root / "notes.txt").write_text("not a case\n")
    return root


def statuses(frame: pd.DataFrame) -> dict[str, str]:
    return dict(zip(frame["case"], frame["status"], strict=True))


# --------------------------------------------------------------------------- tests


def test_discovery_and_safe_names(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (tmp_path / "loose.evt").write_bytes(b"x")
    (tmp_path / ".hidden").mkdir()
    cases, notes = discover([tmp_path])
    assert [name for name, _ in cases] == ["a", "b"]
    assert any("loose.evt: not a folder or archive" in n for n in notes)
    used: set[str] = set()
    names = [safe_file_name(n, used) for n in ["..", "../../x", "a\\b", "CON", "case", "CASE", "\x00"]]
    assert names == ["case.json", "_.._x.json", "a_b.json", "_CON.json", "case~2.json", "CASE~3.json", "_.json"]
    for n in names:
        assert (tmp_path / "out" / n).resolve().parent == (tmp_path / "out").resolve()
    with pytest.raises(TriageError, match="no such folder"):
        discover([tmp_path / "missing"])


def test_local_triage_writes_json_summary_and_error_rows(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    frame = triage([archive], out=out, jobs=2, case_function=CASE_FN)
    assert list(frame.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    st = statuses(frame)
    assert st == {
        "case-corrupt": "error",
        "case-folder-with-zip": "findings",
        "case-harmless": "clean",
        "case-nt4": "findings",
        "case-slip": "error",
        "case-w2k": "findings",
        "case-zipped": "findings",
    }
    rows = frame.set_index("case")
    ims = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
    assert rows.loc["case-nt4", "dns_to_add"] == ims
    assert rows.loc["case-zipped", "dns_to_add"] == ims
    assert rows.loc["case-folder-with-zip", "dns_to_add"] == ims
    assert "KB306308" in rows.loc["case-nt4", "rules"].split("; ")
    assert rows.loc["case-nt4", "logon_only_as"] == "set"
    assert rows.loc["case-harmless", "logon_only_as"] == "absent"
    assert rows.loc["case-corrupt", "error"].startswith("case-corrupt.zip: corrupt zip archive")
    assert "tries to escape" in rows.loc["case-slip", "error"]
    assert rows.loc["case-nt4", "inputs"] == 2 and rows.loc["case-nt4", "error"] == ""
    # per-case JSON for every diagnosed case, none for the failed one; zip members keep archive paths
    doc = json.loads((out / "cases" / "case-zipped.json").read_text())
    assert sorted(i["path"] for i in doc["inputs"]) == ["export/AppEvent.Evt", "export/ParametersSystem.reg"]
    assert not (out / "cases" / "case-corrupt.json").exists()
    assert (out / "cases" / "case-slip.json").exists()  # sanitised content was diagnosed; the row says why not trusted
    assert not (archive.parent / "escaped.Evt").exists() and not (out / "escaped.Evt").exists()
    assert not list(out.rglob("*.tmp"))
    # summary files hold the same table
    csv = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert list(csv["case"]) == list(frame["case"]) and list(csv["status"]) == list(frame["status"])
    parquet = pd.read_parquet(out / "summary.parquet")
    pd.testing.assert_frame_equal(parquet, frame, check_dtype=False)


def test_dask_engine_gives_the_same_summary(archive: Path, tmp_path: Path) -> None:
    local = triage([archive], out=tmp_path / "local", jobs=2, case_function=CASE_FN)
    dask = triage([archive], out=tmp_path / "dask", jobs=2, engine="dask", case_function=CASE_FN)
    pd.testing.assert_frame_equal(local.drop(columns="seconds"), dask.drop(columns="seconds"))
    for name in local["json"]:
        if name:
            assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()


def test_resume_skips_unchanged_cases_and_redoes_changed_ones(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_case(root / "one", "nt4-kb306308")
    make_case(root / "two", "harmless-1023")
    out = tmp_path / "out"
    first = triage([root], out=out, jobs=1, case_function=CASE_FN)
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "cases").iterdir()}
    time.sleep(0.01)
    (root / "two" / "extra.bin").write_bytes(b"\x00\x01junk")  # a changed case: new input
    again = triage([root], out=out, jobs=1, resume=True, case_function=CASE_FN)
    assert (out / "cases" / "one.json").stat().st_mtime_ns == stamp["one.json"]
    assert (out / "cases" / "two.json").stat().st_mtime_ns != stamp["two.json"]
    assert list(again["status"]) == list(first["status"])
    assert again.set_index("case").loc["two", "inputs"] == 3
    # a damaged JSON is not trusted: the case runs again
    (out / "cases" / "one.json").write_text("{half")
    third = triage([root], out=out, jobs=1, resume=True, case_function=CASE_FN)
    assert json.loads((out / "cases" / "one.json").read_text())["case"] == "one"
    assert list(third["status"]) == list(first["status"])


def test_timeouts_crashes_and_memory_become_error_rows(tmp_path: Path) -> None:
    root = tmp_path / "root"
    good = make_case(root / "good", "nt4-kb306308")
    for marker in ("SLOW", "STUBBORN", "CRASH", "GREEDY"):
        (root / marker.lower()).mkdir()
        (root / marker.lower() / marker).write_bytes(good.joinpath("AppEvent.Evt").read_bytes())
    frame = triage(
        [root], out=tmp_path / "out", jobs=2, case_timeout=VIRTUAL_LIMIT, kill_grace=VIRTUAL_GRACE,
        memory_limit=1 << 30, case_function=standin_diagnose, clock=manual_clock(tmp_path, root),
    )  # fmt: skip
    rows = frame.set_index("case")
    assert rows.loc["good", "status"] == "findings"
    assert rows.loc["slow", "error"] == "timed out after 2 s"
    assert rows.loc["stubborn", "error"] == "timed out after 2 s (worker killed)"
    assert rows.loc["crash", "error"].startswith("worker process died (exit code 3)")
    assert rows.loc["greedy", "error"].startswith("out of memory")
    assert set(frame["status"]) == {"findings", "error"}


def test_the_case_json_text_is_what_json_dump_of_the_safe_document_wrote() -> None:
    """Workers now make each case file's text; it must be byte for byte what the parent wrote before:
    ``json.dump(json_safe(doc), ensure_ascii=False, indent=2, default=str)`` and a newline."""
    import io
    from datetime import UTC, datetime

    from analyzer.terminal import json_safe

    docs = [
        {"inputs": [{"path": "AppEvent.Evt", "sha256": "ab"}], "verdict": {"dn": "/o=Org/ou=Site/cn=X"}},
        {"inputs": [{"path": "caf\udce9/AppEvent.Evt"}], "n": (1, 2.5, None, True), "k": {"é": "ü\n\t\x01"}},
        {"when": datetime(2001, 3, 1, tzinfo=UTC), "empty": {}, "none": [], 3: "int key"},
    ]
    for doc in docs:
        before = io.StringIO()
        json.dump(json_safe(doc), before, ensure_ascii=False, indent=2, default=str)
        assert triage_output.case_json_text(doc) == before.getvalue() + "\n"
    assert "path_raw" in triage_output.case_json_text(docs[1])  # the name that was not UTF-8 keeps its bytes


def test_a_case_sent_ahead_to_a_worker_that_dies_or_is_killed_runs_on_the_next_one(tmp_path: Path) -> None:
    """A worker gets its next case before it finishes the current one (so it never waits for the parent);
    when that worker crashes or is killed for its time limit, the case waiting in its pipe had not
    started: it runs on the replacement worker, as if nothing had happened."""
    root = tmp_path / "root"
    good = make_case(root / "b_good", "nt4-kb306308")
    make_case(root / "d_good", "nt4-kb306308")
    make_case(root / "f_good", "nt4-kb306308")
    for name, marker in (("a_crash", "CRASH"), ("c_stubborn", "STUBBORN"), ("e_crash", "CRASH")):
        (root / name).mkdir()
        (root / name / marker).write_bytes(good.joinpath("AppEvent.Evt").read_bytes())
    frame = triage(
        [root], out=tmp_path / "out", jobs=1, case_timeout=VIRTUAL_LIMIT, kill_grace=VIRTUAL_GRACE,
        case_function=standin_diagnose, clock=manual_clock(tmp_path, root),
    )  # fmt: skip
    rows = frame.set_index("case")
    assert sorted(rows.index) == ["a_crash", "b_good", "c_stubborn", "d_good", "e_crash", "f_good"]
    for name in ("b_good", "d_good", "f_good"):
        assert rows.loc[name, "status"] == "findings", rows.loc[name].to_dict()
    assert rows.loc["a_crash", "error"].startswith("worker process died (exit code 3)")
    assert rows.loc["e_crash", "error"].startswith("worker process died (exit code 3)")
    assert rows.loc["c_stubborn", "error"] == "timed out after 2 s (worker killed)"


@pytest.mark.timeout(120)  # the failure this guards against is a hang (the stubborn case sleeps 600 s)
def test_a_case_sent_ahead_gets_its_time_limit_from_its_own_start_when_the_parent_is_late(tmp_path: Path) -> None:
    """The time limit of a case sent ahead starts when the worker starts it, not when this process
    gets round to the previous result: here the parent is busy (``on_case`` sleeps) while the worker
    finishes b_good and starts the stubborn case, which moves its clock past the limit at once."""
    root = tmp_path / "root"
    good = make_case(root / "a_good", "nt4-kb306308")
    make_case(root / "b_good", "nt4-kb306308")
    (root / "c_stubborn").mkdir()
    (root / "c_stubborn" / "STUBBORN").write_bytes(good.joinpath("AppEvent.Evt").read_bytes())

    def busy_parent(row: dict[str, Any], resumed: bool) -> None:
        if row["case"] == "a_good":
            time.sleep(1.0)  # real time: b_good (milliseconds) ends and c_stubborn starts meanwhile

    frame = triage(
        [root], jobs=1, case_timeout=VIRTUAL_LIMIT, kill_grace=VIRTUAL_GRACE, case_function=standin_diagnose,
        clock=manual_clock(tmp_path, root), on_case=busy_parent,
    )  # fmt: skip
    rows = frame.set_index("case")
    assert rows.loc["a_good", "status"] == rows.loc["b_good", "status"] == "findings"
    assert rows.loc["c_stubborn", "error"] == "timed out after 2 s (worker killed)"


@dataclass
class DictClock:
    """A CaseClock for one process: the reading of case ``index`` is ``readings[index]`` (0 until set)."""

    readings: dict[int, float]

    def now(self, index: int) -> float:
        return self.readings.get(index, 0.0)


def test_a_worker_reports_when_a_case_sent_ahead_starts() -> None:
    """``engines.serve``, the worker's loop, on a pipe: the start reading of a case sent ahead is taken
    before the case runs (the case moves its clock to 99 first thing), and it reaches the parent with
    the previous result when the case was already waiting, else in a "started" message of its own."""
    import multiprocessing
    import threading

    from analyzer.triage.cases import CaseSpec
    from analyzer.triage.engines import serve

    clock = DictClock({})
    release = {i: threading.Event() for i in range(3)}

    def run(spec: CaseSpec) -> dict[str, Any]:
        clock.readings[spec.index] = 99.0  # the case moves its own clock at once
        assert release[spec.index].wait(30)
        return {"index": spec.index}

    parent, child = multiprocessing.Pipe()
    worker = threading.Thread(target=serve, args=(child, clock, run), daemon=True)
    worker.start()
    spec = [CaseSpec(i, f"case{i}", f"src{i}", f"case{i}.json") for i in range(3)]
    try:
        parent.send((spec[0], False))
        parent.send((spec[1], True))  # sent ahead while case 0 runs: waiting when case 0 ends
        release[0].set()
        assert parent.poll(30)
        assert parent.recv() == {"index": 0, "next_start": 0.0}  # read before case 1 moved its clock
        release[1].set()
        assert parent.poll(30)
        assert parent.recv() == {"index": 1}  # nothing was waiting: no reading
        parent.send((spec[2], True))  # sent ahead, but the worker was already idle
        assert parent.poll(30)
        assert parent.recv() == ("started", 2, 0.0)
        release[2].set()
        assert parent.poll(30)
        assert parent.recv() == {"index": 2}
        parent.send(None)
        worker.join(30)
        assert not worker.is_alive()
    finally:
        for event in release.values():
            event.set()
        parent.close()
        child.close()


def test_without_an_address_space_limit_the_parent_kills_a_worker_above_the_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no ``resource``: the parent watches the workers' resident memory instead."""
    from analyzer.triage import engines

    monkeypatch.setattr(engines, "has_address_space_limit", lambda: False)
    root = tmp_path / "root"
    good = make_case(root / "good", "nt4-kb306308")
    (root / "hog").mkdir()
    (root / "hog" / "HOG").write_bytes(good.joinpath("AppEvent.Evt").read_bytes())
    frame = triage(
        [root], jobs=2, case_timeout=VIRTUAL_LIMIT, memory_limit=HOG_BYTES // 2, case_function=standin_diagnose,
        clock=manual_clock(tmp_path, root),
    )  # fmt: skip
    rows = frame.set_index("case")
    assert rows.loc["good", "status"] == "findings"
    assert rows.loc["hog", "error"] == "out of memory (worker above the 192 MiB limit; killed)"


def test_time_limit_in_a_thread_interrupts_python_code() -> None:
    import threading

    outcome: list[str] = []

    def body() -> None:
        try:
            with time_limit(0.2):
                while True:
                    time.sleep(0.01)
        except BaseException as exc:
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(5)
    assert outcome == ["CaseTimeout"]


def test_dask_engine_on_a_given_scheduler_enforces_the_time_limit(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "slow").mkdir(parents=True)
    (root / "slow" / "SLOW").write_bytes(b"\x30\x00\x00\x00LfLe" + b"\x00" * 40)  # sniffs as .evt
    (root / "fine").mkdir()
    (root / "fine" / "junk.bin").write_bytes(b"\x00\x01\x02")
    from dask.distributed import LocalCluster

    # a scheduler of its own, given by address as a team would give its cluster's (--scheduler)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        frame = triage(
            [root], engine="dask", scheduler=cluster.scheduler_address, case_timeout=VIRTUAL_LIMIT,
            case_function=standin_diagnose, clock=manual_clock(tmp_path, root),
        )  # fmt: skip
        assert len(cluster.scheduler.workers) == 1  # the cluster outlives the run: it is not ours to close
    rows = frame.set_index("case")
    assert rows.loc["slow", "error"] == "timed out after 2 s"
    assert rows.loc["fine", "error"].startswith("no usable input: junk.bin: not an event log")


def test_limits_reach_the_workers(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("AppEvent.Evt", b"\x00" * (4 << 20))
    frame = triage([root], jobs=1, case_function=standin_diagnose)
    assert "zip bomb suspected" in frame.loc[0, "error"]
    relaxed = triage([root], jobs=1, limits=CaseLimits(max_ratio=1e6), case_function=standin_diagnose)
    assert relaxed.loc[0, "error"].startswith("no usable input: AppEvent.Evt: contains only zero bytes")


def test_cli_exit_codes_and_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["triage", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["triage", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no cases found" in capsys.readouterr().err
    if not HAVE_DIAGNOSIS:
        pytest.skip("analyzer/diagnosis.py not there yet: the CLI runs the real diagnosis")
    root = tmp_path / "root"
    make_case(root / "harmless", "harmless-1023")
    assert cli.main(["triage", str(root), "--out", str(tmp_path / "o1"), "-j", "1"]) == 0
    captured = capsys.readouterr()
    assert "No case needs action." in captured.out
    assert "triage [1/1] harmless: clean" in captured.err  # plain log lines: stderr is not a terminal
    make_case(root / "nt4", "nt4-kb306308")
    assert cli.main(["triage", str(root), "--out", str(tmp_path / "o2"), "-j", "1"]) == 1
    out = capsys.readouterr().out
    assert "Cases needing action:" in out and "nt4" in out and "KB306308" in out


def test_csv_cells_cannot_become_formulas(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "=HYPERLINK(1)").mkdir(parents=True)
    (root / "=HYPERLINK(1)" / "x.bin").write_bytes(b"\x00\x01")
    frame = triage([root], out=tmp_path / "out", jobs=1, case_function=standin_diagnose)
    assert frame.loc[0, "case"] == "=HYPERLINK(1)"
    text = (tmp_path / "out" / "summary.csv").read_text()
    assert "'=HYPERLINK(1)" in text and "\n=" not in text


def test_read_only_evidence_is_not_touched(tmp_path: Path) -> None:
    root = tmp_path / "root"
    case = make_case(root / "nt4", "nt4-kb306308")
    before = {p: p.read_bytes() for p in case.iterdir()}
    for p in [*case.iterdir(), case, root]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        triage([root], out=tmp_path / "out", jobs=1, case_function=CASE_FN)
        assert {p: p.read_bytes() for p in case.iterdir()} == before
    finally:
        for p in [root, case, *case.iterdir()]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_json_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "case.json"
    write_json_atomic(target, {"case": "old"})

    real = triage_output.atomic_write

    @contextlib.contextmanager
    def interrupted(path: Any, **options: Any) -> Any:
        with real(path, **options) as fh:

            class HalfWritten:
                def write(self, text: str) -> None:
                    fh.write(text[:11])  # interrupted half way
                    raise KeyboardInterrupt

            yield HalfWritten()

    monkeypatch.setattr(triage_output, "atomic_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(target, {"case": "new"})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"case": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["case.json"]


def test_public_api_can_be_called_twice_in_one_session(tmp_path: Path) -> None:
    """Regression: importing the analyzer.triage package rebinds ``analyzer.triage`` from the API
    function to the package, so a second ``analyzer.triage(...)`` raised 'module is not callable'."""
    import subprocess
    import sys

    code = (
        "import sys, analyzer\n"
        "a = analyzer.triage([sys.argv[1]], out=sys.argv[2], jobs=1)\n"
        "b = analyzer.triage([sys.argv[1]], out=sys.argv[3], jobs=1)\n"
        "print(len(a), len(b), list(a['case']) == list(b['case']))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "samples"), str(tmp_path / "a"), str(tmp_path / "b")],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    cases = str(sum(1 for p in (REPO / "samples").iterdir() if p.is_dir()))  # one case per sample folder
    assert run.stdout.split() == [cases, cases, "True"]
