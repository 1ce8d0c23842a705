"""MPS Reports output: ``SERVER_Application.evt``, ``SERVER_System.txt`` … name their server and log.

Why: Microsoft's support collection tool (MPS Reports, Exchange flavour) writes every file of one
server with the computer name as prefix, and each event log twice -- the binary ``.evt`` and a text
export ``.txt``.  The prefix tells which server a file belongs to even when its content does not
(a registry export rarely names its computer); the pair tells that the ``.txt`` is the same log as
the ``.evt``, so its events are not new evidence.

A folder is read as MPS Reports output only when a prefix names an event log file of that tool's
pattern (``NAME_Application``/``NAME_System``/``NAME_Security``/``NAME_Directory Service`` … ``.evt``
or ``.txt``) -- a lone ``Exchange_Setup.log`` names no server.  The naming is inferred from
collected output, not from a published specification.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(a log file of the tool: ``SERVER_Application.evt`` …, any ``SERVER_`` prefixed name); compiled on
    first use: a case whose names hold no ``_`` (both patterns need one) never pays for them."""
    log_file = re.compile(
        r"^(?P<server>[A-Za-z0-9][A-Za-z0-9-]{0,14})_(?P<log>Application|System|Security|Directory[ _]Service"
        r"|DNS[ _]Server|File[ _]Replication[ _]Service)\.(?P<ext>evt|txt)$",
        re.IGNORECASE,
    )
    return log_file, re.compile(r"^(?P<server>[A-Za-z0-9][A-Za-z0-9-]{0,14})_.+$")


@dataclass(frozen=True)
class MpsName:
    """What an MPS Reports file name says: its server and, for a log file, which log it holds."""

    server: str
    log: str | None  # "application", "system" … for the event logs, else None


def recognise(paths: Iterable[str]) -> dict[str, MpsName]:
    """Display path -> MpsName for every file of MPS Reports output among ``paths``.

    Prefixes count per folder: a server is recognised in a folder holding one of its log files."""
    paths = list(paths)
    if not any("_" in _split(path)[1] for path in paths):  # no name can match: nothing to compile
        return {}
    log_file, prefixed = _patterns()
    servers: dict[tuple[str, str], str] = {}
    for path in paths:
        folder, name = _split(path)
        m = log_file.match(name)
        if m:
            servers[(folder, m.group("server").casefold())] = m.group("server")
    found: dict[str, MpsName] = {}
    for path in paths:
        folder, name = _split(path)
        m = prefixed.match(name)
        if not m or (folder, m.group("server").casefold()) not in servers:
            continue
        log = log_file.match(name)
        found[path] = MpsName(
            servers[(folder, m.group("server").casefold())],
            re.sub(r"[ _]+", " ", log.group("log")).casefold() if log else None,
        )
    return found


def same_logs(names: dict[str, MpsName]) -> dict[str, str]:
    """Text export -> binary log of the same server and log (``EXCH01_System.txt`` -> ``EXCH01_System.evt``)."""
    binaries: dict[tuple[str, str, str], str] = {}
    for path, n in names.items():
        if n.log and path.lower().endswith(".evt"):
            binaries[(_split(path)[0], n.server.casefold(), n.log)] = path
    out: dict[str, str] = {}
    for path, n in names.items():
        if n.log and path.lower().endswith(".txt"):
            twin = binaries.get((_split(path)[0], n.server.casefold(), n.log))
            if twin:
                out[path] = twin
    return out


def _split(path: str) -> tuple[str, str]:
    folder, _, name = path.replace("\\", "/").rpartition("/")
    return folder.casefold(), name
