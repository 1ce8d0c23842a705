"""Diagnosis renderers and the committed JSON Schema, on hand-built contract dicts (including hostile
strings: markup, Markdown table syntax, terminal escapes, bidi overrides, huge values)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import jsonschema
import pytest

from analyzer.model import EvidenceRef, Finding, Severity
from analyzer.remedy import build_remediation
from analyzer.report.diagnosis import (
    MAX_CHARS,
    SCHEMA_FILE,
    all_warnings,
    load_schema,
    render,
    render_html,
    render_json,
    render_markdown,
    render_text,
    visible,
)
from analyzer.report.diagnosis.html import COPY_SCRIPT
from analyzer.report.diagnosis.links import DEFAULT_KB_URL
from analyzer.report.terminal import Layout

WIDE = Layout(width=1000)  # these tests read content row by row; the fitting to a width is tested in test_terminal

ORG = "/o=Contoso/ou=Berlin"
IMS = f"{ORG}/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
SA1 = f"{ORG}/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"
ADMIN = f"{ORG}/cn=Recipients/cn=admin"
VERDICT = f"Add this DN to Logon Only As on EXCH01: {IMS}, then restart the Information Store and the IMS (KB 306308)."
T0 = datetime(2002, 6, 12, 9, 14, 3, tzinfo=UTC)
T1 = datetime(2002, 6, 12, 9, 14, 5, tzinfo=UTC)
SHA = "ab" * 32


def scenario1() -> dict[str, Any]:
    """The classic KB 306308 case as the diagnosis engine would hand it over."""
    ev = [
        EvidenceRef("AppEvent.Evt", 41, 1023, "MSExchangeIS Private", T0, text=f"CONTOSO\\exsvc validated as {IMS}"),
        EvidenceRef("AppEvent.Evt", 42, 4018, "MSExchangeIMC", T1),
        EvidenceRef(
            "ParametersSystem.reg",
            key=r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem",
            value="Logon Only As",
        ),
    ]
    finding = Finding(
        rule="KB306308",
        severity=Severity.ERROR,
        title="Internet Mail Service refused by Logon Only As",
        explanation="The IMS logs on as its connector DN, which the list does not hold.",
        component="Internet Mail Service (EXCH01)",
        dn=IMS,
        account="CONTOSO\\exsvc",
        count=1,
        first_seen=T0,
        last_seen=T0,
        evidence=tuple(ev),
        references=("KB306308", "KB146764"),
    )
    info = Finding(
        rule="KB262225",
        severity=Severity.INFO,
        title="ExMerge cannot run while Logon Only As is set",
        explanation="Remove the value when the restriction is no longer needed.",
        references=("KB262225",),
    )
    rem = build_remediation(state="set", current=[SA1, ADMIN], add=[IMS], restart_imc=True)
    return {
        "schema": "analyzer.diagnosis/1",
        "case": "nt4-kb306308",
        "verdict": VERDICT,
        "needs_action": True,
        "inputs": [
            {
                "path": "AppEvent.Evt",
                "format": "evt",
                "sha256": SHA,
                "size": 65536,
                "records": 3,
                "warnings": [],
                "error": None,
            },
            {
                "path": "ParametersSystem.reg",
                "format": "reg",
                "sha256": SHA,
                "size": 900,
                "records": 1,
                "warnings": [],
                "error": None,
            },
            {
                "path": "broken/SysEvent.Evt",
                "format": None,
                "sha256": SHA,
                "size": 12,
                "records": 0,
                "warnings": [],
                "error": "not an event log (no LfLe signature)",
            },
        ],
        "logon_only_as": {
            "state": "set",
            "entries": [SA1, ADMIN],
            "source": "ParametersSystem.reg",
            "key": r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem",
            "last_write": None,
            "control_set": None,
            "notes": [],
        },
        "findings": [finding.to_dict(), info.to_dict()],
        "dns_to_add": [IMS],
        "remediation": rem.to_dict(),
        "warnings": [],
    }


def unknown_state() -> dict[str, Any]:
    d = scenario1()
    d.update(
        verdict="No registry export: collect HKLM\\...\\ParametersSystem (regedit /e) to confirm.",
        remediation=None,
        dns_to_add=[IMS],
        logon_only_as={
            "state": "unknown",
            "entries": [],
            "source": None,
            "key": None,
            "last_write": None,
            "control_set": None,
            "notes": [],
        },
        warnings=["case.zip: member ../evil.txt skipped (path outside the archive)"],
    )
    return d


def hostile() -> dict[str, Any]:
    """Every string a customer file could control carries something nasty."""
    d = scenario1()
    evil = "<script>alert(1)</script>|`x`|*b*_i_[l](http://e)&amp;\x1b[31mRED\x1b[0m\u202eevil\u202c\r\nnext"
    f = d["findings"][0]
    f["dn"] = f"{ORG}/cn={evil}"
    f["account"] = 'CONTOSO\\"quote\' onload="x'
    f["component"] = evil
    f["title"] = evil
    f["explanation"] = evil
    f["severity"] = "error"
    f["evidence"][0]["path"] = evil
    f["evidence"][1]["source"] = evil  # evidence[0] stays a 1023 so that its row shows the account and DN
    d["findings"][1]["severity"] = 'info" onmouseover="alert(1)'  # not schema-valid; renderers must still cope
    d["case"] = evil
    d["verdict"] = "Add " + evil
    d["dns_to_add"] = [f["dn"]]
    d["logon_only_as"]["entries"] = [evil, " padded ", ""]
    d["logon_only_as"]["notes"] = [evil]
    d["inputs"][0]["warnings"] = [evil]
    d["inputs"][2]["error"] = evil
    d["warnings"] = [evil]
    return d


# --------------------------------------------------------------------------- schema


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert SCHEMA_FILE.parent.name == "schema" and SCHEMA_FILE.parent.parent.name == "analyzer"


@pytest.mark.parametrize("make", [scenario1, unknown_state])
def test_examples_validate(make: Any) -> None:
    d = make()
    jsonschema.Draft202012Validator(load_schema()).validate(json.loads(render_json(d)))


def test_empty_and_delete_example_validates() -> None:
    d = scenario1()
    rem = build_remediation(state="empty", current=[], add=[], delete_value=True, version=5)
    d.update(remediation=rem.to_dict(), dns_to_add=[])
    d["logon_only_as"].update(state="empty", entries=[], control_set="ControlSet002", last_write="2002-06-12T09:00:00Z")
    jsonschema.Draft202012Validator(load_schema()).validate(d)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("verdict"),
        lambda d: d.update(schema="analyzer.diagnosis/2"),
        lambda d: d.update(extra=1),
        lambda d: d["logon_only_as"].update(state="maybe"),
        lambda d: d["logon_only_as"].update(state="set", entries=[]),
        lambda d: d["logon_only_as"].update(state="absent"),  # absent with entries
        lambda d: d["findings"][0].update(severity="critical"),
        lambda d: d["findings"][0].update(first_seen="12/06/2002 09:14"),
        lambda d: d["findings"][0]["evidence"][0].update(event_id=70000),
        lambda d: d["inputs"][0].update(format="exe"),
        lambda d: d["inputs"][0].update(sha256="XYZ"),
        lambda d: d["remediation"].update(version=6),
        lambda d: d["remediation"].update(reg="not a reg file"),
        lambda d: d.update(needs_action="yes"),
    ],
)
def test_schema_rejects_drift(mutate: Any) -> None:
    d = scenario1()
    mutate(d)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(load_schema()).validate(d)


# --------------------------------------------------------------------------- text


def test_text_verdict_first_then_tables() -> None:
    out = render_text(scenario1(), patch_path="fix.reg", layout=WIDE)
    lines = out.splitlines()
    assert lines[0] == VERDICT
    assert lines[2].startswith("DNs to add") and lines[3] == f"  {IMS}"
    for heading in ("Findings", "Evidence", "Logon Only As", "Inputs", "Remediation (.reg version 4)", "Warnings"):
        assert heading in lines
    assert lines.index("Findings") < lines.index("Evidence") < lines.index("Logon Only As") < lines.index("Inputs")
    ev = out.split("\nEvidence\n")[1]
    header = ev.splitlines()[0].split()
    assert header[:3] == ["time", "log", "/"]  # time, log / path, record, event, account, DN
    assert "2002-06-12T09:14:03Z" in ev and "1023 MSExchangeIS Private" in ev and "CONTOSO\\exsvc" in ev
    reg_row = next(ln for ln in ev.splitlines() if "registry value" in ln)
    assert "ParametersSystem.reg: HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem" in reg_row
    assert "registry value Logon Only As" in reg_row and "CONTOSO" not in reg_row
    assert "broken/SysEvent.Evt: not used: not an event log (no LfLe signature)" in out
    assert "UNUSABLE: not an event log" in out
    assert "Patch written to: fix.reg" in out
    assert "net start MSExchangeIMC" in out


def test_text_neutralises_terminal_escapes() -> None:
    out = render_text(hostile(), layout=WIDE)
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    assert "\\x1b[31mRED" in out and "\\u202e" in out
    assert '" padded "' in out and "(empty string)" in out  # edges of list entries stay visible
    assert "Add <script>" in out.splitlines()[0]  # text output is not HTML: shown, not interpreted


def test_unknown_state_text() -> None:
    out = render_text(unknown_state(), layout=WIDE)
    assert out.startswith("No registry export")
    assert "Remediation" not in out
    loa = out.split("\nLogon Only As\n")[1]
    assert any(ln.split() == ["state", "unknown"] for ln in loa.splitlines())
    assert "case.zip: member ../evil.txt skipped" in out


# --------------------------------------------------------------------------- Markdown


def _unescaped_pipes(line: str) -> int:
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        count += line[i] == "|"
        i += 1
    return count


def test_markdown_escapes_tables_and_markup() -> None:
    out = render_markdown(hostile())
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    assert "<script>" not in out and "\\<script\\>" in out
    assert "\\|\\`x\\`\\|" in out and "\\*b\\*\\_i\\_\\[l\\]" in out and "\\&amp;" in out
    for block in out.split("\n\n"):
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        if rows:
            assert len({_unescaped_pipes(r) for r in rows}) == 1, block  # no cell breaks out of its column


def test_markdown_content() -> None:
    out = render_markdown(scenario1(), patch_path="fix.reg")
    lines = out.splitlines()
    assert lines[0] == "# Diagnosis: nt4-kb306308"
    assert lines[2].startswith("**Add this DN to Logon Only As on EXCH01:")
    assert "> - broken/SysEvent.Evt: not used: not an event log (no LfLe signature)" in out
    assert "## Evidence" in out and "| time | log / path | record | event | account | DN |" in out
    assert "```reg\nREGEDIT4\n" in out
    assert "\\(EXCH01\\)" not in out  # parentheses need no escaping: DNs stay readable


def test_markdown_fence_survives_backticks() -> None:
    d = scenario1()
    d["remediation"]["reg"] = "REGEDIT4\n```\nnot code\n"
    out = render_markdown(d)
    assert "````reg\nREGEDIT4\n```\nnot code\n````" in out


# --------------------------------------------------------------------------- HTML


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_everything() -> None:
    out = render_html(hostile())
    parser = _Collector()
    parser.feed(out)
    parser.close()
    assert parser.stack == []  # well nested: no string opened or closed a tag
    # The one script is the page's own copy button (allowed by its hash); links go only to the KB archive
    # or are the patch downloads.
    assert parser.tags.count("script") == 1 and out.count("<script") == 1 and f"<script>{COPY_SCRIPT}</script>" in out
    hrefs = [v or "" for n, v in parser.attrs if n == "href"]
    assert hrefs and all(
        v.startswith(DEFAULT_KB_URL.split("{")[0]) or v.startswith("data:application/octet-stream;base64,")
        for v in hrefs
    ), hrefs
    svg = {
        "role",
        "aria-label",
        "xmlns",
        "viewbox",
        "width",
        "style",
        "x",
        "y",
        "x1",
        "y1",
        "x2",
        "y2",
        "cx",
        "cy",
        "r",
    }
    svg |= {"fill", "stroke", "stroke-width", "stroke-dasharray", "font-size", "text-anchor"}  # the timeline's SVG
    links = {"href", "rel", "download"}  # KB links and the patch downloads
    allowed = {"charset", "http-equiv", "content", "name", "lang", "class"} | svg | links
    assert all(name in allowed for name, _ in parser.attrs), {n for n, _ in parser.attrs} - allowed
    classes = {v for n, v in parser.attrs if n == "class"}
    assert all(c and "onmouseover" not in c for c in classes)
    assert "\x1b" not in out and "\u202e" not in out
    text = "".join(parser.text)
    assert "<script>alert(1)</script>" in text  # shown as text
    assert "\\u202e" in text and 'CONTOSO\\"quote\' onload="x' in text


def test_html_self_contained() -> None:
    out = render_html(scenario1(), patch_path="fix.reg")
    assert out.startswith("<!DOCTYPE html>") and "<style>" in out
    assert "default-src 'none'" in out
    for needle in ("src=", "@import", "url("):  # nothing is fetched (links and downloads fetch nothing)
        assert needle not in out
    assert out.index('class="verdict action"') < out.index("<h2>Findings</h2>")
    assert "broken/SysEvent.Evt: not used: not an event log (no LfLe signature)" in out
    assert 'class="sev-error"' in out
    frag = render_html(scenario1(), fragment=True)
    assert frag.startswith('<div class="analyzer-diagnosis">') and "<html" not in frag
    assert ".analyzer-diagnosis table{" in frag and "\nbody{" not in frag


def test_long_strings_are_truncated() -> None:
    d = scenario1()
    huge = "/o=" + "A" * 200_000
    d["findings"][0]["dn"] = huge
    d["findings"][0]["explanation"] = huge
    d["logon_only_as"]["notes"] = [huge]
    for renderer in (render_html, render_markdown, render_text):
        out = renderer(d)
        assert len(out) < 100_000, renderer.__name__
        assert "truncated: 200,003 characters" in out
    assert "/o=" + "A" * (MAX_CHARS - 3) in render_html(d)  # the first MAX_CHARS characters are kept
    assert huge in render_json(d)
    assert visible("x" * (MAX_CHARS + 1)).startswith("x" * MAX_CHARS + " … [truncated")


def test_evidence_rows_capped() -> None:
    d = scenario1()
    one = d["findings"][0]["evidence"][0]
    d["findings"][0]["evidence"] = [dict(one, record=i) for i in range(500)]
    out = render_text(d, layout=WIDE)
    assert "… 450 more evidence rows" in out
    assert len(render_html(d)) < 60_000


# --------------------------------------------------------------------------- JSON, warnings, dispatch


def test_json_exact() -> None:
    d = scenario1()
    d["logon_only_as"]["entries"][1] = f"{ORG}/cn=Recipients/cn=Jürgen"
    out = render_json(d)
    assert json.loads(out) == d
    assert "Jürgen" in out and out == json.dumps(d, ensure_ascii=False, indent=2) + "\n"


def test_broken_input_is_a_warning_in_every_format() -> None:
    d = scenario1()
    assert all_warnings(d) == ["broken/SysEvent.Evt: not used: not an event log (no LfLe signature)"]
    for fmt in ("text", "markdown", "html", "json"):
        assert "not an event log (no LfLe signature)" in render(d, fmt)
    d["warnings"] = ["broken/SysEvent.Evt: not used: not an event log (no LfLe signature)"]
    assert len(all_warnings(d)) == 1  # not repeated when the engine already reported it
    with pytest.raises(ValueError, match="unknown format"):
        render(d, "pdf")


def test_renderers_do_not_modify_the_dict() -> None:
    d = hostile()
    before = copy.deepcopy(d)
    for fmt in ("text", "markdown", "html", "json"):
        render(d, fmt)
    assert d == before


def test_evidence_rows_sorted_and_only_logon_events_name_the_dn() -> None:
    d = scenario1()
    ev = d["findings"][0]["evidence"]
    d["findings"][0]["evidence"] = [ev[2], ev[1], ev[0]]  # registry first, then 4018, then 1023
    out = render_text(d, layout=WIDE).split("\nEvidence\n")[1].split("\n\n")[0].splitlines()[2:]
    assert [row.split()[0] for row in out[:2]] == ["2002-06-12T09:14:03Z", "2002-06-12T09:14:05Z"]
    assert "1023" in out[0] and "CONTOSO\\exsvc" in out[0] and IMS in out[0]
    assert "4018" in out[1] and "CONTOSO" not in out[1] and "Internet Mail Connector" not in out[1]
    assert "registry value Logon Only As" in out[2]
