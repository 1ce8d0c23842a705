r"""What kind of hive a binary registry file is, and where it belongs in the machine's registry.

Why by content: customers rename files ("server1-soft.bin", "EXCH02_SYSTEM.sav"), so the file name on
disk says nothing reliable.  A hive says what it is in two places: the base block's embedded file name
(the last 31 characters of the path the system loaded or saved it from, e.g. ``…\System32\Config\SOFTWARE``
or ``…\jdoe\NTUSER.DAT``), and the keys directly under its root.  The root's structure decides; the
embedded name breaks ties (NTUSER.DAT and DEFAULT have the same structure) and places a hive whose root is
too bare to tell (a nearly empty DEFAULT).  A Regedt32 "Save Key" sub-hive has the saved key as its root
and is placed where that key lives (``…\MSExchangeIS\ParametersSystem``, ``HKLM\SOFTWARE\Microsoft\Rpc``).

The root key structures are those of Windows NT 4.0 to Windows 2003 (what the Exchange 4.0-5.5 servers
ran); which subkeys a root holds is (inferred) from how those systems lay out their hives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LOGON_ONLY_AS = "Logon Only As"
_EXCHANGE_IS = ("HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Services", "MSExchangeIS")
_CONTROL_SET = re.compile(r"^controlset\d{3}$", re.IGNORECASE)
#: Keys only a SOFTWARE hive's root holds next to ``Microsoft``.
_SOFTWARE_ROOT = frozenset(
    {"classes", "clients", "policies", "wow6432node", "program groups", "secure", "description", "odbc",
     "windows 3.1 migration status"}
)  # fmt: skip
#: Keys of a user profile's root (NTUSER.DAT, and DEFAULT, the profile of the logon screen).
_USER_ROOT = frozenset(
    {"appevents", "console", "control panel", "environment", "keyboard layout", "network", "printers",
     "software", "unicode program groups", "identities", "remoteaccess", "uninstall"}
)  # fmt: skip
#: Embedded file name (last path component, casefolded, backup suffixes dropped) -> kind.
_NAMES = {
    "system": "SYSTEM",
    "software": "SOFTWARE",
    "sam": "SAM",
    "security": "SECURITY",
    "default": "DEFAULT",
    "ntuser.dat": "NTUSER",
    "ntuser.man": "NTUSER",
}
_MOUNTS: dict[str, tuple[str, ...]] = {
    "SYSTEM": ("HKEY_LOCAL_MACHINE", "SYSTEM"),
    "SOFTWARE": ("HKEY_LOCAL_MACHINE", "SOFTWARE"),
    "SAM": ("HKEY_LOCAL_MACHINE", "SAM"),
    "SECURITY": ("HKEY_LOCAL_MACHINE", "SECURITY"),
    "DEFAULT": ("HKEY_USERS", ".DEFAULT"),
}


@dataclass(frozen=True, slots=True)
class HiveKind:
    """``kind``: SYSTEM | SOFTWARE | SAM | SECURITY | DEFAULT | NTUSER | SUBKEY (a Save Key sub-hive) |
    unknown.  ``mount``: where the root sits (canonical parts, ``()`` when unknown).  ``mapping``: one
    sentence for the user when the placement is not a whole machine hive found by its structure."""

    kind: str
    mount: tuple[str, ...]
    mapping: str | None = None


def embedded_kind(file_name: str | None) -> str | None:
    """The hive kind the base block's embedded file name gives, or None."""
    if not file_name:
        return None
    last = file_name.replace("/", "\\").rsplit("\\", 1)[-1].strip().casefold()
    for suffix in (".sav", ".alt", ".bak", ".old"):
        if last.endswith(suffix) and last[: -len(suffix)] in _NAMES:
            last = last[: -len(suffix)]
    return _NAMES.get(last)


def _profile_name(file_name: str) -> str | None:
    parts = [p for p in file_name.replace("/", "\\").split("\\") if p]
    return parts[-2] if len(parts) >= 2 else None


