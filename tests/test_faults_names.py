"""Hostile and undecodable names: escaped on the terminal, valid UTF-8 in JSON, never a crash (issue 13)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.terminal import cell, json_safe, shown_name, visible
from tests.conftest import REPO

SAMPLE = REPO / "samples" / "nt4-kb306308"
FS_BYTES_OK = sys.platform != "win32" and sys.getfilesystemencoding() == "utf-8"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b]0;pwned\x07b", "a\\x1b]0;pwned\\x07b"),  # OSC title change + BEL
        ("\x1b[2J", "\\x1b[2J"),  # clear screen
        ("x\x9by", "x\\x9by"),  # C1 CSI
        ("/o=Org\u202e/cn=nimda", "/o=Org\\u202e/cn=nimda"),  # bidi override
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("case\udcff", "case\\xff"),  # a file name byte that was not UTF-8
        ("tab\tand\nnewline", "tab\tand\nnewline"),  # multi-line text keeps its lines
    ],
)
def test_visible_escapes_every_dangerous_character(raw: str, shown: str) -> None:
    assert visible(raw) == shown
    visible(raw).encode("utf-8")  # always printable on a UTF-8 stream


def test_a_cell_is_one_line_and_cut_with_a_marker() -> None:
    assert cell("/o=A\r\n/o=B", 100) == "/o=A\\x0d\\x0a/o=B"
    long = "x" * 500
    assert cell(long, 60) == "x" * 59 + "…"
    assert len(cell("\x1b" * 500, 60)) == 60


def test_json_safe_keeps_the_raw_bytes_of_undecodable_paths() -> None:
    doc = {"case": "c\udc80", "inputs": [{"path": "f\udcffx.evt", "size": 1}]}
    safe = json_safe(doc)
    assert safe == {"case": "c\\x80", "inputs": [{"path": "f\\xffx.evt", "path_raw": "66ff782e657674", "size": 1}]}
    json.dumps(safe, ensure_ascii=False).encode("utf-8")
    assert bytes.fromhex(safe["inputs"][0]["path_raw"]) == os.fsencode("f\udcffx.evt")
    assert shown_name("plain/ä.evt") == "plain/ä.evt"


def _run(*argv: str, **kw) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *argv],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"},
        timeout=300,
        **kw,
    )


@pytest.fixture
def undecodable_case(tmp_path: Path) -> Path:
    """A case folder named with byte 0xFF holding a file named with byte 0x80 (as old shares carry)."""
    if not FS_BYTES_OK:
        pytest.skip("needs a POSIX file system that takes arbitrary bytes in names")
    root = tmp_path / "root"
    root.mkdir()
    case = os.fsdecode(os.fsencode(str(root)) + b"/case\xff")
    shutil.copytree(SAMPLE, case)
    os.rename(os.path.join(case, "AppEvent.Evt"), os.fsdecode(os.fsencode(case) + b"/App\x80.Evt"))
    return Path(case)


def test_diagnose_json_to_stdout_is_valid_utf8_with_raw_paths(undecodable_case: Path) -> None:
    proc = _run("diagnose", str(undecodable_case), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout.decode("utf-8"))  # strict: raises on invalid UTF-8
    assert doc["case"] == "case\\xff"
    evt = next(i for i in doc["inputs"] if i["path"].startswith("App"))
    assert evt["path"] == "App\\x80.Evt" and bytes.fromhex(evt["path_raw"]) == b"App\x80.Evt"
    text = _run("diagnose", str(undecodable_case))
    assert text.returncode == 1 and b"case\\xff" in text.stdout
    text.stdout.decode("utf-8")


def test_triage_of_an_undecodable_case_writes_everything(undecodable_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _run("triage", str(undecodable_case.parent), "--out", str(out), "-j", "1")
    assert proc.returncode == 1, proc.stderr
    assert b"Traceback" not in proc.stderr
    summary = (out / "summary.csv").read_bytes().decode("utf-8")
    assert "case\\xff,findings" in summary
    (case_json,) = (out / "cases").iterdir()
    assert case_json.name == "case_.json"  # a portable file name
    doc = json.loads(case_json.read_bytes().decode("utf-8"))
    assert any(i.get("path_raw") == b"App\x80.Evt".hex() for i in doc["inputs"])
    assert (out / "summary.parquet").exists()


def test_triage_summary_escapes_a_dn_that_would_forge_a_line() -> None:
    import pandas as pd

    from analyzer.triage.output import _frame, render_summary

    row = {
        "case": "evil\x1b]0;x\x07",
        "status": "findings",
        "rules": "KB306308",
        "dns_to_add": "/o=A/cn=x\r\nAdd this DN to Logon Only As: /o=Evil; /o=B",
        "logon_only_as": "set",
        "inputs": 1,
        "warnings": 0,
        "seconds": 0.1,
        "error": "",
        "json": "cases/x.json",
    }
    text = render_summary(_frame([row]))
    assert isinstance(_frame([row]), pd.DataFrame)
    assert "\x1b" not in text and "\r" not in text
    table = text.split("Cases needing action:\n", 1)[1].splitlines()
    assert len(table) == 2 + 1 + 2  # header, rule, the case's row, one line per DN (two DNs), nothing forged
    assert table[3].startswith("  dns to add: /o=A/cn=x\\x0d\\x0aAdd this DN")
    assert table[4].strip() == "/o=B"
    assert not any(line.lstrip().startswith("Add this DN") for line in table)
