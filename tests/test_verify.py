"""``analyzer verify BEFORE AFTER``: scenario tests on files the project's writers make.

BEFORE is the bundled NT 4.0 case (the IMS refused twice on 12 June 2002, its DN missing from the list);
each AFTER is what fresh exports would show in one outcome of the fix.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from analyzer.cli import main
from analyzer.model import Event, EventType, RegistryKey
from analyzer.rules.factories import IMS_DN, ORG, e1023, event, sa_dn, scm
from analyzer.verify import SCHEMA, STATUSES, verify
from tests.conftest import REPO
from tests.writers.evt_writer import write_evt
from tests.writers.hive_writer import multi_sz, offline_system, write_hive
from tests.writers.regtext_writers import write_reg

BEFORE = REPO / "samples" / "nt4-kb306308"
ADMIN_DN = f"{ORG}/cn=Recipients/cn=admin"
MTA_DN = f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft MTA"
PARAMS = ["SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS", "ParametersSystem"]
DAY2 = datetime(2002, 6, 13, 8, 0, tzinfo=UTC)
SCHEMA_FILE = REPO / "analyzer" / "schema" / "verify.schema.json"


def at(seconds: float) -> dict[str, float]:
    """Keyword for the factories: seconds after their T0 (3 June 2002) that land on 13 June, 08:00 + seconds."""
    return {"seconds": (DAY2 - datetime(2002, 6, 3, 9, 15, tzinfo=UTC)).total_seconds() + seconds}


def logon_1009(dn: str, seconds: float) -> Event:
    return event(1009, "MSExchangeIS Private", ("CONTOSO\\exsvc", dn), type=EventType.SUCCESS_AUDIT, category=1,
                 **at(seconds))  # fmt: skip


def is_running(seconds: float) -> Event:
    return scm(7036, "Microsoft Exchange Information Store", "running", path="AppEvent.Evt", **at(seconds))


def after_case(folder: Path, events: list[Event], entries: list[str], *, hive: bool = False) -> Path:
    """An AFTER folder: AppEvent.Evt with ``events`` and the ParametersSystem export listing ``entries``."""
    folder.mkdir(parents=True)
    write_evt(folder / "AppEvent.Evt", sorted(events, key=lambda e: e.time_generated or DAY2))
    if hive:  # a SYSTEM hive records the key's last-write time: the change is placed exactly
        system = offline_system({1: {r"Services\MSExchangeIS\ParametersSystem": [multi_sz("Logon Only As", entries)]}})
        system.ensure_path(["ControlSet001", "Services", "MSExchangeIS", "ParametersSystem"]).last_write = DAY2
        write_hive(folder / "SYSTEM", system)
    else:  # a .reg export has no time: the change lies between the two exports
        root = RegistryKey("")
        root.ensure_path(["HKEY_LOCAL_MACHINE", *PARAMS]).set_value(multi_sz("Logon Only As", entries))
        write_reg(folder / "ParametersSystem.reg", root, version=4)
    return folder


FIXED_LIST = [sa_dn(1), ADMIN_DN, IMS_DN]
OLD_LIST = [sa_dn(1), ADMIN_DN]


def test_nt4_fixed_by_the_components_own_logon(tmp_path: Path) -> None:
    after = after_case(tmp_path / "after", [logon_1009(IMS_DN, 60)], FIXED_LIST)
    result = verify(str(BEFORE), str(after))
    assert result["status"] == "fixed" and result["schema"] == SCHEMA
    assert result["added"] == [IMS_DN] and result["removed"] == []
    assert result["restart_evidence"] == "the component's own successful logon after the change"


def test_fixed_by_a_store_restart_with_the_dn_listed(tmp_path: Path) -> None:
    after = after_case(tmp_path / "after", [is_running(120)], FIXED_LIST, hive=True)
    result = verify(str(BEFORE), str(after))
    assert result["status"] == "fixed"
    assert result["restart_evidence"].startswith("SCM 7036") and result["store_restart"] == "2002-06-13T08:02:00Z"


def test_list_changed_but_no_restart_is_not_yet_effective(tmp_path: Path) -> None:
    after = after_case(tmp_path / "after", [event(4000, "MSExchangeIMC", (), type=EventType.INFORMATION, **at(5))],
                       FIXED_LIST)  # fmt: skip
    result = verify(str(BEFORE), str(after))
    assert result["status"] == "not_effective" and "restart the Information Store" in result["verdict"]


def test_refused_again_after_the_restart_is_not_fixed(tmp_path: Path) -> None:
    after = after_case(tmp_path / "after", [is_running(120), e1023(IMS_DN, **at(180))], FIXED_LIST, hive=True)
    result = verify(str(BEFORE), str(after))
    assert result["status"] == "not_fixed" and result["refused_again"] == [IMS_DN]


def test_another_component_refused_now_is_a_new_problem(tmp_path: Path) -> None:
    after = after_case(tmp_path / "after", [is_running(120), e1023(MTA_DN, **at(200))], FIXED_LIST, hive=True)
    result = verify(str(BEFORE), str(after))
    assert result["status"] == "new_problem" and result["newly_refused"] == [MTA_DN]


def test_mailbox_refusals_never_count(tmp_path: Path) -> None:
    user = f"{ORG}/cn=Recipients/cn=jdoe"
    after = after_case(tmp_path / "after", [is_running(120), e1023(user, **at(200))], FIXED_LIST, hive=True)
    assert verify(str(BEFORE), str(after))["status"] == "fixed"


def test_no_logs_after_is_inconclusive(tmp_path: Path) -> None:
    after = tmp_path / "after"
    after_case(after, [], FIXED_LIST)
    (after / "AppEvent.Evt").unlink()
    assert verify(str(BEFORE), str(after))["status"] == "inconclusive"


def test_cli_exit_codes_formats_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixed = after_case(tmp_path / "fixed", [logon_1009(IMS_DN, 60)], FIXED_LIST)
    assert main(["verify", str(BEFORE), str(fixed)]) == 0
    assert capsys.readouterr().out.startswith("Fixed:")
    target = tmp_path / "v.json"
    assert main(["verify", str(BEFORE), str(fixed), "-o", str(target)]) == 0
    doc = json.loads(target.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))).validate(doc)
    assert doc["status"] in STATUSES
    capsys.readouterr()
    pending = after_case(tmp_path / "pending", [], FIXED_LIST)
    assert main(["verify", str(BEFORE), str(pending), "--format", "markdown"]) == 1
    assert capsys.readouterr().out.startswith("# Verify: not_effective")


def test_exit_2_for_another_server_an_older_after_and_no_usable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = after_case(tmp_path / "other", [logon_1009(IMS_DN, 60)], FIXED_LIST)
    write_evt(other / "AppEvent.Evt", [e1023(IMS_DN, computer="EXCH02", **at(60))])
    assert main(["verify", str(BEFORE), str(other)]) == 2
    assert "another server" in capsys.readouterr().err
    older = tmp_path / "older"
    older.mkdir()
    write_evt(older / "AppEvent.Evt", [e1023(IMS_DN, seconds=0)])  # 3 June: before BEFORE's 12 June
    assert main(["verify", str(BEFORE), str(older)]) == 2
    assert "AFTER is older than BEFORE" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.bin").write_bytes(b"\x00\x01")
    assert main(["verify", str(BEFORE), str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no usable input" in err


def test_before_and_after_as_zips(tmp_path: Path) -> None:
    after = after_case(tmp_path / "after", [logon_1009(IMS_DN, 60)], FIXED_LIST)
    zipped = shutil.make_archive(str(tmp_path / "after"), "zip", after)
    assert verify(str(BEFORE), zipped)["status"] == "fixed"
