"""The native chunk scan (``analyzer.readers._chunkscan``) answers exactly what ``readers.chunkscan`` answers.

The C functions replace the Python ones when the extension is built, on the bytes of customer files, so
every test compares both on the same input: the values and their types, or the exception type (and its
message where Python's is specific).  Inputs: every chunk of every corpus .evtx, chunks of the project's
writer, and thousands of fuzzed chunks (bit flips, truncations, random free-space offsets and lengths,
starts that are negative, past the end or beyond 64 bits, keys of any length, wanted sets with entries of
0 to 3 bytes).

Two builds are tested when present: the module freshly compiled from ``_chunkscan.c`` into a temporary
directory (so the source itself is proven, whatever sits in the checkout), and the one the package imports
(built in place by ``pip install -e .`` or ``setup.py build_ext --inplace``).  Without a C compiler and
without a built module, the comparisons skip, saying so.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.machinery
import importlib.util
import random
import shutil
import struct
import subprocess
import sys
import sysconfig
import tracemalloc
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
from tests.writers.evtx_writer import CHUNK_SIZE, FILE_HEADER_SIZE, write_evtx

SOURCE = REPO / "analyzer" / "readers" / "_chunkscan.c"
PY = {"walk": chunkscan._py_walk, "record_keys": chunkscan._py_record_keys, "pick": chunkscan._py_pick}


# ------------------------------------------------------------------------------------------ the builds


def _compiler() -> str | None:
    """Why the extension cannot be built here, or None when a C compiler and Python's headers exist.

    Only the POSIX toolchain sysconfig names is detected; on Windows, setuptools finds MSVC by itself and
    this test leaves it alone."""
    if sys.platform == "win32":
        return "compiler detection covers POSIX toolchains only (setuptools finds MSVC by itself)"
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "Python's C headers (Python.h) are not installed"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc}) on PATH"
    return None


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory: pytest.TempPathFactory) -> ModuleType | str:
    """The extension compiled from the current source into a temp dir: the module, or why there is none
    (a string starting with "cannot build" is a broken build, anything else a missing toolchain)."""
    missing = _compiler()
    if missing:
        return missing
    out = tmp_path_factory.mktemp("chunkscan_build")
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(out / "lib"), "--build-temp", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    built = [
        p
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        for p in (out / "lib" / "analyzer" / "readers").glob(f"_chunkscan{suffix}")
    ]
    if not built:  # optional=True: a failed compile still exits 0, without the module
        return f"cannot build: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    spec = importlib.util.spec_from_file_location("analyzer.readers._chunkscan", built[0])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _installed() -> ModuleType | str:
    try:
        from analyzer.readers import _chunkscan  # type: ignore[attr-defined]
    except ImportError as error:
        return f"the package's native module is not built ({error}); build it with `pip install -e .`"
    return _chunkscan


@pytest.fixture(params=["fresh-build", "installed"])
def native(request: pytest.FixtureRequest) -> ModuleType:
    """Each available native module in turn; skip (saying why) for one that is absent."""
    found = request.getfixturevalue("fresh_build") if request.param == "fresh-build" else _installed()
    if isinstance(found, str):
        if found.startswith("cannot build"):
            pytest.fail(found)
        pytest.skip(found)
    return found


def test_the_extension_builds_where_a_compiler_exists(fresh_build: ModuleType | str) -> None:
    """A C compiler and Python's headers are here, so the optional build must succeed: ``pip install``
    would otherwise fall back to the slower Python functions silently (optional=True hides the error)."""
    if isinstance(fresh_build, str) and not fresh_build.startswith("cannot build"):
        pytest.skip(fresh_build)
    assert isinstance(fresh_build, ModuleType), fresh_build
    assert {"walk", "record_keys", "pick"} <= set(dir(fresh_build))


def test_the_package_uses_the_native_module_when_it_is_built() -> None:
    installed = _installed()
    if isinstance(installed, str):
        assert chunkscan.NATIVE is False
        assert chunkscan.walk is chunkscan._py_walk
        pytest.skip(installed)
    assert chunkscan.NATIVE is True
    assert (chunkscan.walk, chunkscan.record_keys, chunkscan.pick) == (
        installed.walk,
        installed.record_keys,
        installed.pick,
    )


# ------------------------------------------------------------------------------------- the comparison

_KINDS = [  # the first defines the templates later records share; IDs the rules read, from their sources or not
    (1016, "MSExchangeIS Private", EventType.SUCCESS_AUDIT),
    (1023, "MSExchangeIS Private", EventType.FAILURE_AUDIT),
    (1005, "Winlogon", EventType.INFORMATION),
    (4018, "MSExchangeIMC", EventType.ERROR),
    (7024, "Service Control Manager", EventType.ERROR),
    (13003, "MSExchangeIMAP4", EventType.WARNING),
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
    the same exception type (with the same arguments for KeyError and ValueError)."""
    kind, got = _outcome(getattr(native, name), *args)
    want_kind, want = _outcome(PY[name], *args)
    assert kind == want_kind, f"{name}: native {kind} {got!r}, Python {want_kind} {want!r}"
    if kind == "raises":
        assert type(got) is type(want), f"{name}: native raised {got!r}, Python {want!r}"
        if isinstance(want, KeyError | ValueError):
            assert got.args == want.args
        return None
    assert got == want, name
    _same_types(got, want)
    return got


