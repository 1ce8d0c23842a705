"""Helpers shared by the text registry reader tests (.reg, regedt32 text, reg query)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from analyzer.model import ReadWarning, RegistryFile, RegistryKey

PS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
IMS_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
SA_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"


def read_collecting(reader: ModuleType, path: Path, **kw: object) -> tuple[RegistryFile, list[ReadWarning]]:
    """Read with ``reader.read`` and return the file and the warnings it reported."""
    warnings: list[ReadWarning] = []
    return reader.read(str(path), warn=warnings.append, **kw), warnings


def key_at(root: RegistryKey, path: str) -> RegistryKey:
    """The key at a backslash path below ``root``; fails the test naming the missing part."""
    node = root
    for part in path.split("\\"):
        found = node.subkey(part)
        assert found is not None, f"{part} missing in {path}"
        node = found
    return node
