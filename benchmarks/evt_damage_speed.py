"""Time of the .evt reader on pathological files: linear in the size, whatever the damage.

    python benchmarks/evt_damage_speed.py [--sizes 8,16,32,62] [--tmp DIR]

For each size (MB) three files are built and read by ``analyzer events --format jsonl`` in a child
process; CPU seconds (user + system, from ``os.wait4``: not disturbed by other load on the machine)
and wall seconds are printed with CPU seconds per MB, which must stay flat as the size grows:

* ``bare``: nothing but the 4-byte record signature ``LfLe``, repeated (a 62 MB file of it took
  142 s before the candidate search and the per-window attempt bound);
* ``plausible``: ``length=0x38, LfLe`` pairs, every one a candidate whose tail does not match;
* ``mixed``: every damage at once: real records (the project's writer) with cut lengths, false
  signatures between them, zeroed and random regions, a cut trailing copy of the length.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MB = 1 << 20


def build(kind: str, size: int, path: Path) -> None:
    header = b"\x30\x00\x00\x00LfLe" + bytes(0x28)
    if kind == "bare":
        body = b"LfLe" * (size // 4)
    elif kind == "plausible":
        body = b"\x38\x00\x00\x00LfLe" * (size // 8)
    else:
        from tests.writers.evt_writer import encode_record, sample_events

        rng = random.Random(13)
        records = [encode_record(ev, n + 1) for n, ev in enumerate(sample_events(2_000))]
        parts: list[bytes] = []
        total = 0
        while total < size:
            rec = bytearray(records[rng.randrange(len(records))])
            damage = rng.randrange(6)
            if damage == 0:
                rec[0:4] = (len(rec) + 4 * rng.randrange(1, 50)).to_bytes(4, "little")  # wrong length
            elif damage == 1:
                rec[-4:] = b"\x00\x00\x00\x00"  # cut trailing copy
            elif damage == 2:
                rec += b"\x38\x00\x00\x00LfLe" * rng.randrange(1, 64)  # false signatures
            elif damage == 3:
                rec += bytes(4 * rng.randrange(1, 256))  # zero region
            elif damage == 4:
                rec += rng.randbytes(4 * rng.randrange(1, 256))  # noise
            parts.append(bytes(rec))
            total += len(rec)
        body = b"".join(parts)
    path.write_bytes(header + body[:size])


def measure(path: Path) -> tuple[float, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "events", str(path), "--format", "jsonl"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    return usage.ru_utime + usage.ru_stime, wall, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,16,32,62", help="file sizes in MB (comma-separated)")
    parser.add_argument("--tmp", help="folder for the generated files (default: a temp folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.tmp:  # a folder that does not exist yet is made, as scaling.py does
        os.makedirs(args.tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        print(f"{'file':<10}{'MB':>5}{'cpu s':>9}{'wall s':>9}{'cpu s/MB':>10}  exit")
        for kind in ("bare", "plausible", "mixed"):
            for size in sizes:
                path = Path(tmp) / f"{kind}-{size}.evt"
                build(kind, size * MB, path)
                cpu, wall, code = measure(path)
                print(f"{kind:<10}{size:>5}{cpu:>9.2f}{wall:>9.2f}{cpu / size:>10.3f}  {code}", flush=True)
                path.unlink()


if __name__ == "__main__":
    main()
