"""The native chunk scan (``analyzer.readers._chunkscan``) answers exactly what ``readers.chunkscan`` answers.

The C functions replace the Python ones when the extension is built, on the bytes of customer files, so
every test compares both on the same input: the values and their types (packed arrays of the same
typecode included), or the exception type (and its message where Python's is specific).  Inputs: every
chunk of every corpus .evtx, chunks of the project's writer, thousands of fuzzed chunks (bit flips,
truncations, random free-space offsets and lengths) and fuzzed arguments (starts that are negative, past
the end or beyond 64 bits, as packed arrays, lists or tuples; keys of any length; key indexes past the
per-key lists; offsets of any size and sign; wanted sets with entries of 0 to 3 bytes; rejected pairs met
or not; columns of unequal lengths).  The native functions take a C path for the arguments the reader
passes and a general path for anything else: both are compared.

Two builds are tested when present: the module freshly compiled from ``_chunkscan.c`` into a temporary
directory (so the source itself is proven, whatever sits in the checkout), and the one the package imports
(built in place by ``pip install -e .`` or ``setup.py build_ext --inplace``).  Without a C compiler and
without a built module, the comparisons skip, saying so.
"""

from __future__ import annotations

import contextlib
import gc
import random
import struct
import sys
import tracemalloc
from array import array
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from analyzer.model import Event, EventType
from analyzer.readers import binxml, chunkscan
from analyzer.rules import evidence_filter
from tests.conftest import REPO, corpus_files
from tests.native_build import fresh_module, installed_module, usable
from tests.writers.evtx_writer import CHUNK_SIZE, FILE_HEADER_SIZE, write_evtx

SOURCE = REPO / "analyzer" / "readers" / "_chunkscan.c"
PY = {"scan": chunkscan._py_scan, "keys_of": chunkscan._py_keys_of, "hits": chunkscan._py_hits}


# ------------------------------------------------------------------------------------------ the builds


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory: pytest.TempPathFactory) -> ModuleType | str:
    """The extension compiled from the current source into a temp dir: the module, or why there is none."""
    return fresh_module("_chunkscan", tmp_path_factory.mktemp("chunkscan_build"))


def _installed() -> ModuleType | str:
    return installed_module("_chunkscan")


@pytest.fixture(params=["fresh-build", "installed"])
def native(request: pytest.FixtureRequest) -> ModuleType:
    """Each available native module in turn; skip (saying why) for one that is absent."""
    return usable(request.getfixturevalue("fresh_build") if request.param == "fresh-build" else _installed())


def test_the_extension_builds_where_a_compiler_exists(fresh_build: ModuleType | str) -> None:
    """A C compiler and Python's headers are here, so the optional build must succeed: ``pip install``
    would otherwise fall back to the slower Python functions silently (optional=True hides the error)."""
    if isinstance(fresh_build, str) and not fresh_build.startswith("cannot build"):
        pytest.skip(fresh_build)
    assert isinstance(fresh_build, ModuleType), fresh_build
    assert {"scan", "keys_of", "hits"} <= set(dir(fresh_build))
    assert not {"walk", "record_keys", "pick"} & set(dir(fresh_build))  # the v1 functions are gone


def test_the_package_uses_the_native_module_when_it_is_built() -> None:
    installed = _installed()
    if isinstance(installed, str):
        assert chunkscan.NATIVE is False
        assert chunkscan.scan is chunkscan._py_scan
        pytest.skip(installed)
    assert chunkscan.NATIVE is True
    assert (chunkscan.scan, chunkscan.keys_of, chunkscan.hits) == (installed.scan, installed.keys_of, installed.hits)


# ------------------------------------------------------------------------------------- the comparison

_KINDS = [  # the first defines the templates later records share; IDs the rules read, from their sources or not
    (1016, "MSExchangeIS Private", EventType.SUCCESS_AUDIT),
    (1023, "MSExchangeIS Private", EventType.FAILURE_AUDIT),
    (1005, "Winlogon", EventType.INFORMATION),
    (4018, "MSExchangeIMC", EventType.ERROR),
    (7024, "Service Control Manager", EventType.ERROR),
    (13003, "MSExchangeIMAP4", EventType.WARNING),
    (1023, "Userenv", EventType.ERROR),  # a wanted EventID from a provider no rule reads it from
]


