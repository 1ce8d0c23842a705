"""The language files (analyzer/languages/data) and the matcher API other modules build on."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer import languages
from analyzer.languages import catalog
from analyzer.model import EventType

FULL = ("de", "fr", "es", "it", "ja")
DN_A = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
DN_B = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"


def test_every_shipped_file_loads_and_english_comes_first() -> None:
    codes = [lang.code for lang in languages.all_languages()]
    assert codes[0] == "en"
    assert set(FULL) <= set(codes)
    for lang in languages.all_languages():
        assert Path(lang.path).name == f"{lang.code}.yaml"


@pytest.mark.parametrize("code", FULL)
def test_full_languages_cover_every_artefact(code: str) -> None:
    lang = languages.get(code)
    assert lang.columns and len(lang.columns[0][0]) == 9
    assert set(lang.types) == set(EventType)
    assert {"Logons", "Initialization/Termination", "Internal Processing"} <= set(lang.categories)
    assert {w.phrase.windows for w in lang.wrappers} == {"nt4", "2000"}
    ids = {(m.sources[0], m.event_id) for m in lang.messages}
    for wanted in [("MSExchangeIS Private", i) for i in (1009, 1013, 1016, 1023)] + [("MSExchangeIMC", 4018)]:
        assert wanted in ids
    assert {i for s, i in ids if s == "Service Control Manager"} >= {7000, 7001, 7023, 7024, 7031, 7036}
    assert set(catalog.REGEDT32_LABELS) <= set(lang.regedt32)
    assert lang.dates.order in catalog.DATE_ORDERS


def test_every_confirmed_string_names_a_source_and_reconstructions_say_so() -> None:
    for lang in languages.all_languages():
        for table, phrase in lang.phrases():
            assert phrase.status in ("confirmed", "reconstructed"), (lang.code, table, phrase)
            if phrase.confirmed:
                assert phrase.source, (lang.code, table, phrase.text)


def test_no_type_word_means_two_types() -> None:
    seen: dict[str, tuple[EventType, str]] = {}
    for lang in languages.all_languages():
        for etype, phrases in lang.types.items():
            for phrase in phrases:
                key = languages.normalise(phrase.text)
                if key in seen:
                    assert seen[key][0] is etype, (phrase.text, seen[key], lang.code)
                seen[key] = (etype, lang.code)


def test_header_rows_and_type_words_identify_the_language() -> None:
    german = ["Datum", "Zeit", "Quelle", "Typ", "Kategorie", "Ereignis", "Benutzer", "Computer", "Beschreibung"]
    assert languages.header_language(german).code == "de"  # type: ignore[union-attr]
    assert languages.header_language([f'"{c}"' for c in german]).code == "de"  # type: ignore[union-attr]
    assert languages.header_language(german[:8]) is None
    assert languages.event_type("Fehlerüberwachung") == (EventType.FAILURE_AUDIT, ("de",))
    assert languages.event_type("監査の失敗")[0] is EventType.FAILURE_AUDIT  # type: ignore[index]
    assert languages.event_type("Information")[1] == ("en", "de", "fr")  # type: ignore[index]
    assert languages.event_type("Gibberish") is None
    assert languages.is_na("Nicht zutreffend") and languages.is_na("N/A") and not languages.is_na("CONTOSO\\x")


@pytest.mark.parametrize("code", FULL)
def test_every_template_reads_back_what_it_renders(code: str) -> None:
    lang = languages.get(code)
    for template in lang.messages:
        count = max((int(n) for n in __import__("re").findall(r"%(\d+)", template.text)), default=0)
        strings = ("CONTOSO\\exsvc", DN_A, DN_B)[:count] if count <= 3 else tuple(f"s{i}" for i in range(count))
        text = languages.render(template, strings)
        found = languages.match_rendered(text, source=template.sources[0], event_id=template.event_id)
        assert found is not None, text
        assert found.strings == strings and found.language == code
        assert found.confirmed is template.confirmed
        # without source and ID: the same reading, or none when another template reads it too
        again = languages.match_rendered(text)
        assert again is None or again.strings == strings


def test_a_description_with_two_readings_gives_nothing() -> None:
    de = next(t for t in languages.get("de").messages if t.event_id == 1023)
    tricky = languages.render(de, ("CONTOSO\\a", "/o=X/cn=a wurde als /o=Y", "/o=Z"))
    assert languages.match_rendered(tricky, source="MSExchangeIS Private", event_id=1023) is None
    # a sentence that is not the template, or only a prefix of it, gives nothing
    assert languages.match_rendered("CONTOSO\\a wurde als /o=X überprüft", event_id=1023) is None
    assert languages.match_rendered("", event_id=1023) is None
    # 7000's "service %1 could not start" also reads a 7001 text when the event ID is not known
    fr7001 = next(t for t in languages.get("fr").messages if t.event_id == 7001)
    text = languages.render(fr7001, ("IMS", "IS", "err"))
    assert languages.match_rendered(text) is None
    assert languages.match_rendered(text, event_id=7001).strings == ("IMS", "IS", "err")  # type: ignore[union-attr]


@pytest.mark.parametrize("code", FULL)
def test_wrappers_of_both_versions_unwrap(code: str) -> None:
    for wrapper in languages.get(code).wrappers:
        text = languages.wrapper_text(wrapper, 1023, "MSExchangeIS Private", ["CONTOSO\\exsvc", DN_A, DN_B])
        found = languages.unwrap(text)
        assert found is not None and found.language == code, text
        assert (found.event_id, found.source) == (1023, "MSExchangeIS Private")
        assert found.payload == f"CONTOSO\\exsvc, {DN_A}, {DN_B}."
    assert languages.unwrap("Der Dienst wurde beendet.") is None


def test_coverage_counts_each_artefact() -> None:
    rows = languages.coverage()
    de = {r["artefact"]: r for r in rows if r["language"] == "de"}
    assert set(de) == set(languages.ARTEFACTS)
    assert de["columns"]["confirmed"] == 1 and de["regedt32"]["confirmed"] == 7
    assert de["messages"]["reconstructed"] == 12


def test_a_broken_language_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "xx.yaml"
    bad.write_text(
        "code: xx\nname: X\ndates: {order: dmy, clock: 24h}\nevent_viewer:\n  na: [{text: N/A, status: guessed}]\n"
    )
    with pytest.raises(languages.LanguageFileError, match=r"xx.yaml: event_viewer.na\[0\]: status must be"):
        languages.load_file(bad)
    bad.write_text("code: xx\ndates: {order: dmy, clock: 24h}\nevent_viewer:\n  na: [{text: N/A, status: confirmed}]\n")
    with pytest.raises(languages.LanguageFileError, match="needs its public source"):
        languages.load_file(bad)
    bad.write_text("code: yy\ndates: {order: dmy, clock: 24h}\n")
    with pytest.raises(languages.LanguageFileError, match=r"must be named yy\.yaml"):
        languages.load_file(bad)
    bad.write_text("code: [\n")
    with pytest.raises(languages.LanguageFileError, match=r"xx\.yaml: not valid YAML"):
        languages.load_file(bad)


def test_unknown_language_code_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: en, de"):
        languages.get("tlh")
