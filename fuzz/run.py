"""Long fuzz campaign over every reader: ``python fuzz/run.py --minutes N [--reader NAME] [--engine E]``.

Why a separate process per reader: a hang inside native code (the Rust evtx backend, regipy-rs) or a
runaway allocation cannot be stopped from Python, so each reader runs in a worker with an address-space
limit (RLIMIT_AS) and a wall-clock watchdog; the parent restarts a worker that died and counts the death
as a finding.  Engines: ``atheris`` (coverage-guided libFuzzer, when ``pip install atheris`` worked) or
``mutate`` (random stacked mutations from fuzz/mutate.py).  Seeds come from fuzz/seeds.py.

Every finding (exception other than InputError, a multi-line error, an input over the time bound, a
worker death) is saved under fuzz/crashes/<reader>/ as ``<id>.bin`` plus ``<id>.txt`` (traceback), at
most a few inputs per distinct crash site.  At the end a table prints executions and findings per reader.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CRASH_DIR = REPO / "fuzz" / "crashes"
MEMORY_LIMIT = 4 << 30  # bytes of address space per worker
RSS_LIMIT_MB = 1536
WATCHDOG = 30.0  # seconds one input may take before the worker is killed (native code ignores SIGALRM)
KEEP_PER_SITE = 3


def _engines() -> list[str]:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return ["mutate"]
    return ["atheris", "mutate"]


class _Recorder:
    """Counts executions, saves findings, writes a stats JSON the parent reads (workers may die abruptly)."""

    def __init__(self, target: str, stats_path: str) -> None:
        self.target = target
        self.stats_path = stats_path
        self.execs = 0
        self.sites: dict[str, int] = {}
        self.current: bytes = b""
        self.started_input = 0.0
        self.last_flush = 0.0
        self.dir = CRASH_DIR / target
        if os.path.exists(stats_path):
            old = json.loads(Path(stats_path).read_text())
            self.execs, self.sites = old["execs"], old["sites"]

    def save(self, data: bytes, site: str, detail: str) -> None:
        seen = self.sites.get(site, 0)
        self.sites[site] = seen + 1
        if seen < KEEP_PER_SITE:
            self.dir.mkdir(parents=True, exist_ok=True)
            ident = hashlib.sha1(site.encode()).hexdigest()[:10] + "-" + hashlib.sha1(data).hexdigest()[:10]
            (self.dir / f"{ident}.bin").write_bytes(data)
            (self.dir / f"{ident}.txt").write_text(f"{site}\n\n{detail}\n")
        self.flush(force=True)

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last_flush > 0.5:
            tmp = self.stats_path + ".tmp"
            Path(tmp).write_text(json.dumps({"execs": self.execs, "sites": self.sites}))
            os.replace(tmp, self.stats_path)
            self.last_flush = now

    def watchdog(self) -> None:
        """Kill the worker when one input outlives WATCHDOG (after saving it as a hang)."""
        while True:
            time.sleep(1)
            if self.started_input and time.monotonic() - self.started_input > WATCHDOG:
                self.save(self.current, "hang (watchdog: native code ignored the alarm)", "")
                os._exit(3)


def worker(target: str, seconds: float, engine: str, stats_path: str, seed: int) -> None:
    """Run one reader's campaign in this process until ``seconds`` pass."""
    from fuzz.targets import MODULES, run_bytes

    rec = _Recorder(target, stats_path)
    work = tempfile.mkdtemp(prefix=f"fuzz-{target}-")
    threading.Thread(target=rec.watchdog, daemon=True).start()

    def one(data: bytes) -> None:
        rec.current = data
        rec.started_input = time.monotonic()
        out = run_bytes(target, data, work)
        rec.started_input = 0.0
        rec.execs += 1
        if out.crash:
            rec.save(data, out.where or out.crash, f"{out.crash}\n\n{out.trace or ''}")
        rec.flush()

    if engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=MODULES[target]):
            import importlib

            for name in MODULES[target]:
                importlib.import_module(name)
            if target == "case":
                import analyzer.readers.evt
                import analyzer.readers.regfile  # noqa: F401
        from fuzz.seeds import seeds

        corpus = Path(tempfile.gettempdir()) / "analyzer-fuzz-corpus" / target
        corpus.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(seeds(target)):
            (corpus / f"seed{i}").write_bytes(s)
        args = [
            sys.argv[0],
            str(corpus),
            f"-max_total_time={max(1, int(seconds))}",
            "-timeout=0",  # our own SIGALRM bound per input (fuzz.targets.time_bound)
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            "-max_len=262144",
            f"-seed={seed}",
            f"-artifact_prefix={CRASH_DIR / target}{os.sep}",
            "-print_final_stats=1",
        ]
        (CRASH_DIR / target).mkdir(parents=True, exist_ok=True)
        atheris.Setup(args, one)
        atheris.Fuzz()
        return
    from fuzz.mutate import mutate
    from fuzz.seeds import seeds

    pool = list(seeds(target))
    rng = random.Random(seed)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        one(mutate(rng.choice(pool), rng, pool))
    rec.flush(force=True)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.nice(5)


def campaign(target: str, seconds: float, engine: str, log: Path) -> dict[str, object]:
    """Run workers for ``target`` until ``seconds`` pass, restarting after deaths; return the summary."""
    stats_path = str(log.with_suffix(".json"))
    if os.path.exists(stats_path):
        os.remove(stats_path)
    deaths: list[str] = []
    end = time.monotonic() + seconds
    seed = random.randrange(1 << 30)
    with open(log, "ab") as logfh:
        while (left := end - time.monotonic()) > 2:
            cmd = [sys.executable, __file__, "--worker", target, "--seconds", f"{left:.0f}", "--engine", engine]
            cmd += ["--stats", stats_path, "--seed", str(seed)]
            proc = subprocess.run(
                cmd, stdout=logfh, stderr=subprocess.STDOUT, preexec_fn=_limit_memory, timeout=left + 120, check=False
            )
            seed += 1
            if proc.returncode != 0:
                deaths.append(f"worker exit {proc.returncode}")
    stats = json.loads(Path(stats_path).read_text()) if os.path.exists(stats_path) else {"execs": 0, "sites": {}}
    return {
        "reader": target,
        "engine": engine,
        "seconds": round(seconds),
        "execs": stats["execs"],
        "crash_sites": stats["sites"],
        "deaths": deaths,
    }


def main(argv: list[str] | None = None) -> int:
    from fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="wall-clock minutes per reader (default 1)")
    parser.add_argument("--reader", action="append", choices=sorted(TARGETS), help="reader(s) to fuzz (default: all)")
    parser.add_argument("--engine", choices=["atheris", "mutate"], default=_engines()[0])
    parser.add_argument("--log-dir", default=str(REPO / "fuzz" / "crashes"), help="worker logs and stats")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.seconds, args.engine, args.stats, args.seed)
        return 0
    readers = args.reader or list(TARGETS)
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    rows = []
    for target in readers:
        row = campaign(target, args.minutes * 60, args.engine, Path(args.log_dir) / f"{target}.log")
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'reader':<12} {'engine':<8} {'seconds':>7} {'execs':>9} {'findings':>8} {'deaths':>6}  sites")
    for r in rows:
        sites = r["crash_sites"]
        print(
            f"{r['reader']:<12} {r['engine']:<8} {r['seconds']:>7} {r['execs']:>9} {sum(sites.values()):>8}"
            f" {len(r['deaths']):>6}  {'; '.join(sites) or '-'}"
        )
    return 1 if any(r["crash_sites"] or r["deaths"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