def _events(count: int, seed: int) -> Iterator[Event]:
    """Events of mixed shapes (1 to 3 strings, SIDs, binary data, Qualifiers) for the writer."""
    rng = random.Random(seed)
    t0 = datetime(2001, 3, 1, tzinfo=UTC)
    for i in range(count):
        event_id, source, etype = _KINDS[1] if i % 37 == 0 else rng.choice(_KINDS)
        strings = tuple(f"s{i}-{k}" for k in range(rng.choice((1, 2, 3))))
        when = t0 + timedelta(seconds=7 * i)
        yield Event(
            "", i + 1, None, when, when, event_id, 0xC000_0000 | event_id if i % 5 == 0 else event_id, etype,
            i % 3, source, "EXCH01", "S-1-5-18" if i % 4 == 0 else None, strings,
            bytes([i % 256, 7]) if i % 6 == 0 else b"",
        )  # fmt: skip


def _outcome(function: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "value", function(*args)
    except Exception as error:  # the comparison is the point: any exception type must match
        return "raises", error


def _same(native: ModuleType, name: str, *args: Any) -> Any:
    """Call the native and the Python function on the same arguments: equal values of the same types, or
    the same exception type (with the same arguments for IndexError, KeyError and ValueError)."""
    kind, got = _outcome(getattr(native, name), *args)
    want_kind, want = _outcome(PY[name], *args)
    assert kind == want_kind, f"{name}: native {kind} {got!r}, Python {want_kind} {want!r}"
    if kind == "raises":
        assert type(got) is type(want), f"{name}: native raised {got!r}, Python {want!r}"
        if isinstance(want, IndexError | KeyError | ValueError):
            assert got.args == want.args
        return None
    assert got == want, name
    _same_types(got, want)
    return got


def _same_types(got: Any, want: Any) -> None:
    assert type(got) is type(want)
    if isinstance(want, array):
        assert got.typecode == want.typecode
    if isinstance(want, tuple | list):
        for g, w in zip(got, want, strict=True):
            _same_types(g, w)


def _chunks(path: Path) -> Iterator[tuple[bytes, int, int]]:
    """(data, free, length) of each chunk as the reader passes them: data padded to 64 KiB, length the
    bytes the file holds, free read from the header (the reader keeps only offsets inside the chunk)."""
    blob = path.read_bytes()
    for offset in range(FILE_HEADER_SIZE, len(blob), CHUNK_SIZE):
        data = blob[offset : offset + CHUNK_SIZE]
        length = len(data)
        if length < 56:
            continue
        free = struct.unpack_from("<I", data, 48)[0]
        if not 512 <= free <= CHUNK_SIZE:
            free = CHUNK_SIZE
        yield data + bytes(CHUNK_SIZE - length), free, length


def _located(data: bytes, starts: Any) -> tuple[array, list[binxml.Located]]:
    """Each record's key index and the keys' EventID and provider offsets, as the reader gets them
    (binxml's key length, grown until every key can be located)."""
    templates = binxml.ChunkTemplates(data)
    while True:
        keys, key_of = chunkscan._py_keys_of(data, starts, binxml._KEY_LENGTH[0])
        where = [templates.locate(key) for key in keys]
        if None not in where:
            return key_of, where  # type: ignore[return-value]


def _pairs(data: bytes, starts: Any, key_of: Any, where: list[binxml.Located], records: list[int]) -> list[bytes]:
    """The (EventID bytes + provider name bytes) of the given records, as ``hits`` joins them."""
    out = []
    for i in records:
        loc = where[key_of[i]]
        if loc.provider_at >= 0:
            q, r = starts[i] + loc.event_id_at, starts[i] + loc.provider_at
            out.append(data[q : q + 2] + data[r : r + loc.provider_size])
    return out


def _compare_chunk(native: ModuleType, data: bytes, free: int, length: int, wanted: frozenset[bytes]) -> int:
    """The three functions on one chunk as the reader calls them (packed arrays, and lists as the complete
    walk gives them), without and with rejected pairs; the number of hits."""
    scanned = _same(native, "scan", data, free, length)
    if not scanned:
        return 0
    starts, sizes = scanned[0], scanned[1]
    for key_length in {binxml._KEY_LENGTH[0], 4, 64}:
        _same(native, "keys_of", data, starts, key_length)
        _same(native, "keys_of", data, list(starts), key_length)
    try:
        key_of, where = _located(data, starts)
    except binxml.BinXmlError:  # a template the decider cannot map: the reader goes one by one
        return 0
    event_id_at = [loc.event_id_at for loc in where]
    provider_at = [loc.provider_at for loc in where]
    provider_size = [loc.provider_size for loc in where]
    hit, _ = _same(native, "hits", data, starts, sizes, key_of, event_id_at, wanted, provider_at, provider_size, set())
    rejected = set(_pairs(data, starts, key_of, where, hit)[::2])
    for columns in ((starts, sizes, key_of), (list(starts), list(sizes), list(key_of))):
        args = (*columns, event_id_at, wanted, provider_at, provider_size)
        _same(native, "hits", data, *args, rejected)
        _same(native, "hits", data, *args, frozenset(rejected))
        _same(native, "hits", data, *columns, event_id_at, wanted, [-1] * len(where), provider_size, rejected)
    return len(hit)


def _wanted_ids() -> frozenset[bytes]:
    return frozenset(event_id.to_bytes(2, "little") for event_id in evidence_filter().ids)


CORPUS_EVTX = [p for p in corpus_files("evtx") if p.suffix == ".evtx"]


@pytest.mark.parametrize("path", CORPUS_EVTX or [None], ids=lambda p: p.name if p else "no-corpus")
def test_native_equals_python_on_every_corpus_chunk(native: ModuleType, path: Path | None) -> None:
    if path is None:
        pytest.skip("corpus absent (expected ../shared/corpus/evtx beside the checkout, or ANALYZER_CORPUS)")
    for data, free, length in _chunks(path):
        _compare_chunk(native, data, free, length, _wanted_ids())
        _same(native, "scan", data[:length], free, length)  # the chunk as the file holds it, unpadded


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested-eventdata"])
def test_native_equals_python_on_written_logs(native: ModuleType, tmp_path: Path, nested: bool) -> None:
    path = tmp_path / "written.evtx"
    write_evtx(path, _events(1200, seed=3), nested_event_data=nested)
    ids = _wanted_ids()
    every_id = frozenset(i.to_bytes(2, "little") for i in range(0, 20000, 7)) | ids
    scanned = hit = 0
    for data, free, length in _chunks(path):
        scanned += len(native.scan(data, free, length)[0])
        hit += _compare_chunk(native, data, free, length, ids)
        _compare_chunk(native, data, free, length, every_id)
    assert scanned == 1200  # every record was scanned cleanly
    assert hit >= 1200 // 37  # the comparison saw hits, not only empty answers


def test_rejected_pairs_leave_their_records_out(native: ModuleType, tmp_path: Path) -> None:
    """The comparison sees the rejected pairs work: a pair's records leave the hits, the others stay."""
    path = tmp_path / "written.evtx"
    write_evtx(path, _events(400, seed=5))
    left_out = 0
    for data, free, length in _chunks(path):
        starts, sizes, _, _, increasing = native.scan(data, free, length)
        assert increasing
        key_of, where = _located(data, starts)
        per_key = ([loc.event_id_at for loc in where], [loc.provider_at for loc in where])
        sizes_of_names = [loc.provider_size for loc in where]
        hit, _ = native.hits(data, starts, sizes, key_of, per_key[0], _wanted_ids(), per_key[1], sizes_of_names, set())
        pairs = _pairs(data, starts, key_of, where, hit)
        userenv = {p for p in pairs if p.endswith("Userenv".encode("utf-16-le"))}
        assert userenv  # the writer put a wanted EventID under a provider no rule reads it from
        fewer, _ = native.hits(
            data, starts, sizes, key_of, per_key[0], _wanted_ids(), per_key[1], sizes_of_names, userenv
        )
        assert fewer == [i for i, pair in zip(hit, pairs, strict=True) if pair not in userenv]
        left_out += len(hit) - len(fewer)
    assert left_out > 0


def _name_end(loc: binxml.Located) -> int:
    return loc.provider_at + loc.provider_size + 4


def test_offsets_right_at_the_record_end(native: ModuleType, tmp_path: Path) -> None:
    """The bounds of ``hits``, where fuzzing rarely lands: a record just long enough for its EventID value
    and the size copy after it is not unsure (one byte shorter, it is); a provider name ending right before
    the size copy is read, so its rejected pair leaves the record out (one byte shorter, it is not read)."""
    path = tmp_path / "written.evtx"
    write_evtx(path, _events(200, seed=8))
    data, free, length = next(_chunks(path))
    starts = native.scan(data, free, length)[0]
    key_of, where = _located(data, starts)
    event_id_at, provider_at = [loc.event_id_at for loc in where], [loc.provider_at for loc in where]
    provider_size = [loc.provider_size for loc in where]
    every_id = frozenset(i.to_bytes(2, "little") for i in range(65536))
    no_names = [-1] * len(where)
    id_ends = [where[k].event_id_at + 6 for k in key_of]
    at_bound = _same(
        native, "hits", data, starts, id_ends, key_of, event_id_at, every_id, no_names, provider_size, set()
    )
    short = [n - 1 for n in id_ends]
    one_short = _same(
        native, "hits", data, starts, short, key_of, event_id_at, every_id, no_names, provider_size, set()
    )
    sure = [i for i, k in enumerate(key_of) if where[k].event_id_at >= 0]  # (the others are unsure anyway)
    assert len(sure) > len(starts) // 2
    assert at_bound == (sure, sorted(set(range(len(starts))) - set(sure)))
    assert one_short == ([], list(range(len(starts))))
    name_ends = [max(_name_end(where[k]), where[k].event_id_at + 7) for k in key_of]
    per_key = (event_id_at, every_id, provider_at, provider_size)
    hit, _ = native.hits(data, starts, name_ends, key_of, *per_key, set())
    rejected = set(_pairs(data, starts, key_of, where, hit))
    at_bound = _same(native, "hits", data, starts, name_ends, key_of, *per_key, rejected)
    one_short = _same(native, "hits", data, starts, [n - 1 for n in name_ends], key_of, *per_key, rejected)
    read = [i for i in hit if where[key_of[i]].provider_at >= 0 and name_ends[i] == _name_end(where[key_of[i]])]
    assert read and at_bound[0] == [i for i in hit if i not in read] and one_short[0] == hit


# ------------------------------------------------------------------------------------------ the fuzzing

#: Ints at and past the edges of 32- and 64-bit arithmetic (the C code must neither wrap nor clip them).
HUGE = [2**31, -(2**31), 2**32, 2**60, -(2**60), 2**60 + 1, -(2**60) - 1, 2**61 - 1, -(2**61) + 1, 2**62]
HUGE += [-(2**62), 2**63 - 100, -(2**63) + 100, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64 + 5, -(2**70), 2**80]


def _seeds(tmp_path: Path) -> list[bytes]:
    """Chunks to mutate: a few from the corpus and from the writer (flat and nested)."""
    seeds: list[bytes] = []
    for path in CORPUS_EVTX[:6]:
        seeds.extend(data for data, _, _ in list(_chunks(path))[:2])
    for nested in (False, True):
        path = tmp_path / f"seed-{nested}.evtx"
        write_evtx(path, _events(300, seed=11), nested_event_data=nested, records_per_chunk=60)
        seeds.extend(data for data, _, _ in _chunks(path))
    return seeds


def _mutate(rng: random.Random, data: bytes) -> bytes:
    chunk = bytearray(data)
    starts = (chunkscan._py_scan(bytes(chunk), CHUNK_SIZE, CHUNK_SIZE) or ([512],))[0]
    for _ in range(rng.choice((0, 1, 1, 2, 5, 20))):
        kind = rng.random()
        if kind < 0.4:  # a bit anywhere in the records
            at = rng.randrange(512, len(chunk))
            chunk[at] ^= 1 << rng.randrange(8)
        elif kind < 0.7 and starts:  # a record's size, or its size copy, or its magic, or its record ID
            p = rng.choice(starts)
            field = rng.choice((p, p + 4, p + 5, p + 6, p + 7, p + 8, p + 15))
            chunk[field] = rng.randrange(256)
        elif kind < 0.85 and starts:  # zeros from a record on (a slack tail)
            p = rng.choice(starts)
            end = min(len(chunk), p + rng.randrange(1, 600))
            chunk[p:end] = bytes(end - p)
        else:
            chunk[rng.randrange(512, len(chunk))] = rng.randrange(256)
    if rng.random() < 0.3:
        chunk = chunk[: rng.randrange(0, len(chunk) + 1)]  # a truncated chunk
    return bytes(chunk)


def _any_int(rng: random.Random, around: int) -> int:
    kind = rng.random()
    if kind < 0.5:
        return rng.randrange(max(0, around - 100), around + 100)
    if kind < 0.7:
        return rng.randrange(-70000, 70000)
    if kind < 0.85:
        return rng.choice(HUGE)
    return rng.choice((0, 1, 511, 512, 540, 65535, 65536, 65537, -1, -24, -26))


def _some_bytes(rng: random.Random, data: bytes, sizes: tuple[int, ...]) -> set[bytes]:
    values: set[bytes] = set()
    for _ in range(rng.choice((0, 1, 3, 30))):
        size = rng.choice(sizes)
        if data and rng.random() < 0.5:
            at = rng.randrange(len(data))
            values.add(data[at : at + size])
        else:
            values.add(bytes(rng.randrange(256) for _ in range(size)))
    return values


def _a_set(rng: random.Random, values: set[bytes]) -> set[bytes] | frozenset[bytes]:
    return frozenset(values) if rng.random() < 0.5 else values


def _column(rng: random.Random, values: list[int]) -> Any:
    """The same ints as an array('I') when they fit (what scan and keys_of give), a list, or a tuple."""
    kind = rng.random()
    if kind < 0.5 and all(0 <= v < 2**32 for v in values):
        return array("I", values)
    return tuple(values) if kind < 0.6 else values


def _fuzz_hits(native: ModuleType, rng: random.Random, data: bytes, starts: list[int], sizes: list[int]) -> None:
    """hits on fuzzed arguments: key indexes past the per-key lists, offsets of any size and sign,
    wanted sets with entries of 0 to 3 bytes, rejected pairs met or not, columns of unequal lengths."""
    keys = rng.choice((1, 2, 5, 40))
    key_of = [rng.randrange(keys + (rng.random() < 0.1)) for _ in starts]
    if rng.random() < 0.05 and key_of:
        key_of[rng.randrange(len(key_of))] = rng.choice((-1, -keys, 2**40, *HUGE))
    offsets = [rng.randrange(-3, 300), -1, 0, 1, 24, rng.randrange(-3, 70000), rng.choice(HUGE)]
    event_id_at = [rng.choice(offsets[:5] if rng.random() < 0.8 else offsets) for _ in range(keys)]
    provider_at = [rng.choice(offsets[:5] if rng.random() < 0.8 else offsets) for _ in range(keys)]
    provider_size = [
        rng.choice((0, 2, 14, 40, -3, -400, rng.randrange(-70000, 70000), rng.choice(HUGE))) for _ in range(keys)
    ]
    sizes = list(sizes)
    if rng.random() < 0.2 and sizes:
        sizes[rng.randrange(len(sizes))] = rng.choice((0, 5, 6, 7, 100000, -1, *HUGE))
    wanted = _some_bytes(rng, data, (0, 1, 2, 2, 2, 3))
    if rng.random() < 0.5:  # the EventIDs where the records hold them, so hits and rejections happen
        wanted |= {data[p + at : p + at + 2] for p in starts[:50] for at in event_id_at[:3] if 0 <= at < 2**32}
    rejected = _some_bytes(rng, data, (2, 3, 16, 30))
    if rng.random() < 0.5:
        rejected |= set(_pairs_of(data, starts, key_of, event_id_at, provider_at, provider_size)[::2])
    per_key = [event_id_at, provider_at, provider_size]
    if rng.random() < 0.1:  # a per-key list too short for some key index
        cut = rng.randrange(3)
        per_key[cut] = per_key[cut][: rng.randrange(keys)]
    columns = [_column(rng, starts), _column(rng, sizes), _column(rng, key_of)]
    if rng.random() < 0.1:  # zip(strict=True): one column shorter or longer
        cut = rng.randrange(3)
        columns[cut] = list(columns[cut])[:-1] if rng.random() < 0.5 else [*columns[cut], 0]
    _same(native, "hits", data, *columns, per_key[0], _a_set(rng, wanted), *per_key[1:], _a_set(rng, rejected))


def _pairs_of(
    data: bytes, starts: list[int], key_of: list[int], eid: list[int], at: list[int], size: list[int]
) -> list[bytes]:
    out = []
    for p, k in zip(starts, key_of, strict=True):
        if (
            0 <= k < min(len(eid), len(at), len(size))
            and abs(eid[k]) < 2**32
            and abs(at[k]) < 2**32
            and abs(size[k]) < 2**32
        ):
            q, r = p + eid[k], p + at[k]
            out.append(data[q : q + 2] + data[r : r + size[k]])
    return out


def test_native_equals_python_on_fuzzed_chunks(native: ModuleType, tmp_path: Path) -> None:
    rng = random.Random(16)
    seeds = _seeds(tmp_path)
    clean = scanned = 0
    for _ in range(3000):
        data = _mutate(rng, rng.choice(seeds))
        free = _any_int(rng, struct.unpack_from("<I", data, 48)[0] if len(data) >= 52 else 512)
        length = _any_int(rng, len(data)) if rng.random() < 0.4 else len(data)
        if rng.random() < 0.5 and len(data) >= 56:
            free = min(max(free, 512), CHUNK_SIZE)  # what the reader passes
        result = _same(native, "scan", data, free, length)
        found = list(result[0]) if result else []
        sizes = list(result[1]) if result else []
        clean += result is not None
        scanned += len(found)
        starts = list(found)
        if rng.random() < 0.5:
            starts += [_any_int(rng, rng.choice(found or [512])) for _ in range(rng.choice((0, 1, 5)))]
            rng.shuffle(starts)
            sizes = [rng.choice(sizes or [100]) for _ in starts] if rng.random() < 0.5 else sizes[: len(starts)]
            sizes += [_any_int(rng, 200) for _ in range(len(starts) - len(sizes))]
        key_length = rng.choice((0, 1, 2, 14, 22, 30, 270, -1, -30, rng.choice(HUGE), _any_int(rng, 20)))
        _same(native, "keys_of", data, _column(rng, starts), key_length)
        _fuzz_hits(native, rng, data, starts, sizes)
    assert clean > 300 and scanned > 3000  # the fuzzing reached clean scans too, not only doubts


def test_keys_of_with_thousands_of_distinct_keys(native: ModuleType) -> None:
    """Many distinct keys (the hash table grows many times), repeated in shuffled order, some equal only
    in part and some cut short by the buffer's end: the keys and indexes Python gives."""
    rng = random.Random(7)
    data = bytes(rng.randrange(4) for _ in range(CHUNK_SIZE))
    starts = [rng.randrange(-40, CHUNK_SIZE + 10) for _ in range(20000)]
    for key_length in (1, 3, 6, 8, 9, 16, 17, 30):
        keys, key_of = _same(native, "keys_of", data, array("I", [s for s in starts if s >= 0]), key_length)
        _same(native, "keys_of", data, starts, key_length)
        assert len(keys) > min(2000, 4**key_length // 2) and len(key_of) > 19000


def test_slices_follow_python_for_any_start(native: ModuleType) -> None:
    """Every start from far before to far past a short buffer, every key length and offset: Python's
    data[a:b], including EventID slices shorter than 2 bytes at the buffer's end."""
    data = bytes(range(7, 107))
    starts = list(range(-260, 260)) + HUGE
    for key_length in (-130, -30, -2, 0, 1, 2, 3, 77, 200, *HUGE):
        _same(native, "keys_of", data, starts, key_length)
    sizes = [200] * len(starts)
    key_of = [i % 3 for i in range(len(starts))]
    for wanted in (frozenset(), frozenset({b""}), {b"\x20"}, {b"\x08\x09", b"ab", b"abc"}, frozenset({b"j", b"jk"})):
        for at in (-5, -1, 0, 1, 2, 50, 98, 99, 100, 2**63, 2**70):
            event_id_at = [at, at - 24, at + 77]
            for rejected in (set(), {b"jkl", b"jk", b"", b"\x08\x09\x0a"}):
                args = (event_id_at, wanted, [at, 0, -1], [1, 0, -200], rejected)
                _same(native, "hits", data, starts, sizes, key_of, *args)
                _same(native, "hits", data, starts[:520], sizes[:520], array("I", key_of[:520]), *args)


def test_scan_on_short_buffers_raises_as_struct_does(native: ModuleType, tmp_path: Path) -> None:
    """A free-space offset or length past the bytes given: struct.error at the same record."""
    path = tmp_path / "short.evtx"
    write_evtx(path, _events(50, seed=1))
    data, free, _ = next(_chunks(path))
    starts, sizes, _, _, _ = chunkscan._py_scan(data, free, CHUNK_SIZE)
    errors = 0
    for cut in sorted({0, 100, 512, 530, 536, 540, *starts, *(p + s - 1 for p, s in zip(starts, sizes, strict=True))}):
        for free_, length in ((free, CHUNK_SIZE), (CHUNK_SIZE, CHUNK_SIZE), (free, cut)):
            kind, error = _outcome(native.scan, data[:cut], free_, length)
            _same(native, "scan", data[:cut], free_, length)
            errors += kind == "raises" and isinstance(error, struct.error)
    assert errors > 10
    # No record magic where the scan stands: only zeros may follow up to the free-space offset, and the
    # buffer can end before that offset.  The last byte given still counts.
    tail = data[: starts[3]] + bytes(40)
    for last in (b"\0", b"\1"):
        for free_ in (len(tail) + 1, len(tail) + 600, CHUNK_SIZE):
            _same(native, "scan", tail + last, free_, CHUNK_SIZE)
    assert native.scan(tail + b"\1", CHUNK_SIZE, CHUNK_SIZE) is None
    assert native.scan(tail + b"\0", CHUNK_SIZE, CHUNK_SIZE) == chunkscan._py_scan(data, starts[3], CHUNK_SIZE)


def test_scan_says_whether_record_ids_increase(native: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "ids.evtx"
    write_evtx(path, _events(50, seed=1))
    data, free, length = next(_chunks(path))
    starts = chunkscan._py_scan(data, free, length)[0]
    assert native.scan(data, free, length)[4] is True
    for i, rid in ((3, 0), (3, 5), (len(starts) - 1, 2**64 - 1), (len(starts) - 1, 1), (0, 2**63)):
        changed = bytearray(data)
        changed[starts[i] + 8 : starts[i] + 16] = rid.to_bytes(8, "little")
        answer = _same(native, "scan", bytes(changed), free, length)
        assert answer[2][i] == rid


def test_bytes_like_inputs_give_the_answers_of_bytes(native: ModuleType, tmp_path: Path) -> None:
    """bytearray and memoryview data are read like bytes (the keys come back as bytes)."""
    path = tmp_path / "like.evtx"
    write_evtx(path, _events(300, seed=2))
    for data, free, length in _chunks(path):
        want = chunkscan._py_scan(data, free, length)
        assert want is not None
        key_of, where = _located(data, want[0])
        per_key = ([loc.event_id_at for loc in where], [loc.provider_at for loc in where])
        names = [loc.provider_size for loc in where]
        for like in (bytearray(data), memoryview(data)):
            assert native.scan(like, free, length) == want
            got = native.keys_of(like, want[0], binxml._KEY_LENGTH[0])
            assert got == chunkscan._py_keys_of(data, want[0], binxml._KEY_LENGTH[0])
            assert all(type(k) is bytes for k in got[0])
            for rejected in (set(), {b"\xef\x03M\x00"}):
                args = (want[0], want[1], key_of, per_key[0], _wanted_ids(), per_key[1], names, rejected)
                assert native.hits(like, *args) == chunkscan._py_hits(data, *args)


def test_wrong_arguments_raise_as_python_does(native: ModuleType) -> None:
    data = bytes(CHUNK_SIZE)
    for args in ((None, 600, 600), (data, None, 600), (data, 600, "600"), (12, 600, 600)):
        with pytest.raises(TypeError):
            native.scan(*args)
    _same(native, "scan", "text" * 200, 600, 600)  # str is no bytes-like object
    _same(native, "keys_of", data, None, 4)
    _same(native, "keys_of", data, [0, "x"], 4)
    _same(native, "keys_of", data, [0, 1.5], 4)
    _same(native, "keys_of", data, [0, 8], 4.0)
    _same(native, "keys_of", data, [], 4.0)  # no start: nothing to slice, no error
    _same(native, "keys_of", data, [0, True, 8], 4)
    _same(native, "keys_of", data, array("I", [0, 8]), 4.0)
    _same(native, "keys_of", data, array("H", [0, 8]), 4)  # another array type: read item by item
    _same(native, "keys_of", data, b"\x00\x08", 4)
    assert native.keys_of(data, (p for p in (0, 8, 0)), 4) == chunkscan._py_keys_of(data, [0, 8, 0], 4)  # iterable
    rest = ([3], frozenset({b"\0\0"}), [30], [2], {b"\0\0" + b"\0\0"})
    _same(native, "hits", data, [600, 700], [100, 100], [0, 0], *rest)  # a rejected pair: no hit
    _same(native, "hits", data, [600, 700], [100, 100], [0, 0], [3], None, *rest[2:])  # wanted: no container
    _same(native, "hits", data, [600, None], [100, 100], [0, 0], *rest)
    _same(native, "hits", data, [600, 700], [100, "x"], [0, 0], *rest)
    _same(native, "hits", data, [600, 700], [100, 100], [0, 1.0], *rest)
    _same(native, "hits", data, [600, 700], [100, 100], [0, 1], *rest)  # IndexError: no entry for key 1
    _same(native, "hits", data, [600, 700], [100, 100], (0, 1), [3, 5], rest[1], (30,), [2, 2], set())
    _same(native, "hits", data, [600, 700], [100, 100], [0, 1], [3, 5], rest[1], [30, 8], (2,), rest[4])
    _same(native, "hits", data, [600, 700], [100, 100], [0, -1], [3, 5], *rest[1:])  # -1: the last key
    _same(native, "hits", data, [600, 700], [100, 100], [0, 0], [1.5], *rest[1:])
    _same(native, "hits", data, [600, 700], [100, 100], [0, 0], {0: 3}, *rest[1:])  # a dict indexed by key
    _same(native, "hits", data, [600, 700], [100, 100], [0, 0], [3], rest[1], ["x"], *rest[3:])
    _same(native, "hits", data, [600, 700], [100, 100], [0, 0], [3], rest[1], [30], [None], rest[4])
    _same(native, "hits", data, [600, 700], [100, 100], [0, 0], [3], rest[1], [30], [2], None)
    _same(native, "hits", data, [600, 700], [100, 100], [0, 0], [3], rest[1], [30], [2], [b"\0\0\0\0"])
    _same(native, "hits", data, None, [100], [0], *rest)
    for columns in (([600, 700, 800], [100, 100], [0, 0]), ([600], [100, 100], [0, 0]), ([600, 700], [100], [0, 0])):
        _same(native, "hits", data, *columns, *rest)  # zip(strict=True) messages
        _same(native, "hits", data, columns[0], columns[1], [0], *rest)
        _same(native, "hits", data, *map(tuple, columns), *rest)
    for wanted in ([b"\0\0"], {b"\0\0": 1}, {memoryview(b"\0\0")}, frozenset({1, b"\0\0"}), [bytearray(b"\0\0")]):
        _same(native, "hits", data, [600, 700], [100, 100], [0, 0], [3], wanted, *rest[2:])  # the Python way


def test_no_reference_or_memory_leaks(native: ModuleType, tmp_path: Path) -> None:
    """Thousands of calls, answers and errors alike, on both paths, leave no object and no memory behind."""
    path = tmp_path / "leak.evtx"
    write_evtx(path, _events(300, seed=4))
    data, free, length = next(_chunks(path))
    starts, sizes, _, _, _ = native.scan(data, free, length)
    key_of, where = _located(data, starts)
    eid, at, names = [w.event_id_at for w in where], [w.provider_at for w in where], [w.provider_size for w in where]
    wanted = _wanted_ids() | {b"", b"x"}
    hit, _ = native.hits(data, starts, sizes, key_of, eid, wanted, at, names, set())
    rejected = set(_pairs(data, starts, key_of, where, hit)[::2])
    assert hit and rejected
    odd = [*starts, -5, 2**70, 10**6]
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (native.scan, (data, free, length)),
        (native.scan, (data[:5000], free, length)),  # struct.error
        (native.scan, (data, CHUNK_SIZE, length)),
        (native.keys_of, (data, starts, 22)),
        (native.keys_of, (data, odd, 22)),
        (native.keys_of, (data, starts, 2**66)),
        (native.keys_of, (data, [0, "x"], 22)),  # TypeError
        (native.hits, (data, starts, sizes, key_of, eid, wanted, at, names, rejected)),
        (native.hits, (data, list(starts), list(sizes), list(key_of), eid, wanted, at, names, rejected)),
        (native.hits, (data, starts, sizes, key_of, eid, list(wanted), at, names, rejected)),  # general path
        (native.hits, (data, starts, sizes, key_of, eid, wanted, at, names, list(rejected))),
        (native.hits, (data, starts, sizes, key_of, eid[:1], wanted, at, names, rejected)),  # IndexError
        (native.hits, (data, starts, sizes, list(key_of)[:-1], eid, wanted, at, names, rejected)),  # ValueError
        (native.hits, (data, starts, sizes, key_of, {}, wanted, at, names, rejected)),  # KeyError
    ]
    watched = [data, starts, sizes, key_of, eid, wanted, rejected, *list(rejected)[:3], *odd[-3:]]

    def run(times: int) -> None:
        for _ in range(times):
            for function, args in calls:
                with contextlib.suppress(TypeError, ValueError, KeyError, IndexError, struct.error):
                    function(*args)

    run(50)
    gc.collect()
    counts = [sys.getrefcount(x) for x in watched]
    objects = len(gc.get_objects())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(300)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(x) for x in watched] == counts
    assert len(gc.get_objects()) - objects < 100
    assert grown < 64 * 1024, f"{grown} bytes more after {300 * len(calls)} calls"


def test_wanted_tables_follow_the_set_given(native: ModuleType) -> None:
    """The native hits keeps the table of the frozenset given last: another set, or a frozenset it cannot
    hold in a table, never meets a stale table."""
    data = bytes(range(256)) * 4
    starts, sizes, key_of = array("I", range(0, 900, 10)), array("I", [100] * 90), array("I", [0] * 90)
    first = frozenset({bytes([40, 41]), bytes([90, 91])})
    second = frozenset({bytes([50, 51])})
    odd = frozenset({bytes([60, 61]), 7})
    for wanted in (first, first, second, first, odd, first, set(second), first, frozenset(), second):
        for eid_at in ([0], [10]):
            _same(native, "hits", data, starts, sizes, key_of, eid_at, wanted, [-1], [0], set())


def test_rejected_is_asked_per_name_not_per_key(native: ModuleType) -> None:
    """Records of one key naming different providers: each name's own answer (the native hits remembers
    the last name asked per key, and must ask again when the name changes)."""
    names = [b"A\0B\0", b"C\0D\0", b"A\0B\0", b"A\0B\0", b"C\0D\0", b"A\0X\0"]
    data = bytearray(512)
    starts = []
    for i, name in enumerate(names):
        p = 512 + 64 * i
        data.extend(bytes(64))
        data[p + 30 : p + 32] = (1023).to_bytes(2, "little")
        data[p + 40 : p + 44] = name
        starts.append(p)
    blob = bytes(data)
    eid = (1023).to_bytes(2, "little")
    sizes, key_of = [64] * len(starts), [0] * len(starts)
    for rejected in ({eid + b"A\0B\0"}, {eid + b"C\0D\0"}, {eid + b"A\0X\0", eid + b"C\0D\0"}, {b"x"}):
        got = _same(native, "hits", blob, starts, sizes, key_of, [30], frozenset({eid}), [40], [4], rejected)
        assert got[0] == [i for i, name in enumerate(names) if eid + name not in rejected]
