"""Output safety through the full pipeline: hostile evidence -> writers -> readers -> diagnose -> render.

Every string in a customer's logs and exports is untrusted.  The HTML and Markdown reports must not turn
one into markup (tags, attributes, links, table cells, code-fence breakouts), must make control and
bidi-override characters visible instead of passing them on, and must stay small when a string is
10 MB.  CSV outputs must not start a cell with a spreadsheet formula character, and output file names
derived from case names must stay inside the output folder.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.cli import main as cli_main
from analyzer.diagnosis import diagnose
from analyzer.report.diagnosis import render_html, render_markdown, render_text
from analyzer.report.diagnosis.html import COPY_SCRIPT
from fuzz.seeds import IMC_DN, hostile_event, loa_tree
from tests.writers.evt_writer import write_evt
from tests.writers.regtext_writers import build_tree, write_reg

MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&</pre></td>"
MD = "|x|[link](javascript:alert(3))**b**`tick````fence\n# heading"
CONTROLS = "\x1b[31mred\x07bel\x08\x7fdel\x1f\r\n"  # no NUL: it ends a string in every binary format
BIDI = "\u202eevil\u202c\u2066iso\u2069\u200f"
HOSTILE = MARKUP + MD + CONTROLS + BIDI
# Characters that must never reach a human-readable report raw (terminal escapes, NUL, bidi marks).
RAW_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\u200e\u200f]")
CONNECTOR = "/o=Org/ou=Site/cn=Configuration/cn=Connections/cn="
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html_text: str) -> _Tags:
    p = _Tags()
    p.feed(html_text)
    p.close()
    return p


def _case(folder: Path, dn_text: str, account: str, listed: bool) -> Path:
    """A case whose 1023 event and Logon Only As list carry ``dn_text`` / ``account``."""
    folder.mkdir(parents=True)
    dn = CONNECTOR + dn_text
    ev = replace(hostile_event(dn), strings=(account, dn, dn), computer="EX" + dn_text[:40])
    write_evt(folder / "AppEvent.Evt", [ev])
    entries = [dn, "/o=Org" + dn_text] if listed else ["/o=Org/ou=Site/cn=Configuration/cn=Servers/cn=EXCH01"]
    write_reg(folder / "loa.reg", loa_tree(entries), version=5)
    return folder


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Diagnosis dicts of a hostile and a benign case of the same shape, listed and not listed."""
    root = tmp_path_factory.mktemp("hostile")
    out: dict[str, dict[str, Any]] = {}
    for listed in (True, False):
        tag = "listed" if listed else "missing"
        out[f"hostile-{tag}"] = diagnose(
            str(_case(root / f"case {MARKUP[:20]} {tag}", HOSTILE, "ORG\\" + HOSTILE, listed))
        ).to_dict()
        out[f"benign-{tag}"] = diagnose(
            str(_case(root / f"case {tag}", "Internet Mail Connector (EXCH01)", "ORG\\exchsvc", listed))
        ).to_dict()
    return out


def test_hostile_strings_reach_the_reports(reports: dict[str, dict[str, Any]]) -> None:
    """Guard against a vacuous pass: the hostile text is in the findings, the list and the fix."""
    listed, missing = reports["hostile-listed"], reports["hostile-missing"]
    assert any(HOSTILE in e for e in listed["logon_only_as"]["entries"])
    # The hostile "DN" holds "/" and control characters: not a DN, so it is shown raw and never proposed.
    for report in (listed, missing):
        assert any(HOSTILE in f["explanation"] for f in report["findings"])
        assert any(HOSTILE in u["text"] for u in report["unconfirmed"])
    assert missing["dns_to_add"] == [] and missing["remediation"] is None
    benign = reports["benign-missing"]
    assert benign["dns_to_add"] and benign["remediation"] is not None


@pytest.mark.parametrize("tag", ["listed", "missing"])
def test_html_report_holds_no_markup_from_evidence(reports: dict[str, dict[str, Any]], tag: str) -> None:
    hostile = render_html(reports[f"hostile-{tag}"])
    benign = render_html(reports[f"benign-{tag}"])
    parsed, expected = _parse(hostile), _parse(benign)
    assert {t for t, _ in parsed.tags} <= {t for t, _ in expected.tags}, "a tag came from the evidence"
    assert [t for t, _ in parsed.tags].count("script") == 1 and "img" not in {t for t, _ in parsed.tags}
    assert hostile.count("<script") == 1 and f"<script>{COPY_SCRIPT}</script>" in hostile  # the page's own, only
    for _tag, attrs in parsed.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (name, value)
            assert "javascript:" not in (value or "").lower()
    assert not RAW_FORBIDDEN.search(hostile), "raw control or bidi character in the HTML"
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text  # shown as text, exactly
    assert "\\u202e" in text and "\\x1b" in text  # made visible


