"""Extraction speed of every archive kind through the one safety layer (``analyzer.case.open_case``).

    python benchmarks/archive_speed.py [--mib N]

Builds, in a temp folder, one archive per kind holding two N MiB members (an event-log-like payload:
records of the sample .evt interleaved with pseudo-random bytes, so it packs about 2:1 like real logs and
stays under the bomb ratio), then times ``open_case`` on each (extract + hash + sniff), best of three.
Why: extraction must stay linear in the archive's size for every kind; cabinets are read in memory by
their library, so their row also shows what that costs.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import random
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from analyzer.case import open_case  # noqa: E402


def payload(mib: int, seed: int) -> bytes:
    rng = random.Random(seed)
    evt = (REPO / "samples" / "nt4-kb306308" / "AppEvent.Evt").read_bytes()
    out = bytearray()
    while len(out) < mib << 20:
        out += evt + rng.randbytes(len(evt))
    return bytes(out[: mib << 20])


def build(folder: Path, files: dict[str, bytes]) -> dict[str, Path]:
    import py7zr
    from cabarchive import CabArchive, CabFile

    made: dict[str, Path] = {}
    with zipfile.ZipFile(folder / "a.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in files.items():
            zf.writestr(n, d)
    made["zip"] = folder / "a.zip"
    cab = CabArchive()
    for n, d in files.items():
        cab[n] = CabFile(d)
    (folder / "a.cab").write_bytes(cab.save(compress=True))
    made["cab (MSZIP)"] = folder / "a.cab"
    with py7zr.SevenZipFile(folder / "a.7z", "w") as z:
        for n, d in files.items():
            z.writestr(d, n)
    made["7z (LZMA2)"] = folder / "a.7z"
    for kind, mode in (("tar", "w"), ("tar.gz", "w:gz"), ("tar.bz2", "w:bz2"), ("tar.xz", "w:xz")):
        path = folder / f"a.{kind}"
        with tarfile.open(path, mode) as tf:
            for n, d in files.items():
                info = tarfile.TarInfo(n)
                info.size = len(d)
                tf.addfile(info, __import__("io").BytesIO(d))
        made[kind] = path
    first = next(iter(files.values()))
    for kind, pack in (("gz", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress)):
        path = folder / f"AppEvent.Evt.{kind}"
        path.write_bytes(pack(first))
        made[f"single .{kind} (1 member)"] = path
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=8, help="MiB per member (two members per archive)")
    args = parser.parse_args()
    files = {"AppEvent.Evt": payload(args.mib, 1), "SysEvent.Evt": payload(args.mib, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        made = build(Path(tmp), files)
        print(f"{'kind':<24} {'archive':>10} {'extracted':>10} {'seconds':>8} {'MiB/s':>8}")
        for kind, path in made.items():
            best = float("inf")
            size = 0
            for _ in range(3):
                start = time.perf_counter()
                with open_case(str(path)) as case:
                    size = sum(i.size for i in case.inputs)
                    assert not case.errors, case.errors
                best = min(best, time.perf_counter() - start)
            print(
                f"{kind:<24} {path.stat().st_size / 2**20:>9.1f}M {size / 2**20:>9.1f}M {best:>8.2f} {size / 2**20 / best:>8.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
