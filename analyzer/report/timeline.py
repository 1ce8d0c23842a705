"""The timeline of a case for notebooks: a DataFrame per event and mark, and a matplotlib picture of it.

What happened when, per server: the refusals (1023), the component errors (4018/4116 ...), service stops,
starts and failures (Service Control Manager), Information Store starts, when ``Logon Only As`` was last
written, and when a registry export was saved.  The picture answers what LOA-TIMING findings ask -- was the
list written before, between or after the refusals, and did the store start since?

The events are those the findings cite (the report's Timeline section, ``sections.timeline_rows``), with the
Service Control Manager's entries told apart by what they say.  The export time is the base block's
last-written stamp of a binary hive (set when the hive was saved); .reg files and text reports carry no such
time, so they add no mark.  pandas and matplotlib are imported when used (the ``[notebook]`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from analyzer.model import InputError
from analyzer.readers.hive import parse_base_block
from analyzer.report.diagnosis.sections import what_of
from analyzer.report.diagnosis.timeline_svg import COLORS as SVG_COLORS
from analyzer.report.diagnosis.timeline_svg import LANES

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLUMNS = ["server", "time", "kind", "detail", "path", "record", "event_id", "source", "zone_known"]

#: Event kinds, in the order of the picture's rows (top first; the report's SVG uses the same lanes);
#: only kinds a server has get a row.
EVENT_KINDS = LANES
LOA_WRITTEN = "Logon Only As written"
EXPORT_SAVED = "registry export saved"
MARKS = (LOA_WRITTEN, EXPORT_SAVED)  # drawn as vertical lines across a server's rows
#: the report's picture's colours (``timeline_svg``), and one for the export mark
COLORS = {**SVG_COLORS, EXPORT_SAVED: "#00838f"}


def kind_of(ev: Mapping[str, Any]) -> str:
    """The kind of an evidence reference: the report's (``sections.what_of``), so the picture and the
    report's Timeline section name the same kinds."""
    return what_of(ev)


def _when(text: object) -> tuple[datetime, bool] | None:
    """(time, whether its zone is known) of an ISO-8601 string; a local time of a text export is kept as
    given (zone unknown), as the report's picture places it."""
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC), False
    return value.astimezone(UTC), True


def hive_saved(path: str) -> datetime | None:
    """The last-written stamp of a binary hive's base block (when the hive file was saved); None when the
    file is not a hive or cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        stamp = parse_base_block(head, path).last_written
    except (OSError, InputError):
        return None
    return stamp.astimezone(UTC) if stamp is not None and stamp.tzinfo else stamp


def timeline_records(
    d: Mapping[str, Any], exports: Mapping[str, datetime] | None = None, server: str = ""
) -> list[dict[str, Any]]:
    """The rows of ``timeline_frame`` as dicts, in time order.

    ``d`` is a diagnosis dict (``Diagnosis.to_dict()``); ``exports`` maps an input's display path to the
    time its hive was saved (``hive_saved``); ``server`` names the server of a one-server case (whose
    dict has no ``servers``) for the rows that name none."""
    rows_out = _records(d, exports)
    if server and not d.get("servers"):
        for row in rows_out:
            row["server"] = row["server"] or server
    return rows_out


def _records(d: Mapping[str, Any], exports: Mapping[str, datetime] | None) -> list[dict[str, Any]]:
    servers = d.get("servers") or []
    server_of_input = {p: str(s.get("server") or "") for s in servers for p in s.get("inputs") or []}
    rows: dict[tuple[object, ...], dict[str, Any]] = {}
    for f in d.get("findings") or []:
        server = str(f.get("server") or "")
        for ev in f.get("evidence") or []:
            if ev.get("key") or ev.get("value"):
                continue
            when = _when(ev.get("time")) if ev.get("time") else None
            if when is None:
                continue
            key = (server, ev.get("path"), ev.get("record"), ev.get("event_id"), ev.get("time"))
            kind = kind_of(ev)
            detail = " ".join(str(x) for x in (ev.get("event_id"), ev.get("source")) if x not in (None, ""))
            if ev.get("event_id") == 1023 and f.get("component"):
                detail += f" refuses {f.get('component')}"
            rows.setdefault(
                key,
                {
                    "server": server,
                    "time": when[0],
                    "kind": kind,
                    "detail": detail,
                    "path": ev.get("path"),
                    "record": ev.get("record"),
                    "event_id": ev.get("event_id"),
                    "source": ev.get("source"),
                    "zone_known": when[1],
                },
            )
    out = list(rows.values())
    lists = [(str(s.get("server") or ""), s.get("logon_only_as") or {}) for s in servers] or [
        ("", d.get("logon_only_as") or {})
    ]
    for server, loa in lists:
        when = _when(loa.get("last_write")) if loa.get("last_write") else None
        if when is not None:
            where = " ".join(str(x) for x in (loa.get("source"), loa.get("key")) if x)
            out.append(_mark(server, when, LOA_WRITTEN, f"last write of the key ({where})", loa.get("source")))
    for path, stamp in (exports or {}).items():
        when = (stamp.astimezone(UTC), True) if stamp.tzinfo else (stamp.replace(tzinfo=UTC), False)
        server = server_of_input.get(path, "")
        out.append(_mark(server, when, EXPORT_SAVED, f"{path}: the hive's header was last written", path))
    out.sort(key=lambda r: (r["server"], r["time"]))
    return out


def _mark(server: str, when: tuple[datetime, bool], kind: str, detail: str, path: object) -> dict[str, Any]:
    return {
        "server": server,
        "time": when[0],
        "kind": kind,
        "detail": detail,
        "path": path,
        "record": None,
        "event_id": None,
        "source": None,
        "zone_known": when[1],
    }


def exports_of(inputs: Iterable[Any]) -> dict[str, datetime]:
    """The save time of every binary hive among a case's inputs (``CaseInput``s whose file still exists)."""
    out: dict[str, datetime] = {}
    for item in inputs:
        real = getattr(item, "real_path", None)
        if getattr(item, "format", None) == "hive" and real and os.path.exists(real):
            stamp = hive_saved(real)
            if stamp is not None:
                out[str(item.path)] = stamp
    return out


