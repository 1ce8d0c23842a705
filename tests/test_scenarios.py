"""DOMAIN.md's twelve fixture scenarios, each diagnosed from every input combination that fits.

Event side: in-memory Events, .evt, .evtx, Event Viewer tab-separated text and CSV export.
Registry side: in-memory key tree, binary hive, .reg REGEDIT4, .reg 5.00, Regedt32 text, reg query.
Files are made once per scenario by the project's writers (tests/writers) and read back by the real
readers, so every combination exercises sniffing, reading, evidence extraction, rules and verdict.
The expected outcome is written once per scenario and asserted for each combination.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import pytest

from analyzer.diagnosis import Diagnosis, diagnose, diagnose_objects
from analyzer.model import Event, RegistryFile, RegistryKey, RegistryValue
from analyzer.registry import Registry
from analyzer.rules.factories import ADMIN_DN, IMS_DN, ORG, dsa_dn, e1023, es11, imc, sa_dn, scm, user_dn
from tests.patch_check import check_written_patch

evt_writer = pytest.importorskip("tests.writers.evt_writer")
evtx_writer = pytest.importorskip("tests.writers.evtx_writer")
evtext_writer = pytest.importorskip("tests.writers.evtext_writer")
hive_writer = pytest.importorskip("tests.writers.hive_writer")
regtext = pytest.importorskip("tests.writers.regtext_writers")

KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
IMS_DISPLAY = IMS_DN.replace("Internet Mail Connector", "Internet Mail Service")
IMS_SINGULAR = IMS_DN.replace("cn=Connections", "cn=Connection")
IMS_DOUBLE_SPACE = IMS_DN.replace("Internet Mail", "Internet  Mail")
IMS_TYPO = IMS_DN.replace("Connector", "Conector")
IMS_TRAILING = IMS_DN + " "


def mta_dn(n: int) -> str:
    return f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH0{n}/cn=Microsoft MTA"


EMPTY_ZERO = "empty-zero-length"  # registry spec: a value of zero bytes (hive only)

EVENT_FORMS = ("memory", "evt", "evtx", "evtxt", "evcsv")
REGISTRY_FORMS = ("memory", "hive", "reg4", "reg5", "regedt32", "regquery")


@dataclass
class Scenario:
    """Events + registry spec (None/"absent"/"empty"/entries) + the expected outcome."""

    name: str
    events: list[Event]
    registry: list[str] | str | None
    state: str
    dns: list[str]
    fired: set[str]
    not_fired: set[str] = field(default_factory=set)
    needs_action: bool = True
    replaces: str | None = None
    event_forms: tuple[str, ...] = EVENT_FORMS
    registry_forms: tuple[str, ...] = REGISTRY_FORMS
    control_sets: dict[int, list[str] | None] | None = None  # hive with several control sets
    current: int = 1
    evt_options: dict[str, object] = field(default_factory=dict)
    text_options: dict[str, object] = field(default_factory=dict)
    verdict_has: tuple[str, ...] = ()


def classic_events() -> list[Event]:
    return [
        e1023(IMS_DN),
        imc(4018, seconds=2),
        imc(4116, seconds=3),
        scm(7023, "Microsoft Exchange Internet Mail Service", "%%2140", seconds=5),
    ]


SCENARIOS = [
    Scenario(
        "1-classic",
        classic_events(),
        [sa_dn(1), ADMIN_DN],
        "set",
        [IMS_DN],
        {"KB306308"},
        {"LOA-CASE"},
        verdict_has=("KB 306308", "Internet Mail Service", "on EXCH01"),
    ),
    Scenario(
        "2-mixed-case",
        classic_events(),
        [IMS_DN.upper(), ADMIN_DN],
        "set",
        [],
        {"LOA-CASE"},
        {"KB306308"},
        False,
        verdict_has=("letter case", "IS restart"),
    ),
    Scenario(
        "3-display-name",
        classic_events(),
        [sa_dn(1), IMS_DISPLAY],
        "set",
        [IMS_DN],
        {"KB306308"},
        replaces=IMS_DISPLAY,
    ),
    Scenario(
        "3b-connection-singular",
        classic_events(),
        [sa_dn(1), IMS_SINGULAR],
        "set",
        [IMS_DN],
        {"KB306308"},
        replaces=IMS_SINGULAR,
    ),
    Scenario(
        "3c-double-space",
        classic_events(),
        [IMS_DOUBLE_SPACE, sa_dn(1)],
        "set",
        [IMS_DN],
        {"KB306308"},
        replaces=IMS_DOUBLE_SPACE,
    ),
    Scenario(
        "4-empty",
        [
            e1023(IMS_DN),
            imc(4018, seconds=2),
            imc(4116, seconds=3),
            e1023(sa_dn(1), seconds=60),
            e1023(user_dn("jdoe"), seconds=120),
            e1023(user_dn("asmith"), seconds=180),
        ],
        "empty",
        "empty",
        [IMS_DN, sa_dn(1)],
        {"KB146764", "KB306308", "KB199954"},
        verdict_has=("blank", "nobody can log on", "Delete the value"),
    ),
    Scenario(
        "4b-empty-zero-length",
        [e1023(IMS_DN), imc(4018, seconds=2), e1023(user_dn("jdoe"), seconds=60)],
        EMPTY_ZERO,
        "empty",
        [IMS_DN],
        {"KB146764", "KB306308"},
        registry_forms=("memory", "hive"),
    ),
    Scenario(
        "5-absent-4018",
        [imc(4018), imc(4116, seconds=1)],
        "absent",
        "absent",
        [],
        {"KB163243"},
        {"KB306308", "KB146764"},
        verdict_has=("not the cause", "Mapisvc.inf"),
    ),
    Scenario(
        "6-maintenance",
        [e1023(user_dn("jdoe")), e1023(user_dn("asmith"), seconds=30), e1023(user_dn("jdoe"), seconds=90)],
        [sa_dn(1), ADMIN_DN],
        "set",
        [],
        {"KB146764"},
        {"KB306308", "KB199954"},
        False,
        verdict_has=("by design", "delete the value"),
    ),
    Scenario(
        "7-move-mailbox",
        [e1023(sa_dn(2)), e1023(dsa_dn(2), seconds=1)],
        [sa_dn(1), dsa_dn(1)],
        "set",
        [sa_dn(2), dsa_dn(2)],
        {"KB218920"},
        {"KB199954"},
    ),
    Scenario("8-admin-sa", [e1023(sa_dn(1))], [IMS_DN, ADMIN_DN], "set", [sa_dn(1)], {"KB199954"}, {"KB218920"}),
    Scenario(
        "9-two-control-sets",
        classic_events(),
        None,
        "set",
        [IMS_DN],
        {"KB306308"},
        registry_forms=("memory", "hive"),
        control_sets={1: [sa_dn(1), IMS_DN], 2: [sa_dn(1), ADMIN_DN]},
        current=2,
    ),
    Scenario(
        "10-event-service",
        [e1023(sa_dn(1), user_dn("user-3")), es11(seconds=1)],
        [sa_dn(1), IMS_DN],
        "set",
        [],
        {"KB259578"},
        {"KB306308", "KB199954"},
        False,
        verdict_has=("Not a Logon Only As problem", "KB 259578"),
    ),
    Scenario(
        "11-is-down",
        [
            scm(7024, "Microsoft Exchange Information Store", "4294966781"),
            scm(7001, "Microsoft Exchange Internet Mail Service", "Microsoft Exchange Information Store", seconds=40),
        ],
        [IMS_DN],
        "set",
        [],
        {"KB262375"},
        {"KB306308", "KB163243", "IS-DOWN"},
        verdict_has=("Information Store", "KB 262375"),
    ),
    Scenario(
        "12a-dirty-evt",
        classic_events(),
        [sa_dn(1), ADMIN_DN],
        "set",
        [IMS_DN],
        {"KB306308"},
        event_forms=("evt",),
        registry_forms=("reg4", "hive"),
        evt_options={"dirty": True},
    ),
    Scenario(
        "12b-wrapper-txt",
        classic_events(),
        [sa_dn(1), ADMIN_DN],
        "set",
        [IMS_DN],
        {"KB306308"},
        event_forms=("evtxt", "evcsv"),
        registry_forms=("reg4", "hive"),
        text_options={"mode": "wrapper"},
    ),
    # Issue 19: the patch keeps every current entry.  Each of these once lost a working entry (or
    # would have) because a close string was taken for a near miss of the refused DN.
    Scenario(
        "19a-move-mailbox-mta-listed",  # another server's DSA refused; this server's MTA is listed
        [e1023(dsa_dn(2)), e1023(sa_dn(2), seconds=1)],
        [sa_dn(1), mta_dn(1), ADMIN_DN],
        "set",
        [dsa_dn(2), sa_dn(2)],
        {"KB218920"},
        {"KB199954", "KB306308"},
    ),
    Scenario(
        "19b-multi-component",  # this server's MTA refused; its DSA is listed, two letters apart
        [e1023(mta_dn(1))],
        [sa_dn(1), dsa_dn(1), ADMIN_DN],
        "set",
        [mta_dn(1)],
        {"KB306308"},
    ),
    Scenario(
        "19c-near-miss-typo",
        classic_events(),
        [sa_dn(1), IMS_TYPO],
        "set",
        [IMS_DN],
        {"KB306308"},
        replaces=IMS_TYPO,
    ),
    Scenario(
        "19d-trailing-space",
        classic_events(),
        [IMS_TRAILING, sa_dn(1)],
        "set",
        [IMS_DN],
        {"KB306308"},
        replaces=IMS_TRAILING,
    ),
    Scenario(
        "extra-no-registry",
        classic_events(),
        None,
        "unknown",
        [],
        {"LOA-UNKNOWN"},
        {"KB306308"},
        registry_forms=("none",),
        verdict_has=("No registry export", "ParametersSystem"),
    ),
]
# Scenario 12's strings-only .evt is the plain "evt" form of every scenario (the writer stores
# insertion strings only; no message text).


# --------------------------------------------------------------------------- building inputs


def registry_tree(s: Scenario, *, full_paths: bool) -> RegistryKey:
    """The registry as a key tree: nameless root + HKEY_LOCAL_MACHINE (text exports), or an offline
    SYSTEM hive model (``full_paths=False``)."""
    sets = s.control_sets or {1: s.registry}  # type: ignore[dict-item]

    def values(spec: list[str] | str | None) -> list[RegistryValue]:
        if spec == "absent" or spec is None:
            return []
        if spec == "empty":
            return [hive_writer.multi_sz("Logon Only As", [])]
        if spec == EMPTY_ZERO:
            return [RegistryValue("Logon Only As", "REG_MULTI_SZ", [], b"")]
        return [hive_writer.multi_sz("Logon Only As", list(spec))]

    if not full_paths:
        return hive_writer.offline_system(
            {n: {r"Services\MSExchangeIS\ParametersSystem": values(spec)} for n, spec in sets.items()},
            current=s.current,
        )
    root = RegistryKey("")
    node = root.ensure_path(["HKEY_LOCAL_MACHINE", *KEY.split("\\")[1:]])
    for v in values(s.registry):
        node.set_value(v)
    return root


def write_registry(s: Scenario, form: str, folder: Path) -> Path | None:
    if form in ("memory", "none"):
        return None
    if form == "hive":
        return hive_writer.write_hive(folder / "SYSTEM", registry_tree(s, full_paths=False))
    tree = registry_tree(s, full_paths=True)
    if form == "reg4":
        return regtext.write_reg(folder / "params4.reg", tree, version=4)
    if form == "reg5":
        return regtext.write_reg(folder / "params5.reg", tree, version=5)
    if form == "regedt32":
        return regtext.write_regedt32(folder / "params.txt", tree)
    if form == "regquery":
        return regtext.write_regquery(folder / "params-query.txt", tree, style="3.0")
    raise AssertionError(form)


def split_logs(events: list[Event]) -> dict[str, list[Event]]:
    logs: dict[str, list[Event]] = {"Application": [], "System": []}
    for e in events:
        logs["System" if e.source == "Service Control Manager" else "Application"].append(e)
    return {k: v for k, v in logs.items() if v}


def write_events(s: Scenario, form: str, folder: Path) -> list[Path]:
    out: list[Path] = []
    for log, events in split_logs(s.events).items():
        stem = folder / ("AppEvent" if log == "Application" else "SysEvent")
        if form == "evt":
            evt_writer.write_evt(stem.with_suffix(".Evt"), events, **s.evt_options)
            out.append(stem.with_suffix(".Evt"))
        elif form == "evtx":
            path = stem.with_suffix(".evtx")
            evtx_writer.write_evtx(path, events, channel=log)
            out.append(path)
        elif form == "evtxt":
            out.append(evtext_writer.write_evtxt(stem.with_suffix(".txt"), events, **s.text_options))
        elif form == "evcsv":
            out.append(evtext_writer.write_evcsv(stem.with_suffix(".csv"), events, **s.text_options))
        else:
            raise AssertionError(form)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """Files per (scenario, form), written once for the module."""
    cache: dict[tuple[str, str, str], object] = {}

    def get(s: Scenario, side: str, form: str) -> object:
        key = (s.name, side, form)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{s.name}-{side}-{form}")
            cache[key] = write_events(s, form, folder) if side == "events" else write_registry(s, form, folder)
        return cache[key]

    return get


def run(s: Scenario, event_form: str, registry_form: str, built) -> Diagnosis:
    reg_path = built(s, "registry", registry_form)
    if event_form != "memory" and registry_form not in ("memory",):
        paths = [str(p) for p in built(s, "events", event_form)]
        if reg_path is not None:
            paths.append(str(reg_path))
        return diagnose(paths, tz=UTC)
    registries = []
    if registry_form == "memory":
        full = s.control_sets is None
        tree = registry_tree(s, full_paths=full)
        registries.append(Registry(RegistryFile("registry (memory)", "hive", tree, "" if full else None)))
    elif reg_path is not None:
        from analyzer.registry import read_registry

        registries.append(read_registry(str(reg_path)))
    if event_form == "memory":
        events = s.events
    else:
        from analyzer.events import iter_events

        events = list(iter_events([str(p) for p in built(s, "events", event_form)], tz=UTC))
    return diagnose_objects(events, registries)


COMBOS = [
    pytest.param(s, ev, rg, id=f"{s.name}-{ev}-{rg}")
    for s in SCENARIOS
    for ev in s.event_forms
    for rg in s.registry_forms
]


@pytest.mark.parametrize(("scenario", "event_form", "registry_form"), COMBOS)
def test_scenario(scenario: Scenario, event_form: str, registry_form: str, built, tmp_path: Path) -> None:
    dx = run(scenario, event_form, registry_form, built)
    rules = set(dx.rules_fired)
    assert dx.usable, dx.errors
    assert dx.logon_only_as.state == scenario.state, dx.logon_only_as
    assert dx.dns_to_add == scenario.dns, dx.verdict
    assert scenario.fired <= rules, (rules, dx.verdict)
    assert not (scenario.not_fired & rules), (rules, dx.verdict)
    assert dx.needs_action is scenario.needs_action, dx.verdict
    for phrase in scenario.verdict_has:
        assert phrase in dx.verdict, (phrase, dx.verdict)
    replaced = sorted({f.replaces for f in dx.finding_list if f.replaces})
    assert replaced == ([scenario.replaces] if scenario.replaces else [])
    if scenario.dns and scenario.state == "set":
        assert dx.verdict.startswith("Add th"), dx.verdict
        assert dx.remediation is not None
        assert all(dn in dx.remediation.entries for dn in scenario.dns)
        if scenario.replaces:  # a near miss is kept, and named with the exact text to delete
            assert scenario.replaces in dx.remediation.entries
            assert [(m.entry, m.action) for m in dx.remediation.near_misses] == [(scenario.replaces, "kept")]
            assert f"{scenario.replaces!r} is probably mistyped — remove it after the fix works" in dx.verdict
    if scenario.state == "empty":
        assert dx.remediation is not None and dx.remediation.entries == []
    if dx.remediation is not None:  # the invariant, on the patch as written to disk and re-read
        check_written_patch(dx, tmp_path)
    # every combination's DNs are the event's text, byte for byte
    for dn in dx.dns_to_add:
        assert any(dn in e.strings for e in scenario.events)
    if event_form != "memory" and registry_form not in ("memory", "none"):
        assert all(i.error is None for i in dx.inputs), [i.error for i in dx.inputs]
        assert sum(i.records for i in dx.inputs) > 0


def test_scenario_2_mentions_restart_and_assumption(built) -> None:
    dx = run(SCENARIOS[1], "memory", "memory", built)
    case = next(f for f in dx.finding_list if f.rule == "LOA-CASE")
    assert "restart" in case.explanation
    assert any("unverified" in a for a in case.assumptions)


def test_scenario_9_reports_other_control_set(built) -> None:
    s = next(s for s in SCENARIOS if s.name == "9-two-control-sets")
    dx = run(s, "evt", "hive", built)
    assert dx.logon_only_as.control_set == "ControlSet002"
    assert any("ControlSet001 differs" in n for n in dx.logon_only_as.notes)


def test_scenario_11_is_kb262375_on_the_scm_event(built) -> None:
    """KB 262375 fires on the realistic form: the Service Control Manager's 7024 in the System log."""
    s = next(s for s in SCENARIOS if s.name == "11-is-down")
    dx = run(s, "evtx", "reg5", built)
    (found,) = [f for f in dx.finding_list if f.rule == "KB262375"]
    assert found.severity.value == "error" and {e.event_id for e in found.evidence} == {7024, 7001}
    assert all(e.source == "Service Control Manager" for e in found.evidence)
    assert not any(f.rule == "IS-DOWN" for f in dx.finding_list)  # one finding for one cause


def test_scenario_5_points_at_mapisvc(built) -> None:
    s = next(s for s in SCENARIOS if s.name == "5-absent-4018")
    dx = run(s, "evtxt", "regquery", built)
    finding = next(f for f in dx.finding_list if f.rule == "KB163243")
    assert "Mapisvc.inf" in finding.explanation and "KB186739" in finding.references
