"""The package, its docs and tools speak of the repository only: no citation of files outside it
(design or domain notes kept beside the checkout), which a user of the tool does not have."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

OUTSIDE = re.compile(r"\b(?:DOMAIN|DESIGN|ANCHORS)\.md\b|\.\./shared\b|notes/diagnosis_contract")
SCOPE = ("analyzer", "docs", "tools")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".txt", ".html"}


def citations(text: str) -> list[str]:
    return [m.group(0) for m in OUTSIDE.finditer(text)]


def test_the_pattern_finds_what_it_must() -> None:
    assert citations("see DOMAIN.md §2.1 and ../shared/DESIGN.md") == ["DOMAIN.md", "../shared", "DESIGN.md"]
    assert citations("the design of analyzer/diagnosis is in docs/architecture.md") == []


def test_no_file_of_the_package_docs_or_tools_cites_a_file_outside_the_repository() -> None:
    files = [Path(REPO) / "README.md"]
    for top in SCOPE:
        files.extend(p for p in sorted((Path(REPO) / top).rglob("*")) if p.suffix in SUFFIXES and p.is_file())
    found = {
        str(p.relative_to(REPO)): hits
        for p in files
        if (hits := citations(p.read_text(encoding="utf-8", errors="replace")))
    }
    assert found == {}
