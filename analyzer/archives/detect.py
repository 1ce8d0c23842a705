"""Which archive kind a file is, from its first bytes: a renamed ``.cab`` is still a cabinet.

Single compressed files (gzip, bzip2, xz) holding a tar are reported as ``tar`` only after the
decompressed stream proves it (``analyzer.archives.tar.holds_tar``); here they are their
compression kind.
"""

from __future__ import annotations

import re

#: kind -> label used in messages ("corrupt cab archive", "7z member damaged" ...)
KIND_LABELS = {
    "zip": "zip",
    "cab": "cab",
    "7z": "7z",
    "tar": "tar",
    "gzip": "gzip",
    "bzip2": "bzip2",
    "xz": "xz",
    "rar": "RAR",
}
#: kinds recognised but not read: one line, and the case goes on with its other inputs
UNSUPPORTED_KINDS = {"rar": "RAR archive: not supported (extract it and give the files or a zip)"}

_BZIP2 = re.compile(rb"^BZh[1-9](?:1AY&SY|\x17rE8P\x90)")
HEAD_BYTES = 512


def archive_kind(path: str) -> str | None:
    """``zip``, ``cab``, ``7z``, ``tar``, ``gzip``, ``bzip2``, ``xz``, ``rar`` or None (not an archive)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    return kind_of_head(head)


def kind_of_head(head: bytes) -> str | None:
    """The archive kind of a file starting with ``head`` (at least 512 bytes when the file has them)."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:8] == b"MSCF\x00\x00\x00\x00":
        return "cab"
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if _BZIP2.match(head):
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:6] == b"Rar!\x1a\x07":
        return "rar"
    if is_tar_header(head):
        return "tar"
    return None


def is_tar_header(block: bytes) -> bool:
    """A tar header: the ``ustar`` magic, or (old V7 tars have none) a correct header checksum."""
    if len(block) < 512:
        return False
    if block[257:262] == b"ustar":
        return True
    stored = block[148:156].replace(b"\x00", b" ").strip()
    if not stored or not all(48 <= c <= 55 for c in stored) or block[0] == 0:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return int(stored, 8) == unsigned


def is_archive(path: str) -> bool:
    """True when the file is an archive of any kind this package knows (supported or not)."""
    return archive_kind(path) is not None
