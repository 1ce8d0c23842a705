"""Remediation: the .reg patch that fixes ``Logon Only As``, its rollback, and the steps around it.

The patch never rebuilds the list from scratch: it keeps every entry the customer has (a near miss is
replaced in place, so the order the admin chose stays) and appends the DNs that were refused.  It is
written the way regedit itself exports REG_MULTI_SZ, so that the file an engineer hands over can be
compared byte-for-byte with a fresh export:

* ``REGEDIT4`` (regedit on NT 4.0): ``hex(7):`` followed by single-byte ANSI bytes, each string ends
  with ``00`` and the list with an extra ``00``; the file itself is ANSI (cp1252 by default).
* ``Windows Registry Editor Version 5.00`` (Windows 2000): ``hex(7):`` bytes are UTF-16LE (``xx,00``
  per ASCII character, ``00,00`` after each string, ``00,00,00,00`` at the end of the list); the file
  is UTF-16LE with a BOM.
* Long lines are wrapped as regedit does: after a byte's comma, once the line has reached 77 columns
  (the quoted value name, ``=`` and ``hex(7):`` count on the first line), the line ends with ``\\``
  and continues with a two-space indent; so the first line holds as many bytes as fit and every
  continuation line holds 25.

Patches always name ``CurrentControlSet``: regedit imports into the live registry, where the offline
``ControlSet00N`` a hive export showed is whatever ``Select\\Current`` points at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.wintypes import ROOT_ALIASES

LOGON_ONLY_AS = "Logon Only As"
DEFAULT_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
HEADERS = {4: "REGEDIT4", 5: "Windows Registry Editor Version 5.00"}
LINE_LIMIT = 77  # regedit breaks a hex line once it has reached this many columns
STATES = ("absent", "empty", "set", "unknown")

_CONTROL_SET = re.compile(r"^controlset\d{3}$", re.IGNORECASE)


class RemediationError(ValueError):
    """The patch cannot be built as asked (unknown list, a DN the code page cannot hold ...)."""


@dataclass(frozen=True)
class Remediation:
    """What to change and how to undo it (see ``build_remediation``)."""

    reg: str  # .reg text ("\n" line ends; ``write_reg_file`` writes CRLF and the right encoding)
    rollback: str  # .reg text restoring the value as found (or deleting it if it was absent)
    version: int  # 4 (REGEDIT4, NT 4.0) or 5 (Windows Registry Editor Version 5.00)
    entries: list[str]  # the resulting list, in order ([] when the patch deletes the value)
    steps: list[str] = field(default_factory=list)  # ordered, with KB references

    def to_dict(self) -> dict[str, object]:
        """The ``remediation`` object of the diagnosis JSON contract."""
        return {
            "reg": self.reg,
            "rollback": self.rollback,
            "version": self.version,
            "entries": list(self.entries),
            "steps": list(self.steps),
        }


def build_remediation(
    *,
    state: str,
    current: list[str],
    add: list[str],
    replace: dict[str, str],
    key: str = DEFAULT_KEY,
    version: int = 4,
    delete_value: bool = False,
    restart_imc: bool = False,
    codepage: str = "cp1252",
) -> Remediation:
    """Build the patch, its rollback and the steps.

    ``state`` is the ``Logon Only As`` state found (absent | empty | set); ``current`` the entries
    found, in order; ``add`` the exact DNs to append; ``replace`` maps a near-miss entry to the DN
    that replaces it (matched exactly, then ignoring case).  A DN already held (same letters, any
    case) is not added twice.  Empty elements (a trailing ENTER, KB 199954) are dropped from the
    patched list.  ``delete_value`` builds the patch that removes the value (everyone may log on
    again).  ``codepage`` is the ANSI code page of a REGEDIT4 patch.

    Raises ``RemediationError`` when the state is unknown (a patch would overwrite entries nobody
    has seen), the version is not 4/5, or a DN cannot be written in the REGEDIT4 code page.
    """
    if version not in HEADERS:
        raise RemediationError(f"unknown .reg version {version!r} (4 = REGEDIT4, 5 = Windows 2000 regedit)")
    if state not in STATES:
        raise RemediationError(f"unknown Logon Only As state {state!r}")
    if state == "unknown":
        raise RemediationError(
            "the current Logon Only As list is unknown (no registry export): a patch would drop its entries"
        )
    found = [] if state == "absent" else list(current)
    key = live_key(key)
    entries = [] if delete_value else merge_entries(found, add, replace)
    if delete_value:
        patch_line = f"{_quote(LOGON_ONLY_AS)}=-"
    else:
        patch_line = multi_sz_line(LOGON_ONLY_AS, entries, version, codepage=codepage)
    if state == "absent":
        rollback_line = f"{_quote(LOGON_ONLY_AS)}=-"
    else:
        rollback_line = multi_sz_line(LOGON_ONLY_AS, found, version, codepage=codepage)
    return Remediation(
        reg=reg_text(key, [patch_line], version),
        rollback=reg_text(key, [rollback_line], version),
        version=version,
        entries=entries,
        steps=build_steps(
            key=key, version=version, entries=entries, state=state, delete_value=delete_value, restart_imc=restart_imc
        ),
    )


def merge_entries(current: Sequence[str], add: Iterable[str], replace: dict[str, str]) -> list[str]:
    """Existing entries with near misses replaced in place, then the DNs to add that are not held yet."""
    folded_replace = {old.casefold(): new for old, new in replace.items()}
    out: list[str] = []
    seen: set[str] = set()

    def put(dn: str) -> None:
        if dn and dn.casefold() not in seen:
            seen.add(dn.casefold())
            out.append(dn)

    for entry in current:
        if entry in replace:
            put(replace[entry])
        elif entry.casefold() in folded_replace:
            put(folded_replace[entry.casefold()])
        else:
            put(entry)
    for new in replace.values():  # a near miss that was not found: its DN still belongs in the list
        put(new)
    for dn in add:
        put(dn)
    return out


def live_key(key: str) -> str:
    """Full root name and ``CurrentControlSet`` in place of an offline ``ControlSet00N``."""
    parts = [p for p in key.replace("/", "\\").split("\\") if p]
    if not parts:
        raise RemediationError("empty registry key")
    parts[0] = ROOT_ALIASES.get(parts[0].casefold(), parts[0])
    if len(parts) > 2 and parts[0] == "HKEY_LOCAL_MACHINE" and _CONTROL_SET.match(parts[2]):
        parts[2] = "CurrentControlSet"
    return "\\".join(parts)


def encode_multi_sz(entries: Sequence[str], version: int, *, codepage: str = "cp1252") -> bytes:
    """REG_MULTI_SZ bytes: each string NUL-terminated, then one more NUL (ANSI for 4, UTF-16LE for 5)."""
    if version == 5:
        return b"".join(s.encode("utf-16-le") + b"\0\0" for s in entries) + b"\0\0"
    try:
        return b"".join(s.encode(codepage) + b"\0" for s in entries) + b"\0"
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise RemediationError(
            f"{bad!r} cannot be written in code page {codepage} (REGEDIT4); use a version 5.00 patch or "
            "Regedt32 by hand"
        ) from None


def multi_sz_line(name: str, entries: Sequence[str], version: int, *, codepage: str = "cp1252") -> str:
    """One ``"name"=hex(7):…`` assignment, wrapped like regedit (``\\`` + two-space continuation)."""
    return hex_assignment(name, 7, encode_multi_sz(entries, version, codepage=codepage))


def hex_assignment(name: str, reg_type: int, data: bytes) -> str:
    """``"name"=hex(N):xx,xx,…`` with regedit's line breaking (``hex:`` for REG_BINARY)."""
    prefix = f"{_quote(name)}=" + ("hex:" if reg_type == 3 else f"hex({reg_type:x}):")
    lines: list[str] = []
    line = prefix
    for i, byte in enumerate(data):
        line += f"{byte:02x}"
        if i == len(data) - 1:
            break
        line += ","
        if len(line) >= LINE_LIMIT:
            lines.append(line + "\\")
            line = "  "
    lines.append(line)
    return "\n".join(lines)


