"""``analyzer diagnose``: one case (files, folders, archives) -> verdict, evidence and the fix.

Exit codes: 0 nothing to fix, 1 needs action, 2 no usable input (one stderr line per file).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

from analyzer import memcap
from analyzer.commands.arguments import add_reading_arguments
from analyzer.commands.output import (
    add_output_arguments,
    add_terminal_arguments,
    choose_format,
    layout_from,
    say_written,
)
from analyzer.commands.progress import add_progress_arguments, case_progress
from analyzer.exitcodes import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, UsageError, error
from analyzer.limits import add_read_arguments, case_limits_from, human, parse_size, read_limits_from
from analyzer.output import write_text
from analyzer.report.diagnosis.links import DEFAULT_KB_URL, KbUrlError, kb_url_template
from analyzer.report.diagnosis.links import ENV as KB_URL_ENV
from analyzer.report.diagnosis.untrusted import visible
from analyzer.report.terminal import wrap

NAME = "diagnose"
#: what ``diagnose`` writes; json follows the analyzer.diagnosis/1 schema, csv is one row per finding
REPORT_FORMATS = ("text", "json", "markdown", "html", "csv")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    d: argparse.ArgumentParser = sub.add_parser(
        NAME,
        help="diagnose one case (files, folders, archives) and print the verdict and the fix",
        description="All CASE arguments together form one case: files, folders (searched recursively) or archives (.zip, .cab, .7z, .tar.*, .gz/.bz2/.xz; recognised by content).",
    )
    d.add_argument("case", nargs="+", metavar="CASE", help="file, folder or archive of the case")
    add_output_arguments(d, REPORT_FORMATS, what="report")
    add_terminal_arguments(d)
    d.add_argument(
        "--reg-patch",
        metavar="FILE",
        help="write the remediation .reg (and its rollback) here; several servers: FILE-<SERVER>.reg per server",
    )
    d.add_argument(
        "--reg-version",
        choices=["4", "5"],
        help="REGEDIT4 (NT 4.0) or 5.00 (Windows 2000) patch; default: as the export",
    )
    d.add_argument(
        "--replace-near-misses",
        action="store_true",
        help="let the patch replace an entry that is probably a mistyped copy of a DN to add "
        "(default: keep every current entry and name the one to remove after the fix works)",
    )
    d.add_argument(
        "--one-case",
        action="store_true",
        help="read a folder as one case even when its sub-folders look like separate cases (else: exit 2)",
    )
    d.add_argument(
        "--kb-url",
        metavar="TEMPLATE",
        help="HTML report: where KB numbers link to, a URL with {number} in it, or 'none' for no links "
        f"(default: ${KB_URL_ENV}, else {DEFAULT_KB_URL})",
    )
    add_reading_arguments(d)
    add_read_arguments(d, case=True)
    add_progress_arguments(d)
    d.add_argument(
        "--memory-limit",
        type=parse_memory,
        default=memcap.DEFAULT_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"cap this process's memory (address space) at SIZE, as triage caps each case "
        f"(default {human(memcap.DEFAULT_MEMORY_LIMIT)}; 0: no cap; not available on Windows)",
    )
    return d


def parse_memory(text: str) -> int:
    """``--memory-limit``: a size (``2G``), or 0 for no cap."""
    return 0 if text.strip() == "0" else parse_size(text)


def run(args: argparse.Namespace) -> int:
    """Diagnose ``args.case``, write the report and, when asked, the .reg patch and its rollback."""
    # Imported here, not at the top: loading the rules and renderers would slow every other command's start.
    from analyzer.diagnosis import diagnose
    from analyzer.report.diagnosis import render, verdict_of

    with memcap.capped(getattr(args, "memory_limit", None)) as note:
        if note:
            error(f"note: {note}")
        return _diagnose_and_write(args, diagnose, render, verdict_of)


def _diagnose_and_write(args: argparse.Namespace, diagnose: Any, render: Any, verdict_of: Any) -> int:
    """The body of ``run`` under the memory cap."""
    fmt = choose_format(args, REPORT_FORMATS)
    kb_url = getattr(args, "kb_url", None)
    if fmt == "html":
        try:  # a bad template is a usage error before any reading, not after
            kb_url_template(kb_url)
        except KbUrlError as exc:
            raise UsageError(str(exc)) from None
    # One bar on stderr for the whole case, only on a terminal (the report may be on stdout).
    with case_progress(args, os.path.basename(os.path.normpath(args.case[0])) or "case") as progress:
        dx = diagnose(
            args.case,
            tz=getattr(args, "tz", None),
            evtx_backend=getattr(args, "evtx_backend", None),
            encoding=getattr(args, "encoding", None),
            language=getattr(args, "language", None),
            reg_version=getattr(args, "reg_version", None),
            read_limits=read_limits_from(args),
            case_limits=case_limits_from(args),
            replace_near_misses=bool(getattr(args, "replace_near_misses", False)),
            one_case=bool(getattr(args, "one_case", False)),
            progress=progress,
        )
    if not dx.usable:
        # Every path that gave nothing: unreadable files and, from the case loader, missing paths.
        lines = list(dict.fromkeys([*dx.errors, *dx.warnings])) or [f"{dx.case}: no usable input"]
        for line in lines:
            error(line)
        return EXIT_INPUT
    for line in dx.errors:
        error(f"warning: {line}")
    patch_path: str | dict[str, str] | None = None
    if getattr(args, "reg_patch", None):
        try:
            patch_path = write_patches(dx, args.reg_patch)
        except OSError as exc:
            error(f"{exc.filename or args.reg_patch}: cannot write: {exc.strerror or exc}")
            return EXIT_INPUT
    doc = dx.to_dict()
    output = getattr(args, "output", None)
    text = render(doc, fmt, patch_path=patch_path, layout=layout_from(args, to_file=bool(output)), kb_url=kb_url)
    if output:
        write_text(output, text)  # whole or not at all; OutputError is one line and exit 2
        # The file holds the report; the terminal still gets the verdict.
        layout = layout_from(args, to_file=False)
        dns = [visible(dn, cell=True) for dn in doc.get("dns_to_add") or []]
        style = "action" if dx.needs_action else "ok"
        print("\n".join(layout.paint(line, style) for line in wrap(visible(verdict_of(doc)), layout.width, keep=dns)))
        say_written(output, f"{fmt} report")
    else:
        sys.stdout.write(text)
    return EXIT_FINDINGS if dx.needs_action else EXIT_OK


def write_patches(dx: Any, target: str) -> str | dict[str, str] | None:
    """``--reg-patch FILE``: FILE for a single server; ``<stem>-<SERVER>.reg`` (+ rollback) per server
    otherwise, never one patch across servers.  Returns what the report names (path, or server -> path)."""
    from analyzer.remedy import write_remediation

    if not dx.servers:
        if dx.remediation is None:
            error(f"nothing to patch: {target} not written")
            return None
        patch, back = write_remediation(target, dx.remediation)
        error(f"wrote {patch} and its rollback {back}")
        return str(patch)
    written: dict[str, str] = {}
    for server in dx.servers:
        path = server_patch_path(target, server.server)
        if server.diagnosis.remediation is None:
            error(f"{server.server}: nothing to patch: {path} not written")
            continue
        patch, back = write_remediation(path, server.diagnosis.remediation)
        written[server.server] = str(patch)
        error(f"{server.server}: wrote {patch} and its rollback {back}")
    return written


def server_patch_path(target: str, server: str) -> str:
    """``fix.reg`` + ``EXCH02`` -> ``fix-EXCH02.reg`` (beside FILE; the server name made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", server) or "server"
    stem, ext = os.path.splitext(target)
    return f"{stem}-{safe}{ext or '.reg'}"
