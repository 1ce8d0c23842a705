"""Damaged-evidence campaign: our readers vs independent parsers on the same damaged bytes.

    python benchmarks/damage_report.py [--variants N] [--max-size BYTES] [--details] [--backends rust,python]
                                       [--python-max-size BYTES]

For every corpus file (../shared/corpus: .evt, .evtx, hives) and every writer-made file, builds damaged
copies -- truncated at many offsets, single bit flips in the file header, in chunk / hbin headers, in
records and in string tables -- and counts the records each parser still gets out of the same bytes:

* .evt: our reader vs libevt (pyevt: records + recovered records);
* .evtx: our reader (each backend) vs libevtx (pyevtx: records + recovered records);
* hives: values reached by walking the tree with our reader vs python-registry and libregf (pyregf).

The table has one row per (damage kind, reader): damaged variants, records we read, records of the best
independent parser, variants where we got fewer ("short"), warnings we issued, clean InputErrors and
crashes (any other exception).  Why: a support engineer must never lose a readable record by using
this tool instead of a forensic library; the "short" column must be 0 or explained.
"""

from __future__ import annotations

import argparse
import contextlib
import lzma
import os
import random
import struct
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from analyzer.model import InputError  # noqa: E402

CORPUS = Path(os.environ.get("ANALYZER_CORPUS", REPO.parent / "shared" / "corpus"))
MAX_NODES = 500_000


# --------------------------------------------------------------------------- damage


def _evt_regions(data: bytes) -> dict[str, list[tuple[int, int]]]:
    """Header, records, their string areas and the end-of-file record of a .evt image."""
    regions: dict[str, list[tuple[int, int]]] = {"header": [(0, 0x30)], "chunk": [], "record": [], "strings": []}
    at = data.find(b"LfLe", 4)
    while at != -1:
        start = at - 4
        (length,) = struct.unpack_from("<I", data, start) if start >= 0 else (0,)
        if length == 0x28 and data[start + 8 : start + 12] == b"\x22\x22\x22\x22":
            regions["chunk"].append((start, start + 0x28))  # end-of-file record
        elif 0x38 <= length <= 0x10000 and start + length <= len(data):
            regions["record"].append((start, start + length))
            (str_off,) = struct.unpack_from("<I", data, start + 0x24)
            (data_off,) = struct.unpack_from("<I", data, start + 0x30)
            if 0x38 <= str_off < data_off <= length:
                regions["strings"].append((start + str_off, start + data_off))
        at = data.find(b"LfLe", at + 4)
    return regions


def _evtx_regions(data: bytes) -> dict[str, list[tuple[int, int]]]:
    regions: dict[str, list[tuple[int, int]]] = {"header": [(0, 128)], "chunk": [], "record": [], "strings": []}
    for base in range(4096, len(data), 65536):
        if data[base : base + 8] != b"ElfChnk\x00":
            continue
        regions["chunk"].append((base, base + 128))
        regions["strings"].append((base + 128, base + 512))  # common-string and template offset tables
        (free,) = struct.unpack_from("<I", data, base + 48)
        regions["record"].append((base + 512, base + min(max(free, 512), 65536)))
    return regions


def _hive_regions(data: bytes) -> dict[str, list[tuple[int, int]]]:
    regions: dict[str, list[tuple[int, int]]] = {"header": [(0, 512)], "chunk": [], "record": [], "strings": []}
    at = data.find(b"hbin", 4096)
    while at != -1:
        regions["chunk"].append((at, at + 32))
        regions["record"].append((at + 32, min(len(data), at + 4096)))
        at = data.find(b"hbin", at + 4096)
    at = data.find(b"vk", 4096)
    while at != -1 and len(regions["strings"]) < 5000:
        name_len = struct.unpack_from("<H", data, at + 2)[0] if at + 4 <= len(data) else 0
        if 0 < name_len < 256:
            regions["strings"].append((at + 20, at + 20 + name_len))
        at = data.find(b"vk", at + 2)
    return regions


REGIONS = {"evt": _evt_regions, "evtx": _evtx_regions, "hive": _hive_regions}


def damaged(data: bytes, fmt: str, rng: random.Random, variants: int) -> Iterator[tuple[str, str, bytes]]:
    """(kind, where, bytes) for truncations at spread offsets and bit flips in each region kind."""
    n = len(data)
    for i in range(1, variants + 1):
        cut = (n * i) // (variants + 1) + rng.randrange(-64, 65)
        cut = max(1, min(n - 1, cut))
        yield "truncate", f"@{cut}", data[:cut]
    regions = REGIONS[fmt](data)
    for kind, spans in regions.items():
        spans = [(a, b) for a, b in spans if b > a and b <= n]
        if not spans:
            continue
        for _ in range(variants):
            a, b = rng.choice(spans)
            at = rng.randrange(a, b)
            bit = rng.randrange(8)
            buf = bytearray(data)
            buf[at] ^= 1 << bit
            yield f"flip-{kind}", f"@{at}.{bit}", bytes(buf)


