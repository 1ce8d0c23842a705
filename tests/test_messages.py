"""The offline message catalog: lookup, reconstructed rendering, and strings recovered from viewer text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import messages
from analyzer.model import EventType

ACCOUNT = "CONTOSO\\exsvc"
IMS_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
SA_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"
USER_DN = "/o=Contoso/ou=Berlin/cn=Recipients/cn=jdoe"

RULE_EVENTS = [
    *((src, i) for src in ("MSExchangeIS Private", "MSExchangeIS Public") for i in (1009, 1013, 1016, 1023, 1029)),
    *(("MSExchangeIMC", i) for i in (4018, 4116, 4086, 4023, 4182, 3039)),
    *(("Service Control Manager", i) for i in (7000, 7001, 7023, 7024, 7031)),
    ("MSExchangeES", 5), ("MSExchangeES", 11), ("MSExchangeMTA", 137), ("MSExchangeSA", 1005),
    ("MSExchangeDS", 1002), ("IMAP4", 13003),
]  # fmt: skip


@pytest.mark.parametrize(("source", "event_id"), RULE_EVENTS)
def test_every_event_the_rules_read_is_in_the_catalog(source: str, event_id: int) -> None:
    template = messages.lookup(source, event_id)
    assert template is not None
    assert template.event_id == event_id and source in template.sources
    EventType(template.type)  # a contract word
    assert template.kb or template.note  # where the wording comes from
    assert all(kb.startswith("KB") for kb in template.kb)


def test_lookup_is_case_insensitive_and_uses_low_16_bits() -> None:
    assert messages.lookup("MsExchangeIS Private", 1023) is messages.lookup("MSEXCHANGEIS PRIVATE", 1023)
    assert messages.lookup("MSExchangeIMC", 0xC0000FB2) is messages.lookup("MSExchangeIMC", 4018)
    assert messages.lookup("MSExchangeIMC", 4018, event_id_full=0xC0000FB2) is messages.lookup("MSExchangeIMC", 4018)
    assert messages.lookup("MSExchangeIMC", 4018, event_id_full=0x40000FB2) is not None  # falls back to low 16
    assert messages.lookup("MSExchangeIMC", 1023) is None
    assert messages.lookup("Some Other Source", 1023) is None


def test_render_is_marked_reconstructed() -> None:
    rendered = messages.render("MSExchangeIS Private", 1023, (ACCOUNT, IMS_DN, IMS_DN))
    assert rendered is not None and rendered.reconstructed
    assert rendered.text == f"{ACCOUNT} was validated as {IMS_DN} but was unable to log on to {IMS_DN}"
    assert rendered.shown.startswith(messages.RECONSTRUCTED_PREFIX) and str(rendered) == rendered.shown
    assert "KB306308" in rendered.kb


def test_render_missing_and_extra_strings() -> None:
    short = messages.render("MSExchangeIS Private", 1023, (ACCOUNT,))
    assert short is not None and "%2" in short.text and "%3" in short.text
    extra = messages.render("MSExchangeIMC", 4116, ("0x80040111", "x"))
    assert extra is not None and extra.text.endswith("[insertion strings: 0x80040111 | x]")
    assert messages.render("Nope", 1, ("a",)) is None


KB306308_TEXT = (
    "DOMSTW\\exchservice was validated as /o=MicrosoftCE/ou=northitaly/cn=Configuration/cn=Connections/cn=Internet "
    "Mail Connector (NTSTEFANWI1) but was unable to log on to /o=MicrosoftCE/ou=northitaly/cn=Configuration/"
    "cn=Connections/cn=Internet Mail Connector (NTSTEFANWI1)"
)


def test_recover_1023_from_the_kb_example() -> None:
    dn = "/o=MicrosoftCE/ou=northitaly/cn=Configuration/cn=Connections/cn=Internet Mail Connector (NTSTEFANWI1)"
    expected = ("DOMSTW\\exchservice", dn, dn)
    assert messages.recover_strings("MSExchangeIS Private", 1023, KB306308_TEXT) == expected
    assert messages.recover_strings("MSExchangeIS Private", 1023, KB306308_TEXT + ".\r\n") == expected
    assert messages.recover_strings("MSExchangeIS Public", 1023, "  " + KB306308_TEXT) == expected


def test_recover_1023_with_different_dns_and_line_breaks() -> None:
    text = f"{ACCOUNT} was validated as\n{SA_DN}\nbut was unable to log on to {USER_DN}."
    assert messages.recover_strings("MSExchangeIS Private", 1023, text) == (ACCOUNT, SA_DN, USER_DN)


def test_1013_and_1023_are_told_apart() -> None:
    ok = f"{ACCOUNT} was validated as {SA_DN} and logged on to {USER_DN}"
    assert messages.recover_strings("MSExchangeIS Private", 1013, ok) == (ACCOUNT, SA_DN, USER_DN)
    assert messages.recover_strings("MSExchangeIS Private", 1023, ok) is None
    assert messages.recover_strings("MSExchangeIS Private", 1013, KB306308_TEXT) is None


def test_recover_other_logon_events() -> None:
    assert messages.recover_strings("MSExchangeIS Private", 1009, f"{ACCOUNT} logged on as {USER_DN}.") == (
        ACCOUNT,
        USER_DN,
    )
    text = "NT User CONTOSO\\admin logged on to John Doe mailbox, and is not the primary Windows NT account on this mailbox."
    assert messages.recover_strings("MSExchangeIS Private", 1016, text) == ("CONTOSO\\admin", "John Doe")


@pytest.mark.parametrize(
    ("event_id", "text", "expected"),
    [
        (7000, "The Foo service failed to start due to the following error: \r\nThe system cannot find the file specified.",
         ("Foo", "The system cannot find the file specified")),
        (7001, "The Microsoft Exchange Internet Mail Service service depends on the Microsoft Exchange Information Store "
         "service which failed to start because of the following error: \r\nAn internal Windows NT error occurred.",
         ("Microsoft Exchange Internet Mail Service", "Microsoft Exchange Information Store",
          "An internal Windows NT error occurred")),
        (7023, "The Microsoft Exchange Internet Mail Service service terminated with the following error: \r\n"
         "An internal Windows NT error occurred.",
         ("Microsoft Exchange Internet Mail Service", "An internal Windows NT error occurred")),
        (7024, "The Microsoft Exchange Information Store service terminated with service-specific error 4294966781.",
         ("Microsoft Exchange Information Store", "4294966781")),
        (7031, "The Foo service terminated unexpectedly.  It has done this 2 time(s).", ("Foo", "2")),
    ],
)  # fmt: skip
def test_recover_service_control_manager_events(event_id: int, text: str, expected: tuple[str, ...]) -> None:
    assert messages.recover_strings("Service Control Manager", event_id, text) == expected


def test_recover_returns_none_when_unknown_or_shapeless() -> None:
    assert messages.recover_strings("Foo", 1023, KB306308_TEXT) is None
    assert messages.recover_strings("MSExchangeIS Private", 1023, "something else entirely") is None
    assert messages.recover_strings("MSExchangeIS Private", 1023, "") is None
    assert messages.recover_strings("MSExchangeIMC", 4018, "The Internet Mail Service could not start.") is None


def test_split_joined_keeps_dns_with_separators_inside() -> None:
    odd = "/o=Contoso/ou=Berlin/cn=Recipients/cn=Doe, John"
    assert messages.split_joined("MSExchangeIS Private", 1023, f"{ACCOUNT}, {SA_DN}, {odd}", ", ") == (
        ACCOUNT,
        SA_DN,
        odd,
    )
    assert messages.split_joined("MSExchangeIS Private", 1023, f"{ACCOUNT} {IMS_DN} {IMS_DN}", " ") == (
        ACCOUNT,
        IMS_DN,
        IMS_DN,
    )
    assert messages.split_joined("MSExchangeIS Private", 1009, f"{ACCOUNT} {USER_DN}", " ") == (ACCOUNT, USER_DN)
    # wrong count, no account first, not a DN-shaped event: the caller decides
    assert messages.split_joined("MSExchangeIS Private", 1023, f"{ACCOUNT} {IMS_DN}", " ") is None
    assert messages.split_joined("MSExchangeIS Private", 1023, f"{IMS_DN} {IMS_DN} {IMS_DN}", " ") is None
    assert messages.split_joined("Service Control Manager", 7000, "a, b", ", ") is None


def test_looks_like_account() -> None:
    assert messages.looks_like_account("CONTOSO\\exsvc")
    assert messages.looks_like_account("NT AUTHORITY\\SYSTEM")
    assert not messages.looks_like_account(IMS_DN)
    assert not messages.looks_like_account("exsvc")


_part = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=10)
_text = st.lists(_part, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(template=st.sampled_from([t for t in messages.CATALOG if "%" in t.text]), data=st.data())
def test_render_then_recover_round_trips(template: messages.Template, data: st.DataObject) -> None:
    """Text we render ourselves parses back (the test writers rely on it), for every entry with placeholders."""
    count = max(int(n) for n in messages._PLACEHOLDER.findall(template.text))
    if template.sources[0].startswith("MSExchangeIS") and template.event_id != 1029:
        strings = (
            "DOM\\" + data.draw(_part),
            *(f"/o={data.draw(_part)}/cn={data.draw(_text)}" for _ in range(count - 1)),
        )
    else:
        strings = tuple(data.draw(_text) for _ in range(count))
    rendered = messages.render(template.sources[0], template.event_id, strings)
    assert rendered is not None
    for text in (rendered.text, rendered.shown):
        assert messages.recover_strings(template.sources[0], template.event_id, text) == strings
