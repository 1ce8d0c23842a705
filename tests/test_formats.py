"""The table of formats: every reader module declares its format, ``sniff`` walks the table, and every
reader follows the one protocol ``read(path, *, filters, options, warn)`` with ``ReadOptions``."""

from __future__ import annotations

import importlib
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
from tests.conftest import CORPUS, REPO

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
# modules of the package that are not readers (``_chunkscan``: chunkscan's native translation, when built)
HELPERS = {"binxml", "chunkscan", "_chunkscan", "crc", "_crc32", "format", "layout", "text"}


def test_every_reader_module_declares_its_formats_and_the_table_holds_them_all() -> None:
    modules = {m.name for m in pkgutil.iter_modules(readers_package.__path__)} - HELPERS
    declared: list[str] = []
    for name in sorted(modules):
        module = importlib.import_module(f"analyzer.readers.{name}")
        formats = getattr(module, "FORMATS", None) or (module.FORMAT,)
        declared.extend(f.name for f in formats)
        for f in formats:  # the table's entry is the module's own declaration
            entry = format_named(f.name)
            assert (entry.module, entry.kind, entry.loaded()) == (module.__name__, f.kind, f)
            assert (entry.magic is None, entry.detect is None) == (f.magic is None, f.detect is None)
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


def _heads() -> list[bytes]:
    """First bytes of every sample and corpus file, and of awkward texts around the recognisers' edges."""
    files = [p for p in SAMPLES.rglob("*") if p.is_file()]
    files += [p for p in CORPUS.rglob("*") if p.is_file()] if CORPUS.is_dir() else []
    heads = []
    for path in files:
        with open(path, "rb") as fh:
            heads.append(fh.read(HEAD_SIZE))
    texts = [
        "", "\ufeff", "# README\n\nDate: 6/14/2002", "6/14/2002\t1:04:05 PM\tMSExchangeIS Private",
        "\n\n  Event Type:\tFailure Audit\nEvent Source:\tMSExchangeIS\n", "Mail text\nevent  type : x\nEvent Source: y",
        "a,b,c,d,e,f,g,h,i\n6/14/2002,1:04:05 PM,S,Error,None,1023,N/A,EXCH01,text",
        "\ufeff\ufeff14.06.2002\t13:04:05\tQuelle", "\u0663/1/2002\t1:04\t", "REGEDIT4\n", "Key Name: HKEY_LOCAL_MACHINE",
    ]  # fmt: skip
    heads += [t.encode("utf-8") for t in texts] + [t.encode("utf-16") for t in texts]
    heads += [b"LfLe" * 8, b"\x30\x00\x00\x00LfLe", b"ElfChnk\x00", b"ElfFile\x00" + bytes(8), b"regf" + bytes(8)]
    return heads


def test_the_tables_recognisers_answer_as_the_reader_modules() -> None:
    """The table sniffs without importing the readers: its magic is the module's magic, and a text hint
    never turns away a head the module's own ``detect`` accepts."""
    heads = _heads()
    assert len(heads) > 30
    for entry in FORMATS:
        own = entry.loaded()
        for head in heads:
            if own.magic is not None:
                assert entry.magic is not None and entry.magic(head) == own.magic(head), (entry.name, head[:16])
            else:
                text = decode_head(head) if head else ""
                assert entry.detect is not None and entry.detect(text) == own.detect(text), (entry.name, head[:40])
                if own.detect(text) and entry.hint is not None:  # type: ignore[misc]
                    assert entry.hint(text), (entry.name, head[:40])