# --------------------------------------------------------------------------- parsers


@dataclass
class Result:
    records: int = 0
    warnings: int = 0
    error: bool = False
    crash: str | None = None


def _ours_events(path: str, fmt: str, backend: str | None) -> Result:
    from analyzer.readers import evt, evtx

    res = Result()

    def warn(_w: object) -> None:
        res.warnings += 1

    try:
        it = evt.read(path, warn=warn) if fmt == "evt" else evtx.read(path, warn=warn, backend=backend)
        for _ in it:
            res.records += 1
    except InputError:
        res.error = True
    except Exception as exc:  # a crash is a finding, reported in the table
        res.crash = f"{type(exc).__name__}: {exc}"[:200]
    return res


def _walk_ours(key: object, count: list[int], depth: int = 0) -> None:
    if depth > 512 or count[0] > MAX_NODES:
        return
    count[0] += len(key.values())  # type: ignore[attr-defined]
    for sub in key.subkeys():  # type: ignore[attr-defined]
        _walk_ours(sub, count, depth + 1)


def _ours_hive(path: str, fmt: str, backend: str | None) -> Result:
    from analyzer.readers import hive

    res = Result()

    def warn(_w: object) -> None:
        res.warnings += 1

    try:
        reg = hive.read(path, warn=warn, logs=False)
        count = [0]
        if reg.root is not None:
            _walk_ours(reg.root, count)
        res.records = count[0]
    except InputError:
        res.error = True
    except Exception as exc:
        res.crash = f"{type(exc).__name__}: {exc}"[:200]
    return res


def _libyal_events(path: str, module: str) -> int:
    """Records libevt/libevtx can decode, recovered ones included but counted once.

    libyal reports a record found both in the live log and in slack space (or twice in slack) under
    each list; a record is identified by (record number, written time, event ID).
    """
    import importlib

    lib = importlib.import_module(module)
    f = lib.file()
    try:
        f.open(path)
    except OSError:
        return 0
    seen: set[tuple[int, int, int]] = set()
    try:
        for getter, count in (
            (f.get_record, f.number_of_records),
            (f.get_recovered_record, f.number_of_recovered_records),
        ):
            for i in range(count):
                try:
                    rec = getter(i)
                    # a record counts when its fields decode, as ours must (libyal reads lazily)
                    key = (rec.get_identifier(), rec.get_written_time_as_integer(), rec.get_event_identifier())
                    rec.get_source_name()
                    if module == "pyevtx":
                        rec.get_xml_string()
                    else:
                        [rec.get_string(k) for k in range(rec.get_number_of_strings())]
                    seen.add(key)
                except (OSError, UnicodeError, ValueError):
                    continue
    finally:
        f.close()
    return len(seen)


def _pyregf_values(path: str) -> int:
    import pyregf

    f = pyregf.file()
    try:
        f.open(path)
        root = f.get_root_key()
    except OSError:
        return 0
    count = 0
    stack = [(root, 0)] if root is not None else []
    while stack and count < MAX_NODES:
        key, depth = stack.pop()
        try:
            for i in range(key.get_number_of_values()):
                try:  # a value counts when its cell and data decode (the count field alone proves nothing)
                    value = key.get_value(i)
                    _ = (value.name, value.type, value.data)
                    count += 1
                except OSError:
                    continue
            subs = [key.get_sub_key(i) for i in range(key.get_number_of_sub_keys())] if depth < 512 else []
        except OSError:
            continue
        stack.extend((s, depth + 1) for s in subs)
    f.close()
    return count


def _pyregistry_values(path: str) -> int:
    from Registry import Registry

    try:
        reg = Registry.Registry(path)
        root = reg.root()
    except Exception:  # python-registry raises many types on damaged hives; it is only the referee
        return 0
    count = 0
    stack = [(root, 0)]
    while stack and count < MAX_NODES:
        key, depth = stack.pop()
        with contextlib.suppress(Exception):
            count += len(key.values())
        try:
            subs = key.subkeys() if depth < 512 else []
        except Exception:
            continue
        stack.extend((s, depth + 1) for s in subs)
    return count


