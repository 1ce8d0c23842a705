"""The hive reader on hives built by tests/writers/hive_writer.py: decoding, damage, dirty hives, Registry view, CLI."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyzer.model import InputError, RegistryKey, RegistryValue
from analyzer.readers import hive
from analyzer.registry import Registry, read_registry
from tests.conftest import REPO
from tests.writers.hive_writer import build_hive, dword, key_tree, multi_sz, offline_system, write_dirt_log, write_hive

PS = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
IMS_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
SA_DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Servers/cn=EXCH01/cn=Microsoft System Attendant"
OLD_DN = IMS_DN.replace("EXCH01", "EXCH99")  # same length: the replayed sectors differ only in data
BACKENDS = ["rs", "python"]


def u16(text: str) -> bytes:
    return text.encode("utf-16-le")


# --------------------------------------------------------------------------- REG_MULTI_SZ decoding


@pytest.mark.parametrize(
    ("raw", "expected", "complaint"),
    [
        (b"", [], None),  # zero-length: present but empty
        (u16("\x00"), [], None),  # regedit's hex(7):00,00
        (u16("\x00\x00"), [], None),
        (u16("a\x00b\x00\x00"), ["a", "b"], None),  # canonical
        (u16("a\x00b\x00"), ["a", "b"], None),  # list terminator missing
        (u16("a\x00b"), ["a", "b"], None),  # both terminators missing
        (u16("a\x00\x00b\x00\x00"), ["a", "", "b"], "embedded empty string"),
        (u16("a\x00\x00\x00"), ["a", ""], "embedded empty string"),  # trailing ENTER in Regedt32 (KB 199954)
        (u16("a\x00b\x00\x00") + b"\x00", ["a", "b"], None),  # odd count, NUL pad byte: silent
        (u16("a\x00b\x00\x00") + b"\x41", ["a", "b"], "odd byte count"),
        (u16("ab") + b"c", ["ab"], "odd byte count"),
    ],
)
def test_multi_sz_decoding(raw: bytes, expected: list[str], complaint: str | None) -> None:
    complaints: list[str] = []
    assert hive.decode_multi_sz(raw, complaints.append) == expected
    if complaint is None:
        assert complaints == []
    else:
        assert any(complaint in c for c in complaints)


def test_string_and_number_decoding() -> None:
    assert hive.decode_value(1, u16("x\x00")) == "x"  # one character stays a string (regipy#267)
    assert hive.decode_value(1, u16("abc\x00junk")) == "abc"
    assert hive.decode_value(1, u16("ab") + b"\x00") == "ab"
    assert hive.decode_value(6, u16("\\Registry\\Machine")) == "\\Registry\\Machine"
    assert hive.decode_value(4, b"\x01\x00\x00\x00") == 1
    assert hive.decode_value(5, b"\x00\x00\x00\x01") == 1
    assert hive.decode_value(11, struct.pack("<Q", 2**40)) == 2**40
    assert hive.decode_value(4, b"") is None
    assert hive.decode_value(0x20004, b"\x01") == b"\x01"
    assert hive.type_name(0x20004) == "REG_0x20004"
    assert hive.type_name(8) == "REG_RESOURCE_LIST"


# --------------------------------------------------------------------------- lookups


@pytest.fixture(scope="module")
def exchange_hive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    values = [
        RegistryValue("", "REG_SZ", "the default", None),
        RegistryValue("(Default)", "REG_SZ", "literally named", None),
        multi_sz("Logon Only As", [IMS_DN, "", SA_DN]),
        RegistryValue("Blank", "REG_MULTI_SZ", [], b""),
    ]
    root = key_tree("MSExchangeIS", {"ParametersSystem": values, "ParametersPrivate": [dword("x", 1)]})
    return write_hive(tmp_path_factory.mktemp("ex") / "MSExchangeIS.hiv", root)


@pytest.mark.parametrize("backend", BACKENDS)
def test_value_lookup_is_case_insensitive_and_default_is_empty_name(exchange_hive: Path, backend: str) -> None:
    warnings: list = []
    root = hive.read(str(exchange_hive), backend=backend, warn=warnings.append).root
    key = root.subkey("PARAMETERSSYSTEM")
    assert key is not None and key.name == "ParametersSystem"
    assert key.value("logon only as").data == [IMS_DN, "", SA_DN]
    assert key.value("").data == "the default"
    assert key.value("(default)").data == "literally named"  # a real value of that name wins
    assert key.value("Blank").data == []
    assert key.value("missing") is None
    assert root.subkey("nope") is None
    assert [w.message for w in warnings] == [
        "embedded empty string in multi-string value 'Logon Only As' of \\ParametersSystem"
    ]


def test_default_alias_without_a_named_default(tmp_path: Path) -> None:
    path = write_hive(tmp_path / "h", key_tree("K", {"": [RegistryValue("", "REG_SZ", "d", None)]}))
    assert hive.read(str(path)).root.value("(Default)").data == "d"


# --------------------------------------------------------------------------- Registry view


@pytest.fixture(scope="module")
def system_hive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sets = {
        1: {r"Services\MSExchangeIS\ParametersSystem": [multi_sz("Logon Only As", [SA_DN, IMS_DN])]},
        2: {r"Services\MSExchangeIS\ParametersSystem": [multi_sz("Logon Only As", [SA_DN])]},
    }
    model = offline_system(sets, current=2, default=2, failed=0, last_known_good=1)
    return write_hive(tmp_path_factory.mktemp("sys") / "SYSTEM", model, file_name="SYSTEM")


def test_offline_system_resolves_current_control_set_through_select(system_hive: Path) -> None:
    reg = read_registry(str(system_hive))
    assert reg.select() == {"Current": 2, "Default": 2, "Failed": 0, "LastKnownGood": 1}
    assert reg.current_control_set() == "ControlSet002"
    assert reg.control_sets() == ["ControlSet001", "ControlSet002"]
    found = reg.key(PS)
    assert found is not None
    assert found.control_set == "ControlSet002"
    assert found.path == r"HKLM\SYSTEM\ControlSet002\Services\MSExchangeIS\ParametersSystem"
    assert reg.value(PS, "Logon Only As").data == [SA_DN]
    by_set = reg.values_by_control_set(PS, "Logon Only As")
    assert by_set["ControlSet001"].data == [SA_DN, IMS_DN]
    assert by_set["ControlSet002"].data == [SA_DN]
    # HKEY_LOCAL_MACHINE spelling and hive-relative paths reach the same key
    assert reg.value(PS.replace("HKLM", "HKEY_LOCAL_MACHINE"), "logon only as").data == [SA_DN]
    assert reg.value(r"ControlSet001\Services\MSExchangeIS\ParametersSystem", "Logon Only As").data == [SA_DN, IMS_DN]


@pytest.mark.parametrize(
    ("root_name", "entries", "mapping"),
    [
        ("MSExchangeIS", {"ParametersSystem": [multi_sz("Logon Only As", [IMS_DN])]}, "MSExchangeIS"),
        ("ParametersSystem", {"": [multi_sz("Logon Only As", [IMS_DN])]}, "ParametersSystem"),
    ],
)
def test_save_key_hive_answers_full_path_lookups(tmp_path: Path, root_name: str, entries, mapping: str) -> None:
    path = write_hive(tmp_path / f"{root_name}.key", key_tree(root_name, entries))
    reg = read_registry(str(path))
    found = reg.key(PS)
    assert found is not None
    assert mapping in (found.mapping or "")
    assert "Save Key" in found.mapping
    assert reg.value(PS, "Logon Only As").data == [IMS_DN]
    assert found.control_set is None  # a Save Key hive has no Select to resolve through


def test_walk_and_frame_over_a_hive(system_hive: Path) -> None:
    reg = read_registry(str(system_hive))
    paths = [p for p, _ in reg.walk()]
    assert paths[0] == r"HKLM\SYSTEM"
    assert r"HKLM\SYSTEM\ControlSet001\Services\MSExchangeIS\ParametersSystem" in paths
    frame = reg.to_frame()
    row = frame[(frame["value"] == "Logon Only As") & frame["key"].str.contains("ControlSet002")]
    assert row["data"].iloc[0] == [SA_DN]


# --------------------------------------------------------------------------- CLI contract


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )


def test_cli_registry_key_json_matches_contract(system_hive: Path) -> None:
    done = run_cli("registry", str(system_hive), "--key", PS, "--format", "json")
    assert done.returncode == 0, done.stderr
    obj = json.loads(done.stdout)
    assert obj["key"] == r"HKLM\SYSTEM\ControlSet002\Services\MSExchangeIS\ParametersSystem"
    assert obj["requested"] == PS
    assert obj["control_set"] == "ControlSet002"
    assert obj["last_write"].endswith("Z")
    assert obj["values"] == [{"name": "Logon Only As", "type": "REG_MULTI_SZ", "data": [SA_DN]}]
    assert obj["subkeys"] == []


def test_cli_registry_missing_key_exits_2_with_one_line(system_hive: Path) -> None:
    done = run_cli(
        "registry", str(system_hive), "--key", r"HKLM\SYSTEM\CurrentControlSet\Services\Nope", "--format", "json"
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "key not found" in lines[0] and "Nope" in lines[0]


# --------------------------------------------------------------------------- damage


def _patch(data: bytes, pos: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, pos, *values)
    return bytes(out)


def _nk_pos(path: Path, *names: str) -> int:
    """File position of the nk cell data of a key (for patching its fields)."""
    node = hive.read(str(path), backend="python").root
    for name in names:
        node = node.subkey(name)
    return hive.BASE_BLOCK + node.offset + 4


def _tree() -> RegistryKey:
    return key_tree("R", {"A\\A1": [dword("v", 1)], "B\\B1": [dword("v", 2)], "C": [dword("v", 3), dword("w", 4)]})


def _walk_all(root) -> list[str]:
    """Walk with our own stack the way Registry.walk does (exceptions would fail the test)."""
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node.path)
        node.values()
        stack.extend(node.subkeys())
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_subkey_list_pointing_outside_the_file_is_reported_and_the_walk_goes_on(tmp_path: Path, backend: str) -> None:
    good = tmp_path / "good"
    write_hive(good, _tree())
    pos = _nk_pos(good, "A")
    bad = tmp_path / "bad"
    bad.write_bytes(_patch(good.read_bytes(), pos + 28, "<I", 0x7FFFFFF0))
    warnings: list = []
    root = hive.read(str(bad), backend=backend, warn=warnings.append).root
    paths = _walk_all(root)
    assert sorted(paths) == ["", "\\A", "\\A\\A1", "\\B", "\\B\\B1", "\\C"]
    assert any("\\A" in w.message and "outside" in w.message for w in warnings), warnings
    # A1 is still found: its cell names A as parent (recovered by scanning the hive bins)
    assert any("1 more subkeys of \\A recovered by scanning" in w.message for w in warnings), warnings


@pytest.mark.parametrize("backend", BACKENDS)
def test_cyclic_subkey_list_is_cut(tmp_path: Path, backend: str) -> None:
    good = tmp_path / "good"
    write_hive(good, _tree())
    root = hive.read(str(good), backend="python").root
    root_list = root.key_node.subkey_list
    pos = _nk_pos(good, "B", "B1")
    data = _patch(good.read_bytes(), pos + 20, "<I", 3)  # B1 claims 3 subkeys ...
    bad = tmp_path / "cycle"
    bad.write_bytes(_patch(data, pos + 28, "<I", root_list))  # ... the root's list: A, B (its ancestor), C
    warnings: list = []
    start = time.process_time()  # CPU time: a loaded machine does not make it longer
    reg = Registry(hive.read(str(bad), backend=backend, warn=warnings.append))
    paths = [p for p, _ in reg.walk()]
    assert time.process_time() - start < 5
    assert any("ancestor" in w.message for w in warnings)
    assert len(paths) < 50


def test_value_data_outside_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good"
    write_hive(good, key_tree("R", {"K": [RegistryValue("s", "REG_SZ", "a long enough string", None), dword("d", 7)]}))
    root = hive.read(str(good), backend="python").root
    key = root.subkey("K")
    vk_list_pos = hive.BASE_BLOCK + key.key_node.value_list + 4
    first_vk = struct.unpack_from("<I", good.read_bytes(), vk_list_pos)[0]
    bad = tmp_path / "bad"
    bad.write_bytes(_patch(good.read_bytes(), hive.BASE_BLOCK + first_vk + 4 + 8, "<I", 0x7FFFFF00))
    warnings: list = []
    values = hive.read(str(bad), warn=warnings.append).root.subkey("K").values()
    assert [v.name for v in values] == ["d"]
    assert any("'s'" not in w.message and "outside" in w.message for w in warnings)


def test_bad_checksum_is_a_warning(tmp_path: Path) -> None:
    data = build_hive(_tree())
    path = tmp_path / "h"
    path.write_bytes(_patch(data, 508, "<I", 0x12345678))
    warnings: list = []
    root = hive.read(str(path), warn=warnings.append).root
    assert len(_walk_all(root)) == 6
    assert any("checksum" in w.message for w in warnings)


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncated_hive_gives_partial_results(tmp_path: Path, backend: str) -> None:
    root = RegistryKey("R")
    for i in range(300):
        root.ensure_path([f"Key{i:03d}"]).set_value(RegistryValue("data", "REG_BINARY", bytes(200), None))
    data = build_hive(root)
    path = tmp_path / "cut"
    path.write_bytes(data[: len(data) // 2])
    warnings: list = []
    walked = _walk_all(hive.read(str(path), backend=backend, warn=warnings.append).root)
    assert 1 < len(walked) < 301
    assert any("truncated" in w.message for w in warnings)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "not a regf"), (b"regf" + bytes(100), "shorter than"), (b"hello world" * 1000, "not a regf")],
)
def test_not_a_hive_is_an_input_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        hive.read(str(path))
    assert reason in str(info.value) and str(path) in str(info.value)


def test_root_offset_damaged_falls_back_to_a_scan(tmp_path: Path) -> None:
    data = build_hive(_tree())
    bad = bytearray(_patch(data, 36, "<I", 0x7FFFFF00))
    struct.pack_into("<I", bad, 508, hive.checksum(bad))
    path = tmp_path / "h"
    path.write_bytes(bytes(bad))
    warnings: list = []
    root = hive.read(str(path), warn=warnings.append).root
    assert root.name == "R" and len(_walk_all(root)) == 6
    assert any("root key unreadable" in w.message for w in warnings)


# --------------------------------------------------------------------------- dirty hives


def _dirty_pair(tmp_path: Path, name: str = "SYSTEM") -> tuple[Path, bytes]:
    """A dirty hive whose log (old DIRT format) holds the newer Logon Only As list."""
    old = offline_system({1: {r"Services\MSExchangeIS\ParametersSystem": [multi_sz("Logon Only As", [OLD_DN])]}})
    new = offline_system({1: {r"Services\MSExchangeIS\ParametersSystem": [multi_sz("Logon Only As", [IMS_DN])]}})
    dirty = build_hive(old, dirty=True, version=(1, 3), sequence=9)
    wanted = build_hive(new, version=(1, 3), sequence=9)
    assert len(dirty) == len(wanted)
    path = tmp_path / name
    path.write_bytes(dirty)
    return path, wanted


def test_dirty_hive_is_replayed_from_its_log_without_touching_the_input(tmp_path: Path) -> None:
    path, wanted = _dirty_pair(tmp_path)
    write_dirt_log(tmp_path / "system.log", path.read_bytes(), wanted)  # other letter case: still found
    before = path.read_bytes()
    warnings: list = []
    reg = Registry(hive.read(str(path), warn=warnings.append))
    assert reg.value(PS, "Logon Only As").data == [IMS_DN]
    assert any(w.message.startswith("hive is dirty") and "applied 1 log(s)" in w.message for w in warnings)
    assert path.read_bytes() == before
    header = reg.file.root.header
    assert not header.dirty and header.checksum_ok


def test_dirty_hive_without_logs_is_read_as_it_is_with_a_warning(tmp_path: Path) -> None:
    path, _ = _dirty_pair(tmp_path)
    warnings: list = []
    reg = Registry(hive.read(str(path), warn=warnings.append))
    assert reg.value(PS, "Logon Only As").data == [OLD_DN]
    assert any("dirty" in w.message and "may miss recent changes" in w.message for w in warnings)


def test_unreadable_log_is_reported(tmp_path: Path) -> None:
    path, _ = _dirty_pair(tmp_path)
    (tmp_path / "SYSTEM.LOG1").write_bytes(b"garbage" * 200)
    warnings: list = []
    hive.read(str(path), warn=warnings.append)
    assert any("not understood" in w.message for w in warnings)
    assert any("dirty" in w.message and "could not be applied" in w.message for w in warnings)


def test_find_logs_is_case_insensitive_and_exact(tmp_path: Path) -> None:
    for name in ("SYSTEM", "system.LOG", "SYSTEM.log1", "SYSTEM.LOG2", "SYSTEM.sav", "SYSTEM2.LOG1"):
        (tmp_path / name).write_bytes(b"x")
    found = sorted(Path(p).name for p in hive.find_logs(str(tmp_path / "SYSTEM")))
    assert found == ["SYSTEM.LOG2", "SYSTEM.log1", "system.LOG"]


# --------------------------------------------------------------------------- fuzzing

FUZZ_EXAMPLES = int(os.environ.get("HIVE_FUZZ_EXAMPLES", "60"))  # raise it for a long local run
_FUZZ_BASE = build_hive(
    key_tree(
        "R",
        {
            "A\\A1\\A11": [dword("v", 1), multi_sz("m", ["x", "y"])],
            "B": [
                RegistryValue("s", "REG_SZ", "text" * 10, None),
                RegistryValue("b", "REG_BINARY", bytes(20000), None),
            ],
            "C": [dword(f"d{i}", i) for i in range(20)],
        },
    )
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_damage_never_raises_or_hangs(tmp_path_factory: pytest.TempPathFactory, backend: str) -> None:
    """Overwrite random bytes of the hive bins: reading and walking must end, with warnings, never a traceback."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(
            st.tuples(st.integers(0, len(_FUZZ_BASE) - 4), st.binary(min_size=1, max_size=4)), min_size=1, max_size=8
        )
    )
    def check(patches: list[tuple[int, bytes]]) -> None:
        data = bytearray(_FUZZ_BASE)
        for pos, chunk in patches:
            data[pos : pos + len(chunk)] = chunk
        path = tmp_path_factory.mktemp("fuzz") / "h"
        path.write_bytes(bytes(data))
        try:
            file = hive.read(str(path), backend=backend)
        except InputError:
            return  # nothing usable (e.g. the root cell destroyed and no other root found): a one-line error
        reg = Registry(file)
        for _, node in reg.walk():
            node.values()
            node.class_name  # noqa: B018 - must not raise either
        assert len(list(reg.walk())) < 1000

    check()


def test_random_log_entries_never_raise(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A dirty hive beside a log of random HvLE entries: replay what fits, warn, never a traceback."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    dirty = build_hive(_tree(), dirty=True, sequence=3)
    entry = st.tuples(
        st.integers(0, 9000), st.integers(1, 4), st.integers(0, 3), st.integers(0, 8192), st.binary(max_size=64)
    )

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(entry, min_size=1, max_size=4))
    def check(entries: list[tuple[int, int, int, int, bytes]]) -> None:
        log = bytearray(dirty[:512])
        for size, seq, pages, offset, tail in entries:
            body = struct.pack("<4sIIIII", b"HvLE", size, 0, seq, len(dirty) - 4096, pages) + bytes(16)
            body += struct.pack("<II", offset, 512) * pages + tail
            log += body.ljust(max(size, len(body)), b"\x00")[: max(size, 40)]
        folder = tmp_path_factory.mktemp("log")
        (folder / "h").write_bytes(dirty)
        (folder / "h.LOG1").write_bytes(bytes(log))
        warnings: list = []
        reg = Registry(hive.read(str(folder / "h"), warn=warnings.append))
        for _, node in reg.walk():
            node.values()
        assert any("dirty" in w.message for w in warnings)

    check()
