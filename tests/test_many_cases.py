"""A folder that is many cases: ``diagnose`` stops with one line pointing at ``triage`` (exit 2)
unless ``--one-case`` is given; a case folder with sub-folders of one server is still one case."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.diagnosis import ManyCasesError, diagnose
from analyzer.many_cases import separate_cases
from analyzer.rules.factories import ADMIN_DN
from analyzer.servers import Artefact
from tests.multiserver_support import IMS01, LIST01, ims_dn, refusals, two_servers, write_list, write_log

CASES = [
    ("1001", "/o=Contoso/ou=Berlin", "EXCH01"),
    ("1002", "/o=Fabrikam/ou=Paris", "MAIL1"),
    ("1003", "/o=Northwind/ou=HQ", "NW01"),
]


def write_case(folder: Path, org: str, server: str) -> Path:
    folder.mkdir(parents=True)
    write_log(folder / "AppEvent", refusals(server, [ims_dn(server, org)]))
    write_list(folder / "ParametersSystem", [f"{org}/cn=Configuration/cn=Servers/cn={server}/cn=Microsoft DSA"])
    return folder


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Two case folders and one zipped case (neutral file names: only the content tells them apart)."""
    root = tmp_path / "archive"
    for name, org, server in CASES[:2]:
        write_case(root / name, org, server)
    src = write_case(tmp_path / "zipped", *CASES[2][1:])
    with zipfile.ZipFile(root / f"{CASES[2][0]}.zip", "w") as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, f.name)
    return root


def test_archive_folder_exits_2_with_one_line_pointing_at_triage(archive: Path, capsys) -> None:
    assert main(["diagnose", str(archive), "--reg-patch", str(archive.parent / "fix.reg")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"analyzer: {archive}: looks like 3 separate cases, not one (")
    assert f"analyzer triage {archive} --out DIR" in line and "--one-case" in line
    for _, org, server in CASES:
        assert server in line and org.split("/")[1] in line
    assert "1003.zip" in line
    assert not list(archive.parent.glob("fix*.reg"))


def test_one_case_proceeds(archive: Path, capsys) -> None:
    assert main(["diagnose", "--one-case", str(archive), "--format", "json"]) == 1
    out = capsys.readouterr().out
    assert '"server": "EXCH01"' in out and '"server": "MAIL1"' in out and '"server": "NW01"' in out
    dx = diagnose(str(archive), one_case=True)
    assert sorted(dx.dns_to_add) == sorted(ims_dn(s, o) for _, o, s in CASES)


def test_api_raises_an_input_error(archive: Path) -> None:
    with pytest.raises(ManyCasesError, match="separate cases"):
        diagnose(str(archive))


def test_triage_of_the_archive_is_unaffected(archive: Path, tmp_path: Path) -> None:
    assert main(["triage", str(archive), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 1
    assert sorted(p.name for p in (tmp_path / "out" / "cases").iterdir()) == ["1001.json", "1002.json", "1003.json"]


def test_nested_single_case_is_one_case(tmp_path: Path) -> None:
    """case77/logs + case77/registry of one server (given as the parent folder, so the common
    leading folder is skipped too)."""
    case = tmp_path / "top" / "case77"
    (case / "logs").mkdir(parents=True)
    (case / "registry").mkdir()
    write_log(case / "logs" / "AppEvent", refusals("EXCH01", [IMS01]))
    write_list(case / "registry" / "ParametersSystem", LIST01)
    for given in (case, tmp_path / "top"):
        dx = diagnose(str(given))
        assert dx.separate_cases == [] and dx.servers == []
        assert dx.dns_to_add == [IMS01]


def test_two_servers_of_one_organisation_in_subfolders_are_one_case(tmp_path: Path) -> None:
    case = two_servers(tmp_path / "case", layout="folders")
    dx = diagnose(str(case))
    assert [s.server for s in dx.servers] == ["EXCH01", "EXCH02"]


def test_subfolders_without_identity_do_not_split(tmp_path: Path) -> None:
    """Many sub-folders are not many cases: only names found in the content separate them."""
    case = tmp_path / "case"
    write_log(case / "a" / "AppEvent", refusals("EXCH01", [IMS01]))
    write_list(case / "b" / "ParametersSystem", [ADMIN_DN])  # same organisation, no server
    (case / "c").mkdir()
    (case / "c" / "notes.md").write_text("customer mail", encoding="utf-8")
    dx = diagnose(str(case))
    assert dx.separate_cases == [] and dx.dns_to_add == [IMS01]


def test_same_organisation_separate_servers_split_only_when_each_is_complete() -> None:
    """Two sub-folders naming only different servers (no organisation known) are separate cases only
    when each holds logs and an export of its own."""
    logs_only = [
        Artefact("x/AppEvent.Evt", "events", computers=Counter({"EXCH01": 1})),
        Artefact("y/AppEvent.Evt", "events", computers=Counter({"EXCH02": 1})),
    ]
    assert separate_cases(logs_only, {}) == []
    complete = [
        *logs_only,
        Artefact("x/SYSTEM", "registry", computer_names=["EXCH01"]),
        Artefact("y/SYSTEM", "registry", computer_names=["EXCH02"]),
    ]
    groups = separate_cases(complete, {})
    assert [g.units for g in groups] == [["x"], ["y"]]
    # a shared organisation joins them into one case again
    orgs = {"x/AppEvent.Evt": {"contoso": "Contoso"}, "y/AppEvent.Evt": {"contoso": "Contoso"}}
    assert separate_cases(complete, orgs) == []
