"""The timeline of a diagnosis as an inline SVG for the HTML report (no script, nothing fetched: CSP kept).

One lane per kind of entry (refusals, component errors, service failures, stops and starts, IS starts), a dot per event on
a shared time axis, and a vertical line where ``Logon Only As`` was last written -- so whether the list
was changed before, between or after the refusals (LOA-TIMING) is visible at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from analyzer.report.diagnosis.untrusted import visible

LANES = (
    "refusal (1023)",
    "component error",
    "service failure",
    "service stop",
    "service start",
    "service event",
    "IS start",
    "logon",
)
COLORS = {
    "refusal (1023)": "#b00020",
    "component error": "#c25e00",
    "service failure": "#8e0000",
    "service stop": "#616161",
    "service start": "#2e7d32",
    "service event": "#555555",
    "IS start": "#1b5e20",
    "logon": "#0d47a1",
    "Logon Only As written": "#6a1b9a",
}
WIDTH, LEFT, RIGHT, LANE_H, TOP = 760, 150, 20, 26, 16


def _when(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # local times: placed as given (display only)


def render(rows: Sequence[Sequence[str]]) -> str:
    """``<svg>`` for timeline rows (time, what, detail); empty when fewer than one dated event."""
    points = [(t, what, detail) for time, what, detail in rows if (t := _when(time)) is not None]
    if not points:
        return ""
    lanes = [lane for lane in LANES if any(what == lane for _, what, _ in points)]
    start = min(t for t, _, _ in points)
    end = max(t for t, _, _ in points)
    span = (end - start).total_seconds() or 1.0
    height = TOP + LANE_H * len(lanes) + 46

    def x(t: datetime) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (t - start).total_seconds() / span

    parts = [
        f'<svg class="timeline" role="img" aria-label="Timeline of the case" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" style="max-width:{WIDTH}px">',
        "<title>Timeline: refusals, component errors, service failures, stops and starts, IS starts and the last write of "
        "Logon Only As</title>",
    ]
    for n, lane in enumerate(lanes):
        y = TOP + LANE_H * n + LANE_H / 2
        parts.append(f'<text x="4" y="{y + 4:.1f}" font-size="12" fill="{COLORS[lane]}">{escape(lane)}</text>')
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
    bottom = TOP + LANE_H * len(lanes)
    for t, what, detail in points:
        label = escape(visible(f"{t.isoformat()} {what}: {detail}", cell=True))  # strings from customer files
        if what == "Logon Only As written":
            parts.append(
                f'<line class="loa-write" x1="{x(t):.1f}" y1="{TOP - 6}" x2="{x(t):.1f}" y2="{bottom + 4}" '
                f'stroke="{COLORS[what]}" stroke-width="2" stroke-dasharray="5 3"><title>{label}</title></line>'
            )
            continue
        if what in lanes:
            y = TOP + LANE_H * lanes.index(what) + LANE_H / 2
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y:.1f}" r="5" fill="{COLORS[what]}"><title>{label}</title></circle>'
            )
    parts.append(f'<text x="{LEFT}" y="{bottom + 18}" font-size="11" fill="#333">{escape(start.isoformat())}</text>')
    parts.append(
        f'<text x="{WIDTH - RIGHT}" y="{bottom + 18}" font-size="11" fill="#333" text-anchor="end">'
        f"{escape(end.isoformat())}</text>"
    )
    if any(what == "Logon Only As written" for _, what, _ in points):
        parts.append(
            f'<text x="{LEFT}" y="{bottom + 36}" font-size="11" fill="{COLORS["Logon Only As written"]}">'
            "dashed line: Logon Only As last written (the IS applies it at its next start)</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
