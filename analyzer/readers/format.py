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

import importlib
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


class Declared:
    """A format of the table as ``sniff`` needs it before its reader module is imported.

    Why: importing every reader to sniff one file cost a small case a third of its start-up.  The table
    names each format's module and a cheap recogniser: the ``magic`` of a binary format (the same bytes its
    module checks), or for a text format a ``hint``, a quick necessary condition of the module's own
    ``detect`` (None: always ask it).  The module is imported when a file passes the hint, when its
    ``read`` is called, or when its description is asked for; tests hold every declaration to its module's.
    """

    __slots__ = ("_loaded", "detect", "hint", "kind", "magic", "module", "name")

    def __init__(
        self,
        name: str,
        kind: Literal["event", "registry"],
        module: str,
        *,
        magic: Callable[[bytes], bool] | None = None,
        text: bool = False,
        hint: Callable[[str], bool] | None = None,
    ) -> None:
        self.name, self.kind, self.module, self.magic, self.hint = name, kind, module, magic, hint
        self._loaded: Format | None = None
        if (magic is None) == (not text):
            raise ValueError(f"format {name}: recognised by magic bytes or by text, not both or neither")
        self.detect: Callable[[str], bool] | None = self._detect if text else None

    def _detect(self, text: str) -> bool:
        """The module's ``detect``, asked only when the hint lets the text through."""
        if self.hint is not None and not self.hint(text):
            return False
        detect = self.loaded().detect
        return detect is not None and bool(detect(text))

    def loaded(self) -> Format:
        """The module's own declaration (importing the module the first time)."""
        if self._loaded is None:
            module = importlib.import_module(self.module)
            declared = getattr(module, "FORMATS", None) or (module.FORMAT,)
            found = [f for f in declared if f.name == self.name]
            if not found:
                raise LookupError(f"{self.module} declares no format {self.name!r}")
            self._loaded = found[0]
        return self._loaded

    @property
    def read(self) -> EventReader | RegistryReader:
        return self.loaded().read

    @property
    def description(self) -> str:
        return self.loaded().description

    def __repr__(self) -> str:
        return f"Declared({self.name!r}, {self.kind!r}, {self.module!r})"


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
