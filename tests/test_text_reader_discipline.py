"""Regedt32 text and reg query readers: what they cannot understand is reported with its line number,
and no value is silently shortened (a line break inside REG_SZ data is joined, not dropped)."""

from __future__ import annotations

import re
from pathlib import Path

from analyzer.readers import regedt32, regquery
from tests.regtext_support import key_at, read_collecting


def _lines(warnings: list) -> list[int]:
    return [int(re.match(r"line (\d+):", w.message).group(1)) for w in warnings]  # type: ignore[union-attr]


def test_reg_query_string_with_line_breaks_is_joined_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "q.txt"
    path.write_bytes(
        b"\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\T\r\n"  # 2
        b"    Note    REG_SZ    first line\r\n"  # 3
        b"second line\r\n"  # 4
        b"  indented third\r\n"  # 5
        b"    After    REG_DWORD    0x1\r\n"  # 6
        b"\r\n"
    )
    file, warnings = read_collecting(regquery, path)
    key = key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\T")
    assert key.value("Note").data == "first line\nsecond line\n  indented third"  # type: ignore[union-attr]
    assert key.value("After").data == 1  # type: ignore[union-attr]
    assert _lines(warnings) == [4, 5] and all("joined" in w.message for w in warnings)


def test_reg_query_reports_every_line_it_skips(tmp_path: Path) -> None:
    path = tmp_path / "q.txt"
    path.write_bytes(
        b"! REG.EXE VERSION 3.0\r\n"  # 1
        b"\r\n"  # 2
        b"    Early\tREG_SZ\tx\r\n"  # 3 value before any key
        b"HKEY_LOCAL_MACHINE\\SOFTWARE\\T\r\n"  # 4
        b"    Bin\tREG_BINARY\t0102XY\r\n"  # 5 bad hex
        b"    Dw\tREG_DWORD\tnope\r\n"  # 6 bad dword
        b"    no type here\r\n"  # 7 not a value line
        b"garbage\r\n"  # 8 neither key nor continuation of a string
        b"ERROR: The system was unable to find the specified registry key or value.\r\n"  # 9
        b"HKEY_LOCAL_MACHINE\\SOFTWARE\\U\r\n"  # 10
        b"    Ok\tREG_SZ\tfine\r\n"  # 11
    )
    file, warnings = read_collecting(regquery, path)
    assert _lines(warnings) == [3, 5, 6, 7, 8, 9]
    assert key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\U").value("Ok").data == "fine"  # type: ignore[union-attr]
    assert key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\T").values() == []


def test_regedt32_reports_what_it_cannot_place(tmp_path: Path) -> None:
    text = (
        "Key Name:          SOFTWARE\\T\r\n"  # 1
        "Class Name:        <NO CLASS>\r\n"  # 2
        "Last Write Time:   6/16/00 - 10:13 AM\r\n"  # 3
        "  Name:            Stray\r\n"  # 4 label outside a Value block
        "Value 0\r\n"  # 5
        "  Name:            First\r\n"  # 6
        "  Name:            Second\r\n"  # 7 second Name: line
        "  Type:            REG_BINARY\r\n"  # 8
        "  Data:            \r\n"  # 9
        "00000000   01 02 zz\r\n"  # 10 not a dump line: value skipped
        "\r\n"
        "Value 1\r\n"  # 12
        "  Name:            Kept\r\n"  # 13
        "  Type:            REG_SZ\r\n"  # 14
        "  Data:            all of it\r\n"  # 15
        "  Data:            again\r\n"  # 16 second Data: line
        "\r\n"
    )
    path = tmp_path / "r.txt"
    path.write_bytes(text.encode("cp1252"))
    file, warnings = read_collecting(regedt32, path)
    assert _lines(warnings) == [4, 7, 10, 16]
    key = key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\T")
    assert [(v.name, v.data) for v in key.values()] == [("Kept", "all of it")]


def test_regedt32_multi_line_string_is_joined_not_cut(tmp_path: Path) -> None:
    text = (
        "Key Name:          SOFTWARE\\T\r\n"
        "Class Name:        <NO CLASS>\r\n"
        "Last Write Time:   6/16/00 - 10:13 AM\r\n"
        "Value 0\r\n"  # 4
        "  Name:            Note\r\n"
        "  Type:            REG_SZ\r\n"
        "  Data:            first\r\n"
        "                   second\r\n"
        "\r\n"
    )
    path = tmp_path / "r.txt"
    path.write_bytes(text.encode("cp1252"))
    file, warnings = read_collecting(regedt32, path)
    assert key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\T").value("Note").data == "first\nsecond"  # type: ignore[union-attr]
    assert _lines(warnings) == [4] and "joined" in warnings[0].message
