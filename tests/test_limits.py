"""Resource limits: documented defaults, overridable flags, clear one-line errors and warnings."""

from __future__ import annotations

import argparse
import io
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path

import pytest

from analyzer.cli import build_parser
from analyzer.cli import main as cli_main
from analyzer.diagnosis import diagnose
from analyzer.events import iter_events
from analyzer.limits import DEFAULT_LIMITS, GiB, MiB, ReadLimits, parse_size
from analyzer.model import InputError
from analyzer.registry import read_registry
from fuzz.seeds import IMC_DN, hostile_event, loa_tree, sample_events
from tests.writers.evt_writer import write_evt
from tests.writers.regtext_writers import write_reg


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli_main(argv)
    return code, out.getvalue(), err.getvalue()


def test_defaults_are_documented_in_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command, flags in {
        "diagnose": ["--max-file-size", "--max-records", "--max-strings", "--max-case-size"],
        "triage": ["--max-file-size", "--max-records", "--max-strings", "--max-case-size"],
        "events": ["--max-file-size", "--max-records", "--max-strings"],
        "registry": ["--max-file-size"],
    }.items():
        text = sub.choices[command].format_help()
        for flag in flags:
            assert flag in text, (command, flag)
        assert "default 4 GiB" in text
    assert ReadLimits(4 * GiB, 10_000_000, 256) == DEFAULT_LIMITS


@pytest.mark.parametrize(("text", "value"), [("500M", 500 * MiB), ("2G", 2 * GiB), ("64k", 65536), ("100", 100)])
def test_sizes_parse_with_binary_units(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "-1", "0", "1.5G", "lots", "2X"])
def test_bad_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)
    assert _run(["events", "x.evt", "--max-file-size", text])[0] == 2


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "AppEvent.Evt"
    write_evt(path, sample_events(60))
    size = path.stat().st_size
    with pytest.raises(InputError, match=r"over the 1 KiB limit \(raise it with --max-file-size\)"):
        list(iter_events(str(path), limits=ReadLimits(max_file_size=1024)))
    assert len(list(iter_events(str(path), limits=ReadLimits(max_file_size=size)))) == 60
    code, out, err = _run(["events", str(path), "--max-file-size", "1K", "--format", "jsonl"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "AppEvent.Evt" in err and "--max-file-size" in err


def test_registry_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = write_reg(tmp_path / "loa.reg", loa_tree(), version=5)
    with pytest.raises(InputError, match="limit"):
        read_registry(str(path), limits=ReadLimits(max_file_size=100))
    assert _run(["registry", str(path), "--max-file-size", "100"])[0] == 2
    assert _run(["registry", str(path)])[0] == 0


def test_record_limit_stops_with_one_warning_and_keeps_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "AppEvent.Evt"
    write_evt(path, sample_events(60))
    code, out, err = _run(["events", str(path), "--max-records", "25", "--format", "jsonl"])
    assert code == 0
    assert len(out.splitlines()) == 25
    assert "stopped after 25 records" in err and "--max-records" in err


def test_string_limit_cuts_insertion_strings_with_one_warning_per_file(tmp_path: Path) -> None:
    many = tuple(f"s{i}" for i in range(300))
    events = [replace(hostile_event(IMC_DN, record=i + 1), strings=many) for i in range(3)]
    path = tmp_path / "AppEvent.Evt"
    write_evt(path, events)
    warnings: list = []
    got = list(iter_events(str(path), warn=warnings.append, limits=ReadLimits(max_strings=10)))
    assert [len(e.strings) for e in got] == [10, 10, 10]
    assert got[0].strings == many[:10]
    assert len([w for w in warnings if "insertion strings" in w.message]) == 1
    assert [len(e.strings) for e in iter_events(str(path))] == [300, 300, 300]  # no limit object: untouched


def test_diagnose_applies_the_limits_and_reports_them_as_input_warnings(tmp_path: Path) -> None:
    case = tmp_path / "EXCH01"
    case.mkdir()
    write_evt(case / "AppEvent.Evt", sample_events(400))  # 1023 audits at 1, 51, 101, ...
    write_reg(case / "loa.reg", loa_tree([]), version=4)
    d = diagnose(str(case), read_limits=ReadLimits(max_records=2)).to_dict()
    evt = next(i for i in d["inputs"] if i["format"] == "evt")
    assert evt["records"] == 2
    assert any("stopped after 2 records" in w for w in evt["warnings"])
    small = diagnose(str(case), read_limits=ReadLimits(max_file_size=1000)).to_dict()
    refused = next(i for i in small["inputs"] if i["format"] == "evt")
    assert "limit" in (refused["error"] or "")
    code, _, _ = _run(["diagnose", str(case), "--max-records", "2", "--format", "json"])
    assert code in (0, 1)


def test_case_size_limit_refuses_an_archive_that_expands_beyond_it(tmp_path: Path) -> None:
    zpath = tmp_path / "EXCH01.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        buf = io.BytesIO()
        write_evt(tmp_path / "a.evt", sample_events(200))
        buf.write((tmp_path / "a.evt").read_bytes())
        zf.writestr("AppEvent.Evt", buf.getvalue())
    code, out, err = _run(["diagnose", str(zpath), "--max-case-size", "1K", "--format", "json"])
    assert code == 2, (out, err)
    assert "EXCH01.zip" in err
    assert _run(["diagnose", str(zpath), "--format", "json"])[0] in (0, 1)
