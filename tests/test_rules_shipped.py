"""The shipped data rules' parsed documents (``analyzer/rules/_shipped.py``) are what PyYAML makes of the
rule files: rebuilt from the files here they must be identical, a rule loaded through them equals the
rule parsed from YAML, and any other text is still parsed from YAML."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from analyzer.rules import _shipped, shipped
from analyzer.rules.engine import RuleFormatError, load_text, parse_rule
from analyzer.rules.records import Rule

RULE_FILES = sorted(p for p in shipped.DATA.iterdir() if p.suffix in (".yaml", ".yml"))


def test_the_parsed_rules_are_rebuilt_identically_from_the_rule_files() -> None:
    assert shipped.build() == _shipped.DOCS, "a rule file changed: run python -m analyzer.rules.shipped"
    assert shipped.render(_shipped.DOCS) == shipped.GENERATED.read_text(encoding="utf-8")


def _fields(rule: Rule) -> dict[str, object]:
    """Everything a rule says, its bound check and advice functions aside (new objects per load)."""
    return {f.name: getattr(rule, f.name) for f in dataclasses.fields(rule) if f.name not in ("check", "advice")}


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_a_shipped_rule_loads_as_parsed_from_yaml(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert shipped.key(text) in _shipped.DOCS
    assert _fields(load_text(text, path.name)) == _fields(parse_rule(yaml.safe_load(text), path.name))


def test_another_text_is_parsed_from_yaml() -> None:
    text = RULE_FILES[0].read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    edited = text.replace(f"title: {doc['title']}\n", "title: An edited title\n", 1)
    assert edited != text and shipped.key(edited) not in _shipped.DOCS
    assert load_text(edited, "edited.yaml").title == "An edited title"
    with pytest.raises(RuleFormatError, match=r"edited\.yaml: line \d+ not valid YAML"):
        load_text(edited + "  - [unclosed\n", "edited.yaml")


def test_loading_shipped_rules_leaves_their_documents_unchanged() -> None:
    before = repr(_shipped.DOCS)
    for path in RULE_FILES:
        load_text(path.read_text(encoding="utf-8"), path.name)
    assert repr(_shipped.DOCS) == before
