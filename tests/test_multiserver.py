"""Several servers in one case: each server's refusals against that server's own Logon Only As list.

Files are written by the project's writers (tests/writers) and read back by the real readers; the
scenario (tests/multiserver_support.two_servers): EXCH01 refuses its Internet Mail Connector, EXCH02
refuses its MS Mail Connector, whose DN only EXCH01's list holds (added on the wrong server).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC
from pathlib import Path

import jsonschema
import pytest

from analyzer.cli import main
from analyzer.diagnosis import diagnose
from analyzer.registry import read_registry
from analyzer.report.diagnosis import load_schema
from analyzer.rules.factories import ADMIN_DN, e1023, sa_dn, scm
from analyzer.servers import Artefact, pair, server_key
from tests.multiserver_support import (
    IMS01,
    KEY,
    LIST01,
    LIST02,
    MSMAIL02,
    refusals,
    two_servers,
    write_list,
    write_log,
)

LAYOUTS = [
    # (layout, log form, registry form): every event and registry format at least once
    ("names", "evt", "reg4"),
    ("names", "evtx", "reg5"),
    ("names", "evtxt", "regedt32"),
    ("names", "evcsv", "regquery"),
    ("names", "evt", "hive"),
    ("folders", "evt", "reg4"),
    ("folders", "evcsv", "hive"),
    ("content", "evt", "hive"),
    ("content", "evtx", "reg5"),
    ("content", "evtxt", "regedt32"),
]


@pytest.mark.parametrize(("layout", "log_form", "reg_form"), LAYOUTS, ids=["-".join(x) for x in LAYOUTS])
def test_each_server_against_its_own_list(tmp_path: Path, layout: str, log_form: str, reg_form: str) -> None:
    case = two_servers(tmp_path / "case", log_form=log_form, reg_form=reg_form, layout=layout)
    dx = diagnose(str(case))
    by_name = {s.server: s for s in dx.servers}
    assert list(by_name) == ["EXCH01", "EXCH02"], dx.verdict
    one, two = by_name["EXCH01"].diagnosis, by_name["EXCH02"].diagnosis
    # each list is the server's own (never "the one given first")
    assert one.logon_only_as.entries == LIST01 and two.logon_only_as.entries == LIST02
    assert "EXCH01" in (one.logon_only_as.source or "") or "-1" in (one.logon_only_as.source or "")
    # a DN refused on EXCH02 and listed only on EXCH01 is a DN to add for EXCH02
    assert one.dns_to_add == [IMS01]
    assert two.dns_to_add == [MSMAIL02]
    assert dx.dns_to_add == [IMS01, MSMAIL02]
    assert not any(f.title.startswith("Refused although listed") for f in dx.finding_list)
    assert not any("exports disagree" in n for n in one.logon_only_as.notes + two.logon_only_as.notes)
    # one patch per server, each keeping that server's entries; none across servers
    assert dx.remediation is None
    assert one.remediation is not None and one.remediation.entries == [*LIST01, IMS01]
    assert two.remediation is not None and two.remediation.entries == [*LIST02, MSMAIL02]
    assert dx.needs_action
    d = dx.to_dict()
    jsonschema.validate(d, load_schema())
    assert d["logon_only_as"]["state"] == "per_server"
    assert [s["server"] for s in d["servers"]] == ["EXCH01", "EXCH02"]
    assert all(f["server"] in ("EXCH01", "EXCH02") for f in d["findings"])
    for s in d["servers"]:
        assert s["inputs"] and all(s["server"] in p or p.startswith(("log-", "export-")) for p in s["inputs"])
        assert set(s["paired_by"]) == set(s["inputs"])


def test_before_this_change_the_first_export_was_applied_to_both(tmp_path: Path) -> None:
    """The failure the issue describes: EXCH02's refusal of a DN listed only on EXCH01 must not be
    dismissed as "refused although listed" because EXCH01's export was read for both servers."""
    case = two_servers(tmp_path / "case")
    dx = diagnose(str(case))
    two = next(s for s in dx.servers if s.server == "EXCH02").diagnosis
    assert MSMAIL02 not in two.logon_only_as.entries
    assert two.verdict.startswith("Add this DN to Logon Only As on EXCH02: " + MSMAIL02)


