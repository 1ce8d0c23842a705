"""Case loading: folders, files and untrusted zip archives (hostile members, bombs, nesting, damage)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.case import CaseLimits, case_name, open_case, safe_member_parts
from analyzer.model import InputError
from tests.conftest import corpus_file

# Smallest heads that sniff.py recognises by magic: an .evt header and a regf base block.
EVT = b"\x30\x00\x00\x00LfLe\x01\x00\x00\x00\x01\x00\x00\x00" + b"\x00" * 32 + b"record bytes"
HIVE = b"regf" + b"\x01\x00\x00\x00" * 4 + b"\x00" * 4080
JUNK = bytes(range(256)) * 4


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Separate folders for inputs, the temp area and the working directory, to see where writes go."""
    dirs = {name: tmp_path / name for name in ("inp", "tmp", "cwd")}
    for d in dirs.values():
        d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(dirs["tmp"]))
    monkeypatch.chdir(dirs["cwd"])
    dirs["root"] = tmp_path
    return dirs


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def make_zip(
    path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]], method: int = zipfile.ZIP_DEFLATED
) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return path


def assert_clean_afterwards(sandbox: dict[str, Path], before: set[str]) -> None:
    """Temp area empty, working directory empty, nothing new beside the inputs."""
    assert list(sandbox["tmp"].iterdir()) == []
    assert list(sandbox["cwd"].iterdir()) == []
    assert snapshot(sandbox["root"]) == before


def by_path(case) -> dict:
    return {i.path: i for i in case.inputs}


def test_folder_is_recursive_sorted_hashed_and_sniffed(sandbox: dict[str, Path]) -> None:
    case_dir = sandbox["inp"] / "CASE-1234"
    (case_dir / "logs" / "old").mkdir(parents=True)
    (case_dir / "logs" / "b.evt").write_bytes(EVT)
    (case_dir / "logs" / "a.bin").write_bytes(EVT)  # name says nothing: content decides
    (case_dir / "logs" / "old" / "c.evt").write_bytes(EVT)
    (case_dir / "SYSTEM").write_bytes(HIVE)
    (case_dir / "notes.dat").write_bytes(JUNK)
    with open_case(str(case_dir) + "/") as case:
        assert case.name == "CASE-1234"
        assert [i.path for i in case.inputs] == ["SYSTEM", "logs/a.bin", "logs/b.evt", "logs/old/c.evt", "notes.dat"]
        found = by_path(case)
        assert found["logs/a.bin"].format == "evt"
        assert found["SYSTEM"].format == "hive"
        assert found["logs/b.evt"].sha256 == hashlib.sha256(EVT).hexdigest()
        assert found["logs/b.evt"].size == len(EVT)
        junk = found["notes.dat"]
        assert junk.format is None and junk.error and "not an event log" in junk.error
        assert [i.path for i in case.usable] == ["SYSTEM", "logs/a.bin", "logs/b.evt", "logs/old/c.evt"]
        assert case.errors == [] and case.warnings == []
        # real_path of plain files is the file itself, never a copy
        assert Path(found["SYSTEM"].real_path).samefile(case_dir / "SYSTEM")
    assert list(sandbox["tmp"].iterdir()) == []


def test_several_paths_form_one_case_named_after_the_first(sandbox: dict[str, Path]) -> None:
    first = sandbox["inp"] / "AppEvent.Evt"
    first.write_bytes(EVT)
    folder = sandbox["inp"] / "reg"
    folder.mkdir()
    (folder / "SYSTEM").write_bytes(HIVE)
    with open_case([str(first), str(folder), str(first)]) as case:
        assert case.name == "AppEvent"
        assert [i.path for i in case.inputs] == ["AppEvent.Evt", "reg/SYSTEM"]  # duplicate given twice: once


def test_missing_paths(sandbox: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="no such file"), open_case(str(sandbox["inp"] / "nope")):
        pass
    good = sandbox["inp"] / "x.evt"
    good.write_bytes(EVT)
    with open_case([str(good), str(sandbox["inp"] / "gone.evt")]) as case:
        assert [i.path for i in case.inputs] == ["x.evt"]
        assert any("gone.evt: no such file" in w for w in case.warnings)


def test_case_names() -> None:
    assert case_name("archive/Case 7.ZIP") == "Case 7"
    assert case_name("x/SYSTEM.reg") == "SYSTEM"


