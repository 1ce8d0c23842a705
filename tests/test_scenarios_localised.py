"""The fixture scenarios of tests/test_scenarios.py from localised servers: every scenario that has Event Viewer
text exports, in each fully covered language, as tab-separated text in the language's ANSI code page and as
CSV in UTF-16LE with header, with a Regedt32 report in that language (or the scenario's hive when only a hive
can express it).  The files are written by the project's writers from the language files
(analyzer/languages/data), so the test checks that a localised export diagnoses exactly like the .evt it came
from: same Logon Only As state, same DNs to add, same rules.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from analyzer import languages
from analyzer.diagnosis import Diagnosis, diagnose
from tests.test_scenarios import SCENARIOS, Scenario, registry_tree, split_logs, write_registry

evtext_writer = pytest.importorskip("tests.writers.evtext_writer")
regtext = pytest.importorskip("tests.writers.regtext_writers")

FULL_LANGUAGES = ("de", "fr", "es", "it", "ja")
# (layout, code page): ANSI text without header, UTF-16LE CSV with header (what Windows 2000 wrote)
FORMS = (("evtxt", "ansi"), ("evcsv", "utf-16"))


def _write_events(s: Scenario, lang: str, layout: str, encoding: str, folder: Path) -> list[Path]:
    codec = languages.get(lang).ansi[0] if encoding == "ansi" else encoding
    out = []
    for log, events in split_logs(s.events).items():
        stem = folder / ("AppEvent" if log == "Application" else "SysEvent")
        options = {**s.text_options, "language": lang, "encoding": codec}
        if layout == "evtxt":
            out.append(evtext_writer.write_evtxt(stem.with_suffix(".txt"), events, **options))
        else:
            out.append(evtext_writer.write_evcsv(stem.with_suffix(".csv"), events, header=True, **options))
    return out


def _write_registry(s: Scenario, lang: str, folder: Path) -> Path | None:
    if "regedt32" in s.registry_forms:
        codec = languages.get(lang).ansi[0]
        return regtext.write_regedt32(folder / "params.txt", registry_tree(s, full_paths=True), codec, language=lang)
    form = next((f for f in s.registry_forms if f != "memory"), "none")
    return write_registry(s, form, folder)


def _run(s: Scenario, lang: str, layout: str, encoding: str, folder: Path) -> Diagnosis:
    paths = [str(p) for p in _write_events(s, lang, layout, encoding, folder)]
    reg = _write_registry(s, lang, folder)
    if reg is not None:
        paths.append(str(reg))
    return diagnose(paths, tz=UTC)


COMBOS = [
    pytest.param(s, lang, layout, enc, id=f"{s.name}-{lang}-{layout}-{enc}")
    for s in SCENARIOS
    if any(form in s.event_forms for form in ("evtxt", "evcsv"))
    for lang in FULL_LANGUAGES
    for layout, enc in FORMS
]


@pytest.mark.parametrize(("scenario", "lang", "layout", "encoding"), COMBOS)
def test_localised_scenario(scenario: Scenario, lang: str, layout: str, encoding: str, tmp_path: Path) -> None:
    dx = _run(scenario, lang, layout, encoding, tmp_path)
    assert dx.usable, dx.errors
    assert all(i.error is None for i in dx.inputs), [i.error for i in dx.inputs]
    assert all(not i.warnings for i in dx.inputs), [i.warnings for i in dx.inputs]
    assert dx.logon_only_as.state == scenario.state, dx.logon_only_as
    assert dx.dns_to_add == scenario.dns, dx.verdict
    rules = set(dx.rules_fired)
    assert scenario.fired <= rules, (rules, dx.verdict)
    assert not (scenario.not_fired & rules), (rules, dx.verdict)
    assert dx.needs_action is scenario.needs_action, dx.verdict
    for phrase in scenario.verdict_has:  # the report stays English
        assert phrase in dx.verdict, (phrase, dx.verdict)
    for dn in dx.dns_to_add:  # byte for byte the event's DN, cut out of the localised text
        assert any(dn in e.strings for e in scenario.events)
    name = languages.get(lang).name
    notes = [i.note or "" for i in dx.inputs if i.format in ("evtxt", "evcsv")]
    assert any(name in note for note in notes), notes  # the note names the language the file was read in


def test_localised_evidence_is_quoted_in_its_language(tmp_path: Path) -> None:
    """The report is English; the evidence keeps the viewer's own (German) text."""
    s = SCENARIOS[0]
    dx = _run(s, "de", "evtxt", "ansi", tmp_path)
    text = dx.to_dict()
    quoted = [e for f in dx.finding_list for e in f.evidence if "überprüft" in str(e)]
    assert quoted, text
    assert dx.verdict.startswith("Add th")
