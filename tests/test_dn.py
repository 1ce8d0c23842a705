"""DN parsing, comparison, classification and near-miss detection (analyzer/dn.py)."""

from __future__ import annotations

import pytest

from analyzer.dn import classify, differs_only_in_case, edit_distance, find_entry, near_miss, parse_dn, same_dn
from analyzer.rules.base import ADMIN_DN, IMS_DN, ORG, dsa_dn, sa_dn


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
        (IMS_DN.replace("EXCH01", "EXCH02"), "other_server"),
        (IMS_DN.replace("Connector", "Conector"), "typo"),
    ],
)
def test_near_miss_reasons(entry: str, reason: str) -> None:
    miss = near_miss(IMS_DN, entry)
    assert miss is not None and miss.reason == reason and miss.entry == entry and miss.dn == IMS_DN
    assert miss.counts_as_listed == (reason == "case")


def test_near_miss_none_for_exact_or_unrelated() -> None:
    assert near_miss(IMS_DN, IMS_DN) is None
    assert near_miss(IMS_DN, ADMIN_DN) is None
    assert near_miss(sa_dn(1), dsa_dn(1)) is None


def test_other_server_for_server_components() -> None:
    miss = near_miss(sa_dn(2), sa_dn(1))
    assert miss is not None and miss.reason == "other_server"


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
