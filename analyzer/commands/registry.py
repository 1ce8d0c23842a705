"""``analyzer registry FILE... [--key PATH]``: show a key (or a subtree, or what the file is) of any export.

Exit codes: 0 shown, 2 unreadable file or key not found.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from analyzer.commands.output import (
    add_output_arguments,
    add_terminal_arguments,
    choose_format,
    expanded_inputs,
    layout_from,
    say_written,
)
from analyzer.exitcodes import EXIT_INPUT, EXIT_OK, error, warn_to_stderr
from analyzer.limits import CaseLimits, add_read_arguments, read_limits_from
from analyzer.model import InputError
from analyzer.registry import Registry, read_registry
from analyzer.report.diagnosis.untrusted import visible
from analyzer.report.events import output_stream
from analyzer.report.registry import write_key, write_overview, write_tree
from analyzer.sniff import REGISTRY_FORMATS

NAME = "registry"
REGISTRY_FORMATS_OUT = ("text", "json", "csv")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    r: argparse.ArgumentParser = sub.add_parser(
        NAME,
        help="show a key of a hive, .reg, regedt32 text or reg query export (also inside folders and .zip archives)",
        description="Shows the key (or subtree, or what the file is) in every FILE; folders are searched "
        "recursively and .zip archives opened safely, as diagnose does.",
    )
    r.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="registry hive, .reg file, Regedt32 text report or reg query output, or a folder or .zip holding them",
    )
    r.add_argument(
        "--key",
        metavar="PATH",
        help=r"key path, e.g. HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem",
    )
    r.add_argument("--recursive", "-r", action="store_true", help="include every subkey")
    add_output_arguments(r, REGISTRY_FORMATS_OUT, what="listing")
    add_terminal_arguments(r)
    r.add_argument("--encoding", metavar="CODEC", help="code page of ANSI .reg/text exports (default cp1252)")
    add_read_arguments(r, events=False)
    return r


def run(args: argparse.Namespace) -> int:
    """Read each file and write the requested key, subtree or overview (several files: one part each)."""
    fmt = choose_format(args, REGISTRY_FORMATS_OUT)
    with expanded_inputs(args.files, REGISTRY_FORMATS, CaseLimits()) as inputs:
        if len(inputs) == 1:
            return _run_one(inputs[0], args, fmt)
        return _run_several(inputs, args, fmt)


def _run_several(inputs: list[Any], args: argparse.Namespace, fmt: str) -> int:
    """Several files, each streamed in turn (nothing is held whole): text parts under a ``== path``
    heading, a JSON array of ``{"path", "result"}``, or CSV rows with a leading ``path`` column."""
    shown = 0
    with output_stream(args.output) as out:
        if fmt == "json":
            out.write("[")
        for item in inputs:
            if item.real is None:
                error(str(item.problem))
                continue
            try:
                reg = _read(item.real, item.display, args)
            except InputError as exc:
                error(f"{item.display}: {exc.reason}")
                continue
            if reg is None:
                continue
            if fmt == "json":  # the bytes of json.dumps([...], indent=2), one part at a time
                head = json.dumps(item.display, ensure_ascii=False)
                out.write(("," if shown else "") + f'\n  {{\n    "path": {head},\n    "result": ')
                part = _Indented(out, "    ")
                _write(reg, args, fmt, part)
                out.write("\n  }")
            elif fmt == "csv":
                _write_csv(reg, args, out, item.display, header=not shown)
            else:
                out.write(("\n" if shown else "") + f"== {visible(item.display, cell=True)}\n")
                _write(reg, args, fmt, out)
            shown += 1
        if fmt == "json":
            out.write("\n]\n" if shown else "]\n")
    if args.output and shown:
        say_written(args.output, f"{fmt} listing of {shown} file(s)")
    return EXIT_OK if shown else EXIT_INPUT


class _Indented:
    """Writes a JSON document one level deeper: every line after the first gets ``pad`` (JSON strings
    hold no raw newline, so this touches layout only); the document's final newline is dropped."""

    def __init__(self, out: TextIO, pad: str) -> None:
        self.out, self.pad, self.pending = out, pad, ""

    def write(self, text: str) -> int:
        if not text:
            return 0
        text = self.pending + text
        self.pending = "\n" if text.endswith("\n") else ""
        if self.pending:
            text = text[:-1]
        self.out.write(text.replace("\n", "\n" + self.pad))
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def _write_csv(reg: Registry, args: argparse.Namespace, out: TextIO, path: str, *, header: bool) -> None:
    """One file's rows of a several-file CSV (the key alone, its subtree, or the whole file)."""
    recursive = args.recursive or args.key is None
    write_tree(reg, args.key, "csv", out, recursive=recursive, csv_path=path, csv_header=header)


def _run_one(item: Any, args: argparse.Namespace, fmt: str) -> int:
    """One file: its listing goes straight to the output as it is made (a key with 200,000 values or a
    whole hive is never held as one string); nothing is written when the file or key is missing."""
    if item.real is None:
        error(str(item.problem))
        return EXIT_INPUT
    try:
        reg = _read(item.real, item.display, args)
        if reg is None:
            return EXIT_INPUT
        with output_stream(args.output) as out:
            _write(reg, args, fmt, out)
    except InputError as exc:
        error(str(exc))
        return EXIT_INPUT
    if args.output:
        say_written(args.output, f"{fmt} listing of 1 file(s)")
    return EXIT_OK


def _read(real: str, display: str, args: argparse.Namespace) -> Registry | None:
    """The file's registry, or None (after an error line) when the requested key is not there."""
    reg = read_registry(real, encoding=args.encoding, warn=warn_to_stderr, limits=read_limits_from(args))
    if args.key is not None and reg.key(args.key) is None:
        error(f"{display}: key not found: {args.key}")
        return None
    return reg


def _write(reg: Registry, args: argparse.Namespace, fmt: str, out: TextIO) -> None:
    requested = args.key
    layout = layout_from(args, to_file=bool(args.output))
    if args.recursive or (requested is None and fmt == "csv"):
        write_tree(reg, requested, fmt, out, layout=layout)
    elif requested is None:
        write_overview(reg, fmt, out)
    else:
        write_key(reg, requested, fmt, out, layout=layout)
