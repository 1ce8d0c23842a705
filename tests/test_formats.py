"""The table of formats: every reader module declares its format, ``sniff`` walks the table, and every
reader follows the one protocol ``read(path, *, filters, options, warn)`` with ``ReadOptions``."""

from __future__ import annotations

import inspect
import pkgutil
from datetime import UTC
from pathlib import Path

import pytest

import analyzer.readers as readers_package
from analyzer.events import iter_file
from analyzer.readers import BY_NAME, EVENT_FORMATS, FORMATS, REGISTRY_FORMATS, ReadOptions, format_named
from analyzer.readers.evtx import available_backends
from analyzer.readers.text import decode_head
from analyzer.registry import read_registry
from analyzer.sniff import HEAD_SIZE, sniff
from tests.conftest import REPO

SAMPLES = Path(REPO) / "samples"
SAMPLE_FILES = {
    "evt": SAMPLES / "nt4-kb306308" / "AppEvent.Evt",
    "evtx": SAMPLES / "w2k-two-controlsets" / "Application.evtx",
    "hive": SAMPLES / "w2k-two-controlsets" / "SYSTEM",
    "reg": SAMPLES / "nt4-kb306308" / "ParametersSystem.reg",
    "regedt32": SAMPLES / "move-mailbox" / "ParametersSystem.txt",
    "evtxt": SAMPLES / "move-mailbox" / "AppEvent.txt",
    "evcsv": SAMPLES / "harmless-1023" / "Application.csv",
}
HELPERS = {"binxml", "format", "layout", "text"}  # modules of the package that are not readers


def test_every_reader_module_declares_its_formats_and_the_table_holds_them_all() -> None:
    modules = {m.name for m in pkgutil.iter_modules(readers_package.__path__)} - HELPERS
    declared: list[str] = []
    for name in sorted(modules):
        module = getattr(readers_package, name)
        formats = getattr(module, "FORMATS", None) or (module.FORMAT,)
        declared.extend(f.name for f in formats)
    assert sorted(declared) == sorted(f.name for f in FORMATS)
    assert len(BY_NAME) == len(FORMATS), "two readers declare the same format name"
    assert set(BY_NAME) == EVENT_FORMATS | REGISTRY_FORMATS and not EVENT_FORMATS & REGISTRY_FORMATS
    assert {"evt", "evtx", "evtxt", "evcsv", "dumpel"} == EVENT_FORMATS
    assert {"hive", "reg", "regedt32", "regquery"} == REGISTRY_FORMATS


@pytest.mark.parametrize("fmt", [f.name for f in FORMATS])
def test_every_reader_follows_the_one_protocol(fmt: str) -> None:
    declared = format_named(fmt)
    assert (declared.magic is None) != (declared.detect is None), "a format is recognised by magic or by text"
    params = inspect.signature(declared.read).parameters
    for name in ("filters", "options", "warn"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params[name].default is not inspect.Parameter.empty, name
    assert next(iter(params)) == "path"


@pytest.mark.parametrize("fmt", sorted(SAMPLE_FILES))
def test_exactly_one_declared_format_claims_each_sample(fmt: str) -> None:
    head = SAMPLE_FILES[fmt].read_bytes()[:HEAD_SIZE]
    text = decode_head(head)
    claims = [f.name for f in FORMATS if (f.magic and f.magic(head)) or (f.detect and f.detect(text))]
    assert claims == [fmt]
    assert sniff(str(SAMPLE_FILES[fmt])) == fmt


def test_read_options_reach_the_text_reader() -> None:
    path = str(SAMPLE_FILES["evcsv"])
    naive = list(iter_file(path))
    aware = list(iter_file(path, options=ReadOptions(tz=UTC)))
    assert naive and all(e.time_generated.tzinfo is None for e in naive)
    assert [e.time_generated for e in aware] == [e.time_generated.replace(tzinfo=UTC) for e in naive]
    assert [e.time_generated for e in iter_file(path, tz=UTC)] == [e.time_generated for e in aware]


@pytest.mark.skipif(len(available_backends()) < 2, reason="needs both evtx backends (evtx and python-evtx)")
def test_read_options_choose_the_evtx_backend() -> None:
    path = str(SAMPLE_FILES["evtx"])
    rust = [e.to_dict() for e in iter_file(path, options=ReadOptions(evtx_backend="rust"))]
    python = [e.to_dict() for e in iter_file(path, options=ReadOptions(evtx_backend="python"))]
    assert rust and rust == python
    with pytest.raises(ValueError, match="unknown evtx backend"):
        list(iter_file(path, options=ReadOptions(evtx_backend="java")))


def test_read_options_encoding_reaches_the_registry_readers(tmp_path: Path) -> None:
    reg = tmp_path / "p.reg"
    reg.write_bytes(b'REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"N"="\xe9"\r\n')
    as_1252 = read_registry(str(reg), options=ReadOptions(encoding="cp1252")).value(r"HKLM\SOFTWARE\X", "N")
    as_1251 = read_registry(str(reg), options=ReadOptions(encoding="cp1251")).value(r"HKLM\SOFTWARE\X", "N")
    assert (as_1252.data, as_1251.data) == ("é", "й")
    assert read_registry(str(reg), encoding="cp1251").value(r"HKLM\SOFTWARE\X", "N").data == "й"
