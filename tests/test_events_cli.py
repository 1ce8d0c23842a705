"""``analyzer events``: output formats, filters, --output, exit codes and one-line errors (DESIGN.md contract)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.model import Event, EventType
from tests.test_evtext import ACCOUNT, IMS_DN, SCENARIO_1, ev
from tests.writers.evtext_writer import write_dumpel, write_evcsv, write_evtxt

JSONL_KEYS = [
    "path", "record", "offset", "time_generated", "time_written", "event_id", "event_id_full", "type", "category",
    "source", "computer", "sid", "strings", "message", "recovered",
]  # fmt: skip

EVENTS = [
    *SCENARIO_1,
    ev(7024, "Service Control Manager", ("Microsoft Exchange Information Store", "4294966781"),
       type=EventType.ERROR, when=datetime(2002, 6, 15, 8, 0)),
    ev(1009, strings=(ACCOUNT, IMS_DN), type=EventType.SUCCESS_AUDIT, when=datetime(2002, 6, 16, 8, 0)),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _text_sniffers() -> None:
    """sniff.py imports every text reader's detect(); skip while a colleague's module is missing."""
    for module in ("regfile", "regquery", "regedt32"):
        pytest.importorskip(f"analyzer.readers.{module}")


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_evtxt(tmp_path / "AppEvent.txt", EVENTS, mode="wrapper", header=True)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["events", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def jsonl(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


# ------------------------------------------------------------------------------------------- formats


def test_jsonl_keys_and_values_follow_the_contract(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    code, out, err = run(capsys, str(export), "--format", "jsonl")
    assert (code, err) == (0, "")
    rows = jsonl(out)
    assert [list(r) for r in rows] == [JSONL_KEYS] * len(EVENTS)
    first = rows[0]
    assert first == {
        "path": str(export), "record": 1, "offset": first["offset"], "time_generated": "2002-06-14T15:04:05",
        "time_written": None, "event_id": 1023, "event_id_full": 1023, "type": "failure_audit", "category": 0,
        "source": "MSExchangeIS Private", "computer": "EXCH01", "sid": None, "strings": [ACCOUNT, IMS_DN, IMS_DN],
        "message": None, "recovered": False,
    }  # fmt: skip
    assert isinstance(first["offset"], int)
    assert [r["type"] for r in rows] == ["failure_audit", "error", "error", "error", "success_audit"]


def test_json_is_one_array_of_the_same_objects(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    _, lines, _ = run(capsys, str(export), "--format", "jsonl")
    code, out, _ = run(capsys, str(export), "--format", "json")
    assert code == 0
    assert json.loads(out) == jsonl(lines)
    code, out, _ = run(capsys, str(export), "--format", "json", "--id", "9999")
    assert (code, json.loads(out)) == (0, [])


def test_table_notes_naive_local_times(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    code, out, _ = run(capsys, str(export))
    assert code == 0
    # 80 columns when not a terminal: the insertion strings go under their row, whole
    assert out.splitlines()[0].split() == ["time", "record", "id", "type", "source", "computer"]
    assert "  strings: " in out
    assert "Failure" in out and "MSExchangeIS Private" in out
    assert out.rstrip().endswith("5 event(s) — times are local to the exporting machine (no zone; see --tz)")


def test_tz_turns_local_times_into_utc(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    code, out, _ = run(capsys, str(export), "--format", "jsonl", "--tz", "Europe/Berlin", "--id", "1023")
    assert code == 0
    assert [r["time_generated"] for r in jsonl(out)] == ["2002-06-14T13:04:05Z"]
    code, out, _ = run(capsys, str(export), "--tz", "Europe/Berlin")
    assert "local to the exporting machine" not in out


def test_csv_has_every_field_and_neutralises_formulas(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    hostile = [
        ev(9, "=cmd|' /C calc'!A0", ("x",), type=EventType.ERROR, computer="+SUM(1)", message="-2+3"),
        ev(10, "@Source", (), type=EventType.ERROR, computer="PC", message="plain"),
    ]
    path = write_evtxt(tmp_path / "h.txt", hostile)
    code, out, _ = run(capsys, str(path), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [*JSONL_KEYS[:14], "log", "recovered"]
    assert [(r["source"], r["computer"], r["message"]) for r in rows] == [
        ("'=cmd|' /C calc'!A0", "'+SUM(1)", "'-2+3"),
        ("'@Source", "PC", "plain"),
    ]
    assert json.loads(rows[0]["strings"]) == []  # a rendered message that is not a catalog event: no strings


def test_output_file(capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    code, out, err = run(capsys, str(export), "--format", "jsonl", "--output", str(target))
    assert (code, out, err) == (0, f"Wrote the 5 event(s) as jsonl to {target}\n", "")
    assert len(jsonl(target.read_text(encoding="utf-8"))) == len(EVENTS)
    code, _, err = run(capsys, str(export), "--output", str(tmp_path / "no" / "such" / "dir.txt"))
    assert code == 2 and "dir.txt: cannot write: No such file or directory" in err


# ------------------------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("args", "ids"),
    [
        (["--id", "1023"], [1023]),
        (["--id", "1023", "--id", "0xC0000FB2"], [1023, 4018]),  # full 32-bit ID matches on the low 16 bits
        (["--source", "msexchangeimc"], [4018, 4116]),
        (["--source", "MSExchangeIMC", "--source", "Service Control Manager"], [4018, 4116, 7024]),
        (["--type", "Failure Audit"], [1023]),
        (["--type", "error", "--type", "success_audit"], [4018, 4116, 7024, 1009]),
        (["--since", "2002-06-15"], [7024, 1009]),
        (["--until", "2002-06-15T08:00:00"], [1023, 4018, 4116, 7024]),
        (["--since", "2002-06-15", "--until", "2002-06-15T23:59"], [7024]),
        (["--id", "1009", "--type", "error"], []),
    ],
)
def test_filters(capsys: pytest.CaptureFixture[str], export: Path, args: list[str], ids: list[int]) -> None:
    code, out, _ = run(capsys, str(export), "--format", "jsonl", *args)
    assert code == 0
    assert [r["event_id"] for r in jsonl(out)] == ids


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    for args in (["--id", "abc"], ["--type", "bogus"], ["--since", "yesterday"], ["--tz", "Mars/Olympus"]):
        code, _, err = run(capsys, str(export), *args)
        assert code == 2 and err.strip(), args
    code, _, _ = run(capsys)
    assert code == 2


# -------------------------------------------------------------------------------------- exit codes


def test_nothing_usable_exits_2_with_one_line_each(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    garbage = tmp_path / "AppEvent.Evt"
    garbage.write_bytes(b"\x00\x01garbage" * 300)
    missing = tmp_path / "missing.evt"
    code, _, err = run(capsys, str(missing), str(tmp_path), str(garbage), "--format", "jsonl")
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"analyzer: {missing}: cannot open")
    assert lines[1].startswith(f"analyzer: {tmp_path}: nothing of this kind inside (AppEvent.Evt: not an event log")
    assert lines[2].startswith(f"analyzer: {garbage}: ")
    assert "Traceback" not in err


def test_an_export_with_no_readable_entry_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_evtxt(tmp_path / "AppEvent.txt", SCENARIO_1)
    path.write_bytes(path.read_bytes().replace(b"6/14/2002", b"6/31/2002"))
    code, out, err = run(capsys, str(path), "--format", "jsonl")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == f"analyzer: {path}: no readable Event Viewer text entries (3 problem(s) reported)"
    assert all(line.startswith(f"analyzer: warning: {path}: line ") for line in err.splitlines()[:-1])


def test_one_good_file_is_enough(capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("dear support,\nhere are the files\n")
    code, out, err = run(capsys, str(text), str(export), "--format", "jsonl")
    assert code == 0
    assert len(jsonl(out)) == len(EVENTS)
    assert err.splitlines() == [err.splitlines()[0]] and str(text) in err


def test_damage_is_a_warning_on_stderr(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    data = export.read_bytes().replace(b"\t4116\t", b"\t41x6\t")
    export.write_bytes(data)
    code, out, err = run(capsys, str(export), "--format", "jsonl")
    assert code == 0
    assert [r["event_id"] for r in jsonl(out)] == [1023, 4018, 7024, 1009]
    assert err.startswith(f"analyzer: warning: {export}: line 4: malformed") and len(err.splitlines()) == 1


def test_csv_and_dumpel_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    paths = [
        write_evcsv(tmp_path / "a.csv", EVENTS, mode="wrapper", encoding="utf-16"),
        write_dumpel(tmp_path / "dump.txt", EVENTS),
    ]
    code, out, err = run(capsys, *map(str, paths), "--format", "jsonl", "--id", "1023")
    assert (code, err) == (0, "")
    rows = jsonl(out)
    assert [(r["path"], r["strings"]) for r in rows] == [(str(p), [ACCOUNT, IMS_DN, IMS_DN]) for p in paths]


# --------------------------------------------------------------- scenario 12(b): text export == binary log


def _as_binary(events: list[Event]) -> list[Event]:
    """The same events as a binary log holds them: UTC times, record numbers from 1."""
    out = []
    for number, e in enumerate(events, 1):
        assert e.time_generated is not None
        when = e.time_generated.replace(tzinfo=UTC)
        out.append(replace(e, record=number, time_generated=when, time_written=when))
    return out


def _comparable(row: dict[str, object]) -> tuple[object, ...]:
    return (
        row["event_id"],
        row["type"],
        row["source"],
        row["computer"],
        row["strings"],
        str(row["time_generated"])[:19],
    )


@pytest.mark.parametrize("writer", ["evt", "evtx"])
def test_wrapper_export_reads_like_the_binary_log(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, writer: str
) -> None:
    if writer == "evt":
        module = pytest.importorskip("tests.writers.evt_writer")
        pytest.importorskip("analyzer.readers.evt")
        module.write_evt(tmp_path / "AppEvent.Evt", _as_binary(EVENTS))
        binary = tmp_path / "AppEvent.Evt"
    else:
        module = pytest.importorskip("tests.writers.evtx_writer")
        pytest.importorskip("analyzer.readers.evtx")
        binary = tmp_path / "Application.evtx"
        module.write_evtx(binary, _as_binary(EVENTS))
    text = write_evtxt(tmp_path / "AppEvent.txt", EVENTS, mode="wrapper", wrapper="w2k", encoding="utf-16")
    _, from_binary, err_b = run(capsys, str(binary), "--format", "jsonl")
    _, from_text, err_t = run(capsys, str(text), "--format", "jsonl", "--tz", "UTC")
    assert (err_b, err_t) == ("", "")
    assert [_comparable(r) for r in jsonl(from_text)] == [_comparable(r) for r in jsonl(from_binary)]


def test_no_table_on_stdout_when_no_input_was_usable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 with only the error lines: an empty table would look like 'the log has no events'."""
    assert main(["events", str(tmp_path / "missing.evt")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
