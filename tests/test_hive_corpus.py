"""Every hive of ../shared/corpus/hive read by our reader and compared with independent parsers.

libregf (C) is the reference for whole-tree comparison (every key, value name, type and raw
bytes); python-registry for the small hives (names with embedded NULs, which libregf cuts).
Dirty hives are checked against facts published with them (yarp's test suite: which keys exist
only before or after the replay, the number of log entries Windows' scheme applies).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from analyzer.model import InputError
from analyzer.readers import hive
from analyzer.registry import read_registry
from tests.conftest import corpus_file, corpus_files

pyregf = pytest.importorskip("pyregf")
Registry = pytest.importorskip("Registry.Registry")

PLAIN = [
    "dfwinreg__SAM",
    "dfwinreg__SECURITY",
    "hivex__minimal",
    "hivex__special",
    "pyreg__UNICODE_TESTS",
    "regipy__SAM",
    "regipy__SECURITY",
    "yarp__MultiSzHive",
]
BIG_XZ = ["regipy__SYSTEM.xz", "regipy__SYSTEM_2.xz", "regipy__SYSTEM_WIN_10_1709.xz"]


def ours(path: Path, **options) -> tuple[dict[str, dict[str, tuple[str, bytes]]], list[str]]:
    """path (casefolded, names cut at NUL like libregf) -> {value name: (type, raw)}; plus warnings."""
    warnings: list = []
    root = hive.read(str(path), warn=warnings.append, **options).root
    tree: dict[str, dict[str, tuple[str, bytes]]] = {}
    stack = [("", root)]
    while stack:
        here, node = stack.pop()
        tree[here.casefold()] = {_cut(v.name): (v.type, bytes(v.raw or b"")) for v in node.values()}
        stack.extend((f"{here}\\{_cut(child.name)}", child) for child in node.subkeys())
    return tree, [w.message for w in warnings]


def libregf(path: Path) -> dict[str, dict[str, tuple[str, bytes]]]:
    f = pyregf.file()
    f.open(str(path))
    try:
        tree: dict[str, dict[str, tuple[str, bytes]]] = {}
        stack = [("", f.get_root_key())]
        while stack:
            here, key = stack.pop()
            tree[here.casefold()] = {(v.name or ""): (hive.type_name(v.type), v.data or b"") for v in key.values}
            stack.extend((f"{here}\\{child.name}", child) for child in key.sub_keys)
        return tree
    finally:
        f.close()


def _cut(name: str) -> str:
    return name.split("\x00", 1)[0]


def _through_terminator(raw: bytes) -> bytes:
    for i in range(0, len(raw) - 1, 2):
        if raw[i : i + 2] == b"\x00\x00":
            return raw[: i + 2]
    return raw


def assert_same_tree(mine: dict, theirs: dict) -> None:
    assert sorted(mine) == sorted(theirs)
    for path, values in theirs.items():
        assert sorted(mine[path]) == sorted(values), path
        for name, (kind, raw) in values.items():
            my_kind, my_raw = mine[path][name]
            assert my_kind == kind, (path, name)
            if 0 < len(my_raw) < 4:
                continue  # libregf shifts 1-3 byte inline data (regipy and python-registry agree with us)
            if kind in ("REG_SZ", "REG_EXPAND_SZ") and my_raw != raw:
                # libregf cuts string data after the terminator; ``raw`` keeps every stored byte
                assert _through_terminator(my_raw) == raw, (path, name)
                continue
            assert my_raw == raw, (path, name)


@pytest.mark.parametrize("name", PLAIN)
@pytest.mark.parametrize("backend", ["rs", "python"])
def test_small_hive_equals_libregf(name: str, backend: str) -> None:
    path = corpus_file("hive", name)
    mine, warnings = ours(path, backend=backend)
    assert_same_tree(mine, libregf(path))
    assert all("dirty" in w or "multi-string" in w for w in warnings), warnings


@pytest.mark.parametrize("name", PLAIN)
def test_small_hive_counts_equal_python_registry(name: str) -> None:
    path = corpus_file("hive", name)
    reg = Registry.Registry(str(path))
    keys = values = 0
    stack = [reg.root()]
    while stack:
        key = stack.pop()
        keys += 1
        values += len(key.values())
        stack.extend(key.subkeys())
    root = hive.read(str(path)).root
    mine_keys = mine_values = 0
    stack = [root]
    names = []
    while stack:
        node = stack.pop()
        mine_keys += 1
        mine_values += len(node.values())
        names.append(node.name)
        stack.extend(node.subkeys())
    assert (mine_keys, mine_values) == (keys, values)


def test_special_names_keep_nuls_and_non_ascii() -> None:
    root = hive.read(str(corpus_file("hive", "hivex__special"))).root
    names = sorted(k.name for k in root.subkeys())
    assert names == ["abcd_äöüß", "weird™", "zero\x00key"]
    assert root.subkey("ZERO\x00KEY").values()[0].name == "zero\x00val"
    assert root.subkey("weird™").values()[0].name == "symbols $£₤₧€"


@pytest.mark.parametrize("name", BIG_XZ)
def test_big_system_hive_equals_libregf(corpus_xz, name: str) -> None:
    path = corpus_xz("hive", name)
    mine, warnings = ours(path)
    theirs = libregf(path)
    assert len(mine) > 20000
    assert_same_tree(mine, theirs)
    if name != "regipy__SYSTEM.xz":
        assert any("dirty" in w and "no transaction log" in w for w in warnings)


def test_system_hive_view(corpus_xz) -> None:
    reg = read_registry(str(corpus_xz("hive", "regipy__SYSTEM.xz")))
    assert reg.select()["Current"] == 1
    assert reg.current_control_set() == "ControlSet001"
    host = reg.value(r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters", "Hostname")
    assert host is not None and host.type == "REG_SZ" and host.data == "WKS-WIN732BITA"
    assert reg.key(r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters").control_set == "ControlSet001"
    # multi-strings with empty entries are kept (and reported) instead of being dropped as regipy does
    value = reg.value(r"HKLM\SYSTEM\ControlSet001\Services\VgaSave\Device0", "RequestedResources")
    if value is not None and value.type == "REG_MULTI_SZ":
        assert "" in value.data


# --------------------------------------------------------------------------- dirty hives


def test_system_b_with_both_logs(corpus_xz) -> None:
    path = corpus_xz("hive", "regipy__SYSTEM_B.xz")
    corpus_xz("hive", "regipy__SYSTEM_B.LOG1.xz")
    corpus_xz("hive", "regipy__SYSTEM_B.LOG2.xz")
    as_is, warnings_as_is = ours(path, logs=False)
    assert_same_tree(as_is, libregf(path))
    assert any("not applied" in w for w in warnings_as_is)
    before = path.read_bytes()
    replayed, warnings = ours(path)
    assert path.read_bytes() == before
    applied = [w for w in warnings if w.startswith("hive is dirty")]
    # yarp (Windows' scheme) applies the same 24 entries, sequence numbers 2107-2130, LOG1 first.
    assert applied == [
        "hive is dirty (sequence numbers 1622/1621); applied 2 log(s) (24 entries, sequence 2107-2130): "
        "regipy__SYSTEM_B.LOG1, regipy__SYSTEM_B.LOG2"
    ]
    assert not [w for w in warnings if "damaged" in w or "unreadable" in w]
    assert len(replayed) > len(as_is)
    assert set(replayed) - set(as_is)
    root = hive.read(str(path)).root
    assert not root.header.dirty and root.header.checksum_ok
    assert (root.header.primary_sequence, root.header.secondary_sequence) == (2130, 2130)
    # Byte for byte what yarp (by the author of the regf format description) recovers from these
    # three files: the SHA-256 its recovery gives, as recorded in a public project's test suite.
    recovered = hive.recover(str(path))
    assert hashlib.sha256(recovered).hexdigest() == "734095bf043ea72300feb8bc380a585d8a9c925cdd5ffc190ca5ff6bc5a7c231"


@pytest.fixture
def new_dirty(tmp_path: Path) -> Path:
    for suffix in ("", ".LOG1", ".LOG2"):
        src = corpus_file("hive", "yarp__NewDirtyHive1_NewDirtyHive" + suffix)
        (tmp_path / ("NewDirtyHive" + suffix)).write_bytes(src.read_bytes())
    return tmp_path / "NewDirtyHive"


def test_new_format_logs_replace_keys(new_dirty: Path) -> None:
    """Facts from yarp's test suite: Key1/Key2 exist only before, Key3 (+3 subkeys) only after."""
    as_is = hive.read(str(new_dirty), logs=False).root
    assert as_is.subkey("Key1") is not None and as_is.subkey("Key3") is None
    assert len(as_is.subkey("Key1").value("").data) == 6000
    warnings: list = []
    root = hive.read(str(new_dirty), warn=warnings.append).root
    assert root.subkey("Key1") is None and root.subkey("Key2") is None
    key3 = root.subkey("key3")
    assert sorted(k.name for k in key3.subkeys()) == ["Key3_1", "Key3_2", "Key3_3"]
    assert key3.value("").data == "1" * 1440
    assert any("applied 2 log(s) (4 entries" in w.message for w in warnings)