def _same_types(got: Any, want: Any) -> None:
    assert type(got) is type(want)
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


def _event_id_offsets(data: bytes, starts: list[int], sizes: list[int]) -> tuple[list[bytes], dict[bytes, int]]:
    """The keys and EventID offsets the reader itself would pass (binxml's key length and locate)."""
    templates = binxml.ChunkTemplates(data)
    while True:
        keys = chunkscan._py_record_keys(data, starts, binxml._KEY_LENGTH[0])
        where: dict[bytes, int] = {}
        for key in set(keys):
            located = templates.locate(key)
            if located is None:
                break
            where[key] = located.event_id_at
        else:
            return keys, where


def _compare_chunk(native: ModuleType, data: bytes, free: int, length: int, wanted: frozenset[bytes]) -> int:
    """All three functions on one chunk as the reader uses them; the number of records walked."""
    walked = _same(native, "walk", data, free, length)
    if not walked:
        return 0
    starts, sizes = walked[0], walked[1]
    try:
        keys, where = _event_id_offsets(data, starts, sizes)
    except binxml.BinXmlError:  # a template the decider cannot map: the reader goes one by one
        return len(starts)
    for key_length in {binxml._KEY_LENGTH[0], 4, 64}:
        assert _same(native, "record_keys", data, starts, key_length) is not None
    picked = _same(native, "pick", data, starts, keys, where, wanted)
    assert len(picked) == len(starts)
    return len(starts)


def _wanted_ids() -> frozenset[bytes]:
    return frozenset(event_id.to_bytes(2, "little") for event_id in evidence_filter().ids)


CORPUS_EVTX = [p for p in corpus_files("evtx") if p.suffix == ".evtx"]


@pytest.mark.parametrize("path", CORPUS_EVTX or [None], ids=lambda p: p.name if p else "no-corpus")
def test_native_equals_python_on_every_corpus_chunk(native: ModuleType, path: Path | None) -> None:
    if path is None:
        pytest.skip("corpus absent (expected ../shared/corpus/evtx beside the checkout, or ANALYZER_CORPUS)")
    for data, free, length in _chunks(path):
        _compare_chunk(native, data, free, length, _wanted_ids())
        _same(native, "walk", data[:length], free, length)  # the chunk as the file holds it, unpadded


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested-eventdata"])
def test_native_equals_python_on_written_logs(native: ModuleType, tmp_path: Path, nested: bool) -> None:
    path = tmp_path / "written.evtx"
    write_evtx(path, _events(1200, seed=3), nested_event_data=nested)
    ids = _wanted_ids()
    every_id = frozenset(i.to_bytes(2, "little") for i in range(0, 20000, 7)) | ids
    walked = 0
    for data, free, length in _chunks(path):
        walked += _compare_chunk(native, data, free, length, ids)
        _compare_chunk(native, data, free, length, every_id)
    assert walked == 1200  # every record was walked cleanly, by both


