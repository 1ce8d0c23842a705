"""Fixed cost of a command: CPU time of a fresh ``python -m analyzer …`` on a small sample, best of N runs.

    python benchmarks/startup.py [--runs 7] [--no-compile] [--top 12]

What an engineer pays before any input of size is read: the interpreter, the imports, the rules and the
renderers.  Each command runs in a fresh child process; its CPU time (user + system) comes from the
child's own rusage (``os.wait4``), so other load on the machine does not count (it still slows the caches).
On a system without ``os.wait4`` (Windows) the wall time is shown instead, marked as such.  The least of
``--runs`` runs is kept.  ``python -c pass`` is the floor no change to the package can go below.

By default the package is byte-compiled first (``compileall``, as an installed package is), because
this environment may set PYTHONDONTWRITEBYTECODE.  Then ``python -X importtime`` of the diagnose run
lists the imports that cost most (cumulative microseconds, as ``-X importtime`` reports them: a hint
of where the time goes, inflated by the measuring itself).

Target (issue 16): ``diagnose`` on a small sample <= 0.25 s CPU with the bytecode cache present.
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "nt4-kb306308"
TARGET_S = 0.25
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "analyzer --version": ["-m", "analyzer", "--version"],
    "analyzer diagnose SAMPLE": ["-m", "analyzer", "diagnose", str(SAMPLE)],
    "analyzer diagnose SAMPLE --format json": ["-m", "analyzer", "diagnose", str(SAMPLE), "--format", "json"],
    "analyzer events SAMPLE/AppEvent.Evt": ["-m", "analyzer", "events", str(SAMPLE / "AppEvent.Evt")],
}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def run_once(args: list[str]) -> tuple[float, bool]:
    """(seconds, is_cpu) of one child run: CPU user + system when ``os.wait4`` exists, else wall time."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        spent, is_cpu = usage.ru_utime + usage.ru_stime, True
    else:  # pragma: no cover - Windows
        code = proc.wait()
        spent, is_cpu = time.perf_counter() - started, False
    if code not in (0, 1):  # diagnose exits 1 when the case needs action (the sample does)
        raise SystemExit(f"startup: {' '.join(args)} failed (exit {code})")
    return spent, is_cpu


def import_hint(top: int) -> list[tuple[int, str]]:
    """The ``top`` imports of the diagnose run by cumulative microseconds (``-X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *COMMANDS["analyzer diagnose SAMPLE"]],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
    )
    rows: list[tuple[int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, _self, cumulative, name = (part.strip() for part in line.replace("import time:", "|", 1).split("|"))
        rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs per command, least kept (default 7)")
    parser.add_argument("--no-compile", action="store_true", help="do not byte-compile the package first")
    parser.add_argument("--top", type=int, default=12, help="imports listed by -X importtime (default 12)")
    args = parser.parse_args(argv)
    if not args.no_compile:
        compileall.compile_dir(str(REPO / "analyzer"), quiet=1)
    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"
    print(f"best of {args.runs} fresh processes; python {sys.version.split()[0]}; load average {load}")
    results: dict[str, float] = {}
    unit = "CPU s"
    for label, command in COMMANDS.items():
        runs = [run_once(command) for _ in range(max(1, args.runs))]
        best = min(spent for spent, _ in runs)
        unit = "CPU s" if runs[0][1] else "wall s"
        results[label] = best
        print(f"  {label:42s} {best:6.3f} {unit}", flush=True)
    diagnose = results["analyzer diagnose SAMPLE"]
    met = "met" if diagnose <= TARGET_S else "NOT met"
    print(f"diagnose on the sample: {diagnose:.3f} {unit} (target <= {TARGET_S} s CPU: {met})")
    print(f"\nlargest imports of the diagnose run (python -X importtime, cumulative us, top {args.top}):")
    for cumulative, name in import_hint(args.top):
        print(f"  {cumulative:8d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
