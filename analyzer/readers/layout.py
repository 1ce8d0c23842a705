"""Binary structures declared once, with their field names: a ``struct`` format and a named tuple
built from the same declaration, so that readers read fields by name, never by position.

Why: a layout spelled twice (a format string here, field positions there) drifts apart silently;
here the names and the format are checked against each other when the module is imported.
"""

from __future__ import annotations

import operator
import re
import struct
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

_ITEM = re.compile(r"(\d*)([cbB?hHiIlLqQnNefdsp])")


class Layout:
    """One fixed-size binary structure: ``unpack_from`` gives a named tuple of ``fields``."""

    def __init__(self, name: str, fmt: str, fields: Sequence[str]) -> None:
        order, body = fmt[0], fmt[1:]
        if order not in "<>!=" or _ITEM.sub("", body):
            raise ValueError(f"{name}: use an explicit byte order and no padding in {fmt!r}")
        codes: list[str] = []
        for count, code in _ITEM.findall(body):
            codes.extend([count + code] if code in "sp" else [code] * int(count or 1))
        if len(codes) != len(fields):
            raise ValueError(f"{name}: {len(fields)} field names for the {len(codes)} items of {fmt!r}")
        self.name = name
        self.fields = tuple(fields)
        self.struct = struct.Struct(fmt)
        self.size = self.struct.size
        self.type: Any = namedtuple(name, self.fields)  # type: ignore[misc]
        self._offsets = {f: struct.calcsize(order + "".join(codes[:i])) for i, f in enumerate(self.fields)}
        self._make = self.type._make
        self._unpack_from = self.struct.unpack_from

    def unpack_from(self, buffer: Any, offset: int = 0) -> Any:
        """The named tuple of the structure at ``buffer[offset:]`` (struct.error when too short)."""
        return self._make(self._unpack_from(buffer, offset))

    def unpack(self, buffer: Any) -> Any:
        """The named tuple of ``buffer``, which must be exactly ``size`` bytes."""
        return self._make(self.struct.unpack(buffer))

    def pack(self, **fields: Any) -> bytes:
        """Bytes of the structure with every field given by name."""
        return self.struct.pack(*self.type(**fields))

    def picker(self, *names: str) -> Callable[[Any, int], tuple[Any, ...]]:
        """A fast reader of the named fields only, as a plain tuple in the order asked: for hot loops,
        where building a named tuple per structure costs more than the decoding around it."""
        if len(names) < 2:
            raise ValueError("pick two fields or more (unpack_from reads one by name)")
        unpack = self._unpack_from
        if names == self.fields:
            return unpack  # every field in declared order: the struct's own tuple already is that
        get = operator.itemgetter(*(self.fields.index(name) for name in names))
        return lambda buffer, offset: get(unpack(buffer, offset))

    def index(self, field: str) -> int:
        """Position of ``field`` in the plain tuple ``struct.unpack_from`` gives (for objects that keep
        that tuple and read single fields by named constants: no named tuple per structure)."""
        return self.fields.index(field)

    def offset_of(self, field: str) -> int:
        """Byte offset of ``field`` from the start of the structure."""
        return self._offsets[field]

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {self.struct.format!r}, {len(self.fields)} fields, {self.size} bytes)"
