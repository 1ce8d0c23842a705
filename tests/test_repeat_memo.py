"""The per-event work a restart loop repeats is answered from bounded memos, with the same answers.

A log of a server in a restart loop holds the same refusal thousands of times; ``dn_source.logon_dns``
and ``messages.render`` remember their answers for short texts.  These tests pin that a remembered
answer equals a fresh one, that long texts are never kept and that the memos stay bounded.
"""

from __future__ import annotations

import pytest

from analyzer import dn_source, messages
from analyzer.dn import dn_problem
from analyzer.dn_source import LogonDns, Unreadable, logon_dns

DN_A = "/o=Contoso/ou=Paris/cn=Configuration/cn=Connections/cn=Internet Mail Connector (PAR01)"
DN_B = "/o=Contoso/ou=Paris/cn=Configuration/cn=Servers/cn=PAR01/cn=Microsoft Private MDB"
CASES = [
    ("MSExchangeIS Private", 1023, ("CONTOSO\\svc", DN_A, DN_B), "", 2),
    ("MSExchangeIS Private", 1023, ("CONTOSO\\svc", DN_A, None, DN_B), "", 2),
    ("MSExchangeIS Public", 1009, (DN_A,), "", 1),
    ("MSExchangeIS Private", 1023, ("CONTOSO\\svc", DN_A + "/cn=bad\x85", DN_B), "", 2),
    ("MSExchangeIS Private", 1023, (), f"Logon failure on {DN_A} by {DN_A}.", 2),
    ("MSExchangeIS Private", 1023, ("no DN here",), "", 2),
]


@pytest.mark.parametrize(("source", "event_id", "strings", "text", "expect"), CASES)
def test_logon_dns_remembered_equals_fresh(
    source: str, event_id: int, strings: tuple[str | None, ...], text: str, expect: int
) -> None:
    kept = tuple(s for s in strings if s is not None)
    fresh = dn_source._logon_dns(source, event_id, kept, text, expect)
    first = logon_dns(source, event_id, list(strings), text, expect=expect)  # type: ignore[arg-type]
    again = logon_dns(source, event_id, list(strings), text, expect=expect)  # type: ignore[arg-type]
    assert first == fresh == again
    assert isinstance(first, LogonDns | Unreadable)


def test_logon_dns_long_texts_are_not_kept() -> None:
    long_text = "x" * dn_source._MEMO_CHARS
    before = dn_source._logon_dns_memo.cache_info().currsize
    found = logon_dns("MSExchangeIS Private", 1023, ["CONTOSO\\svc", DN_A, DN_B], long_text)
    assert dn_source._logon_dns_memo.cache_info().currsize == before
    assert found == dn_source._logon_dns("MSExchangeIS Private", 1023, ("CONTOSO\\svc", DN_A, DN_B), long_text, 2)


def test_memos_are_bounded() -> None:
    assert dn_source._logon_dns_memo.cache_info().maxsize == dn_source._MEMO_SIZE
    for n in range(dn_source._MEMO_SIZE + 50):
        logon_dns("MSExchangeIS Private", 1023, ["CONTOSO\\svc", f"{DN_A}{n}", DN_B], "")
        messages.render("MSExchangeIS Private", 1023, (f"CONTOSO\\u{n}", DN_A, DN_B))
    assert dn_source._logon_dns_memo.cache_info().currsize <= dn_source._MEMO_SIZE
    info = messages._render_memo.cache_info()
    assert info.maxsize is not None and info.currsize <= info.maxsize


def test_render_remembered_equals_fresh() -> None:
    strings = ("CONTOSO\\svc", DN_A, DN_B, "extra")
    fresh = messages._render("MSExchangeIS Private", 1023, strings, None)
    assert fresh is not None
    assert messages.render("MSExchangeIS Private", 1023, list(strings)) == fresh
    assert messages.render("MSExchangeIS Private", 1023, strings) == fresh
    long_strings = ("CONTOSO\\svc", DN_A + "y" * messages._MEMO_CHARS, DN_B)
    before = messages._render_memo.cache_info().currsize
    assert messages.render("MSExchangeIS Private", 1023, long_strings) == messages._render(
        "MSExchangeIS Private", 1023, long_strings, None
    )
    assert messages._render_memo.cache_info().currsize == before
    assert messages.render("No Such Source", 1023, strings) is None


@pytest.mark.parametrize("char", ["\x00", "\x1f", "\x7f", "\x85", "\x9f"])
def test_control_characters_refused(char: str) -> None:
    assert dn_problem(f"/o=Contoso/ou=Paris/cn=a{char}b") == "control character in cn="


@pytest.mark.parametrize("char", [" ", "~", "\xa0", "é", "\u2028"])
def test_other_characters_allowed(char: str) -> None:
    assert dn_problem(f"/o=Contoso/ou=Paris/cn=a{char}b") is None