def test_special_files_and_links_in_a_folder_are_not_followed(sandbox: dict[str, Path]) -> None:
    case_dir = sandbox["inp"] / "c"
    case_dir.mkdir()
    (case_dir / "a.evt").write_bytes(EVT)
    secret = sandbox["root"] / "secret.evt"
    secret.write_bytes(EVT)
    (case_dir / "link.evt").symlink_to(secret)
    (case_dir / "dirlink").symlink_to(sandbox["root"])
    os.mkfifo(case_dir / "pipe")  # opening it would block forever
    with open_case(str(case_dir)) as case:
        paths = by_path(case)
        assert set(paths) == {"a.evt", "pipe"}
        assert paths["pipe"].error == "not a regular file"
        assert any("link.evt: symbolic link" in w for w in case.warnings)
        assert any("dirlink: symbolic link to a folder" in w for w in case.warnings)


def test_transaction_logs_beside_a_hive(sandbox: dict[str, Path]) -> None:
    case_dir = sandbox["inp"] / "c"
    case_dir.mkdir()
    (case_dir / "SYSTEM").write_bytes(HIVE)
    (case_dir / "system.LOG").write_bytes(b"")  # empty log of a clean hive: by name beside the hive
    (case_dir / "SYSTEM.LOG1").write_bytes(b"regf" + b"\x00" * 508 + b"HvLE" + b"\x00" * 100)
    (case_dir / "SOFTWARE.LOG2").write_bytes(b"regf" + b"\x00" * 508 + b"DIRT" + b"\x00" * 100)
    (case_dir / "setup.log").write_bytes(JUNK)  # a .log with no hive beside it stays an ordinary input
    with open_case(str(case_dir)) as case:
        found = by_path(case)
        for name, hive in (("system.LOG", "SYSTEM"), ("SYSTEM.LOG1", "SYSTEM"), ("SOFTWARE.LOG2", "SOFTWARE")):
            assert found[name].format is None and found[name].error is None, name
            assert found[name].note == f"transaction log of {hive}"
        assert found["setup.log"].error and found["setup.log"].note is None
        assert found["SYSTEM"].format == "hive"


def test_real_transaction_log_from_the_corpus(sandbox: dict[str, Path]) -> None:
    hive = corpus_file("hive", "yarp__OldDirtyHive_OldDirtyHive")
    log = corpus_file("hive", "yarp__OldDirtyHive_OldDirtyHive.LOG1")
    case_dir = sandbox["inp"] / "c"
    case_dir.mkdir()
    shutil.copy(hive, case_dir / hive.name)
    shutil.copy(log, case_dir / log.name)
    with open_case(str(case_dir)) as case:
        found = by_path(case)
        assert found[hive.name].format == "hive"
        assert found[log.name].note == f"transaction log of {hive.name}"
        assert found[log.name].sha256 == hashlib.sha256(log.read_bytes()).hexdigest()


def test_zip_case_extracts_to_temp_and_cleans_up(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "Case-42.zip", [("logs/AppEvent.Evt", EVT), ("SYSTEM", HIVE), ("dir/", b"")])
    before = snapshot(sandbox["root"])
    with open_case(str(z)) as case:
        assert case.name == "Case-42"
        assert [i.path for i in case.inputs] == ["SYSTEM", "logs/AppEvent.Evt"]
        for item in case.inputs:
            assert Path(item.real_path).resolve().is_relative_to(sandbox["tmp"].resolve())
        assert by_path(case)["logs/AppEvent.Evt"].sha256 == hashlib.sha256(EVT).hexdigest()
        assert by_path(case)["SYSTEM"].format == "hive"
        assert any(sandbox["tmp"].iterdir())
    assert_clean_afterwards(sandbox, before)


def test_zip_sniffed_by_content_inside_a_case_folder(sandbox: dict[str, Path]) -> None:
    case_dir = sandbox["inp"] / "c"
    case_dir.mkdir()
    make_zip(case_dir / "evidence.dat", [("AppEvent.Evt", EVT)])  # a zip whatever the name
    (case_dir / "SYSTEM").write_bytes(HIVE)
    with open_case(str(case_dir)) as case:
        assert [i.path for i in case.inputs] == ["SYSTEM", "evidence.dat/AppEvent.Evt"]
        assert case.inputs[1].format == "evt"


def test_temp_removed_when_the_body_raises(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "c.zip", [("a.evt", EVT)])
    with pytest.raises(RuntimeError), open_case(str(z)) as case:
        assert case.inputs[0].format == "evt"
        raise RuntimeError("boom")
    assert list(sandbox["tmp"].iterdir()) == []