def test_picks_hit_on_written_logs(native: ModuleType, tmp_path: Path) -> None:
    """The comparison sees True answers too: the rules' IDs are found where the writer put them."""
    path = tmp_path / "written.evtx"
    write_evtx(path, _events(400, seed=5))
    hits = 0
    for data, free, length in _chunks(path):
        starts, sizes, _, _ = native.walk(data, free, length)
        keys, where = _event_id_offsets(data, starts, sizes)
        picked = native.pick(
            data, starts, native.record_keys(data, starts, binxml._KEY_LENGTH[0]), where, _wanted_ids()
        )
        assert picked == chunkscan._py_pick(data, starts, keys, where, _wanted_ids())
        hits += sum(picked)
    assert hits >= 400 // 37


# ------------------------------------------------------------------------------------------ the fuzzing

#: Ints at and past the edges of 32- and 64-bit arithmetic (the C code must neither wrap nor clip them).
HUGE = [2**31, -(2**31), 2**61 - 1, -(2**61) + 1, 2**61, -(2**61), 2**62, -(2**62), 2**63 - 100, -(2**63) + 100]
HUGE += [2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64 + 5, -(2**70), 2**80]


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
    starts = chunkscan._py_walk(bytes(chunk), CHUNK_SIZE, CHUNK_SIZE) or ([512], [], [], [])
    for _ in range(rng.choice((0, 1, 1, 2, 5, 20))):
        kind = rng.random()
        if kind < 0.4:  # a bit anywhere in the records
            at = rng.randrange(512, len(chunk))
            chunk[at] ^= 1 << rng.randrange(8)
        elif kind < 0.7 and starts[0]:  # a record's size, or its size copy, or its magic
            p = rng.choice(starts[0])
            field = rng.choice((p, p + 4, p + 5, p + 6, p + 7))
            chunk[field] = rng.randrange(256)
        elif kind < 0.85 and starts[0]:  # zeros from a record on (a slack tail)
            p = rng.choice(starts[0])
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


def _wanted(rng: random.Random, data: bytes) -> set[bytes] | frozenset[bytes]:
    values: set[bytes] = set()
    for _ in range(rng.choice((0, 1, 3, 30))):
        size = rng.choice((0, 1, 2, 2, 2, 3))
        if data and rng.random() < 0.5:
            at = rng.randrange(len(data))
            values.add(data[at : at + size])
        else:
            values.add(bytes(rng.randrange(256) for _ in range(size)))
    return frozenset(values) if rng.random() < 0.5 else values


def test_native_equals_python_on_fuzzed_chunks(native: ModuleType, tmp_path: Path) -> None:
    rng = random.Random(16)
    seeds = _seeds(tmp_path)
    clean = walked = 0
    for round_ in range(3000):
        data = _mutate(rng, rng.choice(seeds))
        free = _any_int(rng, struct.unpack_from("<I", data, 48)[0] if len(data) >= 52 else 512)
        length = _any_int(rng, len(data)) if rng.random() < 0.4 else len(data)
        if rng.random() < 0.5 and len(data) >= 56:
            free = min(max(free, 512), CHUNK_SIZE)  # what the reader passes
        result = _same(native, "walk", data, free, length)
        found = list(result[0]) if result else []
        clean += result is not None
        walked += len(found)
        starts = found + [_any_int(rng, rng.choice(found or [512])) for _ in range(rng.choice((0, 1, 5)))]
        rng.shuffle(starts)
        key_length = rng.choice((0, 1, 2, 14, 22, 30, 270, -1, -30, rng.choice(HUGE), _any_int(rng, 20)))
        _same(native, "record_keys", data, starts, key_length)
        keys = chunkscan._py_record_keys(data, starts, rng.choice((2, 14, 22)))
        if rng.random() < 0.3:  # keys of other lengths, as a caller could hold them
            keys = [k + bytes(rng.randrange(3)) for k in keys]
        offsets = [rng.randrange(-3, 300), -1, _any_int(rng, 40), rng.choice(HUGE), 2**64, -(2**64)]
        event_id_at = {key: rng.choice(offsets) for key in keys}
        _same(native, "pick", data, starts, keys, event_id_at, _wanted(rng, data))
        if round_ % 10 == 0 and keys:  # a key missing, lengths that differ
            missing = dict(event_id_at)
            del missing[rng.choice(keys)]
            _same(native, "pick", data, starts, keys, missing, _wanted(rng, data))
            _same(native, "pick", data, starts[:-1], keys, event_id_at, _wanted(rng, data))
            _same(native, "pick", data, starts, keys[:-1], event_id_at, _wanted(rng, data))
    assert clean > 300 and walked > 3000  # the fuzzing reached clean walks too, not only doubts


