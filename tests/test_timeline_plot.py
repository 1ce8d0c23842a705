"""``analyzer.timeline`` (a DataFrame of what happened when, per server) and ``analyzer.plot_timeline`` (its
matplotlib picture), on the bundled samples and on a two-server case written by the project's writers.
The picture is checked through its artists: rows, legend labels, marks."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import analyzer
from analyzer.readers.hive import parse_base_block
from analyzer.report.timeline import EXPORT_SAVED, LOA_WRITTEN, kind_of
from tests.conftest import REPO
from tests.multiserver_support import two_servers

SAMPLES = REPO / "samples"
matplotlib = pytest.importorskip("matplotlib", reason="the plot needs the [notebook] extra (matplotlib)")
matplotlib.use("Agg")


def _ticks(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def _legend(fig) -> list[str]:
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


def test_frame_of_the_founding_case() -> None:
    frame = analyzer.timeline(SAMPLES / "nt4-kb306308")
    assert list(frame.columns) == [
        "server", "time", "kind", "detail", "path", "record", "event_id", "source", "zone_known",
    ]  # fmt: skip
    assert frame["kind"].value_counts().to_dict() == {"component error": 4, "refusal (1023)": 2}
    assert list(frame["time"]) == sorted(frame["time"]) and str(frame["time"].dt.tz) == "UTC"
    assert set(frame["server"]) == {"EXCH01"} and frame["zone_known"].all()  # the server the events name
    refusals = frame[frame["kind"] == "refusal (1023)"]
    assert list(refusals["record"]) == [1, 4] and set(refusals["path"]) == {"AppEvent.Evt"}
    assert refusals["time"].iloc[0] == datetime(2002, 6, 12, 9, 14, 3, tzinfo=UTC)
    # a .reg export records no time: neither mark
    assert not frame["kind"].isin([LOA_WRITTEN, EXPORT_SAVED]).any()


def test_the_key_last_write_and_the_hive_saved_time() -> None:
    case = SAMPLES / "w2k-two-controlsets"
    dx = analyzer.diagnose(str(case))
    frame = analyzer.timeline(dx)
    written = frame[frame["kind"] == LOA_WRITTEN]
    assert len(written) == 1
    assert written["time"].iloc[0].isoformat().replace("+00:00", "Z") == dx.to_dict()["logon_only_as"]["last_write"]
    saved = frame[frame["kind"] == EXPORT_SAVED]
    header = parse_base_block((case / "SYSTEM").read_bytes()[:4096], "SYSTEM")
    assert list(saved["path"]) == ["SYSTEM"] and saved["time"].iloc[0] == header.last_written
    # the same frame from paths and from the Diagnosis; the dict alone has no files to read the hive from,
    # and (one server: no "servers" in the JSON) no server name
    assert set(frame["server"]) == {"EXCH01"}
    assert analyzer.timeline(str(case)).equals(frame)
    from_dict = analyzer.timeline(dx.to_dict())
    assert from_dict.equals(frame[frame["kind"] != EXPORT_SAVED].reset_index(drop=True).assign(server=""))


def test_service_control_manager_events_are_told_apart() -> None:
    frame = analyzer.timeline(SAMPLES / "de-nt4-kb306308")  # text exports: local times, zone unknown
    failures = frame[frame["kind"] == "service failure"]
    assert len(failures) == 2 and set(failures["event_id"]) == {7023}
    assert not frame["zone_known"].any()
    scm = "Service Control Manager"
    assert kind_of({"event_id": 7036, "source": scm, "text": "The Alerter service entered the stopped state."}) == (
        "service stop"
    )
    assert kind_of({"event_id": 7036, "source": scm, "text": "The Alerter service entered the running state."}) == (
        "service start"
    )
    running = "The Microsoft Exchange Information Store service entered the running state."
    assert kind_of({"event_id": 7036, "source": scm, "text": running}) == "IS start"
    assert kind_of({"event_id": 7035, "source": scm, "text": "A start control was sent."}) == "service event"
    assert kind_of({"event_id": 1023, "source": "MSExchangeIS Private"}) == "refusal (1023)"


def test_a_case_in_an_archive_gets_its_marks_too() -> None:
    frame = analyzer.timeline(SAMPLES / "mps-reports-cab" / "MPSReports_EXCH01.cab")
    assert {"refusal (1023)", "component error", "service failure"} <= set(frame["kind"])


def test_the_plot_has_a_row_per_kind_present_and_a_legend() -> None:
    frame = analyzer.timeline(SAMPLES / "w2k-two-controlsets")
    fig = analyzer.plot_timeline(frame, title="w2k")
    (ax,) = fig.axes
    assert _ticks(ax) == ["refusal (1023)", "component error"]  # no empty row (no IS start, no service event)
    assert _legend(fig) == [
        "refusal (1023) (1)",
        "component error (2)",
        "Logon Only As written (1)",
        "registry export saved (1)",
    ]
    dots = [c for c in ax.collections if len(c.get_offsets())]
    assert sorted(len(c.get_offsets()) for c in dots) == [1, 2]
    lines = [line for line in ax.get_lines() if line.get_label() in (LOA_WRITTEN, EXPORT_SAVED)]
    assert sorted(line.get_label() for line in lines) == [LOA_WRITTEN, EXPORT_SAVED]
    x = matplotlib.dates.date2num(frame[frame["kind"] == LOA_WRITTEN]["time"].iloc[0])
    assert all(line.get_xdata(orig=False)[0] == pytest.approx(x) for line in lines)  # both at 28 May 17:02
    assert fig._suptitle.get_text() == "w2k"
    matplotlib.pyplot.close(fig)


def test_one_panel_per_server(tmp_path: Path) -> None:
    case = two_servers(tmp_path / "case")
    dx = analyzer.diagnose(str(case))
    servers = [s.server for s in dx.servers]
    frame = analyzer.timeline(dx)
    assert sorted(set(frame["server"])) == sorted(servers) and len(servers) == 2
    fig = analyzer.plot_timeline(frame)
    assert [ax.get_title(loc="left") for ax in fig.axes] == [f"server {s}" for s in dict.fromkeys(frame["server"])]
    for ax, server in zip(fig.axes, dict.fromkeys(frame["server"]), strict=True):
        kinds = set(frame[(frame["server"] == server)]["kind"]) - {LOA_WRITTEN, EXPORT_SAVED}
        assert set(_ticks(ax)) == kinds and len(_ticks(ax)) == len(kinds)
    counts = frame["kind"].value_counts()
    assert _legend(fig) == [f"{k} ({counts[k]})" for k in ("refusal (1023)", "component error") if k in counts] + [
        f"{k} ({counts[k]})" for k in (LOA_WRITTEN, EXPORT_SAVED) if k in counts
    ]
    matplotlib.pyplot.close(fig)


def test_without_matplotlib_the_plot_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = analyzer.timeline(SAMPLES / "nt4-kb306308")
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install -e \.\[notebook\]"):
        analyzer.plot_timeline(frame)


@pytest.mark.parametrize("name", ["timeline", "plot_timeline"])
def test_public_functions_are_typed_and_documented(name: str) -> None:
    import inspect

    fn = analyzer.API[name]
    assert name in analyzer.__all__ and getattr(analyzer, name) is fn
    sig = inspect.signature(fn)
    assert sig.return_annotation is not inspect.Signature.empty
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())
    assert fn.__doc__ and len(fn.__doc__.split()) > 30
