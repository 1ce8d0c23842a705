"""Load the language files (``analyzer/languages/data/<code>.yaml``) into typed, frozen tables.

Why data and not code: the wordings of localised Windows and Exchange differ per language and per version,
and most of them cannot be checked against a public source.  Keeping each language in one file makes
every string's status visible next to it: ``confirmed`` (with the public source that shows it) or
``reconstructed`` (our own rendering, never to be presented as Microsoft's wording).  The file format is
documented in docs/languages.md; a broken file is reported by name and never half-loaded.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.model import EventType

DATA = Path(__file__).resolve().parent / "data"
STATUSES = ("confirmed", "reconstructed")
REGEDT32_LABELS = ("key_name", "class_name", "last_write_time", "value", "name", "type", "data", "no_class", "no_name")
DATE_ORDERS = ("dmy", "mdy", "ymd")
_URL = re.compile(r"^https?://")


class LanguageFileError(ValueError):
    """A language file that cannot be used; ``str()`` names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Phrase:
    """One localised string and what we know about it."""

    text: str
    confirmed: bool
    source: str | None = None  # the public source (URL or description) when confirmed, or a lead when not
    windows: str = "any"  # nt4 | 2000 | vista | any: the versions that show this wording
    note: str = ""

    @property
    def status(self) -> str:
        return "confirmed" if self.confirmed else "reconstructed"


@dataclass(frozen=True, slots=True)
class Wrapper:
    """The "description ... could not be found" text of one Windows version: ``head`` (with ``{id}`` and
    ``{source}``), an optional ``middle`` sentence, then ``marker`` followed by the insertion strings."""

    language: str
    head: str
    marker: str
    middle: str
    phrase: Phrase


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A localised event description with %1 %2 ... insertion points."""

    language: str
    sources: tuple[str, ...]
    event_id: int
    text: str
    phrase: Phrase

    @property
    def confirmed(self) -> bool:
        return self.phrase.confirmed


@dataclass(frozen=True, slots=True)
class Dates:
    """How the language's Event Viewer and Regedt32 write dates and times."""

    order: str  # dmy | mdy | ymd: the order of a date with the language's separators
    separators: tuple[str, ...]
    clock: str  # 12h | 24h
    time_separator: str = ":"
    am: tuple[str, ...] = ()
    pm: tuple[str, ...] = ()
    phrase: Phrase | None = None


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name: str
    ansi: tuple[str, ...]  # ANSI code pages Windows used for the language
    columns: tuple[tuple[tuple[str, ...], Phrase], ...]  # header rows (nine names each)
    na: tuple[Phrase, ...]
    types: dict[EventType, tuple[Phrase, ...]]
    categories: dict[str, tuple[Phrase, ...]]  # English category name -> localised names
    wrappers: tuple[Wrapper, ...]
    messages: tuple[MessageTemplate, ...]
    regedt32: dict[str, tuple[Phrase, ...]]
    reg_query: dict[str, tuple[Phrase, ...]]
    dates: Dates
    path: str = field(default="", compare=False)

    def type_word(self, etype: EventType) -> str:
        """The word a writer uses for ``etype`` (the first, NT 4.0 / 2000, wording)."""
        return self.types[etype][0].text

    def category_word(self, english: str) -> str | None:
        found = self.categories.get(english)
        return found[0].text if found else None

    def phrases(self) -> list[tuple[str, Phrase]]:
        """Every string of the language with the table it belongs to (for coverage listings and tests)."""
        out: list[tuple[str, Phrase]] = [("columns", p) for _, p in self.columns]
        out += [("na", p) for p in self.na]
        out += [("types", p) for group in self.types.values() for p in group]
        out += [("categories", p) for group in self.categories.values() for p in group]
        out += [("wrappers", w.phrase) for w in self.wrappers]
        out += [("messages", m.phrase) for m in self.messages]
        out += [("regedt32", p) for group in self.regedt32.values() for p in group]
        out += [("reg_query", p) for group in self.reg_query.values() for p in group]
        if self.dates.phrase is not None:
            out.append(("dates", self.dates.phrase))
        return out


# ------------------------------------------------------------------------------------------ loading


