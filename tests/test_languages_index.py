"""The languages' index (``analyzer/languages/_index.py``) is what the language files say: rebuilt from them
here, it must be identical, and the functions that answer from it give what the files give."""

from __future__ import annotations

from analyzer import languages
from analyzer.languages import catalog, index, match


def test_the_index_is_rebuilt_identically_from_the_language_files() -> None:
    rebuilt = index.build(catalog.all_languages())
    assert rebuilt == index.INDEX, "a language file changed: run python -m analyzer.languages.index"


def test_the_index_answers_as_the_language_files() -> None:
    langs = catalog.all_languages()
    assert match.ampm_words() == (
        tuple(sorted({w for lang in langs for w in lang.dates.am}, key=lambda w: (-len(w), w))),
        tuple(sorted({w for lang in langs for w in lang.dates.pm}, key=lambda w: (-len(w), w))),
    )
    for lang in langs:
        for names, _ in lang.columns:
            assert languages.header_language(list(names)) is lang
            assert languages.header_code([f"  {n.upper()} " for n in names]) == lang.code
    assert languages.header_code(["Date", "Time", "Source"]) is None
    words = {w for lang in langs for names, _ in lang.columns for w in names}
    assert words <= set(match.signature_words())


def test_get_loads_only_the_language_asked_for() -> None:
    catalog.all_languages.cache_clear()
    catalog._shipped.cache_clear()
    try:
        assert languages.get("DE").code == "de"
        assert catalog._shipped.cache_info().currsize == 1
        assert languages.get("de") is next(lang for lang in catalog.all_languages() if lang.code == "de")
    finally:
        catalog.all_languages.cache_clear()
        catalog._shipped.cache_clear()


def test_an_unknown_code_still_names_the_known_ones() -> None:
    try:
        languages.get("xx")
    except ValueError as exc:
        assert "unknown language 'xx'" in str(exc) and "de" in str(exc)
    else:
        raise AssertionError("get('xx') did not raise")