def test_new_format_logs_in_either_order_on_disk(new_dirty: Path) -> None:
    """Swapping the file names must not change the result: logs are ordered by sequence number."""
    log1, log2 = new_dirty.with_name("NewDirtyHive.LOG1"), new_dirty.with_name("NewDirtyHive.LOG2")
    tmp = new_dirty.with_name("tmp")
    log1.rename(tmp)
    log2.rename(log1)
    tmp.rename(log2)
    root = hive.read(str(new_dirty)).root
    assert root.subkey("Key1") is None
    assert sorted(k.name for k in root.subkey("Key3").subkeys()) == ["Key3_1", "Key3_2", "Key3_3"]


def test_a_broken_log_entry_ends_the_replay(new_dirty: Path) -> None:
    """LOG2 holds entries 3-5; with entry 4's signature destroyed only 2 and 3 are applied."""
    log2 = new_dirty.with_name("NewDirtyHive.LOG2")
    data = bytearray(log2.read_bytes())
    assert data[8192:8196] == b"HvLE"
    data[8192:8196] = b"XXXX"
    log2.write_bytes(bytes(data))
    warnings: list = []
    hive.read(str(new_dirty), warn=warnings.append)
    messages = [w.message for w in warnings]
    assert any("applied 2 log(s) (2 entries, sequence 2-3)" in m for m in messages), messages
    root = hive.read(str(new_dirty)).root
    assert (root.header.primary_sequence, root.header.secondary_sequence) == (3, 3)


