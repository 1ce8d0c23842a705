"""Case archives of every kind (.cab, .7z, tar.*, .gz/.bz2/.xz; zip in tests/test_case.py) through the one
safety layer: made here by the libraries and by independent tools (gcab, cabextract, 7z, tar, gzip, bzip2,
xz), hostile variants of each kind, MPS Reports naming, and the commands over archives."""

from __future__ import annotations

import bz2
import contextlib
import datetime
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import pytest

from analyzer.archives import archive_kind, mps
from analyzer.case import CaseLimits, open_case
from tests.conftest import REPO

SAMPLE = REPO / "samples" / "nt4-kb306308"
EVT = (SAMPLE / "AppEvent.Evt").read_bytes()
REG = (SAMPLE / "ParametersSystem.reg").read_bytes()
FILES = {"AppEvent.Evt": EVT, "ParametersSystem.reg": REG}
ZEROS = b"\x00" * (8 << 20)  # 8 MiB that packs to a few KiB: a bomb under the default 200x ratio
CAB_TIME = datetime.datetime(2002, 6, 12, 10, 0, 0)


def tool(name: str, package: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(name) is None, reason=f"{name} not installed (Debian package {package})")


needs_gcab = tool("gcab", "gcab")
needs_cabextract = tool("cabextract", "cabextract")
needs_7z = tool("7z", "p7zip-full")
needs_tar = tool("tar", "tar")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Inputs, the temp area and the working directory apart, to see where every write goes."""
    dirs = {name: tmp_path / name for name in ("inp", "tmp", "cwd")}
    for d in dirs.values():
        d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(dirs["tmp"]))
    monkeypatch.chdir(dirs["cwd"])
    dirs["root"] = tmp_path
    return dirs


def clean(sandbox: dict[str, Path]) -> None:
    assert list(sandbox["tmp"].iterdir()) == [], "temp folder left behind"
    assert list(sandbox["cwd"].iterdir()) == [], "something written to the working directory"


# --------------------------------------------------------------------------- builders: the libraries


def cab_lib(path: Path, files: dict[str, bytes], *, compress: bool = True) -> Path:
    from cabarchive import CabArchive, CabFile

    cab = CabArchive()
    for name, data in files.items():
        cab[name] = CabFile(data, mtime=CAB_TIME)
    path.write_bytes(cab.save(compress=compress))
    return path


def sevenzip_lib(path: Path, files: dict[str, bytes], password: str | None = None) -> Path:
    import py7zr

    with py7zr.SevenZipFile(path, "w", password=password) as z:
        for name, data in files.items():
            z.writestr(data, name)
    return path


def tar_lib(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def zip_lib(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


SINGLE = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


def build_lib(kind: str, folder: Path, files: dict[str, bytes]) -> Path:
    """An archive of ``kind`` named ``evidence.dat``: the name says nothing, the content decides."""
    path = folder / "evidence.dat"
    if kind == "cab":
        return cab_lib(path, files)
    if kind == "cab-stored":
        return cab_lib(path, files, compress=False)
    if kind == "7z":
        return sevenzip_lib(path, files)
    if kind == "zip":
        return zip_lib(path, files)
    modes = {"tar": "w", "tgz": "w:gz", "tbz2": "w:bz2", "txz": "w:xz"}
    return tar_lib(path, list(files.items()), modes[kind])


def by_path(case) -> dict:
    return {i.path: i for i in case.inputs}


def assert_holds(case, files: dict[str, bytes], prefix: str = "") -> None:
    found = by_path(case)
    for name, data in files.items():
        item = found[prefix + name]
        assert item.error is None, item.error
        assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size == len(data)
        with open(item.real_path, "rb") as fh:
            assert fh.read() == data
    assert {found[prefix + n].format for n in files} == {"evt", "reg"}


# --------------------------------------------------------------------------- every kind is a case input


@pytest.mark.parametrize("kind", ["cab", "cab-stored", "7z", "tar", "tgz", "tbz2", "txz", "zip"])
def test_every_kind_made_by_its_library_is_a_case(kind: str, sandbox: dict[str, Path]) -> None:
    archive = build_lib(kind, sandbox["inp"], FILES)
    with open_case(str(archive)) as case:
        assert case.name == "evidence"
        assert [i.path for i in case.inputs] == sorted(FILES)
        assert_holds(case, FILES)
        assert case.errors == [] and case.warnings == []
    clean(sandbox)


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz"])
def test_single_compressed_files_are_their_content(suffix: str, sandbox: dict[str, Path]) -> None:
    path = sandbox["inp"] / f"AppEvent.Evt.{suffix}"
    path.write_bytes(SINGLE[suffix](EVT))
    with open_case([str(path), str(SAMPLE / "ParametersSystem.reg")]) as case:
        found = by_path(case)
        evt = found[f"AppEvent.Evt.{suffix}/AppEvent.Evt"]
        assert evt.format == "evt" and evt.sha256 == hashlib.sha256(EVT).hexdigest()
        assert found["ParametersSystem.reg"].format == "reg"
    clean(sandbox)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"MSCF\x00\x00\x00\x00", "cab"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"\x1f\x8b\x08", "gzip"),
        (b"BZh91AY&SY", "bzip2"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"Rar!\x1a\x07\x00", "rar"),
        (b"PK\x03\x04", "zip"),
        (EVT[:64], None),
        (REG[:64], None),
        (b"BZh9 not a bzip2 block", None),
    ],
)
def test_kind_is_detected_by_content(head: bytes, kind: str | None, tmp_path: Path) -> None:
    path = tmp_path / "AppEvent.Evt"  # the name would say event log: the bytes decide
    path.write_bytes(head + b"\x00" * 600)
    assert archive_kind(str(path)) == kind


# --------------------------------------------------------------------------- independent tools


def run(*argv: str, cwd: Path) -> None:
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=120)


def loose(folder: Path) -> Path:
    src = folder / "src"
    src.mkdir()
    for name, data in FILES.items():
        (src / name).write_bytes(data)
    return src


_F = sorted(FILES)
TOOLS = [
    pytest.param("case.cab", ["gcab", "-c", "-z", "{out}", *_F], marks=needs_gcab, id="gcab-mszip"),
    pytest.param("case.cab", ["gcab", "-c", "{out}", *_F], marks=needs_gcab, id="gcab-stored"),
    pytest.param("case.7z", ["7z", "a", "-bd", "{out}", *_F], marks=needs_7z, id="7z-lzma2"),
    pytest.param("case.7z", ["7z", "a", "-bd", "-m0=PPMd", "{out}", *_F], marks=needs_7z, id="7z-ppmd"),
    pytest.param("case.7z", ["7z", "a", "-bd", "-m0=BZip2", "{out}", *_F], marks=needs_7z, id="7z-bzip2"),
    pytest.param("case.zip", ["7z", "a", "-bd", "-tzip", "{out}", *_F], marks=needs_7z, id="7z-zip"),
    pytest.param("case.tar", ["tar", "cf", "{out}", *_F], marks=needs_tar, id="tar"),
    pytest.param("case.tgz", ["tar", "czf", "{out}", *_F], marks=needs_tar, id="tar-gz"),
    pytest.param("case.tar.bz2", ["tar", "cjf", "{out}", *_F], marks=needs_tar, id="tar-bz2"),
    pytest.param("case.tar.xz", ["tar", "cJf", "{out}", *_F], marks=needs_tar, id="tar-xz"),
    pytest.param("case.tar", ["tar", "--format=v7", "-cf", "{out}", *_F], marks=needs_tar, id="tar-v7"),
]


@pytest.mark.parametrize(("out_name", "argv"), TOOLS)
def test_archives_made_by_independent_tools(out_name: str, argv: list[str], sandbox: dict[str, Path]) -> None:
    src = loose(sandbox["root"])
    out = sandbox["inp"] / out_name
    run(*[a.replace("{out}", str(out)) for a in argv], cwd=src)
    with open_case(str(out)) as case:
        assert case.name == "case"
        assert_holds(case, FILES)
        assert case.errors == []
    clean(sandbox)


@pytest.mark.parametrize(("program", "flag"), [("gzip", "-k"), ("bzip2", "-k"), ("xz", "-k")])
def test_single_files_compressed_by_the_tools(program: str, flag: str, sandbox: dict[str, Path]) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"{program} not installed")
    src = loose(sandbox["root"])
    run(program, flag, "AppEvent.Evt", cwd=src)
    (packed,) = [p for p in src.iterdir() if p.name.startswith("AppEvent.Evt.")]
    with open_case(str(packed)) as case:
        (item,) = case.inputs
        assert item.path == "AppEvent.Evt" and item.format == "evt"
        assert item.sha256 == hashlib.sha256(EVT).hexdigest()
    clean(sandbox)


@needs_cabextract
def test_cabinets_of_the_library_and_the_sample_are_read_by_cabextract(tmp_path: Path) -> None:
    """The cabinets this project writes (the sample too) are valid for an independent reader."""
    cab = cab_lib(tmp_path / "lib.cab", FILES)
    for path in (cab, REPO / "samples" / "mps-reports-cab" / "MPSReports_EXCH01.cab"):
        out = tmp_path / f"x-{path.stem}"
        out.mkdir()
        run("cabextract", "-q", "-d", str(out), str(path), cwd=tmp_path)
        with open_case(str(path)) as case:
            for item in case.inputs:
                assert (out / item.path).read_bytes() == Path(item.real_path).read_bytes()


@needs_7z
def test_7z_of_the_library_is_read_by_7z(tmp_path: Path) -> None:
    archive = sevenzip_lib(tmp_path / "lib.7z", FILES)
    run("7z", "x", "-bd", f"-o{tmp_path / 'x'}", str(archive), cwd=tmp_path)
    for name, data in FILES.items():
        assert (tmp_path / "x" / name).read_bytes() == data


# --------------------------------------------------------------------------- hostile names


ESCAPES = ["../escape.evt", "/tmp/analyzer-abs-escape.evt", "C:\\Windows\\escape.evt", "\\\\host\\share\\escape.evt"]


def assert_escapes_contained(case, sandbox: dict[str, Path], names: list[str]) -> None:
    for name in names:
        assert any("tries to escape" in e and repr(name) in e for e in case.errors), (name, case.errors)
    for item in case.inputs:
        assert Path(item.real_path).resolve().is_relative_to(sandbox["tmp"].resolve())
        assert ".." not in item.path.split("/") and not item.path.startswith("/") and ":" not in item.path
    assert not (sandbox["root"] / "escape.evt").exists() and not Path("/tmp/analyzer-abs-escape.evt").exists()


def test_tar_names_cannot_escape(sandbox: dict[str, Path]) -> None:
    archive = tar_lib(sandbox["inp"] / "evil.tar", [(n, EVT) for n in ESCAPES] + [("ok.evt", EVT)])
    with open_case(str(archive)) as case:
        assert_escapes_contained(case, sandbox, ESCAPES)
        assert by_path(case)["ok.evt"].format == "evt"
    clean(sandbox)


def test_cab_names_cannot_escape(sandbox: dict[str, Path]) -> None:
    stored = [n.replace("/", "\\") for n in ESCAPES]  # cabinets separate folders with '\\'
    archive = cab_lib(sandbox["inp"] / "evil.cab", {**{n: EVT for n in stored}, "ok.evt": EVT})
    with open_case(str(archive)) as case:
        assert_escapes_contained(case, sandbox, stored)
        assert by_path(case)["ok.evt"].format == "evt"
    clean(sandbox)


def patch_7z_name(path: Path, old: str, new: str) -> None:
    """Rename a member in an uncompressed 7z header (``-mhc=off``) and fix both header CRCs."""
    data = bytearray(path.read_bytes())
    next_offset, next_size = struct.unpack_from("<QQ", data, 12)
    start = 32 + next_offset
    header = bytes(data[start : start + next_size])
    assert header.count(old.encode("utf-16-le")) == 1
    header = header.replace(old.encode("utf-16-le"), new.encode("utf-16-le"))
    data[start : start + next_size] = header
    struct.pack_into("<I", data, 28, zlib.crc32(header))
    struct.pack_into("<I", data, 8, zlib.crc32(bytes(data[12:32])))
    path.write_bytes(bytes(data))


@needs_7z
def test_7z_names_cannot_escape(sandbox: dict[str, Path]) -> None:
    src = sandbox["root"] / "src"
    src.mkdir()
    (src / "XXXescape.evt").write_bytes(EVT)
    (src / "ok.evt").write_bytes(EVT)
    archive = sandbox["inp"] / "evil.7z"
    run("7z", "a", "-bd", "-mhc=off", str(archive), "XXXescape.evt", "ok.evt", cwd=src)
    patch_7z_name(archive, "XXXescape.evt", "../escape.evt")
    with open_case(str(archive)) as case:
        assert any("'../escape.evt'" in e for e in case.errors), case.errors
        assert by_path(case)["ok.evt"].format == "evt"
        assert all(Path(i.real_path).resolve().is_relative_to(sandbox["tmp"].resolve()) for i in case.inputs)
    assert not (sandbox["root"] / "escape.evt").exists() and not (sandbox["inp"] / "escape.evt").exists()
    clean(sandbox)


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_tar_links_and_device_files_are_skipped_and_reported(sandbox: dict[str, Path]) -> None:
    members = [
        special("passwd.evt", tarfile.SYMTYPE, "/etc/passwd"),
        special("hard.evt", tarfile.LNKTYPE, "ok.evt"),
        special("null.evt", tarfile.CHRTYPE),
        special("disk.evt", tarfile.BLKTYPE),
        special("pipe.evt", tarfile.FIFOTYPE),
        ("ok.evt", EVT),
    ]
    archive = tar_lib(sandbox["inp"] / "links.tgz", members, "w:gz")
    with open_case(str(archive)) as case:
        assert [i.path for i in case.inputs] == ["ok.evt"]
        for name, what in [
            ("passwd.evt", "symbolic link"),
            ("hard.evt", "hard link"),
            ("null.evt", "device file"),
            ("disk.evt", "device file"),
            ("pipe.evt", "special file"),
        ]:
            assert any(f"'{name}' is a {what}; skipped" in e for e in case.errors), (name, case.errors)
    clean(sandbox)


@needs_7z
def test_7z_symbolic_links_are_skipped(sandbox: dict[str, Path]) -> None:
    src = loose(sandbox["root"])
    os.symlink("/etc/passwd", src / "passwd.evt")
    archive = sandbox["inp"] / "links.7z"
    run("7z", "a", "-bd", "-snl", str(archive), "passwd.evt", "AppEvent.Evt", cwd=src)
    with open_case(str(archive)) as case:
        assert [i.path for i in case.inputs] == ["AppEvent.Evt"]
        assert any("'passwd.evt' is a symbolic link; skipped" in e for e in case.errors), case.errors
    clean(sandbox)


# --------------------------------------------------------------------------- bombs and caps


BOMBS = {
    "cab": lambda p: cab_lib(p, {"big.evt": EVT + ZEROS}),
    "7z": lambda p: sevenzip_lib(p, {"big.evt": EVT + ZEROS}),
    "tgz": lambda p: tar_lib(p, [("big.evt", EVT + ZEROS)], "w:gz"),
    "tbz2": lambda p: tar_lib(p, [("big.evt", EVT + ZEROS)], "w:bz2"),
    "txz": lambda p: tar_lib(p, [("big.evt", EVT + ZEROS)], "w:xz"),
    "gz": lambda p: p.write_bytes(gzip.compress(EVT + ZEROS)),
    "bz2": lambda p: p.write_bytes(bz2.compress(EVT + ZEROS)),
    "xz": lambda p: p.write_bytes(lzma.compress(EVT + ZEROS)),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_bombs_of_every_kind_are_refused_whole(kind: str, sandbox: dict[str, Path]) -> None:
    bomb = sandbox["inp"] / f"bomb.{kind}"
    BOMBS[kind](bomb)
    with open_case([str(bomb), str(SAMPLE / "ParametersSystem.reg")]) as case:
        found = by_path(case)
        refused = found[f"bomb.{kind}"]
        assert refused.format is None and refused.error and "bomb suspected" in refused.error, refused.error
        assert "limit 200x" in refused.error
        assert case.errors and "bomb suspected" in case.errors[0]
        assert found["ParametersSystem.reg"].format == "reg"  # the case goes on
        assert len(case.inputs) == 2  # nothing of the bomb is kept
        assert [p for p in sandbox["tmp"].rglob("*") if p.is_file()] == []  # its extraction is gone already
    clean(sandbox)


@pytest.mark.parametrize("kind", ["cab", "7z", "tar", "tgz", "zip"])
def test_member_count_cap_in_every_kind(kind: str, sandbox: dict[str, Path]) -> None:
    archive = build_lib(kind, sandbox["inp"], {f"f{i}.evt": EVT for i in range(5)})
    with open_case(str(archive), limits=CaseLimits(max_members=3)) as case:
        (item,) = case.inputs
        assert item.error and "too many members" in item.error and "limit 3" in item.error
    clean(sandbox)


@pytest.mark.parametrize("kind", ["cab", "7z", "tar", "txz", "zip"])
def test_total_size_cap_in_every_kind(kind: str, sandbox: dict[str, Path]) -> None:
    archive = build_lib(kind, sandbox["inp"], FILES)
    with open_case(str(archive), limits=CaseLimits(max_total_size=1000)) as case:
        (item,) = case.inputs
        assert item.error and "case limit" in item.error
    clean(sandbox)


def test_gzip_single_file_over_the_member_cap(sandbox: dict[str, Path]) -> None:
    path = sandbox["inp"] / "AppEvent.Evt.gz"
    path.write_bytes(gzip.compress(EVT))
    with open_case(str(path), limits=CaseLimits(max_member_size=1000)) as case:
        (item,) = case.inputs
        assert item.error and "expands beyond" in item.error
    clean(sandbox)


def test_cabinet_larger_than_the_memory_cap_is_refused(sandbox: dict[str, Path]) -> None:
    archive = cab_lib(sandbox["inp"] / "case.cab", FILES)
    with open_case(str(archive), limits=CaseLimits(max_cab_size=100)) as case:
        (item,) = case.inputs
        assert item.error and "read in memory" in item.error
    clean(sandbox)


# --------------------------------------------------------------------------- encrypted, unsupported, damaged


def test_encrypted_7z_members_are_reported_and_the_case_goes_on(sandbox: dict[str, Path]) -> None:
    archive = sevenzip_lib(sandbox["inp"] / "secret.7z", {"AppEvent.Evt": EVT}, password="s3cret")
    with open_case([str(archive), str(SAMPLE / "ParametersSystem.reg")]) as case:
        assert any("'AppEvent.Evt' is encrypted (password-protected); not read" in w for w in case.warnings)
        assert case.errors == []
        assert [i.path for i in case.usable] == ["ParametersSystem.reg"]
    clean(sandbox)


@needs_7z
def test_7z_with_encrypted_names_is_one_line(sandbox: dict[str, Path]) -> None:
    src = loose(sandbox["root"])
    archive = sandbox["inp"] / "hidden.7z"
    run("7z", "a", "-bd", "-ps3cret", "-mhe=on", str(archive), "AppEvent.Evt", cwd=src)
    with open_case([str(archive), str(SAMPLE / "ParametersSystem.reg")]) as case:
        assert case.warnings == ["hidden.7z: encrypted 7z archive (names hidden by a password): not read"]
        assert case.errors == [] and [i.path for i in case.usable] == ["ParametersSystem.reg"]
    clean(sandbox)


def set_cab_method(path: Path, method: int) -> None:
    """Rewrite the compression type of the first CFFOLDER (what LZX/Quantum cabinets declare)."""
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 36 + 6, method)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("method", "name"), [(0x1503, "LZX"), (0x0F02, "Quantum")])
def test_unsupported_cab_methods_are_one_line_and_the_case_goes_on(
    method: int, name: str, sandbox: dict[str, Path]
) -> None:
    archive = cab_lib(sandbox["inp"] / "mps.cab", FILES)
    set_cab_method(archive, method)
    with open_case([str(archive), str(SAMPLE / "AppEvent.Evt")]) as case:
        assert case.warnings == [
            f"mps.cab: {name}-compressed cabinet: not supported (only uncompressed and MSZIP cabinets are read)"
        ]
        assert case.errors == []
        assert [i.path for i in case.usable] == ["AppEvent.Evt"]
        assert by_path(case)["mps.cab"].error.startswith(f"{name}-compressed cabinet")
    clean(sandbox)


def test_rar_is_named_not_supported(sandbox: dict[str, Path]) -> None:
    rar = sandbox["inp"] / "case.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(200))
    with open_case([str(rar), str(SAMPLE / "AppEvent.Evt")]) as case:
        assert case.warnings == ["case.rar: RAR archive: not supported (extract it and give the files or a zip)"]
        assert [i.path for i in case.usable] == ["AppEvent.Evt"]
    clean(sandbox)


@pytest.mark.parametrize("kind", ["cab", "7z", "tgz", "tbz2", "txz"])
def test_truncated_archives_are_errors_not_tracebacks(kind: str, sandbox: dict[str, Path]) -> None:
    archive = build_lib(kind, sandbox["inp"], {"AppEvent.Evt": EVT + bytes(range(256)) * 64})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) * 2 // 3])
    with open_case([str(archive), str(SAMPLE / "ParametersSystem.reg")]) as case:
        assert case.errors, case.warnings
        assert by_path(case)["ParametersSystem.reg"].format == "reg"
        for item in case.inputs:
            if item.path.startswith("evidence.dat") and item.format:  # recovered bytes are flagged
                assert item.warnings and "damaged" in item.warnings[0]
    clean(sandbox)


def test_temp_folder_goes_when_the_caller_raises(sandbox: dict[str, Path]) -> None:
    archive = build_lib("7z", sandbox["inp"], FILES)
    with pytest.raises(RuntimeError), open_case(str(archive)) as case:
        assert any(sandbox["tmp"].rglob("AppEvent.Evt"))
        assert case.inputs
        raise RuntimeError("the caller failed")
    clean(sandbox)


# --------------------------------------------------------------------------- nesting


def test_archives_nest_one_level_like_zips(sandbox: dict[str, Path]) -> None:
    inner_zip = zip_lib(sandbox["root"] / "inner.zip", {"AppEvent.Evt": EVT})
    deep_7z = sevenzip_lib(sandbox["root"] / "deep.7z", {"ParametersSystem.reg": REG})
    mid_tgz = tar_lib(sandbox["root"] / "mid.tgz", [("deep.7z", deep_7z.read_bytes())], "w:gz")
    outer = cab_lib(
        sandbox["inp"] / "outer.cab",
        {"inner.zip": inner_zip.read_bytes(), "mid.tgz": mid_tgz.read_bytes(), "AppEvent.Evt.gz": gzip.compress(EVT)},
    )
    with open_case(str(outer)) as case:
        found = by_path(case)
        assert found["inner.zip/AppEvent.Evt"].format == "evt"
        assert found["AppEvent.Evt.gz/AppEvent.Evt"].format == "evt"
        assert found["mid.tgz/deep.7z"].error == "nested 7z archive too deep; not opened"
        assert any("mid.tgz/deep.7z: 7z archive nested more than 1 level" in w for w in case.warnings)
    clean(sandbox)


# --------------------------------------------------------------------------- MPS Reports


MPS_CAB = REPO / "samples" / "mps-reports-cab" / "MPSReports_EXCH01.cab"


def test_mps_names_give_server_and_log() -> None:
    names = mps.recognise(
        [
            "x.cab/EXCH01_Application.evt",
            "x.cab/EXCH01_Application.txt",
            "x.cab/EXCH01_System.TXT",
            "x.cab/EXCH01_ParametersSystem.reg",
            "x.cab/Exchange_Setup.log",  # a prefix naming no log of its own: no server
            "other/EXCH01_notes.reg",  # another folder: the prefix is not known there
        ]
    )
    assert set(names) == {
        "x.cab/EXCH01_Application.evt",
        "x.cab/EXCH01_Application.txt",
        "x.cab/EXCH01_System.TXT",
        "x.cab/EXCH01_ParametersSystem.reg",
    }
    assert {n.server for n in names.values()} == {"EXCH01"}
    assert names["x.cab/EXCH01_System.TXT"].log == "system" and names["x.cab/EXCH01_ParametersSystem.reg"].log is None
    assert mps.same_logs(names) == {"x.cab/EXCH01_Application.txt": "x.cab/EXCH01_Application.evt"}


def test_mps_sample_cab_names_the_server_of_every_file_and_pairs_each_log() -> None:
    with open_case(str(MPS_CAB)) as case:
        assert case.name == "MPSReports_EXCH01"
        assert {i.path: i.server for i in case.inputs} == {
            "EXCH01_Application.evt": "EXCH01",
            "EXCH01_Application.txt": "EXCH01",
            "EXCH01_ParametersSystem.reg": "EXCH01",
            "EXCH01_System.evt": "EXCH01",
            "EXCH01_System.txt": "EXCH01",
        }
        twins = {i.path: i.same_log_as for i in case.inputs if i.same_log_as}
        assert twins == {"EXCH01_Application.txt": "EXCH01_Application.evt", "EXCH01_System.txt": "EXCH01_System.evt"}


def cli(*argv: str) -> tuple[int, str, str]:
    from analyzer.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_mps_cab_counts_each_event_once() -> None:
    """The .evt and the .txt of one log are the same log: two refusals, not four."""
    code, out, _ = cli("diagnose", str(MPS_CAB), "--format", "json")
    d = json.loads(out)
    assert code == 1
    (finding,) = [f for f in d["findings"] if f["rule"] == "KB306308"]
    assert finding["count"] == 2
    used = sorted(i["path"] for i in d["inputs"] if i["format"])
    assert used == [
        "EXCH01_Application.evt",
        "EXCH01_Application.txt",
        "EXCH01_ParametersSystem.reg",
        "EXCH01_System.evt",
        "EXCH01_System.txt",
    ]


# --------------------------------------------------------------------------- commands and triage over archives


def test_events_and_registry_commands_read_inside_archives(tmp_path: Path) -> None:
    code, out, _ = cli("events", str(MPS_CAB), "--id", "1023", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 4  # each file's copy: events lists, diagnose counts once
    assert {r["path"] for r in rows} == {f"{MPS_CAB}/EXCH01_Application.evt", f"{MPS_CAB}/EXCH01_Application.txt"}
    code, out, _ = cli("registry", str(MPS_CAB))
    assert code == 0 and f"{MPS_CAB}/EXCH01_ParametersSystem.reg" in out
    two = build_lib("tgz", tmp_path, {"a.reg": REG, "b.reg": REG})
    code, _, err = cli("registry", str(two))
    assert code != 0 and "holds 2 registry exports" in err and "Traceback" not in err


def test_triage_over_folders_zips_cabs_7z_and_tarballs_gives_one_row_per_case(tmp_path: Path) -> None:
    from analyzer import triage

    root = tmp_path / "cases"
    (root / "folder-case").mkdir(parents=True)
    for name, data in FILES.items():
        (root / "folder-case" / name).write_bytes(data)
    zip_lib(root / "zip-case.zip", FILES)
    cab_lib(root / "cab-case.cab", FILES)
    sevenzip_lib(root / "7z-case.7z", FILES)
    tar_lib(root / "tgz-case.tgz", list(FILES.items()), "w:gz")
    tar_lib(root / "txz-case.tar.xz", list(FILES.items()), "w:xz")
    shutil.copyfile(MPS_CAB, root / "MPSReports_EXCH01.cab")
    (root / "notes.txt").write_text("not a case")
    frame = triage([root], out=tmp_path / "out", jobs=1)
    assert sorted(frame["case"]) == sorted(
        ["folder-case", "zip-case", "cab-case", "7z-case", "tgz-case", "txz-case", "MPSReports_EXCH01"]
    )
    assert set(frame["status"]) == {"findings"}, frame[["case", "status", "error"]]


def test_mps_prefix_pairs_an_export_whose_content_names_no_server() -> None:
    """EXCH02's registry export names no computer; without the MPS prefix it would be taken for EXCH01's
    (the only server the content knows) and checked against the wrong server's refusals."""
    from collections import Counter

    from analyzer.servers import Artefact, pair

    logs = Artefact("a/EXCH01_Application.evt", "events", computers=Counter({"EXCH01": 6}))
    export = Artefact("b/EXCH02_ParametersSystem.reg", "registry", named_server="EXCH02")
    plain = Artefact("b/ParametersSystem.reg", "registry")
    pairing = pair([logs, export, plain])
    assert pairing.of_path[logs.path] == "exch01"
    assert pairing.of_path[export.path] == "exch02" and pairing.how[export.path] == "its MPS Reports name prefix"
    assert pairing.of_path[plain.path] is None  # two servers now: an export naming none is undecided


def test_case_reading_hands_the_mps_server_to_the_pairing(tmp_path: Path) -> None:
    from analyzer.diagnosis.reading import read_case
    from analyzer.events import read_options

    cab_lib(
        tmp_path / "EXCH02.cab",
        {"EXCH02_System.txt": b"", "EXCH02_ParametersSystem.reg": REG},
    )
    with open_case([str(MPS_CAB), str(tmp_path / "EXCH02.cab")]) as case:
        read = read_case(case, options=read_options())
        named = {a.path: a.named_server for a in read.artefacts}
        assert named["EXCH02.cab/EXCH02_ParametersSystem.reg"] == "EXCH02"
        assert named["MPSReports_EXCH01.cab/EXCH01_ParametersSystem.reg"] == "EXCH01"
