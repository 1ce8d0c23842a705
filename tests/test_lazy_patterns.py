"""Regexes compiled on first use (start-up: a case without the events they read never pays for them).

A pattern compiled late must still be a valid one (a typo would otherwise surface only on the case
that needs it), be the very pattern the code used before (same text, same flags), and give the same
answers; and a one-file case that does not need them must not compile them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from analyzer import dn_source, evidence, messages
from analyzer.archives import mps
from tests.conftest import REPO

LAZY = {
    "evidence._wrapper": evidence._wrapper,
    "evidence._int": evidence._int,
    "evidence._service_at": evidence._service_at,
    "evidence._rejected_value": evidence._rejected_value,
    "dn_source._wrappers": dn_source._wrappers,
    "dn_source._connector_rdn": dn_source._connector_rdn,
    "mps._patterns": mps._patterns,
}


@pytest.mark.parametrize("name", sorted(LAZY))
def test_every_lazy_pattern_compiles(name: str) -> None:
    made = LAZY[name]()
    patterns = made if isinstance(made, tuple) else (made,)
    assert patterns and all(isinstance(p, re.Pattern) for p in patterns)
    assert LAZY[name]() is made  # compiled once


def test_every_catalog_wording_compiles_with_the_catalog_flags() -> None:
    for template in messages.CATALOG:
        compiled = messages._patterns(template)
        own = 1 if messages._PLACEHOLDER.search(template.text) else 0
        assert [p.pattern for p in compiled[: len(template.recover)]] == list(template.recover)
        assert len(compiled) == len(template.recover) + own
        for p in compiled:
            assert p.flags & (re.IGNORECASE | re.DOTALL) == re.IGNORECASE | re.DOTALL
            assert p.pattern.startswith(r"^\s*") and p.pattern.endswith(messages._END)


def test_the_wrappers_are_found_in_either_wording() -> None:
    nt4 = "The description for Event ID ( 1023 ) could not be found. ... insertion strings: a, b"
    w2k = "The description for Event ID ( 1023 ) cannot be found. The following information is part of the event: a, b"
    for text in (nt4, w2k):
        m = dn_source._wrapper_in(text)
        assert m is not None and m.group("rest") == "a, b"
    assert dn_source._wrapper_in("EXCH\\svc was validated as /o=O/ou=S/cn=X") is None
    assert evidence._wrapper().search(nt4) is not None and evidence._wrapper().search(w2k) is None


def test_services_in_text_and_mps_names_answer_as_before() -> None:
    text = "The Microsoft Exchange Internet Mail Service service depends on the Microsoft Exchange Information Store"
    assert evidence.services_in_text(text) == ["MSExchangeIMC", "MSExchangeIS"]
    names = mps.recognise(["EXCH01_Application.evt", "EXCH01_Setup.log", "AppEvent.Evt", "x/EXCH02_System.txt"])
    assert names == {
        "EXCH01_Application.evt": mps.MpsName("EXCH01", "application"),
        "EXCH01_Setup.log": mps.MpsName("EXCH01", None),
        "x/EXCH02_System.txt": mps.MpsName("EXCH02", "system"),
    }
    assert mps.recognise(["AppEvent.Evt", "x/SysEvent.Evt", "README.md"]) == {}  # no "_": nothing can match


def test_a_one_file_case_compiles_none_of_them() -> None:
    probe = (
        "import json, sys\nimport analyzer\nfrom analyzer import dn_source, evidence, messages\n"
        "from analyzer.archives import mps\nanalyzer.diagnose(sys.argv[1]).to_dict()\n"
        "fns = [evidence._wrapper, evidence._int, evidence._service_at, evidence._rejected_value,\n"
        "       dn_source._wrappers, dn_source._connector_rdn, mps._patterns, messages._patterns]\n"
        "print(json.dumps([f.cache_info().currsize for f in fns]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    path = os.path.join("samples", "w2k-two-controlsets", "Application.evtx")
    done = subprocess.run([sys.executable, "-c", probe, path], cwd=REPO, env=env, capture_output=True, text=True)
    assert json.loads(done.stdout) == [0] * 8, done.stderr
