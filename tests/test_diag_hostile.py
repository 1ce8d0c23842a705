"""Odd and hostile event content: the diagnosis neither crashes nor invents DNs."""

from __future__ import annotations

import time

from analyzer.diagnosis import diagnose_objects
from analyzer.evidence import LogonOnlyAs
from analyzer.rules.factories import ADMIN_DN, IMS_DN, ORG, e1023, event, sa_dn

LIST = LogonOnlyAs("set", [sa_dn(1), ADMIN_DN], source="p.reg", key="HKLM\\SYSTEM\\CurrentControlSet\\X")


def test_huge_dn_is_cheap() -> None:
    huge = f"{ORG}/cn=Configuration/cn=Connections/cn=" + "A" * 200_000
    start = time.process_time()  # CPU time: a loaded machine does not make it longer
    dx = diagnose_objects([e1023(huge)], [LogonOnlyAs("set", ["/o=x/ou=y/cn=" + "A" * 200_000], source="p")])
    assert time.process_time() - start < 5
    # A 200 000-character RDN is not a DN Exchange writes: shown (capped) as unconfirmed, never proposed.
    assert dx.dns_to_add == [] and len(dx.unconfirmed) == 1
    assert len(dx.unconfirmed[0]["text"]) <= 2000 and dx.unconfirmed[0]["text"].startswith("CONTOSO\\exsvc | /o=")


def test_dn_outside_the_code_page_gets_no_regedit4_patch() -> None:
    dn = f"{ORG}/cn=Configuration/cn=Connections/cn=Internet Mail Connector (ЕХСН01)"  # Cyrillic look-alikes
    dx = diagnose_objects([e1023(dn)], [LIST], reg_version=4)
    assert dx.dns_to_add == [dn] and dx.remediation is None
    assert any("no .reg patch" in w for w in dx.warnings)
    dx5 = diagnose_objects([e1023(dn)], [LIST], reg_version=5)
    assert dx5.remediation is not None and dn in dx5.remediation.entries


def test_control_characters_survive_verbatim_in_json() -> None:
    dn = IMS_DN.replace("EXCH01", "EXCH01\x1b[31m")
    dx = diagnose_objects([e1023(dn)], [LIST], reg_version=5)
    # Not a well-formed DN (a control character): never proposed, its raw text kept verbatim in JSON.
    assert dx.to_dict()["dns_to_add"] == [] and dn in dx.to_dict()["unconfirmed"][0]["text"]
    assert "\x1b" not in dx.to_text()


def test_events_without_time_or_computer() -> None:
    import dataclasses

    e = dataclasses.replace(e1023(IMS_DN), time_generated=None, time_written=None, computer="")
    dx = diagnose_objects([e], [LIST])
    assert dx.dns_to_add == [IMS_DN] and "Add this DN to Logon Only As:" in dx.verdict


def test_1023_from_unrelated_source_is_ignored() -> None:
    dx = diagnose_objects([event(1023, "SomethingElse", ("D\\u", IMS_DN, IMS_DN))], [LIST])
    assert dx.dns_to_add == [] and not dx.needs_action


def test_blank_elements_are_noted_dropped_from_patch_and_kept_in_rollback() -> None:
    from analyzer.model import RegistryFile, RegistryKey, RegistryValue
    from analyzer.registry import Registry

    root = RegistryKey("")
    node = root.ensure_path(["HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS"])
    node.add_subkey("ParametersSystem").set_value(
        RegistryValue("Logon Only As", "REG_MULTI_SZ", [sa_dn(1), "", ADMIN_DN])
    )
    dx = diagnose_objects([e1023(IMS_DN)], [Registry(RegistryFile("p.reg", "reg", root, ""))])
    assert dx.logon_only_as.entries == [sa_dn(1), ADMIN_DN]
    assert any("blank element" in n for n in dx.logon_only_as.notes)
    assert dx.remediation is not None and dx.remediation.entries == [sa_dn(1), ADMIN_DN, IMS_DN]
    assert ",00,00,2f," in dx.remediation.rollback.replace("\\\n  ", "")  # the blank element between the two


def test_refusals_from_several_servers_are_flagged() -> None:
    dx = diagnose_objects([e1023(IMS_DN), e1023(sa_dn(2), computer="EXCH02")], [LIST])
    assert any("several servers (EXCH01, EXCH02)" in w for w in dx.warnings)
