"""Untrusted case archives: one safety layer, one small reader per archive kind.

Why a package: customers send evidence as .zip, MPS Reports .cab, .7z, tarballs and single
compressed files (``AppEvent.Evt.gz``).  Every kind must obey the same rules -- no member escapes
the temp folder, no bomb fills the disk, links and device files are never followed, encrypted
members are reported -- so the rules live once in ``safety`` and each format module only turns its
archive into ``Member`` descriptions and byte streams.

* ``detect``   -- which kind a file is, by its first bytes (never by its name);
* ``names``    -- member names made safe (``..``, absolute, drive letters, UNC, bad characters);
* ``safety``   -- caps (count, total size, per member, ratio), member kinds, streamed copy;
* ``zipfiles``, ``cab``, ``sevenzip``, ``tar``, ``compressed`` -- one reader per kind;
* ``mps``      -- MPS Reports' file naming (``SERVER_Application.evt``): server and log of a file.

``extract.extract_archive`` is the one entry point ``analyzer.case`` uses.  It is not imported here:
the per-kind readers (tarfile, zipfile, gzip, bz2, lzma, cab, 7z) load only when a case holds an
archive, so a case of plain files never pays for them.  The names below load from their module on
first use too (``__getattr__``): asking whether a file is an archive loads ``detect`` alone, and the
safety layer (``safety``, ``names``) loads when an archive is opened.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.archives.budget import Budget
    from analyzer.archives.detect import KIND_LABELS, UNSUPPORTED_KINDS, archive_kind, is_archive
    from analyzer.archives.names import safe_member_parts, unique_name
    from analyzer.archives.safety import Extracted, Refused, Unsupported

__all__ = [
    "KIND_LABELS",
    "UNSUPPORTED_KINDS",
    "Budget",
    "Extracted",
    "Refused",
    "Unsupported",
    "archive_kind",
    "is_archive",
    "safe_member_parts",
    "unique_name",
]

#: name -> the module of this package that defines it
_HOMES = {
    "KIND_LABELS": "detect",
    "UNSUPPORTED_KINDS": "detect",
    "archive_kind": "detect",
    "is_archive": "detect",
    "Budget": "budget",
    "Extracted": "safety",
    "Refused": "safety",
    "Unsupported": "safety",
    "safe_member_parts": "names",
    "unique_name": "names",
}


def __getattr__(name: str) -> object:
    """One of ``__all__``, imported from its module on first use (then kept here)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
