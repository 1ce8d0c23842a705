""".reg reader: KB 306308 shapes, both headers, encodings, every data type, damage, corpus, round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model import InputError, RegistryKey, RegistryValue
from analyzer.readers import regfile
from tests.conftest import corpus_files
from tests.regtext_support import IMS_DN, PS, SA_DN, key_at, read_collecting
from tests.writers.regtext_writers import (
    hex_value_text,
    reg_value_text,
    tree_dict,
    write_reg,
)


def _hex(data: bytes) -> str:
    return ",".join(f"{b:02x}" for b in data)


def _wrapped_hex(data: bytes, per_line: int = 20) -> str:
    """Hand-made regedit-like wrapping (independent of the writer under test)."""
    items = [f"{b:02x}" for b in data]
    chunks = [",".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ",\\\r\n  ".join(chunks)


# --------------------------------------------------------------------------- detect


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM]\r\n", True),
        ("Windows Registry Editor Version 5.00\n\n", True),
        ("\ufeffWindows Registry Editor Version 5.00\r\n", True),
        ("\r\n\r\nREGEDIT4\r\n", True),
        ("regedit4\r\n", True),
        ("REGEDIT\r\nHKEY_CLASSES_ROOT\\.txt = txtfile\r\n", True),  # Windows 3.1 format: regedit reads it
        ("Windows Registry Editor Version 4.00\r\n", True),  # refused by regedit; the reader says why
        ("WINE REGISTRY Version 2\n", False),
        ('[HKEY_LOCAL_MACHINE\\SYSTEM]\n"a"="b"\n', False),
        ("Key Name: SYSTEM\\X\nClass Name: <NO CLASS>\n", False),
        ("", False),
    ],
)
def test_detect(head: str, expected: bool) -> None:
    assert regfile.detect(head) is expected


# --------------------------------------------------------------------------- KB 306308 shapes


def test_regedit4_logon_only_as_single_byte_multi_sz(tmp_path: Path) -> None:
    """NT 4.0 regedit: ANSI file, hex(7) bytes are single-byte, wrapped over several lines."""
    raw = (IMS_DN + "\0" + SA_DN + "\0\0").encode("cp1252")
    text = (
        "REGEDIT4\r\n\r\n"
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem]\r\n"
        f'"Logon Only As"=hex(7):{_wrapped_hex(raw)}\r\n'
        '"Working Directory"="C:\\\\exchsrvr\\\\mdbdata"\r\n\r\n'
    )
    path = tmp_path / "ps4.reg"
    path.write_bytes(text.encode("cp1252"))
    file, warnings = read_collecting(regfile, path)
    assert warnings == []
    assert file.format == "reg" and file.root_path == "" and file.root.name == ""
    value = key_at(file.root, PS).value("logon only as")
    assert value is not None
    assert value.name == "Logon Only As" and value.type == "REG_MULTI_SZ"
    assert value.data == [IMS_DN, SA_DN]
    assert value.raw == raw
    wd = key_at(file.root, PS).value("Working Directory")
    assert wd is not None and wd.data == "C:\\exchsrvr\\mdbdata"


def test_v5_utf16_logon_only_as_utf16le_multi_sz(tmp_path: Path) -> None:
    raw = (IMS_DN + "\0\0").encode("utf-16-le")
    text = (
        f'Windows Registry Editor Version 5.00\r\n\r\n[{PS}]\r\n"Logon Only As"=hex(7):{_wrapped_hex(raw, 25)}\r\n\r\n'
    )
    path = tmp_path / "ps5.reg"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    file, warnings = read_collecting(regfile, path)
    assert warnings == []
    value = key_at(file.root, PS).value("Logon Only As")
    assert value is not None and value.data == [IMS_DN] and value.raw == raw


def test_v5_header_in_ascii_file_still_means_utf16_hex(tmp_path: Path) -> None:
    """The header decides the byte width, not the file encoding (the corpus has ASCII 5.00 files)."""
    raw = "a\0bc\0\0".encode("utf-16-le")
    path = tmp_path / "ascii5.reg"
    path.write_bytes(f'Windows Registry Editor Version 5.00\n\n[HKLM\\X]\n"M"=hex(7):{_hex(raw)}\n'.encode("ascii"))
    file, _ = read_collecting(regfile, path)
    assert key_at(file.root, "HKEY_LOCAL_MACHINE\\X").value("M").data == ["a", "bc"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("header", "data"),
    [
        ("REGEDIT4", "hex(7):00"),
        ("REGEDIT4", "hex(7):00,00"),
        ("REGEDIT4", "hex(7):"),
        ("Windows Registry Editor Version 5.00", "hex(7):00,00"),
        ("Windows Registry Editor Version 5.00", "hex(7):00"),
        ("Windows Registry Editor Version 5.00", "hex(7):00,00,00,00"),
        ("Windows Registry Editor Version 5.00", "hex(7):"),
    ],
)
def test_empty_multi_sz_is_an_empty_list_not_absent(tmp_path: Path, header: str, data: str) -> None:
    path = tmp_path / "empty.reg"
    path.write_bytes(f'{header}\r\n\r\n[{PS}]\r\n"Logon Only As"={data}\r\n'.encode("cp1252"))
    file, warnings = read_collecting(regfile, path)
    value = key_at(file.root, PS).value("Logon Only As")
    assert value is not None and value.type == "REG_MULTI_SZ" and value.data == []
    assert warnings == []


def test_multi_sz_embedded_empty_string_kept_and_reported(tmp_path: Path) -> None:
    raw = "a\0\0b\0\0".encode("utf-16-le")
    path = tmp_path / "gap.reg"
    path.write_text(f'Windows Registry Editor Version 5.00\n\n[HKLM\\K]\n"M"=hex(7):{_hex(raw)}\n', "ascii")
    file, warnings = read_collecting(regfile, path)
    assert key_at(file.root, "HKEY_LOCAL_MACHINE\\K").value("M").data == ["a", "", "b"]  # type: ignore[union-attr]
    assert len(warnings) == 1 and "line 4" in warnings[0].message and "empty string" in warnings[0].message


def test_multi_sz_missing_terminator_and_odd_bytes(tmp_path: Path) -> None:
    no_term = "a\0b".encode("utf-16-le")
    odd = "xy\0\0".encode("utf-16-le") + b"\x41"
    path = tmp_path / "odd.reg"
    path.write_text(
        f'Windows Registry Editor Version 5.00\n\n[HKLM\\K]\n"NoTerm"=hex(7):{_hex(no_term)}\n"Odd"=hex(7):{_hex(odd)}\n',
        "ascii",
    )
    file, warnings = read_collecting(regfile, path)
    key = key_at(file.root, "HKEY_LOCAL_MACHINE\\K")
    assert key.value("NoTerm").data == ["a", "b"]  # type: ignore[union-attr]
    assert key.value("Odd").data == ["xy"]  # type: ignore[union-attr]
    assert [w.message.split(":")[0] for w in warnings] == ["line 5"]
    assert "odd number of bytes" in warnings[0].message


@pytest.mark.parametrize(
    ("header", "raw", "expected"),
    [
        ("REGEDIT4", (IMS_DN + "\0\0").encode("utf-16-le"), "look like UTF-16LE"),
        ("Windows Registry Editor Version 5.00", (IMS_DN + "\0\0").encode("cp1252"), "look like single-byte"),
    ],
    ids=["utf16-bytes-under-regedit4", "ansi-bytes-under-5.00"],
)
def test_hex_strings_of_the_other_width_are_reported(tmp_path: Path, header: str, raw: bytes, expected: str) -> None:
    """A hand-edited header (5.00 <-> REGEDIT4) garbles hex(7): the header still decides, but it is reported."""
    path = tmp_path / "mixed.reg"
    path.write_text(f'{header}\n\n[{PS}]\n"Logon Only As"=hex(7):{_hex(raw)}\n', "ascii")
    file, warnings = read_collecting(regfile, path)
    assert len(warnings) >= 1 and expected in warnings[0].message and "line 4" in warnings[0].message
    assert key_at(file.root, PS).value("Logon Only As").data != [IMS_DN]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- names and types


def test_value_names_with_equals_colon_quotes_and_backslashes(tmp_path: Path) -> None:
    path = tmp_path / "names.reg"
    path.write_text(
        "Windows Registry Editor Version 5.00\n\n[HKEY_CURRENT_USER\\Software\\T]\n"
        '"a=b"="1"\n'
        '"c:\\\\dir"="2"\n'
        '"say \\"hi\\""="3"\n'
        '"x"="y"="z"\n'
        '@="default"\n'
        '"@"="at sign"\n'
        '"Logon Only As"="spaces"\n'
        '"ends\\\\"=dword:00000001\n',
        "ascii",
    )
    file, warnings = read_collecting(regfile, path)
    assert [w.message.split(":")[0] for w in warnings] == ["line 7"] and "text after the closing quote" in warnings[
        0
    ].message
    key = key_at(file.root, "HKEY_CURRENT_USER\\Software\\T")
    got = {v.name: v.data for v in key.values()}
    assert got["a=b"] == "1"
    assert got["c:\\dir"] == "2"
    assert got['say "hi"'] == "3"
    assert got[""] == "default"
    assert got["@"] == "at sign"
    assert got["Logon Only As"] == "spaces"
    assert got["ends\\"] == 1
    assert "x" not in got  # text after the closing quote: regedit rejects the value


@pytest.mark.parametrize("version", [4, 5])
def test_every_hex_type(tmp_path: Path, version: int) -> None:
    codec = "cp1252" if version == 4 else "utf-16-le"
    header = "REGEDIT4" if version == 4 else "Windows Registry Editor Version 5.00"
    none_hex = _hex(b"\x01\x02")
    sz_hex = _hex("Caf\u00e9\0".encode(codec))
    expand_hex = _hex("%SystemRoot%\\x\0".encode(codec))
    bin_hex = _hex(b"\xde\xad\xbe\xef")
    multi_hex = _hex("one\0two\0\0".encode(codec))
    lines = [
        f'"None"=hex(0):{none_hex}',
        f'"Sz"=hex(1):{sz_hex}',
        f'"Expand"=hex(2):{expand_hex}',
        f'"Bin"=hex:{bin_hex}',
        '"Bin3"=hex(3):ff',
        '"Dw4"=hex(4):78,56,34,12',
        '"DwBE"=hex(5):12,34,56,78',
        f'"Multi"=hex(7):{multi_hex}',
        '"Res"=hex(8):01,02',
        '"Qw"=hex(b):08,07,06,05,04,03,02,01',
        '"Big"=hex(1234):aa',
        '"Dword"=dword:0000002a',
        '"Empty"=hex:',
        '"Str"="plain"',
    ]
    path = tmp_path / f"types{version}.reg"
    path.write_bytes((header + "\r\n\r\n[HKLM\\Types]\r\n" + "\r\n".join(lines) + "\r\n").encode("cp1252"))
    file, warnings = read_collecting(regfile, path)
    assert warnings == []
    got = {v.name: (v.type, v.data) for v in key_at(file.root, "HKEY_LOCAL_MACHINE\\Types").values()}
    assert got == {
        "None": ("REG_NONE", b"\x01\x02"),
        "Sz": ("REG_SZ", "Caf\u00e9"),
        "Expand": ("REG_EXPAND_SZ", "%SystemRoot%\\x"),
        "Bin": ("REG_BINARY", b"\xde\xad\xbe\xef"),
        "Bin3": ("REG_BINARY", b"\xff"),
        "Dw4": ("REG_DWORD", 0x12345678),
        "DwBE": ("REG_DWORD_BIG_ENDIAN", 0x12345678),
        "Multi": ("REG_MULTI_SZ", ["one", "two"]),
        "Res": ("REG_RESOURCE_LIST", b"\x01\x02"),
        "Qw": ("REG_QWORD", 0x0102030405060708),
        "Big": ("REG_0x1234", b"\xaa"),
        "Dword": ("REG_DWORD", 42),
        "Empty": ("REG_BINARY", b""),
        "Str": ("REG_SZ", "plain"),
    }
    dword = key_at(file.root, "HKEY_LOCAL_MACHINE\\Types").value("Dword")
    assert dword is not None and dword.raw == b"\x2a\x00\x00\x00"
    sz = key_at(file.root, "HKEY_LOCAL_MACHINE\\Types").value("Str")
    assert sz is not None and sz.raw == "plain\0".encode(codec)


def test_regedit4_hex_strings_use_the_given_ansi_code_page(tmp_path: Path) -> None:
    """REGEDIT4 hex(2)/hex(7) bytes are in the exporting machine's ANSI code page (--encoding)."""
    raw = "\u0416\u0443\u043a\0\0".encode("cp1251")
    path = tmp_path / "ru.reg"
    path.write_bytes(f'REGEDIT4\r\n\r\n[HKLM\\K]\r\n"M"=hex(7):{_hex(raw)}\r\n"S"="\u0416"\r\n'.encode("cp1251"))
    default, _ = read_collecting(regfile, path)
    assert key_at(default.root, "HKEY_LOCAL_MACHINE\\K").value("M").data == [raw[:3].decode("cp1252")]  # type: ignore[union-attr]
    file, _ = read_collecting(regfile, path, encoding="cp1251")
    key = key_at(file.root, "HKEY_LOCAL_MACHINE\\K")
    assert key.value("M").data == ["\u0416\u0443\u043a"]  # type: ignore[union-attr]
    assert key.value("S").data == "\u0416"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-16-le", b"\xff\xfe"), ("utf-8", b"\xef\xbb\xbf"), ("utf-8", b""), ("cp1252", b"")],
)
def test_file_encodings(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = 'Windows Registry Editor Version 5.00\r\n\r\n[HKLM\\Software\\\u00c9t\u00e9]\r\n"Caf\u00e9"="cr\u00e8me"\r\n'
    path = tmp_path / "enc.reg"
    path.write_bytes(bom + text.encode(encoding))
    file, warnings = read_collecting(regfile, path)
    assert warnings == []
    assert key_at(file.root, "HKEY_LOCAL_MACHINE\\SOFTWARE\\\u00e9t\u00e9").value("caf\u00e9").data == "cr\u00e8me"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- structure


def test_deletions_merges_comments_and_line_ends(tmp_path: Path) -> None:
    text = (
        "REGEDIT4\n"
        "; a comment\r\n"
        "\n"
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\A]\r\n"
        '"keep"="1"\n'
        '"gone"="2"\n'
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\A\\Child]\n"
        '"c"=dword:00000001\n'
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\B\\Sub]\n"
        '"b"="x"\n'
        "   ; indented comment\n"
        "[hklm\\software\\a]\n"  # repeated section, other case: merged
        '"gone"=-\n'
        '"keep"="1 again"\n'
        '"new"="3"\n'
        "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\B]\n"
        '"orphan"="ignored"\n'
        "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\NeverThere]\n"
    )
    path = tmp_path / "del.reg"
    path.write_bytes(text.encode("cp1252"))
    file, warnings = read_collecting(regfile, path)
    assert [w.message for w in warnings] == [
        "line 17: value 'orphan' follows the key deletion on line 16; regedit ignores it"
    ]
    software = key_at(file.root, "HKEY_LOCAL_MACHINE\\SOFTWARE")
    assert [k.name for k in software.subkeys()] == ["A"]
    a = key_at(software, "A")
    assert [(v.name, v.data) for v in a.values()] == [("keep", "1 again"), ("new", "3")]
    assert key_at(a, "Child").value("c").data == 1  # type: ignore[union-attr]
    assert file.keys_read == 4 and file.values_read == 3


