"""Adding a KB rule is adding one file: a rule dropped into a rule directory is found, its events are
kept by the readers' pushdown filter (derived from the rules, not a hand-kept list), its fixtures run
in ``analyzer rules --test``, and its finding and advice reach the diagnosis of a real .evt file.

Before this structure a look-alike rule touched six places (its module, ``RULE_MODULES``,
``lookalikes.EXPLAINERS``, ``diagnosis._LOOKALIKES``, ``diagnosis._ADVICE`` and the hand-kept
``evidence.WATCHED``/``EVIDENCE_FILTER``); the test proves that one file is now enough.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import analyzer.rules as rules_pkg
from analyzer.cli import main
from analyzer.diagnosis import diagnose
from analyzer.rules.factories import event

evt_writer = pytest.importorskip("tests.writers.evt_writer")

PYTHON_RULE = '''
"""KB 999001 (test only): MSExchangeMTA 9701 means the test queue is stuck."""

from analyzer.evidence import CaseFacts, EventNeed
from analyzer.model import EventType, Finding, Severity
from analyzer.rules.factories import event
from analyzer.rules.logic import span
from analyzer.rules.records import Fixture, Rule

ID = "KB999001"


def check(facts: CaseFacts) -> list[Finding]:
    stuck = [e for e in facts.evidence.raw if e.source.casefold() == "msexchangemta" and e.event_id == 9701]
    if not stuck:
        return []
    first, last = span(e.time for e in stuck)
    return [
        Finding(
            rule=ID,
            severity=Severity.ERROR,
            title="The test queue of the MTA is stuck",
            explanation="MSExchangeMTA 9701 was logged (KB 999001).",
            count=len(stuck),
            first_seen=first,
            last_seen=last,
            evidence=tuple(e.ref for e in stuck),
            references=(ID,),
        )
    ]


RULE = Rule(
    id=ID,
    title="Stuck test queue",
    references=(ID,),
    status="documented",
    level="error",
    diagnoses="MSExchangeMTA 9701.",
    assumptions=(),
    check=check,
    fixtures=(
        Fixture("9701", True, (event(9701, "MSExchangeMTA", ("q",)),), None),
        Fixture("nothing", False, (), None),
    ),
    events=(EventNeed("MSExchangeMTA", frozenset({9701}), whole=True),),
    advice=lambda finding: " Next step: empty the test queue (KB 999001).",
)
'''

YAML_RULE = """
id: KB999002
title: Test directory event
status: documented
level: warning
references: [KB999002]
match:
  - {source: MSExchangeDS, id: 9702}
explanation: The directory logged 9702 (KB 999002).
next_step: run the test repair
fixtures:
  - {name: fires, fires: true, events: [{source: MSExchangeDS, id: 9702}]}
  - {name: quiet, fires: false, events: [{source: MSExchangeDS, id: 1002}]}
"""


@pytest.fixture
def rule_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "rules"
    folder.mkdir()
    monkeypatch.setattr(rules_pkg, "RULE_DIRS", (*rules_pkg.RULE_DIRS, folder))
    rules_pkg.reload()
    yield folder
    monkeypatch.undo()
    rules_pkg.reload()


def test_a_rule_is_one_file(rule_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = rules_pkg.evidence_filter()
    assert not before.wants_id(9701) and not before.wants_id(9702)

    (rule_dir / "kb999001.py").write_text(textwrap.dedent(PYTHON_RULE), encoding="utf-8")
    (rule_dir / "kb999002.yaml").write_text(YAML_RULE, encoding="utf-8")
    rules_pkg.reload()
    assert sorted(p.name for p in rule_dir.iterdir()) == ["kb999001.py", "kb999002.yaml"]  # nothing else touched

    assert rules_pkg.load_errors() == []
    ids = [r.id for r in rules_pkg.all_rules()]
    assert "KB999001" in ids and "KB999002" in ids
    after = rules_pkg.evidence_filter()
    assert after.wants_id(9701) and after.wants_id(9702)  # derived from the rules: the readers keep them
    assert 9701 in rules_pkg.watched_events()["msexchangemta"]

    assert main(["rules", "--test"]) == 0
    out = capsys.readouterr().out
    assert "pass  KB999001     9701" in out and "pass  KB999002     fires" in out

    case = tmp_path / "case"
    case.mkdir()
    evt_writer.write_evt(
        case / "AppEvent.Evt",
        [event(9701, "MSExchangeMTA", ("q",)), event(9702, "MSExchangeDS", (), seconds=5)],
    )
    dx = diagnose(str(case))
    assert {"KB999001", "KB999002"} <= set(dx.rules_fired)
    assert "The test queue of the MTA is stuck. Next step: empty the test queue (KB 999001)." in dx.verdict
    assert dx.needs_action


def test_without_the_file_the_events_are_not_read(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    evt_writer.write_evt(case / "AppEvent.Evt", [event(9701, "MSExchangeMTA", ("q",))])
    dx = diagnose(str(case))
    assert "KB999001" not in dx.rules_fired
    assert dx.inputs[0].records == 0  # filtered away before decoding: no rule reads 9701
