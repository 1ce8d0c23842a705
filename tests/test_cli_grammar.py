"""One CLI grammar: -o/--output everywhere, the format from the extension, text/table synonyms, files,
folders and zips for events and registry, help for every argument, --version."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from analyzer import __version__
from analyzer.cli import COMMANDS, build_parser, main
from tests.conftest import REPO

SAMPLE = REPO / "samples" / "nt4-kb306308"
KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"


def test_every_argument_of_every_command_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = []
    for name, command_parser in sub.choices.items():  # type: ignore[union-attr]
        for action in command_parser._actions:
            if action.dest != "help" and not (action.help or "").strip():
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing
    assert set(sub.choices) >= set(COMMANDS)  # type: ignore[arg-type]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"analyzer {__version__}"


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        ("r.html", "<!DOCTYPE html>"),
        ("r.md", "# "),
        ("r.json", '"schema"'),
        ("r.csv", "severity,rule"),
        ("r.txt", "Findings\n"),
    ],
)
def test_diagnose_output_format_follows_the_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, marker: str
) -> None:
    target = tmp_path / name
    assert main(["diagnose", str(SAMPLE), "-o", str(target)]) == 1
    assert marker in target.read_text(encoding="utf-8")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Add this DN to Logon Only As on EXCH01:")  # the verdict is still printed
    assert out[-1].startswith("Wrote the ") and out[-1].endswith(str(target))


def test_format_wins_over_the_extension_and_a_foreign_extension_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "r.html"
    assert main(["diagnose", str(SAMPLE), "-o", str(target), "--format", "json"]) == 1
    assert json.loads(target.read_text(encoding="utf-8"))["schema"] == "analyzer.diagnosis/1"
    capsys.readouterr()
    assert main(["events", str(SAMPLE / "AppEvent.Evt"), "-o", str(tmp_path / "e.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write html" in err and not (tmp_path / "e.html").exists()


def test_text_and_table_are_one_format(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for command in (
        ["diagnose", str(SAMPLE)],
        ["events", str(SAMPLE / "AppEvent.Evt")],
        ["registry", str(SAMPLE / "ParametersSystem.reg")],
    ):
        for fmt in ("text", "table"):
            main([*command, "--format", fmt])
            outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[2] == outputs[3] and outputs[4] == outputs[5]


def test_events_take_folders_and_zips_and_show_a_path_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "case.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(SAMPLE / "AppEvent.Evt", "logs/AppEvent.Evt")
    assert main(["events", str(SAMPLE), str(archive), "--id", "1023", "--width", "120", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["path"] for r in rows] == [f"{SAMPLE}/AppEvent.Evt"] * 2 + [f"{archive}/logs/AppEvent.Evt"] * 2
    assert main(["events", str(SAMPLE), str(archive), "--id", "1023", "--width", "120"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["path", "time"]
    assert max(len(line) for line in lines if not line.startswith("  strings: ")) <= 120


def test_registry_takes_several_files_folders_and_zips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    shutil.copy(SAMPLE / "ParametersSystem.reg", folder / "ParametersSystem.reg")
    archive = tmp_path / "case.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(SAMPLE / "ParametersSystem.reg", "ParametersSystem.reg")
    target = tmp_path / "keys.json"
    assert main(["registry", str(folder), str(archive), "--key", KEY, "-o", str(target)]) == 0
    parts = json.loads(target.read_text(encoding="utf-8"))
    assert [p["path"] for p in parts] == [f"{folder}/ParametersSystem.reg", f"{archive}/ParametersSystem.reg"]
    assert all("Logon Only As" in [v["name"] for v in p["result"]["values"]] for p in parts)
    assert capsys.readouterr().out.startswith("Wrote the json listing of 2 file(s)")


def test_triage_takes_dash_o_and_keeps_out(tmp_path: Path) -> None:
    parser = build_parser()
    for flag in ("-o", "--output", "--out"):
        assert parser.parse_args(["triage", str(tmp_path), flag, "DIR"]).out == "DIR"