def test_continuation_lines_with_stray_spaces_and_uppercase_hex(tmp_path: Path) -> None:
    path = tmp_path / "sp.reg"
    path.write_bytes(
        b'REGEDIT4\r\n\r\n[HKLM\\A]  \r\n  "m"=hex(7):41,42,\\  \r\n    00,43 ,\\\r\n\t00,00\r\n"b"=HEX:0A,fF\r\n'
    )
    file, warnings = read_collecting(regfile, path)
    assert warnings == []
    key = key_at(file.root, "HKEY_LOCAL_MACHINE\\A")
    assert key.value("m").data == ["AB", "C"]  # type: ignore[union-attr]
    assert key.value("b").data == b"\x0a\xff"  # type: ignore[union-attr]


def test_deleted_key_can_be_recreated_later(tmp_path: Path) -> None:
    path = tmp_path / "re.reg"
    path.write_text('REGEDIT4\n[HKLM\\A]\n"x"="1"\n[-HKLM\\A]\n[HKLM\\A]\n"y"="2"\n', "ascii")
    file, _ = read_collecting(regfile, path)
    assert [v.name for v in key_at(file.root, "HKEY_LOCAL_MACHINE\\A").values()] == ["y"]


def test_damage_is_reported_with_line_numbers_and_reading_goes_on(tmp_path: Path) -> None:
    text = (
        "Windows Registry Editor Version 5.00\n"  # 1
        "\n"  # 2
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Bad]\n"  # 3
        '"badhex"=hex:01,zz,03\n'  # 4
        '"badtype"=qword:0000000000000001\n'  # 5
        '"unterminated"="abc\n'  # 6
        '"noequals"\n'  # 7
        '"open name=1\n'  # 8
        "garbage here\n"  # 9
        '"baddword"=dword:xyz\n'  # 10
        '"hugedword"=dword:100000000\n'  # 11
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Bad\n"  # 12
        '"lost"="1"\n'  # 13
        "[HKEY_NOWHERE\\X]\n"  # 14
        '"lost2"="1"\n'  # 15
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Good]\n"  # 16
        '"ok"="yes"\n'  # 17
        '"badlen"=hex(4):01,02\n'  # 18
    )
    path = tmp_path / "bad.reg"
    path.write_text(text, "ascii")
    file, warnings = read_collecting(regfile, path)
    lines = [int(re.match(r"line (\d+):", w.message).group(1)) for w in warnings]  # type: ignore[union-attr]
    assert lines == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18]
    assert all(w.path == str(path) for w in warnings)
    assert "bad hex" in warnings[0].message and "unknown data type 'qword'" in warnings[1].message
    good = key_at(file.root, "HKEY_LOCAL_MACHINE\\SOFTWARE\\Good")
    assert good.value("ok").data == "yes"  # type: ignore[union-attr]
    assert good.value("badlen").data == b"\x01\x02"  # type: ignore[union-attr]
    assert key_at(file.root, "HKEY_LOCAL_MACHINE\\SOFTWARE\\Bad").values() == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x01\x02\xff" * 64,
        b"MZ\x90\x00" + bytes(range(256)),
        b'[HKLM\\X]\r\n"a"="b"\r\n',
        b"REGEDIT4\r\n\r\n; only a comment\r\n",
    ],
)
def test_unusable_files_raise_one_line_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.reg"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        regfile.read(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_binary_garbage_named_reg_is_not_detected(tmp_path: Path) -> None:
    from analyzer.readers.text import decode_head

    garbage = bytes((i * 37 + 11) % 256 for i in range(4096))
    assert not regfile.detect(decode_head(garbage))


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        regfile.read(str(tmp_path / "nope.reg"))


