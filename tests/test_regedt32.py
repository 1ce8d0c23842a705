"""Regedt32 "Save Subtree As" text: KB layouts, multi-strings both ways, hex dumps, times, damage."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model import InputError, ReadWarning, RegistryKey, RegistryValue
from analyzer.readers import regedt32
from tests.regtext_support import IMS_DN, PS, SA_DN, key_at, read_collecting
from tests.writers.regtext_writers import regedt32_text, tree_dict, write_regedt32


def _lines(warnings: list[ReadWarning]) -> list[int]:
    return [int(m.group(1)) for w in warnings if (m := re.match(r"line (\d+)", w.message))]


# The shape printed in KB 243342 (unpadded labels, a key path wrapped at a space).
KB243342 = """\
Key Name: SOFTWARE\\Microsoft\\Transaction
Server\\Packages\\{3D14228C-FBE1-11d0-995D-00C04FD919C1}\\Components\\{6073535D-438C-11D4-A35F-00C04F765674}
Class Name: <NO CLASS>
Last Write Time: 6/16/00 - 10:38 AM

Value 0
Name: Authentication
Type: REG_DWORD
Data: 0x4

Value 1
Name: SecurityEnabled
Type: REG_SZ
Data: Y
"""

# Padded labels, the founding case's value with one DN per continuation line, a hex dump (KB 183015).
PADDED = f"""\
Key Name:          SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem
Class Name:        <NO CLASS>
Last Write Time:   6/16/00 - 1:13 PM

Value 0
  Name:            Logon Only As
  Type:            REG_MULTI_SZ
  Data:            {IMS_DN}
                   {SA_DN}

Value 1
  Name:            101e6613
  Type:            REG_BINARY
  Data:
00000000   06 00 00 00 1c 00 00 00 - 2d 00 00 00 51 00 00 00  ........-...Q...
00000010   61 62                                              ab

Value 2
  Name:            <NO NAME>
  Type:            REG_SZ
  Data:              two leading spaces kept

