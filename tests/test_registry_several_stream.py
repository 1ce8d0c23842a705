"""``registry`` over several files streams each file's part in turn (it used to hold them all as strings)."""

from __future__ import annotations

import json

import pytest

from analyzer.cli import main
from analyzer.commands import registry as command
from tests.conftest import REPO

KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"
FILES = [
    str(REPO / "samples" / "w2k-two-controlsets" / "SYSTEM"),
    str(REPO / "samples" / "nt4-kb306308" / "ParametersSystem.reg"),
]


@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
def test_each_file_is_written_before_the_next_is_read(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pieces: list[str] = []
    real_read = command._read

    def read(real: str, display: str, args: object) -> object:
        pieces.append(capsys.readouterr().out)  # what was written before this file is read
        return real_read(real, display, args)  # type: ignore[arg-type]

    monkeypatch.setattr(command, "_read", read)
    assert main(["registry", *FILES, "--key", KEY, "--format", fmt]) == 0
    pieces.append(capsys.readouterr().out)
    assert len(pieces) == 3 and "SYSTEM" in pieces[1] and "ParametersSystem.reg" not in pieces[1]
    whole = "".join(pieces)
    if fmt == "json":  # the array is the per-file results, as each alone prints them
        parts = json.loads(whole)
        assert [p["path"] for p in parts] == FILES
        monkeypatch.setattr(command, "_read", real_read)
        for part, path in zip(parts, FILES, strict=True):
            assert main(["registry", path, "--key", KEY, "--format", "json"]) == 0
            assert json.loads(capsys.readouterr().out) == part["result"]
    if fmt == "csv":
        lines = whole.splitlines()
        assert lines[0].startswith("path,key,name,type,data") and sum(line.startswith("path,") for line in lines) == 1
