"""The Registry view (analyzer/registry.py) over text exports: paths, control sets, walk, frames."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from analyzer.model import RegistryFile, RegistryKey, RegistryValue
from analyzer.registry import Registry, read_registry
from tests.writers.regtext_writers import write_reg, write_regedt32, write_regquery

SERVICES = r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services"
IMS_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
SA_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"
CCS_PS = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"


def _tree(spec: dict[str, list[RegistryValue]]) -> RegistryKey:
    root = RegistryKey("")
    for path, values in spec.items():
        node = root.ensure_path(path.split("\\"))
        for v in values:
            node.set_value(v)
    return root


def _view(root: RegistryKey, fmt: str = "reg") -> Registry:
    return Registry(RegistryFile(path="x.reg", format=fmt, root=root, root_path=""))


def _logon(*dns: str) -> RegistryValue:
    return RegistryValue("Logon Only As", "REG_MULTI_SZ", list(dns))


def test_short_and_long_root_names_and_case_insensitive_paths() -> None:
    reg = _view(_tree({SERVICES + r"\MSExchangeIS\ParametersSystem": [_logon(IMS_DN)]}))
    for path in (
        r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem",
        r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem",
        r"hklm\system\controlset001\services\msexchangeis\parameterssystem",
        r"HKEY_local_MACHINE\System\ControlSet001\Services\MSExchangeIS\ParametersSystem\\",
        r"SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem",  # relative to the hive root
    ):
        found = reg.key(path)
        assert found is not None, path
        assert found.path == r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem"
        assert found.requested == path
        value = reg.value(path, "LOGON ONLY AS")
        assert value is not None and value.name == "Logon Only As" and value.data == [IMS_DN]


def test_current_control_set_spelled_out_in_the_export() -> None:
    """regedit on a live machine exports HKLM\\SYSTEM\\CurrentControlSet\\… literally."""
    reg = _view(_tree({r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem": [
        _logon(IMS_DN)
    ]}))  # fmt: skip
    found = reg.key(CCS_PS)
    assert found is not None and found.control_set is None
    assert found.path == CCS_PS
    assert reg.value(CCS_PS, "Logon Only As").data == [IMS_DN]  # type: ignore[union-attr]
    assert reg.control_sets() == []


def test_controlset001_export_without_select_answers_a_current_control_set_lookup() -> None:
    reg = _view(_tree({SERVICES + r"\MSExchangeIS\ParametersSystem": [_logon(SA_DN)]}))
    found = reg.key(CCS_PS)
    assert found is not None
    assert found.control_set == "ControlSet001"
    assert found.path == r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem"
    assert reg.value(CCS_PS, "Logon Only As").data == [SA_DN]  # type: ignore[union-attr]
    assert reg.control_sets() == ["ControlSet001"]


def test_export_with_select_uses_select_current() -> None:
    """An export of all of HKLM\\SYSTEM carries Select: CurrentControlSet follows Select\\Current."""
    reg = _view(
        _tree(
            {
                r"HKEY_LOCAL_MACHINE\SYSTEM\Select": [
                    RegistryValue("Current", "REG_DWORD", 2),
                    RegistryValue("Default", "REG_DWORD", 2),
                    RegistryValue("LastKnownGood", "REG_DWORD", 1),
                ],
                SERVICES + r"\MSExchangeIS\ParametersSystem": [_logon(SA_DN, IMS_DN)],
                r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\MSExchangeIS\ParametersSystem": [_logon(SA_DN)],
            }
        )
    )
    assert reg.select()["Current"] == 2
    assert reg.current_control_set() == "ControlSet002"
    found = reg.key(CCS_PS)
    assert found is not None and found.control_set == "ControlSet002"
    assert reg.value(CCS_PS, "Logon Only As").data == [SA_DN]  # type: ignore[union-attr]
    per_set = reg.values_by_control_set(CCS_PS, "Logon Only As")
    assert {cs: v.data for cs, v in per_set.items() if v is not None} == {
        "ControlSet001": [SA_DN, IMS_DN],
        "ControlSet002": [SA_DN],
    }


def test_missing_keys_and_values_are_none() -> None:
    reg = _view(_tree({SERVICES + r"\MSExchangeIS": [RegistryValue("Start", "REG_DWORD", 2)]}))
    assert reg.key(CCS_PS) is None
    assert reg.value(CCS_PS, "Logon Only As") is None
    assert reg.value(r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS", "Logon Only As") is None
    assert reg.key(r"HKCU\Software") is None
    assert reg.key(r"HKLM\SOFTWARE\Nothing\Here") is None
    assert list(reg.walk(r"HKLM\SOFTWARE\Nothing")) == []


def test_walk_and_to_frame() -> None:
    root = _tree(
        {
            r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem": [
                _logon(IMS_DN, SA_DN),
                RegistryValue("Blob", "REG_BINARY", b"\x01\x02"),
            ],
            r"HKEY_CURRENT_USER\Software\X": [RegistryValue("", "REG_SZ", "default")],
        }
    )
    root.subkey("HKEY_CURRENT_USER").subkey("Software").subkey("X").last_write = datetime(2000, 6, 16, 10, 13)  # type: ignore[union-attr]
    reg = _view(root)
    paths = [p for p, _ in reg.walk()]
    assert paths == [
        "HKLM",
        r"HKLM\SYSTEM",
        r"HKLM\SYSTEM\ControlSet001",
        r"HKLM\SYSTEM\ControlSet001\Services",
        r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS",
        r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem",
        "HKCU",
        r"HKCU\Software",
        r"HKCU\Software\X",
    ]
    sub = [p for p, _ in reg.walk(r"hklm\system\currentcontrolset\services\msexchangeis")]
    assert sub == [
        r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS",
        r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem",
    ]
    frame = reg.to_frame()
    assert list(frame.columns) == ["key", "value", "type", "data", "last_write"]
    with_values = frame[frame["value"].notna()]
    assert with_values[["key", "value", "type"]].values.tolist() == [
        [r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem", "Logon Only As", "REG_MULTI_SZ"],
        [r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem", "Blob", "REG_BINARY"],
        [r"HKCU\Software\X", "", "REG_SZ"],
    ]
    assert with_values.iloc[0]["data"] == [IMS_DN, SA_DN]
    assert with_values.iloc[2]["last_write"] == datetime(2000, 6, 16, 10, 13)
    assert "" not in set(frame["key"])  # the nameless root of a text export is not a key
    assert len(frame) == 10  # 7 keys without values (one row each) + 3 values


@pytest.mark.parametrize("fmt", ["reg4", "reg5", "regedt32", "regquery30", "regquery"])
def test_read_registry_sniffs_every_text_export(tmp_path: Path, fmt: str) -> None:
    root = _tree(
        {
            SERVICES + r"\MSExchangeIS\ParametersSystem": [_logon(IMS_DN, SA_DN)],
            SERVICES + r"\MSExchangeIMC\Parameters": [RegistryValue("CommonName", "REG_SZ", "Internet Mail Service")],
        }
    )
    for node in (root.subkey("HKEY_LOCAL_MACHINE"),):
        assert node is not None
    path = tmp_path / f"export.{fmt}"
    if fmt.startswith("reg") and fmt[3:] in ("4", "5"):
        write_reg(path, root, version=int(fmt[3:]))
        expected = "reg"
    elif fmt == "regedt32":
        write_regedt32(path, root)
        expected = "regedt32"
    else:
        write_regquery(path, root, style="3.0" if fmt == "regquery30" else "vista")
        expected = "regquery"
    reg = read_registry(str(path))
    assert reg.format == expected
    found = reg.key(CCS_PS)
    assert found is not None and found.control_set == "ControlSet001"
    assert reg.value(CCS_PS, "Logon Only As").data == [IMS_DN, SA_DN]  # type: ignore[union-attr]
    imc = reg.value(r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters", "commonname")
    assert imc is not None and imc.data == "Internet Mail Service"
    assert reg.warnings == []


def test_read_registry_encoding_override_reaches_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "ru.reg"
    path.write_bytes('REGEDIT4\r\n\r\n[HKLM\\SOFTWARE\\X]\r\n"N"="\u0416"\r\n'.encode("cp1251"))
    assert read_registry(str(path), encoding="cp1251").value(r"HKLM\SOFTWARE\X", "N").data == "\u0416"  # type: ignore[union-attr]
    assert read_registry(str(path)).value(r"HKLM\SOFTWARE\X", "N").data == "\u00c6"  # type: ignore[union-attr]


def test_read_registry_collects_reader_warnings(tmp_path: Path) -> None:
    path = tmp_path / "bad.reg"
    path.write_text('REGEDIT4\n\n[HKLM\\SOFTWARE\\X]\n"a"=hex:zz\n"b"="ok"\n', "ascii")
    seen: list[object] = []
    reg = read_registry(str(path), warn=seen.append)
    assert len(reg.warnings) == 1 and "line 4" in str(reg.warnings[0]) and len(seen) == 1
    assert reg.value(r"HKLM\SOFTWARE\X", "b").data == "ok"  # type: ignore[union-attr]
