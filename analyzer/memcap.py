"""An address-space cap for the process: a hostile input ends in a clear error, not in a swapping machine.

Why: a crafted log or export can make a reader allocate far more than the input's size (the issue
that introduced this saw 24 GB for a 12 MB hive printed as a table).  Triage caps each worker;
``diagnose`` caps itself the same way (``--memory-limit``).  The cap is ``RLIMIT_AS`` where the
``resource`` module exists (Linux, macOS); elsewhere (Windows) ``apply`` says so and the command runs
without a cap.  Python then raises ``MemoryError`` at the cap, which the commands report in one line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

DEFAULT_MEMORY_LIMIT = 3 << 30  # address space; the same default as a triage worker


def apply(limit: int | None) -> str | None:
    """Cap this process's address space at ``limit`` bytes (None or 0: no cap).

    Returns a note when the platform cannot cap (the caller prints it and goes on), else None.
    Never raises the cap above a hard limit set from outside."""
    if not limit:
        return None
    try:
        import resource
    except ImportError:
        return "this platform cannot cap memory (no resource module); running without --memory-limit"
    with contextlib.suppress(ValueError, OSError, AttributeError):
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        return None
    return "the memory cap could not be set on this system; running without --memory-limit"


@contextlib.contextmanager
def capped(limit: int | None) -> Iterator[str | None]:
    """``apply`` for the duration of a block, then the cap found before is restored.

    Why: ``analyzer.cli.main`` also runs inside other processes (tests, notebooks, the web server's
    request handlers); a cap left behind would make their later work fail far from its cause."""
    try:
        import resource
    except ImportError:
        yield apply(limit)
        return
    before = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        before = resource.getrlimit(resource.RLIMIT_AS)
    try:
        yield apply(limit)
    finally:
        if before is not None:
            with contextlib.suppress(ValueError, OSError, AttributeError):
                resource.setrlimit(resource.RLIMIT_AS, before)


__all__ = ["DEFAULT_MEMORY_LIMIT", "apply", "capped"]
