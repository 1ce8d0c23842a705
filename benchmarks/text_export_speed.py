"""Read speed of Event Viewer text/CSV exports, English and localised.

    python benchmarks/text_export_speed.py [--records N] [--tmp DIR] [--reader-path DIR] [--repeat N]

Builds, with the project's test writers, N-record Event Viewer exports (tab-separated text in the
language's ANSI code page, CSV in UTF-16LE with header) in English, German and Japanese from one synthetic
Application-log stream (every 50th event an MSExchangeIS Private 1023, the rest 4116 errors), then reads
each file in a fresh child process (best of ``--repeat`` reads) and prints records/s and peak RSS.  ``--reader-path`` puts another
checkout first on the child's sys.path, to compare the readers of two versions on the same files.

Why: the localised reader reads every file twice (a first pass settles language and date order before any
entry is converted) and tries the language's templates on every description; this shows what that costs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from analyzer.model import Event, EventType  # noqa: E402
from tests.writers.evtext_writer import write_evcsv, write_evtxt  # noqa: E402

IMS = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"

CHILD = """
import os, sys, time
sys.path.insert(0, sys.argv[2])
from analyzer.readers import evtext
best = None
for _ in range(int(sys.argv[3])):  # best of N: the machine may be shared
    start = time.perf_counter()
    count = sum(1 for _ in evtext.read(sys.argv[1]))
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
print(count, best)
"""


def events(n: int) -> list[Event]:
    base = datetime(2002, 6, 12, 9, 0, 0)
    out = []
    for i in range(n):
        is_logon = i % 50 == 0
        out.append(
            Event(
                path="", record=i + 1, offset=None, time_generated=base + timedelta(seconds=i), time_written=None,
                event_id=1023 if is_logon else 4116, event_id_full=1023 if is_logon else 4116,
                type=EventType.FAILURE_AUDIT if is_logon else EventType.ERROR, category=1 if is_logon else 0,
                source="MSExchangeIS Private" if is_logon else "MSExchangeIMC", computer="EXCH01", sid=None,
                strings=("CONTOSO\\exsvc", IMS, IMS) if is_logon else (),
            )
        )  # fmt: skip
    return out


def measure(path: Path, reader_path: str, repeat: int) -> tuple[int, float, int] | None:
    """(records, seconds, peak RSS KiB) of one read in a fresh process; None when the reader refuses the file."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), reader_path, str(repeat)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        return None
    count, elapsed = out.split()
    return int(count), float(elapsed), usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--tmp", default=None)
    parser.add_argument("--reader-path", default=str(REPO))
    parser.add_argument("--repeat", type=int, default=3, help="reads per file in the child; the best counts")
    args = parser.parse_args()
    folder = Path(args.tmp or tempfile.mkdtemp(prefix="text-speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    stream = events(args.records)
    files = []
    for lang, ansi in (("en", "cp1252"), ("de", "cp1252"), ("ja", "cp932")):
        files.append((f"{lang} txt {ansi}", write_evtxt(folder / f"{lang}.txt", stream, language=lang, encoding=ansi)))
        files.append(
            (
                f"{lang} csv utf-16",
                write_evcsv(folder / f"{lang}.csv", stream, language=lang, header=True, encoding="utf-16"),
            )
        )
    print(f"reader: {args.reader_path}   records per file: {args.records}")
    print(f"{'file':<22}{'MiB':>7}{'records':>10}{'seconds':>10}{'records/s':>12}{'peak RSS MiB':>14}")
    for name, path in files:
        size = path.stat().st_size / (1 << 20)
        result = measure(path, args.reader_path, args.repeat)
        if result is None:
            print(f"{name:<22}{size:>7.1f}  refused by this reader")
            continue
        count, elapsed, rss = result
        print(f"{name:<22}{size:>7.1f}{count:>10}{elapsed:>10.2f}{count / elapsed:>12,.0f}{rss / 1024:>14.0f}")


if __name__ == "__main__":
    main()
