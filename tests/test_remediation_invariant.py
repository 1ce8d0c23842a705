"""Issue 19: the remediation never locks out a working component.

* the patched list keeps every entry of the current list (a near miss too, unless
  ``replace_near_misses``); the patch is written to disk and re-read with the project's reader;
* ``replace_near_misses`` replaces only a near miss that ``dn.near_miss`` confirms;
* the lock-out check refuses a patch that would stop admitting a listed component or what the case
  shows working (successful logons, started services), and the diagnosis then says why instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analyzer.remedy as remedy
import analyzer.rules.logic as rules_logic
from analyzer.cli import main
from analyzer.diagnosis import diagnose, diagnose_objects
from analyzer.dn import NearMiss, find_entry
from analyzer.evidence import LogonOnlyAs, collect
from analyzer.lockout import Working, lockout_problems, working_components
from analyzer.model import EventType
from analyzer.remedy import LockOutError, build_remediation
from analyzer.report.diagnosis import render_html, render_markdown, render_text
from analyzer.rules.factories import ADMIN_DN, IMS_DN, ORG, dsa_dn, e1023, event, imc, sa_dn, scm
from tests.multiserver_support import ims_dn, write_list, write_log
from tests.patch_check import check_written_patch, reread
from tests.test_near_miss_properties import object_lists

evt_writer = pytest.importorskip("tests.writers.evt_writer")
hive_writer = pytest.importorskip("tests.writers.hive_writer")
regtext = pytest.importorskip("tests.writers.regtext_writers")

MTA1 = f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft MTA"
IMS_DISPLAY = IMS_DN.replace("Internet Mail Connector", "Internet Mail Service")
IMS_TYPO = IMS_DN.replace("Connector", "Conector")
PARAMS = ["HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS", "ParametersSystem"]


def loa(*entries: str) -> LogonOnlyAs:
    return LogonOnlyAs("set", list(entries), key=r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem")


def logon_1009(dn: str, **kw: object) -> object:
    return event(1009, "MSExchangeIS Private", ("CONTOSO\\exsvc", dn), type=EventType.SUCCESS_AUDIT, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the merge


def test_default_keeps_the_near_miss_and_names_it() -> None:
    rem = build_remediation(state="set", current=[sa_dn(1), IMS_TYPO], add=[IMS_DN], near_misses={IMS_TYPO: IMS_DN})
    assert rem.entries == [sa_dn(1), IMS_TYPO, IMS_DN]
    assert [m.to_dict() for m in rem.near_misses] == [
        {"entry": IMS_TYPO, "dn": IMS_DN, "reason": "typo", "action": "kept"}
    ]
    step = next(s for s in rem.steps if s.startswith("After the fix works, remove the probably mistyped entry"))
    assert repr(IMS_TYPO) in step


def test_replace_mode_replaces_a_confirmed_near_miss_in_place() -> None:
    rem = build_remediation(
        state="set",
        current=[IMS_DISPLAY, sa_dn(1)],
        add=[IMS_DN],
        near_misses={IMS_DISPLAY: IMS_DN},
        replace_near_misses=True,
    )
    assert rem.entries == [IMS_DN, sa_dn(1)]
    assert [(m.entry, m.action) for m in rem.near_misses] == [(IMS_DISPLAY, "replaced")]
    assert not any("probably mistyped" in s for s in rem.steps)


@pytest.mark.parametrize(
    ("entry", "dn"),
    [
        (dsa_dn(1), MTA1),  # two components of one server
        (MTA1, dsa_dn(2)),  # this server's MTA vs another server's DSA (mailbox move)
        (sa_dn(1), sa_dn(2)),  # the same component of another server
        (IMS_DN.upper(), IMS_DN),  # case only: it counts as listed, nothing to replace
        (ADMIN_DN, IMS_DN),
    ],
)
def test_replace_mode_refuses_what_is_not_a_near_miss(entry: str, dn: str) -> None:
    with pytest.raises(LockOutError, match="must stay in the list"):
        build_remediation(state="set", current=[entry], add=[dn], near_misses={entry: dn}, replace_near_misses=True)
    # without replacing, the same request is harmless: the entry stays, and nobody is told to remove it
    rem = build_remediation(state="set", current=[entry], add=[dn], near_misses={entry: dn})
    assert rem.entries[0] == entry and rem.near_misses == []


def test_merge_keeps_duplicates_and_case_variants_verbatim() -> None:
    rem = build_remediation(state="set", current=[sa_dn(1), sa_dn(1).upper(), sa_dn(1), ""], add=[IMS_DN])
    assert rem.entries == [sa_dn(1), sa_dn(1).upper(), sa_dn(1), IMS_DN]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(objs=object_lists(), split=st.integers(0, 12), noise=st.sampled_from(["", " ", "typo", "display"]))
def test_any_list_keeps_every_entry_on_disk(tmp_path: Path, objs: list, split: int, noise: str) -> None:
    """Generated lists: whatever is added, and whatever near misses the list holds, every current entry
    is in the patch as re-read from disk (default), and the lock-out check never fires."""
    dns = [o.dn() for o in objs]
    current, add = dns[: split % len(dns)] or dns[:1], dns[split % len(dns) :] or dns[-1:]
    target = add[0]
    if noise == " ":
        current = [*current, target + " "]
    elif noise == "typo" and "Connector" in target:
        current = [*current, target.replace("Connector", "Conector")]
    elif noise == "display" and "Internet Mail Connector" in target:
        current = [*current, target.replace("Internet Mail Connector", "Internet Mail Service")]
    near = {m.entry: dn for dn in add for m in find_entry(dn, current)[1] if not m.counts_as_listed}
    working = [Working("w", "test", dn=e) for e in current]
    rem = build_remediation(state="set", current=current, add=add, near_misses=near, working=working, version=5)
    path = tmp_path / "p.reg"
    remedy.write_reg_file(path, rem.reg, 5)
    patched = reread(path)
    assert patched == rem.entries
    assert all(e in patched for e in current)
    assert all(any(a.casefold() == p.casefold() for p in patched) for a in add)


# --------------------------------------------------------------------------- the lock-out check


def test_lockout_listed_component_dropped() -> None:
    problems = lockout_problems([sa_dn(1), dsa_dn(1)], [sa_dn(1), MTA1])
    assert len(problems) == 1 and "Directory Service of EXCH01" in problems[0] and repr(dsa_dn(1)) in problems[0]
    # the same object written exactly is no loss; a mailbox entry is not a component
    assert lockout_problems([dsa_dn(1) + " "], [dsa_dn(1)]) == []
    assert lockout_problems([ADMIN_DN], []) == []
    assert lockout_problems([sa_dn(1), dsa_dn(1)], [], delete_value=True) == []


def test_lockout_working_dn_and_started_service() -> None:
    working = [
        Working("mailbox admin", "1009 in AppEvent.Evt record 5", "EXCH01", dn=ADMIN_DN),
        Working("MSExchangeIMC on EXCH01", "SCM 7036", "EXCH01", key="internet mail connector"),
    ]
    problems = lockout_problems([ADMIN_DN, IMS_DN.lower()], [IMS_DN.lower()], working=working)
    assert problems == [f"mailbox admin logs on today as {ADMIN_DN!r} (1009 in AppEvent.Evt record 5); "
                        "the patched list would refuse it"]  # fmt: skip
    problems = lockout_problems([ADMIN_DN, IMS_DN], [ADMIN_DN], working=working)
    assert any("MSExchangeIMC on EXCH01 is running" in p for p in problems)
    # a working DN that the list does not admit today is not the patch's doing
    assert lockout_problems([sa_dn(1)], [sa_dn(1), IMS_DN], working=working) == []


def test_lockout_creating_the_value_must_list_what_works() -> None:
    """With the value absent everyone is admitted: a patch that creates it must list what works."""
    working = [
        Working("mailbox admin", "1009", "EXCH01", dn=ADMIN_DN),
        Working("MSExchangeSA on EXCH01", "SCM 7036", "EXCH01", key="microsoft system attendant"),
    ]
    with pytest.raises(LockOutError) as info:
        build_remediation(state="absent", current=[], add=[IMS_DN], working=working)
    assert len(info.value.problems) == 2
    rem = build_remediation(state="absent", current=[], add=[IMS_DN, ADMIN_DN, sa_dn(1)], working=working)
    assert rem.entries == [IMS_DN, ADMIN_DN, sa_dn(1)]


def test_working_components_from_events() -> None:
    facts_events = [
        logon_1009(ADMIN_DN),
        logon_1009(ADMIN_DN.upper(), seconds=5),
        e1023(IMS_DN, seconds=10),
        scm(7036, "Microsoft Exchange Internet Mail Service", "running", seconds=20),
        scm(7036, "Microsoft Exchange Directory", "stopped", seconds=30),
    ]
    from analyzer.evidence import CaseFacts

    found = working_components(CaseFacts(collect(facts_events), loa(sa_dn(1))))
    assert [(w.dn, w.key, w.computer) for w in found] == [
        (ADMIN_DN, None, "EXCH01"),
        (None, "internet mail connector", "EXCH01"),
    ]


def test_a_working_dn_is_never_named_a_near_miss() -> None:
    """A listed entry that logs on successfully is not "probably mistyped", whatever its spelling."""
    dx = diagnose_objects([e1023(IMS_DN), logon_1009(IMS_TYPO, seconds=5)], [loa(sa_dn(1), IMS_TYPO)])
    assert dx.dns_to_add == [IMS_DN]
    assert not any(f.replaces for f in dx.finding_list)
    assert "probably mistyped" not in dx.verdict
    assert dx.remediation is not None and dx.remediation.near_misses == []


def test_lockout_stops_a_misclassified_replacement_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bring back the old misclassification (the listed DSA taken for a typo of the refused MTA): with
    --replace-near-misses the patch would drop the DSA; the lock-out check refuses it and says why."""

    def old_find_entry(dn: str, entries: list[str]) -> tuple[str | None, list[NearMiss]]:
        return None, [NearMiss(e, dn, "typo", "typo") for e in entries if e == dsa_dn(1)]

    monkeypatch.setattr(rules_logic, "find_entry", old_find_entry)
    monkeypatch.setattr(remedy, "near_miss", lambda dn, e: NearMiss(e, dn, "typo", "typo"))
    dx = diagnose_objects([e1023(MTA1)], [loa(sa_dn(1), dsa_dn(1), ADMIN_DN)], replace_near_misses=True)
    assert dx.remediation is None
    lock = next(f for f in dx.finding_list if f.rule == "LOCK-OUT")
    assert lock.severity.value == "error" and "Directory Service of EXCH01" in lock.explanation
    assert dx.needs_action and "No .reg patch: it would lock out what works today." in dx.verdict
    # and without the flag the same misclassification can only cost a wrong "probably mistyped" note
    kept = diagnose_objects([e1023(MTA1)], [loa(sa_dn(1), dsa_dn(1), ADMIN_DN)])
    assert kept.remediation is not None and dsa_dn(1) in kept.remediation.entries