def test_old_format_log(tmp_path: Path) -> None:
    for suffix in ("", ".LOG1"):
        src = corpus_file("hive", "yarp__OldDirtyHive_OldDirtyHive" + suffix)
        (tmp_path / ("OldDirtyHive" + suffix)).write_bytes(src.read_bytes())
    path = tmp_path / "OldDirtyHive"
    as_is = hive.read(str(path), logs=False).root.subkey("key_with_many_subkeys")
    assert as_is.subkey("1") is not None
    assert as_is.subkey("5000").subkey("find_me_in_log") is None
    assert as_is.subkey("4500").value("v") is None
    warnings: list = []
    many = hive.read(str(path), warn=warnings.append).root.subkey("key_with_many_subkeys")
    assert many.subkey("1") is None
    assert many.subkey("5000").subkey("find_me_in_log") is not None
    value = many.subkey("4500").value("v")
    assert value.type == "REG_MULTI_SZ" and value.data == ["a", "bb", "ccc"]
    assert any("applied 1 log(s)" in w.message for w in warnings)


# --------------------------------------------------------------------------- damaged and odd files


def test_corrupted_system_hive_gives_partial_results() -> None:
    path = corpus_file("hive", "regipy__corrupted_system_hive")
    mine, warnings = ours(path)
    assert len(warnings) > 10
    assert any("damaged" in w or "unreadable" in w for w in warnings)
    # python-registry gives up on damaged subtrees; everything it reads, we read too.
    reg = Registry.Registry(str(path))
    seen = []
    stack = [("", reg.root())]
    while stack:
        here, key = stack.pop()
        seen.append(here.casefold())
        try:
            stack.extend((f"{here}\\{k.name()}", k) for k in key.subkeys())
        except Exception:
            continue
    assert set(seen) <= set(mine)
    assert len(mine) > len(seen)
    reg_view = read_registry(str(path))
    assert reg_view.current_control_set() is not None


def test_truncated_hive() -> None:
    warnings: list = []
    root = hive.read(str(corpus_file("hive", "yarp__TruncatedHive")), warn=warnings.append).root
    many = root.subkey("key_with_many_subkeys")
    assert many.subkey_count == 5000
    found = many.subkeys()
    assert 0 < len(found) < 5000  # what the 12 KiB hold, found by scanning the cells
    assert any("truncated" in w.message for w in warnings)
    assert any("recovered by scanning" in w.message for w in warnings)


def test_multi_sz_hive() -> None:
    warnings: list = []
    key = hive.read(str(corpus_file("hive", "yarp__MultiSzHive")), warn=warnings.append).root.subkey("key")
    assert key.value("1").data == [] and key.value("1").raw == b"\x00\x00"  # 2 bytes stored inline: one NUL
    assert key.value("2").data == ["привет", "как дела?"]
    assert warnings == []


def test_win9x_registry_is_refused() -> None:
    path = corpus_file("hive", "dfwinreg__SYSTEM.DAT")
    with pytest.raises(InputError, match="Windows 95/98/ME"):
        read_registry(str(path))
    with pytest.raises(InputError, match="not a regf"):
        hive.read(str(path))


@pytest.mark.parametrize(
    "name",
    [
        "yarp__NewDirtyHive1_NewDirtyHive.LOG1",
        "yarp__NewDirtyHive1_NewDirtyHive.LOG2",
        "yarp__OldDirtyHive_OldDirtyHive.LOG1",
    ],
)
def test_a_transaction_log_given_alone_is_refused(name: str) -> None:
    """Logs start with a regf base block too: read as a hive they would yield junk keys."""
    with pytest.raises(InputError, match="transaction log"):
        read_registry(str(corpus_file("hive", name)))


def test_every_corpus_hive_is_covered() -> None:
    names = {p.name for p in corpus_files("hive")}
    covered = (
        set(PLAIN)
        | set(BIG_XZ)
        | {
            "regipy__SYSTEM_B.xz",
            "regipy__SYSTEM_B.LOG1.xz",
            "regipy__SYSTEM_B.LOG2.xz",
            "regipy__corrupted_system_hive",
            "yarp__TruncatedHive",
            "dfwinreg__SYSTEM.DAT",
            "yarp__NewDirtyHive1_NewDirtyHive",
            "yarp__NewDirtyHive1_NewDirtyHive.LOG1",
            "yarp__NewDirtyHive1_NewDirtyHive.LOG2",
            "yarp__OldDirtyHive_OldDirtyHive",
            "yarp__OldDirtyHive_OldDirtyHive.LOG1",
        }
    )
    assert names <= covered, names - covered