def test_input_file_is_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "same.reg"
    content = b'REGEDIT4\r\n\r\n[HKLM\\A]\r\n"x"=hex(7):61,00,00\r\n'
    path.write_bytes(content)
    regfile.read(str(path))
    assert path.read_bytes() == content


# --------------------------------------------------------------------------- writer layout


def test_writer_wraps_hex_exactly_like_the_corpus_export() -> None:
    """Re-render every wrapped hex value of the corpus file and compare with its text verbatim."""
    files = [p for p in corpus_files("reg") if p.name == "debloat__lower-ram-usage.reg"]
    if not files:
        pytest.skip("corpus file reg/debloat__lower-ram-usage.reg not found")
    text = files[0].read_text("ascii")
    blocks = re.findall(r'^("[^"\n]+"=hex:(?:[^\n]*\\\n)*[^\n]*)', text, re.MULTILINE)
    assert len(blocks) == 2
    file = regfile.read(str(files[0]))
    key = key_at(file.root, "HKEY_CURRENT_USER\\System\\GameConfigStore")
    for block in blocks:
        name = block.split('"')[1]
        value = key.value(name)
        assert value is not None
        assert reg_value_text(value, 5) == block
        assert hex_value_text(f'"{name}"=', 3, value.raw or b"") == block


def test_writer_v4_and_v5_bytes(tmp_path: Path) -> None:
    root = RegistryKey("")
    ps = root.ensure_path(PS.split("\\"))
    ps.set_value(RegistryValue("Logon Only As", "REG_MULTI_SZ", [IMS_DN]))
    ps.set_value(RegistryValue("Empty", "REG_MULTI_SZ", []))
    v4 = write_reg(tmp_path / "w4.reg", root, version=4).read_bytes()
    v5 = write_reg(tmp_path / "w5.reg", root, version=5).read_bytes()
    assert v4.startswith(b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE]\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM]\r\n")
    assert b'"Empty"=hex(7):00\r\n' in v4 and b"\n" not in v4.replace(b"\r\n", b"")
    assert b'"Logon Only As"=hex(7):2f,6f,3d,43,' in v4
    hex_lines = [line for line in v4.split(b"\r\n") if b"hex" in line or line.startswith(b"  ")]
    assert len(hex_lines) > 2 and all(len(line) <= 80 for line in hex_lines)
    text5 = v5[2:].decode("utf-16-le")
    assert v5[:2] == b"\xff\xfe" and text5.startswith("Windows Registry Editor Version 5.00\r\n\r\n")
    assert '"Empty"=hex(7):00,00\r\n' in text5 and '"Logon Only As"=hex(7):2f,00,6f,00,' in text5
    for version in (4, 5):
        file, warnings = read_collecting(regfile, tmp_path / f"w{version}.reg")
        assert warnings == []
        key = key_at(file.root, PS)
        assert key.value("Logon Only As").data == [IMS_DN]  # type: ignore[union-attr]
        assert key.value("Empty").data == []  # type: ignore[union-attr]


