"""``analyzer triage ROOT... --out DIR``: diagnose every case under the roots and write a summary.

Exit codes: 1 if any case needs action or failed, else 0; 2 for usage errors and unusable roots.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from analyzer.commands.arguments import add_reading_arguments
from analyzer.commands.output import add_terminal_arguments, layout_from
from analyzer.exitcodes import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, error
from analyzer.limits import add_read_arguments, case_limits_from, read_limits_from
from analyzer.output import OutputError, stdout_failed
from analyzer.terminal import shown_name, visible

NAME = "triage"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    t: argparse.ArgumentParser = sub.add_parser(
        NAME,
        help="diagnose every case (sub-folder or archive) under ROOT and write a summary",
        description="Every immediate sub-folder or archive (.zip, .cab, .7z, .tar.*, .gz/.bz2/.xz) of each ROOT is one case.",
    )
    t.add_argument("root", nargs="+", metavar="ROOT", help="folder whose sub-folders and archives are the cases")
    t.add_argument(
        "--output",
        "-o",
        "--out",
        dest="out",
        required=True,
        metavar="DIR",
        help="output folder (cases/<case>.json, summary.csv/.parquet); --out is the older name",
    )
    t.add_argument("--jobs", "-j", type=int, metavar="N", help="worker processes (default: CPU count)")
    t.add_argument("--resume", action="store_true", help="skip cases whose JSON exists and whose inputs are unchanged")
    t.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="local worker processes (default) or a dask.distributed cluster",
    )
    t.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler address (default: a LocalCluster)")
    t.add_argument("--case-timeout", type=float, default=600.0, metavar="S", help="seconds per case (default 600)")
    add_terminal_arguments(t)
    add_reading_arguments(t)
    add_read_arguments(t, case=True)
    return t


def run(args: argparse.Namespace) -> int:
    """Run the triage and print its summary.

    Ctrl-C and SIGTERM stop the run the same way (workers killed, temp folders removed, one line,
    exit 130 / 143).  A closed stdout or stderr (``| head -1``) does not stop it: the summary files
    are written all the same."""
    # Imported here, not at the top: the triage engines and the rules would slow every other command's start.
    from analyzer.triage import LockedError, TriageError, render_summary, triage
    from analyzer.triage.stopping import Stopped, stop_signals

    progress = "bar" if _isatty(sys.stderr) else "log"
    if args.jobs is not None and args.jobs < 1:
        error("--jobs must be at least 1")
        return EXIT_INPUT
    options: dict[str, Any] = {"read_limits": read_limits_from(args)}
    for name in ("tz", "evtx_backend", "encoding", "language"):  # as diagnose reads each case
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    try:
        with stop_signals():
            frame = triage(
                args.root,
                out=args.out,
                jobs=args.jobs,
                engine=args.engine,
                resume=args.resume,
                scheduler=args.scheduler,
                case_timeout=args.case_timeout,
                progress=progress,
                limits=case_limits_from(args),
                **options,
            )
    except Stopped as exc:
        _say(f"analyzer: {exc.word}: run stopped, workers ended and temp folders removed; no summary written")
        return 128 + exc.signum
    except (TriageError, LockedError, OutputError) as exc:
        _say(f"analyzer: {visible(str(exc), cell=True)}")
        return EXIT_INPUT
    except OSError as exc:
        _say(f"analyzer: {visible(shown_name(os.fspath(exc.filename or args.out)), cell=True)}: {exc.strerror or exc}")
        return EXIT_INPUT
    code = EXIT_FINDINGS if (frame["status"] != "clean").any() else EXIT_OK
    where = visible(os.path.join(args.out, "summary.csv"), cell=True)
    try:
        print(render_summary(frame, layout_from(args, to_file=False).width))
        print(f"\nWrote {len(frame)} case(s) to {where} (+ .parquet, cases/*.json)")
        sys.stdout.flush()
    except OSError as exc:  # the summary files are written; only the printed copy is lost
        message = stdout_failed(exc)
        if message:
            _say(f"analyzer: {message}")
            return EXIT_INPUT
    return code


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _say(line: str) -> None:
    """One line on stderr; a closed stderr is not an error of its own."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)