# --------------------------------------------------------------------------- files, CLI and reports


def reg_tree(entries: list[str]) -> object:
    from analyzer.model import RegistryKey

    root = RegistryKey("")
    root.ensure_path(PARAMS).set_value(hive_writer.multi_sz("Logon Only As", entries))
    return root


@pytest.fixture
def display_case(tmp_path: Path) -> Path:
    """An NT 4.0 case: IMS refused, the list holds the IMS by its display name (.evt + REGEDIT4)."""
    folder = tmp_path / "case"
    folder.mkdir()
    evt_writer.write_evt(folder / "AppEvent.Evt", [e1023(IMS_DN), imc(4018, seconds=2), logon_1009(ADMIN_DN)])
    regtext.write_reg(folder / "params.reg", reg_tree([sa_dn(1), IMS_DISPLAY, ADMIN_DN]), version=4)
    return folder


def flat(text: str) -> str:
    """Text with every run of whitespace (the wrapping of the text report) as one space."""
    return " ".join(text.split())


def test_cli_default_keeps_and_flag_replaces(
    display_case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept_patch, replaced_patch = tmp_path / "kept.reg", tmp_path / "replaced.reg"
    assert main(["diagnose", str(display_case), "--reg-patch", str(kept_patch)]) == 1
    out = flat(capsys.readouterr().out)  # the text report wraps to the terminal's width
    assert f"{IMS_DISPLAY!r} is probably mistyped — remove it after the fix works" in out
    assert reread(kept_patch) == [sa_dn(1), IMS_DISPLAY, ADMIN_DN, IMS_DN]
    assert reread(tmp_path / "kept-rollback.reg") == [sa_dn(1), IMS_DISPLAY, ADMIN_DN]
    args = ["diagnose", str(display_case), "--reg-patch", str(replaced_patch), "--replace-near-misses"]
    assert main(args) == 1
    out = flat(capsys.readouterr().out)
    assert f"(replacing the entry {IMS_DISPLAY!r})" in out and "probably mistyped —" not in out
    assert reread(replaced_patch) == [sa_dn(1), IMS_DN, ADMIN_DN]
    assert reread(tmp_path / "replaced-rollback.reg") == [sa_dn(1), IMS_DISPLAY, ADMIN_DN]


def test_api_flag_and_written_patch(display_case: Path, tmp_path: Path) -> None:
    dx = diagnose([str(display_case)], replace_near_misses=True)
    (tmp_path / "r").mkdir()
    assert check_written_patch(dx, tmp_path / "r", replace_near_misses=True) == [sa_dn(1), IMS_DN, ADMIN_DN]
    with pytest.raises(
        AssertionError, match="without --replace-near-misses"
    ):  # the checker knows a replacement needs the flag
        check_written_patch(dx, tmp_path / "r")


def test_reports_follow_the_patched_list(display_case: Path) -> None:
    """Text, Markdown and HTML show the verdict, the near miss with its exact text, and the resulting list
    that the .reg patch and remediation.entries hold."""
    d = diagnose([str(display_case)]).to_dict()
    entries = d["remediation"]["entries"]
    assert entries == [sa_dn(1), IMS_DISPLAY, ADMIN_DN, IMS_DN]
    listing = "Resulting list: " + "; ".join(entries)
    text, markdown, html = flat(render_text(d)), render_markdown(d), render_html(d)  # text wraps: compare flat
    assert listing in text and listing in html and listing in markdown
    for out in (text, markdown, html):
        assert "probably mistyped entry (remove it after the fix works)" in out
        assert "remove the probably mistyped entry the patch kept" in out
    assert f'"{IMS_DISPLAY}"' in text
    assert f"&quot;{IMS_DISPLAY}&quot;" in html


# --------------------------------------------------------------------------- several servers


def test_every_servers_patch_keeps_its_own_list(tmp_path: Path) -> None:
    """Two servers, each patched against its own list: EXCH01 refuses its MTA while its DSA is listed and
    EXCH02's SA (a mailbox move); EXCH02 refuses its IMS, listed with a trailing blank.  Every per-server
    patch is written and re-read; with --replace-near-misses only EXCH02's blank-padded entry goes."""
    case = tmp_path / "case"
    ims2 = ims_dn("EXCH02")
    lists = {"EXCH01": [sa_dn(1), dsa_dn(1), ADMIN_DN], "EXCH02": [sa_dn(2), ims2 + " ", ADMIN_DN]}
    events = {
        "EXCH01": [e1023(MTA1, computer="EXCH01"), e1023(sa_dn(2), computer="EXCH01", seconds=5)],
        "EXCH02": [e1023(ims2, computer="EXCH02"), imc(4018, computer="EXCH02", seconds=2)],
    }
    for server in lists:
        write_log(case / f"{server}_AppEvent", events[server])
        write_list(case / f"{server}_ParametersSystem", lists[server])
    for flag in (False, True):
        dx = diagnose([str(case)], replace_near_misses=flag)
        assert sorted(s.server for s in dx.servers) == ["EXCH01", "EXCH02"]
        for s in dx.servers:
            folder = tmp_path / f"{s.server}-{flag}"
            folder.mkdir()
            patched = check_written_patch(s.diagnosis, folder, replace_near_misses=flag)
            assert patched is not None
            if s.server == "EXCH01":
                assert patched == [*lists["EXCH01"], MTA1, sa_dn(2)]
            else:
                assert patched == ([sa_dn(2), ims2, ADMIN_DN] if flag else [*lists["EXCH02"], ims2])
