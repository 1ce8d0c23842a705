"""Dispatch one archive to its format module under the shared safety layer."""

from __future__ import annotations

import os
from collections.abc import Callable

from analyzer.archives import cab, compressed, sevenzip, tar, zipfiles
from analyzer.archives.detect import KIND_LABELS, UNSUPPORTED_KINDS
from analyzer.archives.safety import Budget, Extracted, Extraction, Unsupported


def extract_archive(
    path: str,
    kind: str,
    *,
    display: str,
    dest: str,
    budget: Budget,
    warn: Callable[[str], None],
    fail: Callable[[str], None],
) -> list[Extracted]:
    """Extract every admissible member of the archive at ``path`` (a ``detect.archive_kind``) into ``dest``.

    Raises ``Refused`` (a cap broken, or the archive unreadable: drop it whole) or ``Unsupported``
    (a kind or method this tool cannot read); everything else is reported through ``warn``/``fail``.
    """
    if kind in UNSUPPORTED_KINDS:
        raise Unsupported(UNSUPPORTED_KINDS[kind])
    holds_tar = kind in ("gzip", "bzip2", "xz") and tar.holds_tar(path, kind)
    label = "tar" if holds_tar else KIND_LABELS[kind]
    x = Extraction(budget, label, display, os.path.getsize(path), dest, warn, fail)
    if kind == "zip":
        zipfiles.extract(path, x)
    elif kind == "cab":
        cab.extract(path, x)
    elif kind == "7z":
        sevenzip.extract(path, x)
    elif kind == "tar" or label == "tar":
        tar.extract(path, x, kind)
    else:
        compressed.extract(path, x, kind)
    return x.files