@pytest.mark.parametrize(
    ("member", "extracted_as"),
    [
        ("../x.evt", "x.evt"),
        ("a/../../../y.evt", "a/y.evt"),
        ("/etc/analyzer-escape.evt", "etc/analyzer-escape.evt"),
        ("C:\\Windows\\z.evt", "Windows/z.evt"),
        ("\\\\server\\share\\u.evt", "server/share/u.evt"),
    ],
)
def test_path_escaping_members_are_sanitised_and_reported(
    sandbox: dict[str, Path], member: str, extracted_as: str
) -> None:
    z = make_zip(sandbox["inp"] / "evil.zip", [(zipfile.ZipInfo(member), EVT), ("ok.evt", EVT)])
    before = snapshot(sandbox["root"])
    with open_case(str(z)) as case:
        found = by_path(case)
        assert set(found) == {extracted_as, "ok.evt"}
        assert found[extracted_as].format == "evt"
        assert Path(found[extracted_as].real_path).resolve().is_relative_to(sandbox["tmp"].resolve())
        assert len(case.errors) == 1 and "tries to escape" in case.errors[0] and repr(member) in case.errors[0]
    assert_clean_afterwards(sandbox, before)
    assert not Path("/etc/analyzer-escape.evt").exists()


def test_sanitised_names_never_collide_or_escape() -> None:
    assert safe_member_parts("../../a/./b") == (["a", "b"], True)
    assert safe_member_parts("dir\\file.evt") == (["dir", "file.evt"], False)
    assert safe_member_parts("a\x00b:c") == (["a_b_c"], False)
    assert safe_member_parts("..") == ([], True)
    parts, _ = safe_member_parts("x" * 1000)
    assert len(parts[0].encode()) <= 200


def test_duplicate_names_after_sanitising_get_a_suffix(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "dup.zip", [(zipfile.ZipInfo("../a.evt"), EVT), ("a.evt", EVT + b"2")])
    with open_case(str(z)) as case:
        assert sorted(i.path for i in case.inputs) == ["a.evt", "a~2.evt"]
        assert len({i.sha256 for i in case.inputs}) == 2


def test_link_member_is_skipped(sandbox: dict[str, Path]) -> None:
    link = zipfile.ZipInfo("passwd.evt")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    z = make_zip(sandbox["inp"] / "links.zip", [(link, b"/etc/passwd"), ("ok.evt", EVT)])
    before = snapshot(sandbox["root"])
    with open_case(str(z)) as case:
        assert [i.path for i in case.inputs] == ["ok.evt"]
        assert any("'passwd.evt' is a symbolic link; skipped" in e for e in case.errors)
        assert not any(p.is_symlink() for p in sandbox["tmp"].rglob("*"))
    assert_clean_afterwards(sandbox, before)


def test_zip_bomb_by_ratio_is_refused_before_extraction(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "bomb.zip", [("big.evt", EVT + b"\x00" * (8 << 20)), ("ok.evt", EVT)])
    assert z.stat().st_size < 100_000
    before = snapshot(sandbox["root"])
    with open_case(str(z)) as case:
        assert len(case.inputs) == 1  # the archive itself, refused: no member used
        refused = case.inputs[0]
        assert refused.path == "bomb.zip" and refused.format is None
        assert refused.error and "zip bomb suspected" in refused.error and "limit 200x" in refused.error
        assert refused.sha256 == hashlib.sha256(z.read_bytes()).hexdigest()
        assert case.errors and "zip bomb" in case.errors[0]
        assert sum(p.stat().st_size for p in sandbox["tmp"].rglob("*") if p.is_file()) == 0
    assert_clean_afterwards(sandbox, before)
    # the ratio cap is overridable
    with open_case(str(z), limits=CaseLimits(max_ratio=100_000)) as case:
        assert case.errors == [] and len(case.usable) == 2


def test_small_compressible_files_are_not_bombs(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "fresh.zip", [("AppEvent.Evt", EVT + b"\x00" * 65536)])
    with open_case(str(z)) as case:
        assert case.errors == [] and case.inputs[0].format == "evt"


def test_too_many_members_and_total_size_caps(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "many.zip", [(f"m{i:03d}.evt", EVT) for i in range(11)])
    with open_case(str(z), limits=CaseLimits(max_members=10)) as case:
        assert [i.path for i in case.inputs] == ["many.zip"]
        assert "too many members (11 in the case, limit 10)" in (case.inputs[0].error or "")
    with open_case(str(z), limits=CaseLimits(max_total_size=len(EVT) * 5)) as case:
        assert "exceeds the case limit" in (case.inputs[0].error or "")
    with open_case(str(z), limits=CaseLimits(max_member_size=10)) as case:
        assert "per file" in (case.inputs[0].error or "")
    assert list(sandbox["tmp"].iterdir()) == []


def test_member_count_cap_is_per_case_across_archives(sandbox: dict[str, Path]) -> None:
    case_dir = sandbox["inp"] / "c"
    case_dir.mkdir()
    make_zip(case_dir / "a.zip", [(f"a{i}.evt", EVT) for i in range(6)])
    make_zip(case_dir / "b.zip", [(f"b{i}.evt", EVT) for i in range(6)])
    with open_case(str(case_dir), limits=CaseLimits(max_members=10)) as case:
        assert [i.path for i in case.usable] == [f"a.zip/a{i}.evt" for i in range(6)]
        assert by_path(case)["b.zip"].error.startswith("too many members")