def timeline_frame(
    d: Mapping[str, Any], exports: Mapping[str, datetime] | None = None, *, server: str = ""
) -> pd.DataFrame:
    """One row per event or mark: server (``server`` or "" for a one-server case), time (UTC; a text
    export's local time as given, ``zone_known`` False), kind, detail, path, record, event_id, source."""
    import pandas as pd

    frame = pd.DataFrame(timeline_records(d, exports, server), columns=COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def plot_timeline(frame: pd.DataFrame, *, title: str | None = None) -> Figure:
    """A matplotlib figure of a ``timeline_frame``: one panel per server, one row per kind of event it has
    (no empty rows), a dot per event, and dashed vertical lines where ``Logon Only As`` was written and where
    a hive export was saved; one legend with the count of each kind.  Raises ImportError without matplotlib
    (``pip install -e .[notebook]``)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # the [notebook] extra installs it
        raise ImportError("plot_timeline needs matplotlib: pip install -e .[notebook]") from exc
    servers = list(dict.fromkeys(frame["server"])) or [""]
    lanes_of = {
        s: [k for k in EVENT_KINDS if (frame[(frame["server"] == s) & (frame["kind"] == k)]).shape[0]] for s in servers
    }
    heights = [max(1, len(lanes_of[s])) for s in servers]
    fig, axes = plt.subplots(
        len(servers), 1, figsize=(10, 1.9 + 0.45 * sum(heights)), sharex=True, squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    labelled: dict[str, Any] = {}
    for ax, server in zip(axes[:, 0], servers, strict=True):
        _draw_server(ax, frame[frame["server"] == server], lanes_of[server], server, labelled)
    counts = frame["kind"].value_counts()
    order = [k for k in (*EVENT_KINDS, *MARKS) if k in labelled]
    known = bool(frame["zone_known"].all())
    axes[-1, 0].set_xlabel("time (UTC)" if known else "time (local times of text exports, placed as given)")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.autofmt_xdate()
    fig.tight_layout(rect=(0, 0, 1, 0.8 if title else 0.86))
    fig.legend(
        [labelled[k] for k in order],
        [f"{k} ({counts.get(k, 0)})" for k in order],
        loc="lower center",
        bbox_to_anchor=(0.5, 0.8 if title else 0.86),
        ncol=min(4, max(1, len(order))),
        frameon=False,
        fontsize=9,
    )
    return fig


def _draw_server(ax: Axes, rows: pd.DataFrame, lanes: Sequence[str], server: str, labelled: dict[str, Any]) -> None:
    """One server's panel: a row per kind it has, its marks as vertical lines."""
    for y, kind in enumerate(lanes):
        points = rows[rows["kind"] == kind]
        artist = ax.scatter(points["time"], [y] * len(points), s=36, color=COLORS[kind], label=kind, zorder=3)
        labelled.setdefault(kind, artist)
    for kind, style, width in ((LOA_WRITTEN, "--", 2.4), (EXPORT_SAVED, ":", 1.6)):  # both visible at one time
        for when in rows[rows["kind"] == kind]["time"]:
            line = ax.axvline(when, color=COLORS[kind], linestyle=style, linewidth=width, label=kind, zorder=2)
            labelled.setdefault(kind, line)
    ax.set_yticks(range(len(lanes)), list(lanes))
    ax.set_ylim(-0.6, max(len(lanes), 1) - 0.4)
    ax.invert_yaxis()
    ax.grid(axis="x", color="#e0e0e0")
    if server:
        ax.set_title(f"server {server}", loc="left", fontsize=10)
