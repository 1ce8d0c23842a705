"""Recognise localised text: header rows, type words, "could not be found" wrappers, rendered descriptions.

The DN-safety rule behind ``match_rendered``: insertion strings (and so DNs) are taken out of rendered
text only when one template matches the *whole* text, literal by literal, and the match is the only
possible reading (the shortest and the longest parse agree).  A text that two templates read differently,
or that one template could split in two ways, yields nothing rather than a guess.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from analyzer.languages.catalog import Language, MessageTemplate, Wrapper, all_languages, get
from analyzer.languages.words import ampm_words as ampm_words  # the index-backed words, also named here
from analyzer.languages.words import header_code, normalise
from analyzer.languages.words import signature_words as signature_words
from analyzer.model import EventType

_PLACEHOLDER = re.compile(r"%(\d+)")


# --------------------------------------------------------------------------------- headers and words


def header_language(cells: list[str]) -> Language | None:
    """The language whose Event Viewer header row the first nine ``cells`` are, else None."""
    code = header_code(cells)
    return get(code) if code is not None else None


@functools.cache
def _type_words() -> dict[str, tuple[EventType, tuple[str, ...]]]:
    """normalised word -> (type, languages that use it); a word two languages give different types is a
    data error that tests/test_languages.py catches (the first one wins here)."""
    out: dict[str, tuple[EventType, tuple[str, ...]]] = {}
    for lang in all_languages():
        for etype, phrases in lang.types.items():
            for phrase in phrases:
                key = normalise(phrase.text)
                known = out.get(key)
                if known is None:
                    out[key] = (etype, (lang.code,))
                elif known[0] is etype and lang.code not in known[1]:
                    out[key] = (etype, (*known[1], lang.code))
    return out


def event_type(word: str) -> tuple[EventType, tuple[str, ...]] | None:
    """(type, codes of the languages that use the word) for an Event Viewer type word, else None."""
    return _type_words().get(normalise(word))


@functools.cache
def _na_words() -> frozenset[str]:
    return frozenset(normalise(p.text) for lang in all_languages() for p in lang.na)


def is_na(word: str) -> bool:
    """True for the "N/A" of any language (Event Viewer's empty User field)."""
    return normalise(word) in _na_words() or not word.strip()


# ------------------------------------------------------------------------------------------ wrappers


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """What a localised "description could not be found" wrapper says."""

    language: str
    event_id: int
    source: str
    payload: str  # the insertion strings as the viewer listed them (joined, or one per line)
    wrapper: Wrapper


def _flexible(literal: str) -> str:
    """A literal as a regex where any run of spaces may be any whitespace or none (viewers differ in the
    spaces around parentheses and colons, and lines may be wrapped)."""
    core = r"\s*".join(re.escape(part) for part in literal.split())
    lead = r"\s*" if literal[:1].isspace() else ""
    tail = r"\s*" if literal[-1:].isspace() else ""
    return lead + core + tail


@functools.cache
def _wrapper_patterns() -> tuple[tuple[re.Pattern[str], re.Pattern[str], Wrapper], ...]:
    out = []
    for lang in all_languages():
        for w in lang.wrappers:
            head = re.split(r"(\{id\}|\{source\})", w.head)
            regex = "".join(
                r"(?P<id>\d+)" if p == "{id}" else r"(?P<source>.*?)" if p == "{source}" else _flexible(p) for p in head
            )
            out.append((re.compile(r"^\s*" + regex, re.DOTALL), re.compile(_flexible(w.marker) + r"[ \t]*"), w))
    return tuple(out)


def unwrap(text: str, language: str | None = None) -> Unwrapped | None:
    """The event ID, source and listed insertion strings of a localised wrapper; None when ``text`` is not
    one (English wrappers are the Event Viewer reader's own)."""
    for head, marker, w in _wrapper_patterns():
        if language is not None and w.language != language:
            continue
        match = head.match(text)
        if match is None:
            continue
        found = marker.search(text, match.end())
        payload = text[found.end() :] if found is not None else ""
        return Unwrapped(w.language, int(match.group("id")), match.group("source").strip(), payload, w)
    return None


# ----------------------------------------------------------------------------------------- templates


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    """Insertion strings read out of a rendered description through one localised template."""

    language: str
    template: MessageTemplate
    strings: tuple[str, ...]

    @property
    def confirmed(self) -> bool:
        """Whether the template's wording is confirmed by a public source (else it is our reconstruction)."""
        return self.template.confirmed


@functools.cache
def _template_regexes(text: str) -> tuple[re.Pattern[str], re.Pattern[str], tuple[int, ...]]:
    """(shortest-parse regex, longest-parse regex, placeholder numbers in group order) of a template text
    (cached by the text: strings keep their hash, a dataclass would be hashed field by field each call)."""
    pieces = _PLACEHOLDER.split(text)
    order: list[int] = []
    lazy, greedy = [], []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            literal = r"\s+".join(re.escape(p) for p in piece.split(" ")) if piece.strip() else re.escape(piece)
            literal = re.sub(r"(\\s\+)+", r"\\s+", literal)
            lazy.append(literal)
            greedy.append(literal)
            continue
        number = int(piece)
        if number in order:
            backref = f"(?P=s{number})"
            lazy.append(backref)
            greedy.append(backref)
            continue
        order.append(number)
        lazy.append(rf"(?P<s{number}>.+?)")
        greedy.append(rf"(?P<s{number}>.+)")
    flags = re.DOTALL
    return (
        re.compile(r"\s*" + "".join(lazy) + r"\s*", flags),
        re.compile(r"\s*" + "".join(greedy) + r"\s*", flags),
        tuple(order),
    )


def _strings(match: re.Match[str], order: tuple[int, ...]) -> tuple[str, ...]:
    """Strings by placeholder number (1..max); a number the template skips stays empty."""
    values = {n: match.group(f"s{n}").strip() for n in order}
    return tuple(values.get(n, "") for n in range(1, max(order) + 1)) if order else ()


def templates_for(
    source: str | None = None, event_id: int | None = None, language: str | None = None
) -> list[MessageTemplate]:
    """The localised templates that may have rendered an event of ``source`` / ``event_id``."""
    if source and event_id is not None:  # the reader's case, once per description: a dictionary look-up
        found = _by_event().get((source.strip().casefold(), event_id & 0xFFFF), ())
        return [t for t in found if language is None or t.language == get(language).code]
    langs = [get(language)] if language else list(all_languages())
    key = source.strip().casefold() if source else None
    return [
        t
        for lang in langs
        for t in lang.messages
        if (key is None or key in (s.casefold() for s in t.sources))
        and (event_id is None or t.event_id == event_id & 0xFFFF)
    ]


@functools.cache
def _by_event() -> dict[tuple[str, int], tuple[MessageTemplate, ...]]:
    table: dict[tuple[str, int], list[MessageTemplate]] = {}
    for lang in all_languages():
        for t in lang.messages:
            for src in t.sources:
                table.setdefault((src.casefold(), t.event_id), []).append(t)
    return {key: tuple(found) for key, found in table.items()}


def match_rendered(
    text: str, *, source: str | None = None, event_id: int | None = None, language: str | None = None
) -> TemplateMatch | None:
    """Insertion strings of a rendered localised description, or None.

    Returned only when exactly one reading exists: one template (of ``language`` when given; filtered by
    ``source``/``event_id`` when known) matches the whole text, its shortest and longest parses agree, and
    no other template reads the text differently.  ``TemplateMatch.confirmed`` tells whether the template
    is Microsoft's confirmed wording or our reconstruction.
    """
    if not text or not text.strip():
        return None
    found: TemplateMatch | None = None
    for template in templates_for(source, event_id, language):
        lazy, greedy, order = _template_regexes(template.text)
        short = lazy.fullmatch(text)
        if short is None:
            continue
        long = greedy.fullmatch(text)
        if long is None or _strings(short, order) != _strings(long, order):
            return None  # the literals occur inside a string: more than one reading
        candidate = TemplateMatch(template.language, template, _strings(short, order))
        if found is not None and found.strings != candidate.strings:
            return None
        found = found or candidate
    return found


# ------------------------------------------------------------------------------------------ rendering


def render(template: MessageTemplate, strings: tuple[str, ...] | list[str]) -> str:
    """Fill a localised template (a placeholder without a string stays ``%n``, as a viewer shows it).

    Used by the test writers to produce localised exports; the text is our reconstruction unless the
    template is confirmed."""

    def fill(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return strings[index - 1] if 1 <= index <= len(strings) else match.group(0)

    return _PLACEHOLDER.sub(fill, template.text)


def wrapper_text(wrapper: Wrapper, event_id: int, source: str, strings: tuple[str, ...] | list[str]) -> str:
    """A localised "could not be found" text listing ``strings`` joined by ", " with a final period."""
    head = wrapper.head.replace("{id}", str(event_id)).replace("{source}", source)
    middle = f" {wrapper.middle}" if wrapper.middle else ""
    return f"{head}{middle} {wrapper.marker} {', '.join(strings)}."
