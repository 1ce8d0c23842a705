"""The .reg reader against regedit's documented import result (cases in tests/reg_conformance_cases.py).

Every case is written to a real file (REGEDIT4 as ANSI; 5.00 as UTF-16LE with BOM and as ANSI),
read with ``regfile.read`` and compared with the expected import result: all keys and values
below the test key (type and exact bytes or decoded data), nothing else anywhere, and a warning
with the line number of every line regedit skips or rejects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.model import InputError, RegistryKey
from analyzer.readers import regfile
from tests.reg_conformance_cases import GROUPS, Case, Expect
from tests.regtext_support import read_collecting

_VARIANTS = {4: [("ansi", regfile.HEADER_V4)], 5: [("utf16", regfile.HEADER_V5), ("ansi", regfile.HEADER_V5)]}


def _params() -> Iterator[object]:
    for group in GROUPS:
        for case in group.cases:
            seen: set[str] = set()
            for version in case.versions:
                for encoding, header in _VARIANTS[version]:
                    if case.header is not None:
                        header = case.header
                        if encoding in seen:
                            continue
                    seen.add(encoding)
                    yield pytest.param(case, header, encoding, id=f"{group.rule} | {case.name} | v{version}-{encoding}")


def _expand(text: str) -> str:
    text = text.replace("⇥", "\t").replace("·", " ")
    return text.replace("[-K", "[-HKEY_CURRENT_USER\\Software\\Test").replace(
        "[K", "[HKEY_CURRENT_USER\\Software\\Test"
    )


def _write(tmp_path: Path, case: Case, header: str, encoding: str) -> tuple[Path, int]:
    """The case as a file; returns (path, number of lines before the body)."""
    head = _expand(header) + "\n" + ("\n" if case.blank_after_header else "")
    text = (head + _expand(case.body)).replace("\n", case.eol)
    data = b"\xff\xfe" + text.encode("utf-16-le") if encoding == "utf16" else text.encode("cp1252")
    path = tmp_path / "case.reg"
    path.write_bytes(data)
    return path, head.count("\n")


def _walk(node: RegistryKey, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], RegistryKey]]:
    for child in node.subkeys():
        here = (*parts, child.name)
        yield here, child
        yield from _walk(child, here)


def _expected_keys(case: Case) -> set[tuple[str, ...]]:
    base = tuple(case.base.split("\\"))
    out: set[tuple[str, ...]] = set()
    for key in case.keys:
        full = base + (tuple(key.split("\\")) if key else ())
        out.update(full[: i + 1] for i in range(len(full)))
    return out


def _check_value(where: str, value: object, expect: Expect, wide: bool) -> None:
    assert value is not None, f"{where}: missing"
    assert value.type == expect.type, f"{where}: type {value.type}, expected {expect.type}"  # type: ignore[attr-defined]
    if expect.raw is not None:
        assert value.raw == expect.raw, f"{where}: bytes {value.raw!r}, expected {expect.raw!r}"  # type: ignore[attr-defined]
    if expect.data is not None:
        assert value.data == expect.data, f"{where}: data {value.data!r}, expected {expect.data!r}"  # type: ignore[attr-defined]
    if expect.type == "REG_SZ" and expect.raw is None:
        stored = (expect.data + "\0").encode("utf-16-le" if wide else "cp1252")
        assert value.raw == stored, f"{where}: bytes {value.raw!r}, expected {stored!r}"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("case", "header", "encoding"), list(_params()))
def test_import_result(tmp_path: Path, case: Case, header: str, encoding: str) -> None:
    path, offset = _write(tmp_path, case, header, encoding)
    if case.error is not None:
        with pytest.raises(InputError, match=case.error):
            regfile.read(str(path))
        return
    file, warnings = read_collecting(regfile, path)
    wide = header.strip() == regfile.HEADER_V5

    tree = dict(_walk(file.root))
    got_keys = {tuple(p.casefold() for p in parts) for parts in tree}
    want_keys = _expected_keys(case)
    assert got_keys == {tuple(p.casefold() for p in parts) for parts in want_keys}, "keys differ"
    by_fold = {tuple(p.casefold() for p in parts): node for parts, node in tree.items()}
    base = tuple(case.base.split("\\"))
    for key in case.keys:
        parts = base + (tuple(key.split("\\")) if key else ())
        node = by_fold[tuple(p.casefold() for p in parts)]
        assert node.name == parts[-1], f"key spelled {node.name!r}, expected {parts[-1]!r}"

    got_values = {}
    for parts, node in tree.items():
        for value in node.values():
            got_values[(parts, value.name)] = value
    want_values = {}
    for spec, expect in case.values.items():
        sub, name = spec if isinstance(spec, tuple) else ("", spec)
        parts = base + (tuple(sub.split("\\")) if sub else ())
        want_values[(tuple(p.casefold() for p in parts), name)] = expect
    assert {(tuple(p.casefold() for p in parts), name) for parts, name in got_values} == set(want_values), (
        "values differ"
    )
    for (parts, name), value in got_values.items():
        expect = want_values[(tuple(p.casefold() for p in parts), name)]
        _check_value(f"value {name!r}", value, expect, wide)

    got_lines = sorted({int(w.message.split(":")[0].removeprefix("line ")) for w in warnings})
    assert got_lines == sorted(n + offset for n in case.w), [w.message for w in warnings]
    assert all(w.path == str(path) for w in warnings)


def test_every_group_names_its_source_and_the_suite_is_large() -> None:
    assert all(group.source and group.cases for group in GROUPS)
    names = [(g.rule, c.name) for g in GROUPS for c in g.cases]
    assert len(names) == len(set(names)), "case names repeat within a group"
    assert len(list(_params())) >= 300