def test_slices_follow_python_for_any_start(native: ModuleType) -> None:
    """Every start from far before to far past a short buffer, every key length: Python's data[a:b]."""
    data = bytes(range(7, 107))
    starts = list(range(-260, 260)) + HUGE
    for key_length in (-130, -30, -2, 0, 1, 2, 3, 77, 200, *HUGE):
        _same(native, "record_keys", data, starts, key_length)
    for wanted in (frozenset(), frozenset({b""}), {b"\x20"}, {b"\x08\x09", b"ab", b"abc"}, frozenset({b"j", b"jk"})):
        for at in (-5, -1, 0, 1, 2, 50, 98, 99, 100, 2**63, 2**70):
            keys = [bytes([i % 3]) for i in range(len(starts))]
            event_id_at = {b"\x00": at, b"\x01": at - 24, b"\x02": at + 77}
            _same(native, "pick", data, starts, keys, event_id_at, wanted)


def test_walk_on_short_buffers_raises_as_struct_does(native: ModuleType, tmp_path: Path) -> None:
    """A free-space offset or length past the bytes given: struct.error at the same record."""
    path = tmp_path / "short.evtx"
    write_evtx(path, _events(50, seed=1))
    data, free, _ = next(_chunks(path))
    starts, sizes, _, _ = chunkscan._py_walk(data, free, CHUNK_SIZE)
    errors = 0
    for cut in sorted({0, 100, 512, 530, 536, 540, *starts, *(p + s - 1 for p, s in zip(starts, sizes, strict=True))}):
        for free_, length in ((free, CHUNK_SIZE), (CHUNK_SIZE, CHUNK_SIZE), (free, cut)):
            kind, error = _outcome(native.walk, data[:cut], free_, length)
            _same(native, "walk", data[:cut], free_, length)
            errors += kind == "raises" and isinstance(error, struct.error)
    assert errors > 10
    # No record magic where the walk stands: only zeros may follow up to the free-space offset, and the
    # buffer can end before that offset.  The last byte given still counts.
    tail = data[: starts[3]] + bytes(40)
    for last in (b"\0", b"\1"):
        for free_ in (len(tail) + 1, len(tail) + 600, CHUNK_SIZE):
            _same(native, "walk", tail + last, free_, CHUNK_SIZE)
    assert native.walk(tail + b"\1", CHUNK_SIZE, CHUNK_SIZE) is None
    assert native.walk(tail + b"\0", CHUNK_SIZE, CHUNK_SIZE) == chunkscan._py_walk(data, starts[3], CHUNK_SIZE)


def test_bytes_like_inputs_give_the_answers_of_bytes(native: ModuleType, tmp_path: Path) -> None:
    """bytearray and memoryview data are read like bytes (the keys come back as bytes)."""
    path = tmp_path / "like.evtx"
    write_evtx(path, _events(300, seed=2))
    for data, free, length in _chunks(path):
        want = chunkscan._py_walk(data, free, length)
        assert want is not None
        keys, where = _event_id_offsets(data, want[0], want[1])
        for like in (bytearray(data), memoryview(data)):
            assert native.walk(like, free, length) == want
            got_keys = native.record_keys(like, want[0], binxml._KEY_LENGTH[0])
            assert got_keys == keys and all(type(k) is bytes for k in got_keys)
            assert native.pick(like, want[0], keys, where, _wanted_ids()) == chunkscan._py_pick(
                data, want[0], keys, where, _wanted_ids()
            )


