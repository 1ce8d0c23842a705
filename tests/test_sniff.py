"""Sniffing goes by content, never by file name: renamed, upper-case, extension-less and hostile inputs."""

from __future__ import annotations

import gzip
import io
import os
import random
import shutil
import zipfile
from pathlib import Path

import pytest

from analyzer.model import InputError
from analyzer.sniff import sniff, sniff_bytes
from tests.conftest import corpus_file
from tests.test_evtext import SCENARIO_1
from tests.writers.evtext_writer import dumpel_lines, encode_lines, event_details_lines, event_viewer_lines


def copy_as(src: Path, tmp_path: Path, name: str) -> Path:
    """A corpus file under another name, in tmp only (the corpus and the repo stay untouched)."""
    dst = tmp_path / name
    shutil.copyfile(src, dst)
    return dst


# ------------------------------------------------------------------------------------- binary formats


@pytest.mark.parametrize("name", ["AppEvent.Evt", "APPEVENT.EVT", "AppEvent", "app.evtx.bak", "app.txt"])
def test_evtx_whatever_its_name(tmp_path: Path, name: str) -> None:
    path = copy_as(corpus_file("evtx", "dissect__TestLogX.evtx"), tmp_path, name)
    assert sniff(str(path)) == "evtx"


@pytest.mark.parametrize("name", ["SysEvent.evtx", "SYSEVENT.EVT", "SysEvent", "sysevent.log"])
def test_evt_whatever_its_name(tmp_path: Path, name: str) -> None:
    path = copy_as(corpus_file("evt", "dissect__TestLog.evt"), tmp_path, name)
    assert sniff(str(path)) == "evt"


def test_dirty_evt_and_hive(tmp_path: Path) -> None:
    assert sniff(str(corpus_file("evt", "dissect__TestLog-dirty.evt"))) == "evt"
    assert sniff(str(copy_as(corpus_file("hive", "hivex__minimal"), tmp_path, "system.evt"))) == "hive"
    assert sniff(str(copy_as(corpus_file("hive", "yarp__OldDirtyHive_OldDirtyHive"), tmp_path, "SYSTEM.REG"))) == "hive"


def test_win9x_creg_is_a_clear_error(tmp_path: Path) -> None:
    path = copy_as(corpus_file("hive", "dfwinreg__SYSTEM.DAT"), tmp_path, "SYSTEM")
    with pytest.raises(InputError) as info:
        sniff(str(path))
    message = str(info.value)
    assert message.startswith(str(path) + ": ") and "\n" not in message
    assert "CREG" in message and "95/98/ME" in message


def test_xz_from_the_corpus_says_decompress_first() -> None:
    path = corpus_file("hive", "regipy__SYSTEM_B.LOG1.xz")
    with pytest.raises(InputError, match="decompress it first"):
        sniff(str(path))


def test_gzip_and_zip(tmp_path: Path) -> None:
    gz = tmp_path / "AppEvent.Evt"
    gz.write_bytes(gzip.compress(b"anything at all"))
    with pytest.raises(InputError, match="decompress it first"):
        sniff(str(gz))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("AppEvent.Evt", b"x")
    zipped = tmp_path / "case.evt"
    zipped.write_bytes(buf.getvalue())
    assert sniff(str(zipped)) == "zip"


def test_ms_dos_compress_file(tmp_path: Path) -> None:
    path = tmp_path / "SYSTEM._"
    path.write_bytes(b"SZDD\x88\xf0\x27\x33A\x00" + bytes(range(40)))
    with pytest.raises(InputError, match="EXPAND"):
        sniff(str(path))


# ---------------------------------------------------------------------------------------- no content


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "AppEvent.Evt"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        sniff(str(path))


def test_zeros(tmp_path: Path) -> None:
    path = tmp_path / "AppEvent.Evt"
    path.write_bytes(bytes(65536 * 2))
    with pytest.raises(InputError, match="only zero bytes"):
        sniff(str(path))


def test_random_binary(tmp_path: Path) -> None:
    path = tmp_path / "AppEvent.Evt"
    path.write_bytes(random.Random(306308).randbytes(8192))
    with pytest.raises(InputError, match="unrecognised binary"):
        sniff(str(path))


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        sniff(str(tmp_path))
    with pytest.raises(InputError, match="cannot open"):
        sniff(str(tmp_path / "nope.evt"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.evt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        sniff(str(fifo))  # must not block waiting for a writer


# ------------------------------------------------------------------------------------- text formats


@pytest.fixture
def text_sniffers() -> None:
    """sniff.py asks every text reader's detect(); skip while a colleague's module is missing."""
    for module in ("regfile", "regquery", "regedt32"):
        pytest.importorskip(f"analyzer.readers.{module}")


@pytest.mark.usefixtures("text_sniffers")
@pytest.mark.parametrize(
    ("lines", "encoding", "expected"),
    [
        (event_viewer_lines(SCENARIO_1), "cp1252", "evtxt"),
        (event_viewer_lines(SCENARIO_1, header=True), "utf-16", "evtxt"),
        (event_viewer_lines(SCENARIO_1, sep=",", mode="wrapper"), "utf-8-sig", "evcsv"),
        (event_viewer_lines(SCENARIO_1, sep=",", header=True, quote="all"), "cp1252", "evcsv"),
        (dumpel_lines(SCENARIO_1), "cp1252", "dumpel"),
        (dumpel_lines(SCENARIO_1, tabs=False), "utf-16", "dumpel"),
        (event_details_lines(SCENARIO_1), "cp1252", "evtxt"),
        (["Hello,", "the event as shown:", "", *event_details_lines(SCENARIO_1)], "utf-8", "evtxt"),
    ],
)
@pytest.mark.parametrize("name", ["AppEvent.log", "APPEVENT.TXT", "export", "AppEvent.Evt", "dump.csv"])
def test_text_exports_whatever_their_name(
    tmp_path: Path, lines: list[str], encoding: str, expected: str, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(encode_lines(lines, encoding))
    assert sniff(str(path)) == expected


@pytest.mark.usefixtures("text_sniffers")
def test_registry_text_is_not_taken_for_an_event_export(tmp_path: Path) -> None:
    path = tmp_path / "AppEvent.txt"
    path.write_bytes(b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM]\r\n")
    assert sniff(str(path)) == "reg"
    reg = corpus_file("reg", "debloat__lower-ram-usage.reg")
    assert sniff(str(copy_as(reg, tmp_path, "SysEvent.Evt"))) == "reg"


@pytest.mark.usefixtures("text_sniffers")
def test_other_text_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "AppEvent.Evt"
    path.write_text("Hello,\nthese are the logs you asked for.\n")
    with pytest.raises(InputError) as info:
        sniff(str(path))
    assert "not an event log or registry export" in str(info.value) and "Hello," in str(info.value)
    assert "\n" not in str(info.value)


def test_sniff_bytes_without_a_file() -> None:
    assert sniff_bytes(b"\x30\x00\x00\x00LfLe" + bytes(40)) == "evt"
    assert sniff_bytes(b"ElfFile\x00" + bytes(100)) == "evtx"
    assert sniff_bytes(b"regf" + bytes(100)) == "hive"
    with pytest.raises(InputError, match="empty"):
        sniff_bytes(b"")
