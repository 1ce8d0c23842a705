"""Registry listings for ``analyzer registry``: show one key (or a subtree) as a table, JSON (contract) or CSV."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from analyzer.model import iso_time
from analyzer.registry import Registry, display_path, split_path
from analyzer.report.events import safe_cell
from analyzer.report.terminal import Layout, table, wrap
from analyzer.terminal import cell, json_safe, shown_name, visible

TREE_COLUMNS = ["key", "name", "type", "data", "last_write"]
KEY_LIMIT, NAME_LIMIT, DATA_LIMIT = 200, 80, 200  # table cells longer than this are cut (JSON/CSV keep all)


def key_json(reg: Registry, requested: str) -> dict[str, Any] | None:
    """The ``registry --key --format json`` object of the JSON contract (README.md), or None when the key is absent."""
    found = reg.key(requested)
    if found is None:
        return None
    node = found.node
    return {
        "key": found.path,
        "requested": requested,
        "control_set": found.control_set,
        "mapping": found.mapping,
        "last_write": iso_time(node.last_write),
        "values": [{"name": v.name, "type": v.type, "data": v.json_data()} for v in node.values()],
        "subkeys": [k.name for k in node.subkeys()],
    }


def write_key(reg: Registry, requested: str, fmt: str, out: TextIO, layout: Layout | None = None) -> None:
    if fmt == "json":
        write_key_json(reg, requested, out)
        return
    obj = key_json(reg, requested)
    assert obj is not None
    if fmt == "csv":
        write_tree(reg, requested, "csv", out, recursive=False)
        return
    out.write(f"Key: {visible(obj['key'], cell=True)}\n")
    if obj["control_set"]:
        out.write(f"CurrentControlSet resolved to {visible(obj['control_set'], cell=True)} (Select\\Current)\n")
    if obj["mapping"]:
        out.write(f"Mapping: {visible(obj['mapping'], cell=True)}\n")
    out.write(f"Last write: {obj['last_write'] or 'not recorded in this format'}\n\n")
    width = (layout or Layout()).width
    rows = [[cell(v["name"] or "(Default)", NAME_LIMIT), v["type"], _show(v["data"])] for v in obj["values"]]
    if rows:  # a DN is never broken: list entries go whole on lines of their own when they do not fit
        for line in table(["name", "type", "data"], rows, width, whole=("data",)):
            out.write(line + "\n")
    else:
        out.write("(no values)\n")
    if obj["subkeys"]:
        out.write(
            "\n" + "\n".join(wrap(visible(", ".join(obj["subkeys"]), cell=True), width, "  ", "Subkeys: ")) + "\n"
        )
    for name, cs, data in control_set_differences(reg, requested, obj):
        if data is None:
            out.write(
                "\n".join(wrap(visible(f"Note: {cs} has no value {name!r} at this path", cell=True), width, "  "))
            )
            out.write("\n")
            continue
        out.write(visible(f"Note: {cs} holds a different {name!r}:", cell=True) + "\n")
        for entry in data if isinstance(data, list) else [data]:
            out.write("  " + visible(str(entry), cell=True) + "\n")


def write_key_json(reg: Registry, requested: str, out: TextIO) -> None:
    """``key_json`` written one value at a time: the same bytes as ``json.dump(key_json(...), indent=2)``,
    but a key with a huge number of values is never held as one list of dicts nor as one string."""
    found = reg.key(requested)
    assert found is not None
    node = found.node
    head = {
        "key": found.path,
        "requested": requested,
        "control_set": found.control_set,
        "mapping": found.mapping,
        "last_write": iso_time(node.last_write),
        "values": [],
        "subkeys": [k.name for k in node.subkeys()],
    }
    text = json.dumps(json_safe(head), ensure_ascii=False, indent=2)
    # A newline inside a JSON string is escaped, so this can only be the member of the object itself.
    before, after = text.split('\n  "values": []', 1)
    out.write(before + '\n  "values": ')
    first = True
    for v in node.values():
        item = json.dumps(
            json_safe({"name": v.name, "type": v.type, "data": v.json_data()}), ensure_ascii=False, indent=2
        )
        out.write(("[\n    " if first else ",\n    ") + item.replace("\n", "\n    "))
        first = False
    out.write(("[]" if first else "\n  ]") + after + "\n")


def control_set_differences(reg: Registry, requested: str, obj: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(value name, control set, its data there or None when absent) for each value another control set
    holds differently (an offline SYSTEM hive boots from Select\\Current, but LastKnownGood or a failed
    set may still hold the old list)."""
    if not obj["control_set"]:
        return []
    found: list[tuple[str, str, Any]] = []
    for v in obj["values"]:
        for cs, other in reg.values_by_control_set(requested, v["name"]).items():
            if cs.casefold() == obj["control_set"].casefold():
                continue
            if other is None:
                found.append((v["name"], cs, None))
            elif other.json_data() != v["data"]:
                found.append((v["name"], cs, other.json_data()))
    return found


