"""Text decoding shared by every text reader: BOMs, UTF-16 without BOM, ANSI code pages.

Exports from the NT 4.0 / Windows 2000 era come as ANSI (cp1252 by default), UTF-16LE with BOM
(regedit 5.00) and, after a trip through newer tools, UTF-8 with or without BOM.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from typing import ClassVar, TextIO

from analyzer.model import ReadWarning

DEFAULT_ANSI = "cp1252"
# ANSI code pages of the languages Exchange 5.5 servers ran in: Western, Central European, Japanese,
# Simplified Chinese, Korean, Traditional Chinese.
ANSI_CANDIDATES = ("cp1252", "cp1250", "cp932", "cp936", "cp949", "cp950")


@dataclass(frozen=True, slots=True)
class ReadNote(ReadWarning):
    """Not damage but a fact about how a file was read (its language, code page); shown as the input's note."""

    is_note: ClassVar[bool] = True  # sinks below the readers layer tell notes from warnings by this flag


@dataclass(frozen=True, slots=True)
class Encoding:
    """The codec chosen for a text file and why."""

    codec: str  # without BOM handling (the BOM is skipped separately)
    bom: int  # bytes of BOM to skip
    how: str  # "BOM" | "sign" (UTF-16 zero bytes, valid UTF-8) | "given" | "default" | "content"
    confidence: float = 1.0

    @property
    def plain(self) -> bool:
        """True when there was nothing to decide (a BOM, UTF-8/16 signs, ASCII or the default code page)."""
        return self.how != "content" or self.codec == DEFAULT_ANSI

    def describe(self) -> str:
        names = {"utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE", "utf-8": "UTF-8"}
        name = names.get(self.codec, self.codec)
        if self.how == "BOM":
            return f"{name} (byte order mark)"
        if self.how == "sign":
            return f"{name} (no byte order mark)"
        if self.how == "given":
            return f"{name} (--encoding)"
        if self.how == "content":
            return f"{name} (chosen by content, confidence {self.confidence:.2f})"
        return name


def choose_encoding(head: bytes, given: str | None = None, words: tuple[str, ...] = ()) -> Encoding:
    """The encoding of a text file from its first bytes: BOM, then UTF-16 without BOM (NUL pattern), then
    UTF-8, then one ANSI code page.  ``given`` (``--encoding``) decides the ANSI code page outright.

    Among the ANSI candidates the one whose decoding holds most of ``words`` (header names, type words and
    labels of the known languages) wins, with a confidence from how far the runner-up is behind."""
    if head.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8", 3, "BOM")
    if head.startswith(codecs.BOM_UTF16_LE):
        return Encoding("utf-16-le", 2, "BOM")
    if head.startswith(codecs.BOM_UTF16_BE):
        return Encoding("utf-16-be", 2, "BOM")
    found = detect_encoding(head, given or DEFAULT_ANSI)
    if found in ("utf-16-le", "utf-16-be"):
        return Encoding(found, 0, "sign")
    if found in ("utf-8", "utf-8-sig"):
        return Encoding("utf-8", 0, "sign")
    if given:
        return Encoding(given, 0, "given")
    if not any(b >= 0x80 for b in head):
        return Encoding(DEFAULT_ANSI, 0, "default")
    return _ansi_by_content(head, words)


def _strict(head: bytes, codec: str) -> str | None:
    """``head`` decoded strictly, forgiving a multi-byte character cut at the end; None if it fails."""
    for cut in range(4):
        try:
            return head[: len(head) - cut].decode(codec)
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                return None
    return None


def _ansi_by_content(head: bytes, words: tuple[str, ...]) -> Encoding:
    """The code page whose decoding holds the most words of a known language; without such words the
    Western default (high bytes alone cannot tell accents from half-width katakana or Big5), and only when
    that cannot decode the bytes, charset-normalizer's choice."""
    decoded: dict[str, str] = {}
    for cp in ANSI_CANDIDATES:  # code pages that decode the bytes to the same text: the first one stands
        text = _strict(head, cp)
        if text is not None and text not in decoded.values():
            decoded[cp] = text
    if not decoded:
        return Encoding(DEFAULT_ANSI, 0, "content", 0.0)
    words = tuple(w for w in words if not w.isascii())  # ASCII words read the same in every code page
    scores = {cp: sum(text.count(w) for w in words) for cp, text in decoded.items()}
    best = max(scores.values())
    if best > 0:
        winners = [cp for cp, score in scores.items() if score == best]
        if len(winners) == 1:
            runner_up = max([sc for cp, sc in scores.items() if cp != winners[0]] or [0])
            return Encoding(winners[0], 0, "content", round(1 - runner_up / best, 2))
        decoded = {cp: decoded[cp] for cp in winners}
    if DEFAULT_ANSI in decoded:
        return Encoding(DEFAULT_ANSI, 0, "content", 1.0 if best > 0 else 0.5)
    choice = _detector_choice(head, list(decoded)) or next(iter(decoded))
    return Encoding(choice, 0, "content", 0.5)


def _detector_choice(head: bytes, candidates: list[str]) -> str | None:
    """charset-normalizer's least chaotic decoding among ``candidates`` (None when it has no opinion)."""
    try:
        from charset_normalizer import from_bytes

        match = from_bytes(head, cp_isolation=candidates).best()
    except Exception:  # the detector is an aid, never a reason to fail reading
        return None
    return match.encoding if match is not None and match.encoding in candidates else None


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
    """Decode the first bytes of a file for sniffing (never raises); without a BOM or UTF signs the ANSI code
    page is chosen by the words of the known languages (a Japanese Regedt32 report is cp932)."""
    from analyzer.languages import signature_words  # a text input's sniffing: a binary log never needs it

    enc = choose_encoding(head, None if ansi == DEFAULT_ANSI else ansi, signature_words())
    return head[enc.bom :].decode(enc.codec, errors="replace")


def open_text(path: str, encoding: str | None = None, ansi: str = DEFAULT_ANSI) -> TextIO:
    """Open a text export for streaming; newline=None folds CRLF/CR/LF, bad bytes are replaced."""
    raw = open(path, "rb")  # noqa: SIM115 - handed to TextIOWrapper, closed with it
    if encoding is None:
        head = raw.read(8192)
        raw.seek(0)
        encoding = detect_encoding(head, ansi)
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=None)
