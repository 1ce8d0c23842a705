"""A Logon Only As line the import rejects is not "absent": the state is unknown, with the reason.

Reading a .reg as regedit imports it drops a value line regedit rejects (e.g. an admin's ``#`` note
inside a wrapped hex(7) list).  The key is still in the file, so the value would read as absent --
"no restriction" -- which nothing shows; the evidence must say the state cannot be told instead."""

from __future__ import annotations

from pathlib import Path

from analyzer.evidence import read_logon_only_as
from analyzer.registry import read_registry

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "nt4-kb306308" / "ParametersSystem.reg"


def test_rejected_logon_only_as_line_makes_the_state_unknown(tmp_path: Path) -> None:
    original = SAMPLE.read_bytes()
    broken = original.replace(b",\\\r\n  ", b",\\\r\n# added by the admin\r\n  ", 1)
    assert broken != original
    path = tmp_path / "ParametersSystem.reg"
    path.write_bytes(broken)
    reading = read_logon_only_as(read_registry(str(path)))
    assert reading.state == "unknown" and reading.entries == []
    assert any("line 5: value 'Logon Only As'" in note and "cannot be told" in note for note in reading.notes)


def test_the_sample_itself_reads_as_set(tmp_path: Path) -> None:
    reading = read_logon_only_as(read_registry(str(SAMPLE)))
    assert reading.state == "set" and reading.entries
    assert not any("cannot be told" in note for note in reading.notes)


def test_a_deleted_value_stays_absent(tmp_path: Path) -> None:
    path = tmp_path / "ParametersSystem.reg"
    path.write_bytes(
        b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem]\r\n"
        b'"Logon Only As"=-\r\n"Other"="x"\r\n'
    )
    assert read_logon_only_as(read_registry(str(path))).state == "absent"
