"""CRC-32 for the .evtx chunk checks: zlib's number, folded with carry-less multiplication when it can be.

Why a module of its own: the reader checks two CRC-32s over every chunk, so the sum covers every byte of
a log.  CPython's zlib does ~1.6 GB/s on the machines measured; the optional C module ``_crc32`` (built by
``pip install -e .`` where a compiler exists) folds with PCLMULQDQ on x86-64 CPUs that have it, several
times faster.  Both give exactly ``zlib.crc32``'s answer; ``crc32`` is whichever is faster here, and
``ACCELERATED`` says which one that is.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

crc32: Callable[..., int] = zlib.crc32
ACCELERATED = False

try:  # the C module, when it was built; it is used only where the CPU takes its folding path
    from analyzer.readers import _crc32  # type: ignore[attr-defined]
except ImportError:
    pass
else:
    if _crc32.ACCELERATED:
        crc32 = _crc32.crc32
        ACCELERATED = True
