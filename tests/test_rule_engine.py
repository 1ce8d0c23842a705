"""The data-rule engine: loading and validation, the documented example, ranking, NO-MATCH, the CLI with
data rules, and the message catalog behind the rules' events."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

import analyzer.rules as rules_pkg
from analyzer import messages
from analyzer.cli import main
from analyzer.diagnosis import diagnose, diagnose_objects
from analyzer.evidence import CaseFacts, collect
from analyzer.model import Severity
from analyzer.report.diagnosis import render_text
from analyzer.rules import all_rules, get_rule, watched_events
from analyzer.rules.engine import RuleFormatError, load_text
from analyzer.rules.factories import event, logon_only_as_of, registry_facts_of, scm
from analyzer.rules.run import corroboration, run_rules
from analyzer.rules.selftest import run_fixture

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "analyzer" / "rules" / "data"
DATA_RULES = [r for r in all_rules() if r.kind == "data"]

MINIMAL = """
id: KB999999
title: t
status: documented
level: error
references: [KB999999]
match:
  - {source: MSExchangeDS, id: 1002, contains: 'x'}
explanation: e
fixtures:
  - {name: p, fires: true, events: [{source: MSExchangeDS, id: 1002, strings: [x]}]}
  - {name: n, fires: false, events: [{source: MSExchangeDS, id: 1002, strings: [y]}]}