def test_nested_zips_open_one_level_only(sandbox: dict[str, Path]) -> None:
    inner = make_zip(sandbox["root"] / "inner.zip", [("deep.evt", EVT)])
    mid = make_zip(sandbox["root"] / "mid.zip", [("mid.evt", EVT), ("inner.zip", inner.read_bytes())])
    outer = make_zip(sandbox["inp"] / "outer.zip", [("top.evt", EVT), ("mid.zip", mid.read_bytes())])
    with open_case(str(outer)) as case:
        found = by_path(case)
        assert set(found) == {"top.evt", "mid.zip/mid.evt", "mid.zip/inner.zip"}
        assert found["mid.zip/mid.evt"].format == "evt"
        assert found["mid.zip/inner.zip"].format is None
        assert "too deep" in (found["mid.zip/inner.zip"].error or "")
        assert any("nested more than 1 level" in w for w in case.warnings)
        assert case.errors == []
    with open_case(str(outer), limits=CaseLimits(max_depth=0)) as case:
        assert set(by_path(case)) == {"top.evt", "mid.zip"}


def set_encrypted_flag(path: Path, member: str) -> None:
    """zipfile cannot write encrypted members: set bit 0 of the flags in both headers of one member."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for magic, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (pos := data.find(magic, start)) >= 0:
            name_at = pos + (30 if magic == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                data[pos + flag_at] |= 0x1
            start = pos + 4
    path.write_bytes(bytes(data))


def test_encrypted_member_is_reported_not_fatal(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "enc.zip", [("secret.evt", b"\x8a" * 40), ("ok.evt", EVT)], method=zipfile.ZIP_STORED)
    set_encrypted_flag(z, "secret.evt")
    assert zipfile.ZipFile(z).getinfo("secret.evt").flag_bits & 0x1
    with open_case(str(z)) as case:
        assert [i.path for i in case.inputs] == ["ok.evt"]
        assert any("'secret.evt' is encrypted" in w for w in case.warnings)
        assert case.errors == []


def test_corrupt_zip_is_an_error_for_that_input(sandbox: dict[str, Path]) -> None:
    case_dir = sandbox["inp"] / "c"
    case_dir.mkdir()
    (case_dir / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x14\x00" * 40)
    (case_dir / "a.evt").write_bytes(EVT)
    with open_case(str(case_dir)) as case:
        found = by_path(case)
        assert found["a.evt"].format == "evt"
        assert found["broken.zip"].format is None
        assert (found["broken.zip"].error or "").startswith("corrupt zip archive")
        assert case.errors and "broken.zip: corrupt zip archive" in case.errors[0]
    assert list(sandbox["tmp"].iterdir()) == []


def test_damaged_member_keeps_recovered_bytes(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "crc.zip", [("a.evt", EVT)], method=zipfile.ZIP_STORED)
    data = bytearray(z.read_bytes())
    pos = data.index(b"record bytes")
    data[pos] ^= 0xFF  # stored member: same length, wrong CRC
    z.write_bytes(bytes(data))
    with open_case(str(z)) as case:
        item = case.inputs[0]
        assert item.format == "evt" and item.size == len(EVT)
        assert item.sha256 == hashlib.sha256(bytes(data[pos - EVT.index(b"record bytes") : pos + 12])).hexdigest()
        assert item.warnings and "zip member damaged: CRC-32 mismatch" in item.warnings[0]
        assert case.errors == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab./\\:\x00 C*")), max_size=40))
def test_sanitised_parts_always_stay_inside(name: str) -> None:
    parts, unsafe = safe_member_parts(name)
    for part in parts:
        assert part not in ("", ".", "..") and not any(c in part for c in "/\\:\x00*")
    base = Path("/sandbox")
    assert (base.joinpath(*parts)).resolve().is_relative_to(base) if parts else True
    if ".." in re.split(r"[/\\]", name) or name.startswith(("/", "\\")):
        assert unsafe


def test_file_and_folder_of_the_same_name(sandbox: dict[str, Path]) -> None:
    z = make_zip(sandbox["inp"] / "clash.zip", [("a", EVT), ("a/b.evt", EVT), ("c.evt", EVT)])
    with open_case(str(z)) as case:
        assert [i.path for i in case.inputs] == ["a", "c.evt"]
        assert any("'a/b.evt' cannot be extracted" in w for w in case.warnings)
    assert list(sandbox["tmp"].iterdir()) == []