# --------------------------------------------------------------------------- round trip

_WIDE = st.characters(min_codepoint=32, max_codepoint=0x24F)
# cp1252 holds 0x20-0x7E, 0xA0-0xFF and a few letters in 0x80-0x9F (given here by their Unicode code points).
_ANSI = st.one_of(st.characters(min_codepoint=32, max_codepoint=0x7E), st.characters(min_codepoint=0xA0, max_codepoint=0xFF),
                  st.sampled_from("\u20ac\u201a\u0192\u2026\u0160\u0152\u017d\u2122\u0153\u0178"))  # fmt: skip


def _values(chars: st.SearchStrategy[str]) -> st.SearchStrategy[RegistryValue]:
    strings = st.text(st.one_of(chars, st.sampled_from('\t\r\n"\\')), max_size=40)
    nonempty = strings.filter(bool)
    data = st.one_of(
        st.tuples(st.just("REG_SZ"), strings),
        st.tuples(st.just("REG_EXPAND_SZ"), strings),
        st.tuples(st.just("REG_MULTI_SZ"), st.lists(nonempty, max_size=4)),
        st.tuples(st.just("REG_DWORD"), st.integers(0, 0xFFFFFFFF)),
        st.tuples(st.just("REG_DWORD_BIG_ENDIAN"), st.integers(0, 0xFFFFFFFF)),
        st.tuples(st.just("REG_QWORD"), st.integers(0, 2**64 - 1)),
        st.tuples(st.just("REG_BINARY"), st.binary(max_size=300)),
        st.tuples(st.just("REG_NONE"), st.binary(max_size=10)),
        st.tuples(st.just("REG_0x20"), st.binary(max_size=10)),
    )
    value_names = st.text(st.one_of(chars, st.sampled_from('"\\=:@')), max_size=20)
    return st.builds(lambda n, td: RegistryValue(n, td[0], td[1]), value_names, data)