def test_text_markdown_html_have_one_section_and_verdict_line_per_server(tmp_path: Path, capsys) -> None:
    case = two_servers(tmp_path / "case")
    assert main(["diagnose", str(case)]) == 1
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "2 servers in this case, each diagnosed against its own Logon Only As list:"
    assert lines[1].startswith("  EXCH01: Add this DN to Logon Only As on EXCH01: " + IMS01)
    assert lines[2].startswith("  EXCH02: Add this DN to Logon Only As on EXCH02: " + MSMAIL02)
    assert text.count("=== Server EXCH01 ") == 1 and text.count("=== Server EXCH02 ") == 1
    first, second = text.split("=== Server EXCH02 ")
    assert "EXCH01_ParametersSystem.reg (its file name)" in first.split("=== Server EXCH01 ")[1]
    assert "EXCH02_ParametersSystem.reg (its file name)" in second
    # EXCH02's section shows EXCH02's own list (two entries, no MS Mail Connector entry)
    own_list = second.split("\nLogon Only As\n")[1].split("\n\n")[0]
    assert sa_dn(2) in own_list and "entry 3" not in own_list
    for fmt, marks in (("markdown", ("## Server EXCH01", "## Server EXCH02")), ("html", ("<h2>Server EXCH01",))):
        out = tmp_path / f"report.{fmt}"
        assert main(["diagnose", str(case), "--format", fmt, "--output", str(out)]) == 1
        body = out.read_text(encoding="utf-8")
        for mark in marks:
            assert body.count(mark) == 1, (fmt, mark)
    # the sections' own headings sit one level below the server heading
    assert "<h3>Findings</h3>" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "\n### Findings\n" in (tmp_path / "report.markdown").read_text(encoding="utf-8")


def test_reg_patch_per_server_reread(tmp_path: Path, capsys) -> None:
    case = two_servers(tmp_path / "case")
    target = tmp_path / "out" / "fix.reg"
    target.parent.mkdir()
    assert main(["diagnose", str(case), "--reg-patch", str(target)]) == 1
    err = capsys.readouterr().err
    assert not target.exists(), "never one patch across servers"
    expected = {"EXCH01": ([*LIST01, IMS01], LIST01), "EXCH02": ([*LIST02, MSMAIL02], LIST02)}
    for server, (after, before) in expected.items():
        patch = tmp_path / "out" / f"fix-{server}.reg"
        back = tmp_path / "out" / f"fix-{server}-rollback.reg"
        assert f"{server}: wrote {patch}" in err
        assert read_registry(str(patch)).value(KEY, "Logon Only As").data == after
        assert read_registry(str(back)).value(KEY, "Logon Only As").data == before
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "fix-EXCH01-rollback.reg",
        "fix-EXCH01.reg",
        "fix-EXCH02-rollback.reg",
        "fix-EXCH02.reg",
    ]


def test_undecidable_pairing_writes_no_patch(tmp_path: Path, capsys) -> None:
    case = tmp_path / "case"
    case.mkdir()
    write_log(case / "EXCH01_AppEvent", refusals("EXCH01", [IMS01]))
    write_log(case / "EXCH02_AppEvent", refusals("EXCH02", [MSMAIL02]))
    write_list(case / "ParametersSystem", [ADMIN_DN])  # names no server
    target = tmp_path / "fix.reg"
    assert main(["diagnose", str(case), "--reg-patch", str(target), "--format", "json"]) == 1
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    jsonschema.validate(d, load_schema())
    assert list(tmp_path.glob("fix*")) == []
    assert "nothing to patch" in captured.err
    assert d["dns_to_add"] == []
    for s in d["servers"]:
        assert s["remediation"] is None and s["logon_only_as"]["state"] == "unknown"
        assert s["verdict"].startswith(f"Cannot tell whether ParametersSystem.reg is {s['server']}'s Logon Only As")
        assert "ParametersSystem.reg" not in s["inputs"]
    assert any(w.startswith("ParametersSystem.reg: cannot tell which server") for w in d["warnings"])


