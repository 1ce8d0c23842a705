"""Every bundled sample through every command and format prints exactly the captured golden output.

A restructuring must leave these byte-identical; a deliberate output change regenerates them with
``python tests/golden/make_golden.py`` and the diff is reviewed in the same commit.
"""

from __future__ import annotations

import pytest

from tests.golden.make_golden import HERE, _commands, run

CASES = list(_commands())


@pytest.mark.parametrize(("name", "argv"), CASES, ids=[c[0] for c in CASES])
def test_output_matches_golden(name: str, argv: list[str]) -> None:
    expected = (HERE / "data" / name).read_bytes().decode("utf-8")
    assert run(argv) == expected
