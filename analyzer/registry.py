"""One read-only registry view over any export: case-insensitive paths, CurrentControlSet resolved.

A ``RegistryFile`` (from any reader in ``readers/``) knows only its own tree.  ``Registry`` places
that tree in the machine's namespace ("mounts" it) and answers lookups by full path:

* ``HKLM\\…`` and ``HKEY_LOCAL_MACHINE\\…`` are the same; names compare case-insensitively.
* An offline SYSTEM hive has ``ControlSet00N`` + ``Select`` but no ``CurrentControlSet``: it is
  derived from ``Select\\Current`` the way the kernel does at boot.
* A Regedt32 "Save Key" hive has the saved key as its root; it is recognised by content
  (MSExchangeIS, ParametersSystem, Services, a control set) and mounted where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from analyzer.archives import is_archive
from analyzer.case import archive_members
from analyzer.hivekind import identify
from analyzer.limits import ReadLimits, check_file_size
from analyzer.model import InputError, ReadWarning, RegistryFile, RegistryValue, WarningSink
from analyzer.readers import REGISTRY_FORMATS, ReadOptions, format_named
from analyzer.sniff import sniff
from analyzer.wintypes import ROOT_ALIASES, SHORT_ROOTS

if TYPE_CHECKING:
    import pandas as pd

_CONTROL_SET = re.compile(r"^controlset(\d{3})$", re.IGNORECASE)
CCS = "currentcontrolset"
EXCHANGE_IS = ("HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS")
PARAMETERS_SYSTEM = (*EXCHANGE_IS, "ParametersSystem")
LOGON_ONLY_AS = "Logon Only As"


class KeyNode(Protocol):
    """What a key must offer; ``model.RegistryKey`` and the hive reader's lazy keys both do."""

    name: str
    last_write: datetime | None

    def values(self) -> Any: ...
    def value(self, name: str) -> RegistryValue | None: ...
    def subkeys(self) -> Any: ...
    def subkey(self, name: str) -> Any: ...


def split_path(path: str) -> list[str]:
    """``HKLM\\System\\X`` -> ``['HKEY_LOCAL_MACHINE', 'System', 'X']``; a relative path stays relative.

    ``\\`` is the only separator: ``/`` is an ordinary character in key names (``https://example``),
    and blanks at either end of a name are part of it."""
    parts = [p for p in path.split("\\") if p]
    if parts and parts[0].casefold() in ROOT_ALIASES:
        parts[0] = ROOT_ALIASES[parts[0].casefold()]
    return parts


def display_path(parts: list[str] | tuple[str, ...]) -> str:
    """Full paths are shown with the short root (``HKLM\\…``)."""
    if not parts:
        return ""
    head = SHORT_ROOTS.get(parts[0], parts[0])
    return "\\".join([head, *parts[1:]])


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """A key found by ``Registry.key``: where it is, how the request was mapped, the node itself."""

    requested: str
    path: str  # display path of the key actually read, control set spelled out
    control_set: str | None  # "ControlSet002" when CurrentControlSet was resolved through Select
    mapping: str | None  # how a sub-hive root was placed, e.g. "file root = MSExchangeIS key"
    node: KeyNode

    @property
    def last_write(self) -> datetime | None:
        return self.node.last_write


