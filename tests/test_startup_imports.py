"""Start-up: what a command imports is what it uses.  ``diagnose`` on a small case must not pay for pandas,
numpy, tabulate, jinja2 or starlette (notebooks, listings, the web application), nor for the reader modules
of formats the case does not hold, nor load a language file to sniff a README.  Checked in a fresh
interpreter through ``sys.modules``, not by timing (``benchmarks/startup.py`` measures the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

NEVER_IN_DIAGNOSE = ("pandas", "numpy", "tabulate", "jinja2", "starlette", "wcwidth", "importlib.metadata", "yaml")
SAMPLE = os.path.join("samples", "nt4-kb306308")  # AppEvent.Evt, ParametersSystem.reg and a README.md

_PROBE = """
import contextlib, io, json, sys
from analyzer.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
from analyzer.languages import catalog
print(json.dumps({"code": code, "modules": sorted(sys.modules), "language_files": catalog._shipped.cache_info().currsize}))
"""


def _run(*argv: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_diagnose_imports_only_what_it_uses(fmt: str) -> None:
    seen = _run("diagnose", SAMPLE, "--format", fmt)
    assert seen["code"] == 1  # the sample needs action: the run went through to the report
    modules = set(seen["modules"])  # type: ignore[arg-type]
    loaded = sorted(m for m in modules if m.split(".")[0] in NEVER_IN_DIAGNOSE or m in NEVER_IN_DIAGNOSE)
    assert loaded == [], f"diagnose imported {loaded}"
    # Readers of formats the case does not hold stay unloaded: the table sniffs by magic bytes and hints.
    assert {"analyzer.readers.evt", "analyzer.readers.regfile"} <= modules
    unused = {"analyzer.readers.evtx", "analyzer.readers.hive", "analyzer.readers.evtext"} & modules
    assert not unused, f"sniffing imported {sorted(unused)}"
    assert seen["language_files"] == 0, "sniffing the case's README loaded language files"


def test_sniffing_an_event_viewer_export_loads_only_its_language() -> None:
    probe = (
        "import json, sys\nfrom analyzer.sniff import sniff\nfrom analyzer.languages import catalog\n"
        "fmt = sniff(sys.argv[1])\nprint(json.dumps([fmt, catalog._shipped.cache_info().currsize]))"
    )
    path = os.path.join("samples", "move-mailbox", "AppEvent.txt")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", probe, path], cwd=REPO, env=env, capture_output=True, text=True)
    assert json.loads(done.stdout) == ["evtxt", 0]


def test_api_diagnose_of_a_case_imports_no_renderer_archive_reader_or_yaml() -> None:
    """``analyzer.diagnose(path).to_dict()`` (notebooks, triage, the benchmarks) renders nothing, opens no
    archive, takes the shipped rules parsed ahead, sniffs with the languages' index and reads a binary
    log's strings without a localised template: none of those modules load."""
    probe = (
        "import json, sys\nimport analyzer\nanalyzer.diagnose(sys.argv[1]).to_dict()\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", probe, SAMPLE], cwd=REPO, env=env, capture_output=True, text=True)
    modules = set(json.loads(done.stdout))
    assert "analyzer.readers.regedt32" in modules  # sniffing the .reg export loaded the Regedt32 reader, and yet:
    unused = ("yaml", "tarfile", "argparse", "analyzer.archives.extract", "analyzer.report.diagnosis", "uuid")
    unused += ("analyzer.languages.catalog", "analyzer.languages.match")  # the index-backed words sufficed
    assert sorted(m for m in unused if m in modules) == []


ONE_EVTX = os.path.join("samples", "w2k-two-controlsets", "Application.evtx")
#: What a one-file .evtx case needs none of: orjson (and the uuid, platform and zoneinfo it loads) pays
#: off only past thousands of records; the archive safety layer only for an archive; the HTML, Markdown
#: and several-servers back ends (and the html and csv modules) only for those reports; zoneinfo only for
#: --timezone.
NEVER_FOR_ONE_EVTX = (
    "orjson",
    "uuid",
    "platform",
    "zoneinfo",
    "analyzer.archives.safety",
    "analyzer.archives.names",
    "analyzer.archives.extract",
    "analyzer.report.diagnosis.html",
    "analyzer.report.diagnosis.markdown",
    "analyzer.report.diagnosis.servers",
    "html",
    "csv",
)


def test_api_diagnose_of_one_evtx_imports_neither_orjson_nor_the_archive_safety_layer() -> None:
    probe = (
        "import json, sys\nimport analyzer\nd = analyzer.diagnose(sys.argv[1]).to_dict()\n"
        "print(json.dumps([d['inputs'][0]['format'], sorted(sys.modules)]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", probe, ONE_EVTX], cwd=REPO, env=env, capture_output=True, text=True)
    fmt, modules = json.loads(done.stdout)
    assert fmt == "evtx" and "analyzer.readers.evtx" in modules  # the log was read, and yet:
    assert sorted(m for m in NEVER_FOR_ONE_EVTX if m in modules) == []
    assert "analyzer.terminal" not in modules  # nothing is shown: the terminal's character checks stay unloaded
    assert "analyzer.languages" not in modules  # no text to sniff or parse back


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_diagnose_of_one_evtx_loads_only_its_own_report_back_end(fmt: str) -> None:
    seen = _run("diagnose", ONE_EVTX, "--format", fmt)
    assert seen["code"] in (0, 1)
    modules = set(seen["modules"])  # type: ignore[arg-type]
    assert "analyzer.report.diagnosis.sections" in modules  # the report was built, and yet:
    assert sorted(m for m in NEVER_FOR_ONE_EVTX if m in modules) == []
    assert seen["language_files"] == 0


def test_the_archive_names_still_load_when_asked_for() -> None:
    """``analyzer.archives`` and ``analyzer.case`` load their names on first use: every name they
    export is there, from the module that defines it."""
    import analyzer.archives as archives
    from analyzer import case
    from analyzer.archives import detect, names, safety

    defined = {name: getattr(m, name) for m in (detect, names, safety) for name in vars(m)}
    for name in archives.__all__:
        assert getattr(archives, name) is defined[name]
    assert case.safe_member_parts is names.safe_member_parts
    with pytest.raises(AttributeError):
        archives.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        case.no_such_name  # noqa: B018
