"""Tell a file's format by its bytes, never by its name.

Walks the table of formats the readers declare (``analyzer.readers.FORMATS``): binary formats by
their magic, then -- after refusing containers and formats no reader handles (zip is a case's
business, see ``analyzer.case``) -- text formats by decoding the head (BOM / UTF-16 / ANSI) and asking
each text format's detector.  Unknown content is an ``InputError`` with a one-line reason.
"""

from __future__ import annotations

from analyzer.limits import regular_file
from analyzer.model import InputError
from analyzer.readers import EVENT_FORMATS, FORMATS, REGISTRY_FORMATS
from analyzer.readers.text import decode_head

HEAD_SIZE = 65536


def sniff_bytes(head: bytes, path: str = "<bytes>") -> str:
    """Format name for a file head: evt, evtx, hive, zip, reg, regedt32, regquery, evtxt, evcsv, dumpel."""
    if not head:
        raise InputError(path, "empty file")
    for fmt in FORMATS:
        if fmt.magic is not None and fmt.magic(head):
            return fmt.name
    if head.startswith(b"CREG"):
        raise InputError(path, "Windows 95/98/ME registry (CREG, SYSTEM.DAT) is not supported; export it with regedit")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b") or head.startswith(b"\xfd7zXZ") or head.startswith(b"7z\xbc\xaf"):
        raise InputError(path, "compressed file (gzip/xz/7z): decompress it first")
    if head[:4] == b"SZDD" or head[:4] == b"KWAJ":
        raise InputError(path, "MS-DOS COMPRESS file (e.g. an ERD SYSTEM._): expand it first with EXPAND.EXE")
    text = decode_head(head)
    if _looks_binary(text):
        raise InputError(path, "not an event log or registry export (unrecognised binary content)")
    for fmt in FORMATS:
        if fmt.detect is not None and fmt.detect(text):
            return fmt.name
    first = text.strip().splitlines()[0][:60] if text.strip() else ""
    raise InputError(path, f"not an event log or registry export (text starting {first!r})")


def sniff(path: str) -> str:
    """Format of the file at ``path``; raises InputError for directories, unreadable or unknown files."""
    regular_file(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_SIZE)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if head and not head.strip(b"\x00"):
        raise InputError(path, "contains only zero bytes")
    return sniff_bytes(head, path)


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return True
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t\f") or ch == "\ufffd")
    return bad > len(sample) * 0.05


__all__ = ["EVENT_FORMATS", "HEAD_SIZE", "REGISTRY_FORMATS", "regular_file", "sniff", "sniff_bytes"]
