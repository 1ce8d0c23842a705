"""Per-record cost of the .evtx chunk scan (walk, record_keys, pick): Python vs the native module.

    python benchmarks/chunkscan_speed.py [FILE.evtx] [--records N] [--repeat R]

``readers.chunkscan`` runs three small functions over every record of every chunk: ``walk`` follows the
record headers, ``record_keys`` slices each record's key, ``pick`` reads each record's EventID bytes and
looks them up.  This prints what they cost per record, for the Python functions and for the native
translation (``analyzer.readers._chunkscan``, when it is built), called as the reader calls them: every
chunk as the reader passes it, the key length and EventID offsets ``binxml.ChunkTemplates`` gives, the
IDs the loaded rules read, the key dict built from the keys just sliced.

Two views, each the best of R passes:

* each call timed alone, on a chunk just read through (the reader computes the chunk's CRC32 before it
  walks, so the bytes are in the CPU cache); per chunk the best pass counts: calls take microseconds,
  and the best is one no other process interrupted;
* the CPU time (``time.process_time``) of whole passes over the file, the caller's key dict included,
  with chunks coming from memory in turn (none read through first).

Without FILE, an N-record Application-like log (``read_speed.application_events``, default 300,000) is
written to a temporary directory first.  The inputs are prepared once and kept in memory.
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from analyzer.readers import binxml, chunkscan  # noqa: E402
from analyzer.rules import evidence_filter  # noqa: E402

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
Functions = dict[str, Callable[..., Any]]


def chunks(path: Path) -> list[tuple[bytes, int, int]]:
    """(data, free, length) per chunk, as the reader passes them (data padded to 64 KiB)."""
    out = []
    with open(path, "rb") as fh:
        fh.seek(FILE_HEADER_SIZE)
        while data := fh.read(CHUNK_SIZE):
            length = len(data)
            data += bytes(CHUNK_SIZE - length)
            free = struct.unpack_from("<I", data, 48)[0]
            out.append((data, free if 512 <= free <= CHUNK_SIZE else CHUNK_SIZE, length))
    return out


def prepare(path: Path) -> tuple[list[tuple[Any, ...]], int]:
    """Per chunk: the reader's arguments and each key's EventID offset; and the records walked cleanly."""
    wanted = frozenset(event_id.to_bytes(2, "little") for event_id in evidence_filter().ids)
    prepared = []
    records = 0
    for data, free, length in chunks(path):
        walked = chunkscan._py_walk(data, free, length)
        if not walked:
            continue
        starts = walked[0]
        templates = binxml.ChunkTemplates(data)
        while True:  # the key length grows until every key says where its EventID is (as in the reader)
            key_length = binxml._KEY_LENGTH[0]
            keys = chunkscan._py_record_keys(data, starts, key_length)
            located = {key: templates.locate(key) for key in set(keys)}
            if None not in located.values():
                break
        offsets = {key: loc.event_id_at for key, loc in located.items()}  # type: ignore[union-attr]
        prepared.append((data, free, length, key_length, offsets, wanted))
        records += len(starts)
    return prepared, records


def per_call(functions: Functions, prepared: list[tuple[Any, ...]], repeat: int) -> list[float]:
    """Nanoseconds spent in walk, record_keys and pick over all chunks, each call timed alone."""
    walk, record_keys, pick = functions["walk"], functions["record_keys"], functions["pick"]
    clock = time.perf_counter_ns
    best = [[float("inf")] * 3 for _ in prepared]
    for _ in range(repeat):
        for chunk_best, (data, free, length, key_length, offsets, wanted) in zip(best, prepared, strict=True):
            zlib.crc32(data)  # read through, as the reader's CRC check does first
            t0 = clock()
            starts = walk(data, free, length)[0]
            t1 = clock()
            keys = record_keys(data, starts, key_length)
            t2 = clock()
            event_id_at = {key: offsets[key] for key in set(keys)}  # the caller's part, not timed
            t3 = clock()
            pick(data, starts, keys, event_id_at, wanted)
            t4 = clock()
            for i, spent in enumerate((t1 - t0, t2 - t1, t4 - t3)):
                chunk_best[i] = min(chunk_best[i], spent)
    overhead = min(-(clock() - clock()) for _ in range(1000))  # what one clock() call adds
    return [sum(b[i] - overhead for b in best) for i in range(3)]


def whole_pass(functions: Functions, prepared: list[tuple[Any, ...]], repeat: int) -> float:
    """CPU seconds of one pass over every chunk: walk, record_keys, the caller's key dict, pick."""
    walk, record_keys, pick = functions["walk"], functions["record_keys"], functions["pick"]
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for data, free, length, key_length, offsets, wanted in prepared:
            starts = walk(data, free, length)[0]
            keys = record_keys(data, starts, key_length)
            pick(data, starts, keys, {key: offsets[key] for key in set(keys)}, wanted)
        best = min(best, time.process_time() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help="an .evtx file (default: write one)")
    parser.add_argument("--records", type=int, default=300_000, help="records of the written log")
    parser.add_argument("--repeat", type=int, default=7, help="passes per figure (the best is kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            from benchmarks.read_speed import application_events
            from tests.writers.evtx_writer import write_evtx

            path = Path(tmp) / f"app-{args.records}.evtx"
            write_evtx(path, application_events(args.records))
        prepared, records = prepare(path)
    print(f"{path.name}: {len(prepared)} chunks, {records:,} records walked cleanly; best of {args.repeat} passes")
    implementations: dict[str, Functions] = {
        "Python": {"walk": chunkscan._py_walk, "record_keys": chunkscan._py_record_keys, "pick": chunkscan._py_pick}
    }
    try:
        from analyzer.readers import _chunkscan  # type: ignore[attr-defined]
    except ImportError as error:
        print(f"native module not built ({error}): `pip install -e .` or `python setup.py build_ext --inplace`")
    else:
        implementations["native"] = vars(_chunkscan)
    print("\nns per record, each call timed alone on a chunk just read through (as in the reader):")
    print(f"{'':8} {'walk':>8} {'keys':>8} {'pick':>8} {'total':>8}")
    for name, functions in implementations.items():
        figures = [ns / records for ns in per_call(functions, prepared, args.repeat)]
        print(f"{name:8} " + " ".join(f"{f:8.1f}" for f in [*figures, sum(figures)]))
    print("\nCPU of whole passes (walk, keys, the caller's key dict, pick; chunks not read through first):")
    for name, functions in implementations.items():
        seconds = whole_pass(functions, prepared, args.repeat)
        print(f"{name:8} {seconds:6.3f} s  {seconds * 1e9 / records:6.1f} ns per record")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
