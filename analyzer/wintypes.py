"""Windows data types shared by the readers: registry roots, value types, multi-strings, FILETIME.

One low-level module (it imports nothing of the package) so that every reader, the registry view
and the remediation writer spell these the same way without importing one another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: Every spelling of a root key a registry export or a user may use -> its full name.
ROOT_ALIASES = {
    "hklm": "HKEY_LOCAL_MACHINE",
    "hkey_local_machine": "HKEY_LOCAL_MACHINE",
    "hkcu": "HKEY_CURRENT_USER",
    "hkey_current_user": "HKEY_CURRENT_USER",
    "hku": "HKEY_USERS",
    "hkey_users": "HKEY_USERS",
    "hkcr": "HKEY_CLASSES_ROOT",
    "hkey_classes_root": "HKEY_CLASSES_ROOT",
    "hkcc": "HKEY_CURRENT_CONFIG",
    "hkey_current_config": "HKEY_CURRENT_CONFIG",
    "hkdd": "HKEY_DYN_DATA",
    "hkey_dyn_data": "HKEY_DYN_DATA",
    "hkey_performance_data": "HKEY_PERFORMANCE_DATA",
}
#: Full root name -> the short form paths are shown with (``HKLM\\…``).
SHORT_ROOTS = {
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKEY_CURRENT_USER": "HKCU",
    "HKEY_USERS": "HKU",
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKEY_CURRENT_CONFIG": "HKCC",
}

REG_TYPE_NAMES = {
    0: "REG_NONE",
    1: "REG_SZ",
    2: "REG_EXPAND_SZ",
    3: "REG_BINARY",
    4: "REG_DWORD",
    5: "REG_DWORD_BIG_ENDIAN",
    6: "REG_LINK",
    7: "REG_MULTI_SZ",
    8: "REG_RESOURCE_LIST",
    9: "REG_FULL_RESOURCE_DESCRIPTOR",
    10: "REG_RESOURCE_REQUIREMENTS_LIST",
    11: "REG_QWORD",
}
TYPE_NUMBERS = {name: number for number, name in REG_TYPE_NAMES.items()}

FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def canonical_root(name: str) -> str | None:
    """``HKLM`` / ``hkey_local_machine`` -> ``HKEY_LOCAL_MACHINE``; None for anything else."""
    return ROOT_ALIASES.get(name.casefold())


def type_name(code: int) -> str:
    """``REG_SZ`` etc.; type numbers Windows does not name (drivers use many) become ``REG_0x20004``."""
    return REG_TYPE_NAMES.get(code, f"REG_0x{code:X}")


def split_multi_sz(text: str) -> tuple[list[str], bool]:
    """Split a NUL-separated multi-string: trailing NULs end the list, empty strings inside are kept.

    Returns (strings, had_embedded_empty).  ``""``, ``"\\0"`` and ``"\\0\\0"`` are the empty list;
    a missing final terminator is tolerated; ``"a\\0\\0b\\0\\0"`` keeps ``["a", "", "b"]`` because
    dropping ``b`` (or the gap) silently could change a diagnosis.
    """
    parts = text.split("\0")
    while parts and parts[-1] == "":
        parts.pop()
    return parts, "" in parts


def filetime(value: int) -> datetime:
    """FILETIME (100 ns intervals since 1601-01-01 UTC) -> aware datetime; OverflowError past year 9999."""
    return FILETIME_EPOCH + timedelta(microseconds=value // 10)


def filetime_or_none(value: int) -> datetime | None:
    """Like ``filetime``, but 0 ("never written"), negative and out-of-range values are None."""
    if value <= 0:
        return None
    try:
        return filetime(value)
    except OverflowError:
        return None
