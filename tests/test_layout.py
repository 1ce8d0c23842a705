"""Binary layouts are declared once with field names and read by name (analyzer/readers/layout.py)."""

from __future__ import annotations

import struct

import pytest

from analyzer.readers import evt, hive
from analyzer.readers.layout import Layout


def test_names_and_format_are_checked_against_each_other() -> None:
    with pytest.raises(ValueError, match="2 field names for the 3 items"):
        Layout("Bad", "<I4sH", ("a", "b"))
    with pytest.raises(ValueError, match="explicit byte order and no padding"):
        Layout("Bad", "I4s", ("a", "b"))
    with pytest.raises(ValueError, match="explicit byte order and no padding"):
        Layout("Bad", "<I2xH", ("a", "b"))


def test_read_by_name_offsets_and_pickers() -> None:
    layout = Layout("Thing", "<2sH2IQ", ("sig", "count", "x", "y", "stamp"))
    raw = struct.pack("<2sH2IQ", b"ab", 7, 1, 2, 99)
    thing = layout.unpack_from(b"\0\0" + raw, 2)
    assert (thing.sig, thing.count, thing.x, thing.y, thing.stamp) == (b"ab", 7, 1, 2, 99)
    assert layout.pack(sig=b"ab", count=7, x=1, y=2, stamp=99) == raw
    assert [layout.offset_of(f) for f in layout.fields] == [0, 2, 4, 8, 12]
    assert layout.picker("stamp", "sig")(raw, 0) == (99, b"ab")
    assert layout.picker(*layout.fields)(raw, 0) == (b"ab", 7, 1, 2, 99)
    assert layout.index("y") == 3


def test_the_documented_sizes_and_offsets_of_evt_and_hive_structures() -> None:
    assert (evt.HEADER.size, evt.RECORD.size, evt.EOF_RECORD.size) == (0x30, 0x38, 0x28)
    assert evt.HEADER.offset_of("signature") == 4 and evt.RECORD.offset_of("record_number") == 8
    assert evt.RECORD.offset_of("data_offset") == 0x34
    assert (hive.NK.size, hive.VK.size, hive.BASE.size) == (76, 20, 48)
    assert hive.NK.offset_of("parent") == 16 and hive.NK.offset_of("name_length") == 72
    assert hive.BASE.offset_of("root_cell") == 36 and hive.BASE.offset_of("hbins_size") == 40


def test_the_evt_header_of_the_sample_reads_by_name() -> None:
    from tests.conftest import REPO

    head = (REPO / "samples" / "nt4-kb306308" / "AppEvent.Evt").read_bytes()[: evt.HEADER.size]
    raw = evt.HEADER.unpack_from(head)
    header = evt.parse_header(head)
    assert header is not None
    assert raw.signature == b"LfLe" and raw.header_size == raw.end_header_size == 0x30
    assert (header.start_offset, header.end_offset, header.flags) == (raw.start_offset, raw.end_offset, raw.flags)