def _yaml_load(text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is present
    return yaml.load(text, Loader=loader)


class _Reader:
    """Validates one file while building its tables; every error names the file and the place."""

    def __init__(self, path: Path, doc: Any) -> None:
        self.path = path
        if not isinstance(doc, dict):
            self.fail("", "the file must be a mapping")
        self.doc: dict[str, Any] = doc
        sources = doc.get("sources") or {}
        if not isinstance(sources, dict):
            self.fail("sources", "must be a mapping of key -> description")
        self.sources: dict[str, str] = {str(k): str(v) for k, v in sources.items()}

    def fail(self, where: str, problem: str) -> None:
        raise LanguageFileError(f"{self.path.name}: {where + ': ' if where else ''}{problem}")

    def phrase_groups(self, where: str, value: Any) -> list[tuple[list[str], Phrase]]:
        """``{text: str | [str], status, source?, windows?, note?}`` or a list of those."""
        items = value if isinstance(value, list) else [value]
        out = []
        for index, item in enumerate(items):
            here = f"{where}[{index}]"
            if not isinstance(item, dict) or "text" not in item:
                self.fail(here, "expected a mapping with 'text' and 'status'")
            status = item.get("status")
            if status not in STATUSES:
                self.fail(here, f"status must be one of {', '.join(STATUSES)}, not {status!r}")
            source = item.get("source")
            if source is not None:
                source = str(source)
                if source in self.sources:
                    source = self.sources[source]
                elif not _URL.match(source):
                    self.fail(here, f"source {source!r} is neither a key of 'sources' nor a URL")
            if status == "confirmed" and not source:
                self.fail(here, "a confirmed string needs its public source")
            texts = item["text"] if isinstance(item["text"], list) else [item["text"]]
            if not texts or not all(isinstance(t, str | int) and str(t).strip() for t in texts):
                self.fail(here, "text must be a non-empty string or a list of them")
            texts = [str(t) for t in texts]
            phrase = Phrase(
                text=" | ".join(texts) if len(texts) > 1 else texts[0],
                confirmed=status == "confirmed",
                source=source,
                windows=str(item.get("windows", "any")),
                note=str(item.get("note", "")),
            )
            out.append((texts, phrase))
        return out

    def phrases(self, where: str, value: Any) -> tuple[Phrase, ...]:
        return tuple(p for _, p in self.phrase_groups(where, value))

    def build(self) -> Language:
        doc = self.doc
        code = doc.get("code")
        if not isinstance(code, str) or not re.fullmatch(r"[a-z]{2}(?:-[A-Z]{2})?", code):
            self.fail("code", "a language code such as 'de' or 'pt-BR' is required")
        if self.path.stem != code:
            self.fail("code", f"the file of language {code!r} must be named {code}.yaml")
        ansi = doc.get("ansi") or ["cp1252"]
        ansi = [ansi] if isinstance(ansi, str) else ansi
        for cp in ansi:
            try:
                codecs.lookup(cp)
            except LookupError:
                self.fail("ansi", f"unknown code page {cp!r}")
        viewer = doc.get("event_viewer") or {}
        columns = []
        for names, phrase in self.phrase_groups("event_viewer.columns", viewer.get("columns") or []):
            if len(names) != 9:
                self.fail("event_viewer.columns", f"a header row has nine names, not {len(names)}")
            columns.append((tuple(names), phrase))
        types: dict[EventType, tuple[Phrase, ...]] = {}
        for key, value in (viewer.get("types") or {}).items():
            try:
                etype = EventType(key)
            except ValueError:
                self.fail("event_viewer.types", f"unknown event type {key!r}")
            types[etype] = self.phrases(f"event_viewer.types.{key}", value)
        missing = [t.value for t in EventType if t not in types]
        if columns and missing:
            self.fail("event_viewer.types", f"missing {', '.join(missing)}")
        categories = {
            str(k): self.phrases(f"event_viewer.categories.{k}", v) for k, v in (viewer.get("categories") or {}).items()
        }
        wrappers = []
        for index, item in enumerate(viewer.get("wrappers") or []):
            here = f"event_viewer.wrappers[{index}]"
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("head", "marker")):
                self.fail(here, "needs 'head' and 'marker' strings")
            if "{id}" not in item["head"] or "{source}" not in item["head"]:
                self.fail(here, "'head' must hold {id} and {source}")
            (phrase,) = self.phrases(here, {**item, "text": item["head"]})
            wrappers.append(Wrapper(code, item["head"], item["marker"], str(item.get("middle", "")), phrase))
        messages = []
        for index, item in enumerate(doc.get("messages") or []):
            here = f"messages[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), int) or not item.get("sources"):
                self.fail(here, "needs 'sources', an integer 'id' and 'text'")
            (phrase,) = self.phrases(here, item)
            sources = tuple(str(s) for s in item["sources"])
            messages.append(MessageTemplate(code, sources, int(item["id"]) & 0xFFFF, str(item["text"]), phrase))
        regedt32 = {}
        for key, value in (doc.get("regedt32") or {}).items():
            if key not in REGEDT32_LABELS:
                self.fail("regedt32", f"unknown label {key!r} (known: {', '.join(REGEDT32_LABELS)})")
            regedt32[key] = self.phrases(f"regedt32.{key}", value)
        reg_query = {str(k): self.phrases(f"reg_query.{k}", v) for k, v in (doc.get("reg_query") or {}).items()}
        return Language(
            code=code,
            name=str(doc.get("name") or code),
            ansi=tuple(ansi),
            columns=tuple(columns),
            na=self.phrases("event_viewer.na", viewer.get("na") or []),
            types=types,
            categories=categories,
            wrappers=tuple(wrappers),
            messages=tuple(messages),
            regedt32=regedt32,
            reg_query=reg_query,
            dates=self.dates(doc.get("dates")),
            path=str(self.path),
        )

    def dates(self, value: Any) -> Dates:
        if not isinstance(value, dict):
            self.fail("dates", "a mapping with order, separators and clock is required")
        order, clock = value.get("order"), value.get("clock")
        if order not in DATE_ORDERS:
            self.fail("dates.order", f"must be one of {', '.join(DATE_ORDERS)}")
        if clock not in ("12h", "24h"):
            self.fail("dates.clock", "must be 12h or 24h")
        seps = tuple(str(s) for s in value.get("separators") or ["/"])
        phrase = None
        if "status" in value:
            (phrase,) = self.phrases("dates", {**value, "text": f"{order} {'/'.join(seps)} {clock}"})
        return Dates(
            order=order,
            separators=seps,
            clock=clock,
            time_separator=str(value.get("time_separator", ":")),
            am=tuple(str(s) for s in value.get("am") or ()),
            pm=tuple(str(s) for s in value.get("pm") or ()),
            phrase=phrase,
        )


