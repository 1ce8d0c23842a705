"""The notebook API (``import analyzer``): real signatures and docstrings, the same options and defaults
as the implementations it calls, and a cheap import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import analyzer
import analyzer.triage
from analyzer import diagnosis, events, registry
from tests.conftest import REPO

PUBLIC = {
    "iter_events": events.iter_events,
    "read_events": events.iter_events,  # read_events takes iter_events' options
    "read_registry": registry.read_registry,
    "diagnose": diagnosis.diagnose,
    "triage": sys.modules["analyzer.triage"].triage,
}
#: Options whose public default differs on purpose: None stands for the implementation's default sink.
SINK_DEFAULTS = {("iter_events", "warn"), ("read_events", "warn")}
#: Internal bundles the public functions spell out as keywords (``ReadOptions`` holds encoding, limits, …).
BUNDLES = {("read_registry", "options")}
#: triage passes these to the diagnosis of each case (the implementation takes them as **options).
TRIAGE_CASE_OPTIONS = {
    "tz",
    "evtx_backend",
    "encoding",
    "reg_version",
    "read_limits",
    "language",
    "replace_near_misses",
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_function_has_a_real_signature_and_docstring(name: str) -> None:
    fn = analyzer.API[name]
    assert name in analyzer.__all__
    sig = inspect.signature(fn)
    kinds = {p.kind for p in sig.parameters.values()}
    assert inspect.Parameter.VAR_POSITIONAL not in kinds and inspect.Parameter.VAR_KEYWORD not in kinds
    assert sig.return_annotation is not inspect.Signature.empty
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())
    assert fn.__doc__ and len(fn.__doc__.split()) > 15


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_options_match_the_implementation(name: str) -> None:
    public = inspect.signature(analyzer.API[name]).parameters
    impl = {
        n: p
        for n, p in inspect.signature(PUBLIC[name]).parameters.items()
        if p.kind is not p.VAR_KEYWORD and (name, n) not in BUNDLES
    }
    extra = set(public) - set(impl)
    assert extra == (TRIAGE_CASE_OPTIONS if name == "triage" else set())
    assert set(impl) <= set(public), f"{name} hides options: {set(impl) - set(public)}"
    for option, p in impl.items():
        assert public[option].kind == p.kind, (name, option)
        if (name, option) not in SINK_DEFAULTS:
            assert public[option].default == p.default, (name, option)


def test_signatures_of_the_api() -> None:
    assert str(inspect.signature(analyzer.diagnose)) == (
        "(paths: 'str | Sequence[str]', *, tz: 'tzinfo | None' = None, evtx_backend: 'str | None' = None, "
        "encoding: 'str | None' = None, reg_version: 'int | str | None' = None, "
        "read_limits: 'ReadLimits | None' = None, case_limits: 'CaseLimits | None' = None, "
        "language: 'str | None' = None, replace_near_misses: 'bool' = False, one_case: 'bool' = False, "
        "progress: 'ReadProgress | None' = None) -> 'Diagnosis'"
    )
    assert list(inspect.signature(analyzer.read_registry).parameters) == ["path", "encoding", "warn", "fmt", "limits"]
    assert inspect.signature(analyzer.iter_events).return_annotation == "Iterator[Event]"


def test_triage_keeps_its_signature_once_the_package_is_loaded(tmp_path) -> None:
    code = (
        "import inspect, sys, analyzer\n"
        "before = str(inspect.signature(analyzer.triage))\n"
        "try:\n"
        "    analyzer.triage([sys.argv[1]])\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
        "print(before == str(inspect.signature(analyzer.triage)), 'case_timeout' in before)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["TriageError", "True", "True"]


def test_import_stays_cheap() -> None:
    code = "import sys, analyzer; print(sorted(m for m in sys.modules if m.startswith(('analyzer', 'pandas'))))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    loaded = eval(out)  # a list of module names printed by the child
    assert not any(m.startswith("pandas") for m in loaded)
    assert not any(m.startswith(("analyzer.rules", "analyzer.readers", "analyzer.diagnosis")) for m in loaded)


def test_the_api_runs(tmp_path) -> None:
    sample = REPO / "samples" / "nt4-kb306308"
    dx = analyzer.diagnose(str(sample))
    assert dx.dns_to_add and dx.needs_action
    frame = analyzer.read_events(str(sample / "AppEvent.Evt"), ids=[1023])
    assert len(frame) and set(frame["event_id"]) == {1023}
    assert [e.event_id for e in analyzer.iter_events(str(sample / "AppEvent.Evt"), ids=[1023])] == list(
        frame["event_id"]
    )
    reg = analyzer.read_registry(str(sample / "ParametersSystem.reg"))
    assert reg.value(r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem", "Logon Only As")
