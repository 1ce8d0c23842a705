"""The .reg reader's own limits: long lines are streamed in chunks, one value's size is capped.

Chunk size and cap are made small here so that the chunked paths run on small files; the result
must not depend on where a chunk ends inside hex data (the name and ``=hex:`` must fit in the first
chunk of a line, as they always do with the real 1 Mi-character chunk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.readers import regfile
from tests.regtext_support import key_at, read_collecting

DATA = bytes(range(256)) * 3


def _hex_file(tmp_path: Path, items: str) -> Path:
    path = tmp_path / "long.reg"
    text = f'REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\L]\r\n"Blob"=hex:{items}\r\n"After"="still read"\r\n'
    path.write_bytes(text.encode("ascii"))
    return path


@pytest.mark.parametrize("chunk", [40, 41, 42, 43, 44, 47, 64, 1000])  # the key and "Blob"=hex: fit in 40
@pytest.mark.parametrize(
    "layout",
    [
        ",".join(f"{b:02x}" for b in DATA),
        ", ".join(f"{b:x}" for b in DATA) + " ;comment",
        ",".join(f"{b:02X}" for b in DATA[:300]) + ",\\  ;c\r\n  " + ",".join(f"{b:02x}" for b in DATA[300:]),
    ],
    ids=["regedit", "blanks-one-digit-comment", "continued"],
)
def test_long_lines_read_the_same_whatever_the_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, layout: str
) -> None:
    monkeypatch.setattr(regfile, "LINE_CHUNK", chunk)
    file, warnings = read_collecting(regfile, _hex_file(tmp_path, layout))
    assert warnings == []
    key = key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\L")
    assert key.value("Blob").raw == DATA  # type: ignore[union-attr]
    assert key.value("After").data == "still read"  # type: ignore[union-attr]


@pytest.mark.parametrize("chunk", [40, 64, 1 << 20])
def test_value_over_the_cap_is_dropped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(regfile, "LINE_CHUNK", chunk)
    path = _hex_file(tmp_path, ",".join(f"{b:02x}" for b in DATA))
    file, warnings = read_collecting(regfile, path, max_value_bytes=len(DATA) - 1)
    key = key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\L")
    assert key.value("Blob") is None and key.value("After").data == "still read"  # type: ignore[union-attr]
    assert len(warnings) == 1 and warnings[0].message.startswith("line 4: value 'Blob'")
    assert f"{len(DATA):,} bytes" in warnings[0].message and "limit" in warnings[0].message
    file, warnings = read_collecting(regfile, path, max_value_bytes=len(DATA))
    assert warnings == [] and key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\L").value("Blob").raw == DATA  # type: ignore[union-attr]


def test_string_and_key_lines_longer_than_a_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regfile, "LINE_CHUNK", 50)
    path = tmp_path / "long.reg"
    path.write_bytes(
        b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\L]\r\n"
        b'"Long"="' + b"x" * 200 + b'"\r\n'  # 4
        b"[HKEY_LOCAL_MACHINE\\SOFTWARE\\" + b"k" * 100 + b"]\r\n"  # 5
        b'"Lost"="1"\r\n'  # 6: belongs to the rejected key line
        b"[HKEY_LOCAL_MACHINE\\SOFTWARE\\L]\r\n"
        b'"Short"="y"\r\n'
    )
    file, warnings = read_collecting(regfile, path)
    assert [w.message.split(":")[0] for w in warnings] == ["line 4", "line 5", "line 6"]
    assert "string longer than 50 characters" in warnings[0].message
    assert "key line longer than 50 characters" in warnings[1].message
    key = key_at(file.root, r"HKEY_LOCAL_MACHINE\SOFTWARE\L")
    assert [(v.name, v.data) for v in key.values()] == [("Short", "y")]