def load_file(path: str | Path) -> Language:
    """One language file; LanguageFileError (naming the file) when it is not valid."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LanguageFileError(f"{path.name}: cannot read: {exc}") from None
    try:
        doc = _yaml_load(text)
    except Exception as exc:  # yaml.YAMLError and its C twin
        raise LanguageFileError(f"{path.name}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return _Reader(path, doc).build()


@functools.cache
def all_languages() -> tuple[Language, ...]:
    """Every shipped language, English first, then by code."""
    found = [_shipped(p) for p in sorted(DATA.glob("*.yaml"))]
    return tuple(sorted(found, key=lambda lang: (lang.code != "en", lang.code)))


@functools.cache
def _shipped(path: Path) -> Language:
    """One shipped language file, loaded once (``get`` and ``all_languages`` hand out the same object)."""
    return load_file(path)


def get(code: str) -> Language:
    """The language with ``code`` (case-insensitive); ValueError listing the known codes otherwise.

    Loads that language's file only (its file is named after its code, which loading checks)."""
    wanted = code.strip().casefold()
    for path in sorted(DATA.glob("*.yaml")):
        if path.stem.casefold() == wanted:
            lang = _shipped(path)
            if lang.code.casefold() == wanted:
                return lang
    for lang in all_languages():
        if lang.code.casefold() == wanted:
            return lang
    known = ", ".join(lang.code for lang in all_languages())
    raise ValueError(f"unknown language {code!r} (known: {known})")
