"""Progress on a terminal for long reads: a bar on stderr per large file, nothing otherwise.

Why only there: a pipe or a file must get exactly the output asked for, and small files finish before a
bar would be read.  The bar moves with the reader's file offset (binary logs); for text exports, which
carry no offset, it counts events.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

from analyzer.model import Event

MIN_BYTES = 16 << 20  # files smaller than this are read without a bar


def with_progress(events: Iterator[Event], path: str, label: str) -> Iterator[Event]:
    """``events`` of the file ``path``, with a tqdm bar on stderr when it is a terminal and the file is large."""
    try:
        size = os.path.getsize(path)
        tty = sys.stderr.isatty()
    except (OSError, ValueError, AttributeError):
        size, tty = 0, False
    if not tty or size < MIN_BYTES:
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
