"""How ``diagnose`` scales with the size of a log: CPU time, CPU per record and peak RSS per size.

    python benchmarks/scaling.py [--sizes 50000,200000,800000,3200000] [--formats evt,evtx] [--tmp DIR]

For each size, a one-file case is written with the project's test writers from the synthetic
Application-log stream ``tests.writers.evt_writer.sample_events`` (every 50th event an MSExchangeIS
Private 1023 for the Internet Mail Connector, every 97th an MSExchangeIMC 4018, the rest Service
Control Manager 7036): every rule that compares events in time (KB 306308's corroboration, KB 163243,
the look-alikes) has thousands of events to compare.  Then ``python -m analyzer diagnose FILE --format
json`` runs in a fresh process, as an engineer would run it; its CPU time (user + system) and peak RSS
come from the child's own rusage (``os.wait4``).  On a system without ``os.wait4`` (Windows) the wall
time is shown and the RSS column stays empty.

Targets (issue 16): CPU per record at 3.2M within 1.3x of that at 200k; peak RSS under 200 MB at every size.
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
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_SIZES = (50_000, 200_000, 800_000, 3_200_000)
RSS_TARGET_MB = 200
RATIO_TARGET = 1.3


def build(fmt: str, records: int, folder: Path) -> Path:
    """The log of ``records`` events (kept in ``folder`` between runs: writing 3.2M records takes a while)."""
    path = folder / f"scaling-{records}.{fmt}"
    if path.exists():
        return path
    partial = path.with_suffix(path.suffix + ".part")
    started = time.perf_counter()
    # Written by a child: the writer holds the whole file in memory, the parent must stay small.
    code = (
        "import sys; from tests.writers.evt_writer import sample_events, write_evt; "
        "from tests.writers.evtx_writer import write_evtx; "
        f"(write_evt if {fmt!r} == 'evt' else write_evtx)(sys.argv[1], sample_events({records}))"
    )
    subprocess.run([sys.executable, "-c", code, str(partial)], cwd=REPO, check=True)
    partial.replace(path)
    print(
        f"wrote {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s", flush=True
    )
    return path


def measure(path: Path) -> dict[str, float | None]:
    """CPU seconds, wall seconds and peak RSS (MB) of one ``diagnose`` run in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "analyzer", "diagnose", str(path), "--format", "json"]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        cpu: float | None = usage.ru_utime + usage.ru_stime
        rss: float | None = usage.ru_maxrss / 1024  # Linux: KiB
    else:  # pragma: no cover - Windows
        code = proc.wait()
        cpu = rss = None
    wall = time.perf_counter() - started
    if code not in (0, 1, 2):  # 0 healthy, 1/2: findings (see README, exit codes)
        raise SystemExit(f"scaling: diagnose {path.name} failed (exit {code})")
    return {"cpu": cpu, "wall": wall, "rss": rss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="records per log, comma-separated")
    parser.add_argument("--formats", default="evt,evtx", help="evt, evtx or both (default both)")
    parser.add_argument("--tmp", type=Path, help="folder for the generated logs, kept between runs")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size, least CPU kept (default 1)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    formats = [f for f in args.formats.split(",") if f]
    from tabulate import tabulate

    folder_ctx = tempfile.TemporaryDirectory() if args.tmp is None else None
    folder = Path(folder_ctx.name) if folder_ctx else args.tmp
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    verdicts: list[str] = []
    try:
        for fmt in formats:
            per_record: dict[int, float] = {}
            worst_rss = 0.0
            for records in sizes:
                path = build(fmt, records, folder)
                runs = [measure(path) for _ in range(max(1, args.repeat))]
                best = min(runs, key=lambda r: r["cpu"] if r["cpu"] is not None else r["wall"])  # type: ignore[return-value,arg-type]
                rss = max((r["rss"] or 0.0) for r in runs)
                worst_rss = max(worst_rss, rss)
                spent = best["cpu"] if best["cpu"] is not None else best["wall"]
                per_record[records] = spent / records  # type: ignore[operator]
                print(f"  {fmt} {records:,}: {spent:.2f} s, {rss:.0f} MB", file=sys.stderr, flush=True)
                rows.append(
                    [f".{fmt}", f"{records:,}", f"{path.stat().st_size / 1e6:.0f}",
                     "-" if best["cpu"] is None else f"{best['cpu']:.2f}", f"{best['wall']:.2f}",
                     f"{per_record[records] * 1e6:.2f}", f"{rss:.0f}" if rss else "-"]
                )  # fmt: skip
            if 200_000 in per_record and max(sizes) > 200_000:
                top = max(sizes)
                ratio = per_record[top] / per_record[200_000]
                met = "met" if ratio <= RATIO_TARGET else "NOT met"
                verdicts.append(
                    f".{fmt}: CPU per record at {top:,} = {ratio:.2f}x that at 200,000 (target <= {RATIO_TARGET}: {met})"
                )
            if worst_rss:
                met = "met" if worst_rss < RSS_TARGET_MB else "NOT met"
                verdicts.append(f".{fmt}: peak RSS at most {worst_rss:.0f} MB (target < {RSS_TARGET_MB} MB: {met})")
    finally:
        if folder_ctx:
            folder_ctx.cleanup()
    print()
    print(f"python -m analyzer diagnose FILE --format json, one fresh process per run; python {sys.version.split()[0]}")
    print(
        tabulate(
            rows,
            headers=["log", "records", "MB", "CPU s", "wall s", "CPU us/record", "peak RSS MB"],
            disable_numparse=True,
        )
    )
    for line in verdicts:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