def write_overview(reg: Registry, fmt: str, out: TextIO) -> None:
    """No --key: what the file is, where it is mounted, control sets, top-level keys."""
    root = reg.file.root
    info = {
        "path": reg.path,
        "format": reg.format,
        "mounted_at": display_path(reg._mount) or None,
        "mapping": reg.mapping,
        "select": reg.select(),
        "current_control_set": reg.current_control_set(),
        "control_sets": reg.control_sets(),
        "subkeys": [k.name for k in root.subkeys()],
        "warnings": [str(w) for w in reg.warnings],
    }
    if fmt == "json":
        json.dump(json_safe(info), out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    for label, value in info.items():
        if isinstance(value, list | dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(value)
        out.write(f"{label + ':':22}{visible(value, cell=True) if value not in (None, '') else '-'}\n")


def write_tree(
    reg: Registry,
    requested: str | None,
    fmt: str,
    out: TextIO,
    recursive: bool = True,
    layout: Layout | None = None,
    *,
    csv_path: str | None = None,
    csv_header: bool = True,
) -> None:
    """Every value under the key (or of the key alone), streamed: memory does not grow with the hive.

    CSV of several files: ``csv_path`` adds a leading ``path`` column, ``csv_header`` False leaves the
    header to the first file."""
    start = reg.key(requested).path if requested else None  # type: ignore[union-attr]

    def values() -> Iterator[list[Any]]:
        for key_path, node in reg.walk(start):
            for v in node.values():
                yield [key_path, v.name, v.type, v.json_data(), iso_time(node.last_write)]
            if not recursive:
                break

    if fmt == "json":  # the same bytes as json.dump(list, indent=2), one object at a time
        first = True
        for r in values():
            item = json.dumps(json_safe(dict(zip(TREE_COLUMNS, r, strict=True))), ensure_ascii=False, indent=2)
            out.write(("[\n" if first else ",\n") + "  " + item.replace("\n", "\n  "))
            first = False
        out.write("[]\n" if first else "\n]\n")
    elif fmt == "csv":
        import csv  # only for this format: every command's start-up imports this module

        writer = csv.writer(out)
        lead = [] if csv_path is None else [safe_cell(csv_path)]
        if csv_header:
            writer.writerow((["path"] if csv_path is not None else []) + TREE_COLUMNS)
        for r in values():
            writer.writerow(lead + [safe_cell(shown_name(_show(c, None))) for c in r])
    else:
        rows = ([cell(r[0], KEY_LIMIT), cell(r[1] or "(Default)", NAME_LIMIT), r[2], _show(r[3])] for r in values())
        for line in table(["key", "name", "type", "data"], rows, (layout or Layout()).width, whole=("data",)):
            out.write(line + "\n")  # streamed: the layout is planned on the first rows only


def _show(data: Any, limit: int | None = DATA_LIMIT) -> str:
    """A value's data for a table: list entries one per line, each escaped and cut at ``limit``."""
    if data is None:
        return ""
    if isinstance(data, list):
        return "\n".join(_one(x, limit) for x in data) if data else "(empty list)"
    return _one(data, limit)


def _one(x: object, limit: int | None) -> str:
    return str(x) if limit is None else cell(x, limit)


__all__ = ["key_json", "split_path", "write_key", "write_key_json", "write_overview", "write_tree"]
