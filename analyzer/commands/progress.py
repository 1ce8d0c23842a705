"""Progress on a terminal for long reads: a tqdm bar on stderr, nothing otherwise.

Why only there: a pipe or a file must get exactly the output asked for (the bar never goes to stdout,
where a report or JSON may be), and small inputs finish before a bar would be read.  ``--progress`` shows
the bar whatever the size, ``--no-progress`` never; without either, inputs of ``MIN_BYTES`` or more get
one.  Not on a terminal, there is never a bar.

``events`` moves its bar per file with the reader's file offset (binary logs; text exports, which carry
no offset, jump at their end); ``diagnose`` gets one bar for the whole case through the case-reading hook
(``analyzer.case.ReadProgress``: bytes read across all files).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from analyzer.model import Event

MIN_BYTES = 16 << 20  # inputs smaller than this are read without a bar (unless --progress)


def add_progress_arguments(parser: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--no-progress`` (the same for every command that reads large inputs)."""
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr while reading, only when stderr is a terminal: --progress for inputs "
        f"of any size, --no-progress never (default: for inputs of {MIN_BYTES >> 20} MiB or more)",
    )


def _is_tty(stream: IO[str] | Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def wanted(choice: bool | None, size: int, stream: IO[str] | Any) -> bool:
    """Whether to show a bar: never off a terminal or with ``--no-progress``; else ``--progress`` or a large input."""
    if choice is False or not _is_tty(stream):
        return False
    return choice is True or size >= MIN_BYTES


def with_progress(events: Iterator[Event], path: str, label: str, choice: bool | None = None) -> Iterator[Event]:
    """``events`` of the file ``path``, with a bar on stderr when ``wanted``."""
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if not wanted(choice, size, sys.stderr):
        yield from events
        return
    from tqdm import tqdm

    with tqdm(total=size, unit="B", unit_scale=True, desc=label, file=sys.stderr, leave=False) as bar:
        done = 0
        for ev in events:
            if ev.offset is not None and ev.offset > done:
                bar.update(min(ev.offset, size) - done)
                done = min(ev.offset, size)
            yield ev
        bar.update(size - done)


class CaseBar:
    """A ``ReadProgress`` hook that draws one bar for a whole case.

    The bar is made at the first call, when the case's size is known (the case is opened inside the
    diagnosis), and only when ``wanted``; it only moves forward."""

    def __init__(self, choice: bool | None, label: str, stream: IO[str] | Any = None) -> None:
        self.choice = choice
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.bar: Any = None
        self._decided = False
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not self._decided:
            self._decided = True
            if wanted(self.choice, total, self.stream):
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=self.label, file=self.stream, leave=False)
        if self.bar is not None and done > self._shown:
            self.bar.update(done - self._shown)
            self._shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.refresh()  # the last state is drawn (tqdm skips redraws within 0.1 s), then cleared
            self.bar.close()
            self.bar = None


@contextmanager
def case_progress(args: argparse.Namespace, label: str) -> Iterator[CaseBar]:
    """The hook for ``diagnose``; the bar is gone from the terminal when the block ends (also on errors)."""
    bar = CaseBar(getattr(args, "progress", None), label)
    try:
        yield bar
    finally:
        bar.close()
