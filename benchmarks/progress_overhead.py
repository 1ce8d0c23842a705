"""What the progress hook of ``diagnose`` costs on a large log, and how often it moves.

Writes an Application .evt of N records as a busy Exchange 5.5 server logs it (mostly events no rule
reads, a refusal every 200th record: ``read_speed.application_events``), then diagnoses it three ways,
each the best of ``--repeat`` runs of CPU time: without a hook, with a hook that only counts its calls,
and with the tqdm bar ``diagnose --progress`` draws (into a fake terminal, so nothing is printed).

    PYTHONPATH=$PWD python benchmarks/progress_overhead.py [--records 300000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _best(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000, help="records of the generated log")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (the best CPU time counts)")
    args = parser.parse_args()

    from read_speed import application_events

    from analyzer.commands.progress import CaseBar
    from analyzer.diagnosis import diagnose
    from tests.writers.evt_writer import write_evt

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "AppEvent.Evt"
        started = time.perf_counter()
        write_evt(log, application_events(args.records))
        size = log.stat().st_size
        print(f"wrote {args.records} records, {size / 2**20:.1f} MiB, in {time.perf_counter() - started:.1f} s")
        calls = [0]

        def count(done: int, total: int) -> None:
            calls[0] += 1

        def with_bar() -> object:
            bar = CaseBar(None, "AppEvent.Evt", _Terminal())
            try:
                return diagnose(str(log), progress=bar)
            finally:
                bar.close()

        plain = _best(lambda: diagnose(str(log)), args.repeat)
        counted = _best(lambda: diagnose(str(log), progress=count), args.repeat)
        bar = _best(with_bar, args.repeat)
        print(f"hook calls per diagnosis: {calls[0] // args.repeat}")
        print(
            f"CPU seconds, best of {args.repeat}: no hook {plain:.2f}, counting hook {counted:.2f}, tqdm bar {bar:.2f}"
        )
        print(f"bar overhead: {100 * (bar - plain) / plain:+.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
