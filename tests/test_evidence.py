"""Evidence extraction from Events (insertion strings, rendered text, export wrappers) and registry views."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analyzer.evidence import (
    Evidence,
    LogonOnlyAs,
    choose_logon_only_as,
    collect,
    parse_logon_strings,
    read_logon_only_as,
    service_key,
    services_in_text,
)
from analyzer.model import Event, EventType, RegistryFile, RegistryKey, RegistryValue
from analyzer.registry import Registry
from analyzer.rules import evidence_filter
from analyzer.rules.factories import ADMIN_DN, IMS_DN, ORG, e1023, event, sa_dn, scm, user_dn

MBCLEAN = f"{ORG}/cn=Recipients, Utility/cn=MSExchangeMCA"


def text_event(event_id: int, source: str, message: str, strings: tuple[str, ...] = ()) -> Event:
    e = event(event_id, source, strings, type=EventType.FAILURE_AUDIT)
    return Event(**{**{f: getattr(e, f) for f in e.__slots__}, "message": message})  # type: ignore[attr-defined]


def test_1023_from_strings_in_any_order() -> None:
    ev = collect([event(1023, "MSExchangeIS Private", (IMS_DN, "CONTOSO\\exsvc", user_dn("x")))])
    (r,) = ev.refusals
    assert (r.account, r.dn_a, r.dn_b, r.parsed_from) == ("CONTOSO\\exsvc", IMS_DN, user_dn("x"), "strings")
    assert r.store == "Private" and r.computer == "EXCH01" and r.ref.record is not None


def test_1023_source_spelling_and_public_store() -> None:
    ev = collect(
        [
            event(1023, "MsExchangeIS Private", ("D\\u", ADMIN_DN, ADMIN_DN)),
            event(1023, "MSExchangeIS Public", ("D\\u", ADMIN_DN, ADMIN_DN)),
        ]
    )
    assert [r.store for r in ev.refusals] == ["Private", "Public"]


def test_1023_from_rendered_message() -> None:
    msg = f"CONTOSO\\exsvc was validated as {IMS_DN} but was unable to log on to {IMS_DN}."
    (r,) = collect([text_event(1023, "MSExchangeIS Private", msg)]).refusals
    assert (r.account, r.dn_a, r.dn_b, r.parsed_from) == ("CONTOSO\\exsvc", IMS_DN, IMS_DN, "template:en")


def test_1023_from_kb_wrapped_message() -> None:
    wrapped = IMS_DN.replace("Internet Mail Connector", "Internet Mail\r\nConnector")
    msg = f"CONTOSO\\exsvc was validated as {wrapped} but was unable to log on to\r\n{wrapped}"
    (r,) = collect([text_event(1023, "MSExchangeIS Private", msg)]).refusals
    assert r.dn_a == IMS_DN and r.dn_b == IMS_DN


def test_1023_from_could_not_be_found_wrapper_with_comma_in_dn() -> None:
    msg = (
        "The description for Event ID ( 1023 ) in Source ( MSExchangeIS Private ) could not be found. It contains "
        f"the following insertion string(s): CONTOSO\\exsvc, {MBCLEAN}, {user_dn('jdoe')}."
    )
    (r,) = collect([text_event(1023, "MSExchangeIS Private", msg)]).refusals
    assert (r.account, r.dn_a, r.dn_b) == ("CONTOSO\\exsvc", MBCLEAN, user_dn("jdoe"))


def test_1023_from_dumpel_blob_joined_by_spaces() -> None:
    blob = f"CONTOSO\\exsvc {IMS_DN} {IMS_DN}"
    (r,) = collect([event(1023, "MSExchangeIS Private", (blob,))]).refusals
    assert (r.account, r.dn_a, r.dn_b) == ("CONTOSO\\exsvc", IMS_DN, IMS_DN)


def test_1013_is_a_logon_not_a_refusal() -> None:
    msg = f"CONTOSO\\exsvc was validated as {IMS_DN} and logged on to {IMS_DN}"
    ev = collect(
        [text_event(1013, "MSExchangeIS Private", msg), event(1009, "MSExchangeIS Private", ("D\\u", ADMIN_DN))]
    )
    assert ev.refusals == []
    assert [(lg.event_id, lg.dn_a, lg.dn_b) for lg in ev.logons] == [(1013, IMS_DN, IMS_DN), (1009, ADMIN_DN, ADMIN_DN)]


def test_1023_without_dn_is_reported_not_guessed() -> None:
    ev = collect([event(1023, "MSExchangeIS Private", ("CONTOSO\\exsvc",))])
    assert ev.refusals == [] and len(ev.unconfirmed) == 1
    assert ev.unconfirmed[0].to_dict()["text"] == "CONTOSO\\exsvc"


def test_other_sources_with_same_ids_are_counted_not_kept() -> None:
    ev = Evidence()
    for e in [event(1023, "Userenv", ("x",)), event(11, "Disk", ("\\Device\\Harddisk0",)), event(4018, "Other")]:
        assert ev.feed(e) is False
    assert ev.event_count == 3 and sum(ev.kept.values()) == 0


def test_scm_events() -> None:
    ev = collect(
        [
            scm(7024, "Microsoft Exchange Information Store", "4294966781"),
            scm(7001, "Microsoft Exchange Internet Mail Service", "Microsoft Exchange Information Store", "%%1068"),
            scm(7036, "Microsoft Exchange Information Store", "running"),
            scm(7023, "MSExchangeIMC", "%%2140"),
            scm(7000, "Spooler", "%%1053"),
        ]
    )
    got = [(s.event_id, s.service, s.depends_on, s.code, s.state) for s in ev.services]
    assert got == [
        (7024, "MSExchangeIS", None, 4294966781, None),
        (7001, "MSExchangeIMC", "MSExchangeIS", None, None),
        (7036, "MSExchangeIS", None, None, "running"),
        (7023, "MSExchangeIMC", None, 2140, None),
    ]


def test_scm_from_message_text() -> None:
    e = scm(7001)
    msg = (
        "The Microsoft Exchange Internet Mail Service service depends on the Microsoft Exchange Information Store "
        "service which failed to start because of the following error: The service has returned a service-specific error code."
    )
    e = Event(**{**{f: getattr(e, f) for f in e.__slots__}, "message": msg})  # type: ignore[attr-defined]
    (s,) = collect([e]).services
    assert (s.service, s.depends_on) == ("MSExchangeIMC", "MSExchangeIS")


def test_service_names() -> None:
    assert service_key("Microsoft Exchange Internet Mail Connector") == "MSExchangeIMC"
    assert service_key("the microsoft exchange directory service") == "MSExchangeDS"
    assert service_key("Spooler") is None
    assert services_in_text("Microsoft Exchange Event Service needs Microsoft Exchange Information Store") == [
        "MSExchangeES",
        "MSExchangeIS",
    ]


def test_imc_es_imap() -> None:
    ev = collect(
        [
            event(4018, "MSExchangeIMC"),
            event(11, "MSExchangeES", ("0x8004011D",)),
            event(13003, "IMAP4Svc", ("x",)),
        ]
    )
    assert [e.event_id for e in ev.imc] == [4018]
    assert ev.event_service[0].code == "0x8004011d"
    assert len(ev.imap) == 1


def test_parse_logon_strings_prefers_strings() -> None:
    assert parse_logon_strings(("D\\a", ADMIN_DN), f"E\\b was validated as {IMS_DN}")[1] == [ADMIN_DN]


def test_filter_wants_the_ids() -> None:
    for i in (1023, 1009, 1013, 4018, 4116, 7001, 7024, 7036, 11, 13003):
        assert evidence_filter().wants_id(i)
    assert not evidence_filter().wants_id(6005)
    assert not evidence_filter().wants_id(1016)  # names a display name, not a DN: no rule reads it


def test_filter_wants_the_pairs_the_rules_read() -> None:
    """The (source, ID) pairs come from the rules: an ID some rule reads from another source is skipped."""
    wanted = evidence_filter()
    assert wanted.wants_pair(1023, "MSExchangeIS Private") and wanted.wants_pair(1023, "MSExchangeIS Public")
    assert not wanted.wants_pair(1023, "Winlogon")
    assert wanted.wants_pair(4018, "MSExchangeIMC") and not wanted.wants_pair(4018, "MSExchangeIS Private")
    assert wanted.wants_pair(7024, "Service Control Manager")
    assert wanted.wants_pair(13003, "MSExchangeIMAP4")  # contained, as Evidence matches IMAP4 sources
    assert not wanted.wants_pair(1005, "Winlogon") and wanted.wants_pair(1005, "MSExchangeSA")
    assert not wanted.wants_pair(6005, "EventLog")
    for source, event_id in [("MSExchangeIS Private", 1023), ("Winlogon", 1005), ("EventLog", 6005)]:
        got = wanted.matches(event(event_id, source, ()))
        assert got == wanted.wants_pair(event_id, source)


def test_feed_is_streaming() -> None:
    """Only relevant events are kept: a generator of many irrelevant events leaves nothing behind."""

    def stream():
        for n in range(5000):
            yield event(1023 if n % 1000 == 0 else 1000, "MSExchangeIS Private", ("D\\u", ADMIN_DN, ADMIN_DN))

    ev = Evidence()
    ev.feed_all(stream(), "big.evt")
    assert ev.seen["big.evt"] == 5000 and len(ev.refusals) == 5


# --------------------------------------------------------------------------- registry


def registry(values: list[RegistryValue] | None, *, tracing: bool = False, when: datetime | None = None) -> Registry:
    root = RegistryKey("")
    if values is not None:
        node = root.ensure_path(
            ["HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS", "ParametersSystem"]
        )
        node.last_write = when
        for v in values:
            node.set_value(v)
        if tracing:
            node.set_value(RegistryValue("Enable Tracing", "REG_DWORD", 1))
    else:
        root.ensure_path(["HKEY_LOCAL_MACHINE", "SOFTWARE", "Microsoft"])
    return Registry(RegistryFile("x.reg", "reg", root, ""))


def loa(items: object, vtype: str = "REG_MULTI_SZ") -> RegistryValue:
    return RegistryValue("Logon Only As", vtype, items)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "state", "entries"),
    [
        ([], "absent", []),
        ([loa([])], "empty", []),
        ([loa([""])], "empty", []),
        ([loa([IMS_DN, "", ADMIN_DN, ""])], "set", [IMS_DN, ADMIN_DN]),
        ([loa(IMS_DN, "REG_SZ")], "set", [IMS_DN]),
        (None, "unknown", []),
    ],
)
def test_read_logon_only_as_states(values: list[RegistryValue] | None, state: str, entries: list[str]) -> None:
    r = read_logon_only_as(registry(values), "case/x.reg")
    assert r.state == state and r.entries == entries and r.source == "case/x.reg"
    if state == "set" and values and isinstance(values[0].data, list):
        assert any("blank element" in n for n in r.notes)
    if values and values[0].type == "REG_SZ":
        assert any("REG_SZ" in n for n in r.notes)


def test_enable_tracing_flag() -> None:
    assert read_logon_only_as(registry([], tracing=True)).enable_tracing


def test_choose_prefers_newest_then_hive() -> None:
    old = LogonOnlyAs("set", [ADMIN_DN], source="a.reg", format="reg", last_write=datetime(2002, 1, 1, tzinfo=UTC))
    new = LogonOnlyAs(
        "set", [ADMIN_DN, IMS_DN], source="SYSTEM", format="hive", last_write=datetime(2002, 2, 1, tzinfo=UTC)
    )
    chosen = choose_logon_only_as([old, new])
    assert chosen.source == "SYSTEM"
    assert any("exports disagree" in n and "written later" in n for n in chosen.notes)
    reg = LogonOnlyAs("absent", source="b.reg", format="reg")
    hive = LogonOnlyAs("set", [sa_dn(1)], source="SYSTEM", format="hive")
    chosen = choose_logon_only_as([reg, hive])
    assert chosen.source == "SYSTEM" and any("binary hive" in n for n in chosen.notes)
    same = choose_logon_only_as(
        [LogonOnlyAs("set", [ADMIN_DN], source="1"), LogonOnlyAs("set", [ADMIN_DN.upper()], source="2")]
    )
    assert not any("disagree" in n for n in same.notes)


def test_choose_ignores_exports_without_the_key() -> None:
    unknown = LogonOnlyAs("unknown", source="SOFTWARE", notes=["SOFTWARE: the export does not contain x"])
    chosen = choose_logon_only_as([unknown, LogonOnlyAs("absent", source="p.reg", format="reg")])
    assert chosen.state == "absent" and chosen.notes == ["SOFTWARE: the export does not contain x"]
    assert choose_logon_only_as([]).state == "unknown"
    assert e1023(IMS_DN).strings[1] == IMS_DN
