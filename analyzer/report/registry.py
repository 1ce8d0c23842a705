"""Registry listings for ``analyzer registry``: show one key (or a subtree) as a table, JSON (contract) or CSV."""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from tabulate import tabulate

from analyzer.model import iso_time
from analyzer.registry import Registry, display_path, split_path
from analyzer.report.events import safe_cell


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


def write_key(reg: Registry, requested: str, fmt: str, out: TextIO) -> None:
    obj = key_json(reg, requested)
    assert obj is not None
    if fmt == "json":
        json.dump(obj, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        write_tree(reg, requested, "csv", out, recursive=False)
        return
    out.write(f"Key: {obj['key']}\n")
    if obj["control_set"]:
        out.write(f"CurrentControlSet resolved to {obj['control_set']} (Select\\Current)\n")
    if obj["mapping"]:
        out.write(f"Mapping: {obj['mapping']}\n")
    out.write(f"Last write: {obj['last_write'] or 'not recorded in this format'}\n\n")
    rows = [[v["name"] or "(Default)", v["type"], _show(v["data"])] for v in obj["values"]]
    out.write(tabulate(rows, headers=["name", "type", "data"], tablefmt="simple") + "\n" if rows else "(no values)\n")
    if obj["subkeys"]:
        out.write("\nSubkeys: " + ", ".join(obj["subkeys"]) + "\n")
    for line in control_set_differences(reg, requested, obj):
        out.write(line + "\n")


def control_set_differences(reg: Registry, requested: str, obj: dict[str, Any]) -> list[str]:
    """Lines naming the values that another control set holds differently (an offline SYSTEM hive
    boots from Select\\Current, but LastKnownGood or a failed set may still hold the old list)."""
    if not obj["control_set"]:
        return []
    lines: list[str] = []
    for v in obj["values"]:
        for cs, other in reg.values_by_control_set(requested, v["name"]).items():
            if cs.casefold() == obj["control_set"].casefold():
                continue
            if other is None:
                lines.append(f"Note: {cs} has no value {v['name']!r} at this path")
            elif other.json_data() != v["data"]:
                data = other.json_data()
                shown = "; ".join(map(str, data)) if isinstance(data, list) else str(data)
                lines.append(f"Note: {cs} holds a different {v['name']!r}: {shown}")
    return lines


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
        json.dump(info, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    for label, value in info.items():
        if isinstance(value, list | dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(value)
        out.write(f"{label + ':':22}{value if value not in (None, '') else '-'}\n")


def write_tree(reg: Registry, requested: str | None, fmt: str, out: TextIO, recursive: bool = True) -> None:
    start = reg.key(requested).path if requested else None  # type: ignore[union-attr]
    rows: list[list[Any]] = []
    for key_path, node in reg.walk(start):
        for v in node.values():
            rows.append([key_path, v.name, v.type, v.json_data(), iso_time(node.last_write)])
        if not recursive:
            break
    if fmt == "json":
        json.dump([dict(zip(["key", "name", "type", "data", "last_write"], r, strict=True)) for r in rows], out,
                  ensure_ascii=False, indent=2)  # fmt: skip
        out.write("\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(["key", "name", "type", "data", "last_write"])
        for r in rows:
            writer.writerow([safe_cell(_show(c)) for c in r])
    else:
        out.write(tabulate([[r[0], r[1] or "(Default)", r[2], _show(r[3])] for r in rows],
                           headers=["key", "name", "type", "data"], tablefmt="simple") + "\n")  # fmt: skip


def _show(data: Any) -> str:
    if data is None:
        return ""
    if isinstance(data, list):
        return "\n".join(str(x) for x in data) if data else "(empty list)"
    return str(data)


__all__ = ["key_json", "split_path", "write_key", "write_overview", "write_tree"]