@st.composite
def _trees(draw: st.DrawFn, chars: st.SearchStrategy[str]) -> RegistryKey:
    """Trees of the shape text exports carry: full root names, keys named without backslashes."""
    names = st.text(chars.filter(lambda c: c != "\\"), min_size=1, max_size=12).map(str.strip).filter(bool)
    root = RegistryKey("")
    for _ in range(draw(st.integers(1, 5))):
        top = draw(st.sampled_from(["HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "HKEY_USERS"]))
        node = root.ensure_path([top, *draw(st.lists(names, min_size=1, max_size=4))])
        for value in draw(st.lists(_values(chars), max_size=5)):
            node.set_value(value)
    return root


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees(_WIDE))
def test_round_trip_v5(tmp_path: Path, tree: RegistryKey) -> None:
    path = write_reg(tmp_path / "rt5.reg", tree, version=5)
    file, warnings = read_collecting(regfile, path)
    assert warnings == []
    assert tree_dict(file.root) == tree_dict(tree)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees(_ANSI))
def test_round_trip_v4(tmp_path: Path, tree: RegistryKey) -> None:
    path = write_reg(tmp_path / "rt4.reg", tree, version=4, ansi="cp1252")
    file, warnings = read_collecting(regfile, path, encoding="cp1252")
    assert warnings == []
    assert tree_dict(file.root) == tree_dict(tree)


# --------------------------------------------------------------------------- real files


def _independent_count(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Keys (with implied parents) and (key, value name) pairs, counted without the reader."""
    joined = re.sub(r"\\\r?\n[ \t]*", "", text)
    keys: set[str] = set()
    values: set[tuple[str, str]] = set()
    current = None
    for line in joined.splitlines():
        line = line.strip()
        section = re.fullmatch(r"\[(.+)\]", line)
        if section:
            current = section.group(1).casefold()
            parts = current.split("\\")
            keys.update("\\".join(parts[: i + 1]) for i in range(len(parts)))
            continue
        named = re.match(r'^("(?:[^"\\]|\\.)*"|@)=', line)
        if named and current is not None:
            values.add((current, named.group(1).casefold()))
    return keys, values


# What regedit rejects in the corpus files: (line, key, quoted value name, why).  The 9-digit
# ``dword:0ffffffff`` is refused by regedit (a 9-digit dword with a leading zero is not imported).
CORPUS_REJECTED = {
    "debloat__lower-ram-usage.reg": [
        (
            9,
            r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Multimedia\SystemProfile",
            '"NetworkThrottlingIndex"',
            "dword data must be 1 to 8 hex digits",
        )
    ]
}


@pytest.mark.parametrize("path", corpus_files("reg", "*.reg"), ids=lambda p: p.name)
def test_corpus_reg_counts(path: Path) -> None:
    file, warnings = read_collecting(regfile, path)
    rejected = CORPUS_REJECTED.get(path.name, [])
    assert [w.message.split(":")[0] for w in warnings] == [f"line {line}" for line, *_ in rejected]
    assert all(why in w.message for w, (*_, why) in zip(warnings, rejected, strict=True))
    keys, values = _independent_count(path.read_text("ascii"))
    values -= {(key.casefold(), name.casefold()) for _, key, name, _ in rejected}
    assert file.keys_read == len(keys)
    assert file.values_read == len(values)
    assert tree_dict(file.root).keys() == keys


def test_corpus_sampled_values() -> None:
    files = {p.name: p for p in corpus_files("reg")}
    if "debloat__lower-ram-usage.reg" not in files:
        pytest.skip("reg corpus not found")
    root = regfile.read(str(files["debloat__lower-ram-usage.reg"])).root
    profile = key_at(root, r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Multimedia\SystemProfile")
    assert profile.value("NetworkThrottlingIndex") is None  # dword:0ffffffff has 9 digits: regedit refuses it
    audio = key_at(profile, "Tasks\\Audio")
    assert audio.value("Background Only").data == "True"  # type: ignore[union-attr]
    assert audio.value("Clock Rate").data == 10000  # type: ignore[union-attr]
    tasks = key_at(profile, "Tasks")  # the Games section appears twice: one key
    assert [k.name for k in tasks.subkeys()].count("Games") == 1
    assert len(key_at(tasks, "Games").values()) == 7
    control = key_at(root, r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control")
    assert control.value("WaitToKillServiceTimeout").data == "2000"  # type: ignore[union-attr]
    game = key_at(root, r"HKEY_CURRENT_USER\System\GameConfigStore")
    blob = game.value("Win32_AutoGameModeDefaultProfile")
    assert blob is not None and blob.type == "REG_BINARY" and blob.data[:4] == b"\x01\x00\x01\x00"  # type: ignore[index]
    assert len(blob.data) == 13 + 25 + 2  # type: ignore[arg-type]
    if "debloat__enable-photo-viewer.reg" in files:
        photo = regfile.read(str(files["debloat__enable-photo-viewer.reg"])).root
        assert key_at(photo, r"HKEY_CURRENT_USER\Software\Classes\.ico").value("").data == "PhotoViewer.FileAssoc.Tiff"  # type: ignore[union-attr]
