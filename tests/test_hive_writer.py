"""The test hive writer produces regf files that regipy, python-registry, libregf and our reader agree on.

If the writer were wrong, every hive-based test would test nothing; so its output is checked
against three independent parsers here, including round trips of random trees (hypothesis).
"""

from __future__ import annotations

import os
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model import RegistryKey, RegistryValue
from analyzer.readers import hive
from tests.writers.hive_writer import build_hive, dword, key_tree, multi_sz, offline_system, write_hive

Registry = pytest.importorskip("Registry.Registry")
pyregf = pytest.importorskip("pyregf")

WHEN = datetime(1999, 12, 31, 23, 59, 58, 123456, tzinfo=UTC)
ROUND_TRIPS = int(os.environ.get("HIVE_ROUND_TRIPS", "40"))  # raise it for a long local run


def sample_tree() -> RegistryKey:
    """One key of every value type, a default value, a big value, a class name, many subkeys."""
    values = [
        RegistryValue("", "REG_SZ", "default", None),
        RegistryValue("sz", "REG_SZ", "x", None),  # one character: regipy's int bug (#267)
        RegistryValue("expand", "REG_EXPAND_SZ", "%SystemRoot%\\x", None),
        RegistryValue("bin", "REG_BINARY", b"\x01\x02\x03", None),
        dword("dword", 0xDEADBEEF),
        RegistryValue("be", "REG_DWORD_BIG_ENDIAN", 1, None),
        RegistryValue("link", "REG_LINK", "\\Registry\\Machine\\X", None),
        multi_sz("Logon Only As", ["/o=Org/ou=Site/cn=Configuration/cn=Connections/cn=Internet Mail Connector (S1)"]),
        RegistryValue("res", "REG_RESOURCE_LIST", b"\x00" * 12, None),
        RegistryValue("qword", "REG_QWORD", 2**40 + 5, None),
        RegistryValue("none", "REG_NONE", b"", None),
        RegistryValue("odd type", "REG_0x20004", b"\x07\x00", None),
        RegistryValue("empty multi", "REG_MULTI_SZ", [], b""),
        RegistryValue("big", "REG_BINARY", bytes(range(256)) * 100, None),
        RegistryValue("Wert äöü", "REG_SZ", "Ünïcødé ™", None),
        RegistryValue("имя", "REG_SZ", "значение", None),
    ]
    root = key_tree("MSExchangeIS", {"ParametersSystem": values}, last_write=WHEN)
    root.subkey("ParametersSystem").class_name = "MyClass"
    many = root.add_subkey("Many")
    for i in range(700):
        many.add_subkey(f"Sub{i:04d}").last_write = WHEN
    return root


@pytest.fixture(scope="module", params=[(1, 3), (1, 5)], ids=["regf1.3", "regf1.5"])
def sample_hive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("writer") / f"sample-{request.param[1]}"
    return write_hive(path, sample_tree(), version=request.param, file_name="MSExchangeIS", ri_threshold=300)


def test_python_registry_reads_every_value(sample_hive: Path) -> None:
    reg = Registry.Registry(str(sample_hive))
    assert reg.root().name() == "MSExchangeIS"
    key = reg.open("ParametersSystem")
    expected = {v.name: v for v in sample_tree().subkey("ParametersSystem").values()}
    got = {("" if v.name() == "(default)" else v.name()): v for v in key.values()}
    assert set(got) == set(expected)
    for name, value in expected.items():
        if value.type not in ("REG_DWORD", "REG_BINARY") and 0 < len(hive_bytes(value)) <= 4:
            continue  # python-registry 1.3 returns the wrong bytes for small inline data of other types
        assert got[name].raw_data() == hive_bytes(value), name
    assert key.timestamp() == WHEN.replace(tzinfo=None, microsecond=123456)
    assert len(reg.open("Many").subkeys()) == 700


def hive_bytes(value: RegistryValue) -> bytes:
    from tests.writers.hive_writer import encode_data

    return encode_data(value)


