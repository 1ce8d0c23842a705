"""Readers: one module per input format, and the table of formats built from their declarations.

Each reader module declares its ``Format`` (``FORMAT``, or ``FORMATS`` for a module that reads
several): name, kind (events or registry), how to recognise it by content, and its reader, which
follows the one protocol of ``analyzer.readers.format``: ``read(path, *, filters, options, warn)``.
``analyzer.sniff`` walks ``FORMATS`` in order; ``events`` and ``registry`` look a reader up by name.
Optional backends (the Rust ``evtx`` package, python-evtx, regipy) are imported only when used, so a
missing one never breaks the other formats.
"""

from __future__ import annotations

from analyzer.readers import evt, evtext, evtx, hive, regedt32, regfile, regquery
from analyzer.readers.format import DEFAULT_OPTIONS, EVENTS, REGISTRY, Format, ReadOptions

#: Every format, in the order ``sniff`` tries them: binary magics first, then the text formats
#: (.reg, reg query and Regedt32 headers are unambiguous; Event Viewer exports are judged last).
FORMATS: tuple[Format, ...] = (
    evt.FORMAT,
    evtx.FORMAT,
    hive.FORMAT,
    regfile.FORMAT,
    regquery.FORMAT,
    regedt32.FORMAT,
    *evtext.FORMATS,
)
BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}
EVENT_FORMATS = frozenset(f.name for f in FORMATS if f.kind == EVENTS)
REGISTRY_FORMATS = frozenset(f.name for f in FORMATS if f.kind == REGISTRY)


def format_named(name: str) -> Format:
    """The declared format called ``name`` (KeyError for a name no reader declares)."""
    return BY_NAME[name]


__all__ = [
    "BY_NAME",
    "DEFAULT_OPTIONS",
    "EVENT_FORMATS",
    "FORMATS",
    "REGISTRY_FORMATS",
    "Format",
    "ReadOptions",
    "format_named",
]
