"""``analyzer registry`` on text exports: the JSON contract of DESIGN.md, table/csv, errors, --recursive."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.model import RegistryKey, RegistryValue
from tests.conftest import REPO, corpus_file
from tests.writers.regtext_writers import write_reg, write_regedt32, write_regquery

IMS_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
SA_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"
PS_001 = r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem"
CCS_PS = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
CONTRACT_KEYS = {"key", "requested", "control_set", "last_write", "values", "subkeys"}


def _tree() -> RegistryKey:
    root = RegistryKey("")
    ps = root.ensure_path(PS_001.split("\\"))
    ps.set_value(RegistryValue("Logon Only As", "REG_MULTI_SZ", [IMS_DN, SA_DN]))
    ps.set_value(RegistryValue("Enable Tracing", "REG_DWORD", 1))
    ps.set_value(RegistryValue("Blob", "REG_BINARY", b"\x01\xab"))
    ps.set_value(RegistryValue("", "REG_SZ", "default"))
    ps.ensure_path(["Child"]).set_value(RegistryValue("Leaf", "REG_SZ", "x"))
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=["reg4", "reg5", "regedt32", "regquery"])
def export(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"export-{request.param}.txt"
    if request.param == "reg4":
        return write_reg(path, _tree(), version=4)
    if request.param == "reg5":
        return write_reg(path, _tree(), version=5)
    if request.param == "regedt32":
        return write_regedt32(path, _tree())
    return write_regquery(path, _tree(), style="3.0")


def test_json_contract_on_text_exports(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    code, out, err = _run(capsys, "registry", str(export), "--key", CCS_PS, "--format", "json")
    assert code == 0 and err == ""
    obj = json.loads(out)
    # DESIGN.md contract keys; "mapping" is the view's addition (how a Save Key hive was placed).
    assert set(obj) == CONTRACT_KEYS | {"mapping"}
    assert obj["key"] == r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem"
    assert obj["requested"] == CCS_PS
    assert obj["control_set"] == "ControlSet001"
    assert obj["last_write"] is None
    assert obj["subkeys"] == ["Child"]
    values = {v["name"]: v for v in obj["values"]}
    assert all(set(v) == {"name", "type", "data"} for v in obj["values"])
    assert values["Logon Only As"] == {"name": "Logon Only As", "type": "REG_MULTI_SZ", "data": [IMS_DN, SA_DN]}
    assert values["Enable Tracing"]["data"] == 1 and values["Enable Tracing"]["type"] == "REG_DWORD"
    assert values["Blob"] == {"name": "Blob", "type": "REG_BINARY", "data": "01ab"}
    assert values[""] == {"name": "", "type": "REG_SZ", "data": "default"}


def test_json_last_write_from_regedt32(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from datetime import datetime

    root = _tree()
    node = root
    for part in PS_001.split("\\"):
        node = node.subkey(part)  # type: ignore[assignment]
    node.last_write = datetime(2000, 6, 16, 22, 13)
    path = write_regedt32(tmp_path / "subtree.txt", root)
    code, out, _ = _run(capsys, "registry", str(path), "--key", CCS_PS, "--format", "json")
    assert code == 0 and json.loads(out)["last_write"] == "2000-06-16T22:13:00"  # naive local time: no Z


def test_table_format(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    code, out, _ = _run(capsys, "registry", str(export), "--key", CCS_PS)
    assert code == 0
    assert r"Key: HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem" in out
    assert "CurrentControlSet resolved to ControlSet001" in out
    assert "Logon Only As" in out and IMS_DN in out and SA_DN in out and "REG_MULTI_SZ" in out
    assert "(Default)" in out and "Subkeys: Child" in out


def test_csv_format(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    code, out, _ = _run(capsys, "registry", str(export), "--key", CCS_PS, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["key", "name", "type", "data", "last_write"]
    by_name = {r[1]: r for r in rows[1:]}
    assert set(by_name) == {"Logon Only As", "Enable Tracing", "Blob", ""}  # not recursive: no Child\Leaf
    assert by_name["Logon Only As"][3] == f"{IMS_DN}\n{SA_DN}"
    assert by_name["Blob"][3] == "01ab" and by_name["Enable Tracing"][3] == "1"


def test_recursive(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    key = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS"
    code, out, _ = _run(capsys, "registry", str(export), "--key", key, "--recursive", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["key"].rsplit("\\", 1)[-1], r["name"]) for r in rows] == [
        ("ParametersSystem", "Logon Only As"),
        ("ParametersSystem", "Enable Tracing"),
        ("ParametersSystem", "Blob"),
        ("ParametersSystem", ""),
        ("Child", "Leaf"),
    ]
    assert rows[-1]["key"] == r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem\Child"
    code, out, _ = _run(capsys, "registry", str(export), "--key", key, "-r", "--format", "csv")
    assert code == 0 and len(list(csv.reader(io.StringIO(out)))) == 6


def test_missing_key_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    code, out, err = _run(capsys, "registry", str(export), "--key", r"HKLM\SOFTWARE\Nope", "--format", "json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("analyzer: ") and "key not found" in err and str(export) in err


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 100, bytes(range(256)) * 8, b"hello, this is just a letter\r\n", b"REGEDIT4\r\n"],
    ids=["empty", "zeros", "binary", "text", "header-only"],
)
def test_unusable_file_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "case.reg"
    path.write_bytes(content)
    for argv in (["--key", CCS_PS], []):
        code, out, err = _run(capsys, "registry", str(path), *argv)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("analyzer: ") and "Traceback" not in err
        assert "case.reg" in err


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "registry", str(tmp_path / "absent.reg"))
    assert code == 2 and err.count("\n") == 1 and "absent.reg" in err


def test_damaged_export_warns_on_stderr_and_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "damaged.reg"
    path.write_text(
        f'REGEDIT4\r\n\r\n[{PS_001}]\r\n"Logon Only As"=hex(7):2f,6f,3d,41,00,00\r\n"Bad"=hex:zz\r\n', "ascii"
    )
    code, out, err = _run(capsys, "registry", str(path), "--key", CCS_PS, "--format", "json")
    assert code == 0
    assert json.loads(out)["values"] == [{"name": "Logon Only As", "type": "REG_MULTI_SZ", "data": ["/o=A"]}]
    assert err.startswith("analyzer: warning: ") and "line 5" in err and err.count("\n") == 1


def test_empty_logon_only_as_is_an_empty_list_in_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "blank.reg"
    path.write_text(f'REGEDIT4\r\n\r\n[{PS_001}]\r\n"Logon Only As"=hex(7):00\r\n', "ascii")
    code, out, _ = _run(capsys, "registry", str(path), "--key", CCS_PS, "--format", "json")
    assert code == 0 and json.loads(out)["values"] == [{"name": "Logon Only As", "type": "REG_MULTI_SZ", "data": []}]


def test_overview_without_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_regquery(tmp_path / "q.txt", _tree(), style="vista")
    code, out, _ = _run(capsys, "registry", str(path), "--format", "json")
    assert code == 0
    info = json.loads(out)
    assert info["format"] == "regquery" and info["control_sets"] == ["ControlSet001"]
    assert info["subkeys"] == ["HKEY_LOCAL_MACHINE"] and info["warnings"] == []


def test_corpus_reg_through_the_console_entry_point() -> None:
    """One real run of ``python -m analyzer`` on a corpus file (ASCII 5.00 export)."""
    path = corpus_file("reg", "debloat__lower-ram-usage.reg")
    key = r"HKLM\SYSTEM\CurrentControlSet\Control"
    result = subprocess.run(
        [sys.executable, "-m", "analyzer", "registry", str(path), "--key", key, "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["key"] == key and obj["control_set"] is None
    assert {v["name"]: v["data"] for v in obj["values"]} == {
        "SvcHostSplitThresholdInKB": 0x04000000,
        "WaitToKillServiceTimeout": "2000",
    }
    assert set(obj["subkeys"]) == {"Session Manager", "Power"}


def test_table_names_a_control_set_that_holds_another_value(capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled offline SYSTEM hive boots from ControlSet002; ControlSet001 still lists the IMS DN."""
    hive = REPO / "samples" / "w2k-two-controlsets" / "SYSTEM"
    key = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
    assert main(["registry", str(hive), "--key", key]) == 0
    out = capsys.readouterr().out
    assert "CurrentControlSet resolved to ControlSet002" in out
    lines = out.splitlines()
    at = lines.index("Note: ControlSet001 holds a different 'Logon Only As':")
    entries = [line.strip() for line in lines[at + 1 :] if line.startswith("  ")]
    assert entries[-2:] == ["/o=Contoso/ou=Berlin/cn=Recipients/cn=admin", IMS_DN]  # each entry whole, on its own line
    assert all(len(line) <= 80 for line in lines if IMS_DN not in line and "Microsoft System Attendant" not in line)
