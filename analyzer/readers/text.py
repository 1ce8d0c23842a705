"""Text decoding shared by every text reader: BOMs, UTF-16 without BOM, ANSI code pages.

Exports from the NT 4.0 / Windows 2000 era come as ANSI (cp1252 by default), UTF-16LE with BOM
(regedit 5.00) and, after a trip through newer tools, UTF-8 with or without BOM.
"""

from __future__ import annotations

import codecs
import io
from typing import TextIO

DEFAULT_ANSI = "cp1252"


def detect_encoding(head: bytes, ansi: str = DEFAULT_ANSI) -> str:
    """Guess the encoding of a text file from its first bytes (BOM first, then NUL patterns)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"  # consumes the BOM
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4:
        odd_nuls = sample[1::2].count(0)
        even_nuls = sample[0::2].count(0)
        half = len(sample) // 2
        if odd_nuls > half * 0.6 and even_nuls < half * 0.1:
            return "utf-16-le"
        if even_nuls > half * 0.6 and odd_nuls < half * 0.1:
            return "utf-16-be"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte sequence cut at the end of the sample is still UTF-8; an invalid byte near the
        # end (e.g. a lone cp1252 "¡" in a small file) is not.
        if exc.start < len(sample) - 3 or exc.reason != "unexpected end of data":
            return ansi
    return "utf-8" if any(b >= 0x80 for b in sample) else ansi


def decode_head(head: bytes, ansi: str = DEFAULT_ANSI) -> str:
    """Decode the first bytes of a file for sniffing (never raises)."""
    enc = detect_encoding(head, ansi)
    return head.decode(enc, errors="replace")


def open_text(path: str, encoding: str | None = None, ansi: str = DEFAULT_ANSI) -> TextIO:
    """Open a text export for streaming; newline=None folds CRLF/CR/LF, bad bytes are replaced."""
    raw = open(path, "rb")  # noqa: SIM115 - handed to TextIOWrapper, closed with it
    if encoding is None:
        head = raw.read(8192)
        raw.seek(0)
        encoding = detect_encoding(head, ansi)
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=None)