class Registry:
    """Lookups by full path over one registry export."""

    def __init__(self, file: RegistryFile) -> None:
        self.file = file
        self.path = file.path
        self.format = file.format
        self.warnings: list[ReadWarning] = file.warnings
        self.hive_kind: str | None = None  # SYSTEM, SOFTWARE, … for binary hives (analyzer.hivekind)
        self._mount, self.mapping = self._find_mount()
        self._select = self._read_select()

    # -- placement ------------------------------------------------------------------------
    def _find_mount(self) -> tuple[list[str], str | None]:
        """Where the file's root sits, as canonical parts (``[]`` for full-path text exports); a hive is
        placed by its content (``analyzer.hivekind``), never by its file name."""
        if self.file.root_path is not None:
            return split_path(self.file.root_path), None
        header = getattr(self.file.root, "header", None)
        found = identify(self.file.root, getattr(header, "file_name", None))
        self.hive_kind = found.kind
        return list(found.mount), found.mapping

    def _read_select(self) -> dict[str, int]:
        # Full-path exports and SYSTEM hives hold HKLM\SYSTEM\Select; a hive of unknown kind has it at its root.
        select = self._walk_parts(["HKEY_LOCAL_MACHINE", "SYSTEM", "Select"])
        if select is None and not self._mount:
            select = self._walk_parts(["Select"])
        out: dict[str, int] = {}
        if select is not None:
            for v in _safe_values(select):
                if isinstance(v.data, int):
                    out[v.name] = v.data
        return out

    # -- control sets ---------------------------------------------------------------------
    def select(self) -> dict[str, int]:
        """``Select`` values (Current, Default, Failed, LastKnownGood) when the file has them."""
        return dict(self._select)

    def current_control_set(self) -> str | None:
        """``ControlSet00N`` named by ``Select\\Current``, or None when the export has no Select."""
        current = self._select.get("Current") or _ci_get(self._select, "current")
        return f"ControlSet{current:03d}" if isinstance(current, int) and current > 0 else None

    def control_sets(self) -> list[str]:
        """The ``ControlSet00N`` keys present under SYSTEM (original spelling, sorted)."""
        system = self._walk_parts(["HKEY_LOCAL_MACHINE", "SYSTEM"])
        if system is None:
            return []
        return sorted(k.name for k in _safe_subkeys(system) if _CONTROL_SET.match(k.name))

    # -- lookups --------------------------------------------------------------------------
    def key(self, path: str) -> ResolvedKey | None:
        """Find a key by full path (``HKLM\\…``, ``HKEY_LOCAL_MACHINE\\…``) or hive-relative path."""
        parts = split_path(path)
        if parts and parts[0] not in SHORT_ROOTS and self._mount:
            parts = self._mount[:2] + parts if len(self._mount) >= 2 else parts
        elif parts and parts[0] not in SHORT_ROOTS and self.file.root_path == "":
            parts = ["HKEY_LOCAL_MACHINE", *parts]  # text exports: SYSTEM\… is relative to HKLM
        candidates = self._candidates(parts)
        for actual, control_set in candidates:
            names: list[str] = []
            node = self._walk_parts(actual, names)
            if node is not None:
                # Show the key as the file spells it (the request may be in any case).
                prefix = [m if m.casefold() == a.casefold() else a for m, a in zip(self._mount, actual, strict=False)]
                return ResolvedKey(path, display_path([*prefix, *names]), control_set, self.mapping, node)
        return None

    def value(self, path: str, name: str) -> RegistryValue | None:
        found = self.key(path)
        return None if found is None else found.node.value(name)

    def values_by_control_set(self, path: str, name: str) -> dict[str, RegistryValue | None]:
        """The same value in every control set (to tell whether ControlSet001/002 disagree)."""
        parts = split_path(path)
        idx = _ccs_index(parts)
        if idx is None:
            return {}
        out: dict[str, RegistryValue | None] = {}
        for cs in self.control_sets():
            node = self._walk_parts([*parts[:idx], cs, *parts[idx + 1 :]])
            out[cs] = None if node is None else node.value(name)
        return out

    def _candidates(self, parts: list[str]) -> list[tuple[list[str], str | None]]:
        """Spellings of the request to try, most faithful first."""
        idx = _ccs_index(parts)
        if idx is None:
            return [(parts, None)]
        out: list[tuple[list[str], str | None]] = [(parts, None)]
        current = self.current_control_set()
        if current:
            out.insert(0, ([*parts[:idx], current, *parts[idx + 1 :]], current))
        elif not self._mount_covers(parts[: idx + 1]):
            # A text export of ControlSet00N without Select: use the only control set holding the key.
            for cs in self.control_sets():
                out.append(([*parts[:idx], cs, *parts[idx + 1 :]], cs))
        return out

    def _mount_covers(self, parts: list[str]) -> bool:
        return len(self._mount) >= len(parts) and _same(self._mount[: len(parts)], parts)

    def _walk_parts(self, parts: list[str], names: list[str] | None = None) -> Any:
        """Walk from the file root; the mount prefix must match (a CurrentControlSet in the mount
        matches any ControlSet00N in the request, and vice versa).  ``names`` collects the keys'
        own spelling of the parts below the mount."""
        mount = self._mount
        if len(parts) < len(mount):
            return None
        for want, have in zip(parts, mount, strict=False):
            if want.casefold() == have.casefold():
                continue
            if _is_cs(want) and _is_cs(have):
                continue
            return None
        node = self.file.root
        for part in parts[len(mount) :]:
            try:
                node = node.subkey(part)
            except Exception as exc:  # a damaged key ends this lookup, not the program
                self.warnings.append(ReadWarning(self.path, f"cannot open key {part!r}: {exc}"))
                return None
            if node is None:
                return None
            if names is not None:
                names.append(node.name)
        return node

    def walk(self, path: str | None = None) -> Iterator[tuple[str, KeyNode]]:
        """Every key below ``path`` (or the whole file), depth first, as (display path, node).

        Uses its own stack so one damaged key is reported and skipped instead of ending the walk.
        """
        if path is None:
            start_parts, start = list(self._mount), self.file.root
        else:
            found = self.key(path)
            if found is None:
                return
            start_parts, start = split_path(found.path), found.node
        stack: list[tuple[list[str], Any]] = [(start_parts, start)]
        while stack:
            parts, node = stack.pop()
            if parts or self.file.root_path != "":  # a text export's nameless root is not a key
                yield display_path(parts), node
            try:
                children = list(node.subkeys())
            except Exception as exc:
                self.warnings.append(ReadWarning(self.path, f"cannot list subkeys of {display_path(parts)}: {exc}"))
                continue
            for child in reversed(children):
                stack.append(([*parts, child.name], child))

    def to_frame(self, path: str | None = None) -> pd.DataFrame:
        """One row per value (keys without values get one row with empty value columns)."""
        import pandas as pd

        rows = []
        for key_path, node in self.walk(path):
            values = _safe_values(node)
            if not values:
                rows.append({"key": key_path, "value": None, "type": None, "data": None, "last_write": node.last_write})
            for v in values:
                rows.append(
                    {"key": key_path, "value": v.name, "type": v.type, "data": v.data, "last_write": node.last_write}
                )
        frame = pd.DataFrame(rows, columns=["key", "value", "type", "data", "last_write"])
        return frame

    def __repr__(self) -> str:
        return f"Registry({self.path!r}, format={self.format!r}, mounted at {display_path(self._mount) or '(root)'})"


