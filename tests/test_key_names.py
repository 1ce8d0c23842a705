"""Key names as Windows allows them, through every registry reader: ``\\`` is the only separator.

``/`` is an ordinary character in a key name (``https://example.org``), blanks at either end are
part of the name, and brackets, quotes, ``;`` and ``=`` are plain characters.  Each tree is
written by the project's own writers (hive, .reg 4 and 5, Regedt32 text, reg query in both
layouts), read back through ``read_registry`` and looked up by full path with ``Registry``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from analyzer.model import RegistryKey, RegistryValue
from analyzer.registry import Registry, read_registry, split_path
from tests.writers.hive_writer import dword, offline_system, write_hive
from tests.writers.regtext_writers import write_reg, write_regedt32, write_regquery

ODD_NAMES = [
    "https://example.org",
    "a/b/c",
    "Trail  ",
    " Lead",
    "semi;colon",
    'quote"key',
    "br]acket",
    "[open",
    "per%cent",
    "a=b",
    "@",
    "\u00fcml\u00e4ut \u20ac",
    "dot.",
]
ODD = r"SYSTEM\ControlSet001\Services\Odd"


def _values(name: str) -> list[RegistryValue]:
    return [RegistryValue("v", "REG_SZ", name, (name + "\0").encode("utf-16-le"))]


def _text_tree() -> RegistryKey:
    """Full-path tree (nameless root) for the text writers."""
    root = RegistryKey("")
    for name in ODD_NAMES:
        node = root.ensure_path(["HKEY_LOCAL_MACHINE", *ODD.split("\\"), name])
        for value in _values(name):
            node.set_value(value)
    select = root.ensure_path(["HKEY_LOCAL_MACHINE", "SYSTEM", "Select"])
    select.set_value(dword("Current", 1))
    return root


def _hive(path: Path) -> Path:
    entries = {f"Services\\Odd\\{name}": _values(name) for name in ODD_NAMES}
    return write_hive(path, offline_system({1: entries}))


WRITERS: dict[str, Callable[[Path], Path]] = {
    "hive": _hive,
    "reg4": lambda p: write_reg(p, _text_tree(), version=4),
    "reg5": lambda p: write_reg(p, _text_tree(), version=5),
    "regedt32": lambda p: write_regedt32(p, _text_tree()),
    "regquery-3.0": lambda p: write_regquery(p, _text_tree(), style="3.0"),
    "regquery-vista": lambda p: write_regquery(p, _text_tree(), style="vista"),
}


def test_split_path_splits_on_backslash_only() -> None:
    assert split_path(r"HKLM\Software\https://example.org\ Trail  ") == [
        "HKEY_LOCAL_MACHINE",
        "Software",
        "https://example.org",
        " Trail  ",
    ]
    assert split_path("HKLM/Software/X") == ["HKLM/Software/X"]


@pytest.mark.parametrize("kind", list(WRITERS))
def test_odd_key_names_through_every_reader(tmp_path: Path, kind: str) -> None:
    path = WRITERS[kind](tmp_path / f"odd.{kind}")
    warnings: list[object] = []
    reg = read_registry(str(path), warn=warnings.append)
    assert isinstance(reg, Registry)
    assert warnings == []
    base = r"HKLM\SYSTEM\CurrentControlSet\Services\Odd"
    found = reg.key(base)
    assert found is not None
    assert sorted(k.name for k in found.node.subkeys()) == sorted(ODD_NAMES)
    for name in ODD_NAMES:
        key = reg.key(f"{base}\\{name}")
        assert key is not None, f"{kind}: key {name!r} not found"
        assert key.node.name == name
        value = reg.value(f"{base}\\{name}", "v")
        assert value is not None and value.data == name
    assert reg.key(f"{base}\\https:") is None  # '/' never splits a name
    assert reg.key(f"{base}\\a") is None
    assert reg.key("HKLM/SYSTEM/CurrentControlSet/Services/Odd") is None
    assert reg.key(f"{base}\\Trail") is None  # the trailing blanks are part of the name
    assert reg.key(f"{base}\\Lead") is None