def reg_text(key: str, lines: Sequence[str], version: int) -> str:
    """A whole .reg file: header, blank line, ``[key]``, the value lines, and the closing blank line."""
    return "\n".join([HEADERS[version], "", f"[{key}]", *lines, "", ""])


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_reg_file(path: str | Path, text: str, version: int, *, codepage: str = "cp1252") -> None:
    """Write .reg text as regedit does: CRLF line ends; 5.00 as UTF-16LE with BOM, REGEDIT4 as ANSI."""
    if version not in HEADERS:
        raise RemediationError(f"unknown .reg version {version!r}")
    body = text.replace("\r\n", "\n").replace("\n", "\r\n")
    data = b"\xff\xfe" + body.encode("utf-16-le") if version == 5 else body.encode(codepage)
    Path(path).write_bytes(data)


def rollback_path(path: str | Path) -> Path:
    """Where the rollback of a patch written to ``path`` goes: ``<stem>-rollback<suffix>`` beside it."""
    p = Path(path)
    return p.with_name(f"{p.stem}-rollback{p.suffix or '.reg'}")


def write_remediation(path: str | Path, remediation: Remediation) -> tuple[Path, Path]:
    """Write the patch to ``path`` and the rollback beside it; returns both paths."""
    patch = Path(path)
    back = rollback_path(patch)
    write_reg_file(patch, remediation.reg, remediation.version)
    write_reg_file(back, remediation.rollback, remediation.version)
    return patch, back


