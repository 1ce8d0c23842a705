"""The KB rules beyond Logon Only As on real files: .evt logs written by the test writers, registry exports
as .reg text, an offline SYSTEM hive and a SOFTWARE hive, read back by the real readers and diagnosed.

Each test checks what the rule concludes from the artefacts, the registry evidence it cites, and what it
asks for when an artefact is missing; the rules' own fixtures run in tests/test_rules.py.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from analyzer.diagnosis import diagnose, diagnose_objects
from analyzer.evidence import RegistryFacts, collect, snapshot_key
from analyzer.model import Event, RegistryFile, RegistryKey, RegistryValue
from analyzer.registry import Registry, read_registry
from analyzer.report.diagnosis import load_schema
from analyzer.rules import watched_events
from analyzer.rules.factories import ORG, event, scm, user_dn
from analyzer.rules.run import corroboration

evt_writer = pytest.importorskip("tests.writers.evt_writer")
hive_writer = pytest.importorskip("tests.writers.hive_writer")
regtext = pytest.importorskip("tests.writers.regtext_writers")

RPC = r"HKLM\SOFTWARE\Microsoft\Rpc\ClientProtocols"
SERVICES = r"HKLM\SYSTEM\CurrentControlSet\Services"
MTA_PARAMS = SERVICES + r"\MSExchangeMTA\Parameters"
IMC_PARAMS = SERVICES + r"\MSExchangeIMC\Parameters"
LOA_KEY = SERVICES + r"\MSExchangeIS\ParametersSystem"


def write_logs(folder: Path, events: list[Event]) -> None:
    app = [e for e in events if e.source != "Service Control Manager"]
    system = [e for e in events if e.source == "Service Control Manager"]
    if app:
        evt_writer.write_evt(folder / "AppEvent.Evt", app)
    if system:
        evt_writer.write_evt(folder / "SysEvent.Evt", system)


def system_reg(folder: Path, keys: dict[str, dict[str, tuple[str, object]]]) -> Path:
    """A REGEDIT4 export of SYSTEM keys (full paths), always with an empty ParametersSystem."""
    spec: dict[str, dict[str, tuple[str, object]]] = {LOA_KEY: {}} | keys
    return regtext.write_reg(folder / "system.reg", regtext.build_tree(spec), version=4)


def software_hive(folder: Path, with_client_protocols: bool) -> Path:
    """An offline SOFTWARE hive: Classes + Microsoft\\Rpc (with or without ClientProtocols)."""
    entries: dict[str, list[RegistryValue]] = {"Classes": [], r"Microsoft\Rpc": []}
    if with_client_protocols:
        entries[r"Microsoft\Rpc\ClientProtocols"] = [RegistryValue("ncacn_ip_tcp", "REG_SZ", "rpcrt4.dll")]
    root = hive_writer.key_tree("CMI-CreateHive{199DAFC2-6F16-4946-BF90-5A3FC3A60902}", entries)
    return hive_writer.write_hive(folder / "SOFTWARE", root)


SA_FAIL = [
    event(1005, "MSExchangeSA", ("0xc00206b7",), path="AppEvent.Evt"),
    scm(7024, "Microsoft Exchange System Attendant", "3223324343", seconds=2),
]


def finding(d: dict, rule: str) -> dict:
    found = [f for f in d["findings"] if f["rule"] == rule]
    assert found, [f["rule"] for f in d["findings"]]
    return found[0]


# --------------------------------------------------------------------------- KB 267573: SOFTWARE hive


def test_kb267573_without_software_hive_asks_for_it(tmp_path: Path) -> None:
    write_logs(tmp_path, SA_FAIL)
    system_reg(tmp_path, {})
    d = diagnose(str(tmp_path)).to_dict()
    f = finding(d, "KB267573")
    assert f["severity"] == "error"
    assert "send the SOFTWARE hive" in f["explanation"]
    assert not any(e.get("key") for e in f["evidence"]), "no registry evidence without the hive"
    assert {e["event_id"] for e in f["evidence"]} == {1005, 7024}
    assert d["needs_action"]


def test_kb267573_software_hive_without_the_key_corroborates(tmp_path: Path) -> None:
    write_logs(tmp_path, SA_FAIL)
    system_reg(tmp_path, {})
    software_hive(tmp_path, with_client_protocols=False)
    dx = diagnose(str(tmp_path))
    f = next(f for f in dx.finding_list if f.rule == "KB267573")
    assert corroboration(f) == 0  # event + registry
    reg = [e for e in f.evidence if e.key]
    assert reg and reg[0].path == "SOFTWARE" and reg[0].text == "key absent"
    assert "is absent in SOFTWARE" in f.explanation
    assert dx.finding_list[0].rule == "KB267573"
    assert "Next step: Recreate" in dx.verdict


def test_kb267573_software_hive_with_the_key_downgrades(tmp_path: Path) -> None:
    write_logs(tmp_path, SA_FAIL)
    software_hive(tmp_path, with_client_protocols=True)
    f = finding(diagnose(str(tmp_path)).to_dict(), "KB267573")
    assert f["severity"] == "warning" and "does not apply" in f["explanation"]


# --------------------------------------------------------------------------- KB 155027 in an offline SYSTEM hive


def test_kb155027_offline_system_hive_uses_the_current_control_set(tmp_path: Path) -> None:
    good = f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft MTA"
    wrong = "/o=Contoso/ou=Paris/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft MTA"
    root = hive_writer.offline_system(
        {
            1: {r"Services\MSExchangeMTA\Parameters": [RegistryValue("X500 DN", "REG_SZ", good)]},
            2: {
                r"Services\MSExchangeMTA\Parameters": [RegistryValue("X500 DN", "REG_SZ", wrong)],
                r"Services\MSExchangeIS\ParametersSystem": [hive_writer.multi_sz("Logon Only As", [user_dn("admin")])],
            },
        },
        current=2,
    )
    hive_writer.write_hive(tmp_path / "SYSTEM", root)
    write_logs(tmp_path, [event(137, "MSExchangeMTA", (), path="AppEvent.Evt")])
    dx = diagnose(str(tmp_path))
    f = next(f for f in dx.finding_list if f.rule == "KB155027")
    assert f.severity.value == "error"
    assert "/o=Contoso/ou=Paris" in f.explanation and "/o=Contoso/ou=Berlin" in f.explanation
    reg = next(e for e in f.evidence if e.key)
    assert "ControlSet002" in reg.key and reg.value == "X500 DN"
    assert any("unverified" in a for a in f.assumptions)


# --------------------------------------------------------------------------- KB 163243 with a .reg export


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"CommonName": ("REG_SZ", "Internet Mail Connector (EXCH01)")}, "lacks HomeDSA"),
        (
            {"CommonName": ("REG_SZ", "Internet Mail Connector (EXCH01)"), "HomeDSA": ("REG_SZ", "EXCH01")},
            "present; not otherwise validated",
        ),
        ({"CommonName": ("REG_SZ", "x"), "HomeDSA": ("REG_SZ", "OLDSERVER")}, "differs from the server"),
    ],
    ids=["homedsa-missing", "both-present", "homedsa-other-server"],
)
def test_kb163243_reads_commonname_homedsa(tmp_path: Path, values: dict, expected: str) -> None:
    write_logs(tmp_path, [event(4018, "MSExchangeIMC", (), path="AppEvent.Evt")])
    system_reg(tmp_path, {IMC_PARAMS: values})
    f = finding(diagnose(str(tmp_path)).to_dict(), "KB163243")
    assert expected in f["explanation"]
    assert {e.get("value") for e in f["evidence"] if e.get("key")} == {"CommonName", "HomeDSA"}
    assert f["assumptions"]


# --------------------------------------------------------------------------- KB 324026 / 185154 through .reg


def test_kb324026_and_kb185154_from_one_reg_export(tmp_path: Path) -> None:
    write_logs(
        tmp_path,
        [
            event(2152, "MSExchangeMTA", (), path="AppEvent.Evt"),
            scm(7023, "Microsoft Exchange Message Transfer Agent", "%%2140", seconds=4),
        ],
    )
    system_reg(
        tmp_path,
        {
            MTA_PARAMS: {"MTA database path": ("REG_SZ", r"\\oldbox\mtadata"), "MTA Run Directory": ("REG_SZ", "")},
            SERVICES + r"\MSExchangeMTA": {"ObjectName": ("REG_SZ", "LocalSystem")},
        },
    )
    d = diagnose(str(tmp_path)).to_dict()
    jsonschema.Draft202012Validator(load_schema()).validate(d)  # registry evidence and assumptions fit the contract
    mta = finding(d, "KB324026")
    assert mta["severity"] == "error" and "not well-formed: MTA database path, MTA Run Directory" in mta["explanation"]
    local = finding(d, "KB185154")
    assert local["severity"] == "error" and "LocalSystem" in local["explanation"]


# --------------------------------------------------------------------------- registry snapshot semantics


def _reg(tmp_path: Path, spec: dict, name: str = "x.reg") -> Registry:
    path = regtext.write_reg(tmp_path / name, regtext.build_tree(spec), version=5)
    return read_registry(str(path))


def test_snapshot_tells_absent_from_not_covered(tmp_path: Path) -> None:
    system_only = _reg(tmp_path, {LOA_KEY: {}}, "a.reg")
    assert snapshot_key(system_only, RPC).present is None  # SOFTWARE not in the export
    assert snapshot_key(system_only, MTA_PARAMS).present is None  # nor Services\MSExchangeMTA
    rpc_parent = _reg(tmp_path, {r"HKLM\SOFTWARE\Microsoft\Rpc": {"x": ("REG_SZ", "y")}}, "b.reg")
    assert snapshot_key(rpc_parent, RPC).present is False
    full = _reg(tmp_path, {RPC: {"ncacn_np": ("REG_SZ", "rpcrt4.dll")}}, "c.reg")
    state = snapshot_key(full, RPC.lower())
    assert state.present is True and state.value("NCACN_NP").data == "rpcrt4.dll"
    merged = RegistryFacts.from_registries([(system_only, "a"), (rpc_parent, "b"), (full, "c")], [RPC])
    assert merged.key(RPC).present is True and merged.key(RPC).source == "c"
    assert merged.hives == {"SYSTEM", "SOFTWARE"}


def test_diagnose_objects_reads_watched_keys() -> None:
    root = RegistryKey("")
    node = root.ensure_path(["HKEY_LOCAL_MACHINE", "SOFTWARE", "Microsoft", "Rpc"])
    node.set_value(RegistryValue("x", "REG_SZ", "y"))
    view = Registry(RegistryFile(path="mem.reg", format="reg", root=root, root_path=""))
    dx = diagnose_objects(SA_FAIL, [view])
    f = next(f for f in dx.finding_list if f.rule == "KB267573")
    assert "is absent in" in f.explanation


def test_raw_events_are_capped() -> None:
    huge = event(1005, "MSExchangeSA", ("0xc00206b7" + "A" * 100_000,) * 50)
    raw = collect([huge], watched=watched_events()).raw[0]
    assert len(raw.strings) <= 16 and all(len(s) <= 1024 for s in raw.strings)
    assert len(raw.ref.text or "") <= 600
