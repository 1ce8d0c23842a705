"""Regressions found by trying main as a new user would (QA pass): each test names what it guards."""

from __future__ import annotations

import re
from pathlib import Path

import analyzer
from tests.conftest import REPO

SAMPLES = REPO / "samples"


def test_near_miss_sentence_starts_with_a_capital_letter() -> None:
    """The 'entry ... is not a match' sentence follows a full stop, so it starts a new sentence."""
    dx = analyzer.diagnose(str(SAMPLES / "move-mailbox"))
    explanations = [f["explanation"] for f in dx.to_dict()["findings"]]
    assert any("is not a match" in text for text in explanations)
    for text in explanations:
        assert not re.search(r"\. the entry ", text), text
        assert ". The entry '/o=Contoso" in text or "is not a match" not in text


def test_wrong_command_for_a_file_says_what_it_is_and_which_command_reads_it() -> None:
    """'it is a evt file' was ungrammatical and named an internal format word only."""
    import subprocess
    import sys

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "analyzer", *argv], capture_output=True, text=True, cwd=REPO)

    out = run("registry", "samples/nt4-kb306308/AppEvent.Evt")
    assert out.returncode == 2
    assert out.stderr == (
        "analyzer: samples/nt4-kb306308/AppEvent.Evt: not a registry export "
        "(evt: NT 4.0 - 2003 event log (.evt)); 'analyzer events' lists it\n"
    )
    out = run("events", "samples/w2k-two-controlsets/SYSTEM")
    assert out.returncode == 2
    assert "not an event log (hive: " in out.stderr and "'analyzer registry' shows it" in out.stderr
    assert " a evt" not in out.stderr and len(out.stderr.splitlines()) == 1


def test_readme_names_every_language_the_readers_have() -> None:
    """README's language list had fallen behind analyzer/languages/data (Dutch was missing)."""
    import yaml

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Languages and code pages", 1)[1].split("###", 1)[0]
    for data in sorted((REPO / "analyzer" / "languages" / "data").glob("*.yaml")):
        name = yaml.safe_load(data.read_text(encoding="utf-8"))["name"]
        if name != "English":
            assert name in section, f"README's language list lacks {name} ({data.name})"


def test_event_details_block_keeps_a_last_insertion_string_that_looks_like_a_separator(tmp_path: Path) -> None:
    """Hypothesis found it (test_round_trip_event_details): after Vista's "The following information was
    included with the event:" a last string "=" or "-" was taken for a separator pasted between blocks and lost."""
    from dataclasses import replace

    from tests.test_evtext import ev, read_all
    from tests.writers.evtext_writer import write_evblock

    first = ev(event_id=1, source="Src", strings=())
    cases = [("=",), ("a", "-"), ("==",), ("x", "*")]
    for strings in cases:
        evs = [first, replace(first, event_id=2, strings=strings)]
        for wrapper in ("nt4", "w2k", "vista"):
            path = write_evblock(tmp_path / f"{wrapper}.txt", evs, mode="wrapper", wrapper=wrapper)
            got, warnings = read_all(path)
            assert warnings == []
            assert [e.strings for e in got] == [(), strings], (wrapper, strings)


def test_an_event_cited_by_two_findings_is_one_evidence_row() -> None:
    """harmless-1023: the 1023s are cited by two findings; the second copy used to appear without its DN."""
    from analyzer.report.diagnosis.sections import evidence_table

    d = analyzer.diagnose(REPO / "samples" / "harmless-1023").to_dict()
    cited = [
        (ev.get("path"), ev.get("record"))
        for f in d["findings"]
        for ev in f.get("evidence") or []
        if ev.get("event_id") == 1023
    ]
    assert len(cited) > len(set(cited))  # the sample does cite the same 1023s twice
    rows, _ = evidence_table(d)
    keys = [tuple(r[:4]) for r in rows]
    assert len(keys) == len(set(keys))
    refusals = [r for r in rows if r[3].startswith("1023 ")]
    assert len(refusals) == len(set(cited))
    assert all(r[5].startswith("/o=Contoso/") for r in refusals)  # every copy keeps its DN


def test_a_text_export_cut_mid_line_says_so(tmp_path: Path) -> None:
    """A copy cut in the middle of its last line: that line may be half an event; the reader says so."""
    from analyzer.model import ReadWarning
    from analyzer.readers import evtext

    whole = (REPO / "samples" / "move-mailbox" / "AppEvent.txt").read_bytes()
    cut = tmp_path / "cut.txt"
    cut.write_bytes(whole[:100])
    warnings: list[ReadWarning] = []
    list(evtext.read(str(cut), warn=warnings.append))
    assert [w.message for w in warnings if "line end" in w.message] == [
        "last line has no line end: the file may be cut short (a truncated copy?)"
    ]
    complete = tmp_path / "whole.txt"
    complete.write_bytes(whole)
    warnings.clear()
    list(evtext.read(str(complete), warn=warnings.append))
    assert not [w for w in warnings if "line end" in w.message]


def test_top_level_help_keeps_every_command_and_its_help_on_one_line() -> None:
    import subprocess
    import sys

    from analyzer.cli import COMMANDS

    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "--help"],
        capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "COLUMNS": "80"}, check=True,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for name in COMMANDS:
        (line,) = [line for line in lines if line.strip().split(" ")[0] == name]
        assert len(line.split()) > 1, f"{name!r} has its help on the next line"


def test_events_of_a_file_that_is_no_log_writes_nothing_to_stdout() -> None:
    """csv/json used to print a header or ``[]`` (a valid-looking empty result) beside the exit code 2."""
    import subprocess
    import sys

    hive = REPO / "samples" / "w2k-two-controlsets" / "SYSTEM"
    log = REPO / "samples" / "nt4-kb306308" / "AppEvent.Evt"
    env = {"PYTHONPATH": str(REPO)}
    for fmt in ("csv", "json", "jsonl", "table"):
        bad = subprocess.run([sys.executable, "-m", "analyzer", "events", str(hive), "--format", fmt],
                             capture_output=True, text=True, cwd=REPO, env=env)  # fmt: skip
        assert (bad.returncode, bad.stdout) == (2, ""), fmt
        assert "not an event log" in bad.stderr
        none = subprocess.run([sys.executable, "-m", "analyzer", "events", str(log), "--id", "9999", "--format", fmt],
                              capture_output=True, text=True, cwd=REPO, env=env)  # fmt: skip
        assert none.returncode == 0, fmt
        if fmt == "json":
            assert none.stdout == "[]\n"
        if fmt == "csv":
            assert none.stdout.startswith("path,record,")  # a readable log with no match: a valid empty CSV
