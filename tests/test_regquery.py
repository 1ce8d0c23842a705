"""``reg query`` output reader: REG.EXE 3.0 (tabs) and Vista+ (four spaces), /s output, round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model import InputError, RegistryKey, RegistryValue
from analyzer.readers import regquery
from tests.regtext_support import IMS_DN, PS, SA_DN, key_at, read_collecting
from tests.writers.regtext_writers import regquery_text, tree_dict, write_regquery

REG30 = (
    "\r\n! REG.EXE VERSION 3.0\r\n\r\n"
    f"{PS}\r\n"
    f"    Logon Only As\tREG_MULTI_SZ\t{IMS_DN}\\0{SA_DN}\\0\\0\r\n"
    "    <NO NAME>\tREG_SZ\tdefault text\r\n"
    "    Enable Tracing\tREG_DWORD\t0x1\r\n"
    "    Blob\tREG_BINARY\t0102ABFF\r\n"
    "    Path\tREG_EXPAND_SZ\t%SystemRoot%\\system32\r\n"
    "    Empty\tREG_MULTI_SZ\t\r\n"
    "    Big\tREG_QWORD\t0x100000000\r\n"
    "\r\n"
)

VISTA = (
    "\r\n"
    f"{PS}\r\n"
    f"    Logon Only As    REG_MULTI_SZ    {IMS_DN}\\0{SA_DN}\r\n"
    "    (Default)    REG_SZ    default text\r\n"
    "    Enable Tracing    REG_DWORD    0x1\r\n"
    "    Blob    REG_BINARY    0102ABFF\r\n"
    "    Path    REG_EXPAND_SZ    %SystemRoot%\\system32\r\n"
    "    Empty    REG_MULTI_SZ    \r\n"
    "    Big    REG_QWORD    0x100000000\r\n"
    "\r\n"
    f"{PS}\\Sub Key\r\n"
    "    (Default)    REG_SZ    (value not set)\r\n"
    "    Spaced    name    REG_SZ    data  with   spaces  \r\n"
    "\r\n"
)


@pytest.mark.parametrize("text", [REG30, VISTA], ids=["reg30", "vista"])
def test_both_layouts(tmp_path: Path, text: str) -> None:
    path = tmp_path / "q.txt"
    path.write_bytes(text.encode("cp1252"))
    assert regquery.detect(text)
    file, warnings = read_collecting(regquery, path)
    assert warnings == []
    assert file.format == "regquery" and file.root_path == "" and file.root.name == ""
    key = key_at(file.root, PS)
    got = {v.name: (v.type, v.data) for v in key.values()}
    assert got["Logon Only As"] == ("REG_MULTI_SZ", [IMS_DN, SA_DN])
    assert got[""] == ("REG_SZ", "default text")
    assert got["Enable Tracing"] == ("REG_DWORD", 1)
    assert got["Blob"] == ("REG_BINARY", b"\x01\x02\xab\xff")
    assert got["Path"] == ("REG_EXPAND_SZ", "%SystemRoot%\\system32")
    assert got["Empty"] == ("REG_MULTI_SZ", [])
    assert got["Big"] == ("REG_QWORD", 1 << 32)


def test_vista_recursive_output_names_with_spaces_and_unset_default(tmp_path: Path) -> None:
    path = tmp_path / "q.txt"
    path.write_text(VISTA, "cp1252")
    file, _ = read_collecting(regquery, path)
    sub = key_at(file.root, PS + "\\Sub Key")
    assert [(v.name, v.data) for v in sub.values()] == [("Spaced    name", "data  with   spaces  ")]
    assert file.keys_read == 7 and file.values_read == 8


def test_short_root_names_and_subkey_listing(tmp_path: Path) -> None:
    """Without /s reg lists subkeys as bare full paths after the values: they become (empty) keys."""
    text = (
        "\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\n"
        "    ImagePath    REG_EXPAND_SZ    C:\\exchsrvr\\bin\\store.exe\n\n"
        "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersPrivate\n"
        "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem\n"
        "HKLM\\SOFTWARE\\X\n"
    )
    path = tmp_path / "q.txt"
    path.write_text(text, "ascii")
    file, warnings = read_collecting(regquery, path)
    assert warnings == []
    msis = key_at(file.root, "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS")
    assert [k.name for k in msis.subkeys()] == ["ParametersPrivate", "ParametersSystem"]
    assert key_at(file.root, "HKEY_LOCAL_MACHINE\\SOFTWARE\\X").values() == []


def test_damage_reported_with_line_numbers(tmp_path: Path) -> None:
    text = (
        "! REG.EXE VERSION 3.0\n"  # 1
        "\n"  # 2
        "    Orphan\tREG_SZ\tx\n"  # 3 value before any key
        f"{PS}\n"  # 4
        "    Good\tREG_SZ\tyes\n"  # 5
        "    BadDword\tREG_DWORD\t0xZZ\n"  # 6
        "    BadHex\tREG_BINARY\t0G\n"  # 7
        "    no type here\n"  # 8
        "Some stray text\n"  # 9
        "ERROR: The system was unable to find the specified registry key or value.\n"  # 10
    )
    path = tmp_path / "q.txt"
    path.write_text(text, "ascii")
    file, warnings = read_collecting(regquery, path)
    assert [int(re.match(r"line (\d+)", w.message).group(1)) for w in warnings] == [3, 6, 7, 8, 9, 10]  # type: ignore[union-attr]
    assert "reg reported: ERROR" in warnings[-1].message
    assert [v.name for v in key_at(file.root, PS).values()] == ["Good"]


@pytest.mark.parametrize("content", [b"", b"hello world\n", b"\x00\xff" * 100])
def test_no_key_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "q.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        regquery.read(str(path))
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\r\n! REG.EXE VERSION 3.0\r\n\r\nHKEY_LOCAL_MACHINE\\X\r\n", True),
        ("\r\nHKEY_LOCAL_MACHINE\\X\r\n    a    REG_SZ    b\r\n", True),
        ("HKEY_LOCAL_MACHINE\\X\n    a\tREG_DWORD\t0x1\n", True),
        ("REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n", False),
        ("Key Name: SYSTEM\\X\r\nClass Name: <NO CLASS>\r\n", False),
        ("Event Type:\tError\r\nEvent Source:\tX\r\n", False),
        ("HKEY_LOCAL_MACHINE is a root key\n", False),
    ],
)
def test_detect(text: str, expected: bool) -> None:
    assert regquery.detect(text) is expected


def test_writer_layouts() -> None:
    root = RegistryKey("")
    ps = root.ensure_path(PS.split("\\"))
    ps.set_value(RegistryValue("Logon Only As", "REG_MULTI_SZ", [IMS_DN]))
    ps.set_value(RegistryValue("", "REG_SZ", "d"))
    old = regquery_text(root, "3.0")
    assert old.startswith("\n! REG.EXE VERSION 3.0\n\nHKEY_LOCAL_MACHINE\n")
    assert f"\n{PS}\n    Logon Only As\tREG_MULTI_SZ\t{IMS_DN}\\0\\0\n    <NO NAME>\tREG_SZ\td\n" in old
    new = regquery_text(root, "vista")
    assert f"\n{PS}\n    Logon Only As    REG_MULTI_SZ    {IMS_DN}\n    (Default)    REG_SZ    d\n" in new


_CHARS = st.characters(min_codepoint=33, max_codepoint=0x7E)


@st.composite
def _trees(draw: st.DrawFn) -> RegistryKey:
    """What reg query can carry: names without tabs or runs of spaces, strings on one line,
    multi-strings without empty entries or literal \\0."""
    word = st.text(_CHARS.filter(lambda c: c != "\\"), min_size=1, max_size=8)
    name = st.lists(word, min_size=1, max_size=3).map(" ".join)
    text = st.lists(word, max_size=4).map(" ".join)
    data = st.one_of(
        st.tuples(st.just("REG_SZ"), text),
        st.tuples(st.just("REG_EXPAND_SZ"), text),
        st.tuples(st.just("REG_MULTI_SZ"), st.lists(st.lists(word, min_size=1, max_size=3).map(" ".join), max_size=4)),
        st.tuples(st.just("REG_DWORD"), st.integers(0, 0xFFFFFFFF)),
        st.tuples(st.just("REG_QWORD"), st.integers(0, 2**64 - 1)),
        st.tuples(st.just("REG_BINARY"), st.binary(max_size=40)),
        st.tuples(st.just("REG_NONE"), st.binary(max_size=8)),
    )
    root = RegistryKey("")
    for _ in range(draw(st.integers(1, 4))):
        top = draw(st.sampled_from(["HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "HKEY_USERS"]))
        node = root.ensure_path([top, *draw(st.lists(name, min_size=1, max_size=3))])
        for vname, (vtype, vdata) in draw(st.lists(st.tuples(st.one_of(st.just(""), name), data), max_size=4)):
            node.set_value(RegistryValue(vname, vtype, vdata))
    return root


@pytest.mark.parametrize("style", ["3.0", "vista"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees())
def test_round_trip(tmp_path: Path, style: str, tree: RegistryKey) -> None:
    file, warnings = read_collecting(regquery, write_regquery(tmp_path / f"q{style}.txt", tree, style=style))
    assert warnings == []
    assert tree_dict(file.root) == tree_dict(tree)
