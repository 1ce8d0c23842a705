"""Regressions found by trying main as a new user would (QA pass): each test names what it guards."""

from __future__ import annotations

import re

import analyzer
from tests.conftest import REPO

SAMPLES = REPO / "samples"


def test_near_miss_sentence_starts_with_a_capital_letter() -> None:
    """The 'entry ... is not a match' sentence follows a full stop, so it starts a new sentence."""
    dx = analyzer.diagnose(str(SAMPLES / "move-mailbox"))
    explanations = [f["explanation"] for f in dx.to_dict()["findings"]]
    assert any("is not a match" in text for text in explanations)
    for text in explanations:
        assert not re.search(r"\. the entry ", text), text
        assert ". The entry '/o=Contoso" in text or "is not a match" not in text
