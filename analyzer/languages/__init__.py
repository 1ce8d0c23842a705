"""Languages as data: what localised Windows NT 4.0 / 2000 and Exchange 5.5 wrote, one file per language.

``analyzer/languages/data/<code>.yaml`` holds, for one language, the Event Viewer column headers, event
type words, category names, the "description ... could not be found" wrappers, the localised message
texts of the events the rules read (as templates with %1 %2 ... insertion points), the Regedt32 report
labels, the ``reg query`` words and the date and time formats.  Every string is marked ``confirmed`` (with
its public source) or ``reconstructed``.  How to add a language: docs/languages.md.

The API other modules use:

* ``match_rendered(text, source=, event_id=, language=)`` -> ``TemplateMatch`` (language, template,
  insertion strings) when exactly one localised template reads the whole text, else None;
* ``unwrap(text)`` -> the event ID, source and listed strings of a localised wrapper;
* ``header_language(cells)`` (``header_code(cells)`` without loading a language file), ``event_type(word)``, ``is_na(word)``: Event Viewer export detection;
* ``all_languages()``, ``get(code)``, ``coverage()``: the tables themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analyzer.languages.words import ampm_words, header_code, normalise, signature_words

if TYPE_CHECKING:
    from analyzer.languages.catalog import (
        Dates,
        Language,
        LanguageFileError,
        MessageTemplate,
        Phrase,
        Wrapper,
        all_languages,
        get,
        load_file,
    )
    from analyzer.languages.match import (
        TemplateMatch,
        Unwrapped,
        event_type,
        header_language,
        is_na,
        match_rendered,
        render,
        templates_for,
        unwrap,
        wrapper_text,
    )

#: Names of ``catalog`` and of ``match`` this package answers, each loaded with its module on first use.
_CATALOG = frozenset(
    [
        "Dates",
        "Language",
        "LanguageFileError",
        "MessageTemplate",
        "Phrase",
        "Wrapper",
        "all_languages",
        "get",
        "load_file",
    ]
)
_MATCH = frozenset(
    [
        "TemplateMatch",
        "Unwrapped",
        "event_type",
        "header_language",
        "is_na",
        "match_rendered",
        "render",
        "templates_for",
        "unwrap",
        "wrapper_text",
    ]
)


def __getattr__(name: str) -> Any:
    """The tables (``catalog``) and the matching (``match``) load when first used: sniffing a file needs only
    the index-backed words above, and a case of binary logs whose descriptions the English catalog reads
    needs nothing of this package."""
    if name in _CATALOG:
        from analyzer.languages import catalog as module
    elif name in _MATCH:
        from analyzer.languages import match as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # asked once
    return value


ARTEFACTS = ("columns", "types", "categories", "wrappers", "messages", "regedt32", "reg_query", "dates")


def coverage() -> list[dict[str, object]]:
    """One row per language and artefact: how many strings are confirmed and how many reconstructed."""
    rows: list[dict[str, object]] = []
    for lang in all_languages():
        counts: dict[str, list[int]] = {a: [0, 0] for a in ARTEFACTS}
        for table, phrase in lang.phrases():
            if table == "na":
                table = "types"
            counts[table][0 if phrase.confirmed else 1] += 1
        for artefact, (confirmed, reconstructed) in counts.items():
            rows.append(
                {
                    "language": lang.code,
                    "name": lang.name,
                    "artefact": artefact,
                    "confirmed": confirmed,
                    "reconstructed": reconstructed,
                }
            )
    return rows


__all__ = [
    "ARTEFACTS",
    "Dates",
    "Language",
    "LanguageFileError",
    "MessageTemplate",
    "Phrase",
    "TemplateMatch",
    "Unwrapped",
    "Wrapper",
    "all_languages",
    "ampm_words",
    "coverage",
    "event_type",
    "get",
    "header_code",
    "header_language",
    "is_na",
    "load_file",
    "match_rendered",
    "normalise",
    "render",
    "signature_words",
    "templates_for",
    "unwrap",
    "wrapper_text",
]