Key Name:          SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem\\Empty
Class Name:        MyClass
Last Write Time:   6/17/00 - 12:05 AM
"""


def test_kb243342_layout_and_wrapped_key_name(tmp_path: Path) -> None:
    path = tmp_path / "packages.txt"
    path.write_bytes(KB243342.replace("\n", "\r\n").encode("cp1252"))
    file, warnings = read_collecting(regedt32, path)
    assert file.format == "regedt32" and file.root_path == ""
    key = key_at(
        file.root,
        r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Transaction Server\Packages\{3D14228C-FBE1-11d0-995D-00C04FD919C1}"
        r"\Components\{6073535D-438C-11D4-A35F-00C04F765674}",
    )
    assert key.last_write == datetime(2000, 6, 16, 10, 38)
    assert key.last_write.tzinfo is None
    assert [(v.name, v.type, v.data) for v in key.values()] == [
        ("Authentication", "REG_DWORD", 4),
        ("SecurityEnabled", "REG_SZ", "Y"),
    ]
    assert _lines(warnings) == [1] and "wraps" in warnings[0].message  # the join is reported, not silent


def test_padded_layout_multi_sz_lines_hex_dump_default_value(tmp_path: Path) -> None:
    path = tmp_path / "ps.txt"
    path.write_bytes(PADDED.replace("\n", "\r\n").encode("cp1252"))
    file, warnings = read_collecting(regedt32, path)
    assert warnings == []
    key = key_at(file.root, PS)
    assert key.last_write == datetime(2000, 6, 16, 13, 13)
    assert key.value("Logon Only As").data == [IMS_DN, SA_DN]  # type: ignore[union-attr]
    blob = key.value("101e6613")
    assert blob is not None and blob.type == "REG_BINARY"
    assert blob.data == bytes.fromhex("060000001c0000002d000000510000006162") and blob.raw == blob.data
    assert key.value("").data == "  two leading spaces kept"  # type: ignore[union-attr]
    empty = key_at(key, "Empty")
    assert empty.values() == [] and empty.class_name == "MyClass"
    assert empty.last_write == datetime(2000, 6, 17, 0, 5)


def test_modern_text_export_with_root_and_24h_day_first_times(tmp_path: Path) -> None:
    """regedit's later "Text files" export names the root and uses the locale's date order."""
    text = (
        "Key Name:          HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD\r\n"
        "Class Name:        ff8cd910\r\n"
        "Last Write Time:   19/09/2024 - 20:24\r\n"
        "Value 0\r\n"
        "  Name:            Lookup\r\n"
        "  Type:            REG_BINARY\r\n"
        "  Data:            \r\n"
        "00000000   ac 36 16 8e 7a 26                                  \u00ac6..z&\r\n"
        "\r\n"
        "Key Name:          HKEY_CURRENT_USER\\Software\\X\r\n"
        "Class Name:        <NO CLASS>\r\n"
        "Last Write Time:   05/02/2024 - 8:59 PM\r\n"
    )
    path = tmp_path / "lsa.txt"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    file, warnings = read_collecting(regedt32, path)
    assert warnings == []
    jd = key_at(file.root, r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Lsa\JD")
    assert jd.class_name == "ff8cd910" and jd.last_write == datetime(2024, 9, 19, 20, 24)
    assert jd.value("Lookup").data == bytes.fromhex("ac36168e7a26")  # type: ignore[union-attr]
    assert key_at(file.root, r"HKEY_CURRENT_USER\Software\X").last_write == datetime(2024, 2, 5, 20, 59)


def test_ambiguous_dates_are_read_month_first_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "amb.txt"
    path.write_text("Key Name: SYSTEM\\A\nClass Name: <NO CLASS>\nLast Write Time: 5/9/23 - 12:29\n", "ascii")
    file, warnings = read_collecting(regedt32, path)
    assert key_at(file.root, r"HKEY_LOCAL_MACHINE\SYSTEM\A").last_write == datetime(2023, 5, 9, 12, 29)
    assert len(warnings) == 1 and "ambiguous" in warnings[0].message


@pytest.mark.parametrize(
    "data_lines",
    [
        [f"  Data:            {IMS_DN}\\0{SA_DN}\\0\\0"],  # joined with \0
        ["  Data:", f"                   {IMS_DN}", f"                   {SA_DN}"],  # all on continuation lines
        [f"  Data:            {IMS_DN}", f"  {SA_DN}"],  # continuation indented differently
        ["  Data:", IMS_DN, SA_DN],  # at column 0, like the binary dumps
    ],
    ids=["joined", "data-on-next-lines", "odd-indent", "column-0"],
)
def test_multi_sz_renderings(tmp_path: Path, data_lines: list[str]) -> None:
    text = "\n".join(
        [
            "Key Name:          SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem",
            "Class Name:        <NO CLASS>",
            "Last Write Time:   6/16/00 - 10:13 AM",
            "",
            "Value 0",
            "  Name:            Logon Only As",
            "  Type:            REG_MULTI_SZ",
            *data_lines,
            "",
        ]
    )
    path = tmp_path / "m.txt"
    path.write_text(text, "cp1252")
    file, warnings = read_collecting(regedt32, path)
    assert warnings == []
    assert key_at(file.root, PS).value("Logon Only As").data == [IMS_DN, SA_DN]  # type: ignore[union-attr]


def test_multi_sz_on_one_line_with_several_dns_is_reported_not_split(tmp_path: Path) -> None:
    text = (
        "Key Name: SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem\n"
        "Class Name: <NO CLASS>\nLast Write Time: 6/16/00 - 10:13 AM\n\n"
        f"Value 0\nName: Logon Only As\nType: REG_MULTI_SZ\nData: {IMS_DN} {SA_DN}\n"
        "Value 1\nName: Empty\nType: REG_MULTI_SZ\nData:\n"
    )
    path = tmp_path / "m.txt"
    path.write_text(text, "cp1252")
    file, warnings = read_collecting(regedt32, path)
    key = key_at(file.root, PS)
    assert key.value("Logon Only As").data == [f"{IMS_DN} {SA_DN}"]  # type: ignore[union-attr]
    assert key.value("Empty").data == []  # type: ignore[union-attr]
    assert _lines(warnings) == [5] and "several DNs" in warnings[0].message


def test_blocks_it_cannot_understand_are_reported(tmp_path: Path) -> None:
    text = (
        "Key Name: SYSTEM\\A\n"  # 1
        "Class Name: <NO CLASS>\n"  # 2
        "Last Write Time: yesterday\n"  # 3
        "\n"  # 4
        "Value 0\n"  # 5
        "Name: NoType\n"  # 6
        "Data: x\n"  # 7
        "\n"  # 8
        "Value 1\n"  # 9
        "Name: Bin\n"  # 10
        "Type: REG_BINARY\n"  # 11
        "Data: this is not hex\n"  # 12
        "\n"  # 13
        "some stray paragraph\n"  # 14
        "Value 2\n"  # 15
        "Name: Dw\n"  # 16
        "Type: REG_DWORD\n"  # 17
        "Data: many\n"  # 18
        "Value 3\n"  # 19
        "Name: Odd\n"  # 20
        "Type: REG_WHATEVER\n"  # 21
        "Data: 01 02\n"  # 22
        "Value 4\n"  # 23
        "Name: Fine\n"  # 24
        "Type: REG_SZ\n"  # 25
        "Data: ok\n"  # 26
    )
    path = tmp_path / "bad.txt"
    path.write_text(text, "ascii")
    file, warnings = read_collecting(regedt32, path)
    assert _lines(warnings) == [3, 5, 12, 14, 15, 19]
    key = key_at(file.root, r"HKEY_LOCAL_MACHINE\SYSTEM\A")
    assert key.last_write is None
    assert {v.name: v.data for v in key.values()} == {"Odd": b"\x01\x02", "Fine": "ok"}


def test_unknown_hive_name_is_placed_under_hklm_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "u.txt"
    path.write_text("Key Name: Clusters\\X\nClass Name: <NO CLASS>\nLast Write Time: 6/16/00 - 10:13 AM\n", "ascii")
    file, warnings = read_collecting(regedt32, path)
    assert key_at(file.root, r"HKEY_LOCAL_MACHINE\Clusters\X") is not None
    assert len(warnings) == 1 and "not a known hive" in warnings[0].message


@pytest.mark.parametrize("content", [b"", b"just some text\n", b"Name: x\nType: REG_SZ\n"])
def test_not_a_report_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "n.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match="Key Name"):
        regedt32.read(str(path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (KB243342, True),
        (PADDED, True),
        ("REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n", False),
        ("Key Name: but nothing else\nhello\n", False),
        ("! REG.EXE VERSION 3.0\r\n\r\nHKEY_LOCAL_MACHINE\\X\r\n", False),
    ],
)
def test_detect(text: str, expected: bool) -> None:
    assert regedt32.detect(text) is expected


def test_writer_layout() -> None:
    root = RegistryKey("")
    ps = root.ensure_path(PS.split("\\"))
    ps.last_write = datetime(2000, 6, 16, 22, 13)
    ps.set_value(RegistryValue("Logon Only As", "REG_MULTI_SZ", [IMS_DN, SA_DN]))
    ps.set_value(RegistryValue("Blob", "REG_BINARY", bytes(range(20))))
    text = regedt32_text(root)
    assert (
        "Key Name:          SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem\n"
        "Class Name:        <NO CLASS>\n"
        "Last Write Time:   6/16/00 - 10:13 PM\n\n"
        "Value 0\n"
        "  Name:            Logon Only As\n"
        "  Type:            REG_MULTI_SZ\n"
        f"  Data:            {IMS_DN}\n"
        f"                   {SA_DN}\n\n"
        "Value 1\n"
        "  Name:            Blob\n"
        "  Type:            REG_BINARY\n"
        "  Data:            \n"
        "00000000   00 01 02 03 04 05 06 07 - 08 09 0a 0b 0c 0d 0e 0f  ................\n"
        "00000010   10 11 12 13" + " " * 40 + "....\n"  # ascii column at 11 + 49 + 2, as in KB 183015
    ) in text


_CHARS = st.characters(min_codepoint=32, max_codepoint=0xFF, exclude_characters="\x7f")


@st.composite
def _trees(draw: st.DrawFn) -> RegistryKey:
    """What the report carries: HKLM hives, one-line strings without edge spaces, minute times."""
    word = st.text(
        st.characters(min_codepoint=33, max_codepoint=0x7E).filter(lambda c: c != "\\"), min_size=1, max_size=8
    )
    name = st.lists(word, min_size=1, max_size=3).map(" ".join)
    text = st.lists(word, max_size=4).map(" ".join)
    data = st.one_of(
        st.tuples(st.just("REG_SZ"), text),
        st.tuples(st.just("REG_EXPAND_SZ"), text),
        st.tuples(st.just("REG_MULTI_SZ"), st.lists(st.lists(word, min_size=1, max_size=3).map(" ".join), max_size=4)),
        st.tuples(st.just("REG_DWORD"), st.integers(0, 0xFFFFFFFF)),
        st.tuples(st.just("REG_BINARY"), st.binary(max_size=70)),
        st.tuples(st.just("REG_NONE"), st.binary(max_size=8)),
        st.tuples(st.just("REG_0x20"), st.binary(max_size=8)),
    )
    times = st.datetimes(datetime(1980, 1, 1), datetime(2079, 12, 31)).map(lambda t: t.replace(second=0, microsecond=0))
    root = RegistryKey("")
    for _ in range(draw(st.integers(1, 4))):
        hive = draw(st.sampled_from(["SYSTEM", "SOFTWARE"]))
        node = root.ensure_path(["HKEY_LOCAL_MACHINE", hive, *draw(st.lists(name, max_size=3))])
        for vname, (vtype, vdata) in draw(st.lists(st.tuples(st.one_of(st.just(""), name), data), max_size=4)):
            node.set_value(RegistryValue(vname, vtype, vdata))
    stack = list(root.subkeys())
    while stack:
        node = stack.pop()
        node.last_write = draw(times)
        stack.extend(node.subkeys())
    root.subkeys()[0].last_write = None  # HKEY_LOCAL_MACHINE itself is never in a report
    return root


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees(), day_first_probe=st.booleans())
def test_round_trip(tmp_path: Path, tree: RegistryKey, day_first_probe: bool) -> None:
    path = write_regedt32(tmp_path / "rt.txt", tree)
    file, warnings = read_collecting(regedt32, path)
    assert all("ambiguous" in w.message for w in warnings)
    assert tree_dict(file.root, with_times=True) == tree_dict(tree, with_times=True)
    if day_first_probe:
        utf16 = write_regedt32(tmp_path / "rt16.txt", tree, encoding="utf-16-le")
        assert tree_dict(read_collecting(regedt32, utf16)[0].root) == tree_dict(tree)


@pytest.mark.parametrize(
    ("shown", "expected", "warned"),
    [("0x4", 4, False), ("0x00000004 (4)", 4, False), ("0xffffffff", 0xFFFFFFFF, False), ("10", 0x10, True)],
)
def test_dword_renderings(tmp_path: Path, shown: str, expected: int, warned: bool) -> None:
    path = tmp_path / "d.txt"
    path.write_text(
        f"Key Name: SYSTEM\\A\nClass Name: <NO CLASS>\n\nValue 0\nName: D\nType: REG_DWORD\nData: {shown}\n"
    )
    file, warnings = read_collecting(regedt32, path)
    assert key_at(file.root, r"HKEY_LOCAL_MACHINE\SYSTEM\A").value("D").data == expected  # type: ignore[union-attr]
    assert bool(warnings) is warned
