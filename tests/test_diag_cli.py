"""diagnose()/cli_diagnose on real files: exit codes, broken and conflicting inputs, patches, JSON schema."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from analyzer.cli import main
from analyzer.diagnosis import FINDING_COLUMNS, diagnose
from analyzer.model import RegistryKey, RegistryValue
from analyzer.report.diagnosis import load_schema
from analyzer.rules.factories import ADMIN_DN, IMS_DN, dsa_dn, e1023, imc, sa_dn, scm, user_dn

evt_writer = pytest.importorskip("tests.writers.evt_writer")
hive_writer = pytest.importorskip("tests.writers.hive_writer")
regtext = pytest.importorskip("tests.writers.regtext_writers")

PARAMS = ["HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS", "ParametersSystem"]


def reg_tree(entries: list[str] | None) -> RegistryKey:
    root = RegistryKey("")
    node = root.ensure_path(PARAMS)
    if entries is not None:
        node.set_value(hive_writer.multi_sz("Logon Only As", entries))
    return root


def hive_tree(entries: list[str] | None, when: datetime) -> RegistryKey:
    values: list[RegistryValue] = [] if entries is None else [hive_writer.multi_sz("Logon Only As", entries)]
    root = hive_writer.offline_system({1: {r"Services\MSExchangeIS\ParametersSystem": values}})
    node = root.subkey("ControlSet001").subkey("Services").subkey("MSExchangeIS").subkey("ParametersSystem")
    node.last_write = when
    return root


@pytest.fixture
def case(tmp_path: Path) -> Path:
    """Scenario 1 as files: AppEvent.Evt, SysEvent.Evt, a REGEDIT4 export."""
    folder = tmp_path / "case1"
    folder.mkdir()
    evt_writer.write_evt(folder / "AppEvent.Evt", [e1023(IMS_DN), imc(4018, seconds=2), imc(4116, seconds=3)])
    evt_writer.write_evt(folder / "SysEvent.Evt", [scm(7023, "Microsoft Exchange Internet Mail Service", "%%2140")])
    regtext.write_reg(folder / "params.reg", reg_tree([sa_dn(1), ADMIN_DN]), version=4)
    return folder


def test_cli_text_exit_1_and_verdict_first(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(case)]) == 1
    out = capsys.readouterr().out
    verdict = " ".join(out.split("\n\n")[0].splitlines())  # the first paragraph, wrapped to 80 columns
    assert verdict.startswith("Add this DN to Logon Only As on EXCH01: " + IMS_DN)
    assert IMS_DN in out.splitlines()[1]  # the DN is never split over two lines


def test_cli_json_schema(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(case), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(load_schema()).validate(data)
    assert data["case"] == "case1" and data["dns_to_add"] == [IMS_DN]
    assert {i["path"] for i in data["inputs"]} == {"AppEvent.Evt", "SysEvent.Evt", "params.reg"}
    assert data["logon_only_as"]["source"] == "params.reg"
    assert data["remediation"]["version"] == 4


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_cli_other_formats_to_file(case: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    assert main(["diagnose", str(case), "--format", fmt, "--output", str(out)]) == 1
    assert IMS_DN.split("/")[-1].split(" (")[0] in out.read_text(encoding="utf-8")


def test_reg_patch_and_rollback_reread(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from analyzer.registry import read_registry
    from analyzer.remedy import rollback_path

    for version in ("4", "5"):
        patch = tmp_path / f"fix{version}.reg"
        assert main(["diagnose", str(case), "--reg-patch", str(patch), "--reg-version", version]) == 1
        back = rollback_path(patch)
        assert patch.exists() and back.exists()
        fixed = read_registry(str(patch)).value(
            r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem", "Logon Only As"
        )
        assert fixed is not None and fixed.data == [sa_dn(1), ADMIN_DN, IMS_DN]
        undone = read_registry(str(back)).value(
            r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem", "Logon Only As"
        )
        assert undone is not None and undone.data == [sa_dn(1), ADMIN_DN]
        assert patch.read_bytes().startswith(b"\xff\xfe" if version == "5" else b"REGEDIT4")
    assert "rollback" in capsys.readouterr().err


def test_patch_version_follows_the_export(case: Path) -> None:
    (case / "params.reg").unlink()
    regtext.write_reg(case / "params5.reg", reg_tree([sa_dn(1), ADMIN_DN]), version=5)
    dx = diagnose(str(case))
    assert dx.remediation is not None and dx.remediation.version == 5


def test_exit_0_when_nothing_to_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evt_writer.write_evt(tmp_path / "AppEvent.Evt", [e1023(user_dn("jdoe"))])
    regtext.write_reg(tmp_path / "p.reg", reg_tree([sa_dn(1), ADMIN_DN]), version=4)
    assert main(["diagnose", str(tmp_path), "--reg-patch", str(tmp_path / "fix.reg")]) == 0
    captured = capsys.readouterr()
    assert "Nothing to fix" in captured.out
    assert "nothing to patch" in captured.err and not (tmp_path / "fix.reg").exists()


def test_exit_2_no_usable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("hello, this is not a log\n")
    (tmp_path / "zero.evt").write_bytes(b"\0" * 64)
    assert main(["diagnose", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("analyzer: ") for line in err)
    assert any("notes.txt" in line for line in err) and any("zero.evt" in line for line in err)
    assert main(["diagnose", str(tmp_path / "missing")]) == 2


def test_broken_file_among_good_ones_is_a_warning(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = (case / "AppEvent.Evt").read_bytes()
    (case / "Broken.Evt").write_bytes(good[:0x30] + b"\xee" * 200)  # header only, then garbage
    (case / "junk.reg").write_bytes(b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\X\r\n\x00\x01\x02garbage")
    dx = diagnose(str(case))
    assert dx.usable and dx.dns_to_add == [IMS_DN]
    d = dx.to_dict()
    jsonschema.Draft202012Validator(load_schema()).validate(d)
    flagged = [i for i in d["inputs"] if i["path"] in ("Broken.Evt", "junk.reg") and (i["error"] or i["warnings"])]
    assert flagged, d["inputs"]
    for fmt in ("text", "markdown", "html", "json"):
        assert main(["diagnose", str(case), "--format", fmt]) == 1
        out = capsys.readouterr().out
        assert "Broken.Evt" in out


def test_conflicting_exports_hive_newer_wins(tmp_path: Path) -> None:
    evt_writer.write_evt(tmp_path / "AppEvent.Evt", [e1023(IMS_DN)])
    regtext.write_reg(tmp_path / "old.reg", reg_tree([sa_dn(1)]), version=4)
    hive_writer.write_hive(tmp_path / "SYSTEM", hive_tree([sa_dn(1), IMS_DN], datetime(2002, 7, 1, tzinfo=UTC)))
    dx = diagnose(str(tmp_path))
    assert dx.logon_only_as.source == "SYSTEM" and dx.dns_to_add == []
    assert any("exports disagree" in n and "old.reg" in n for n in dx.logon_only_as.notes)
    assert "SYSTEM" in dx.verdict and "disagree" in dx.verdict
    assert any(f.rule == "LOA-TIMING" for f in dx.finding_list)  # key written after the refusal


def test_conflicting_exports_no_patch_drops_what_the_other_export_lists(tmp_path: Path) -> None:
    """The newer hive is used, but the older .reg lists the DSA it lacks: a patch built on the hive would
    drop the DSA if the .reg is the truth on the server, so none is offered and the finding says why."""
    evt_writer.write_evt(tmp_path / "AppEvent.Evt", [e1023(IMS_DN)])
    regtext.write_reg(tmp_path / "old.reg", reg_tree([sa_dn(1), dsa_dn(1)]), version=4)
    hive_writer.write_hive(tmp_path / "SYSTEM", hive_tree([sa_dn(1)], datetime(2002, 7, 1, tzinfo=UTC)))
    dx = diagnose(str(tmp_path))
    assert dx.logon_only_as.source == "SYSTEM" and dx.dns_to_add == [IMS_DN]
    assert dx.remediation is None
    lockout = [f for f in dx.finding_list if f.rule == "LOCK-OUT"]
    assert lockout and "old.reg" in lockout[0].explanation and dsa_dn(1) in lockout[0].explanation
    # Exports that agree on the components still get their patch.
    regtext.write_reg(tmp_path / "old.reg", reg_tree([sa_dn(1)]), version=4)
    dx = diagnose(str(tmp_path))
    assert dx.remediation is not None and dx.remediation.entries == [sa_dn(1), IMS_DN]


def test_zip_case_and_dataframe(case: Path, tmp_path: Path) -> None:
    archive = tmp_path / "1234.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in case.iterdir():
            zf.write(p, f"logs/{p.name}")
    dx = diagnose(str(archive))
    assert dx.case == "1234" and dx.dns_to_add == [IMS_DN]
    assert all(i.path.startswith("logs/") for i in dx.inputs)
    assert all(e.path.startswith("logs/") for f in dx.finding_list for e in f.evidence)
    frame = dx.findings
    assert list(frame.columns) == FINDING_COLUMNS and frame.iloc[0]["rule"] == "KB306308"
    assert "<" in dx._repr_html_() and IMS_DN.split("/")[1] in dx.to_markdown()
    assert json.loads(dx.to_json())["schema"] == "analyzer.diagnosis/1"


def test_logs_without_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evt_writer.write_evt(tmp_path / "AppEvent.Evt", [e1023(IMS_DN)])
    assert main(["diagnose", str(tmp_path / "AppEvent.Evt")]) == 1
    out = capsys.readouterr().out
    assert "No registry export" in out and "regedit /e" in out and "reg query" in out


def test_many_refused_mailboxes_stay_cheap_and_capped() -> None:
    import time

    from analyzer.diagnosis import MAX_EVIDENCE, diagnose_objects
    from analyzer.evidence import LogonOnlyAs

    events = [e1023(user_dn(f"user{i:05d}"), seconds=i) for i in range(3000)] + [e1023(IMS_DN)]
    start = time.process_time()  # CPU time: a loaded machine does not make it longer
    dx = diagnose_objects(events, [LogonOnlyAs("set", [sa_dn(1), IMS_DN.replace("Connector", "Service")], source="r")])
    assert time.process_time() - start < 10
    assert dx.dns_to_add == [IMS_DN]
    lockout = next(f for f in dx.finding_list if "lock-out" in f.title)
    assert lockout.count == 3000 and len(lockout.evidence) == MAX_EVIDENCE
    assert any("cut to the first" in w for w in dx.warnings)


def test_save_key_hive_of_parameters_system(tmp_path: Path) -> None:
    """Regedt32 "Save Key" of ParametersSystem: the hive's root is the key itself."""
    root = RegistryKey("ParametersSystem", last_write=datetime(2001, 1, 1, tzinfo=UTC))
    root.set_value(hive_writer.multi_sz("Logon Only As", [sa_dn(1)]))
    hive_writer.write_hive(tmp_path / "params.hiv", root)
    evt_writer.write_evt(tmp_path / "AppEvent.Evt", [e1023(IMS_DN)])
    dx = diagnose(str(tmp_path))
    assert dx.logon_only_as.state == "set" and dx.logon_only_as.source == "params.hiv"
    assert dx.dns_to_add == [IMS_DN]
    assert any("Save Key" in n for n in dx.logon_only_as.notes)


def test_exit_2_names_every_path_also_a_missing_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: with one garbage file and one missing path only the garbage file was named."""
    garbage = tmp_path / "notes.log"
    garbage.write_text("hello, this is not a log\n")
    assert main(["diagnose", str(garbage), str(tmp_path / "missing.evt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert any("notes.log" in line for line in err) and any("missing.evt" in line for line in err)
