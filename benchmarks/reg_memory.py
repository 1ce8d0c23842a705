"""Peak memory of the .reg reader (analyzer/readers/regfile.py) on large and hostile files.

    python benchmarks/reg_memory.py [--mb 200] [--line-mb 272] [--tmp DIR] [--keep]

Writes, then reads each file in a fresh child process and prints its peak resident set size:

* ``blobs``: a 5.00 export (UTF-16LE, regedit's layout) of ``--mb`` MB whose values are wrapped
  ``hex:`` blobs of 64 KiB -- the tree holds about a sixth of the file's size in bytes;
* ``small``: a 5.00 export of ``--mb`` MB of keys with small string/dword/multi-string values --
  the worst case for the tree (hundreds of thousands of Python objects);
* ``one-line``: a REGEDIT4 file of ``--line-mb`` MB that is one single line of hex data (a hostile
  file): the reader streams the line in 1 Mi-character chunks and drops the value at the per-value
  cap (16 MiB) with a warning;
* ``one-line-string``: the same size as one quoted string on one line: dropped at the first chunk.

Peak RSS comes from ``resource`` (Unix) or psutil's peak working set (Windows), measured in a child
process that does nothing but import the reader and read the file (a baseline interpreter with the
package imported is about 20 MB).  Times are wall-clock and depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MB = 1_000_000

CHILD = r"""
import sys, time
from analyzer.readers import regfile
warnings = []
start = time.perf_counter()
file = regfile.read(sys.argv[1], warn=warnings.append)
elapsed = time.perf_counter() - start
try:
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
except ImportError:  # Windows
    import psutil
    rss = psutil.Process().memory_info().peak_wset
print(f"{rss} {elapsed:.1f} {file.keys_read} {file.values_read} {len(warnings)}")
for w in warnings[:2]:
    print("  warning:", w.message[:150])
"""


def _wrapped_hex(data: bytes, first: int) -> str:
    """regedit's wrapping: bytes up to column ~77, then 25 per line with a two-space indent."""
    items = [f"{b:02x}" for b in data]
    head, rest = items[:first], items[first:]
    lines = [",".join(head)] + [",".join(rest[i : i + 25]) for i in range(0, len(rest), 25)]
    return ",\\\r\n  ".join(line for line in lines if line)


def write_blobs(path: Path, size: int) -> None:
    blob = bytes(range(256)) * 256  # 64 KiB
    with open(path, "wb") as out:
        out.write(b"\xff\xfe" + "Windows Registry Editor Version 5.00\r\n\r\n".encode("utf-16-le"))
        n = 0
        while out.tell() < size:
            text = f'[HKEY_LOCAL_MACHINE\\SOFTWARE\\Blobs\\K{n // 8}]\r\n"Blob{n}"=hex:{_wrapped_hex(blob, 20)}\r\n\r\n'
            out.write(text.encode("utf-16-le"))
            n += 1


def write_small(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        out.write(b"\xff\xfe" + "Windows Registry Editor Version 5.00\r\n\r\n".encode("utf-16-le"))
        n = 0
        multi = "2f,00,6f,00,3d,00,43,00,6f,00,6e,00,74,00,6f,00,73,00,6f,00,00,00,00,00"
        while out.tell() < size:
            lines = [f"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Small\\Group{n // 100}\\Key{n}]"]
            lines += [f'"Name{i}"="Some value number {n}-{i} of a key"' for i in range(4)]
            lines += [f'"Count"=dword:{n:08x}', f'"List"=hex(7):{multi}', ""]
            out.write(("\r\n".join(lines) + "\r\n").encode("utf-16-le"))
            n += 1


def write_one_line(path: Path, size: int, string: bool) -> None:
    chunk = b"41," * 100_000
    with open(path, "wb") as out:
        out.write(b'REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Huge]\r\n"Huge"=' + (b'"' if string else b"hex:"))
        while out.tell() < size:
            out.write(chunk.replace(b",", b"") if string else chunk)
        out.write(b'"\r\n' if string else b"41\r\n")
        out.write(b'"After"="still read"\r\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the two export files (MB)")
    parser.add_argument("--line-mb", type=int, default=272, help="size of the one-line files (MB)")
    parser.add_argument("--tmp", default=None, help="where to write the files")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args()
    if args.tmp:  # a folder that does not exist yet is made, as scaling.py does
        os.makedirs(args.tmp, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="reg_memory_", dir=args.tmp))
    cases = [
        ("blobs", lambda p: write_blobs(p, args.mb * MB)),
        ("small", lambda p: write_small(p, args.mb * MB)),
        ("one-line", lambda p: write_one_line(p, args.line_mb * MB, string=False)),
        ("one-line-string", lambda p: write_one_line(p, args.line_mb * MB, string=True)),
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    print(f"python {sys.version.split()[0]} on {sys.platform}; files in {tmp}")
    print(f"{'file':<16} {'size MB':>8} {'peak RSS MB':>12} {'read s':>7} {'keys':>8} {'values':>9} warn")
    try:
        for name, write in cases:
            path = tmp / f"{name}.reg"
            started = time.perf_counter()
            write(path)
            size = path.stat().st_size
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True, check=True
            )
            first, *rest = result.stdout.splitlines()
            rss, elapsed, keys, values, warned = first.split()
            print(f"{name:<16} {size / MB:>8.0f} {int(rss) / MB:>12.0f} {elapsed:>7} {keys:>8} {values:>9} {warned}")
            for line in rest:
                print(line)
            if not args.keep:
                path.unlink()
            del started
    finally:
        if not args.keep:
            for leftover in tmp.iterdir():
                leftover.unlink()
            tmp.rmdir()


if __name__ == "__main__":
    main()
