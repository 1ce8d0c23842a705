"""Every hive kind recognised by its content (embedded file name and root structure), never by the name of
the file on disk, and mounted where it belongs; rules needing a SOFTWARE key read it from a given SOFTWARE
hive."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.diagnosis import diagnose
from analyzer.hivekind import embedded_kind, identify
from analyzer.model import RegistryKey
from analyzer.registry import read_registry
from tests.conftest import corpus_file
from tests.writers.evt_writer import write_evt
from tests.writers.hive_writer import write_hive

SA_1005 = "0xc00206b7"


W2K_SOFTWARE = ("Classes\\.txt", "Clients", "Microsoft\\Rpc\\ClientProtocols", "Microsoft\\Windows NT", "Policies",
                "Program Groups", "Secure")  # fmt: skip
NT4_SOFTWARE = ("Classes", "Description", "Microsoft\\Exchange", "Program Groups", "Secure",
                "Windows 3.1 Migration Status")  # fmt: skip
USER = ("AppEvents", "Console", "Control Panel\\Desktop", "Environment", "Keyboard Layout", "Software\\Microsoft")

# (kind, root keys, embedded file name, mount of the root, a key to find by full path)
KINDS = [
    ("SYSTEM", ("ControlSet001\\Services", "Select", "Setup"), "\\SystemRoot\\System32\\Config\\SYSTEM",
     "HKLM\\SYSTEM", "HKLM\\SYSTEM\\CurrentControlSet\\Services"),
    ("SOFTWARE", W2K_SOFTWARE, "emRoot\\System32\\Config\\SOFTWARE", "HKLM\\SOFTWARE",
     "HKLM\\SOFTWARE\\Microsoft\\Rpc\\ClientProtocols"),
    ("SOFTWARE", NT4_SOFTWARE, "", "HKLM\\SOFTWARE", "HKLM\\SOFTWARE\\Microsoft\\Exchange"),
    ("SAM", ("SAM\\Domains\\Account",), "\\SystemRoot\\System32\\Config\\SAM", "HKLM\\SAM",
     "HKLM\\SAM\\SAM\\Domains\\Account"),
    ("SECURITY", ("Policy\\Accounts", "RXACT", "SAM"), "emRoot\\System32\\Config\\SECURITY", "HKLM\\SECURITY",
     "HKLM\\SECURITY\\Policy\\Accounts"),
    ("DEFAULT", USER, "\\SystemRoot\\System32\\Config\\DEFAULT", "HKU\\.DEFAULT", "HKU\\.DEFAULT\\Control Panel\\Desktop"),
    ("NTUSER", USER, "ents and Settings\\jdoe\\NTUSER.DAT", "HKU\\jdoe", "HKU\\jdoe\\Software\\Microsoft"),
    ("SUBKEY", ("ClientProtocols", "NameService"), "\\??\\C:\\temp\\rpc.hiv", "HKLM\\SOFTWARE\\Microsoft\\Rpc",
     "HKLM\\SOFTWARE\\Microsoft\\Rpc\\ClientProtocols"),
    ("SUBKEY", ("ParametersSystem",), "\\??\\A:\\is.key",
     "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS",
     "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIS\\ParametersSystem"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "keys", "embedded", "mount", "lookup"), KINDS, ids=[f"{k[0]}-{i}" for i, k in enumerate(KINDS)]
)
def test_each_kind_by_content_whatever_the_file_is_called(
    tmp_path: Path, kind: str, keys: tuple[str, ...], embedded: str, mount: str, lookup: str
) -> None:
    root = RegistryKey("ROOT")
    for path in keys:
        root.ensure_path(path.split("\\"))
    # The file on disk is named like another kind, to show the name is not used.
    path = write_hive(tmp_path / "SYSTEM.sav", root, file_name=embedded)
    reg = read_registry(str(path))
    assert reg.hive_kind == kind
    assert repr(reg).endswith(f"mounted at {mount})")
    assert reg.key(lookup) is not None, lookup


def test_embedded_names() -> None:
    assert embedded_kind("\\SystemRoot\\System32\\Config\\SOFTWARE") == "SOFTWARE"
    assert embedded_kind("ings\\jdoe\\NTUSER.DAT") == "NTUSER"
    assert embedded_kind("Config\\system.alt") == "SYSTEM"
    assert embedded_kind("\\??\\C:\\temp\\x.hiv") is None and embedded_kind("") is None


def test_structure_wins_over_the_embedded_name_and_says_so() -> None:
    root = RegistryKey("ROOT")
    for path in W2K_SOFTWARE:
        root.ensure_path(path.split("\\"))
    found = identify(root, "\\SystemRoot\\System32\\Config\\SYSTEM")
    assert found.kind == "SOFTWARE" and "the file says it was SYSTEM" in (found.mapping or "")


def test_bare_root_is_placed_by_embedded_name_or_left_unknown() -> None:
    assert identify(RegistryKey("ROOT"), "\\??\\UNC\\x\\DEFAULT").mount == ("HKEY_USERS", ".DEFAULT")
    unknown = identify(RegistryKey("ROOT"), "Desktop\\1\\MultiSzHive")
    assert unknown.kind == "unknown" and unknown.mount == ()


@pytest.mark.parametrize(
    ("name", "kind", "lookup"),
    [
        ("regipy__SAM", "SAM", "HKLM\\SAM\\SAM\\Domains"),
        ("dfwinreg__SAM", "SAM", "HKLM\\SAM\\SAM\\Domains"),
        ("regipy__SECURITY", "SECURITY", "HKLM\\SECURITY\\Policy"),
        ("dfwinreg__SECURITY", "SECURITY", "HKLM\\SECURITY\\Policy"),
        ("hivex__minimal", "DEFAULT", None),
        ("yarp__MultiSzHive", "unknown", None),
        ("pyreg__UNICODE_TESTS", "unknown", None),
    ],
)
def test_corpus_hives(name: str, kind: str, lookup: str | None) -> None:
    reg = read_registry(str(corpus_file("hive", name)))
    assert reg.hive_kind == kind
    if lookup is not None:
        assert reg.key(lookup) is not None


@pytest.mark.parametrize("name", ["regipy__SYSTEM.xz", "regipy__SYSTEM_WIN_10_1709.xz"])
def test_corpus_system_hives(corpus_xz, name: str) -> None:
    reg = read_registry(str(corpus_xz("hive", name)))
    assert reg.hive_kind == "SYSTEM" and reg.key("HKLM\\SYSTEM\\CurrentControlSet\\Services") is not None


def _sa_case(tmp_path: Path, software_keys: tuple[str, ...]) -> Path:
    from analyzer.model import Event, EventType
    from analyzer.rules.factories import T0

    case = tmp_path / "case"
    case.mkdir()
    event = Event(
        path="x", record=1, offset=None, time_generated=T0, time_written=T0, event_id=1005,
        event_id_full=0xC00003ED, type=EventType.ERROR, category=0, source="MSExchangeSA", computer="EXCH01",
        sid=None, strings=(SA_1005,),
    )  # fmt: skip
    write_evt(case / "AppEvent.Evt", [event])
    root = RegistryKey("ROOT")
    for path in software_keys:
        root.ensure_path(path.split("\\"))
    write_hive(case / "server1-soft.bin", root, file_name="emRoot\\System32\\Config\\SOFTWARE")
    return case


def test_kb267573_reads_a_given_software_hive(tmp_path: Path) -> None:
    # An NT 4.0-style SOFTWARE root (no Classes/Clients/Policies), saved under a name that says nothing.
    keys = ("Description", "Microsoft\\Rpc\\NameService", "Program Groups", "Secure", "Windows 3.1 Migration Status")
    dx = diagnose(str(_sa_case(tmp_path, keys))).to_dict()
    text = " ".join(f["explanation"] for f in dx["findings"])
    assert "send the SOFTWARE hive" not in text
    (finding,) = [f for f in dx["findings"] if f["rule"] == "KB267573"]
    assert finding["severity"] == "error" and "is absent in server1-soft.bin" in finding["explanation"]


def test_kb267573_with_the_key_in_the_software_hive(tmp_path: Path) -> None:
    dx = diagnose(str(_sa_case(tmp_path, W2K_SOFTWARE))).to_dict()
    (finding,) = [f for f in dx["findings"] if f["rule"] == "KB267573"]
    assert finding["severity"] == "warning" and "send the SOFTWARE hive" not in finding["explanation"]