def test_libregf_reads_every_value(sample_hive: Path) -> None:
    f = pyregf.file()
    f.open(str(sample_hive))
    try:
        key = f.get_key_by_path("ParametersSystem")
        expected = {v.name: v for v in sample_tree().subkey("ParametersSystem").values()}
        got = {(v.name or ""): v for v in key.values}
        assert set(got) == set(expected)
        for name, value in expected.items():
            if 0 < len(hive_bytes(value)) < 4:
                continue  # libregf returns 1-3 byte inline data shifted (python-registry and regipy agree with us)
            assert (got[name].data or b"") == hive_bytes(value), name
        assert key.class_name == "MyClass"
        assert f.get_key_by_path("Many").number_of_sub_keys == 700
        assert f.get_key_by_path("Many\\Sub0699") is not None
    finally:
        f.close()


def test_regipy_reads_the_tree(sample_hive: Path) -> None:
    from regipy.registry import RegistryHive

    reg = RegistryHive(str(sample_hive))
    key = reg.get_key("\\ParametersSystem")
    values = {v.name: v for v in key.iter_values(trim_values=False)}
    assert values["Logon Only As"].value == [
        "/o=Org/ou=Site/cn=Configuration/cn=Connections/cn=Internet Mail Connector (S1)"
    ]
    assert values["dword"].value == 0xDEADBEEF
    assert values["qword"].value == 2**40 + 5
    assert sum(1 for _ in reg.get_key("\\Many").iter_subkeys()) == 700


@pytest.mark.parametrize("backend", ["rs", "python"])
def test_our_reader_reads_the_tree(sample_hive: Path, backend: str) -> None:
    warnings: list = []
    root = hive.read(str(sample_hive), backend=backend, warn=warnings.append).root
    assert root.name == "MSExchangeIS"
    assert root.header.file_name == "MSExchangeIS" and not root.header.dirty and root.header.checksum_ok
    key = root.subkey("parameterssystem")
    assert key.class_name == "MyClass"
    assert key.last_write == WHEN
    expected = {v.name: v for v in sample_tree().subkey("ParametersSystem").values()}
    got = {v.name: v for v in key.values()}
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name].raw == hive_bytes(value), name
        assert got[name].type == value.type, name
    assert got["sz"].data == "x"
    assert got["empty multi"].data == []
    assert got["odd type"].data == b"\x07\x00"
    assert got["big"].data == bytes(range(256)) * 100
    assert [k.name for k in root.subkey("many").subkeys()] == [f"Sub{i:04d}" for i in range(700)]
    assert warnings == []


def test_offline_system_hive_layout(tmp_path: Path) -> None:
    """The SYSTEM hive helper: ControlSet001/002 + Select, as every parser sees it."""
    model = offline_system({1: {"Services\\A": [dword("x", 1)]}, 2: {"Services\\A": [dword("x", 2)]}}, current=2)
    path = write_hive(tmp_path / "SYSTEM", model, file_name="SYSTEM")
    reg = Registry.Registry(str(path))
    names = sorted(k.name() for k in reg.root().subkeys())
    assert names == ["ControlSet001", "ControlSet002", "Select"]
    select = {v.name(): v.value() for v in reg.open("Select").values()}
    assert select == {"Current": 2, "Default": 2, "Failed": 0, "LastKnownGood": 2}


def test_dirty_flag_and_checksum(tmp_path: Path) -> None:
    data = build_hive(RegistryKey("R"), dirty=True, sequence=10)
    prim, sec = struct.unpack_from("<II", data, 4)
    assert (prim, sec) == (10, 9)
    assert hive.checksum(data) == struct.unpack_from("<I", data, 508)[0]
    path = tmp_path / "dirty"
    path.write_bytes(data)
    warnings: list = []
    hive.read(str(path), warn=warnings.append)
    assert any("dirty" in w.message and "no transaction log" in w.message for w in warnings)


# --------------------------------------------------------------------------- round trips

NAME_CHARS = "abcXYZ019 _-.äöÜé™Жж"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=12)
raw_bytes = st.binary(max_size=40) | st.binary(min_size=16345, max_size=16400)


