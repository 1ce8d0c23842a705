"""Readers: one module per input format, and the table of formats built from their declarations.

Each reader module declares its ``Format`` (``FORMAT``, or ``FORMATS`` for a module that reads
several): name, kind (events or registry), how to recognise it by content, and its reader, which
follows the one protocol of ``analyzer.readers.format``: ``read(path, *, filters, options, warn)``.
``analyzer.sniff`` walks ``FORMATS`` in order; ``events`` and ``registry`` look a reader up by name.

The table below lists each format with its module and a cheap recogniser (``format.Declared``), so that
a reader module is imported only when a file turns out to have its format: sniffing a .evt does not
import the .evtx reader (and its JSON and XML libraries), sniffing a README imports no text reader.
Optional backends (the Rust ``evtx`` package, python-evtx, regipy) are imported only when used, so a
missing one never breaks the other formats.
"""

from __future__ import annotations

import re

from analyzer.readers.format import DEFAULT_OPTIONS, EVENTS, REGISTRY, Declared, Format, ReadOptions


def _evt_magic(head: bytes) -> bool:
    return head[4:8] == b"LfLe"  # ELF_LOG_SIGNATURE after the header size (readers.evt.SIGNATURE)


def _evtx_magic(head: bytes) -> bool:
    return head.startswith((b"ElfFile\x00", b"ElfChnk\x00"))  # a whole file, or a lone chunk


def _hive_magic(head: bytes) -> bool:
    return head.startswith(b"regf")


_DIGIT = re.compile(r"\d")
_EVENT_TYPE_LABEL = re.compile(r"Event\s+Type\s*:", re.IGNORECASE)


def _event_viewer_hint(text: str) -> bool:
    """A necessary condition of ``evtext.detect``: its first non-empty line (as it takes it) holds eight
    tabs or commas (a header row or an entry) or starts with a digit (an entry starts with its date), or an
    ``Event Type:`` label of the Event Properties "Copy" layout is somewhere in the head."""
    lines = [line for line in text.lstrip("\ufeff").splitlines()[:200] if line.strip()][:1]
    if not lines:
        return False
    first = lines[0].lstrip("\ufeff")
    if first.count("\t") >= 8 or first.count(",") >= 8 or _DIGIT.match(first):
        return True
    return _EVENT_TYPE_LABEL.search(text) is not None


#: Every format, in the order ``sniff`` tries them: binary magics first, then the text formats
#: (.reg, reg query and Regedt32 headers are unambiguous; Event Viewer exports are judged last).
FORMATS: tuple[Declared, ...] = (
    Declared("evt", EVENTS, "analyzer.readers.evt", magic=_evt_magic),
    Declared("evtx", EVENTS, "analyzer.readers.evtx", magic=_evtx_magic),
    Declared("hive", REGISTRY, "analyzer.readers.hive", magic=_hive_magic),
    Declared("reg", REGISTRY, "analyzer.readers.regfile", text=True),
    Declared("regquery", REGISTRY, "analyzer.readers.regquery", text=True),
    Declared("regedt32", REGISTRY, "analyzer.readers.regedt32", text=True),
    *(Declared(kind, EVENTS, "analyzer.readers.evtext", text=True, hint=_event_viewer_hint)
      for kind in ("evtxt", "evcsv", "dumpel")),
)  # fmt: skip
BY_NAME: dict[str, Declared] = {f.name: f for f in FORMATS}
EVENT_FORMATS = frozenset(f.name for f in FORMATS if f.kind == EVENTS)
REGISTRY_FORMATS = frozenset(f.name for f in FORMATS if f.kind == REGISTRY)


def format_named(name: str) -> Declared:
    """The declared format called ``name`` (KeyError for a name no reader declares)."""
    return BY_NAME[name]


__all__ = [
    "BY_NAME",
    "DEFAULT_OPTIONS",
    "EVENT_FORMATS",
    "FORMATS",
    "REGISTRY_FORMATS",
    "Declared",
    "Format",
    "ReadOptions",
    "format_named",
]
