"""Builders of multi-server and many-case folders for tests/test_multiserver.py and test_many_cases.py.

Every file is written by the project's own writers (tests/writers) and read back by the real readers.
"""

from __future__ import annotations

from pathlib import Path

from analyzer.model import Event, RegistryKey, RegistryValue
from analyzer.rules.factories import ADMIN_DN, ORG, e1023, imc, sa_dn
from tests.writers import evt_writer, evtext_writer, evtx_writer, hive_writer
from tests.writers import regtext_writers as regtext

KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"


def ims_dn(server: str, org: str = ORG) -> str:
    return f"{org}/cn=Configuration/cn=Connections/cn=Internet Mail Connector ({server})"


def msmail_dn(server: str, org: str = ORG) -> str:
    return f"{org}/cn=Configuration/cn=Connections/cn=MS Mail Connector ({server})"


def refusals(server: str, dns: list[str], *, seconds: float = 0) -> list[Event]:
    """A 1023 per DN plus the IMS start failure, logged on ``server``."""
    out: list[Event] = []
    for n, dn in enumerate(dns):
        out.append(e1023(dn, computer=server, seconds=seconds + 10 * n))
    if any("Internet Mail Connector" in dn for dn in dns):
        out.append(imc(4018, computer=server, seconds=seconds + 2))
    return out


def list_tree(entries: list[str] | None, *, computer: str | None = None) -> RegistryKey:
    """A text-export tree (nameless root + HKEY_LOCAL_MACHINE) with ParametersSystem and, optionally,
    Control\\ComputerName\\ComputerName."""
    root = RegistryKey("")
    node = root.ensure_path(["HKEY_LOCAL_MACHINE", *KEY.split("\\")[1:]])
    if entries is not None:
        node.set_value(hive_writer.multi_sz("Logon Only As", list(entries)))
    if computer is not None:
        cn = root.ensure_path(["HKEY_LOCAL_MACHINE", "SYSTEM", "CurrentControlSet", "Control", "ComputerName"])
        cn.ensure_path(["ComputerName"]).set_value(RegistryValue("ComputerName", "REG_SZ", computer))
    return root


def system_hive(path: Path, entries: list[str] | None, *, computer: str | None) -> Path:
    """An offline SYSTEM hive with the list and (optionally) the computer name."""
    keys: dict[str, list[RegistryValue]] = {
        r"Services\MSExchangeIS\ParametersSystem": (
            [hive_writer.multi_sz("Logon Only As", list(entries))] if entries is not None else []
        )
    }
    if computer is not None:
        keys[r"Control\ComputerName\ComputerName"] = [RegistryValue("ComputerName", "REG_SZ", computer)]
    return hive_writer.write_hive(path, hive_writer.offline_system({1: keys}))


def write_log(path: Path, events: list[Event], form: str = "evt") -> Path:
    """``form``: evt | evtx | evtxt | evcsv (the file name's suffix is replaced to fit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if form == "evt":
        target = path.with_suffix(".Evt")
        evt_writer.write_evt(target, events)
        return target
    if form == "evtx":
        target = path.with_suffix(".evtx")
        evtx_writer.write_evtx(target, events, channel="Application")
        return target
    if form == "evtxt":
        return Path(evtext_writer.write_evtxt(path.with_suffix(".txt"), events))
    if form == "evcsv":
        return Path(evtext_writer.write_evcsv(path.with_suffix(".csv"), events))
    raise AssertionError(form)


def write_list(path: Path, entries: list[str] | None, *, computer: str | None = None, form: str = "reg4") -> Path:
    """``form``: reg4 | reg5 | regedt32 | regquery | hive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if form == "hive":
        return system_hive(path, entries, computer=computer)
    tree = list_tree(entries, computer=computer)
    if form == "reg4":
        return Path(regtext.write_reg(path.with_suffix(".reg"), tree, version=4))
    if form == "reg5":
        return Path(regtext.write_reg(path.with_suffix(".reg"), tree, version=5))
    if form == "regedt32":
        return Path(regtext.write_regedt32(path.with_suffix(".txt"), tree))
    if form == "regquery":
        return Path(regtext.write_regquery(path.with_suffix(".txt"), tree, style="3.0"))
    raise AssertionError(form)


#: The two-server case: EXCH01 refuses its IMS; EXCH02 refuses its MS Mail Connector, which only
#: EXCH01's list holds (the entry was added on the wrong server).
IMS01 = ims_dn("EXCH01")
MSMAIL02 = msmail_dn("EXCH02")
LIST01 = [sa_dn(1), MSMAIL02, ADMIN_DN]
LIST02 = [sa_dn(2), ADMIN_DN]


def two_servers(folder: Path, *, log_form: str = "evt", reg_form: str = "reg4", layout: str = "names") -> Path:
    """Write the two-server case.  ``layout``: ``names`` (EXCH01_AppEvent.Evt, EXCH02_ParametersSystem.reg
    side by side), ``folders`` (EXCH01/…, EXCH02/… with neutral file names), ``content`` (neutral
    names everywhere; registry exports carry ComputerName)."""
    folder.mkdir(parents=True, exist_ok=True)
    for server, dns, entries in (("EXCH01", [IMS01], LIST01), ("EXCH02", [MSMAIL02], LIST02)):
        if layout == "names":
            where, log_name, reg_name, computer = folder, f"{server}_AppEvent", f"{server}_ParametersSystem", None
        elif layout == "folders":
            where, log_name, reg_name, computer = folder / server, "AppEvent", "ParametersSystem", None
        elif layout == "content":
            where, log_name, reg_name, computer = folder, f"log-{server[-1]}", f"export-{server[-1]}", server
        else:
            raise AssertionError(layout)
        where.mkdir(parents=True, exist_ok=True)
        write_log(where / log_name, refusals(server, dns), log_form)
        write_list(where / (reg_name if reg_form != "hive" else f"{reg_name}_SYSTEM"), entries, computer=computer,
                   form=reg_form)  # fmt: skip
    return folder