def identify(root: Any, file_name: str | None = None) -> HiveKind:
    """Kind and place of a hive from its root node (``subkeys()``, ``value()``, ``name``) and the
    embedded file name of its base block."""
    names = {k.name.casefold() for k in _safe_subkeys(root)}
    root_name = (getattr(root, "name", "") or "").casefold()
    named = embedded_kind(file_name)
    by_structure = _whole_hive(names)
    if by_structure == "USER":
        by_structure = "DEFAULT" if named == "DEFAULT" else "NTUSER"
    if by_structure is not None:
        note = None
        if named is not None and named != by_structure:
            note = f"the file says it was {named}, its keys are those of a {by_structure} hive"
        return _placed(by_structure, file_name, note)
    sub = _save_key(root, names, root_name)
    if sub is not None:
        return sub
    if named is not None:
        return _placed(named, file_name, f"recognised as {named} by the name in its header (its keys do not say)")
    return HiveKind("unknown", (), "hive of unknown kind: paths are taken relative to its root")


def _whole_hive(names: set[str]) -> str | None:
    if "select" in names and any(_CONTROL_SET.match(n) for n in names):
        return "SYSTEM"
    if "microsoft" in names and names & _SOFTWARE_ROOT:
        return "SOFTWARE"
    if "policy" in names and names & {"rxact", "cache", "sam"}:
        return "SECURITY"
    if "sam" in names and not names & {"policy", "domains", "microsoft", "select"} and len(names) <= 2:
        return "SAM"
    if len(names & _USER_ROOT) >= 3 and "control panel" in names:
        return "USER"
    return None


def _placed(kind: str, file_name: str | None, note: str | None) -> HiveKind:
    if kind == "NTUSER":
        profile = _profile_name(file_name or "")
        where = ("HKEY_USERS", profile or "NTUSER")
        why = (
            f"NTUSER.DAT of profile {profile} placed at HKU\\{profile}"
            if profile
            else "NTUSER.DAT placed at HKU\\NTUSER"
        ) + " (the user's SID is not in the file)"
        return HiveKind(kind, where, f"{note}; {why}" if note else why)
    return HiveKind(kind, _MOUNTS[kind], note)


def _save_key(root: Any, names: set[str], root_name: str) -> HiveKind | None:
    """A Regedt32 "Save Key" sub-hive of a key the analyzer reads, placed where the key lives."""
    if root_name == "parameterssystem" or _has_value(root, LOGON_ONLY_AS):
        return HiveKind(
            "SUBKEY", (*_EXCHANGE_IS, "ParametersSystem"), "file root = ParametersSystem key (Save Key hive)"
        )
    if "parameterssystem" in names or root_name == "msexchangeis":
        return HiveKind("SUBKEY", _EXCHANGE_IS, "file root = MSExchangeIS key (Save Key hive)")
    if "msexchangeis" in names or root_name == "services":
        return HiveKind("SUBKEY", _EXCHANGE_IS[:-1], "file root = Services key (Save Key hive)")
    if "services" in names and ("control" in names or "enum" in names):
        return HiveKind("SUBKEY", _EXCHANGE_IS[:3], "file root = a control set (Save Key hive)")
    if root_name == "rpc" or "clientprotocols" in names:
        return HiveKind(
            "SUBKEY", ("HKEY_LOCAL_MACHINE", "SOFTWARE", "Microsoft", "Rpc"), "file root = Rpc key (Save Key hive)"
        )
    if "windows nt" in names and ("windows" in names or "exchange" in names or "rpc" in names):
        return HiveKind(
            "SUBKEY",
            ("HKEY_LOCAL_MACHINE", "SOFTWARE", "Microsoft"),
            "file root = SOFTWARE\\Microsoft key (Save Key hive)",
        )
    return None


def _has_value(node: Any, name: str) -> bool:
    try:
        return node.value(name) is not None
    except Exception:  # a damaged value list: not this kind
        return False


def _safe_subkeys(node: Any) -> list[Any]:
    try:
        return list(node.subkeys())
    except Exception:  # a damaged subkey list: judged by what else the file shows
        return []
