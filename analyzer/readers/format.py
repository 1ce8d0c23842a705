"""What every reader module declares: its ``Format`` (name, kind, how to recognise it, its reader),
and the one reader protocol with its frozen ``ReadOptions``.

Why: the table of formats (``analyzer.readers.FORMATS``) is built from these declarations, so a new
format is one module; ``sniff`` walks the table, and ``events``/``registry`` call any reader the same
way instead of branching on the format name.

The protocol is ``read(path, *, filters, options, warn)``: event readers yield ``Event``s (applying
``filters`` where they can, as a pushdown), registry readers return a ``RegistryFile`` (and ignore
``filters``).  Both raise ``model.InputError`` (one line: file and what is wrong) when nothing usable
can be read, and report damage through ``warn`` while yielding every record they can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from typing import Literal, Protocol

from analyzer.limits import ReadLimits
from analyzer.model import Event, EventFilter, RegistryFile, WarningSink, ignore_warning

EVENTS: Literal["event"] = "event"
REGISTRY: Literal["registry"] = "registry"


@dataclass(frozen=True)
class ReadOptions:
    """How to read any file; every reader takes what applies to its format and ignores the rest.

    * ``tz``: time zone of the local times in text exports (None: they stay naive);
    * ``encoding``: ANSI code page of text exports without a BOM (None: cp1252);
    * ``evtx_backend``: ``"rust"`` or ``"python"`` (None: the best installed);
    * ``language``: language of localised text exports (None: detected or English);
    * ``limits``: per-file limits, applied around the reader by ``events.iter_file`` and
      ``registry.read_registry`` (None: no limit).
    """

    tz: tzinfo | None = None
    encoding: str | None = None
    evtx_backend: str | None = None
    language: str | None = None
    limits: ReadLimits | None = None


DEFAULT_OPTIONS = ReadOptions()


class EventReader(Protocol):
    def __call__(
        self, path: str, *, filters: EventFilter | None, options: ReadOptions, warn: WarningSink
    ) -> Iterator[Event]: ...


class RegistryReader(Protocol):
    def __call__(
        self, path: str, *, filters: EventFilter | None, options: ReadOptions, warn: WarningSink
    ) -> RegistryFile: ...


@dataclass(frozen=True)
class Format:
    """One input format as a reader module declares it.

    ``magic`` recognises a binary format from the file's first bytes; ``detect`` a text format from
    its decoded head.  ``sniff`` tries every ``magic`` first, then (for text) every ``detect``, in
    the order of ``analyzer.readers.FORMATS``.
    """

    name: str  # the word used everywhere: CLI, JSON ``inputs[].format``, RegistryFile.format
    kind: Literal["event", "registry"]
    description: str
    read: EventReader | RegistryReader
    magic: Callable[[bytes], bool] | None = None
    detect: Callable[[str], bool] | None = None


def encoding_reader(read: Callable[..., RegistryFile]) -> RegistryReader:
    """The protocol reader of a text registry format whose module offers ``read(path, *, warn, encoding)``:
    of the options only the code page applies."""

    def read_with_options(
        path: str,
        *,
        filters: EventFilter | None = None,
        options: ReadOptions = DEFAULT_OPTIONS,
        warn: WarningSink = ignore_warning,
    ) -> RegistryFile:
        return read(path, warn=warn, encoding=options.encoding)

    read_with_options.__module__ = read.__module__  # the reader's home, for tools that load it by module
    read_with_options.__qualname__ = f"encoding_reader({read.__qualname__})"
    return read_with_options