@st.composite
def values(draw: st.DrawFn) -> RegistryValue:
    name = draw(st.just("") | names)
    kind = draw(st.sampled_from(["REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD", "REG_MULTI_SZ", "REG_QWORD", "REG_NONE", "REG_0x20004"]))  # fmt: skip
    if kind in ("REG_SZ", "REG_EXPAND_SZ"):
        return RegistryValue(name, kind, draw(st.text(alphabet=NAME_CHARS, max_size=30)), None)
    if kind == "REG_DWORD":
        return RegistryValue(name, kind, draw(st.integers(0, 2**32 - 1)), None)
    if kind == "REG_QWORD":
        return RegistryValue(name, kind, draw(st.integers(0, 2**64 - 1)), None)
    if kind == "REG_MULTI_SZ":
        return RegistryValue(name, kind, None, draw(st.binary(max_size=60)))  # arbitrary bytes: tolerant decoding
    return RegistryValue(name, kind, draw(raw_bytes), None)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> RegistryKey:
    key = RegistryKey(draw(names), last_write=draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))))  # fmt: skip
    for v in draw(st.lists(values(), max_size=4)):
        key.set_value(v)
    if depth < 3:
        for child in draw(st.lists(trees(depth=depth + 1), max_size=3)):
            key._subkeys.setdefault(child.name.casefold(), child)
    return key


def flatten(key, path: str = "") -> dict[str, tuple]:
    """path -> (last_write, {value name: (type, raw)}) for a whole tree."""
    here = path + "\\" + key.name if path else key.name
    out = {here.casefold(): (key.last_write, {v.name: (v.type, bytes(v.raw or b"")) for v in key.values()})}
    for child in key.subkeys():
        out.update(flatten(child, here))
    return out


def expected_flat(key: RegistryKey) -> dict[str, tuple]:
    from tests.writers.hive_writer import encode_data

    flat = flatten(key)
    out = {}
    for path, (when, _vals) in flat.items():
        node = key
        for part in path.split("\\")[1:]:
            node = node.subkey(part)
        out[path] = (when, {v.name: (v.type, encode_data(v)) for v in node.values()})
    return out


@settings(
    max_examples=ROUND_TRIPS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    tree=trees(),
    version=st.sampled_from([(1, 3), (1, 5)]),
    backend=st.sampled_from(["rs", "python"]),
    lists=st.sampled_from(["lf", "lh", "li"]),
    ri_threshold=st.sampled_from([1, 2, 512]),  # 1 and 2 split every list under an "ri" index root
)
def test_round_trip_model_write_read(
    tmp_path_factory: pytest.TempPathFactory, tree: RegistryKey, version, backend, lists: str, ri_threshold: int
) -> None:
    path = tmp_path_factory.mktemp("rt") / "hive"
    write_hive(path, tree, version=version, list_kind=lists, ri_threshold=ri_threshold)
    warnings: list = []
    root = hive.read(str(path), backend=backend, warn=warnings.append).root
    assert flatten(root) == expected_flat(tree)
    for path_, node in _paths(root):  # lookups by name (regipy_rs for the "rs" backend) find every key
        found = root
        for part in path_:
            found = found.subkey(part.upper() if part.isascii() else part)
        assert found is not None and found.offset == node.offset
    for node in _walk(root):
        for v in node.values():
            assert v.data == hive.decode_value(_code(v.type), v.raw)
    # An independent parser sees the same tree.
    f = pyregf.file()
    f.open(str(path))
    try:
        assert _count(f.get_root_key()) == len(flatten(tree))
    finally:
        f.close()
    assert not [w for w in warnings if "multi-string" not in w.message and "DWORD" not in w.message]


def _walk(root):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.subkeys())


def _paths(root, prefix: tuple[str, ...] = ()):
    yield prefix, root
    for child in root.subkeys():
        yield from _paths(child, (*prefix, child.name))


def _count(key) -> int:
    return 1 + sum(_count(k) for k in key.sub_keys)


def _code(name: str) -> int:
    from tests.writers.hive_writer import type_code

    return type_code(name)
