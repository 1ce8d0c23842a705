"""The chunk CRC-32 (``analyzer.readers.crc``) is zlib's number, whichever implementation computes it.

The native module folds 64 bytes at a time with carry-less multiplication and finishes the last 0-15 bytes
(and any input under 64 bytes) with a table, so the comparisons cover every length across those borders,
at every alignment of the buffer, from random start values, plus every chunk of every corpus .evtx the way
the reader sums it (header bytes, then the records up to the free-space offset).  Two builds are tested
when present: the module freshly compiled from ``_crc32.c`` and the one the package imports.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path
from types import ModuleType

import pytest

from analyzer.readers import crc
from analyzer.readers.evtx import read
from tests.conftest import corpus_files
from tests.native_build import fresh_module, installed_module, usable

CHUNK_SIZE = 65536
FIRST_CHUNK = 4096


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory: pytest.TempPathFactory) -> ModuleType | str:
    return fresh_module("_crc32", tmp_path_factory.mktemp("crc32_build"))


def _installed() -> ModuleType | str:
    return installed_module("_crc32")


@pytest.fixture(params=["fresh-build", "installed"])
def native(request: pytest.FixtureRequest, fresh_build: ModuleType | str) -> ModuleType:
    return usable(fresh_build if request.param == "fresh-build" else _installed())


def test_the_extension_builds_where_a_compiler_exists(fresh_build: ModuleType | str) -> None:
    if isinstance(fresh_build, str) and not fresh_build.startswith("cannot build"):
        pytest.skip(fresh_build)
    assert isinstance(fresh_build, ModuleType), fresh_build
    assert fresh_build.ACCELERATED in (0, 1)


def test_the_package_picks_the_folding_path_only_where_the_cpu_takes_it() -> None:
    installed = _installed()
    if isinstance(installed, str) or not installed.ACCELERATED:
        assert crc.crc32 is zlib.crc32
        assert crc.ACCELERATED is False
        return
    assert crc.crc32 is installed.crc32
    assert crc.ACCELERATED is True


def test_every_length_and_alignment_from_any_start_value(native: ModuleType) -> None:
    rng = random.Random(306308)
    blob = rng.randbytes(6000)
    for length in [*range(0, 300), *range(300, 2600, 7), *range(5100, 5140)]:  # 5 KiB up: without the GIL
        for align in (0, 1, 3, 8, 13):
            data = blob[align : align + length]
            start = rng.getrandbits(32)
            assert native.crc32(data) == zlib.crc32(data), (length, align)
            assert native.crc32(data, start) == zlib.crc32(data, start), (length, align, start)


def test_bit_flips_change_the_sum_as_zlib_says(native: ModuleType) -> None:
    """Each single flipped bit of a 64 KiB chunk: the folding lanes, the lane merge and the tail all count."""
    rng = random.Random(2140)
    data = bytearray(rng.randbytes(CHUNK_SIZE - 512))
    for bit in [*range(0, 1024, 3), *(rng.randrange(len(data) * 8) for _ in range(300)), len(data) * 8 - 1]:
        data[bit // 8] ^= 1 << (bit % 8)
        assert native.crc32(data) == zlib.crc32(data), bit
        data[bit // 8] ^= 1 << (bit % 8)


def test_any_bytes_like_object_and_zlib_argument_rules(native: ModuleType) -> None:
    data = bytes(range(256)) * 3
    for like in (data, bytearray(data), memoryview(data), memoryview(data)[5:700]):
        assert native.crc32(like) == zlib.crc32(like)
    assert native.crc32(b"abc", 0xFFFFFFFF) == zlib.crc32(b"abc", 0xFFFFFFFF)
    with pytest.raises(TypeError):
        native.crc32("text")
    with pytest.raises(BufferError):
        zlib.crc32(memoryview(data)[::2])
    with pytest.raises(BufferError):
        native.crc32(memoryview(data)[::2])  # not contiguous: refused like zlib does


@pytest.mark.parametrize("path", corpus_files("evtx", "*.evtx"), ids=lambda p: p.name)
def test_every_corpus_chunk_sums_alike(native: ModuleType, path: Path) -> None:
    """The two sums the reader takes per chunk, on real logs (damaged ones included)."""
    raw = path.read_bytes()
    chunks = 0
    for at in range(FIRST_CHUNK, len(raw), CHUNK_SIZE):
        chunk = raw[at : at + CHUNK_SIZE]
        if not chunk.startswith(b"ElfChnk\x00") or len(chunk) < 512:
            continue
        chunks += 1
        free = min(max(struct.unpack_from("<I", chunk, 48)[0], 512), len(chunk))
        header = native.crc32(chunk[128:512], native.crc32(chunk[:120]))
        assert header == zlib.crc32(chunk[128:512], zlib.crc32(chunk[:120]))
        assert native.crc32(memoryview(chunk)[512:free]) == zlib.crc32(chunk[512:free])
    assert chunks


@pytest.mark.parametrize("path", corpus_files("evtx", "*no_crc32*.evtx"), ids=lambda p: p.name)
def test_the_reader_still_warns_of_a_bad_chunk_sum(path: Path) -> None:
    warnings: list[str] = []
    list(read(str(path), warn=lambda w: warnings.append(w.message)))
    assert any("CRC32 mismatch" in w for w in warnings), warnings