"""


def test_every_shipped_data_file_loads() -> None:
    errors: list[str] = []
    loaded = rules_pkg.rules_in(DATA, errors)
    assert errors == []
    assert len(loaded) == len(list(DATA.glob("*.yaml"))) >= 9
    assert {r.id for r in loaded} <= {r.id for r in all_rules()}


def test_minimal_rule_and_its_fixtures() -> None:
    rule = load_text(MINIMAL, "mini.yaml")
    assert rule.kind == "data" and rule.origin == "mini.yaml"
    assert all(run_fixture(rule, fx).passed for fx in rule.fixtures)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("contains: 'x'", "contains: 0xc00206b7"), "quote codes"),
        (("source: MSExchangeDS, id: 1002, contains", "source: Service Control Manager, id: 7036, contains"), "SCM"),
        (("level: error", "level: fatal"), "level must be"),
        (("status: documented", "status: maybe"), "status must be"),
        (("references: [KB999999]", "references: [Q999999]"), "KB numbers"),
        (("explanation: e", "explanaton: e"), "unknown field(s) explanaton"),
        (("contains: 'x'", "regex: '('"), "bad regex"),
        (("title: t", "title: [unclosed"), "not valid YAML"),
        (("match:\n  - {source: MSExchangeDS, id: 1002, contains: 'x'}", "match: []"), "needs match events"),
    ],
    ids=[
        "unquoted-hex",
        "scm-not-a-failure",
        "level",
        "status",
        "reference",
        "unknown-field",
        "regex",
        "yaml",
        "no-match",
    ],
)
def test_broken_rules_are_refused_with_the_file_name(change: tuple[str, str], message: str) -> None:
    text = MINIMAL.replace(*change)
    assert text != MINIMAL
    with pytest.raises(RuleFormatError) as info:
        load_text(text, "broken.yaml")
    assert str(info.value).startswith("broken.yaml") and message in str(info.value)


def test_registry_predicate_validation() -> None:
    base = MINIMAL + "registry: {key: 'HKLM\\SYSTEM\\X', test: %s}\n"
    with pytest.raises(RuleFormatError, match="not one of"):
        load_text(base % "value_is_odd", "r.yaml")
    with pytest.raises(RuleFormatError, match="needs value"):
        load_text(base % "value_absent", "r.yaml")
    with pytest.raises(RuleFormatError, match="needs equals"):
        load_text(base % "value_equals, value: V", "r.yaml")
    assert load_text(base % "key_present", "r.yaml").registry_keys == ("HKLM\\SYSTEM\\X",)


def test_a_broken_file_is_skipped_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    (tmp_path / "zz.yaml").write_text("id: [", encoding="utf-8")
    monkeypatch.setattr(rules_pkg, "RULE_DIRS", (*rules_pkg.RULE_DIRS, tmp_path))
    rules_pkg.reload()
    try:
        assert "zz.yaml" in " ".join(rules_pkg.load_errors())
        assert len(rules_pkg.all_rules()) == len(all_rules())  # the other rules still load
        errors: list[str] = []
        run_rules(CaseFacts(collect([]), logon_only_as_of(None)), errors=errors)
        assert any("zz.yaml" in e for e in errors)
        assert main(["rules", "--test"]) == 1
        captured = capsys.readouterr()
        assert f"rule file skipped: {tmp_path / 'zz.yaml'}" in captured.err
        assert "1 rule file(s) not loaded" in captured.out
    finally:
        monkeypatch.undo()
        rules_pkg.reload()


def test_docs_example_is_the_shipped_rule_and_passes() -> None:
    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    block = doc.split("## Example: a complete data rule")[1].split("```yaml\n")[1].split("```")[0]
    shipped = (DATA / "kb262371.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(block) == yaml.safe_load(shipped)
    rule = load_text(block, "docs/rules.md")
    assert all(run_fixture(rule, fx).passed for fx in rule.fixtures)
    for rule in all_rules():  # the rule table of the docs names every rule
        assert rule.id in doc, rule.id


@pytest.mark.parametrize("rule", DATA_RULES, ids=[r.id for r in DATA_RULES])
def test_data_rule_metadata(rule) -> None:
    assert rule.next_step, "a data rule says what to do"
    assert re.fullmatch(r"KB\d+", rule.id) and rule.id in rule.references
    inferred = [a for a in rule.assumptions if "(inferred)" in a or "(unverified)" in a]
    if rule.status == "inferred":
        assert inferred
    for fx in rule.fixtures:  # a fixture that fires must produce a finding that repeats the assumptions
        if fx.fires:
            found = [f for f in rule.check(fx.facts(watched_events())) if f.rule == rule.id]
            assert found and all(f.assumptions == rule.assumptions for f in found)


def test_ranking_event_and_registry_before_event_alone_before_registry_alone() -> None:
    events = [
        event(1005, "MSExchangeSA", ("0xc00206b7",)),
        event(1002, "MSExchangeDS", ("-1008",), seconds=1),
        event(1002, "MSExchangeDS", ("-1008",), seconds=2),
        scm(7023, "Microsoft Exchange Directory", "%%2140", seconds=3),
    ]
    keys = registry_facts_of(
        {
            r"HKLM\SOFTWARE\Microsoft\Rpc\ClientProtocols": "absent",
            r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeMTA": {"ObjectName": "LocalSystem"},
        }
    )
    findings = run_rules(CaseFacts(collect(events, watched=watched_events()), logon_only_as_of("absent"), True, keys))
    order = [f.rule for f in findings]
    assert order.index("KB267573") < order.index("KB262371") < order.index("KB185154")
    by = {f.rule: f for f in findings}
    assert [corroboration(by[r]) for r in ("KB267573", "KB262371", "KB185154")] == [0, 1, 2]
    assert len(by["KB262371"].evidence) > len(by["KB267573"].evidence)  # corroboration outranks volume
    assert by["KB185154"].severity is Severity.WARNING


def test_no_match_in_a_diagnosis(tmp_path: Path) -> None:
    dx = diagnose_objects([scm(7023, "Microsoft Exchange Message Transfer Agent", "%%2140")])
    assert [f.rule for f in dx.finding_list] == ["NO-MATCH"]
    f = dx.finding_list[0]
    assert f.severity is Severity.INFO and "KB155027" in f.explanation and "send the SYSTEM hive" in f.explanation
    assert dx.verdict.startswith("Exchange errors found, but no known cause matches")


def test_show_and_list_include_data_rules(capsys) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert all(r.id in out for r in DATA_RULES) and " data " in out
    assert main(["rules", "--show", "267573"]) == 0
    out = capsys.readouterr().out
    assert "References: KB267573" in out and "Kind: data (analyzer/rules/data/kb267573.yaml)" in out
    assert "Reads: HKLM\\SOFTWARE\\Microsoft\\Rpc\\ClientProtocols" in out
    assert "registry HKLM\\SOFTWARE\\Microsoft\\Rpc\\ClientProtocols: absent" in out
    assert "Assumption: (unverified)" in out and "Next step:" in out


def test_every_event_a_rule_reads_has_a_catalog_entry() -> None:
    for source, ids in watched_events().items():
        for event_id in ids:
            assert messages.lookup(source, event_id) is not None, (source, event_id)


def test_text_report_shows_reconstructed_messages(tmp_path: Path) -> None:
    evt_writer = pytest.importorskip("tests.writers.evt_writer")
    evt_writer.write_evt(tmp_path / "AppEvent.Evt", [event(1005, "MSExchangeSA", ("0xc00206b7",))])
    text = render_text(diagnose(str(tmp_path)).to_dict())
    section = text.split("Event messages (as Event Viewer would show them)")[1].split("\n\n")[0]
    section = " ".join(section.split())  # the text report wraps to the terminal's width
    assert "1005 MSExchangeSA: [reconstructed] The System Attendant met an unexpected error" in section
    assert "[insertion strings: 0xc00206b7]" in section and "not the wording of the Exchange message" in section


def test_exported_description_is_shown_unmarked() -> None:
    e = dataclasses.replace(event(4086, "MSExchangeIMC", ()), message="Viewer text here.")
    dx = diagnose_objects([e])
    ref = next(r for f in dx.finding_list for r in f.evidence if r.event_id == 4086)
    assert ref.text == "Viewer text here."


def test_get_rule_finds_data_rules() -> None:
    assert get_rule("kb298565") is get_rule("298565") is not None
