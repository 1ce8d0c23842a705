"""Per-record cost of the .evtx chunk scan (scan, keys_of, hits): Python vs the native module.

    python benchmarks/chunkscan_speed.py [FILE.evtx] [--records N] [--repeat R]

``readers.chunkscan`` runs three functions over every record of every chunk: ``scan`` follows the record
headers into packed arrays, ``keys_of`` finds each record's key (the distinct keys and a key index per
record), ``hits`` reads each record's EventID bytes at its key's offset and keeps the wanted ones whose
(EventID, provider) pair was not rejected before.  This prints what they cost per record, for the Python
functions and for the native translation (``analyzer.readers._chunkscan``, when it is built), called as
the reader calls them: every chunk as the reader passes it, binxml's key length, the EventID and provider
offsets ``binxml.ChunkTemplates`` locates per key, the IDs the loaded rules read, and the rejected pairs
the reader has collected after one pass over the file.

Two views, each the best of R passes:

* each call timed alone, on a chunk just read through (the reader computes the chunk's CRC32 before it
  scans, so the bytes are in the CPU cache); per chunk the best pass counts: calls take microseconds,
  and the best is one no other process interrupted;
* the CPU time (``time.process_time``) of whole passes over the file, the three calls per chunk, each
  chunk read through first as in the reader (a 64 MiB file does not stay in the CPU cache, and the
  record walk follows one size field to the next, so cold chunks would measure the memory's latency);
  the read-through alone is timed too and taken off.

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
    """Per chunk: the reader's arguments and the per-key offsets; and the records scanned cleanly."""
    filters = evidence_filter()
    wanted = binxml._wanted_id_bytes(filters.ids)
    located = []
    for data, free, length in chunks(path):
        scanned = chunkscan._py_scan(data, free, length)
        if not scanned:
            continue
        starts, sizes = scanned[0], scanned[1]
        templates = binxml.ChunkTemplates(data)
        binxml.wanted_records(templates, starts, sizes, filters)  # what the reader does: rejected pairs grow
        located.append((templates, data, free, length, starts))
    # Built after the pass above, so every chunk is read with the key length and rejected pairs a reader
    # has at the end of the file.
    rejected = binxml._judged_pairs(filters).rejected if filters.pairs else binxml._NO_PAIRS
    key_length = binxml._KEY_LENGTH[0]
    prepared = []
    records = 0
    for templates, data, free, length, starts in located:
        keys, _ = chunkscan._py_keys_of(data, starts, key_length)
        where = [templates.locate(key) or binxml._ONE_BY_ONE for key in keys]
        per_key = ([w.event_id_at for w in where], [w.provider_at for w in where], [w.provider_size for w in where])
        prepared.append((data, free, length, key_length, per_key, wanted, rejected))
        records += len(starts)
    return prepared, records


def per_call(functions: Functions, prepared: list[tuple[Any, ...]], repeat: int) -> list[float]:
    """Nanoseconds spent in scan, keys_of and hits over all chunks, each call timed alone."""
    scan, keys_of, hits = functions["scan"], functions["keys_of"], functions["hits"]
    clock = time.perf_counter_ns
    best = [[float("inf")] * 3 for _ in prepared]
    for _ in range(repeat):
        for chunk_best, (data, free, length, key_length, per_key, wanted, rejected) in zip(best, prepared, strict=True):
            zlib.crc32(data)  # read through, as the reader's CRC check does first
            t0 = clock()
            starts, sizes, _, _, _ = scan(data, free, length)
            t1 = clock()
            _, key_of = keys_of(data, starts, key_length)
            t2 = clock()
            hits(data, starts, sizes, key_of, per_key[0], wanted, per_key[1], per_key[2], rejected)
            t3 = clock()
            for i, spent in enumerate((t1 - t0, t2 - t1, t3 - t2)):
                chunk_best[i] = min(chunk_best[i], spent)
    overhead = min(-(clock() - clock()) for _ in range(1000))  # what one clock() call adds
    return [sum(b[i] - overhead for b in best) for i in range(3)]


def whole_pass(functions: Functions | None, prepared: list[tuple[Any, ...]], repeat: int) -> float:
    """CPU seconds of one pass over every chunk: the read-through (CRC32), then scan, keys_of, hits
    (only the read-through when ``functions`` is None)."""
    crc = zlib.crc32
    best = float("inf")
    if functions is None:
        for _ in range(repeat):
            started = time.process_time()
            for item in prepared:
                crc(item[0])
            best = min(best, time.process_time() - started)
        return best
    scan, keys_of, hits = functions["scan"], functions["keys_of"], functions["hits"]
    for _ in range(repeat):
        started = time.process_time()
        for data, free, length, key_length, per_key, wanted, rejected in prepared:
            crc(data)
            starts, sizes, _, _, _ = scan(data, free, length)
            _, key_of = keys_of(data, starts, key_length)
            hits(data, starts, sizes, key_of, per_key[0], wanted, per_key[1], per_key[2], rejected)
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
    rejected = len(prepared[0][-1]) if prepared else 0
    print(f"{path.name}: {len(prepared)} chunks, {records:,} records scanned cleanly, {rejected} rejected pairs")
    print(f"best of {args.repeat} passes")
    implementations: dict[str, Functions] = {
        "Python": {"scan": chunkscan._py_scan, "keys_of": chunkscan._py_keys_of, "hits": chunkscan._py_hits}
    }
    try:
        from analyzer.readers import _chunkscan  # type: ignore[attr-defined]
    except ImportError as error:
        print(f"native module not built ({error}): `pip install -e .` or `python setup.py build_ext --inplace`")
    else:
        implementations["native"] = vars(_chunkscan)
    print("\nns per record, each call timed alone on a chunk just read through (as in the reader):")
    print(f"{'':8} {'scan':>8} {'keys_of':>8} {'hits':>8} {'total':>8}")
    for name, functions in implementations.items():
        figures = [ns / records for ns in per_call(functions, prepared, args.repeat)]
        print(f"{name:8} " + " ".join(f"{f:8.1f}" for f in [*figures, sum(figures)]))
    read_through = whole_pass(None, prepared, args.repeat)
    print(
        f"\nCPU of whole passes (per chunk: CRC32 read-through, scan, keys_of, hits), the read-through "
        f"({read_through:.3f} s) taken off:"
    )
    for name, functions in implementations.items():
        seconds = whole_pass(functions, prepared, args.repeat) - read_through
        print(f"{name:8} {seconds:6.3f} s  {seconds * 1e9 / records:6.1f} ns per record")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
