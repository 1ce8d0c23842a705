"""One test per crash the fuzzers found, named after what it guards (inputs minimised or rebuilt here).

Each test feeds the exact bytes that once escaped a reader as something other than records, warnings
or one clean InputError, through the same target the fuzzers use (fuzz/targets.py), and asserts the
contract.  Crash inputs are stored as zlib+base64 literals: a few hundred bytes, no binary files.
"""

from __future__ import annotations

import base64
import zlib
from pathlib import Path

import pytest

from fuzz.targets import run_bytes
from tests.conftest import corpus_file


def _blob(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text))


def _clean(target: str, data: bytes, tmp_path: Path) -> int:
    out = run_bytes(target, data, str(tmp_path))
    assert out.crash is None, f"{out.where}\n{out.trace}"
    return out.records


# atheris, evt reader, 2026-11-27: struct.error "unpack requires a buffer of 40 bytes" in eof_at() when the
# end-of-file record search at the seam of a 1.5 KB ring read past a header whose offsets point outside the file.
EVT_SEAM_EOF = (
    "eNrFlEFLAlEQx/+aZR6SOnjKg+SlvGRZZEIQVFBgdPDSNUQ3IVzYVk8d+gpBp6BbH8EP17Hfe+uCq2V7cHFgdua9Nzvz23nsVCU1"
    "u81OCpsyD+2mpXe8Dfy02VgP7Gsjp6om5ctEo1vIDlJDLpHpDCamrzNdyMX21VFbvnp29ax9Vub0hqfPmWcjfJV0qweinvCib7rE"
    "lMh6pXtOrqE60N6Y6TsVcJlvMrWzb58Noy/bOs8E32NlOGU/0JatPqRmGy+s6rPnWgrD00cdG6dI/dm3zZ6ngeXuoU6kbyHjCjYP"
    "X34pjIdzGUdjxgy2AF/hH8bNRBhrfzJOy2iir6vYIrzFpfT1KNbdr2HL8JXjMXZaxvEWxXgc6+6z2Ap8lUXffVuP/PxDwsQIcBkA"
    "dwQ51h+wapHCjINwPASJuuw6nHukCEdINCK58TJD+XtfT2LdfQ5bp6f1uX1N7q86naH8AYSc5b8="
)


def test_evt_end_of_file_record_search_at_the_ring_seam_of_a_tiny_file(tmp_path: Path) -> None:
    data = _blob("".join(EVT_SEAM_EOF))
    assert data[4:8] == b"LfLe" and len(data) == 1546
    assert _clean("evt", data, tmp_path) > 0  # the records before the damage still come out


# hypothesis (tests/test_fuzz.py), case loading, 2026-11-27: IndexError from zipfile.ZipInfo.is_dir() in
# case._extract_member for a member whose name is empty (a bit flip set the name length to 0).
def test_zip_member_with_an_empty_name_is_skipped_with_a_warning(tmp_path: Path) -> None:
    import io
    import zipfile

    from analyzer.case import open_case
    from fuzz.seeds import _evt

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(""), b"no name")
        zf.writestr("AppEvent.Evt", _evt()[0])
    assert _clean("case", buf.getvalue(), tmp_path) > 0  # the named member is still read
    zpath = tmp_path / "EXCH01.zip"
    zpath.write_bytes(buf.getvalue())
    with open_case(str(zpath)) as case:
        assert [i.path for i in case.usable] == ["AppEvent.Evt"]
        assert any("member '' has no usable name" in w for w in case.warnings)


# benchmarks/damage_report.py, evtx Rust backend, 2026-11-27: one flipped bit in a chunk's common-string /
# template offset table (chunk header bytes 128-511) made the Rust parser drop all records of the chunk
# ("0 vs 5" against libevtx); the table is a cache of offsets the records also carry, now zeroed for both.
@pytest.mark.parametrize("backend", ["rust", "python"])
@pytest.mark.parametrize(("offset", "bit"), [(4096 + 146, 1), (4096 + 332, 4), (4096 + 400, 0)])
def test_evtx_chunk_string_table_bit_flip_loses_no_record(tmp_path: Path, backend: str, offset: int, bit: int) -> None:
    from analyzer.readers import evtx

    data = bytearray(corpus_file("evtx", "dissect__TestLogX.evtx").read_bytes())
    data[offset] ^= 1 << bit
    path = tmp_path / "flipped.evtx"
    path.write_bytes(bytes(data))
    warnings: list = []
    assert len(list(evtx.read(str(path), backend=backend, warn=warnings.append))) == 5
    assert [w.message for w in warnings] == ["chunk 0: header CRC32 mismatch"]


# atheris, text exports, 2026-11-27 (three crash sites, inputs minimised by line deletion).
EVBLOCK_HEAD = (
    "Event Type:\tInformation\r\nEvent Source:\tService Control Manager\r\nEvent ID:\t7036\r\n"
    "Date:\t\t3/1/2001\r\nTime:\t\t12:00:21 AM\r\nUser:\t\tN/A\r\nComputer:\tEXCH01\r\n"
    "Description:\r\nThe Browser service entered the running state.\r\n"
)


def _evtext(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    from analyzer.readers import evtext

    path = tmp_path / "export.txt"
    path.write_bytes(text.encode("cp1252", "surrogateescape"))
    warnings: list = []
    try:
        count = sum(1 for _ in evtext.read(str(path), warn=warnings.append))
    except Exception as exc:  # only InputError may escape
        from analyzer.model import InputError

        assert isinstance(exc, InputError), repr(exc)
        count = 0
    assert _clean("evtext", path.read_bytes(), tmp_path) == count
    return count, [w.message for w in warnings]


def test_evtext_date_with_a_thirty_digit_year_is_a_warning_not_an_overflow(tmp_path: Path) -> None:
    """OverflowError from datetime() in parse_when (was: only ValueError was caught)."""
    bad = EVBLOCK_HEAD.replace("3/1/2001", "3/1/2001" + "3" * 30)
    count, warnings = _evtext(tmp_path, bad + "\r\n" + EVBLOCK_HEAD)
    assert count == 1
    assert any("impossible date/time" in w for w in warnings)


def test_evtext_data_dump_with_run_together_hex_is_not_decoded_as_dwords(tmp_path: Path) -> None:
    """OverflowError from int.to_bytes(4) in _data_line: a 30-digit hex item is neither a byte nor a DWORD."""
    dump = "Data:\r\n0000: 00AAAAAAAAAAAAAAAAAAAAAAAAAAAA 00 00 00 00 00 00 00   ........\r\n"
    count, _ = _evtext(tmp_path, EVBLOCK_HEAD + dump + "\r\n" + EVBLOCK_HEAD)
    assert count == 2


def test_dumpel_line_cannot_forge_the_spaced_marker(tmp_path: Path) -> None:
    """IndexError in dumpel_strings: a field equal to the reader's internal marker text ("\\x00spaced")
    was taken for the marker (now compared by identity) and indexed past its end."""
    line = "3/1/2009\t12:00:21 AM\t4\t0\t7036\tN/A\tMer/2009\t12:002\t\x00spaced\r\n"  # as minimised
    count, _ = _evtext(tmp_path, line)
    assert count == 1
