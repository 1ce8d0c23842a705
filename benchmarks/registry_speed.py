"""Speed of the registry readers on the corpus' 11.8 MB SYSTEM hive and a 100,000-line .reg file.

    python benchmarks/registry_speed.py [--repeat N] [--tmp DIR] [--corpus]

Measures (median of N runs; every run opens the file afresh):

* point lookup: open the hive + ``Select\\Current`` + one deep value through CurrentControlSet
  (``analyzer.read_registry``), in-process and as a CLI process (``python -m analyzer registry``);
* full walk with every value decoded: our reader (backend auto and python; a walk lists subkeys
  with the reader's own cell parser either way, regipy_rs serves name lookups),
  regipy_rs alone (its own value decoding, trimmed), python-registry and libregf (pyregf);
  regipy's pure-Python value walk is not run (about six minutes for this hive);
* a .reg of 100,000 lines (REGEDIT 5.00, written by tests/writers/regtext_writers.py) parsed by
  analyzer/readers/regfile.py.

``--corpus`` also prints, for every hive of ../shared/corpus/hive, the keys/values we read, the
counts of libregf and python-registry, and our warnings.
"""

from __future__ import annotations

import argparse
import lzma
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CORPUS = Path(os.environ.get("ANALYZER_CORPUS", REPO.parent / "shared" / "corpus"))
DEEP_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management\PrefetchParameters"
DEEP_VALUE = "EnablePrefetcher"
REG_LINES = 100_000


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, float, object]:
    """(first wall time, median wall time, median CPU time of this process, result of the last run).

    CPU time is printed too because the machine is shared: it is what the reader costs, while
    wall time also holds waiting for other people's processes.
    """
    walls, cpus = [], []
    result: object = None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return walls[0], statistics.median(walls), statistics.median(cpus), result


# --------------------------------------------------------------------------- what is measured


def point_lookup(path: Path, backend: str = "auto") -> object:
    from analyzer.readers import hive
    from analyzer.registry import Registry, read_registry

    reg = read_registry(str(path)) if backend == "auto" else Registry(hive.read(str(path), backend=backend))
    current = reg.select()["Current"]
    value = reg.value(DEEP_KEY, DEEP_VALUE)
    return current, value.data if value else None


def walk_ours(path: Path, backend: str) -> tuple[int, int]:
    from analyzer.readers import hive

    stack = [hive.read(str(path), backend=backend).root]
    keys = values = 0
    while stack:
        node = stack.pop()
        keys += 1
        values += len(node.values())
        stack.extend(node.subkeys())
    return keys, values


def walk_regipy_rs(path: Path) -> tuple[int, int]:
    import regipy_rs

    stack = [regipy_rs.RegistryHive(str(path)).root()]
    keys = values = 0
    while stack:
        nk = stack.pop()
        keys += 1
        if nk.values_count:
            found, _error = nk.values()  # trimmed: untrimmed data explodes on DriverDatabase types
            values += len(found)
        if nk.subkey_count:
            stack.extend(nk.subkeys())
    return keys, values


def walk_python_registry(path: Path) -> tuple[int, int]:
    from Registry import Registry

    stack = [Registry.Registry(str(path)).root()]
    keys = values = 0
    while stack:
        key = stack.pop()
        keys += 1
        for value in key.values():
            value.value()
            values += 1
        stack.extend(key.subkeys())
    return keys, values


def walk_libregf(path: Path) -> tuple[int, int]:
    import pyregf

    f = pyregf.file()
    f.open(str(path))
    stack = [f.get_root_key()]
    keys = values = 0
    while stack:
        key = stack.pop()
        keys += 1
        for value in key.values:
            value.data  # noqa: B018 - fetch the data, as the other walkers do
            values += 1
        stack.extend(key.sub_keys)
    f.close()
    return keys, values


