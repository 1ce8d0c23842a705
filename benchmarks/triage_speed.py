"""Triage throughput and memory: cases/s and peak RSS per worker, local engine (1 and 2 jobs) and Dask.

    python benchmarks/triage_speed.py [--cases N] [--tmp DIR] [--skip-dask] [--runs in-process,local1,local2,dask]

Generates N cases (default 2,000) with the project's test writers: the four bundled scenarios of
samples/make_samples.py (.evt + REGEDIT4, .evtx + SYSTEM hive, Event Viewer text + Regedt32 text,
Event Viewer CSV + regedit 5.00), every second case with an extra 600-event .evt of service chatter,
every fifth case zipped.  Then, in one run:

* in-process: ``diagnose_case(open_case(case))`` one case after another in this process -- the
  baseline a worker cannot beat;
* ``triage(jobs=1)``, ``triage(jobs=2)`` (local process pool) and ``triage(engine="dask", jobs=2)``
  (LocalCluster of 2 single-threaded worker processes), wall time including worker start-up.

Targets: jobs=2 >= 1.8x the cases/s of jobs=1; jobs=1 per-case time <= 1.2x the in-process time; Dask
CPU per case within 1.2x of the local engine's (same jobs).  "cases/s per core" is 1 / CPU per case:
the throughput one core gives when the machine is not shared, the fair figure when it is.
The machine is shared, so the load average before each run is printed beside the figures, and CPU
time per case (this process + the worker processes it waited for, start-up included) is shown next
to wall time: it measures the overhead of the process pool independently of the other users' load.
"parent CPU ms/case" is this process's own share with the local engine (see ``own_cpu``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os

try:
    import resource
except ImportError:  # pragma: no cover - Windows: this process's CPU time only (workers not counted)
    resource = None  # type: ignore[assignment]
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.dont_write_bytecode = True  # no __pycache__ beside samples/make_samples.py


HEADERS = [
    "run", "load", "wall s", "cases/s", "wall ms/case", "CPU ms/case", "cases/s per core", "CPU vs in-process",
    "peak RSS/worker MiB", "cases/s vs jobs 1", "CPU/case vs local same jobs", "parent CPU ms/case",
]  # fmt: skip


def load_make_samples() -> object:
    spec = importlib.util.spec_from_file_location("make_samples", REPO / "samples" / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(root: Path, n: int) -> list[Path]:
    """N case folders / zips under ``root``, mixed formats and scenarios (deterministic)."""
    from tests.writers.evt_writer import sample_events, write_evt

    make_samples = load_make_samples()
    scenarios = list(make_samples.CASES.items())  # type: ignore[attr-defined]
    chatter = root.parent / "chatter.evt"
    write_evt(chatter, list(sample_events(600)))
    cases = []
    for i in range(n):
        name, make = scenarios[i % len(scenarios)]
        folder = root / f"case-{i:04d}-{name}"
        folder.mkdir(parents=True)
        make(folder)
        if i % 2 == 0:
            shutil.copyfile(chatter, folder / "SysEvent.Evt")
        if i % 5 == 0:
            with zipfile.ZipFile(folder.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(folder.iterdir()):
                    zf.write(f, f.name)
            shutil.rmtree(folder)
            cases.append(folder.with_suffix(".zip"))
        else:
            cases.append(folder)
    return cases


def in_process(cases: list[Path]) -> tuple[float, int]:
    """Seconds to diagnose every case in this process, and this process's peak RSS (bytes)."""
    from analyzer.case import open_case
    from analyzer.diagnosis import diagnose_case
    from analyzer.triage import _peak_rss

    with open_case(str(cases[0])) as case:  # warm the imports, as a worker does before its first case
        diagnose_case(case)
    started, cpu = time.perf_counter(), time.process_time()
    for path in cases:
        with open_case(str(path)) as case:
            diagnose_case(case).to_dict()
    return time.perf_counter() - started, time.process_time() - cpu, _peak_rss()


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (the workers, once closed)."""
    if resource is None:
        return time.process_time()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def own_cpu() -> float:
    """CPU time of this process alone: with the local engine, the parent's share (receiving results,
    writing the case files, the summary).  On 2 cores it bounds the jobs-2 ratio: jobs 1 gets it for
    free on the second core, jobs 2 takes it from the workers."""
    return time.process_time()


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by thread name (Linux /proc; empty elsewhere)."""
    import threading

    names = {str(t.native_id): t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    out: dict[str, float] = {}
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(tid, "other")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def dask_breakdown(client: object, before: dict[str, float]) -> None:
    """Where the Dask engine's CPU went (live threads only, before the cluster closes): the case thread
    and the event loop (comms, heartbeats, memory checks) of each worker, and this process's event
    loop (scheduler, nannies, client) -- on stderr, for the notes."""

    def top(cpu: dict[str, float]) -> str:
        main = sorted(cpu.items(), key=lambda kv: -kv[1])[:3]
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in main)

    for worker, cpu in client.run(thread_cpu).items():  # type: ignore[attr-defined]
        print(f"  dask worker {worker}: {top(cpu)}", file=sys.stderr)
    now = thread_cpu()
    mine = {name: seconds - before.get(name, 0.0) for name, seconds in now.items()}
    print(f"  this process during the run (client, scheduler, nannies, writing): {top(mine)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--tmp", help="where to generate the cases (default: a temp folder, removed afterwards)")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument(
        "--runs",
        default="in-process,local1,local2,dask",
        help="comma-separated subset of in-process,local1,local2,dask (default: all)",
    )
    args = parser.parse_args(argv)

    import pandas as pd
    from tabulate import tabulate

    from analyzer.triage import triage

    if args.tmp:  # a folder that does not exist yet is made, as scaling.py does
        os.makedirs(args.tmp, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="triage-speed-", dir=args.tmp))
    try:
        root = work / "archive"
        root.mkdir()
        t0 = time.perf_counter()
        cases = generate(root, args.cases)
        print(f"generated {len(cases)} cases in {time.perf_counter() - t0:.1f} s under {work}", file=sys.stderr)

        rows = []
        wanted = set(args.runs.split(","))
        base = None
        if "in-process" in wanted:
            load = os.getloadavg()[0]
            seconds, cpu, rss = in_process(cases)
            base = cpu / len(cases)
            rows.append(["in-process (1 core)", f"{load:.1f}", f"{seconds:.1f}", f"{len(cases) / seconds:.1f}",
                         f"{seconds / len(cases) * 1000:.1f}", f"{base * 1000:.1f}", f"{1 / base:.1f}", "1.00",
                         f"{rss / 2**20:.0f}", "", ""])  # fmt: skip
        runs = [
            ("local --jobs 1", "local", 1),
            ("local --jobs 2", "local", 2),
            ("dask LocalCluster, 2 workers", "dask", 2),
        ]
        runs = [r for r, key in zip(runs, ("local1", "local2", "dask"), strict=True) if key in wanted]
        if args.skip_dask:
            runs = [r for r in runs if r[1] != "dask"]
        summaries = {}
        cps1 = None
        cpu_by: dict[tuple[str, int], float] = {}
        for label, engine, jobs in runs:
            load = os.getloadavg()[0]
            out = work / f"out-{engine}-{jobs}"
            started, cpu, own, threads_before = time.perf_counter(), cpu_seconds(), own_cpu(), thread_cpu()
            frame = triage([root], out=out, jobs=jobs, engine=engine)
            if engine == "dask":
                from analyzer.triage.engines import _CLIENTS, close_dask_clients

                for client in _CLIENTS.values():
                    dask_breakdown(client, threads_before)
                close_dask_clients()  # its workers' CPU time is counted once they have exited
            wall = time.perf_counter() - started
            own_case = (own_cpu() - own) / len(frame)
            cpu_case = (cpu_seconds() - cpu) / len(frame)
            cps = len(frame) / wall
            per_case = wall / len(frame)
            peaks = sorted(frame.attrs.get("peak_rss", {}).values())
            peak = ", ".join(f"{p / 2**20:.0f}" for p in peaks)
            if engine == "local" and jobs == 1:
                cps1 = cps
            speedup = f"{cps / cps1:.2f}x" if cps1 and jobs > 1 else ""
            cpu_by[(engine, jobs)] = cpu_case
            local = cpu_by.get(("local", jobs))
            versus = f"{cpu_case / local:.2f}x" if engine == "dask" and local else ""
            rows.append([label, f"{load:.1f}", f"{wall:.1f}", f"{cps:.1f}", f"{per_case * 1000:.1f}",
                         f"{cpu_case * 1000:.1f}", f"{1 / cpu_case:.1f}", f"{cpu_case / base:.2f}" if base else "",
                         peak, speedup, versus, f"{own_case * 1000:.2f}" if engine == "local" else ""])  # fmt: skip
            summaries[label] = frame.drop(columns="seconds")
            print(f"{label}: {frame['status'].value_counts().to_dict()}", file=sys.stderr)
        first_label, first = next(iter(summaries.items()))
        same = True
        for label, frame in summaries.items():
            differ = (frame != first).any(axis=1)
            if differ.any():
                same = False
                print(f"differences between {first_label!r} and {label!r}:", file=sys.stderr)
                print(pd.concat([first[differ], frame[differ]]).sort_index().to_string(), file=sys.stderr)
        print(
            tabulate(
                rows,
                headers=HEADERS,
            )
        )
        print(f"\n{len(cases)} cases, {os.cpu_count()} CPUs; summaries identical across engines: {same}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