def _fences(lines: list[str]) -> list[bool]:
    """For each line: inside a fenced code block (CommonMark backtick fences)?"""
    inside: list[bool] = []
    fence = ""
    for line in lines:
        m = re.match(r"^ {0,3}(`{3,})", line)
        if fence:
            inside.append(True)
            if m and line.strip() == m.group(1) and len(m.group(1)) >= len(fence):
                fence = ""
        elif m:
            fence = m.group(1)
            inside.append(True)
        else:
            inside.append(False)
    assert not fence, "a code fence is left open"
    return inside


@pytest.mark.parametrize("tag", ["listed", "missing"])
def test_markdown_report_escapes_every_evidence_string(reports: dict[str, dict[str, Any]], tag: str) -> None:
    md = render_markdown(reports[f"hostile-{tag}"])
    assert not RAW_FORBIDDEN.search(md), "raw control or bidi character in the Markdown"
    lines = md.split("\n")
    header_pipes = 0
    for line, in_code in zip(lines, _fences(lines), strict=True):
        if in_code:
            continue
        assert not re.search(r"(?<!\\)<", line), f"unescaped < outside code: {line[:120]!r}"
        assert "](javascript:" not in line.replace("\\]", "").replace("\\(", ""), line[:120]
        if line.startswith("|"):
            pipes = len(re.findall(r"(?<!\\)\|", line))
            if line.startswith("|---") or line.startswith("|--"):
                continue
            if header_pipes == 0 or not lines[lines.index(line) - 1].startswith("|"):
                header_pipes = pipes
            assert pipes == header_pipes, f"a table cell broke out: {line[:120]!r}"
        else:
            header_pipes = 0


def test_text_report_has_no_terminal_escapes(reports: dict[str, dict[str, Any]]) -> None:
    for key in ("hostile-listed", "hostile-missing"):
        assert not RAW_FORBIDDEN.search(render_text(reports[key]))


def test_ten_megabyte_evidence_string_is_cut_in_every_report(tmp_path: Path) -> None:
    """A 10 MB (UTF-16) account name in a real .evt record, listed DN: reports stay small and say so."""
    account = "ORG\\" + "<b>\u202e" * 1_250_000  # 5,000,004 characters = 10 MB in the record
    folder = tmp_path / "big"
    folder.mkdir()
    write_evt(folder / "AppEvent.Evt", [replace(hostile_event(IMC_DN), strings=(account, IMC_DN, IMC_DN))])
    write_reg(folder / "loa.reg", loa_tree([IMC_DN]), version=4)
    d = diagnose(str(folder)).to_dict()
    assert any(len(f.get("account") or "") == len(account) for f in d["findings"])  # JSON keeps it whole
    for render in (render_html, render_markdown, render_text):
        out = render(d)
        assert len(out) < 200_000, (render.__name__, len(out))
        assert "truncated" in out
        assert not RAW_FORBIDDEN.search(out)
    assert "<b>" not in render_html(d).replace("<b>Needs action", "")  # the account's <b> is escaped


# --------------------------------------------------------------------------- CSV


def _cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _assert_formula_safe(rows: list[list[str]]) -> None:
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_START), f"formula cell {cell[:60]!r} in {row[:4]}"


FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=cmd|' /C calc'!A0"]


def test_events_csv_neutralises_formulas(tmp_path: Path) -> None:
    events = [
        replace(hostile_event(IMC_DN, record=i + 1), source=f, computer=f, strings=(f, f))
        for i, f in enumerate(FORMULAS)
    ]
    write_evt(tmp_path / "a.evt", events)
    out = tmp_path / "events.csv"
    assert cli_main(["events", str(tmp_path / "a.evt"), "--format", "csv", "-o", str(out)]) == 0
    rows = _cells(out)
    assert len(rows) == len(FORMULAS) + 1
    _assert_formula_safe(rows)
    assert any(cell == "'=cmd|' /C calc'!A0" for cell in rows[-1])  # kept, only neutralised


