"""Remediation: the .reg patch that fixes ``Logon Only As``, its rollback, and the steps around it.

The patch never rebuilds the list from scratch.  Invariant: **the patched list keeps every entry of
the current list**, verbatim and in the admin's order, and appends the DNs that were refused.  A
near-miss entry (the refused object written with other blanks, its display name, a typo …) is kept
too and reported as "probably mistyped — remove it after the fix works"; only
``replace_near_misses=True`` (CLI ``--replace-near-misses``) replaces it in place, and only when
``dn.near_miss`` confirms it.  Every patch then passes the lock-out check (``analyzer.lockout``):
no component the list admits today, and none the case shows working, may be refused after it.
A patch that would break either rule is not built (``LockOutError``).

It is written the way regedit itself exports REG_MULTI_SZ, so that the file an engineer hands over
can be compared byte-for-byte with a fresh export:

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.dn import near_miss
from analyzer.lockout import Working, lockout_problems
from analyzer.output import write_files
from analyzer.wintypes import ROOT_ALIASES

LOGON_ONLY_AS = "Logon Only As"
DEFAULT_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
HEADERS = {4: "REGEDIT4", 5: "Windows Registry Editor Version 5.00"}
LINE_LIMIT = 77  # regedit breaks a hex line once it has reached this many columns
STATES = ("absent", "empty", "set", "unknown")

_CONTROL_SET = re.compile(r"^controlset\d{3}$", re.IGNORECASE)


class RemediationError(ValueError):
    """The patch cannot be built as asked (unknown list, a DN the code page cannot hold ...)."""


class LockOutError(RemediationError):
    """The patch would drop an entry or lock out something that works today; ``problems`` says what."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("the patch would lock out what works today: " + "; ".join(self.problems))


@dataclass(frozen=True)
class NearMissEntry:
    """A current entry that is probably a mistyped copy of a DN to add, and what the patch did with it."""

    entry: str  # the exact text of the entry (what to delete after the fix works)
    dn: str  # the DN it is a near miss of
    reason: str  # dn.NearMiss.reason
    action: str  # "kept" (default) | "replaced" (replace_near_misses)

    def to_dict(self) -> dict[str, str]:
        return {"entry": self.entry, "dn": self.dn, "reason": self.reason, "action": self.action}


@dataclass(frozen=True)
class Remediation:
    """What to change and how to undo it (see ``build_remediation``)."""

    reg: str  # .reg text ("\n" line ends; ``write_reg_file`` writes CRLF and the right encoding)
    rollback: str  # .reg text restoring the value as found (or deleting it if it was absent)
    version: int  # 4 (REGEDIT4, NT 4.0) or 5 (Windows Registry Editor Version 5.00)
    entries: list[str]  # the resulting list, in order ([] when the patch deletes the value)
    steps: list[str] = field(default_factory=list)  # ordered, with KB references
    near_misses: list[NearMissEntry] = field(default_factory=list)  # probably mistyped entries, kept or replaced

    def to_dict(self) -> dict[str, object]:
        """The ``remediation`` object of the diagnosis JSON contract."""
        return {
            "reg": self.reg,
            "rollback": self.rollback,
            "version": self.version,
            "entries": list(self.entries),
            "near_misses": [m.to_dict() for m in self.near_misses],
            "steps": list(self.steps),
        }


