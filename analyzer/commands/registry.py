"""``analyzer registry FILE [--key PATH]``: show a key (or a subtree, or what the file is) of any export.

Exit codes: 0 shown, 2 unreadable file or key not found.
"""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.exitcodes import EXIT_INPUT, EXIT_OK, error, warn_to_stderr
from analyzer.limits import add_read_arguments, read_limits_from
from analyzer.registry import read_registry
from analyzer.report.events import output_stream
from analyzer.report.registry import write_key, write_overview, write_tree

NAME = "registry"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    r: argparse.ArgumentParser = sub.add_parser(
        NAME, help="show a key of a hive, .reg, regedt32 text or reg query export"
    )
    r.add_argument("file", metavar="FILE")
    r.add_argument(
        "--key",
        metavar="PATH",
        help=r"key path, e.g. HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem",
    )
    r.add_argument("--recursive", "-r", action="store_true", help="include every subkey")
    r.add_argument("--format", choices=["table", "json", "csv"], default="table", help="output format (default table)")
    r.add_argument("--output", "-o", metavar="FILE")
    r.add_argument("--encoding", metavar="CODEC", help="code page of ANSI .reg/text exports (default cp1252)")
    add_read_arguments(r, events=False)
    return r


def run(args: argparse.Namespace) -> int:
    """Read ``args.file`` and write the requested key, subtree or overview."""
    reg = read_registry(args.file, encoding=args.encoding, warn=warn_to_stderr, limits=read_limits_from(args))
    requested = args.key
    if requested is not None and reg.key(requested) is None:
        error(f"{args.file}: key not found: {requested}")
        return EXIT_INPUT
    with output_stream(args.output) as out:
        if args.recursive or (requested is None and args.format == "csv"):
            write_tree(reg, requested, args.format, out)
        elif requested is None:
            write_overview(reg, args.format, out)
        else:
            write_key(reg, requested, args.format, out)
    return EXIT_OK
