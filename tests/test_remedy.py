"""Remediation patches: every patch and rollback is written to disk, re-read with the project's .reg
reader and decoded independently here, and must give exactly the intended list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.remedy import (
    DEFAULT_KEY,
    RemediationError,
    build_remediation,
    encode_multi_sz,
    hex_assignment,
    live_key,
    merge_entries,
    rollback_path,
    write_reg_file,
    write_remediation,
)
from tests.conftest import corpus_file

ORG = "/o=Contoso/ou=Berlin"
IMS = f"{ORG}/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
IMS_DISPLAY = f"{ORG}/cn=Configuration/cn=Connections/cn=Internet Mail Service (EXCH01)"
SA1 = f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"
SA2 = f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH02/cn=Microsoft System Attendant"
DSA2 = f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH02/cn=Microsoft DSA"
ADMIN = f"{ORG}/cn=Recipients/cn=admin"
CP1252_DN = f"{ORG}/cn=Recipients/cn=Jürgen Müller-Œ€"  # ü, Œ (0x8c) and € (0x80) are cp1252 bytes
WIDE_DN = f"{ORG}/cn=Recipients/cn=Łukasz 東京 𝄞"  # not cp1252; 𝄞 is a surrogate pair in UTF-16
KEY_PATH = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"


# --------------------------------------------------------------------------- independent decoding


def file_text(path: Path, version: int) -> str:
    raw = path.read_bytes()
    if version == 5:
        assert raw[:2] == b"\xff\xfe", "5.00 files are UTF-16LE with a BOM"
        return raw[2:].decode("utf-16-le")
    assert not raw.startswith((b"\xff\xfe", b"\xef\xbb\xbf")), "REGEDIT4 files are ANSI without BOM"
    return raw.decode("cp1252")


def my_multi_sz(text: str, version: int) -> list[str] | None:
    """Decode the ``"Logon Only As"=hex(7):`` line of a .reg text by hand (None when it is deleted)."""
    joined = re.sub(r",\\\r\n  ", ",", text)
    m = re.search(r'^"Logon Only As"=(.*)$', joined, re.MULTILINE)
    assert m, "value line missing"
    rhs = m.group(1).rstrip("\r")
    if rhs == "-":
        return None
    assert rhs.startswith("hex(7):")
    data = bytes(int(h, 16) for h in rhs[len("hex(7):") :].split(",") if h)
    if version == 5:
        assert len(data) % 2 == 0 and data.endswith(b"\0\0")
        decoded = data.decode("utf-16-le")
    else:
        assert data.endswith(b"\0")
        decoded = data.decode("cp1252")
    assert decoded.endswith("\0\0") or decoded == "\0"
    decoded = decoded.rstrip("\0")  # string terminator + list terminator (trailing empties end the list)
    return [] if decoded == "" else decoded.split("\0")


def reader_value(path: Path) -> list[str] | None:
    """Re-read with analyzer.readers.regfile (the project's .reg reader) and look the value up."""
    regfile = pytest.importorskip("analyzer.readers.regfile", reason="analyzer.readers.regfile not written yet")
    from analyzer.registry import Registry

    warnings: list[object] = []
    parsed = regfile.read(str(path), warn=warnings.append)
    assert warnings == []
    value = Registry(parsed).value(KEY_PATH, "Logon Only As")
    if value is None:
        return None
    assert value.type == "REG_MULTI_SZ"
    return list(value.data)


def check_file(tmp_path: Path, name: str, text: str, version: int, expected: list[str] | None) -> None:
    path = tmp_path / name
    write_reg_file(path, text, version)
    decoded = file_text(path, version)
    assert "\r\n" in decoded and "\n" not in decoded.replace("\r\n", "")
    assert decoded.startswith("REGEDIT4\r\n\r\n" if version == 4 else "Windows Registry Editor Version 5.00\r\n\r\n")
    assert f"[{DEFAULT_KEY}]\r\n" in decoded
    assert my_multi_sz(decoded, version) == expected
    assert reader_value(path) == expected


# --------------------------------------------------------------------------- patches re-read

CASES = [
    # id, state, current, add, near misses, expected patched list (near misses kept: the default)
    ("kb306308", "set", [SA1, ADMIN], [IMS], {}, [SA1, ADMIN, IMS]),
    ("near-miss", "set", [SA1, IMS_DISPLAY, ADMIN], [IMS], {IMS_DISPLAY: IMS}, [SA1, IMS_DISPLAY, ADMIN, IMS]),
    ("near-miss-not-in-add", "set", [IMS_DISPLAY], [], {IMS_DISPLAY: IMS}, [IMS_DISPLAY, IMS]),
    ("move-mailbox", "set", [SA1], [SA2, DSA2], {}, [SA1, SA2, DSA2]),
    ("empty", "empty", [], [IMS, SA1], {}, [IMS, SA1]),
    ("absent", "absent", [], [SA1], {}, [SA1]),
    ("cp1252", "set", [CP1252_DN], [IMS], {}, [CP1252_DN, IMS]),
    ("case-dup", "set", [IMS.upper()], [IMS], {}, [IMS.upper()]),
    ("empty-element", "set", [SA1, ""], [IMS], {}, [SA1, IMS]),
]


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize(
    ("state", "current", "add", "replace", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_patch_and_rollback_reread(
    tmp_path: Path,
    version: int,
    state: str,
    current: list[str],
    add: list[str],
    replace: dict[str, str],
    expected: list[str],
) -> None:
    rem = build_remediation(state=state, current=current, add=add, near_misses=replace, version=version)
    assert rem.entries == expected
    assert rem.version == version
    check_file(tmp_path, "patch.reg", rem.reg, version, expected)
    as_found = None if state == "absent" else current
    if as_found == [SA1, ""]:
        as_found = [SA1]  # a trailing empty element cannot be told from the list end in hex(7)
    check_file(tmp_path, "rollback.reg", rem.rollback, version, as_found)


def test_utf16_patch_keeps_non_cp1252_dns(tmp_path: Path) -> None:
    rem = build_remediation(state="set", current=[WIDE_DN, CP1252_DN], add=[IMS], version=5)
    check_file(tmp_path, "wide.reg", rem.reg, 5, [WIDE_DN, CP1252_DN, IMS])
    check_file(tmp_path, "wide-rollback.reg", rem.rollback, 5, [WIDE_DN, CP1252_DN])


def test_regedit4_refuses_dn_outside_code_page() -> None:
    with pytest.raises(RemediationError, match="cp1252"):
        build_remediation(state="set", current=[WIDE_DN], add=[IMS], version=4)
    # another ANSI code page can hold it when the customer's system uses it
    cyrillic = f"{ORG}/cn=Recipients/cn=Иван"
    rem = build_remediation(state="set", current=[cyrillic], add=[], version=4, codepage="cp1251")
    assert "c8,e2,e0,ed,00,00" in rem.reg.replace(",\\\n  ", ",")


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("state", ["set", "empty"])
def test_delete_value_patch(tmp_path: Path, version: int, state: str) -> None:
    current = [SA1] if state == "set" else []
    rem = build_remediation(state=state, current=current, add=[], version=version, delete_value=True)
    assert rem.entries == []
    assert '"Logon Only As"=-\n' in rem.reg
    check_file(tmp_path, "delete.reg", rem.reg, version, None)
    check_file(tmp_path, "delete-rollback.reg", rem.rollback, version, current)
    assert any("Delete the `Logon Only As` value" in s for s in rem.steps)


def test_empty_list_encoding() -> None:
    assert encode_multi_sz([], 4) == b"\0"
    assert encode_multi_sz([], 5) == b"\0\0"
    rem4 = build_remediation(state="empty", current=[], add=[], version=4)
    rem5 = build_remediation(state="empty", current=[], add=[], version=5)
    assert '"Logon Only As"=hex(7):00\n' in rem4.rollback
    assert '"Logon Only As"=hex(7):00,00\n' in rem5.rollback


def test_unknown_state_refused() -> None:
    with pytest.raises(RemediationError, match="unknown"):
        build_remediation(state="unknown", current=[], add=[IMS])
    with pytest.raises(RemediationError):
        build_remediation(state="set", current=[SA1], add=[IMS], version=3)


# --------------------------------------------------------------------------- encodings and layout


def test_byte_encodings() -> None:
    assert encode_multi_sz(["ab", "c"], 4) == b"ab\0c\0\0"
    assert encode_multi_sz(["ab", "c"], 5) == b"a\0b\0\0\0c\0\0\0\0\0"
    assert encode_multi_sz(["€"], 4) == b"\x80\0\0"
    assert encode_multi_sz(["𝄞"], 5) == b"\x34\xd8\x1e\xdd\0\0\0\0"


def test_v5_ascii_bytes_are_xx_00() -> None:
    rem = build_remediation(state="set", current=[], add=["/o=A"], version=5)
    assert '"Logon Only As"=hex(7):2f,00,6f,00,3d,00,41,00,00,00,00,00\n' in rem.reg


def test_wrapping_like_regedit() -> None:
    """First line: as many bytes as keep it under 77 columns before the break; then 25 per line."""
    data = "\\Windows\0\\RPC Control\0\0".encode("utf-16-le")
    text = hex_assignment("ObjectDirectories", 7, data)
    lines = text.split("\n")
    assert lines[0] == '"ObjectDirectories"=hex(7):5c,00,57,00,69,00,6e,00,64,00,6f,00,77,00,73,00,00,\\'
    assert lines[1] == "  00,5c,00,52,00,50,00,43,00,20,00,43,00,6f,00,6e,00,74,00,72,00,6f,00,6c,00,\\"
    assert lines[2] == "  00,00,00,00"
    rem = build_remediation(state="set", current=[SA1, ADMIN, CP1252_DN], add=[IMS, SA2], version=5)
    body = rem.reg.split("\n")
    value_lines = [ln for ln in body if ln.startswith(('"Logon', "  "))]
    assert all(len(ln) <= 80 for ln in value_lines)
    assert all(ln.startswith("  ") and ln.endswith(",\\") and ln.count(",") == 25 for ln in value_lines[1:-1])


def test_wrapping_matches_real_export() -> None:
    """The corpus holds a real 5.00 export with long wrapped ``hex:`` values: rebuild those lines."""
    path = corpus_file("reg", "debloat__lower-ram-usage.reg")
    text = path.read_bytes().decode("ascii")
    blocks = re.findall(r'^("[^"]+")=hex:((?:[^\n]*\\\n)*[^\n]*)$', text, re.MULTILINE)
    assert len(blocks) >= 2
    for quoted, body in blocks:
        data = bytes(int(h, 16) for h in re.sub(r",\\\n\s*", ",", body).strip().split(","))
        original = f"{quoted}=hex:{body}"
        assert hex_assignment(quoted[1:-1], 3, data) == original


def test_value_name_quoting() -> None:
    assert hex_assignment('a"b\\c', 7, b"\0").startswith('"a\\"b\\\\c"=hex(7):00')


# --------------------------------------------------------------------------- merge, key, steps, files


def test_merge_keeps_order_and_dedupes() -> None:
    assert merge_entries([SA1, IMS_DISPLAY], [IMS, SA1.lower()], {IMS_DISPLAY: IMS}) == [SA1, IMS]
    assert merge_entries([SA1, IMS_DISPLAY.upper()], [IMS, SA1.lower()]) == [SA1, IMS_DISPLAY.upper(), IMS]
    assert merge_entries([], [IMS, IMS], {}) == [IMS]


def test_live_key_targets_current_control_set() -> None:
    offline = r"HKLM\SYSTEM\ControlSet002\Services\MSExchangeIS\ParametersSystem"
    assert live_key(offline) == DEFAULT_KEY
    rem = build_remediation(state="set", current=[SA1], add=[IMS], key=offline)
    assert f"[{DEFAULT_KEY}]" in rem.reg and "ControlSet002" not in rem.reg + rem.rollback


def test_steps_order_and_references() -> None:
    rem = build_remediation(state="set", current=[SA1, ADMIN], add=[IMS], restart_imc=True)
    steps = rem.steps
    stop = next(i for i, s in enumerate(steps) if s.startswith("Stop the Microsoft Exchange Information Store"))
    backup = next(i for i, s in enumerate(steps) if "regedit /e" in s)
    imp = next(i for i, s in enumerate(steps) if "regedit /s <patch>.reg" in s)
    start = next(i for i, s in enumerate(steps) if s.startswith("Start the Microsoft Exchange Information Store"))
    ims = next(i for i, s in enumerate(steps) if "net start MSExchangeIMC" in s)
    verify = next(i for i, s in enumerate(steps) if s.startswith("Verify"))
    assert stop < backup < imp < start < ims < verify
    assert "KB 146764" in steps[stop] and "KB 306308" in steps[ims] and "Regedt32" in steps[imp]
    assert "1023" in steps[verify] and "4018" in steps[verify]
    assert IMS in steps[imp]
    no_imc = build_remediation(state="set", current=[SA1], add=[SA2], version=5)
    assert not any("net start MSExchangeIMC" in s for s in no_imc.steps)
    assert any("cannot edit it" in s for s in no_imc.steps)  # Windows 2000 regedit and REG_MULTI_SZ
    assert not any("4018" in s for s in no_imc.steps)  # the IMS is not involved
    deleted = build_remediation(state="empty", current=[], add=[], delete_value=True)
    assert any(s.startswith("Verify: the mailboxes and services refused before log on again") for s in deleted.steps)
    assert not any("ExMerge" in s for s in deleted.steps)  # the value is gone afterwards


def test_write_remediation_pair(tmp_path: Path) -> None:
    rem = build_remediation(state="absent", current=[], add=[SA1], version=5)
    patch, back = write_remediation(tmp_path / "fix.reg", rem)
    assert back == rollback_path(patch) == tmp_path / "fix-rollback.reg"
    assert my_multi_sz(file_text(patch, 5), 5) == [SA1]
    assert my_multi_sz(file_text(back, 5), 5) is None
    assert rem.to_dict()["entries"] == [SA1]


# --------------------------------------------------------------------------- any list survives the round trip

_CP1252 = bytes(range(1, 256)).decode("cp1252", errors="ignore")  # every character a REGEDIT4 file can hold
_dn_any = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=40)
_dn_ansi = st.text(st.sampled_from(_CP1252), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(current=st.lists(_dn_any, max_size=6), add=st.lists(_dn_any, max_size=4))
def test_any_utf16_list_round_trips(tmp_path: Path, current: list[str], add: list[str]) -> None:
    rem = build_remediation(state="set" if current else "empty", current=current, add=add, version=5)
    check_file(tmp_path, "p.reg", rem.reg, 5, rem.entries)
    check_file(tmp_path, "r.reg", rem.rollback, 5, current)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(current=st.lists(_dn_ansi, max_size=6), add=st.lists(_dn_ansi, max_size=4))
def test_any_cp1252_list_round_trips(tmp_path: Path, current: list[str], add: list[str]) -> None:
    rem = build_remediation(state="set" if current else "empty", current=current, add=add, version=4)
    check_file(tmp_path, "p.reg", rem.reg, 4, rem.entries)
    check_file(tmp_path, "r.reg", rem.rollback, 4, current)