def build_remediation(
    *,
    state: str,
    current: list[str],
    add: list[str],
    near_misses: Mapping[str, str] | None = None,
    replace_near_misses: bool = False,
    working: Sequence[Working] = (),
    listed_elsewhere: Sequence[tuple[str, str]] = (),
    key: str = DEFAULT_KEY,
    version: int = 4,
    delete_value: bool = False,
    restart_imc: bool = False,
    codepage: str = "cp1252",
) -> Remediation:
    """Build the patch, its rollback and the steps.

    ``state`` is the ``Logon Only As`` state found (absent | empty | set); ``current`` the entries
    found, in order; ``add`` the exact DNs to append.  ``near_misses`` maps a current entry that is
    probably a mistyped copy of a DN to that DN: it is kept and named (``near_misses`` of the
    result) unless ``replace_near_misses``, which replaces it in place.  A DN already held (same
    letters, any case) is not added twice.  Empty elements (a trailing ENTER, KB 199954) are dropped
    from the patched list: they name nothing (the rollback keeps them).  ``working``: what the case shows working
    (``lockout.working_components``), which the patched list must go on admitting.
    ``listed_elsewhere``: (entry, source) pairs that another export of the same list holds and
    ``current`` does not; a component entry among them that the patched list would not hold means the
    exports disagree about what works today, and no patch is offered.
    ``delete_value`` builds the patch that removes the value (everyone may log on again).
    ``codepage`` is the ANSI code page of a REGEDIT4 patch.

    Raises ``RemediationError`` when the state is unknown (a patch would overwrite entries nobody
    has seen), the version is not 4/5, or a DN cannot be written in the REGEDIT4 code page, and
    ``LockOutError`` when the patched list would drop a current entry that is not a confirmed near
    miss, or stop admitting what works today.
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
    misses = near_miss_entries(found, near_misses or {}, replace=replace_near_misses)
    replaced = {m.entry: m.dn for m in misses if m.action == "replaced"}
    wanted = [*add, *(near_misses or {}).values()]  # a near miss's DN belongs in the list either way
    entries = [] if delete_value else merge_entries(found, wanted, replaced)
    problems = [] if delete_value else dropped_entries(found, entries, replaced)
    problems += lockout_problems(
        found, entries, delete_value=delete_value, working=working, admits_all=state == "absent"
    )
    if not delete_value:
        problems += [
            f"the entry {entry!r} is listed in {source}, another export of this list, and the patched list "
            "(built on the export used) would not hold it: confirm the list on the server first"
            for entry, source in listed_elsewhere
            if lockout_problems([entry], entries)
        ]
    if problems:
        raise LockOutError(problems)
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
            key=key,
            version=version,
            entries=entries,
            state=state,
            delete_value=delete_value,
            restart_imc=restart_imc,
            kept_near_misses=[m.entry for m in misses if m.action == "kept" and not delete_value],
        ),
        near_misses=[] if delete_value else misses,
    )


def near_miss_entries(current: Sequence[str], near_misses: Mapping[str, str], *, replace: bool) -> list[NearMissEntry]:
    """The near misses that are in the current list (exact text), each confirmed by ``dn.near_miss``.

    A pair that ``dn.near_miss`` does not confirm (another object, or a case-only difference, which
    counts as listed) is not named (the entry is kept and nobody is told to remove it); with
    ``replace`` it is refused, since replacing it would drop an entry that may be working."""
    present = set(current)
    out: list[NearMissEntry] = []
    for entry, dn in near_misses.items():
        if entry not in present:
            continue
        miss = near_miss(dn, entry)
        if miss is None or miss.counts_as_listed:
            if not replace:
                continue
            raise LockOutError([f"the entry {entry!r} is not a near miss of {dn!r}: it must stay in the list"])
        out.append(NearMissEntry(entry, dn, miss.reason, "replaced" if replace else "kept"))
    return out


def merge_entries(current: Sequence[str], add: Iterable[str], replace: Mapping[str, str] | None = None) -> list[str]:
    """Every non-blank current entry verbatim and in order (a confirmed near miss in ``replace`` is
    replaced in place by its DN), then the DNs to add that the list does not hold yet (any case)."""
    replace = replace or {}
    out: list[str] = []
    held: set[str] = set()  # casefolded (dn.same_dn): a DN held in any case is not added again
    for entry in current:
        if entry == "":
            continue  # an empty element names nothing (KB 199954 warns against the trailing ENTER)
        new = replace.get(entry, entry)
        if new != entry and new.casefold() in held:
            continue  # the replacing DN is already in the list: the near miss simply goes
        out.append(new)
        held.add(new.casefold())
    for dn in [*replace.values(), *add]:
        if dn and dn.casefold() not in held:
            out.append(dn)
            held.add(dn.casefold())
    return out


def dropped_entries(current: Sequence[str], patched: Sequence[str], replaced: Mapping[str, str]) -> list[str]:
    """The invariant: every non-blank current entry is in the patched list, verbatim, unless it is a
    confirmed near miss that was replaced by its DN.  One sentence per entry that breaks it."""
    kept = set(patched)
    folded = {p.casefold() for p in patched}  # dn.same_dn
    return [
        f"the patched list drops the entry {entry!r}"
        for entry in dict.fromkeys(current)
        if entry.strip() and entry not in kept and not (entry in replaced and replaced[entry].casefold() in folded)
    ]


def live_key(key: str) -> str:
    """Full root name and ``CurrentControlSet`` in place of an offline ``ControlSet00N``."""
    parts = [p for p in key.split("\\") if p]  # "/" is part of a key name, never a separator
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


def reg_file_bytes(text: str, version: int, *, codepage: str = "cp1252") -> bytes:
    """.reg text as regedit writes it: CRLF line ends; 5.00 as UTF-16LE with BOM, REGEDIT4 as ANSI."""
    if version not in HEADERS:
        raise RemediationError(f"unknown .reg version {version!r}")
    body = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return b"\xff\xfe" + body.encode("utf-16-le") if version == 5 else body.encode(codepage)


def write_reg_file(path: str | Path, text: str, version: int, *, codepage: str = "cp1252") -> None:
    """Write one .reg file whole or not at all (``analyzer.output``)."""
    write_files([(path, reg_file_bytes(text, version, codepage=codepage))])


def rollback_path(path: str | Path) -> Path:
    """Where the rollback of a patch written to ``path`` goes: ``<stem>-rollback<suffix>`` beside it."""
    p = Path(path)
    return p.with_name(f"{p.stem}-rollback{p.suffix or '.reg'}")


def write_remediation(path: str | Path, remediation: Remediation) -> tuple[Path, Path]:
    """Write the patch to ``path`` and the rollback beside it, both or neither; returns both paths.

    Raises ``analyzer.output.OutputError`` (one line naming the file) when either cannot be written."""
    patch = Path(path)
    back = rollback_path(patch)
    # A pair or nothing: a patch without its rollback (or a cut one) must never be left behind.
    write_files(
        [
            (patch, reg_file_bytes(remediation.reg, remediation.version)),
            (back, reg_file_bytes(remediation.rollback, remediation.version)),
        ]
    )
    return patch, back


# --------------------------------------------------------------------------- steps


def build_steps(
    *,
    key: str,
    version: int,
    entries: Sequence[str],
    state: str,
    delete_value: bool,
    restart_imc: bool,
    kept_near_misses: Sequence[str] = (),
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
    steps.append(
        verify + "; to confirm, run `analyzer verify BEFORE AFTER` (these exports as BEFORE, fresh ones as AFTER)."
    )
    if kept_near_misses:
        listing = "; ".join(repr(e) for e in kept_near_misses)
        steps.append(
            "After the fix works, remove the probably mistyped entr"
            + ("y" if len(kept_near_misses) == 1 else "ies")
            + f" the patch kept (delete exactly this text in Regedt32, stop and start the store as above): {listing}."
        )
    steps.append("To undo: stop the store, import the rollback .reg (`regedit /s <rollback>.reg`), start the store.")
    if not delete_value and state != "absent" and entries:
        steps.append(
            "While the value is set, ExMerge cannot list mailboxes (KB 262225); delete the value when the "
            "restriction is no longer needed (KB 146764)."
        )
    return steps
