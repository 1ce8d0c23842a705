"""Terminal layout: width from the terminal or 80, wrapped paragraphs and cells, DNs whole, colour only on a TTY."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.report.terminal import Layout, layout_for, table, wrap
from tests.conftest import REPO

DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
SAMPLE = REPO / "samples" / "nt4-kb306308"


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_width_is_80_when_not_a_terminal_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "132")
    assert layout_for(io.StringIO()) == Layout(80, False)
    assert layout_for(io.StringIO(), width=100).width == 100
    assert layout_for(FakeTTY()).width == 132  # a terminal: its width (COLUMNS wins, as in shutil)


def test_colour_only_on_a_terminal_and_not_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert layout_for(FakeTTY()).color and not layout_for(io.StringIO()).color
    assert layout_for(io.StringIO(), color="always").color and not layout_for(FakeTTY(), color="never").color
    monkeypatch.setenv("NO_COLOR", "1")
    assert not layout_for(FakeTTY()).color and layout_for(FakeTTY(), color="always").color


def test_wrap_keeps_the_dn_on_one_line() -> None:
    text = f"Add this DN to Logon Only As on EXCH01: {DN}; then restart the Information Store."
    lines = wrap(text, 60, keep=[DN])
    assert all(len(line) <= 60 or DN in line for line in lines)
    assert any(DN in line for line in lines) and " ".join(lines) == text


def test_table_fits_the_width_and_moves_a_long_dn_under_its_row() -> None:
    rows = [["error", "KB306308", "Internet Mail Service on EXCH01", DN, "2"]]
    lines = list(table(["severity", "rule", "component", "DN", "count"], rows, 60, whole=["DN"]))
    assert all(len(line) <= 60 for line in lines if "DN:" not in line)
    assert f"  DN: {DN}" in lines
    wide = list(table(["severity", "rule", "component", "DN", "count"], rows, 200, whole=["DN"]))
    assert len(wide) == 3 and DN in wide[2]  # fits: one row, DN in its column


def test_cells_wrap_at_blanks_and_paths_after_a_separator() -> None:
    lines = list(table(["path", "n"], [["samples/nt4-kb306308/AppEvent.Evt", "1"]], 40))
    assert all(len(line) <= 40 for line in lines)
    assert list(table(["path", "n"], [["samples/nt4-kb306308/AppEvent.Evt", "1"]], 24))[2].startswith("samples/")


@pytest.mark.parametrize("width", [80, 120])
def test_diagnose_text_fits_the_width_except_whole_tokens(width: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(SAMPLE), "--width", str(width)]) == 1
    out = capsys.readouterr().out
    assert "\x1b[" not in out  # not a terminal: no colour
    for line in out.splitlines():
        if len(line) > width:  # only a DN or a single token longer than the line may overflow
            assert DN in line or len(line.split()) <= 2 or "/o=" in line, line
    assert any(line.strip() == DN for line in out.splitlines())  # the DN to add, whole on its own line


def test_color_always_paints_the_verdict_and_severity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(SAMPLE), "--color", "always"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("\x1b[1;31mAdd this DN") and "\x1b[1;31merror\x1b[0m" in out


def test_progress_only_on_a_terminal_for_large_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from analyzer.commands import progress

    log = str(SAMPLE / "AppEvent.Evt")
    monkeypatch.setattr(progress, "MIN_BYTES", 0)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: quiet
    assert main(["events", log, "--format", "jsonl", "-o", str(tmp_path / "out.jsonl")]) == 0
    assert sys.stderr.getvalue() == ""
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["events", log, "--format", "jsonl", "-o", str(tmp_path / "out.jsonl")]) == 0
    assert "AppEvent.Evt" in tty.getvalue() and "B/s" in tty.getvalue()  # the tqdm bar, on stderr
    monkeypatch.setattr(progress, "MIN_BYTES", 1 << 40)
    quiet = FakeTTY()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["events", log, "--format", "jsonl", "-o", str(tmp_path / "out.jsonl")]) == 0
    assert quiet.getvalue() == ""  # a small file: no bar


def test_a_table_streams_later_rows_in_the_columns_of_the_first_block() -> None:
    def rows():  # a generator: the table must not need every row before the first line
        yield ["a", "1"]
        yield ["b", "2"]
        yield ["a much longer cell than the first block had", "3"]

    lines = list(table(["name", "n"], rows(), 80, block=2))
    assert lines[0].split() == ["name", "n"] and len(lines[1].split()[0]) == 4
    assert all(len(line) <= len(lines[1]) for line in lines[2:])  # wrapped into the first block's columns
    assert "".join(line[:4].strip() for line in lines[4:]) == "amuchlongercellthanthefirstblockhad"


def test_a_list_cell_shows_one_entry_per_line_in_the_grid_and_below_it() -> None:
    from analyzer.report.terminal import table

    dn = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"
    rows = [["Logon Only As", "REG_MULTI_SZ", f"{dn}\n/o=Contoso/cn=admin"]]
    wide = list(table(["name", "type", "data"], rows, 120, whole=("data",)))
    assert wide[2].endswith(dn) and wide[3].strip() == "/o=Contoso/cn=admin"
    assert wide[3].index("/o=") == wide[2].index("/o=")  # the second entry under the first
    narrow = list(table(["name", "type", "data"], rows, 80, whole=("data",)))
    assert narrow[2].split() == ["Logon", "Only", "As", "REG_MULTI_SZ"]
    assert narrow[3] == f"  data: {dn}" and narrow[4] == "        /o=Contoso/cn=admin"


def test_a_header_wider_than_its_column_wraps_too() -> None:
    from analyzer.report.terminal import table

    rows = [["rsevtx__2-vss_7-System.evtx", "file header says 4 chunks but 7 more follow (stale header)"]]
    lines = list(table(["path", "warnings / error"], rows, 40))
    assert max(len(line) for line in lines) <= 40
    assert lines[0].endswith("warnings /") and lines[1].strip() == "error"


@pytest.mark.parametrize("argv", [["rules"], ["languages"], ["rules", "--show", "KB306308"]])
def test_rules_and_languages_fit_the_width(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for width in (80, 120):
        assert main([*argv, "--width", str(width)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines and max(len(line) for line in lines if "/o=" not in line and "\\" not in line) <= width


def test_triage_summary_fits_the_width_and_keeps_dns_whole() -> None:
    from analyzer.triage.output import _frame, render_summary

    dn = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
    row = {"case": "customer-4711-exch01-2002-06-12", "status": "findings", "rules": "KB306308; KB146764",
           "dns_to_add": dn, "logon_only_as": "set", "inputs": 3, "warnings": 1, "seconds": 0.4,
           "error": "one of the logs was cut short while copying: read up to offset 0x1f000", "json": "cases/x.json"}  # fmt: skip
    text = render_summary(_frame([row]), 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines if dn not in line) <= 80
    assert sum(dn in line for line in lines) == 1  # whole, on one line


def test_a_prose_column_breaks_its_longest_word_rather_than_overflow() -> None:
    from analyzer.report.terminal import table

    headers = ["path", "format", "records", "size", "sha256", "warnings / error"]
    row = ["debloat__lower-ram-usage.reg", "reg", "86", "7618", "c88d30785688",
           "line 9: value 'NetworkThrottlingIndex': dword data must be 1 to 8 hex digits"]  # fmt: skip
    strict = list(table(headers, [row], 80))
    assert max(map(len, strict)) > 80  # every column at the floor of its longest word
    lines = list(table(headers, [row], 80, breakable=("warnings / error",)))
    assert max(map(len, lines)) <= 80
    assert any(line.startswith("debloat__lower-ram-usage") for line in lines)  # the path keeps its word


def test_a_label_value_note_wraps_but_a_dn_stays_whole() -> None:
    from analyzer.report.terminal import table

    dn = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
    note = (
        "x.reg: the export does not contain HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem"
    )
    lines = list(table(["field", "value"], [["entry", dn], ["note", note]], 80, whole=("value",)))
    assert f"entry: {dn}" in lines
    at = lines.index("note: x.reg: the export does not contain")
    assert lines[at + 1].strip() == "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem"


def test_verify_text_fits_the_width_with_dns_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tests.test_verify as tv

    after = tv.after_case(tmp_path / "after", [tv.logon_1009(tv.IMS_DN, 60)], tv.FIXED_LIST)
    assert main(["verify", str(SAMPLE), str(after), "--width", "80"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines if tv.IMS_DN not in line) <= 80
    assert sum(line.strip() == tv.IMS_DN for line in lines) >= 2  # added, refused before, evidence: whole lines


def test_a_path_cell_breaks_after_a_separator_so_the_table_fits() -> None:
    from analyzer.report.terminal import table

    headers = ["time", "log / path", "record", "event", "account"]
    row = ["2002-06-12T09:14:03Z", "MPSReports_EXCH01.cab/EXCH01_Application.evt (also in x.txt)", "1",
           "1023 MSExchangeIS Private", "CONTOSO\\exsvc"]  # fmt: skip
    lines = list(table(headers, [row], 80))
    assert max(map(len, lines)) <= 80
    assert any(line.rstrip().endswith("MPSReports_EXCH01.cab/") or "MPSReports_EXCH01.cab/ " in line for line in lines)
    assert "2002-06-12T09:14:03Z" in lines[2]  # the time is never broken
