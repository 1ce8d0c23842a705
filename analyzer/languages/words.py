"""The few language facts that recognising a file needs, answered from the languages' index alone.

Why a module of its own: sniffing a text file and importing the text readers need only the Event Viewer
header rows, the AM/PM words, the Regedt32 labels and the words that tell a code page (``INDEX``, from
``analyzer/languages/_index.py``); importing them from here loads neither a language file nor the
matching machinery (``catalog``, ``match``), which a case of binary logs never needs.
"""

from __future__ import annotations

import unicodedata

from analyzer.languages._index import INDEX as INDEX  # the index itself, for readers that look words up


def normalise(text: str) -> str:
    """Compare form of a label or word: NFC, whitespace runs folded, case folded, quotes trimmed."""
    text = unicodedata.normalize("NFC", text).strip().strip('"').strip()
    return " ".join(text.split()).casefold()


def header_code(cells: list[str]) -> str | None:
    """The code of the language whose Event Viewer header row the first nine ``cells`` are, else None.

    Answered from the languages' index: sniffing a file loads no language file."""
    key = tuple(normalise(c) for c in cells[:9])
    if len(key) < 9:
        return None
    for row, code in INDEX["headers"]:
        if row == key:
            return code
    return None


def ampm_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(AM words, PM words) of every language, longest first (for building time patterns); from the
    languages' index, because the text readers build their patterns when they are imported."""
    return INDEX["am"], INDEX["pm"]


def signature_words() -> tuple[str, ...]:
    """Words that identify a language's exports (header names, type words, Regedt32 labels), used to tell
    which ANSI code page decodes a file into something a viewer of that language wrote (from the
    languages' index: every text file's head is decoded with them while it is sniffed)."""
    return INDEX["signature_words"]


__all__ = ["ampm_words", "header_code", "normalise", "signature_words"]