def test_registry_csv_neutralises_formulas(tmp_path: Path) -> None:
    key = r"HKEY_LOCAL_MACHINE\SOFTWARE\=evil"
    tree = build_tree({key: {f: ("REG_SZ", f) for f in FORMULAS} | {"multi": ("REG_MULTI_SZ", ["=1", "@2"])}})
    write_reg(tmp_path / "x.reg", tree, version=5)
    out = tmp_path / "reg.csv"
    assert cli_main(["registry", str(tmp_path / "x.reg"), "--recursive", "--format", "csv", "-o", str(out)]) == 0
    rows = _cells(out)
    assert len(rows) > len(FORMULAS)
    _assert_formula_safe(rows)


def test_triage_summary_csv_neutralises_formula_case_names(tmp_path: Path) -> None:
    from analyzer.triage import triage

    root = tmp_path / "cases"
    for i, name in enumerate(["=HYPERLINK(1)", "+cmd", "-2+3", "@SUM(A1)"]):
        _case(root / name, f"Internet Mail Connector (EXCH0{i})", "ORG\\exchsvc", listed=False)
    out = tmp_path / "out"
    triage(str(root), out=str(out), jobs=1)
    rows = _cells(out / "summary.csv")
    assert len(rows) == 5
    _assert_formula_safe(rows)


# --------------------------------------------------------------------------- output file names


NASTY_NAMES = [
    "a\\..\\..\\b",
    "x\\..\\..",
    "CON",
    "aux.txt",
    "nul",
    "x" * 250,
    '<>:"|?*',
    " ",
    "é\u202e",
    "Case",
    "case",
]


def test_triage_output_names_from_case_names_stay_in_the_output_folder(tmp_path: Path) -> None:
    from analyzer.triage import triage

    root = tmp_path / "cases"
    for i, name in enumerate(NASTY_NAMES):
        _case(root / name, f"Internet Mail Connector (EXCH{i:02d})", "ORG\\exchsvc", listed=False)
    out = tmp_path / "out"
    frame = triage(str(root), out=str(out), jobs=1)
    produced = sorted(p for p in out.rglob("*") if p.is_file())
    real_out = os.path.realpath(out)
    for p in produced:
        assert os.path.realpath(p).startswith(real_out + os.sep)
    case_files = [p for p in produced if p.parent == out / "cases"]
    assert len(case_files) == len(frame) == len(NASTY_NAMES)  # "Case"/"case" do not overwrite each other
    assert sorted(os.listdir(tmp_path)) == ["cases", "out"]


@pytest.mark.parametrize("name", ["..", ".", "../../etc/passwd", "/abs", "C:\\x", "", "\x00", "LPT1", "a/../../b"])
def test_safe_file_name_of_path_like_case_names(name: str) -> None:
    from analyzer.triage import safe_file_name

    result = safe_file_name(name, set())
    assert result.endswith(".json") and "/" not in result and "\\" not in result and not result.startswith(".")
    assert result.split(".")[0].casefold() not in ("lpt1", "con", "nul")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=300), min_size=1, max_size=6))
def test_safe_file_name_never_leaves_the_folder_or_collides(names: list[str]) -> None:
    from analyzer.triage import safe_file_name

    used: set[str] = set()
    results = [safe_file_name(n, used) for n in names]
    base = os.path.realpath("/out/cases")
    for r in results:
        assert "/" not in r and "\\" not in r and "\x00" not in r and not r.startswith(".")
        assert os.path.realpath(os.path.join(base, r)).startswith(base + os.sep)
        assert len(r.encode("utf-8")) <= 255
    assert len({r.casefold() for r in results}) == len(results)


def test_markdown_fence_survives_a_reg_value_full_of_backticks() -> None:
    """Unit check of the code-fence rule on a diagnosis dict (the pipeline cases above cover the rest)."""
    d = {"schema": "analyzer.diagnosis/1", "case": "c", "verdict": "v", "needs_action": True, "inputs": [],
         "logon_only_as": {"state": "set", "entries": [], "source": None, "key": None, "last_write": None,
                           "control_set": None, "notes": []},
         "findings": [], "dns_to_add": [],
         "remediation": {"reg": "````\n<script>x</script>\n`````", "rollback": "r", "version": 4, "entries": [],
                         "steps": []}, "warnings": []}  # fmt: skip
    md = render_markdown(d)
    lines = md.split("\n")
    inside = _fences(lines)
    assert all(flag for line, flag in zip(lines, inside, strict=True) if "<script>" in line)
    io.StringIO(md)
