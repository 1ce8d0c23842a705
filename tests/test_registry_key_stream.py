"""``analyzer registry FILE --key K --format json`` streams the key's values (issue 13).

A generated REGEDIT4 export whose key holds 200,000 values: the command's output must be the same
bytes as the JSON of the whole key object (the contract), and each value must be written before the
next one is converted -- so the output grows while the values are still being read, and no list of
200,000 dicts nor one string of the whole output is ever built.  No timing, no memory figure: the
order of conversions and writes is observed directly.
"""

from __future__ import annotations

import io
import itertools
import json
import sys
from pathlib import Path

import pytest

from analyzer import cli
from analyzer.model import RegistryValue
from analyzer.registry import read_registry
from analyzer.report.registry import key_json
from analyzer.terminal import json_safe

KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Many"
VALUES = 200_000


def _big_reg(path: Path) -> None:
    """REGEDIT4 with one key of VALUES values of several types, a subkey, and a neighbour key."""
    with open(path, "w", encoding="ascii", newline="\r\n") as fh:
        fh.write(f"REGEDIT4\n\n[{KEY}]\n")
        for n in range(VALUES):
            kind = n % 4
            if kind == 0:
                fh.write(f'"s{n:06d}"="text \\"{n}\\" \\\\ back"\n')
            elif kind == 1:
                fh.write(f'"d{n:06d}"=dword:{n:08x}\n')
            elif kind == 2:
                fh.write(f'"b{n:06d}"=hex:{n & 0xFF:02x},00,ff\n')
            else:  # REG_MULTI_SZ "a", "b<n>"
                entries = b"a\0" + f"b{n}".encode() + b"\0\0"
                fh.write(f'"m{n:06d}"=hex(7):' + ",".join(f"{c:02x}" for c in entries) + "\n")
        fh.write(f'\n[{KEY}\\Sub]\n"x"="y"\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Other]\n"z"=dword:00000001\n')


class _Recorder(io.TextIOBase):
    """A stdout that counts what has been written to it and keeps it."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.parts.append(text)
        self.written += len(text)
        return len(text)


@pytest.mark.timeout(600)
def test_a_key_with_200k_values_is_written_value_by_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "many.reg"
    _big_reg(path)
    out = _Recorder()
    written_at: list[int] = []  # characters already written when each value's data was converted
    convert = RegistryValue.json_data

    def observed(self: RegistryValue) -> object:
        written_at.append(out.written)
        return convert(self)

    monkeypatch.setattr(RegistryValue, "json_data", observed)
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["registry", str(path), "--key", KEY, "--format", "json"]) == 0
    monkeypatch.undo()

    text = "".join(out.parts)
    assert len(written_at) == VALUES
    # Each value is written before the next is converted: the output grows with every conversion...
    assert all(b > a for a, b in itertools.pairwise(written_at))
    # ...and when the last one is converted, all but that value and the closing lines is already out.
    assert written_at[-1] > len(text) - 200

    # The same bytes as the whole key object dumped at once (the JSON contract).
    whole = key_json(read_registry(str(path)), KEY)
    assert whole is not None
    assert text == json.dumps(json_safe(whole), ensure_ascii=False, indent=2) + "\n"
    parsed = json.loads(text)
    assert len(parsed["values"]) == VALUES and parsed["subkeys"] == ["Sub"]
    assert parsed["values"][3] == {"name": "m000003", "type": "REG_MULTI_SZ", "data": ["a", "b3"]}
    assert parsed["values"][1] == {"name": "d000001", "type": "REG_DWORD", "data": 1}


def test_a_key_without_values_or_subkeys_keeps_the_contract_shape(tmp_path: Path) -> None:
    path = tmp_path / "empty.reg"
    path.write_text(f"REGEDIT4\r\n\r\n[{KEY}]\r\n", encoding="ascii")
    result = cli_json(path)
    whole = key_json(read_registry(str(path)), KEY)
    assert result == json.dumps(json_safe(whole), ensure_ascii=False, indent=2) + "\n"
    assert '"values": [],' in result and '"subkeys": []' in result


def cli_json(path: Path) -> str:
    out = _Recorder()
    saved, sys.stdout = sys.stdout, out
    try:
        assert cli.main(["registry", str(path), "--key", KEY, "--format", "json"]) == 0
    finally:
        sys.stdout = saved
    return "".join(out.parts)