# --------------------------------------------------------------------------- steps


def build_steps(
    *, key: str, version: int, entries: Sequence[str], state: str, delete_value: bool, restart_imc: bool
) -> list[str]:
    """The order matters: the IS reads the value only when it starts (KB 146764), and the IMS can
    only log on once the IS runs with the new list (KB 306308)."""
    os_name = "Windows NT 4.0" if version == 4 else "Windows 2000"
    backup = "logon-only-as-backup.reg"
    export = f'regedit /e {backup} "{key}"'
    if version == 4:
        export_note = f"`{export}` (NT 4.0 regedit writes REGEDIT4)"
    else:
        export_note = f"`{export}` (Windows 2000 regedit writes a Unicode 5.00 file)"
    steps = [
        "Stop the Microsoft Exchange Information Store service (`net stop MSExchangeIS`; confirm stopping the "
        "services that depend on it, such as the Internet Mail Service, and note which ones stopped). "
        "The value is read only when the store starts (KB 146764).",
        f"Back up the key before changing it: {export_note}, and keep the rollback .reg that came with this patch.",
    ]
    if delete_value:
        steps.append(
            "Delete the `Logon Only As` value: `regedit /s <patch>.reg` (the patch holds "
            f'`"{LOGON_ONLY_AS}"=-`), or delete it in Regedt32. Without the value every mailbox may log on '
            "again (KB 146764, KB 218920)."
        )
    else:
        listing = "; ".join(entries) if entries else "(empty list: nobody may log on, KB 146764)"
        if version == 4:
            how = (
                "import the patch (`regedit /s <patch>.reg`), or edit the value by hand in Regedt32 "
                "(double-click it to open the Multi-String Editor): one DN per line, no ENTER after the last "
                "line (KB 146764, KB 199954)"
            )
        else:
            how = (
                "import the patch (`regedit /s <patch>.reg`); Windows 2000 Regedit imports REG_MULTI_SZ but "
                "cannot edit it, so to change it by hand use Regedt32 (one DN per line, no ENTER after the "
                "last line, KB 199954)"
            )
        verb = "Create" if state == "absent" else "Set"
        steps.append(f"{verb} `{LOGON_ONLY_AS}` under {key} ({os_name}): {how}. Resulting list: {listing}")
    steps.append("Start the Microsoft Exchange Information Store service (`net start MSExchangeIS`).")
    if restart_imc:
        steps.append(
            "Then start the Internet Mail Service (`net start MSExchangeIMC`), after the store is running "
            "(KB 306308), and any other service that stopped with the store."
        )
    else:
        steps.append("Start again the services that stopped with the store in step 1.")
    if delete_value:
        verify = "Verify: the mailboxes and services refused before log on again (no new Event 1023 for them)"
    else:
        verify = (
            "Verify: the Application log shows no new Event 1023 (MSExchangeIS Private, Failure Audit) for these DNs"
        )
    if restart_imc:
        verify += " and no new 4018 from MSExchangeIMC"
    steps.append(verify + "; re-run `analyzer diagnose` on fresh exports to confirm.")
    steps.append("To undo: stop the store, import the rollback .reg (`regedit /s <rollback>.reg`), start the store.")
    if not delete_value and state != "absent" and entries:
        steps.append(
            "While the value is set, ExMerge cannot list mailboxes (KB 262225); delete the value when the "
            "restriction is no longer needed (KB 146764)."
        )
    return steps