INDEPENDENT: dict[str, list[tuple[str, Callable[[str], int]]]] = {
    "evt": [("libevt", lambda p: _libyal_events(p, "pyevt"))],
    "evtx": [("libevtx", lambda p: _libyal_events(p, "pyevtx"))],
    "hive": [("python-registry", _pyregistry_values), ("libregf", _pyregf_values)],
}


# --------------------------------------------------------------------------- inputs


def _writer_files() -> list[tuple[str, str, bytes]]:
    from fuzz.seeds import _writer_bytes, sample_events, system_hive_bytes
    from tests.writers.evt_writer import write_evt
    from tests.writers.evtx_writer import write_evtx

    events = sample_events(300)
    return [
        ("evt", "writer:plain.evt", _writer_bytes(lambda p: write_evt(p, events))),
        ("evt", "writer:wrapped.evt", _writer_bytes(lambda p: write_evt(p, events, max_size=16384, wrap=True))),
        ("evtx", "writer:3chunks.evtx", _writer_bytes(lambda p: write_evtx(p, events, records_per_chunk=100))),
        ("hive", "writer:SYSTEM", system_hive_bytes()),
    ]


def _corpus_files(max_size: int) -> list[tuple[str, str, bytes]]:
    out = []
    for folder in ("evt", "evtx", "hive"):
        root = CORPUS / folder
        if not root.is_dir():
            continue
        for path in sorted(root.iterdir()):
            name = path.name
            if ".LOG" in name.upper():
                continue  # transaction logs are not hives on their own
            data = lzma.decompress(path.read_bytes()) if name.endswith(".xz") else path.read_bytes()
            if len(data) <= max_size:
                out.append((folder, f"corpus:{name.removesuffix('.xz')}", data))
    return out


# --------------------------------------------------------------------------- campaign


@dataclass
class Row:
    variants: int = 0
    ours: int = 0
    best: int = 0
    short: int = 0
    warnings: int = 0
    errors: int = 0
    crashes: int = 0
    examples: list[str] = field(default_factory=list)


def run(variants: int, max_size: int, backends: list[str], python_max: int) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = defaultdict(Row)
    files = _writer_files() + _corpus_files(max_size)
    with tempfile.TemporaryDirectory(prefix="damage-") as tmp:
        path = os.path.join(tmp, "damaged")
        for fmt, name, data in files:
            rng = random.Random(name)
            readers = [(fmt, None)]
            if fmt == "evtx":  # the pure-Python backend is ~50x slower: big files only with the Rust one
                readers = [(f"evtx/{b}", b) for b in backends if b == "rust" or len(data) <= python_max]
            for kind, where, blob in damaged(data, fmt, rng, variants):
                with open(path, "wb") as fh:
                    fh.write(blob)
                best = max(fn(path) for _, fn in INDEPENDENT[fmt])
                for label, backend in readers:
                    res = (_ours_hive if fmt == "hive" else _ours_events)(path, fmt, backend)
                    row = rows[(kind, label)]
                    row.variants += 1
                    row.ours += res.records
                    row.best += best
                    row.warnings += res.warnings
                    row.errors += res.error
                    row.crashes += res.crash is not None
                    if res.records < best or res.crash:
                        row.short += res.records < best
                        row.examples.append(f"{name} {kind}{where}: ours {res.records} vs {best} {res.crash or ''}")
            print(f"  done {name} ({len(data)} bytes)", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=8, help="variants per damage kind per file (default 8)")
    parser.add_argument("--max-size", type=int, default=4_000_000, help="skip corpus files larger than this")
    parser.add_argument(
        "--python-max-size", type=int, default=300_000, help="evtx files given to the python backend (default 300 kB)"
    )
    parser.add_argument("--backends", default="rust,python", help="evtx backends to compare (default rust,python)")
    parser.add_argument("--details", action="store_true", help="list every variant where we read fewer records")
    args = parser.parse_args(argv)
    rows = run(args.variants, args.max_size, args.backends.split(","), args.python_max_size)
    from tabulate import tabulate

    table = [
        [kind, reader, r.variants, r.ours, r.best, r.short, r.warnings, r.errors, r.crashes]
        for (kind, reader), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    headers = ["damage", "reader", "variants", "records (ours)", "records (best indep.)", "short", "warnings"]
    print(tabulate(table, headers=[*headers, "InputErrors", "crashes"], tablefmt="github"))
    if args.details:
        for (_kind, reader), r in sorted(rows.items()):
            for line in r.examples:
                print(f"[{reader}] {line}")
    return 1 if any(r.crashes for r in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
