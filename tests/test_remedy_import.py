"""Remediation patches imported the way regedit imports them, then stored in a hive and read back.

tests/test_remedy.py re-reads every patch and rollback with the .reg reader and with an independent
hex(7) decoder.  Here each patch is *applied* to the state the customer's registry was found in
(``regfile.import_into``: ``"Logon Only As"=-`` deletes the value that is there), the result is
written as an offline SYSTEM hive by tests/writers/hive_writer.py the way Windows stores it
(strings UTF-16LE, also from a REGEDIT4 file), read back by the project's hive reader, and must
hold exactly the intended list; then the rollback, applied on top, must give back the state found.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.model import RegistryKey, RegistryValue
from analyzer.readers import regfile
from analyzer.registry import read_registry
from analyzer.remedy import build_remediation, write_reg_file
from tests.test_remedy import CASES, CP1252_DN, IMS, KEY_PATH, SA1, WIDE_DN
from tests.writers.hive_writer import dword, write_hive

LIVE = ["HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS", "ParametersSystem"]
STRING_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ")


def _found(state: str, current: list[str]) -> RegistryKey:
    """The registry as found: ParametersSystem with the list (or without the value when absent)."""
    root = RegistryKey("")
    key = root.ensure_path(LIVE)
    key.set_value(RegistryValue("Working Directory", "REG_SZ", "C:\\exchsrvr\\mdbdata"))
    if state != "absent":
        raw = ("".join(s + "\0" for s in current) + "\0").encode("utf-16-le")
        key.set_value(RegistryValue("Logon Only As", "REG_MULTI_SZ", list(current), raw))
    return root


def _apply(tmp_path: Path, root: RegistryKey, name: str, text: str, version: int) -> None:
    path = tmp_path / name
    write_reg_file(path, text, version)
    warnings: list[object] = []
    regfile.import_into(root, str(path), warn=warnings.append)
    assert warnings == []


def _stored(value: RegistryValue, version: int) -> RegistryValue:
    """What Windows NT keeps: a REGEDIT4 file's ANSI string bytes become UTF-16LE."""
    if version == 4 and value.type in STRING_TYPES and value.raw is not None:
        return RegistryValue(value.name, value.type, value.data, value.raw.decode("cp1252").encode("utf-16-le"))
    return value


def _hive_copy(node: RegistryKey, version: int, name: str | None = None) -> RegistryKey:
    out = RegistryKey(name or node.name)
    for value in node.values():
        out.set_value(_stored(value, version))
    for child in node.subkeys():
        copy = _hive_copy(child, version)
        out._subkeys[copy.name.casefold()] = copy
    return out


def _through_hive(tmp_path: Path, root: RegistryKey, version: int, name: str) -> list[str] | None:
    """Write HKLM\\SYSTEM as an offline hive (CurrentControlSet -> ControlSet001 + Select) and read it."""
    system = root.subkey("HKEY_LOCAL_MACHINE").subkey("SYSTEM")  # type: ignore[union-attr]
    hive = RegistryKey("SYSTEM")
    ccs = _hive_copy(system.subkey("CurrentControlSet"), version, "ControlSet001")
    hive._subkeys[ccs.name.casefold()] = ccs
    hive.add_subkey("Select").set_value(dword("Current", 1))
    path = write_hive(tmp_path / name, hive)
    warnings: list[object] = []
    reg = read_registry(str(path), warn=warnings.append)
    assert warnings == [] and reg.format == "hive"
    value = reg.value(KEY_PATH, "Logon Only As")
    if value is None:
        return None
    assert value.type == "REG_MULTI_SZ"
    assert value.raw is None or value.raw.endswith(b"\0\0")
    return list(value.data)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize(
    ("state", "current", "add", "replace", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_patch_then_rollback_through_a_hive(
    tmp_path: Path,
    version: int,
    state: str,
    current: list[str],
    add: list[str],
    replace: dict[str, str],
    expected: list[str],
) -> None:
    rem = build_remediation(state=state, current=current, add=add, near_misses=replace, version=version)
    registry = _found(state, current)
    _apply(tmp_path, registry, "patch.reg", rem.reg, version)
    assert _through_hive(tmp_path, registry, version, "patched.hiv") == expected
    _apply(tmp_path, registry, "rollback.reg", rem.rollback, version)
    as_found = _through_hive(tmp_path, _found(state, current), 5, "found.hiv")  # the same decoder on both sides
    assert _through_hive(tmp_path, registry, version, "rolled-back.hiv") == as_found
    assert _raw(registry, version) == _raw(_found(state, current), 5)  # byte for byte the value as found
    key = _found("absent", []).ensure_path(LIVE)
    assert registry.ensure_path(LIVE).value("Working Directory") == key.value("Working Directory")


def _raw(root: RegistryKey, version: int) -> bytes | None:
    value = root.ensure_path(LIVE).value("Logon Only As")
    return None if value is None else _stored(value, version).raw


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("state", ["set", "empty"])
def test_delete_value_patch_through_a_hive(tmp_path: Path, version: int, state: str) -> None:
    current = [SA1, CP1252_DN] if state == "set" else []
    rem = build_remediation(state=state, current=current, add=[], version=version, delete_value=True)
    registry = _found(state, current)
    _apply(tmp_path, registry, "delete.reg", rem.reg, version)
    assert _through_hive(tmp_path, registry, version, "deleted.hiv") is None
    _apply(tmp_path, registry, "undo.reg", rem.rollback, version)
    assert _through_hive(tmp_path, registry, version, "undone.hiv") == current


def test_wide_dns_survive_the_hive(tmp_path: Path) -> None:
    rem = build_remediation(state="set", current=[WIDE_DN], add=[IMS], version=5)
    registry = _found("set", [WIDE_DN])
    _apply(tmp_path, registry, "wide.reg", rem.reg, 5)
    assert _through_hive(tmp_path, registry, 5, "wide.hiv") == [WIDE_DN, IMS]
