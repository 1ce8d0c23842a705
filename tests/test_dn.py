"""DN parsing, comparison, classification and near-miss detection (analyzer/dn.py)."""

from __future__ import annotations

import pytest

from analyzer.dn import (
    classify,
    differs_only_in_case,
    edit_distance,
    find_entry,
    near_miss,
    other_server_entries,
    parse_dn,
    same_dn,
    same_object,
)
from analyzer.rules.factories import ADMIN_DN, IMS_DN, ORG, dsa_dn, sa_dn


def test_parse_keeps_text_and_splits_rdns() -> None:
    text = "/O=Contoso/OU=Berlin/cn=Recipients, Utility/cn=MSExchangeMCA"
    dn = parse_dn(text)
    assert dn is not None and dn.text == text and str(dn) == text
    assert [r.attr for r in dn.rdns] == ["o", "ou", "cn", "cn"]
    assert dn.org == "Contoso" and dn.site == "Berlin"
    assert dn.cns == ("Recipients, Utility", "MSExchangeMCA")


def test_parse_value_with_colon_slashless_parts() -> None:
    dn = parse_dn(f"{ORG}/cn=Configuration/cn=Connections/cn=cc:Mail Connector (EXCH01)")
    assert dn is not None and dn.cns[-1] == "cc:Mail Connector (EXCH01)"


@pytest.mark.parametrize("text", ["", "CONTOSO\\exsvc", "o=Contoso/ou=x", "/ou=Berlin/cn=x", "/o"])
def test_parse_rejects_non_dns(text: str) -> None:
    assert parse_dn(text) is None


def test_same_dn_ignores_case_but_not_blanks() -> None:
    assert same_dn(IMS_DN, IMS_DN.upper())
    assert differs_only_in_case(IMS_DN, IMS_DN.lower())
    assert not differs_only_in_case(IMS_DN, IMS_DN)
    assert not same_dn(IMS_DN, IMS_DN.replace("Internet Mail", "Internet  Mail"))


@pytest.mark.parametrize(
    ("dn", "kind", "label"),
    [
        (IMS_DN, "connector", "Internet Mail Service on EXCH01"),
        (sa_dn(2), "server_component", "System Attendant of EXCH02"),
        (dsa_dn(1), "server_component", "Directory Service of EXCH01"),
        (
            f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft MTA",
            "server_component",
            "Message Transfer Agent of EXCH01",
        ),
        (
            f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft DXA",
            "server_component",
            "Directory Synchronization of EXCH01",
        ),
        (
            f"{ORG}/cn=Configuration/cn=Connections/cn=MS Mail Connector (EXCH02)",
            "connector",
            "MS Mail Connector on EXCH02",
        ),
        (
            f"{ORG}/cn=Configuration/cn=Connections/cn=cc:Mail Connector (EXCH01)",
            "connector",
            "cc:Mail Connector on EXCH01",
        ),
        (f"{ORG}/cn=Configuration/cn=Add-Ins/cn=EXCH02", "addin", "add-in EXCH02"),
        (f"{ORG}/cn=Recipients, Utility/cn=MSExchangeMCA", "utility", "utility MSExchangeMCA"),
        (ADMIN_DN, "mailbox", "mailbox admin"),
        (f"{ORG}/cn=Notes Recipients/cn=jdoe", "mailbox", "mailbox jdoe"),
        ("CONTOSO\\exsvc", "unknown", "unknown object"),
    ],
)
def test_classify(dn: str, kind: str, label: str) -> None:
    info = classify(dn)
    assert info.kind == kind
    assert info.label == label
    assert info.dn == dn
    assert info.is_component == (kind not in ("mailbox", "unknown"))


def test_classify_is_case_insensitive_and_keeps_server_spelling() -> None:
    info = classify(IMS_DN.upper())
    assert info.kind == "connector" and info.server == "EXCH01" and info.component == "Internet Mail Service"
    assert (
        classify("/o=X/ou=Y/cn=Configuration/cn=Connections/cn=Internet Mail Connector (MARS-IMC)").server == "MARS-IMC"
    )


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (IMS_DN.upper(), "case"),
        (IMS_DN.replace("Internet Mail", "Internet  Mail"), "whitespace"),
        (IMS_DN + " ", "whitespace"),
        (IMS_DN.replace("Internet Mail Connector", "Internet Mail Service"), "display_name"),
        (IMS_DN.replace("cn=Connections", "cn=Connection"), "container"),
        (IMS_DN.replace("Connector", "Conector"), "typo"),
        (IMS_DN.replace("Internet Mail", "InternetMail"), "whitespace"),
        (IMS_DN[1:], "syntax"),
        (dsa_dn(1).replace("Microsoft DSA", "Microsoft  DSA "), "whitespace"),
        (dsa_dn(1).replace("cn=EXCH01", "cn=EXCH01 "), "whitespace"),
    ],
)
def test_near_miss_reasons(entry: str, reason: str) -> None:
    refused = dsa_dn(1) if "Servers" in entry else IMS_DN
    miss = near_miss(refused, entry)
    assert miss is not None and miss.reason == reason and miss.entry == entry and miss.dn == refused
    assert miss.counts_as_listed == (reason == "case")
    assert miss.same_object == (reason != "typo")