def _is_cs(name: str) -> bool:
    return name.casefold() == CCS or _CONTROL_SET.match(name) is not None


def _ccs_index(parts: list[str]) -> int | None:
    for i, part in enumerate(parts):
        if part.casefold() == CCS:
            return i
    return None


def _same(a: list[str], b: list[str]) -> bool:
    return all(x.casefold() == y.casefold() or (_is_cs(x) and _is_cs(y)) for x, y in zip(a, b, strict=True))


def _ci_get(mapping: dict[str, int], name: str) -> int | None:
    for k, v in mapping.items():
        if k.casefold() == name:
            return v
    return None


def _safe_subkeys(node: Any) -> list[Any]:
    try:
        return list(node.subkeys())
    except Exception:
        return []


def _safe_values(node: Any) -> list[RegistryValue]:
    try:
        return list(node.values())
    except Exception:
        return []


def _read_archive(path: str, *, warn: WarningSink | None, options: ReadOptions) -> Registry:
    """The one registry export inside an archive (any kind), named ``<archive>/<member>``.

    Several exports are refused with their names (which one is meant is the user's choice); the
    view is read into memory before the extraction is removed."""
    with archive_members(path, REGISTRY_FORMATS) as view:
        for message in view.warnings:
            if warn is not None:
                warn(ReadWarning(path, message))
        if not view.members:
            raise InputError(path, view.errors[0] if view.errors else "archive holds no registry export")
        if len(view.members) > 1:
            names = ", ".join(shown for shown, _ in view.members)
            raise InputError(
                path, f"archive holds {len(view.members)} registry exports ({names}): extract the one meant"
            )
        shown, item = view.members[0]

        def rename(w: ReadWarning) -> None:
            if warn is not None:
                warn(ReadWarning(shown if w.path == item.real_path else w.path, w.message, w.offset))

        try:
            reg = read_registry(item.real_path, warn=rename, fmt=item.format, options=options)
        except InputError as exc:
            raise InputError(shown, exc.reason, exc.offset) from None
        reg.file.path = reg.path = shown
        reg.file.warnings[:] = [
            ReadWarning(shown if w.path == item.real_path else w.path, w.message, w.offset) for w in reg.file.warnings
        ]
        return reg


def read_registry(
    path: str,
    *,
    encoding: str | None = None,
    warn: WarningSink | None = None,
    fmt: str | None = None,
    limits: ReadLimits | None = None,
    options: ReadOptions | None = None,
) -> Registry:
    """Sniff ``path``, read it with the matching reader and return the view (raises InputError).

    ``options`` (analyzer.readers.ReadOptions) says how to read; without it, it is built from
    ``encoding`` and ``limits`` (analyzer.limits.ReadLimits: a file over ``max_file_size`` is refused)."""
    path = str(path)
    options = options or ReadOptions(encoding=encoding or None, limits=limits)
    if fmt is None and is_archive(path):
        return _read_archive(path, warn=warn, options=options)
    check_file_size(path, options.limits)
    fmt = fmt or sniff(path)
    if fmt not in REGISTRY_FORMATS:
        raise InputError(
            path, f"not a registry export ({fmt}: {format_named(fmt).description}); 'analyzer events' lists it"
        )
    collected: list[ReadWarning] = []

    def sink(w: ReadWarning) -> None:
        collected.append(w)
        if warn is not None:
            warn(w)

    file = format_named(fmt).read(path, filters=None, options=options, warn=sink)
    for w in collected:
        if w not in file.warnings:
            file.warnings.append(w)
    return Registry(file)
