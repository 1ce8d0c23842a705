"""Readers: one module per input format.

Event readers expose ``read(path, *, filters=None, warn=ignore_warning, **options) -> Iterator[Event]``
and registry readers ``read(path, *, warn=ignore_warning, **options) -> RegistryFile``.  Both raise
``model.InputError`` (one line: file and what is wrong) when nothing usable can be read, and report
damage through ``warn`` while yielding every record they can.  Modules are imported lazily so that
a missing optional backend never breaks the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EVENT_READERS = {
    "evt": "analyzer.readers.evt",
    "evtx": "analyzer.readers.evtx",
    "evtxt": "analyzer.readers.evtext",
    "evcsv": "analyzer.readers.evtext",
    "dumpel": "analyzer.readers.evtext",
}
REGISTRY_READERS = {
    "hive": "analyzer.readers.hive",
    "reg": "analyzer.readers.regfile",
    "regedt32": "analyzer.readers.regedt32",
    "regquery": "analyzer.readers.regquery",
}


def event_reader(fmt: str) -> ModuleType:
    return importlib.import_module(EVENT_READERS[fmt])


def registry_reader(fmt: str) -> ModuleType:
    return importlib.import_module(REGISTRY_READERS[fmt])