def make_reg_file(path: Path, lines: int) -> int:
    """A REGEDIT 5.00 file of about ``lines`` lines; returns the real line count."""
    from analyzer.model import RegistryKey, RegistryValue
    from tests.writers.regtext_writers import write_reg

    root = RegistryKey("")
    bench = root.ensure_path(["HKEY_LOCAL_MACHINE", "SOFTWARE", "Bench"])
    per_key = 16  # [key] + 7 values (binary and multi-string wrap over several lines) + blank line
    for i in range(lines // per_key):
        key = bench.add_subkey(f"Key{i:06d}")
        key.set_value(RegistryValue("Name", "REG_SZ", f"value {i}", None))
        key.set_value(RegistryValue("Path", "REG_EXPAND_SZ", "%SystemRoot%\\system32\\x.dll", None))
        key.set_value(RegistryValue("Count", "REG_DWORD", i, None))
        key.set_value(RegistryValue("Big", "REG_QWORD", i * 7919, None))
        key.set_value(RegistryValue("Blob", "REG_BINARY", bytes(range(48)), None))
        key.set_value(
            RegistryValue("Logon Only As", "REG_MULTI_SZ", ["/o=Org/ou=Site/cn=a", "/o=Org/ou=Site/cn=b"], None)
        )
        key.set_value(RegistryValue("", "REG_SZ", "default", None))
    write_reg(path, root, version=5)
    return path.read_bytes().decode("utf-16").count("\n")


def parse_reg(path: Path) -> tuple[int, int]:
    from analyzer.readers import regfile

    stack = [regfile.read(str(path)).root]
    keys = values = 0
    while stack:
        node = stack.pop()
        keys += 1
        values += len(node.values())
        stack.extend(node.subkeys())
    return keys, values


# --------------------------------------------------------------------------- corpus table


def corpus_table(tmp: Path) -> list[list[object]]:
    import pyregf
    from Registry import Registry

    from analyzer.model import InputError
    from analyzer.readers import hive

    folder = CORPUS / "hive"
    work = tmp / "corpus"
    work.mkdir(exist_ok=True)
    for src in sorted(folder.iterdir()):
        dst = work / src.name.removesuffix(".xz")
        if src.suffix == ".xz":
            with lzma.open(src) as fin, open(dst, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        else:
            shutil.copyfile(src, dst)
    rows = []
    for path in sorted(work.iterdir()):
        if path.suffix.upper() in (".LOG1", ".LOG2", ".LOG"):
            continue
        warnings: list = []
        try:
            stack = [hive.read(str(path), warn=warnings.append).root]
            keys = values = 0
            while stack:
                node = stack.pop()
                keys += 1
                values += len(node.values())
                stack.extend(node.subkeys())
            ours = f"{keys} / {values}"
        except InputError as exc:
            ours = f"refused: {exc.reason}"
        rows.append([path.name, ours, _count_libregf(pyregf, path), _count_pyreg(Registry, path), _summary(warnings)])
    return rows


def _count_libregf(pyregf, path: Path) -> str:
    try:
        f = pyregf.file()
        f.open(str(path))
        stack = [f.get_root_key()]
        keys = values = 0
        while stack:
            key = stack.pop()
            keys += 1
            values += key.number_of_values
            stack.extend(key.sub_keys)
        return f"{keys} / {values}"
    except Exception as exc:
        return f"error: {str(exc).split(':')[0]}"


def _count_pyreg(Registry, path: Path) -> str:
    try:
        stack = [Registry.Registry(str(path)).root()]
        keys = values = 0
        while stack:
            key = stack.pop()
            keys += 1
            try:
                values += len(key.values())
                stack.extend(key.subkeys())
            except Exception:
                continue
        return f"{keys} / {values}"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _summary(warnings: list) -> str:
    if not warnings:
        return "-"
    first = warnings[0].message
    return f"{len(warnings)}: {first[:90]}"


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tmp", type=Path, default=None)
    parser.add_argument("--corpus", action="store_true", help="also print the corpus table")
    args = parser.parse_args()
    from tabulate import tabulate

    source = CORPUS / "hive" / "regipy__SYSTEM.xz"
    if not source.exists():
        print(f"corpus file not found: {source}", file=sys.stderr)
        return 2
    if args.tmp:  # a folder that does not exist yet is made, as scaling.py does
        os.makedirs(args.tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        hive_path = tmp / "SYSTEM"
        with lzma.open(source) as fin, open(hive_path, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        size_mb = hive_path.stat().st_size / 1e6
        rows: list[list[object]] = []

        label = "point lookup (open + Select\\Current + deep value), in-process"
        first, median, cpu, result = timed(lambda: point_lookup(hive_path), args.repeat)
        rows.append([label, first, median, cpu, result, "<= 0.3 s"])
        first, median, cpu, result = timed(lambda: point_lookup(hive_path, "python"), args.repeat)
        rows.append(["same, backend python (lookups by the cell parser)", first, median, cpu, result, ""])
        cli = [sys.executable, "-m", "analyzer", "registry", str(hive_path), "--key", DEEP_KEY, "--format", "json"]
        first, median, _, done = timed(lambda: subprocess.run(cli, cwd=REPO, capture_output=True), args.repeat)
        code = getattr(done, "returncode", None)
        rows.append(["same through the CLI (new process, imports included)", first, median, None, f"exit {code}", ""])

        walks: list[tuple[str, Callable[[], object], int]] = [
            ("regipy_rs alone (its own trimmed value decoding)", lambda: walk_regipy_rs(hive_path), args.repeat),
            (
                "ours, backend auto (regipy_rs for lookups), values decoded + raw",
                lambda: walk_ours(hive_path, "rs"),
                args.repeat,
            ),
            (
                "ours, backend python, values decoded + raw",
                lambda: walk_ours(hive_path, "python"),
                args.repeat,
            ),
            ("libregf (pyregf), all values' data", lambda: walk_libregf(hive_path), args.repeat),
            ("python-registry, all values decoded", lambda: walk_python_registry(hive_path), 1),
        ]
        reference = None
        for label, fn, repeat in walks:
            first, median, cpu, result = timed(fn, repeat)
            reference = reference or cpu
            rows.append([f"full walk: {label}", first, median, cpu, result, f"CPU {cpu / reference:.1f}x regipy_rs"])

        regfile = REPO / "analyzer" / "readers" / "regfile.py"
        if regfile.exists():
            reg_path = tmp / "bench.reg"
            lines = make_reg_file(reg_path, REG_LINES)
            first, median, cpu, result = timed(lambda: parse_reg(reg_path), args.repeat)
            size = reg_path.stat().st_size / 1e6
            rows.append([f".reg 5.00 (UTF-16), {lines} lines, {size:.1f} MB", first, median, cpu, result, "<= 1 s"])
        else:
            rows.append([".reg parse", None, None, None, "skipped: analyzer/readers/regfile.py not present", ""])

        print(f"SYSTEM hive: {size_mb:.1f} MB (regipy__SYSTEM.xz); times in seconds; {args.repeat} runs")
        table = [[r[0], _s(r[1]), _s(r[2]), _s(r[3]), r[4], r[5]] for r in rows]
        headers = ["measurement", "wall first", "wall median", "CPU median", "result (keys, values)", "note"]
        print(tabulate(table, headers=headers, disable_numparse=True))
        if args.corpus:
            print()
            print(
                tabulate(
                    corpus_table(tmp),
                    headers=["file", "ours keys / values", "libregf", "python-registry", "our warnings"],
                )
            )
    return 0


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