def test_near_miss_none_for_exact_or_unrelated() -> None:
    assert near_miss(IMS_DN, IMS_DN) is None
    assert near_miss(IMS_DN, ADMIN_DN) is None
    assert near_miss(sa_dn(1), dsa_dn(1)) is None


MTA1 = f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft MTA"


@pytest.mark.parametrize(
    ("refused", "entry"),
    [
        (MTA1, dsa_dn(1)),  # the reported case: two letters apart, two components
        (dsa_dn(1), MTA1),
        (MTA1.upper(), dsa_dn(1).lower()),
        (sa_dn(2), sa_dn(1)),  # another server's SA (needed for a mailbox move, KB 218920)
        (dsa_dn(2), dsa_dn(1)),
        (IMS_DN, IMS_DN.replace("EXCH01", "EXCH02")),  # the same connector on another server
        (IMS_DN, IMS_DN.replace("Internet Mail Connector", "MS Mail Connector")),
        (IMS_DN, IMS_DN.replace("Internet Mail Connector (EXCH01)", "Internet Mail Connector (MARS-IMC)")),
        (IMS_DN, IMS_DN.replace("Internet Mail Connector", "Internet Mail Service").replace("EXCH01", "EXCH02")),
        (dsa_dn(1), dsa_dn(1).replace("Microsoft DSA", "System Attendant")),  # display name of another component
        (dsa_dn(1), dsa_dn(1).replace("Microsoft DSA", "Microsoft DXA")),
        (f"{ORG}/cn=Recipients/cn=jdoe", f"{ORG}/cn=Recipients/cn=jdoe2"),  # two mailboxes
        (f"{ORG}/cn=Recipients/cn=jdoe", f"{ORG}/cn=Recipients/cn=jdo"),
        (f"{ORG}/cn=Configuration/cn=Add-Ins/cn=EXCH01", f"{ORG}/cn=Configuration/cn=Add-Ins/cn=EXCH02"),
        (sa_dn(1), f"{ORG}/cn=Recipients/cn=Microsoft System Attendant"),  # a mailbox vs a component
        (sa_dn(1), sa_dn(1).replace("ou=Berlin", "ou=Berlin2")),  # another site
        (MTA1, dsa_dn(1)[1:]),  # a slip in the DN syntax does not make the DSA a typo of the MTA
        (MTA1, dsa_dn(1) + " "),
    ],
)
def test_different_objects_are_never_near_misses(refused: str, entry: str) -> None:
    assert near_miss(refused, entry) is None
    assert not same_object(refused, entry)
    assert find_entry(refused, [entry]) == (None, [])


def test_other_server_entries_are_reported_apart() -> None:
    others = other_server_entries(sa_dn(2), [sa_dn(1), dsa_dn(1), ADMIN_DN])
    assert [o.entry for o in others] == [sa_dn(1)]
    assert "System Attendant of server EXCH01, not of EXCH02" in others[0].detail
    assert other_server_entries(IMS_DN, [IMS_DN.replace("EXCH01", "EXCH02")])[0].entry.endswith("(EXCH02)")


def test_same_object() -> None:
    assert same_object(IMS_DN, IMS_DN.upper() + " ")
    assert same_object(IMS_DN, IMS_DN.replace("Internet Mail Connector", "Internet Mail Service"))
    assert same_object(IMS_DN, IMS_DN.replace("cn=Connections", "cn=Connection"))
    assert not same_object(IMS_DN, IMS_DN.replace("Connector", "Conector"))
    assert same_object("not a dn", " NOT  a dn ")


def test_find_entry() -> None:
    assert find_entry(IMS_DN, [sa_dn(1), IMS_DN]) == (IMS_DN, [])
    held, misses = find_entry(IMS_DN, [IMS_DN.lower()])
    assert held == IMS_DN.lower() and [m.reason for m in misses] == ["case"]
    held, misses = find_entry(IMS_DN, ["", "   ", IMS_DN.replace("Connector", "Service")])
    assert held is None and [m.reason for m in misses] == ["display_name"]
    assert find_entry(IMS_DN, []) == (None, [])


def test_edit_distance() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("abc", "abc") == 0
    assert edit_distance("a" * 50, "b" * 50, limit=3) == 4
