"""Fuzz targets: feed bytes to one reader the way the CLI would, and classify what came out.

The contract under fuzzing (issue 6): every input ends in records and/or warnings or one clean
``InputError``.  Any other exception, a run longer than the time bound, or unbounded memory is a
finding.  Readers stream, so a target consumes everything (all events; every key and value of a
registry tree) -- a lazy reader can only fail when asked.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from analyzer.model import InputError, ReadWarning

TIME_LIMIT = 5.0  # seconds per input
MAX_WALK = 200_000  # registry nodes + values visited per input: far above any seed, below a cycle's forever
MAX_DEPTH = 512


class FuzzTimeout(Exception):
    """Raised by the alarm when one input runs longer than the time bound."""


class TreeTooDeep(Exception):
    """The registry tree handed out by a reader is deeper than MAX_DEPTH or larger than MAX_WALK (a cycle)."""


@dataclass
class Outcome:
    """What one input produced: records, warnings, and the clean error or the finding."""

    records: int = 0
    warnings: int = 0
    error: str | None = None  # InputError text (fine)
    crash: str | None = None  # anything else: "ExceptionType: message"
    where: str | None = None  # innermost analyzer frame of the crash (dedupe key)
    trace: str | None = None


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise FuzzTimeout in this thread after ``seconds`` (main thread only; SIGALRM).

    An enclosing SIGALRM timer (a test runner's own time limit, such as pytest-timeout's) keeps its
    deadline: the bound fires at whichever comes first and hands the signal to the enclosing handler when
    its deadline has come, and the enclosing timer is armed again afterwards.  Without that, every input
    would cancel the runner's limit, and an endless loop inside a fuzz test would never be cut off."""
    outer_deadline: float | None = None

    def fire(signum: int, frame: object) -> None:
        if outer_deadline is not None and time.monotonic() >= outer_deadline and callable(previous):
            previous(signum, frame)  # the enclosing limit is due: its handler decides
        raise FuzzTimeout(f"input ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, fire)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    if outer_delay > 0:
        outer_deadline = time.monotonic() + outer_delay
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer_delay) if outer_delay > 0 else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_deadline is not None:  # due already: fire at once
            signal.setitimer(signal.ITIMER_REAL, max(outer_deadline - time.monotonic(), 1e-6), outer_interval)


def _walk(key: object, counter: list[int], depth: int = 0) -> None:
    if depth > MAX_DEPTH or counter[0] > MAX_WALK:
        raise TreeTooDeep(f"registry tree deeper than {MAX_DEPTH} or larger than {MAX_WALK} nodes (a cycle?)")
    counter[0] += 1
    _ = (key.name, key.last_write, key.class_name)  # type: ignore[attr-defined]
    for value in key.values():  # type: ignore[attr-defined]
        counter[0] += 1
        _ = (value.name, value.type, value.data, value.raw)
        value.json_data()
    for sub in key.subkeys():  # type: ignore[attr-defined]
        _walk(sub, counter, depth + 1)


def _sniff(path: str) -> None:
    """Format detection runs first on every file the CLI opens: it must survive the same bytes."""
    from analyzer.sniff import sniff

    with suppress(InputError):
        sniff(path)


def _events(module: str, **options: object) -> Callable[[str, Outcome], None]:
    def run(path: str, out: Outcome) -> None:
        import importlib

        _sniff(path)
        reader = importlib.import_module(module)

        def warn(_w: ReadWarning) -> None:
            out.warnings += 1

        for event in reader.read(path, warn=warn, **options):
            out.records += 1
            event.to_dict()

    return run


def _registry(module: str, **options: object) -> Callable[[str, Outcome], None]:
    def run(path: str, out: Outcome) -> None:
        import importlib

        _sniff(path)
        reader = importlib.import_module(module)

        def warn(_w: ReadWarning) -> None:
            out.warnings += 1

        result = reader.read(path, warn=warn, **options)
        counter = [0]
        if result.root is not None:
            _walk(result.root, counter)
        out.records += counter[0]

    return run


def _case(path: str, out: Outcome) -> None:
    """Zip case loading, then every usable member through its reader (as diagnose does)."""
    from analyzer.case import open_case
    from analyzer.readers import EVENT_FORMATS, format_named

    zpath = path + ".zip"
    os.replace(path, zpath)
    with open_case(zpath) as case:
        out.warnings += len(case.warnings)
        for item in case.usable:
            try:
                module = format_named(item.format).read.__module__
                if item.format in EVENT_FORMATS:
                    _events(module)(item.real_path, out)
                else:
                    _registry(module)(item.real_path, out)
            except InputError as exc:
                out.warnings += 1
                out.error = str(exc)


TARGETS: dict[str, Callable[[str, Outcome], None]] = {
    "evt": _events("analyzer.readers.evt"),
    "evtx-rust": _events("analyzer.readers.evtx", backend="rust"),
    "evtx-python": _events("analyzer.readers.evtx", backend="python"),
    "evtext": _events("analyzer.readers.evtext"),
    "hive": _registry("analyzer.readers.hive"),
    "reg": _registry("analyzer.readers.regfile"),
    "regedt32": _registry("analyzer.readers.regedt32"),
    "regquery": _registry("analyzer.readers.regquery"),
    "case": _case,
}
# Which source files each target exercises (atheris instruments these for coverage).
MODULES: dict[str, list[str]] = {
    "evt": ["analyzer.readers.evt"],
    "evtx-rust": ["analyzer.readers.evtx"],
    "evtx-python": ["analyzer.readers.evtx", "Evtx"],
    "evtext": ["analyzer.readers.evtext", "analyzer.readers.text"],
    "hive": ["analyzer.readers.hive", "regipy"],
    "reg": ["analyzer.readers.regfile", "analyzer.readers.text"],
    "regedt32": ["analyzer.readers.regedt32", "analyzer.readers.text"],
    "regquery": ["analyzer.readers.regquery", "analyzer.readers.text"],
    "case": ["analyzer.case", "analyzer.sniff"],
}


def _where(exc: BaseException) -> str:
    """Innermost frame inside analyzer/ (else the innermost frame): the crash's identity."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}analyzer{os.sep}" in f.filename]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return type(exc).__name__
    return f"{type(exc).__name__} at {os.path.relpath(frame.filename)}:{frame.lineno} ({frame.name})"


def run_bytes(target: str, data: bytes, workdir: str, *, seconds: float = TIME_LIMIT) -> Outcome:
    """Write ``data`` to a file in ``workdir``, run the target on it under the time bound, classify."""
    path = os.path.join(workdir, "input")
    with open(path, "wb") as fh:
        fh.write(data)
    out = Outcome()
    try:
        with time_bound(seconds):
            TARGETS[target](path, out)
    except InputError as exc:
        out.error = str(exc)
        if "\n" in out.error:
            out.crash, out.where = "InputError message spans lines", "InputError (multi-line)"
    except (Exception, RecursionError, FuzzTimeout) as exc:  # the findings
        out.crash = f"{type(exc).__name__}: {str(exc)[:300]}"
        out.where = _where(exc)
        out.trace = traceback.format_exc(limit=-12)
    finally:
        for leftover in (path, path + ".zip"):
            if os.path.exists(leftover):
                os.remove(leftover)
    return out