def test_wrong_arguments_raise_as_python_does(native: ModuleType) -> None:
    data = bytes(CHUNK_SIZE)
    for args in ((None, 600, 600), (data, None, 600), (data, 600, "600"), (12, 600, 600)):
        with pytest.raises(TypeError):
            native.walk(*args)
    _same(native, "walk", "text" * 200, 600, 600)  # str is no bytes-like object
    _same(native, "record_keys", data, None, 4)
    _same(native, "record_keys", data, [0, "x"], 4)
    _same(native, "record_keys", data, [0, 1.5], 4)
    _same(native, "record_keys", data, [0, 8], 4.0)
    _same(native, "record_keys", data, [], 4.0)  # no start: nothing to slice, no error
    keys = [b"k", b"k"]
    _same(native, "pick", data, [600, 700], keys, {b"k": 3}, None)  # wanted that is no container
    _same(native, "pick", data, [600, None], keys, {b"k": 3}, {b"\0\0"})
    _same(native, "pick", data, [600, 700], keys, {b"k": 1.5}, {b"\0\0"})
    _same(native, "pick", data, [600, 700], [bytearray(b"k")] * 2, {b"k": 3}, {b"\0\0"})  # unhashable key
    _same(native, "pick", data, [600, 700], keys, {b"j": 3}, {b"\0\0"})  # KeyError(b"k")
    _same(native, "pick", data, [600, 700, 800], keys, {b"k": 3}, {b"\0\0"})  # zip: keys shorter
    _same(native, "pick", data, [600], keys, {b"k": 3}, {b"\0\0"})  # zip: keys longer
    _same(native, "pick", data, [600, 700, 800], [b"k", b"j"], {b"k": 3}, {b"\0\0"})  # KeyError first
    _same(native, "pick", data, None, keys, {b"k": 3}, {b"\0\0"})
    for wanted in ([b"\0\0"], {b"\0\0": 1}, {memoryview(b"\0\0")}, frozenset({1, b"\0\0"})):
        _same(native, "pick", data, [600, 700], keys, {b"k": 3}, wanted)  # membership the Python way


def test_no_reference_or_memory_leaks(native: ModuleType, tmp_path: Path) -> None:
    """Thousands of calls, answers and errors alike, leave no object and no memory behind."""
    path = tmp_path / "leak.evtx"
    write_evtx(path, _events(300, seed=4))
    data, free, length = next(_chunks(path))
    starts = native.walk(data, free, length)[0] + [-5, 2**70, 10**6]
    keys = native.record_keys(data, starts, 22)
    where = dict.fromkeys(keys, 40) | {keys[0]: -1, keys[-1]: 2**65}
    wanted = frozenset({b"\x01\x00", b"", b"x"})
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (native.walk, (data, free, length)),
        (native.walk, (data[:5000], free, length)),  # struct.error
        (native.walk, (data, CHUNK_SIZE, length)),
        (native.record_keys, (data, starts, 22)),
        (native.record_keys, (data, starts, 2**66)),
        (native.pick, (data, starts, keys, where, wanted)),
        (native.pick, (data, starts, keys, where, [b"\x01\x00"])),
        (native.pick, (data, starts, keys[:-1], where, wanted)),  # ValueError
        (native.pick, (data, starts, keys, {}, wanted)),  # KeyError
        (native.record_keys, (data, [0, "x"], 22)),  # TypeError
    ]
    watched = [data, starts, keys, where, wanted, *keys[:3], *starts[:3]]

    def run(times: int) -> None:
        for _ in range(times):
            for function, args in calls:
                with contextlib.suppress(TypeError, ValueError, KeyError, struct.error):
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
    assert grown < 64 * 1024, f"{grown} bytes more after 3,000 calls"