def test_list_naming_one_known_server_pairs_it(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    write_log(case / "a", refusals("EXCH01", [IMS01]))
    write_log(case / "b", refusals("EXCH02", [MSMAIL02]))
    write_list(case / "ParametersSystem", [sa_dn(1), ADMIN_DN])
    dx = diagnose(str(case))
    one, two = dx.servers
    assert one.server == "EXCH01" and one.diagnosis.dns_to_add == [IMS01]
    assert one.paired_by["ParametersSystem.reg"] == "its Logon Only As names that server's own components"
    assert two.diagnosis.logon_only_as.state == "unknown" and two.diagnosis.remediation is None
    assert two.diagnosis.verdict.startswith("No registry export of EXCH02:")


def test_one_log_holding_two_servers_events_splits_by_computer(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    write_log(case / "merged", refusals("EXCH01", [IMS01]) + refusals("EXCH02", [MSMAIL02], seconds=60), "evcsv")
    write_list(case / "EXCH01", LIST01)
    write_list(case / "EXCH02", LIST02)
    dx = diagnose(str(case))
    assert [s.server for s in dx.servers] == ["EXCH01", "EXCH02"]
    assert [s.diagnosis.dns_to_add for s in dx.servers] == [[IMS01], [MSMAIL02]]
    assert all("merged.csv" in s.inputs for s in dx.servers)


def test_single_server_is_unchanged_by_other_machines_and_foreign_list_dns(tmp_path: Path) -> None:
    """A domain controller's System log (no Exchange events) and a list naming another server's
    System Attendant (the misconfiguration itself) do not make a second server."""
    case = tmp_path / "case"
    case.mkdir()
    write_log(case / "AppEvent", refusals("EXCH01", [IMS01]))
    write_log(case / "DC01_SysEvent", [scm(7036, "Spooler", "running", computer="DC01")])
    write_list(case / "ParametersSystem", [sa_dn(2), ADMIN_DN])
    dx = diagnose(str(case))
    assert dx.servers == [] and "servers" not in dx.to_dict()
    assert dx.logon_only_as.entries == [sa_dn(2), ADMIN_DN]
    assert dx.dns_to_add == [IMS01]


# --------------------------------------------------------------------------- pairing rules


def test_server_names_compare_on_first_label_case_insensitively() -> None:
    assert server_key("exch01.contoso.com") == server_key("EXCH01") == "exch01"
    assert server_key("10.0.0.5") == "10.0.0.5"
    assert server_key("  ") == ""


def test_pairing_signals_in_order() -> None:
    arts = [
        Artefact("EXCH01/AppEvent.Evt", "events", computers=Counter({"exch01.contoso.com": 3})),
        Artefact("logs/EXCH02_Application.evt", "events", computers=Counter({"": 2})),  # MPS Reports name
        Artefact("EXCH011_ParametersSystem.reg", "registry"),  # EXCH011 is not EXCH01
        Artefact("EXCH01/ParametersSystem.reg", "registry", list_servers=["EXCH02"]),  # folder beats list
        Artefact("hive/SYSTEM", "registry", computer_names=["EXCH02"]),
        Artefact("renamed/SYSTEM", "registry", computer_names=["NEWNAME", "EXCH01"]),  # Active first
    ]
    p = pair(arts)
    assert list(p.names.values()) == ["exch01", "EXCH02", "NEWNAME"]
    assert p.of_path["EXCH01/AppEvent.Evt"] == "exch01"
    assert p.of_path["logs/EXCH02_Application.evt"] == "exch02"
    assert p.how["logs/EXCH02_Application.evt"] == "its file name"
    assert p.of_path["EXCH011_ParametersSystem.reg"] is None
    assert p.of_path["EXCH01/ParametersSystem.reg"] == "exch01"
    assert p.how["EXCH01/ParametersSystem.reg"] == "its folder name"
    assert p.of_path["hive/SYSTEM"] == "exch02"
    assert p.of_path["renamed/SYSTEM"] == "newname"
    assert any("ActiveComputerName and ComputerName differ" in n for n in p.notes)
    # an event's own computer name decides before its file's server
    assert p.server_of_event("EXCH02", "EXCH01/AppEvent.Evt") == "exch02"
    assert p.server_of_event("", "EXCH01/AppEvent.Evt") == "exch01"


def test_computer_name_in_registry_export_pairs_it(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    write_log(case / "one", [e1023(IMS01, computer="EXCH01")])
    write_log(case / "two", [e1023(MSMAIL02, computer="EXCH02")])
    write_list(case / "x", LIST02, computer="exch02.contoso.com", form="reg5")
    write_list(case / "y", LIST01, computer="EXCH01", form="regquery")
    dx = diagnose(str(case))
    paired = {s.server: s.paired_by for s in dx.servers}
    assert paired["EXCH02"]["x.reg"] == "its own ComputerName key"
    assert paired["EXCH01"]["y.txt"] == "its own ComputerName key"
    assert [s.diagnosis.dns_to_add for s in dx.servers] == [[IMS01], [MSMAIL02]]


def test_hostile_server_names_stay_in_the_patch_folder_and_are_escaped(tmp_path: Path, capsys) -> None:
    """A computer name is customer data: it never escapes the patch folder and never reaches a terminal raw."""
    evil = "EVIL\x1b[31m/..\\x"
    case = tmp_path / "case"
    case.mkdir()
    write_log(case / "a", refusals("EXCH01", [IMS01]))
    write_log(case / "b", [e1023(MSMAIL02, computer=evil)])
    write_list(case / "EXCH01_list", LIST01)
    write_list(case / "b_list", LIST02, computer=evil, form="hive")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["diagnose", str(case), "--reg-patch", str(out / "fix.reg")]) == 1
    text = capsys.readouterr().out
    assert "\x1b" not in text and "EVIL\\x1b[31m/" in text
    assert sorted(p.name for p in tmp_path.rglob("fix*")) == [
        "fix-EVIL__31m_-rollback.reg",
        "fix-EVIL__31m_.reg",
        "fix-EXCH01-rollback.reg",
        "fix-EXCH01.reg",
    ]
    assert {p.parent for p in tmp_path.rglob("fix*")} == {out}


def test_the_same_log_twice_counts_once_within_its_server(tmp_path: Path) -> None:
    """EXCH01's log as .evt and as a text export (each event once, per server), beside EXCH02's."""
    case = two_servers(tmp_path / "case")
    write_log(case / "EXCH01_AppEvent-export", refusals("EXCH01", [IMS01]), "evcsv")
    dx = diagnose(str(case), tz=UTC)
    one = next(s for s in dx.servers if s.server == "EXCH01")
    assert "EXCH01_AppEvent-export.csv" in one.inputs
    refused = next(f for f in one.diagnosis.finding_list if f.dn == IMS01)
    assert refused.count == 1
    assert any("more than one file" in w for w in dx.warnings)
    assert [s.diagnosis.dns_to_add for s in dx.servers] == [[IMS01], [MSMAIL02]]


def test_split_evidence_routes_every_kind_of_item() -> None:
    """Every list of the evidence is split (also items added later: tuples holding a reference);
    per-path counters follow their file's server; nothing is lost."""
    from analyzer.diagnosis.per_server import split_evidence
    from analyzer.evidence import collect
    from analyzer.model import EvidenceRef

    events = refusals("EXCH01", [IMS01]) + refusals("EXCH02", [MSMAIL02], seconds=60)
    evidence = collect(events, "merged.csv")
    evidence.other_dns.append((ADMIN_DN, EvidenceRef(path="EXCH02.evt")))
    route = {"EXCH01": "exch01", "EXCH02": "exch02"}
    parts = split_evidence(evidence, lambda computer, path: route.get(computer or path.split(".")[0]))
    assert [r.computer for r in parts["exch01"].refusals] == ["EXCH01"]
    assert [r.computer for r in parts["exch02"].refusals] == ["EXCH02"]
    assert parts["exch02"].other_dns == evidence.other_dns and not parts["exch01"].other_dns
    for name in ("refusals", "imc", "raw", "unconfirmed"):
        assert sum(len(getattr(p, name)) for p in parts.values()) == len(getattr(evidence, name))
